"""Plain-numpy twins of every numba kernel (the executable specification of each kernel).

Each area keeps its twins in ``_reference_<area>.py``; this module re-exports them all.
"""
