"""Per-proposal status codes of Algorithm 1 and the heuristic, defined once.

The fusion kernels (:mod:`rapkit.kernels.fusion` on pixels, :mod:`rapkit.kernels.sweep` on
atoms), their numpy twins and :mod:`rapkit.core` all use these names. This module imports
neither numba nor numpy, so the numpy-only layers can use it.

>>> STATUS_NAMES[CATEGORY], STATUS_NAMES[EMPTIED]
('category', 'emptied')
"""

from __future__ import annotations

KEPT = 0  #: painted, and still has visible pixels at the end
SCORE = 1  #: score below rho (not a candidate)
EMPTY = 2  #: the mask has no pixels
CATEGORY = 3  #: dropped by the category-aware check
OVERLAP = 4  #: dropped by the excessive-overlap check
CANVAS = 5  #: dropped by the canvas check (visible share; occupied share with ``ra`` off)
EMPTIED = 6  #: kept, then fully covered by later proposals (its segment is removed)
UNSEEN = 7  #: not in the order handed to a kernel; reported as SCORE (see :func:`reported`)

STATUS_NAMES = ("kept", "score", "empty", "category", "overlap", "canvas", "emptied", "unseen")


def reported(status):
    """The status array as callers report it: in place, ``UNSEEN`` becomes ``SCORE``.

    The kernels see only the candidates (score >= rho, already filtered by the caller), so
    a proposal they never saw was dropped by score. Both fusion paths
    (:func:`rapkit.core.fusion.fuse_scene` and :func:`rapkit.core.sweep.fuse_prepared`)
    return statuses through this function.

    >>> import numpy as np
    >>> reported(np.array([KEPT, UNSEEN, EMPTIED], np.int8)).tolist()
    [0, 1, 6]
    """
    status[status == UNSEEN] = SCORE
    return status
