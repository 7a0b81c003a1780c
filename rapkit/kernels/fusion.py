"""Fusion kernels (numba): Algorithm 1 of the RAP paper, the heuristic rule, the stuff fill.

Masks are the column runs of :func:`rapkit.kernels.rle.decode_rle_runs` (per column of a
mask's box, its ``y`` intervals, walked column by column as COCO RLE is). :func:`fuse_runs`
keeps the canvas as runs too (per image column, a list of intervals holding ``k + 1`` for
the proposal ``k`` that owns them, 0 = free), so counting and painting cost per interval a
mask run meets, not per pixel; it returns the (H, W) canvas, written once at the end.
:func:`pairwise_overlaps` gives every ``|I_i ∩ I_j|`` (merged from the two masks' runs) for
the atom kernel of the sweep (:mod:`rapkit.kernels.sweep`) and relation accuracy;
:func:`overlaps_with_crops` the pixels run masks share with box-cropped masks (relation
accuracy's mask IoUs with ground-truth instances).

Status codes per proposal: :mod:`rapkit.kernels.status` (kept, dropped by score, empty
mask, category-aware check, excessive-overlap check, canvas check, emptied, unseen). The
checks themselves are :mod:`rapkit.kernels.decisions`, shared with the atom kernel of
:mod:`rapkit.kernels.sweep` and with the numpy twins.

``compose`` turns the canvas into the final (H, W) id map with the stuff fill, in two passes
over the image. The exact semantics are in ``docs/fusion.md``;
:mod:`rapkit.kernels._reference_fusion` holds full-image numpy twins that define them
executably.
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit
from . import decisions_jit as decide
from .status import CANVAS, CATEGORY, EMPTY, KEPT, OVERLAP, STATUS_NAMES, UNSEEN

__all__ = ["STATUS_NAMES", "compose", "fuse_runs", "overlaps_with_crops", "pairwise_overlaps"]


@njit
def _run_overlap(boxes, col_offs, col_ptr, run_y0, run_y1, i, j):
    """|I_i ∩ I_j| for two masks given as column runs: per shared column, a merge of the runs."""
    ax0 = max(boxes[i, 0], boxes[j, 0])
    ax1 = min(boxes[i, 1], boxes[j, 1])
    if ax0 >= ax1 or max(boxes[i, 2], boxes[j, 2]) >= min(boxes[i, 3], boxes[j, 3]):
        return 0
    bi = col_offs[i] - boxes[i, 0]
    bj = col_offs[j] - boxes[j, 0]
    tot = 0
    for x in range(ax0, ax1):
        a = col_ptr[bi + x]
        ae = col_ptr[bi + x + 1]
        b = col_ptr[bj + x]
        be = col_ptr[bj + x + 1]
        while a < ae and b < be:
            lo = max(run_y0[a], run_y0[b])
            hi = min(run_y1[a], run_y1[b])
            if hi > lo:
                tot += hi - lo
            if run_y1[a] < run_y1[b]:
                a += 1
            else:
                b += 1
    return tot


@njit
def _pairwise_overlaps(boxes, col_offs, col_ptr, run_y0, run_y1):
    n = boxes.shape[0]
    out = np.zeros((n, n), np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            o = _run_overlap(boxes, col_offs, col_ptr, run_y0, run_y1, i, j)
            out[i, j] = o
            out[j, i] = o
    return out


@njit
def _overlaps_with_crops(boxes, col_offs, col_ptr, run_y0, run_y1, cboxes, coffs, crops, pairs):
    out = np.zeros(pairs.shape[0], np.int64)
    for q in range(pairs.shape[0]):
        k = pairs[q, 0]
        g = pairs[q, 1]
        ax0 = max(boxes[k, 0], cboxes[g, 0])
        ax1 = min(boxes[k, 1], cboxes[g, 1])
        ay0 = max(boxes[k, 2], cboxes[g, 2])
        ay1 = min(boxes[k, 3], cboxes[g, 3])
        if ax0 >= ax1 or ay0 >= ay1:
            continue
        gw = cboxes[g, 1] - cboxes[g, 0]
        bk = col_offs[k] - boxes[k, 0]
        tot = 0
        for x in range(ax0, ax1):
            base = coffs[g] + x - cboxes[g, 0] - cboxes[g, 2] * gw  # crop pixel (x, y): base + y * gw
            for r in range(col_ptr[bk + x], col_ptr[bk + x + 1]):
                for y in range(max(run_y0[r], ay0), min(run_y1[r], ay1)):
                    tot += crops[base + y * gw]
        out[q] = tot
    return out


@njit
def _next_met(boxes, areas, kept, nk, kk, i, gamma, eo, reference, record_events, drop_eo):
    """The pair loop of Algorithm 1 (lines 9-16) for proposal ``i``: the first ``kk' >= kk``
    whose kept proposal ``kept[kk']`` has a box meeting ``i``'s and, when no events are
    recorded, a box intersection that can reach ``gamma`` (``O_ij`` is at most that
    intersection); ``nk`` when there is none or nothing is left to decide."""
    x0 = boxes[i, 0]
    x1 = boxes[i, 1]
    y0 = boxes[i, 2]
    y1 = boxes[i, 3]
    while kk < nk:
        if not record_events and (drop_eo or not eo):
            return nk
        j = kept[kk]
        if not (boxes[j, 0] >= x1 or boxes[j, 1] <= x0 or boxes[j, 2] >= y1 or boxes[j, 3] <= y0):
            if record_events:
                return kk
            ibox = (min(x1, boxes[j, 1]) - max(x0, boxes[j, 0])) * (min(y1, boxes[j, 3]) - max(y0, boxes[j, 2]))
            if decide.overlap_may_be_excessive(ibox, areas[i], areas[j], gamma, reference):
                return kk
        kk += 1
    return nk


@njit
def _add_event(ev, ne, i, j, record_events):
    """Append the event (i, j) to ``ev[:ne]`` when events are recorded, doubling ``ev`` when
    full; returns ``(ev, ne)``."""
    if not record_events:
        return ev, ne
    if ne == ev.shape[0]:
        ev2 = np.empty((2 * ne, 2), np.int64)
        for q in range(ne):  # a loop: a slice assignment compiles numba's shape-error message
            ev2[q, 0] = ev[q, 0]
            ev2[q, 1] = ev[q, 1]
        ev = ev2
    ev[ne, 0] = i
    ev[ne, 1] = j
    return ev, ne + 1


@njit
def _excessive(o, ov, areas, visible, i, j, gamma, reference):
    """The excessive-overlap check of pair (i, j): ``O_ij`` against ``j``'s mask, or with
    ``reference`` ``ov`` (``i``'s pixels that ``j`` holds on the canvas) against ``j``'s
    visible segment."""
    if reference:
        return decide.excessive_overlap(ov, areas[i], visible[j], gamma)
    return decide.excessive_overlap(o, areas[i], areas[j], gamma)


@njit
def _run_visible_overlap(boxes, col_offs, col_ptr, run_y0, run_y1, cs, co, cn, height, i, j):
    """The pixels of ``i``'s runs that proposal ``j`` holds on the canvas of intervals (see
    :func:`_fuse_runs`)."""
    bi = col_offs[i] - boxes[i, 0]
    lab_j = j + 1
    ov = 0
    for x in range(max(boxes[i, 0], boxes[j, 0]), min(boxes[i, 1], boxes[j, 1])):
        m_x = cn[x]
        s_x = cs[x]
        o_x = co[x]
        for r in range(col_ptr[bi + x], col_ptr[bi + x + 1]):
            ya = run_y0[r]
            yb = run_y1[r]
            for k in range(m_x):
                if o_x[k] == lab_j:
                    e = s_x[k + 1] if k + 1 < m_x else height
                    lo = max(s_x[k], ya)
                    hi = min(e, yb)
                    if hi > lo:
                        ov += hi - lo
    return ov


@njit
def _push(ts, to, tn, start, value):
    """Append interval (start, value) to a column being rebuilt, merged into an equal neighbour."""
    if tn > 0 and to[tn - 1] == value:
        return tn
    ts[tn] = start
    to[tn] = value
    return tn + 1


@njit
def _fuse_runs(
    boxes,
    areas,
    col_offs,
    col_ptr,
    run_y0,
    run_y1,
    labels,
    rel,
    order,
    width,
    height,
    tau,
    gamma,
    ra,
    ca,
    eo,
    reference,
    record_events,
):
    """Algorithm 1 / the heuristic on column runs over a canvas kept as runs too: column ``x``
    of the canvas is ``cn[x]`` intervals, interval ``k`` starting at ``cs[x, k]`` (``cs[x, 0] =
    0``; it ends where the next starts, the last at ``height``) with value ``co[x, k]``
    (proposal + 1, 0 = free), neighbours never equal. Counting and painting cost per
    interval, not pixel."""
    n = boxes.shape[0]
    status = np.full(n, UNSEEN, np.int8)
    visible = np.zeros(n, np.int64)
    kept = np.empty(n, np.int64)
    nk = np.int64(0)  # not a literal 0: a helper called with it would compile once more
    ev = np.empty((max(16, 4 * n), 2), np.int64)
    ne = np.int64(0)
    # capacity: painting one run splits at most one interval into three
    per_col = np.zeros(width, np.int64)
    for i in order:
        if areas[i] > 0:
            x0 = boxes[i, 0]
            bi = col_offs[i] - x0
            for x in range(x0, boxes[i, 1]):
                per_col[x] += col_ptr[bi + x + 1] - col_ptr[bi + x]
    most = 0  # per_col.max() (0 for no columns), as a loop: cheaper to compile
    for x in range(width):
        if per_col[x] > most:
            most = per_col[x]
    cap = 1 + 2 * most
    cs = np.zeros((width, cap), np.int32)
    co = np.zeros((width, cap), np.int32)
    cn = np.ones(width, np.int64)
    ts = np.empty(cap, np.int32)
    to = np.empty(cap, np.int32)
    for i in order:
        area = areas[i]
        if area == 0:
            status[i] = EMPTY
            continue
        x0 = boxes[i, 0]
        x1 = boxes[i, 1]
        bi = col_offs[i] - x0
        li = labels[i]
        ri = rel[i]
        n_same = 0
        n_occ = 0
        n_vis = 0
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
                        n_vis += m
                    else:
                        n_occ += m
                        if labels[c - 1] == li:
                            n_same += m
                        if decide.takes_over(rel[c - 1], ri):
                            n_vis += m
                    if e > yb:
                        break
                    k += 1
        # category-aware check (lines 4-8)
        if ca and decide.category_drop(n_same, area, tau, reference):
            status[i] = CATEGORY
            continue
        # pairs met (lines 9-16): events and excessive-overlap check
        drop_eo = np.bool_(False)
        kk = _next_met(boxes, areas, kept, nk, np.int64(0), i, gamma, eo, reference, record_events, drop_eo)
        while kk < nk:
            j = kept[kk]
            o = _run_overlap(boxes, col_offs, col_ptr, run_y0, run_y1, i, j)
            if o != 0:
                ev, ne = _add_event(ev, ne, i, j, record_events)
                if eo and not drop_eo:
                    ov = 0
                    if reference and visible[j] > 0:
                        ov = _run_visible_overlap(boxes, col_offs, col_ptr, run_y0, run_y1, cs, co, cn, height, i, j)
                    drop_eo = _excessive(o, ov, areas, visible, i, j, gamma, reference)
            kk = _next_met(boxes, areas, kept, nk, kk + 1, i, gamma, eo, reference, record_events, drop_eo)
        # canvas check (lines 17-19); the heuristic's occupied share with ra off
        drop_canvas = decide.canvas_drop(n_vis, area, tau) if ra else decide.occupancy_drop(n_occ, area, tau)
        if drop_eo or drop_canvas:
            status[i] = OVERLAP if drop_eo else CANVAS
            continue
        # paint C_i (lines 21-22): rewrite the intervals each run covers
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
                    s = np.int64(s_x[k])  # one signature of _push
                    e = s_x[k + 1] if k + 1 < m_x else height
                    c = o_x[k]
                    if e <= ya or s >= yb:  # untouched
                        tn = _push(ts, to, tn, s, c)
                        continue
                    if s < ya:  # the part above the run keeps its value
                        tn = _push(ts, to, tn, s, c)
                    lo = max(s, ya)
                    pc = c
                    if c == 0 or (ra and decide.takes_over(rel[c - 1], ri)):
                        px = min(e, yb) - lo
                        if c != 0:
                            visible[c - 1] -= px
                        vis_i += px
                        pc = lab
                    tn = _push(ts, to, tn, lo, pc)
                    if e > yb:  # the part below the run keeps its value
                        tn = _push(ts, to, tn, yb, c)
                for k in range(tn):  # loops, not slice assignments: cheaper to compile
                    s_x[k] = ts[k]
                    o_x[k] = to[k]
                cn[x] = tn
        visible[i] = vis_i
        status[i] = KEPT
        kept[nk] = i
        nk += 1
    decide.mark_emptied(status, visible, kept, nk)
    return _rows_of_intervals(cs, co, cn, height, width), status, visible, ev[:ne].copy()


@njit
def _rows_of_intervals(cs, co, cn, height, width):
    """The (H, W) canvas of per-column intervals (see :func:`_fuse_runs`)."""
    # row by row: a row is the one above with the columns whose
    # interval changes at that row updated (events bucketed by row), copied whole
    ev_ptr = np.zeros(height + 1, np.int64)
    for x in range(width):
        for k in range(1, cn[x]):
            ev_ptr[cs[x, k] + 1] += 1
    for y in range(height):
        ev_ptr[y + 1] += ev_ptr[y]
    fill = ev_ptr[:height].copy()
    ev_x = np.empty(ev_ptr[height], np.int64)
    ev_v = np.empty(ev_ptr[height], np.int32)
    for x in range(width):
        for k in range(1, cn[x]):
            q = fill[cs[x, k]]
            ev_x[q] = x
            ev_v[q] = co[x, k]
            fill[cs[x, k]] = q + 1
    canvas = np.empty((height, width), np.int32)
    val = np.empty(width, np.int32)
    for x in range(width):
        val[x] = co[x, 0]
    for y in range(height):
        for q in range(ev_ptr[y], ev_ptr[y + 1]):
            val[ev_x[q]] = ev_v[q]
        crow = canvas[y]
        for x in range(width):  # a loop, not a slice assignment: cheaper to compile
            crow[x] = val[x]
    return canvas


@njit
def _compose(canvas, sem, has_sem, is_stuff, stuff_area, thing_lut, n_things):
    height, width = canvas.shape
    counts = np.zeros(256, np.int64)
    # pass 1: histogram of the free pixels' semantic classes
    if has_sem:
        for y in range(height):
            crow = canvas[y]
            srow = sem[y]
            for x in range(width):
                if crow[x] == 0:
                    counts[srow[x]] += 1
    # stuff segments: classes in ascending id with enough free pixels
    stuff_of = np.zeros(256, np.int64)
    classes = np.empty(256, np.int64)
    ns = decide.number_stuff_segments(counts, is_stuff, stuff_area, n_things, stuff_of, classes)
    stuff_id = stuff_of.astype(np.uint32)
    n_ids = n_things + ns
    out = np.empty((height, width), np.uint32)
    # the id map's runs along each row: row y is runs row_ptr[y]:row_ptr[y + 1], run r
    # starting at column run_x[r] with id run_v[r]
    row_ptr = np.zeros(height + 1, np.int64)
    run_x = np.empty(height * width, np.int64)  # at most one run per pixel; pages untouched
    run_v = np.empty(height * width, np.uint32)  # beyond the runs are not mapped in
    nr = 0
    area = np.zeros(n_ids + 1, np.int64)
    bx0 = np.full(n_ids + 1, width, np.int64)
    bx1 = np.full(n_ids + 1, -1, np.int64)
    by0 = np.full(n_ids + 1, height, np.int64)
    by1 = np.full(n_ids + 1, -1, np.int64)
    # pass 2: final ids (things through the lookup table, free pixels from the stuff table);
    # runs of equal ids along a row update area and bbox once per run
    for y in range(height):
        irow = canvas[y]
        orow = out[y]
        srow = sem[y]
        cur = np.uint32(0)
        start = 0
        for x in range(width):
            v = irow[x]
            o = thing_lut[v] if v != 0 else (stuff_id[srow[x]] if has_sem else np.uint32(0))
            orow[x] = o
            if o != cur:
                if x > start:
                    run_x[nr] = start
                    run_v[nr] = cur
                    nr += 1
                    area[cur] += x - start
                    if start < bx0[cur]:
                        bx0[cur] = start
                    if x - 1 > bx1[cur]:
                        bx1[cur] = x - 1
                    if y < by0[cur]:
                        by0[cur] = y
                    by1[cur] = y
                cur = o
                start = x
        run_x[nr] = start
        run_v[nr] = cur
        nr += 1
        row_ptr[y + 1] = nr
        area[cur] += width - start
        if start < bx0[cur]:
            bx0[cur] = start
        if width - 1 > bx1[cur]:
            bx1[cur] = width - 1
        if y < by0[cur]:
            by0[cur] = y
        by1[cur] = y
    bbox = np.zeros((n_ids + 1, 4), np.int64)
    for v in range(n_ids + 1):
        if area[v] > 0:
            bbox[v, 0] = bx0[v]
            bbox[v, 1] = by0[v]
            bbox[v, 2] = bx1[v] - bx0[v] + 1
            bbox[v, 3] = by1[v] - by0[v] + 1
    return out, classes[:ns].copy(), area, bbox, row_ptr, run_x[:nr].copy(), run_v[:nr].copy()


# --------------------------------------------------------------------------- wrappers


def _check(name: str, a: np.ndarray, dtype, ndim: int) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous {ndim}-D {np.dtype(dtype).name} array")


def _check_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, n: int) -> None:
    """The run layout of :func:`rapkit.kernels.rle.decode_rle_runs` for ``n`` masks."""
    _check("boxes", boxes, np.int64, 2)
    for name, a in (("col_offsets", col_offsets), ("col_ptr", col_ptr), ("run_y0", run_y0), ("run_y1", run_y1)):
        _check(name, a, np.int64, 1)
    if boxes.shape[1] != 4:
        raise ValueError("boxes must be (N, 4)")
    if col_offsets.shape[0] != n + 1 or (n and col_offsets[-1] > col_ptr.shape[0]):
        raise ValueError("col_offsets must have N + 1 entries within col_ptr")
    if run_y0.shape != run_y1.shape or (col_ptr.size and col_ptr.max() > run_y0.shape[0]):
        raise ValueError("col_ptr must point into run_y0 / run_y1 of equal length")


def _has_runs(boxes, col_offsets, k: np.ndarray) -> bool:
    """Whether masks ``k`` have runs for every column of their boxes (empty masks: none needed)."""
    return not np.any(col_offsets[k + 1] - col_offsets[k] != boxes[k, 1] - boxes[k, 0] + 1)


def pairwise_overlaps(
    boxes: np.ndarray, col_offsets: np.ndarray, col_ptr: np.ndarray, run_y0: np.ndarray, run_y1: np.ndarray
) -> np.ndarray:
    """(N, N) int64 matrix of |I_i ∩ I_j| for masks given as column runs (diagonal 0); every
    non-empty mask needs its runs.

    >>> z = np.zeros
    >>> pairwise_overlaps(z((0, 4), np.int64), z(1, np.int64), z(0, np.int64), z(0, np.int64), z(0, np.int64)).shape
    (0, 0)
    """
    n = boxes.shape[0]
    _check_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, n)
    if not _has_runs(boxes, col_offsets, np.arange(n)):
        raise ValueError("a mask has no runs for its box columns")
    return _pairwise_overlaps(boxes, col_offsets, col_ptr, run_y0, run_y1)


def overlaps_with_crops(
    boxes: np.ndarray,
    col_offsets: np.ndarray,
    col_ptr: np.ndarray,
    run_y0: np.ndarray,
    run_y1: np.ndarray,
    crop_boxes: np.ndarray,
    crop_offsets: np.ndarray,
    crops: np.ndarray,
    pairs: np.ndarray,
) -> np.ndarray:
    """|I_k ∩ J_g| for each pair ``(k, g)`` of ``pairs`` ((P, 2) int64): ``I_k`` a mask given as
    column runs, ``J_g`` one given as a row-major crop of its box ``crop_boxes[g] = (x0, x1,
    y0, y1)``, ``crops[crop_offsets[g]:crop_offsets[g + 1]].reshape(y1 - y0, x1 - x0)`` (uint8
    0/1; the layout of :class:`rapkit.types.InstanceMask`). The masks ``k`` named need their runs.

    >>> box, i64 = np.array([[0, 1, 0, 1]], np.int64), lambda *v: np.array(v, np.int64)  # one pixel at (0, 0)
    >>> overlaps_with_crops(box, i64(0, 2), i64(0, 1), i64(0), i64(1), box, i64(0, 1), np.ones(1, np.uint8),
    ...                     np.zeros((1, 2), np.int64)).tolist()
    [1]
    """
    n = boxes.shape[0]
    _check_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, n)
    _check("crop_boxes", crop_boxes, np.int64, 2)
    _check("crop_offsets", crop_offsets, np.int64, 1)
    _check("crops", crops, np.uint8, 1)
    _check("pairs", pairs, np.int64, 2)
    m = crop_boxes.shape[0]
    if crop_boxes.shape[1] != 4 or crop_offsets.shape[0] != m + 1 or (m and crop_offsets[-1] > crops.shape[0]):
        raise ValueError("crop_boxes must be (G, 4) and crop_offsets have G + 1 entries within crops")
    sizes = (crop_boxes[:, 1] - crop_boxes[:, 0]) * (crop_boxes[:, 3] - crop_boxes[:, 2])
    if np.any(crop_offsets[1:] - crop_offsets[:-1] != sizes):
        raise ValueError("each crop must hold its box's pixels")
    if pairs.shape[1] != 2 or (pairs.size and (pairs.min() < 0 or pairs[:, 0].max() >= n or pairs[:, 1].max() >= m)):
        raise ValueError("pairs must be (P, 2) indices into the run masks and the crops")
    if pairs.size and not _has_runs(boxes, col_offsets, pairs[:, 0]):
        raise ValueError("a mask in pairs has no runs for its box columns")
    return _overlaps_with_crops(boxes, col_offsets, col_ptr, run_y0, run_y1, crop_boxes, crop_offsets, crops, pairs)


def fuse_runs(
    boxes: np.ndarray,
    areas: np.ndarray,
    col_offsets: np.ndarray,
    col_ptr: np.ndarray,
    run_y0: np.ndarray,
    run_y1: np.ndarray,
    labels: np.ndarray,
    relations: np.ndarray,
    order: np.ndarray,
    width: int,
    height: int,
    *,
    tau: float,
    gamma: float,
    ra: bool,
    ca: bool,
    eo: bool,
    reference: bool,
    record_events: bool = False,
):
    """Paint proposals ``order`` (already score-sorted and rho-filtered), given as column runs
    (:func:`rapkit.kernels.rle.decode_rle_runs`), onto an (H, W) canvas.

    Algorithm 1 with switches; the heuristic is ``ra=ca=eo=False``. Returns
    ``(canvas (H, W) int32, status (N,) int8, visible (N,) int64, events (E, 2) int64)``:
    the canvas holds ``k + 1`` where proposal ``k`` is visible (0 = free), ``visible`` the
    pixels each proposal holds, and ``events`` the pairs (new proposal i, kept proposal j)
    whose full masks overlap, met by every proposal that reaches the pair loop (lines 9-16;
    with ``record_events`` only). Masks of proposals not in ``order`` need no runs.

    >>> z = np.zeros
    >>> c, st, vis, ev = fuse_runs(z((0, 4), np.int64), z(0, np.int64), z(1, np.int64), z(0, np.int64),
    ...     z(0, np.int64), z(0, np.int64), z(0, np.int64), z(0), z(0, np.int64), 3, 2, tau=.6, gamma=.5,
    ...     ra=True, ca=True, eo=True, reference=False)
    >>> c.shape
    (2, 3)
    """
    n = boxes.shape[0]
    _check_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, n)
    for name, a in (("areas", areas), ("labels", labels), ("order", order)):
        _check(name, a, np.int64, 1)
    _check("relations", relations, np.float64, 1)
    if areas.shape[0] != n or labels.shape[0] != n or relations.shape[0] != n:
        raise ValueError("boxes, areas, labels, relations must describe the same N proposals")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError("order holds an index outside [0, N)")
    if order.size and not _has_runs(boxes, col_offsets, order[areas[order] > 0]):
        raise ValueError("a proposal in order has no runs for its box columns")
    return _fuse_runs(
        boxes,
        areas,
        col_offsets,
        col_ptr,
        run_y0,
        run_y1,
        labels,
        relations,
        order,
        np.int64(width),
        np.int64(height),
        float(tau),
        float(gamma),
        bool(ra),
        bool(ca),
        bool(eo),
        bool(reference),
        bool(record_events),
    )


def compose(
    canvas: np.ndarray,
    semantic: np.ndarray | None,
    is_stuff: np.ndarray,
    stuff_area: int,
    thing_lut: np.ndarray,
    n_things: int,
    *,
    row_runs: bool = False,
    check: bool = True,
):
    """Turn the (H, W) instance canvas into the final uint32 id map, with stuff.

    ``thing_lut`` (uint32, N + 1 entries) maps canvas values (proposal index + 1) to thing
    segment ids 1..n_things (0 = not in the output). Free pixels take the stuff class of the
    (H, W) uint8 ``semantic`` map: each class with ``is_stuff`` (256 bools; void and thing
    ids False) and at least ``stuff_area`` (and > 0) free pixels becomes segment
    ``n_things + 1 + s`` in ascending class order. Returns
    ``(id_map, stuff classes, area (n_ids+1,), bbox (n_ids+1, 4) [x, y, w, h])``; with
    ``row_runs`` also ``(row_ptr (H+1,), run_x, run_v)``: the id map's maximal runs along each
    row (row ``y`` is runs ``row_ptr[y]:row_ptr[y+1]``, run ``r`` starting at column ``run_x[r]``
    with id ``run_v[r]``), what :func:`rapkit.kernels.png_encode.png_idat_runs` encodes.
    ``check=False`` skips the scan of the canvas against the lookup table (for canvases a
    fusion kernel made).

    >>> out, cls, area, bbox = compose(np.array([[1, 0]], np.int32), np.array([[0, 9]], np.uint8),
    ...     np.arange(256) == 9, 1, np.array([0, 1], np.uint32), 1)
    >>> out.tolist(), cls.tolist(), area.tolist()
    ([[1, 2]], [9], [0, 1, 1])
    """
    _check("canvas", canvas, np.int32, 2)
    _check("is_stuff", is_stuff, np.bool_, 1)
    _check("thing_lut", thing_lut, np.uint32, 1)
    if is_stuff.shape[0] != 256:
        raise ValueError("is_stuff must have 256 entries")
    if check and canvas.size and int(canvas.max()) >= thing_lut.shape[0]:
        raise ValueError("canvas holds a value outside the thing lookup table")
    if thing_lut.size and int(thing_lut.max()) > n_things:
        raise ValueError("thing lookup table maps outside 0..n_things")
    h, w = canvas.shape
    if semantic is None:
        sem = np.zeros((h, w), np.uint8)
        has = False
    else:
        _check("semantic", semantic, np.uint8, 2)
        if semantic.shape != (h, w):
            raise ValueError(f"semantic map {semantic.shape} does not match the image ({h}, {w})")
        sem, has = semantic, True
    res = _compose(canvas, sem, has, is_stuff, np.int64(stuff_area), thing_lut, np.int64(n_things))
    return res if row_runs else res[:4]
