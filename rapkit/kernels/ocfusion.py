"""OCFusion's fusion (numba): pairwise occlusion decisions instead of a relation canvas.

:func:`fuse_ocfusion` paints proposals (score-sorted, rho-filtered) onto the canvas of
intervals of :mod:`rapkit.kernels.fusion` (per image column, intervals holding ``k + 1``
for the proposal ``k`` that owns them, 0 = free), from the same column runs
(:func:`rapkit.kernels.rle.decode_rle_runs`). For each new proposal ``i`` it counts, in one
walk of ``i``'s runs over the canvas, the free pixels and the pixels each earlier segment
``j`` holds (``|I_i ∩ seg_j|``); then, for each such ``j``, the pair check decides whether
the head is asked, and the head's logit (``pair_logit[i, j]``: ``i`` occludes ``j``)
whether ``i`` reclaims those pixels; then the drop check; then the painting.

Two variants (``docs/fusion.md``, "OCFusion (strategy ``ocfusion``), exactly"):

* reference (the RAP authors' ``combine_to_panoptic_ocfusion``): a pair is met when
  ``|I_i ∩ seg_j|`` reaches θ of ``|I_i|`` or of ``|seg_j|``, any classes; in front when
  ``logit > 0``; ``i`` is dropped when its kept share (free + reclaimed) is ``<= tau``.
* original (OCFusion's own code): a pair of different classes is met when ``|I_i ∩ I_j|``
  (full masks) reaches θ of ``|I_i|`` (float32, OCFusion's rounding); in front when the raw
  ``logit > 0.5``; ``i`` is dropped when its occluded share (occupied, not reclaimed) is
  ``> tau``.

Both check the drop only when ``i`` meets an occupied pixel (as both codes do).
:func:`fuse_atoms_ocfusion` is the same on the sweep's atoms (:mod:`rapkit.kernels.sweep`:
pixels sharing their covering masks, each with its weight), for ``rapkit evaluate --sweep``
and ``--ablation`` with ``--strategy ocfusion``. The checks
are :mod:`rapkit.kernels.decisions` (compiled inline through
:mod:`rapkit.kernels.decisions_jit`); the numpy twin is
:mod:`rapkit.kernels._reference_ocfusion`.
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit
from . import decisions_jit as decide
from .decisions import OCF_THETA
from .fusion import _add_event, _check, _check_runs, _has_runs, _push, _rows_of_intervals, _run_overlap
from .status import CANVAS, EMPTY, KEPT, UNSEEN

__all__ = ["fuse_atoms_ocfusion", "fuse_ocfusion", "pair_matrix"]


@njit
def _fuse_ocfusion(
    boxes, areas, col_offs, col_ptr, run_y0, run_y1, labels, order, width, height, logit, tau, original, record_events
):
    n = boxes.shape[0]
    status = np.full(n, UNSEEN, np.int8)
    visible = np.zeros(n, np.int64)
    kept = np.empty(n, np.int64)
    nk = np.int64(0)
    ev = np.empty((max(16, 4 * n), 2), np.int64)
    ne = np.int64(0)
    per_col = np.zeros(width, np.int64)
    for i in order:
        if areas[i] > 0:
            x0 = boxes[i, 0]
            bi = col_offs[i] - x0
            for x in range(x0, boxes[i, 1]):
                per_col[x] += col_ptr[bi + x + 1] - col_ptr[bi + x]
    most = 0
    for x in range(width):
        if per_col[x] > most:
            most = per_col[x]
    cap = 1 + 2 * most
    cs = np.zeros((width, cap), np.int32)
    co = np.zeros((width, cap), np.int32)
    cn = np.ones(width, np.int64)
    ts = np.empty(cap, np.int32)
    to = np.empty(cap, np.int32)
    ov = np.zeros(n, np.int64)  # |I_i ∩ seg_j| of the new proposal i, per owner j
    touched = np.empty(n, np.int64)  # the owners i meets
    take = np.zeros(n, np.bool_)  # the owners i reclaims from
    for i in order:
        area = areas[i]
        if area == 0:
            status[i] = EMPTY
            continue
        x0 = boxes[i, 0]
        x1 = boxes[i, 1]
        bi = col_offs[i] - x0
        n_free = 0
        nt = 0
        for x in range(x0, x1):
            m_x = cn[x]
            s_x = cs[x]
            o_x = co[x]
            k = 0
            for r in range(col_ptr[bi + x], col_ptr[bi + x + 1]):
                ya = run_y0[r]
                yb = run_y1[r]
                while k + 1 < m_x and s_x[k + 1] <= ya:
                    k += 1
                while k < m_x and s_x[k] < yb:
                    e = s_x[k + 1] if k + 1 < m_x else height
                    m = min(e, yb) - max(s_x[k], ya)
                    c = o_x[k]
                    if c == 0:
                        n_free += m
                    else:
                        if ov[c - 1] == 0:
                            touched[nt] = c - 1
                            nt += 1
                        ov[c - 1] += m
                    if e > yb:
                        break
                    k += 1
        # the owners in ascending proposal index (np.unique's order in the reference code)
        for a in range(1, nt):
            v = touched[a]
            b = a - 1
            while b >= 0 and touched[b] > v:
                touched[b + 1] = touched[b]
                b -= 1
            touched[b + 1] = v
        n_take = 0
        for a in range(nt):
            j = touched[a]
            if original:
                met = labels[i] != labels[j] and decide.ocf_pair_met_original(
                    _run_overlap(boxes, col_offs, col_ptr, run_y0, run_y1, i, j), area, OCF_THETA
                )
            else:
                met = decide.ocf_pair_met_reference(ov[j], area, visible[j], OCF_THETA)
            if met:
                ev, ne = _add_event(ev, ne, i, j, record_events)
                if decide.ocf_in_front(logit[i, j], original):
                    take[j] = True
                    n_take += ov[j]
        drop = False
        if nt > 0:  # i meets occupied pixels: the drop check (both codes skip it otherwise)
            if original:
                drop = decide.occupancy_drop(area - n_free - n_take, area, tau)
            else:
                drop = decide.canvas_drop(n_free + n_take, area, tau)
        for a in range(nt):
            ov[touched[a]] = 0
        if drop:
            for a in range(nt):
                take[touched[a]] = False
            status[i] = CANVAS
            continue
        lab = np.int32(i + 1)
        vis_i = 0
        for x in range(x0, x1):
            s_x = cs[x]
            o_x = co[x]
            for r in range(col_ptr[bi + x], col_ptr[bi + x + 1]):
                ya = run_y0[r]
                yb = run_y1[r]
                m_x = cn[x]
                tn = np.int64(0)
                for k in range(m_x):
                    s = np.int64(s_x[k])
                    e = s_x[k + 1] if k + 1 < m_x else height
                    c = o_x[k]
                    if e <= ya or s >= yb:
                        tn = _push(ts, to, tn, s, c)
                        continue
                    if s < ya:
                        tn = _push(ts, to, tn, s, c)
                    lo = max(s, ya)
                    pc = c
                    if c == 0 or take[c - 1]:
                        px = min(e, yb) - lo
                        if c != 0:
                            visible[c - 1] -= px
                        vis_i += px
                        pc = lab
                    tn = _push(ts, to, tn, lo, pc)
                    if e > yb:
                        tn = _push(ts, to, tn, yb, c)
                for k in range(tn):
                    s_x[k] = ts[k]
                    o_x[k] = to[k]
                cn[x] = tn
        for a in range(nt):
            take[touched[a]] = False
        visible[i] = vis_i
        status[i] = KEPT
        kept[nk] = i
        nk += 1
    decide.mark_emptied(status, visible, kept, nk)
    return _rows_of_intervals(cs, co, cn, height, width), status, visible, ev[:ne].copy()


@njit
def _fuse_atoms_ocfusion(weight, ptr, idx, areas, labels, order, overlaps, logit, tau, original):
    m = weight.shape[0]
    n = areas.shape[0]
    owner = np.full(m, -1, np.int32)
    status = np.full(n, UNSEEN, np.int8)
    visible = np.zeros(n, np.int64)
    kept = np.empty(n, np.int64)
    nk = 0
    ov = np.zeros(n, np.int64)
    touched = np.empty(n, np.int64)
    take = np.zeros(n, np.bool_)
    for i in order:
        area = areas[i]
        if area == 0:
            status[i] = EMPTY
            continue
        n_free = 0
        nt = 0
        for u in range(ptr[i], ptr[i + 1]):
            a = idx[u]
            c = owner[a]
            if c < 0:
                n_free += weight[a]
            else:
                if ov[c] == 0:
                    touched[nt] = c
                    nt += 1
                ov[c] += weight[a]
        n_take = 0
        for q in range(nt):  # order does not matter here: no events on atoms
            j = touched[q]
            if original:
                met = labels[i] != labels[j] and decide.ocf_pair_met_original(overlaps[i, j], area, OCF_THETA)
            else:
                met = decide.ocf_pair_met_reference(ov[j], area, visible[j], OCF_THETA)
            if met and decide.ocf_in_front(logit[i, j], original):
                take[j] = True
                n_take += ov[j]
        drop = False
        if nt > 0:
            if original:
                drop = decide.occupancy_drop(area - n_free - n_take, area, tau)
            else:
                drop = decide.canvas_drop(n_free + n_take, area, tau)
        for q in range(nt):
            ov[touched[q]] = 0
        if not drop:
            for u in range(ptr[i], ptr[i + 1]):
                a = idx[u]
                c = owner[a]
                if c < 0 or take[c]:
                    if c >= 0:
                        visible[c] -= weight[a]
                    owner[a] = i
                    visible[i] += weight[a]
            status[i] = KEPT
            kept[nk] = i
            nk += 1
        else:
            status[i] = CANVAS
        for q in range(nt):
            take[touched[q]] = False
    decide.mark_emptied(status, visible, kept, nk)
    return owner, status, visible


def fuse_atoms_ocfusion(
    weight: np.ndarray,
    ptr: np.ndarray,
    idx: np.ndarray,
    areas: np.ndarray,
    labels: np.ndarray,
    order: np.ndarray,
    overlaps: np.ndarray,
    logits: np.ndarray,
    *,
    tau: float,
    original: bool,
):
    """OCFusion on atoms (the layout of :func:`rapkit.kernels.sweep.fuse_atoms`: atom ``a``
    of ``weight[a]`` pixels, proposal ``k`` covering atoms ``idx[ptr[k]:ptr[k + 1]]``;
    ``overlaps`` the (N, N) ``|I_i ∩ I_j|``, ``logits`` :func:`pair_matrix`'s). Returns
    ``(owner per atom (-1 = free), status, visible)``, equal to :func:`fuse_ocfusion`'s canvas
    read per atom.

    >>> i64 = lambda *v: np.array(v, np.int64)
    >>> owner, st, vis = fuse_atoms_ocfusion(i64(3, 2), i64(0, 2, 3), i64(0, 1, 1), i64(5, 2), i64(1, 2),
    ...     i64(0, 1), i64(0, 2, 2, 0).reshape(2, 2), np.array([[np.nan, np.nan], [1.0, np.nan]]),
    ...     tau=0.5, original=False)
    >>> owner.tolist(), vis.tolist()
    ([0, 1], [3, 2])
    """
    n = areas.shape[0]
    for name, a in (("areas", areas), ("labels", labels)):
        _check(name, a, np.int64, 1)
    if weight.ndim != 1 or ptr.ndim != 1 or idx.ndim != 1:
        raise ValueError("weight, ptr and idx must be 1-D (the atoms of rapkit.kernels.sweep.build_atoms)")
    _check("order", np.ascontiguousarray(order), np.int64, 1)
    _check("overlaps", overlaps, np.int64, 2)
    _check("logits", logits, np.float64, 2)
    if labels.shape[0] != n or ptr.shape[0] != n + 1 or overlaps.shape != (n, n) or logits.shape != (n, n):
        raise ValueError("areas, labels, ptr (N + 1), overlaps and logits (N, N) must describe the same N proposals")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError("order holds an index outside [0, N)")
    return _fuse_atoms_ocfusion(
        weight, ptr, idx, areas, labels, np.ascontiguousarray(order), overlaps, logits, float(tau), bool(original)
    )


def pair_matrix(n: int, pair_i: np.ndarray | None, pair_j: np.ndarray | None, pair_logit: np.ndarray | None):
    """The (N, N) float64 matrix of the pair head's logits, ``[i, j]``: ``i`` occludes ``j``;
    NaN where the file has no logit for the pair (never in front).

    >>> pair_matrix(2, np.array([0]), np.array([1]), np.array([3.0])).tolist()
    [[nan, 3.0], [nan, nan]]
    """
    out = np.full((n, n), np.nan)
    if pair_i is not None and pair_j is not None and pair_logit is not None and len(pair_i):
        out[np.asarray(pair_i, np.int64), np.asarray(pair_j, np.int64)] = np.asarray(pair_logit, np.float64)
    return out


def fuse_ocfusion(
    boxes: np.ndarray,
    areas: np.ndarray,
    col_offsets: np.ndarray,
    col_ptr: np.ndarray,
    run_y0: np.ndarray,
    run_y1: np.ndarray,
    labels: np.ndarray,
    order: np.ndarray,
    width: int,
    height: int,
    logits: np.ndarray,
    *,
    tau: float,
    original: bool,
    record_events: bool = False,
):
    """OCFusion's fusion of proposals ``order`` (score-sorted, rho-filtered) given as column
    runs; ``logits`` is :func:`pair_matrix`'s (N, N) float64 matrix. Returns ``(canvas (H, W)
    int32, status (N,) int8, visible (N,) int64, events (E, 2) int64)`` as
    :func:`rapkit.kernels.fusion.fuse_runs` does; ``events`` (with ``record_events``) are the
    pairs (new ``i``, earlier ``j``) whose decision was asked for: ``j`` holds pixels of
    ``I_i`` and the pair check is met (in ascending ``j`` per ``i``).

    >>> z = np.zeros
    >>> c, st, vis, ev = fuse_ocfusion(z((0, 4), np.int64), z(0, np.int64), z(1, np.int64), z(0, np.int64),
    ...     z(0, np.int64), z(0, np.int64), z(0, np.int64), z(0, np.int64), 3, 2, z((0, 0)), tau=.5, original=False)
    >>> c.shape
    (2, 3)
    """
    n = boxes.shape[0]
    _check_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, n)
    for name, a in (("areas", areas), ("labels", labels), ("order", order)):
        _check(name, a, np.int64, 1)
    _check("logits", logits, np.float64, 2)
    if areas.shape[0] != n or labels.shape[0] != n or logits.shape != (n, n):
        raise ValueError("boxes, areas, labels and the (N, N) logits must describe the same N proposals")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError("order holds an index outside [0, N)")
    if order.size and not _has_runs(boxes, col_offsets, order[areas[order] > 0]):
        raise ValueError("a proposal in order has no runs for its box columns")
    return _fuse_ocfusion(
        boxes,
        areas,
        col_offsets,
        col_ptr,
        run_y0,
        run_y1,
        labels,
        order,
        np.int64(width),
        np.int64(height),
        logits,
        float(tau),
        bool(original),
        bool(record_events),
    )
