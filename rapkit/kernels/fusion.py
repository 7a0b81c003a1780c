"""Fusion kernels (numba): Algorithm 1 of the RAP paper, the heuristic rule, the stuff fill.

All kernels work in x-major ("transposed") layout, like COCO RLE: the canvas has shape
``(W, H)`` and masks are box crops from :mod:`rapkit.kernels.rle`. The canvas holds, per
pixel, ``k + 1`` for the proposal ``k`` that owns it (0 = free); the stuff fill writes
``n_proposals + 1 + s`` for its ``s``-th stuff segment.

Status codes per proposal (:data:`STATUS_NAMES`): kept, dropped by score (s < rho), empty
mask, category-aware check, excessive-overlap check, canvas check (visible/free share), and
emptied (kept, then fully covered by later proposals: segment removed).

The exact semantics are in ``docs/fusion.md``; :mod:`rapkit.kernels._reference_fusion` holds
full-image numpy twins that define them executably.
"""

from __future__ import annotations

import numpy as np
from numba import njit

KEPT, SCORE, EMPTY, CATEGORY, OVERLAP, CANVAS, EMPTIED, UNSEEN = 0, 1, 2, 3, 4, 5, 6, 7
STATUS_NAMES = ("kept", "score", "empty", "category", "overlap", "canvas", "emptied", "unseen")


@njit(cache=True, nogil=True)
def _crop_overlap(boxes, offs, masks, i, j):
    """|I_i ∩ I_j| for two box-cropped masks."""
    ax0 = max(boxes[i, 0], boxes[j, 0])
    ax1 = min(boxes[i, 1], boxes[j, 1])
    ay0 = max(boxes[i, 2], boxes[j, 2])
    ay1 = min(boxes[i, 3], boxes[j, 3])
    if ax0 >= ax1 or ay0 >= ay1:
        return 0
    bhi = boxes[i, 3] - boxes[i, 2]
    bhj = boxes[j, 3] - boxes[j, 2]
    n = ay1 - ay0
    tot = 0
    for x in range(ax0, ax1):
        oi = offs[i] + (x - boxes[i, 0]) * bhi + (ay0 - boxes[i, 2])
        oj = offs[j] + (x - boxes[j, 0]) * bhj + (ay0 - boxes[j, 2])
        ri = masks[oi:oi + n]
        rj = masks[oj:oj + n]
        for t in range(n):
            tot += ri[t] & rj[t]
    return tot


@njit(cache=True, nogil=True)
def _pairwise_overlaps(boxes, offs, masks):
    n = boxes.shape[0]
    out = np.zeros((n, n), np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            o = _crop_overlap(boxes, offs, masks, i, j)
            out[i, j] = o
            out[j, i] = o
    return out


@njit(cache=True, nogil=True)
def _fuse(boxes, areas, offs, masks, labels, rel, order, width, height, tau, gamma,
          ra, ca, eo, reference, overlaps, record_events):
    n = boxes.shape[0]
    canvas = np.zeros((width, height), np.int32)
    status = np.full(n, 7, np.int8)
    visible = np.zeros(n, np.int64)
    kept = np.empty(n, np.int64)
    nk = 0
    ev = np.empty((max(16, 4 * n), 2), np.int64)
    ne = 0
    have_ov = overlaps.shape[0] == n and n > 0
    for q in range(order.shape[0]):
        i = order[q]
        area = areas[i]
        if area == 0:
            status[i] = 2
            continue
        x0 = boxes[i, 0]
        x1 = boxes[i, 1]
        y0 = boxes[i, 2]
        y1 = boxes[i, 3]
        bh = y1 - y0
        li = labels[i]
        ri = rel[i]
        n_same = 0
        n_occ = 0
        n_vis = 0
        for x in range(x0, x1):
            mrow = masks[offs[i] + (x - x0) * bh: offs[i] + (x - x0 + 1) * bh]
            crow = canvas[x, y0:y1]
            for t in range(bh):
                if mrow[t]:
                    c = crow[t]
                    if c == 0:
                        n_vis += 1
                    else:
                        n_occ += 1
                        if labels[c - 1] == li:
                            n_same += 1
                        if rel[c - 1] > ri:
                            n_vis += 1
        # category-aware check (lines 4-8)
        if ca:
            share = n_same / area
            if (reference and share > tau) or ((not reference) and share >= tau):
                status[i] = 3
                continue
        # pairs met (lines 9-16): events and excessive-overlap check
        drop_eo = False
        for kk in range(nk):
            j = kept[kk]
            if boxes[j, 0] >= x1 or boxes[j, 1] <= x0 or boxes[j, 2] >= y1 or boxes[j, 3] <= y0:
                continue
            if have_ov:
                o = overlaps[i, j]
            else:
                o = _crop_overlap(boxes, offs, masks, i, j)
            if o == 0:
                continue
            if record_events:
                if ne == ev.shape[0]:
                    ev2 = np.empty((2 * ne, 2), np.int64)
                    ev2[:ne] = ev[:ne]
                    ev = ev2
                ev[ne, 0] = i
                ev[ne, 1] = j
                ne += 1
            if eo and not drop_eo:
                if reference:
                    if visible[j] == 0:
                        continue
                    ov = 0
                    for x in range(x0, x1):
                        mrow = masks[offs[i] + (x - x0) * bh: offs[i] + (x - x0 + 1) * bh]
                        crow = canvas[x, y0:y1]
                        for t in range(bh):
                            if mrow[t] and crow[t] == j + 1:
                                ov += 1
                    if ov / area >= gamma and ov / visible[j] >= gamma:
                        drop_eo = True
                else:
                    if o / area >= gamma and o / areas[j] >= gamma:
                        drop_eo = True
        if drop_eo:
            status[i] = 4
            continue
        # canvas check (lines 17-19)
        if ra:
            if n_vis / area <= tau:
                status[i] = 5
                continue
        else:
            if n_occ / area > tau:
                status[i] = 5
                continue
        # paint C_i (lines 21-22)
        lab = np.int32(i + 1)
        for x in range(x0, x1):
            mrow = masks[offs[i] + (x - x0) * bh: offs[i] + (x - x0 + 1) * bh]
            crow = canvas[x, y0:y1]
            for t in range(bh):
                if mrow[t]:
                    c = crow[t]
                    if c == 0:
                        crow[t] = lab
                        visible[i] += 1
                    elif ra and rel[c - 1] > ri:
                        visible[c - 1] -= 1
                        crow[t] = lab
                        visible[i] += 1
        status[i] = 0
        kept[nk] = i
        nk += 1
    for kk in range(nk):
        j = kept[kk]
        if visible[j] == 0:
            status[j] = 6
    return canvas, status, visible, ev[:ne].copy()


@njit(cache=True, nogil=True)
def _stuff_fill(canvas, sem, is_stuff, stuff_area, base):
    width, height = canvas.shape
    counts = np.zeros(256, np.int64)
    for x in range(width):
        crow = canvas[x]
        srow = sem[x]
        for y in range(height):
            if crow[y] == 0:
                counts[srow[y]] += 1
    seg_of = np.zeros(256, np.int32)
    classes = np.empty(256, np.int64)
    areas = np.empty(256, np.int64)
    ns = 0
    for c in range(256):
        if is_stuff[c] and counts[c] > 0 and counts[c] >= stuff_area:
            seg_of[c] = base + 1 + ns
            classes[ns] = c
            areas[ns] = counts[c]
            ns += 1
    if ns > 0:
        for x in range(width):
            crow = canvas[x]
            srow = sem[x]
            for y in range(height):
                if crow[y] == 0:
                    crow[y] = seg_of[srow[y]]
    return classes[:ns].copy(), areas[:ns].copy()


@njit(cache=True, nogil=True)
def _finalize(canvas, lut, n_ids):
    width, height = canvas.shape
    out = np.empty((height, width), np.uint32)
    area = np.zeros(n_ids + 1, np.int64)
    bx0 = np.full(n_ids + 1, width, np.int64)
    bx1 = np.full(n_ids + 1, -1, np.int64)
    by0 = np.full(n_ids + 1, height, np.int64)
    by1 = np.full(n_ids + 1, -1, np.int64)
    for x in range(width):
        crow = canvas[x]
        for y in range(height):
            v = lut[crow[y]]
            out[y, x] = v
            area[v] += 1
            if x < bx0[v]:
                bx0[v] = x
            bx1[v] = x
            if y < by0[v]:
                by0[v] = y
            if y > by1[v]:
                by1[v] = y
    bbox = np.zeros((n_ids + 1, 4), np.int64)
    for v in range(n_ids + 1):
        if area[v] > 0:
            bbox[v, 0] = bx0[v]
            bbox[v, 1] = by0[v]
            bbox[v, 2] = bx1[v] - bx0[v] + 1
            bbox[v, 3] = by1[v] - by0[v] + 1
    return out, area, bbox


# --------------------------------------------------------------------------- wrappers


def _check(name: str, a: np.ndarray, dtype, ndim: int) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous {ndim}-D {np.dtype(dtype).name} array")


def pairwise_overlaps(boxes: np.ndarray, offsets: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N, N) int64 matrix of |I_i ∩ I_j| for box-cropped masks (diagonal 0).

    >>> pairwise_overlaps(np.zeros((0, 4), np.int64), np.zeros(1, np.int64), np.zeros(0, np.uint8)).shape
    (0, 0)
    """
    _check("boxes", boxes, np.int64, 2)
    _check("offsets", offsets, np.int64, 1)
    _check("masks", masks, np.uint8, 1)
    return _pairwise_overlaps(boxes, offsets, masks)


def fuse_instances(
    boxes: np.ndarray,
    areas: np.ndarray,
    offsets: np.ndarray,
    masks: np.ndarray,
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
    overlaps: np.ndarray | None = None,
    record_events: bool = False,
):
    """Paint proposals ``order`` (already score-sorted and rho-filtered) onto an x-major canvas.

    Algorithm 1 with switches; the heuristic is ``ra=ca=eo=False``. Returns
    ``(canvas (W, H) int32, status (N,) int8, visible (N,) int64, events (E, 2) int64)``;
    ``events`` lists the pairs (new proposal i, kept proposal j) whose full masks overlap,
    met by every proposal that reaches the pair loop (lines 9-16).

    >>> z = np.zeros
    >>> c, st, vis, ev = fuse_instances(z((0, 4), np.int64), z(0, np.int64), z(1, np.int64),
    ...     z(0, np.uint8), z(0, np.int64), z(0), z(0, np.int64), 3, 2, tau=.6, gamma=.5,
    ...     ra=True, ca=True, eo=True, reference=False)
    >>> c.shape
    (3, 2)
    """
    n = boxes.shape[0]
    _check("boxes", boxes, np.int64, 2)
    _check("areas", areas, np.int64, 1)
    _check("offsets", offsets, np.int64, 1)
    _check("masks", masks, np.uint8, 1)
    _check("labels", labels, np.int64, 1)
    _check("relations", relations, np.float64, 1)
    _check("order", order, np.int64, 1)
    if boxes.shape[1] != 4 or areas.shape[0] != n or labels.shape[0] != n or relations.shape[0] != n:
        raise ValueError("boxes, areas, labels, relations must describe the same N proposals")
    if offsets.shape[0] != n + 1 or (n and offsets[-1] > masks.shape[0]):
        raise ValueError("offsets must have N + 1 entries within masks")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError("order holds an index outside [0, N)")
    if overlaps is None:
        overlaps = np.zeros((0, 0), np.int64)
    else:
        _check("overlaps", overlaps, np.int64, 2)
        if overlaps.shape != (n, n):
            raise ValueError(f"overlaps must be ({n}, {n})")
    return _fuse(boxes, areas, offsets, masks, labels, relations, order, np.int64(width), np.int64(height),
                 float(tau), float(gamma), bool(ra), bool(ca), bool(eo), bool(reference), overlaps,
                 bool(record_events))


def stuff_fill(canvas: np.ndarray, semantic_t: np.ndarray, is_stuff: np.ndarray, stuff_area: int, base: int):
    """Fill free canvas pixels with stuff segments, in place (class ids ascending).

    ``semantic_t`` is the (W, H) uint8 label map (x-major); ``is_stuff`` a (256,) bool table
    (void ids 0 and 255 and thing ids are False). A class whose free pixels number fewer than
    ``stuff_area`` (or zero) gets no segment. Segment ``s`` is written as ``base + 1 + s``.
    Returns ``(classes, areas)`` of the created segments.
    """
    _check("canvas", canvas, np.int32, 2)
    _check("semantic_t", semantic_t, np.uint8, 2)
    _check("is_stuff", is_stuff, np.bool_, 1)
    if semantic_t.shape != canvas.shape:
        raise ValueError(f"semantic map {semantic_t.shape} and canvas {canvas.shape} differ")
    if is_stuff.shape[0] != 256:
        raise ValueError("is_stuff must have 256 entries")
    return _stuff_fill(canvas, semantic_t, is_stuff, np.int64(stuff_area), np.int64(base))


def finalize(canvas: np.ndarray, lut: np.ndarray, n_ids: int):
    """Map canvas values through ``lut`` to final ids 0..n_ids; transpose to (H, W) uint32.

    Returns ``(id_map, area (n_ids+1,), bbox (n_ids+1, 4) [x, y, w, h])``.
    """
    _check("canvas", canvas, np.int32, 2)
    _check("lut", lut, np.uint32, 1)
    if canvas.size and int(canvas.max()) >= lut.shape[0]:
        raise ValueError("canvas holds a value outside the lookup table")
    if lut.size and int(lut.max()) > n_ids:
        raise ValueError("lookup table maps outside 0..n_ids")
    return _finalize(canvas, lut, np.int64(n_ids))


# --------------------------------------------------------------------------- PNG rows


@njit(cache=True, nogil=True)
def _png_up_rows(ids):
    h, w = ids.shape
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    for y in range(h):
        r = rows[y]
        cur = ids[y]
        r[0] = 2
        if y == 0:
            for x in range(w):
                v = cur[x]
                r[1 + 3 * x] = v & 255
                r[2 + 3 * x] = (v >> 8) & 255
                r[3 + 3 * x] = (v >> 16) & 255
        else:
            prev = ids[y - 1]
            for x in range(w):
                v = cur[x]
                u = prev[x]
                r[1 + 3 * x] = ((v & 255) - (u & 255)) & 255
                r[2 + 3 * x] = (((v >> 8) & 255) - ((u >> 8) & 255)) & 255
                r[3 + 3 * x] = (((v >> 16) & 255) - ((u >> 16) & 255)) & 255
    return rows


def png_up_rows(ids: np.ndarray) -> np.ndarray:
    """PNG scanlines (filter byte 2 = Up, then RGB residuals) of an (H, W) uint32 id map.

    >>> png_up_rows(np.array([[1], [3]], np.uint32)).tolist()
    [[2, 1, 0, 0], [2, 2, 0, 0]]
    """
    _check("ids", ids, np.uint32, 2)
    return _png_up_rows(ids)
