"""numba versions of :mod:`rapkit.kernels.decisions`, for the fusion kernels.

Each name here is ``njit(inline="always")`` (:func:`rapkit._runtime.jit.njit`) applied to the function
of the same name in :mod:`rapkit.kernels.decisions` (``category_drop.py_func is
decisions.category_drop``): one definition, compiled into both the run kernel
(:mod:`rapkit.kernels.fusion`) and the atom kernel (:mod:`rapkit.kernels.sweep`), and the
OCFusion kernels (:mod:`rapkit.kernels.ocfusion`).

An edit of :mod:`rapkit.kernels.decisions` recompiles every kernel that inlines these
helpers on its next call: their caches are keyed on every module they depend on.

>>> category_drop(1, 2, 0.5, False), category_drop.py_func(1, 2, 0.5, False)
(True, True)
"""

from __future__ import annotations

from .._runtime.jit import njit
from . import decisions as _d

_inline = njit(inline="always")

category_drop = _inline(_d.category_drop)
excessive_overlap = _inline(_d.excessive_overlap)
overlap_may_be_excessive = _inline(_d.overlap_may_be_excessive)
takes_over = _inline(_d.takes_over)
canvas_drop = _inline(_d.canvas_drop)
occupancy_drop = _inline(_d.occupancy_drop)
number_stuff_segments = _inline(_d.number_stuff_segments)
mark_emptied = _inline(_d.mark_emptied)
ocf_pair_met_reference = _inline(_d.ocf_pair_met_reference)
ocf_pair_met_original = _inline(_d.ocf_pair_met_original)
ocf_in_front = _inline(_d.ocf_in_front)

__all__ = [
    "canvas_drop",
    "category_drop",
    "excessive_overlap",
    "mark_emptied",
    "number_stuff_segments",
    "occupancy_drop",
    "ocf_in_front",
    "ocf_pair_met_original",
    "ocf_pair_met_reference",
    "overlap_may_be_excessive",
    "takes_over",
]
