"""Numba kernels of ground-truth relation extraction (twins: ``_reference_relations``).

Instance masks are passed packed: ``boxes`` (N, 4) int64 ``[x0, y0, x1, y1)`` (half-open),
``offsets`` (N + 1,) int64 and ``masks`` flat uint8, the crop of instance k being
``masks[offsets[k]:offsets[k + 1]].reshape(y1 - y0, x1 - x0)`` (row-major).

* :func:`image_histograms` -> first unknown id of the map, pixel count per segment label,
  per-instance label histogram (label = position in the sorted segment ids + 1, 0 = VOID);
* :func:`pair_visibility` -> ``|I_i ∩ I_j|`` and the pixels of each overlap the map gives
  to each instance's own segment.
"""

from __future__ import annotations

import numpy as np

from .._runtime.ccall import borrow
from .._runtime.jit import njit


@njit
def _label_of(v, seg_ids):
    """Position + 1 of ``v`` in sorted ``seg_ids``; 0 for VOID; -1 when unknown."""
    if v == 0:
        return 0
    lo = 0
    hi = seg_ids.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if seg_ids[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    if lo < seg_ids.shape[0] and seg_ids[lo] == v:
        return lo + 1
    return -1


@njit
def _image_histograms(id_map, seg_ids, boxes, offsets, masks):
    h, w = id_map.shape
    n_lab = seg_ids.shape[0] + 1
    n = boxes.shape[0]
    areas = np.zeros(n_lab, np.int64)
    hist = np.zeros((n, n_lab), np.int64)
    bad = np.int64(-1)
    # unowned views of the arguments (the caller holds them): the slices below skip numba's
    # atomic reference count (rapkit._runtime.ccall.borrow)
    id_map, masks = borrow(id_map), borrow(masks)
    flat = id_map.reshape(-1)
    total = flat.shape[0]
    start = 0
    while start < total:  # runs of equal ids: one label lookup per run
        v = flat[start]
        stop = start + 1
        while stop + 16 <= total:  # whole blocks first: a loop LLVM vectorises
            blk = flat[stop : stop + 16]
            d = np.uint32(0)
            for t in range(16):
                d |= blk[t] ^ v
            if d != 0:
                break
            stop += 16
        while stop < total and flat[stop] == v:
            stop += 1
        lab = _label_of(np.int64(v), seg_ids)
        if lab < 0:
            if bad < 0:
                bad = np.int64(v)
        else:
            areas[lab] += stop - start
        start = stop
    if bad >= 0:
        return bad, areas, hist
    for k in range(n):
        x0 = boxes[k, 0]
        y0 = boxes[k, 1]
        bw = boxes[k, 2] - x0
        bh = boxes[k, 3] - y0
        base = offsets[k]
        # count in a register while the id stays the same (every id of the map is known
        # here); add the count to the histogram when the id changes
        last_v = np.int64(0)
        last_l = np.int64(0)
        cnt = np.int64(0)
        for yy in range(bh):
            row = id_map[y0 + yy, x0 : x0 + bw]
            mrow = masks[base + yy * bw : base + (yy + 1) * bw]
            for xx in range(bw):
                v = np.int64(row[xx])
                if v != last_v:
                    hist[k, last_l] += cnt
                    cnt = 0
                    last_v = v
                    last_l = _label_of(v, seg_ids)
                cnt += 1 if mrow[xx] else 0
        hist[k, last_l] += cnt
    return bad, areas, hist


@njit
def _pair_visibility(id_map, boxes, offsets, masks, own):
    id_map, masks = borrow(id_map), borrow(masks)  # slices without reference counting
    n = boxes.shape[0]
    ov = np.zeros((n, n), np.int64)
    vis = np.zeros((n, n), np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            x0 = max(boxes[i, 0], boxes[j, 0])
            y0 = max(boxes[i, 1], boxes[j, 1])
            x1 = min(boxes[i, 2], boxes[j, 2])
            y1 = min(boxes[i, 3], boxes[j, 3])
            if x0 >= x1 or y0 >= y1:
                continue
            wi = boxes[i, 2] - boxes[i, 0]
            wj = boxes[j, 2] - boxes[j, 0]
            cnt = np.int64(0)
            ci = np.int64(0)
            cj = np.int64(0)
            oi = own[i]
            oj = own[j]
            for y in range(y0, y1):
                ri = offsets[i] + (y - boxes[i, 1]) * wi - boxes[i, 0]
                rj = offsets[j] + (y - boxes[j, 1]) * wj - boxes[j, 0]
                mi = masks[ri + x0 : ri + x1]
                mj = masks[rj + x0 : rj + x1]
                row = id_map[y, x0:x1]
                for t in range(x1 - x0):
                    if mi[t] & mj[t]:
                        cnt += 1
                        v = np.int64(row[t])
                        if v == oi:
                            ci += 1
                        if v == oj:
                            cj += 1
            ov[i, j] = cnt
            ov[j, i] = cnt
            vis[i, j] = ci
            vis[j, i] = cj
    return ov, vis


@njit
def _match_weights(hist, areas, seg_areas, inst_cat, seg_cat, seg_crowd):
    n = hist.shape[0]
    n_seg = hist.shape[1] - 1
    wts = np.zeros((n, n_seg), np.float64)
    rc = np.zeros(n, np.int64)
    cc = np.zeros(n_seg, np.int64)
    for i in range(n):
        n_cat = 0
        for r in range(n):
            if inst_cat[r] == inst_cat[i]:
                n_cat += 1
        c = 0.5 / np.float64(n_cat + 1)
        for j in range(n_seg):
            if inst_cat[i] != seg_cat[j] or seg_crowd[j]:
                continue
            inter = np.float64(hist[i, j + 1])
            union = np.float64(areas[i] + seg_areas[j + 1]) - inter
            iou = inter / max(union, 1.0) if union > 0 else 0.0
            w = inter + c * iou
            wts[i, j] = w
            if w > 0:
                rc[i] += 1
                cc[j] += 1
    single_r = np.empty(n, np.int64)
    single_c = np.empty(n, np.int64)
    n_single = 0
    in_single_r = np.zeros(n, np.bool_)
    in_single_c = np.zeros(n_seg, np.bool_)
    for i in range(n):
        if rc[i] == 1:
            for j in range(n_seg):
                if wts[i, j] > 0:
                    if cc[j] == 1:
                        single_r[n_single] = i
                        single_c[n_single] = j
                        n_single += 1
                        in_single_r[i] = True
                        in_single_c[j] = True
                    break
    n_rr = 0
    for i in range(n):
        if rc[i] > 0 and not in_single_r[i]:
            n_rr += 1
    rest_r = np.empty(n_rr, np.int64)
    n_rr = 0
    for i in range(n):
        if rc[i] > 0 and not in_single_r[i]:
            rest_r[n_rr] = i
            n_rr += 1
    n_rc = 0
    for j in range(n_seg):
        if cc[j] > 0 and not in_single_c[j]:
            n_rc += 1
    rest_c = np.empty(n_rc, np.int64)
    n_rc = 0
    for j in range(n_seg):
        if cc[j] > 0 and not in_single_c[j]:
            rest_c[n_rc] = j
            n_rc += 1
    return wts, single_r[:n_single].copy(), single_c[:n_single].copy(), rest_r, rest_c


def match_weights(
    hist: np.ndarray,
    areas: np.ndarray,
    seg_areas: np.ndarray,
    inst_cat: np.ndarray,
    seg_cat: np.ndarray,
    seg_crowd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The matching weights of :func:`rapkit.core.relations.extract_relations` and the easy
    part of the matching: ``(wts (N, S), single_r, single_c, rest_r, rest_c)``.

    ``hist`` (N, S + 1) and ``seg_areas`` (S + 1,) as :func:`image_histograms` gives them,
    ``areas`` (N,) the instances' pixel counts, ``inst_cat`` (N,), ``seg_cat`` (S,) int64,
    ``seg_crowd`` (S,) bool. ``wts[i, j]`` is, for an instance and a non-crowd segment of the
    same category, ``inter + 0.5 / (n + 1) * IoU`` (``n``: the instances of that category;
    ``IoU`` 0 when the union is empty), else 0. ``single_r[k], single_c[k]`` (rows ascending)
    are the positive entries alone in both their row and their column; ``rest_r``,
    ``rest_c`` the other rows and columns with a positive entry.

    >>> w, sr, sc, rr, rc = match_weights(np.array([[0, 4, 0]]), np.array([4]), np.array([0, 4, 2]),
    ...     np.array([1]), np.array([1, 1]), np.array([False, False]))
    >>> w.tolist(), sr.tolist(), sc.tolist(), rr.tolist(), rc.tolist()
    ([[4.25, 0.0]], [0], [0], [], [])
    """
    return _match_weights(hist, areas, seg_areas, inst_cat, seg_cat, seg_crowd)


def _check(name: str, a: np.ndarray, dtypes: tuple, ndim: int) -> None:
    if not isinstance(a, np.ndarray) or a.dtype not in dtypes or a.ndim != ndim or not a.flags.c_contiguous:
        names = "/".join(np.dtype(d).name for d in dtypes)
        raise ValueError(f"{name} must be a C-contiguous {ndim}-D {names} array")


def _check_packed(id_map, boxes, offsets, masks) -> None:
    _check("id_map", id_map, (np.dtype(np.uint32),), 2)
    _check("boxes", boxes, (np.dtype(np.int64),), 2)
    _check("offsets", offsets, (np.dtype(np.int64),), 1)
    _check("masks", masks, (np.dtype(np.uint8),), 1)
    n = boxes.shape[0]
    if boxes.shape[1] != 4 or offsets.shape[0] != n + 1:
        raise ValueError("boxes must be (N, 4) and offsets (N + 1,)")
    h, w = id_map.shape
    if n:
        if (
            (boxes[:, 0] < 0).any()
            or (boxes[:, 1] < 0).any()
            or (boxes[:, 2] > w).any()
            or (boxes[:, 3] > h).any()
            or (boxes[:, 2] < boxes[:, 0]).any()
            or (boxes[:, 3] < boxes[:, 1]).any()
        ):
            raise ValueError("boxes must lie inside the id map")
        sizes = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        if offsets[0] != 0 or not np.array_equal(np.diff(offsets), sizes) or offsets[-1] != masks.shape[0]:
            raise ValueError("offsets do not match the box sizes and the masks length")


def image_histograms(
    id_map: np.ndarray,
    seg_ids: np.ndarray,
    boxes: np.ndarray,
    offsets: np.ndarray,
    masks: np.ndarray,
    *,
    check: bool = True,
) -> tuple[int, np.ndarray, np.ndarray]:
    """``(bad_id, areas (S+1,), hist (N, S+1))`` of one image.

    ``seg_ids``: sorted unique int64 segment ids. ``bad_id`` is the first (row-major) id of
    the map that is neither 0 nor a segment id, else -1 (then ``hist`` is all zero).
    ``areas[l]`` counts the map's pixels of label ``l``; ``hist[k, l]`` the pixels of
    instance k's mask with label ``l``. ``check=False`` skips the argument checks (for
    callers that packed the arrays themselves).

    >>> bad, areas, hist = image_histograms(np.array([[0, 5]], np.uint32), np.array([5]),
    ...     np.array([[1, 0, 2, 1]]), np.array([0, 1]), np.array([1], np.uint8))
    >>> int(bad), areas.tolist(), hist.tolist()
    (-1, [1, 1], [[0, 1]])
    """
    if check:
        _check_packed(id_map, boxes, offsets, masks)
        _check("seg_ids", seg_ids, (np.dtype(np.int64),), 1)
        if seg_ids.size > 1 and not (np.diff(seg_ids) > 0).all():
            raise ValueError("seg_ids must be sorted and unique")
    bad, areas, hist = _image_histograms(id_map, seg_ids, boxes, offsets, masks)
    return int(bad), areas, hist


def pair_visibility(
    id_map: np.ndarray,
    boxes: np.ndarray,
    offsets: np.ndarray,
    masks: np.ndarray,
    own: np.ndarray,
    *,
    check: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(ov, vis)``, both (N, N) int64: ``ov[i, j] = |I_i ∩ I_j|`` (symmetric, diagonal 0) and
    ``vis[i, j]`` = pixels of ``I_i ∩ I_j`` whose map id is ``own[i]`` (instance i's segment
    id, -1 = none). ``check=False`` skips the argument checks.

    >>> ov, vis = pair_visibility(np.array([[7, 7]], np.uint32), np.array([[0, 0, 2, 1], [1, 0, 2, 1]]),
    ...     np.array([0, 2, 3]), np.array([1, 1, 1], np.uint8), np.array([7, -1]))
    >>> ov.tolist(), vis.tolist()
    ([[0, 1], [1, 0]], [[0, 1], [0, 0]])
    """
    if check:
        _check_packed(id_map, boxes, offsets, masks)
        _check("own", own, (np.dtype(np.int64),), 1)
        if own.shape[0] != boxes.shape[0]:
            raise ValueError("own must have one entry per instance")
    return _pair_visibility(id_map, boxes, offsets, masks, own)


__all__ = ["image_histograms", "match_weights", "pair_visibility"]
