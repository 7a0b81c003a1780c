"""numba kernel for PQ: one image's matching and TP/FP/FN counts from its pair histogram.

:func:`match_image` does what :func:`rapkit.core.pq.pq_stats` does (panopticapi's
``pq_compute_single_core`` for one image) on arrays instead of Python objects:

* ``keys``/``counts``: the image's pair histogram, keys ``gt * 2**24 + pred`` in increasing
  order (what :func:`rapkit.kernels.pq.pair_keys_png` returns), counts > 0;
* GT segments in JSON order: ``g_id``, ``g_cat`` (a *category index*, see below), ``g_area``
  (from the JSON), ``g_crowd``; predicted segments in JSON order: ``p_id``, ``p_cat``;
* category indices: the caller numbers the category ids ``0..C-1``; ``known[c]`` says whether
  index ``c`` is a category of the GT's list (a predicted segment of another category is an
  error);
* ``tp``/``fp``/``fn`` (int64, length C) are *added to*; ``crowd_of`` (int64, length C) is
  scratch that must hold -1 everywhere on entry (it does again on return);
* the matched pairs go to ``m_cat``/``m_iou`` (length >= ``len(keys)``) in increasing
  (GT id, predicted id) order: that order, image after image, is panopticapi's summation order.

It returns ``(status, n_matched)``. ``status`` is 0, or 1 when the image has a problem
panopticapi would crash on (duplicate segment ids, a predicted id missing from the JSON or
from the PNG, an unknown predicted category); then nothing was added and the caller asks
:func:`rapkit.core.pq.pq_stats` for the precise error.

Twin: :func:`rapkit.kernels._reference_pq.ref_match_image`.

>>> import numpy as np
>>> keys = np.array([(1 << 24) | 1], np.uint64); counts = np.array([4], np.int64)
>>> one = np.array([1], np.int64); zero = np.zeros(1, np.int64)
>>> tp, fp, fn = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
>>> m_cat, m_iou = np.zeros(1, np.int64), np.zeros(1, np.float64)
>>> match_image(keys, counts, one, zero, one * 4, zero, one, zero, np.ones(1, np.bool_),
...             tp, fp, fn, np.full(1, -1, np.int64), m_cat, m_iou)
(0, 1)
>>> int(tp[0]), float(m_iou[0])
(1, 1.0)
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit

ID_MASK = np.uint64((1 << 24) - 1)
SHIFT = np.uint64(24)


@njit(inline="always")
def _find(sorted_ids: np.ndarray, where: np.ndarray, x: np.int64) -> np.int64:
    """Index (in JSON order) of the segment with id ``x``, or -1."""
    lo = 0
    hi = sorted_ids.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_ids[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    if lo < sorted_ids.shape[0] and sorted_ids[lo] == x:
        return where[lo]
    return -1


@njit(inline="always")
def _pair_count(keys: np.ndarray, counts: np.ndarray, key: np.uint64) -> np.int64:
    """The count of ``key`` in the sorted histogram (0 when absent)."""
    lo = 0
    hi = keys.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < keys.shape[0] and keys[lo] == key:
        return counts[lo]
    return 0


@njit
def _argsort_stable(a: np.ndarray) -> tuple:
    """``(order, a[order])`` with ``order = np.argsort(a, kind="mergesort")``: a bottom-up
    merge sort (stable, so ties keep their input order as numpy's does), which numba compiles
    in a fraction of the time of its generic sort."""
    n = a.shape[0]
    idx = np.empty(n, np.int64)
    for k in range(n):
        idx[k] = k
    tmp = np.empty(n, np.int64)
    width = 1
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            p = lo
            q = mid
            k = lo
            while p < mid and q < hi:
                if a[idx[q]] < a[idx[p]]:  # strictly: on a tie the left (earlier) one first
                    tmp[k] = idx[q]
                    q += 1
                else:
                    tmp[k] = idx[p]
                    p += 1
                k += 1
            while p < mid:
                tmp[k] = idx[p]
                p += 1
                k += 1
            while q < hi:
                tmp[k] = idx[q]
                q += 1
                k += 1
            lo = hi
        idx, tmp = tmp, idx
        width *= 2
    vals = np.empty_like(a)
    for k in range(n):
        vals[k] = a[idx[k]]
    return idx, vals


@njit
def match_image(
    keys: np.ndarray,
    counts: np.ndarray,
    g_id: np.ndarray,
    g_cat: np.ndarray,
    g_area: np.ndarray,
    g_crowd: np.ndarray,
    p_id: np.ndarray,
    p_cat: np.ndarray,
    known: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    crowd_of: np.ndarray,
    m_cat: np.ndarray,
    m_iou: np.ndarray,
) -> tuple:
    ng = g_id.shape[0]
    npr = p_id.shape[0]
    nh = keys.shape[0]
    # sorted ids (any order of equal ids would do: a tie is an error found just below)
    go, gs = _argsort_stable(g_id)
    for k in range(1, ng):
        if gs[k] == gs[k - 1]:
            return 1, 0
    po, ps = _argsort_stable(p_id)
    for k in range(1, npr):
        if ps[k] == ps[k - 1]:
            return 1, 0

    # each histogram entry's GT and predicted segment; predicted areas; VOID intersections
    p_area = np.zeros(npr, np.int64)
    void_inter = np.zeros(npr, np.int64)
    h_gi = np.empty(nh, np.int64)
    h_pi = np.empty(nh, np.int64)
    last_g = np.int64(-1)
    last_gi = np.int64(-1)
    for k in range(nh):
        key = keys[k]
        g = np.int64(key >> SHIFT)
        p = np.int64(key & ID_MASK)
        if g != last_g:
            last_gi = _find(gs, go, g)
            last_g = g
        pi = _find(ps, po, p)
        h_gi[k] = last_gi
        h_pi[k] = pi
        if pi < 0:
            if p != 0:
                return 1, 0  # an id of the prediction PNG that its JSON does not list
            continue
        if not known[p_cat[pi]]:
            return 1, 0  # a predicted category the GT does not know
        p_area[pi] += counts[k]
        if g == 0:
            void_inter[pi] = counts[k]
    for j in range(npr):
        if p_area[j] == 0:
            return 1, 0  # a predicted segment of the JSON absent from the PNG

    # matching: IoU > 0.5 within a category, VOID removed from the union, crowd GT skipped
    g_matched = np.zeros(ng, np.bool_)
    p_matched = np.zeros(npr, np.bool_)
    nm = 0
    for k in range(nh):
        gi = h_gi[k]
        if gi < 0:
            continue
        pi = h_pi[k]
        if pi < 0:
            continue
        if g_crowd[gi] == 1:
            continue
        c = g_cat[gi]
        if c != p_cat[pi]:
            continue
        inter = counts[k]
        union = p_area[pi] + g_area[gi] - inter - void_inter[pi]
        if union == 0:
            iou = np.inf  # numpy's int64 division in panopticapi (an inconsistent GT area)
        else:
            iou = inter / union
        if iou > 0.5:
            tp[c] += 1
            m_cat[nm] = c
            m_iou[nm] = iou
            nm += 1
            g_matched[gi] = True
            p_matched[pi] = True

    # unmatched GT: FN, except crowd (the last crowd segment of a category is its crowd region)
    for j in range(ng):
        if g_matched[j]:
            continue
        if g_crowd[j] == 1:
            crowd_of[g_cat[j]] = j
            continue
        fn[g_cat[j]] += 1

    # unmatched predictions: FP unless VOID + the category's crowd cover more than half
    for j in range(npr):
        if p_matched[j]:
            continue
        c = p_cat[j]
        inter = void_inter[j]
        cg = crowd_of[c]
        if cg >= 0 and 0 <= g_id[cg] < (1 << 24):  # a larger id is in no histogram key
            key = (np.uint64(g_id[cg]) << SHIFT) | np.uint64(p_id[j])
            inter += _pair_count(keys, counts, key)
        if inter / p_area[j] > 0.5:
            continue
        fp[c] += 1
    for j in range(ng):
        if g_crowd[j] == 1:
            crowd_of[g_cat[j]] = -1
    return 0, nm


__all__ = ["match_image"]
