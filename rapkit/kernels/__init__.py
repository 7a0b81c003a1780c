"""All numba code of rapkit. Every kernel has a plain-numpy twin in ``_reference``.

Kernels are made with :func:`rapkit._runtime.jit.njit` (never numba's directly): its on-disk
cache is keyed on every module a kernel depends on, so an edit of a helper is never met by
stale machine code.
"""
