"""The per-proposal decisions of Algorithm 1 and the heuristic, written once.

Each check is a small plain-Python function of pixel counts (or of relation values). They
are the single definition of the rules:

* the numba kernels call them compiled and inlined, as ``decide.<check>`` with ``decide =``
  :mod:`rapkit.kernels.decisions_jit` (``njit(inline="always")`` of these very functions):
  :func:`rapkit.kernels.fusion.fuse_runs` on column runs (the pixels) and
  :func:`rapkit.kernels.sweep.fuse_atoms` on atoms;
* the numpy twins (:mod:`rapkit.kernels._reference_fusion`,
  :mod:`rapkit.kernels._reference_sweep`) call them as they are (``decide =`` this module),
  on Python numbers or, for :func:`takes_over`, on whole arrays.

The OCFusion strategy's pair checks (:func:`ocf_pair_met_reference`,
:func:`ocf_pair_met_original`, :func:`ocf_in_front`) are here too, for its kernels
(:mod:`rapkit.kernels.ocfusion`) and their twins (:mod:`rapkit.kernels._reference_ocfusion`);
its drop rules are :func:`canvas_drop` (reference variant) and :func:`occupancy_drop`
(original variant).

This module imports only :mod:`rapkit.kernels.status` and numpy (one float32 rounding of
OCFusion's), no numba. Counts are integers, ``area`` > 0; thresholds are floats. The
functions do not call each other (numba compiles each from its own source). Semantics:
``docs/fusion.md``, "Algorithm 1, exactly" and "OCFusion (strategy ``ocfusion``), exactly".

>>> category_drop(3, 5, 0.6, False), category_drop(3, 5, 0.6, True)
(True, False)
"""

from __future__ import annotations

import numpy as np

from .status import EMPTIED

#: OCFusion's pair threshold θ: the share of overlap at which a pair's decision is asked for
#: (the RAP authors' ``0.2`` in ``combine_to_panoptic_ocfusion``; OCFusion's
#: ``MODEL.ROI_ORDER_HEAD.OVERLAP_THRESHOLD`` default)
OCF_THETA = 0.2


def category_drop(n_same, area, tau, reference):
    """Category-aware check (Algorithm 1, lines 4-8): drop proposal ``i`` when
    ``L_i = |I_i ∩ (P == l_i)| / |I_i|`` reaches ``tau``: ``L_i >= tau`` in the paper,
    ``L_i > tau`` in the authors' code (``reference``).

    >>> category_drop(1, 2, 0.5, False), category_drop(1, 2, 0.5, True), category_drop(0, 2, 0.0, True)
    (True, False, False)
    """
    share = n_same / area
    if reference:
        return share > tau
    return share >= tau


def excessive_overlap(o, area_i, area_j, gamma):
    """Excessive-overlap check for one pair (lines 9-16): ``o/area_i >= gamma`` and
    ``o/area_j >= gamma``; a pair with ``area_j == 0`` is never excessive.

    Paper: ``o = |I_i ∩ I_j|``, ``area_j = |I_j|``. Reference variant: ``o = |I_i ∩ seg_j|``
    and ``area_j = |seg_j|``, j's visible canvas segment (a kept j with no visible pixels
    left is skipped). Callers only ask about pairs whose full masks overlap.

    >>> excessive_overlap(5, 10, 10, 0.5), excessive_overlap(5, 10, 11, 0.5), excessive_overlap(0, 10, 0, 0.0)
    (True, False, False)
    """
    if area_j == 0:
        return False
    return o / area_i >= gamma and o / area_j >= gamma


def overlap_may_be_excessive(bound, area_i, area_j, gamma, reference):
    """False when an upper bound ``bound`` of the pair's overlap (e.g. the area of the two
    boxes' intersection) already fails :func:`excessive_overlap`, so the exact count can be
    skipped. Only the ``o/area_i`` side is bounded in the reference variant (there
    ``area_j`` is the visible segment, not ``|I_j|``).

    >>> overlap_may_be_excessive(4, 10, 5, 0.5, False), overlap_may_be_excessive(5, 10, 20, 0.5, False)
    (False, False)
    >>> overlap_may_be_excessive(5, 10, 20, 0.5, True)
    True
    """
    return not (bound / area_i < gamma or ((not reference) and bound / area_j < gamma))


def takes_over(v_owner, r_new):
    """Relation-aware canvas (lines 17-22): a pixel whose current relation value is
    ``v_owner`` (``+inf`` when free) belongs to ``C_i`` of a proposal with value ``r_new``
    when ``v_owner > r_new``; strict, so an equal value does not take a pixel over. Works on
    numbers and, elementwise, on numpy arrays.

    >>> takes_over(2.0, 1.0), takes_over(1.0, 1.0), takes_over(float("inf"), 5.0)
    (True, False, True)
    """
    return v_owner > r_new


def canvas_drop(n_visible, area, tau):
    """Canvas check (lines 17-19): drop when ``|C_i| / |I_i| <= tau``.

    >>> canvas_drop(6, 10, 0.6), canvas_drop(7, 10, 0.6)
    (True, False)
    """
    return n_visible / area <= tau


def occupancy_drop(n_occupied, area, tau):
    """The heuristic's test (panopticapi, detectron2; Algorithm 1 with ``ra`` off): drop when
    ``|I_i ∩ occupied| / |I_i| > tau``.

    >>> occupancy_drop(5, 10, 0.5), occupancy_drop(6, 10, 0.5)
    (False, True)
    """
    return n_occupied / area > tau


def number_stuff_segments(free_counts, is_stuff, stuff_area, n_things, segment_of, classes):
    """Stuff fill (Kirillov et al.): a stuff class becomes a segment when its still-free
    pixels number at least ``stuff_area`` (and more than 0). Those classes, in ascending
    class value, get ids ``n_things + 1, n_things + 2, ...``: written to ``segment_of[c]``
    (left as it is for other classes) and ``classes[:k]``; returns ``k``.

    >>> seg, cls = [0] * 4, [0] * 4
    >>> number_stuff_segments([9, 0, 5, 2], [True, True, True, True], 3, 10, seg, cls), seg, cls[:2]
    (2, [11, 0, 12, 0], [0, 2])
    """
    k = 0
    for c in range(len(free_counts)):
        if is_stuff[c] and free_counts[c] > 0 and free_counts[c] >= stuff_area:
            segment_of[c] = n_things + 1 + k
            classes[k] = c
            k += 1
    return k


def mark_emptied(status, visible, kept, n_kept):
    """After the loop (Algorithm 1): the kept proposals ``kept[:n_kept]`` left with no
    visible pixels (``visible[j] == 0``: later proposals took all of them) become ``EMPTIED``;
    their segments are removed. With ``ra`` off nothing is ever taken over.

    >>> status = [0, 0, 3]                 # kept, kept, dropped by the category check
    >>> mark_emptied(status, [4, 0, 0], [0, 1], 2)
    >>> status
    [0, 6, 3]
    """
    for k in range(n_kept):
        j = kept[k]
        if visible[j] == 0:
            status[j] = EMPTIED


def ocf_pair_met_reference(o_visible, area_i, visible_j, theta):
    """OCFusion, the RAP authors' code (``combine_to_panoptic_ocfusion``): the new proposal
    ``i`` and an earlier segment ``j`` it overlaps form a pair whose decision is asked for
    when ``o/|I_i| >= theta`` or ``o/|seg_j| >= theta``, ``o = |I_i ∩ seg_j|`` and ``seg_j``
    ``j``'s segment as it stands on the canvas (callers ask only when ``o > 0``).

    >>> ocf_pair_met_reference(2, 10, 100, 0.2), ocf_pair_met_reference(2, 100, 10, 0.2)
    (True, True)
    >>> ocf_pair_met_reference(1, 10, 10, 0.2)
    False
    """
    return o_visible / area_i >= theta or o_visible / visible_j >= theta


def ocf_pair_met_original(o, area_i, theta):
    """OCFusion's own code: a pair ``(i, j)`` of proposals of *different* classes (the caller
    checks the classes) is queried when ``|I_i ∩ I_j| / |I_i| >= theta`` on the full masks,
    computed as OCFusion does: ``o / (|I_i| + 0.0001)`` rounded to float32 (its intersection
    matrix) against ``theta`` as float32 (torch compares a float32 tensor with a Python
    float in float32). So a share of exactly ``theta`` is met only when rounding lifts it:
    ``1 / 5`` is not, ``10000 / 50000`` is.

    >>> ocf_pair_met_original(1, 5, 0.2), ocf_pair_met_original(10000, 50000, 0.2)
    (False, True)
    >>> ocf_pair_met_original(3, 10, 0.2), ocf_pair_met_original(1, 10, 0.2)
    (True, False)
    """
    return bool(np.float32(o / (area_i + 0.0001)) >= np.float32(theta))


def ocf_in_front(logit, original):
    """OCFusion's decision for a pair with the head's ``logit`` that the new proposal
    occludes the other: the RAP authors' code thresholds the sigmoid, ``sigmoid(logit) >
    0.5``, i.e. ``logit > 0``; OCFusion's own code thresholds the raw output (no sigmoid),
    ``logit > 0.5`` (``original``; kept as their code has it). A pair without a logit (NaN:
    not in the file) is never in front, as an unqueried pair in both codes.

    >>> ocf_in_front(0.3, False), ocf_in_front(0.3, True), ocf_in_front(float("nan"), False)
    (True, False, False)
    """
    if original:
        return logit > 0.5
    return logit > 0.0
