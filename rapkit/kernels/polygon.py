"""COCO polygons -> box-cropped masks, as pycocotools rasterises them (numba; twin:
``_reference_polygon``).

pycocotools' ``frPyObjects`` turns a polygon into an RLE with ``rleFrPoly`` (its C file
``maskApi.c``); an annotation of several polygons is their union (``merge``). This kernel
rasterises the same way, bit for bit, without the GIL, and writes the union straight into the
annotation's box crop (the layout of :mod:`rapkit.kernels.rle`: x-major crops, boxes
``[x0, x1, y0, y1)``). The rule, per polygon of ``k`` points ``(x, y)`` on an ``h x w`` image:

1. **Upsample.** Each vertex becomes ``(int(5x + .5), int(5y + .5))`` (C truncation toward
   zero); the polygon is closed. Each edge is walked from its end with the smaller major
   coordinate (the major axis: the longer of ``|dx|``, ``|dy|``; ``x`` on a tie), one point per
   major step ``t``, the minor coordinate ``int(start + s * t + .5)`` with the slope ``s`` in
   double precision; the points keep the edge's own direction. An edge of length 0 gives one
   point whose ``y`` is C's ``(int)NaN`` on x86, ``INT_MIN`` (what pycocotools computes there).
2. **Column crossings.** Between consecutive points whose upsampled ``x`` differs, the column
   ``xd = ((u if u < u_prev else u - 1) + .5) / 5 - .5`` counts when it is a whole number in
   ``[0, w - 1]``; its row is ``ceil(clamp((min(v, v_prev) + .5) / 5 - .5, 0, h))``.
3. **Runs.** The crossings' column-major indices ``x * h + y`` and ``h * w``, sorted, become the
   RLE counts (differences; a zero difference merges its neighbours): the runs alternate
   0, 1, 0, ... from the first pixel.

:func:`decode_polygons` does this for every polygon of every annotation of one image and ORs
each annotation's polygons into its crop (the tight box of the union).

>>> import numpy as np
>>> boxes, areas, offs, flat, status = decode_polygons(
...     np.array([1.0, 1.0, 4.0, 1.0, 4.0, 3.0]), np.array([0, 6]), np.array([0, 1]), 5, 6)
>>> boxes.tolist(), areas.tolist()
([[2, 4, 1, 3]], [3])
"""

from __future__ import annotations

import itertools

import numpy as np

from .._runtime.ccall import borrow
from .._runtime.jit import njit

#: C's ``(int)NaN`` on x86 (cvttsd2si's "integer indefinite"): the y of a zero-length edge
INT_MIN = -(1 << 31)
#: the largest coordinate taken (5x it must fit pycocotools' C int)
_LIMIT = 1e8


@njit
def _bound(xy, start, k):
    """Upper bound of the number of RLE counts of the polygon ``xy[start:start + 2k]``."""
    m = np.int64(0)
    x0 = np.int64(5.0 * xy[start] + 0.5)
    y0 = np.int64(5.0 * xy[start + 1] + 0.5)
    xp = x0
    yp = y0
    for j in range(1, k + 1):
        if j < k:
            xc = np.int64(5.0 * xy[start + 2 * j] + 0.5)
            yc = np.int64(5.0 * xy[start + 2 * j + 1] + 0.5)
        else:
            xc = x0
            yc = y0
        m += max(abs(xc - xp), abs(yc - yp)) + 1
        xp = xc
        yp = yc
    return m + 2


@njit(inline="always")
def _crossing(u, v, up, vp, h, fw, fh, a, n):
    """Step 2 of the rule for consecutive points ``(up, vp)``, ``(u, v)``: appends the
    crossing's column-major index to ``a``; returns the new count."""
    if u == up:
        return n
    xd = np.float64(u if u < up else u - 1)
    xd = (xd + 0.5) / 5.0 - 0.5
    if np.floor(xd) != xd or xd < 0 or xd > fw:
        return n
    yd = np.float64(v if v < vp else vp)
    yd = (yd + 0.5) / 5.0 - 0.5
    if yd < 0:
        yd = 0.0
    elif yd > fh:
        yd = fh
    yd = np.ceil(yd)
    a[n] = np.int64(xd) * h + np.int64(yd)
    return n + 1


@njit
def _poly_counts(xy, start, k, h, w, out, pos):
    """pycocotools ``rleFrPoly`` of the polygon ``xy[start:start + 2k]``: its RLE counts are
    written to ``out[pos:]``; returns how many. The upsampled boundary points are walked in
    pycocotools' order without storing them (each crossing needs only the point before)."""
    x = np.empty(k + 1, np.int64)
    y = np.empty(k + 1, np.int64)
    for j in range(k):
        x[j] = np.int64(5.0 * xy[start + 2 * j] + 0.5)
        y[j] = np.int64(5.0 * xy[start + 2 * j + 1] + 0.5)
    x[k] = x[0]
    y[k] = y[0]
    m = 0
    for j in range(k):
        m += max(abs(x[j] - x[j + 1]), abs(y[j] - y[j + 1])) + 1
    a = np.empty(m + 1, np.int64)
    n = 0
    fw = np.float64(w - 1)
    fh = np.float64(h)
    first = True
    up = np.int64(0)
    vp = np.int64(0)
    for j in range(k):
        xs = x[j]
        xe = x[j + 1]
        ys = y[j]
        ye = y[j + 1]
        dx = abs(xe - xs)
        dy = abs(ys - ye)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe = xe, xs
            ys, ye = ye, ys
        if dx >= dy:
            if dx == 0:  # a zero-length edge: C computes (int)(ys + NaN * 0 + .5)
                u = xs
                v = np.int64(INT_MIN)
                if not first:
                    n = _crossing(u, v, up, vp, h, fw, fh, a, n)
                first = False
                up = u
                vp = v
                continue
            s = np.float64(ye - ys) / np.float64(dx)
            for d in range(dx + 1):
                t = dx - d if flip else d
                u = t + xs
                v = np.int64(np.float64(ys) + s * np.float64(t) + 0.5)
                if not first:
                    n = _crossing(u, v, up, vp, h, fw, fh, a, n)
                first = False
                up = u
                vp = v
        else:
            s = np.float64(xe - xs) / np.float64(dy)
            for d in range(dy + 1):
                t = dy - d if flip else d
                v = t + ys
                u = np.int64(np.float64(xs) + s * np.float64(t) + 0.5)
                if not first:
                    n = _crossing(u, v, up, vp, h, fw, fh, a, n)
                first = False
                up = u
                vp = v
    a[n] = h * w
    n += 1
    a = np.sort(a[:n])
    p = np.int64(0)
    for j in range(n):
        t = a[j]
        a[j] -= p
        p = t
    out[pos] = a[0]
    c = 1
    j = 1
    while j < n:
        if a[j] > 0:
            out[pos + c] = a[j]
            c += 1
            j += 1
        else:
            j += 1
            if j < n:
                out[pos + c - 1] += a[j]
                j += 1
    return c


@njit
def _decode_polygons(coords, poly_offs, ann_polys, h, w):
    n = ann_polys.shape[0] - 1
    n_poly = poly_offs.shape[0] - 1
    cnt_offs = np.zeros(n_poly + 1, np.int64)
    total = np.int64(0)
    for p in range(n_poly):
        total += _bound(coords, poly_offs[p], (poly_offs[p + 1] - poly_offs[p]) // 2)
    counts = np.empty(total, np.int64)
    for p in range(n_poly):
        k = (poly_offs[p + 1] - poly_offs[p]) // 2
        cnt_offs[p + 1] = cnt_offs[p] + _poly_counts(coords, poly_offs[p], k, h, w, counts, cnt_offs[p])
    boxes = np.zeros((n, 4), np.int64)
    areas = np.zeros(n, np.int64)
    status = np.zeros(n, np.int64)
    offs = np.zeros(n + 1, np.int64)
    for a in range(n):  # the tight box of each annotation's union
        x0 = w
        x1 = -1
        y0 = h
        y1 = -1
        for p in range(ann_polys[a], ann_polys[a + 1]):
            s = np.int64(0)
            for r in range(cnt_offs[p + 1] - cnt_offs[p]):
                c = counts[cnt_offs[p] + r]
                if r % 2 == 1 and c > 0:
                    e = s + c - 1
                    xa = s // h
                    xb = e // h
                    x0 = min(x0, xa)
                    x1 = max(x1, xb)
                    if xb > xa:
                        y0 = 0
                        y1 = h - 1
                    else:
                        y0 = min(y0, s % h)
                        y1 = max(y1, e % h)
                s += c
        if x1 >= 0:
            boxes[a, 0] = x0
            boxes[a, 1] = x1 + 1
            boxes[a, 2] = y0
            boxes[a, 3] = y1 + 1
        offs[a + 1] = offs[a] + (boxes[a, 1] - boxes[a, 0]) * (boxes[a, 3] - boxes[a, 2])
    flat = np.zeros(offs[n], np.uint8)
    fv = borrow(flat)  # its slices below skip numba's atomic reference count; flat is returned
    for a in range(n):
        x0 = boxes[a, 0]
        y0 = boxes[a, 2]
        bh = boxes[a, 3] - y0
        base = offs[a]
        for p in range(ann_polys[a], ann_polys[a + 1]):
            s = np.int64(0)
            for r in range(cnt_offs[p + 1] - cnt_offs[p]):
                c = counts[cnt_offs[p] + r]
                if r % 2 == 1 and c > 0:
                    q = s
                    e = s + c
                    while q < e:
                        xx = q // h
                        yy = q - xx * h
                        stop = min(e - q, h - yy)
                        row = fv[base + (xx - x0) * bh + (yy - y0) : base + (xx - x0) * bh + (yy - y0) + stop]
                        for t in range(stop):
                            row[t] = 1
                        q += stop
                s += c
        area = np.int64(0)
        crop = fv[offs[a] : offs[a + 1]]
        for t in range(crop.shape[0]):
            area += crop[t]
        areas[a] = area
    return boxes, areas, offs, flat, status


@njit
def _gather_rows(boxes_a, offs_a, flat_a, boxes_b, offs_b, flat_b, src, idx):
    # unowned views (the caller holds the arguments; flat is returned): picking a set and
    # slicing a row skip numba's atomic reference count (rapkit._runtime.ccall.borrow)
    boxes_a, flat_a, boxes_b, flat_b = borrow(boxes_a), borrow(flat_a), borrow(boxes_b), borrow(flat_b)
    n = src.shape[0]
    boxes = np.zeros((n, 4), np.int64)
    offsets = np.zeros(n + 1, np.int64)
    for k in range(n):
        bx = boxes_a if src[k] == 0 else boxes_b
        i = idx[k]
        boxes[k, 0] = bx[i, 0]
        boxes[k, 1] = bx[i, 2]
        boxes[k, 2] = bx[i, 1]
        boxes[k, 3] = bx[i, 3]
        offsets[k + 1] = offsets[k] + (bx[i, 1] - bx[i, 0]) * (bx[i, 3] - bx[i, 2])
    flat = np.empty(offsets[n], np.uint8)
    fv = borrow(flat)
    for k in range(n):
        i = idx[k]
        o = offs_a[i] if src[k] == 0 else offs_b[i]
        fl = flat_a if src[k] == 0 else flat_b
        bw = boxes[k, 2] - boxes[k, 0]
        bh = boxes[k, 3] - boxes[k, 1]
        base = offsets[k]
        for yy in range(bh):
            row = fv[base + yy * bw : base + (yy + 1) * bw]
            for xx in range(bw):
                row[xx] = fl[o + xx * bh + yy]
    return boxes, offsets, flat


def gather_rows(first: tuple, second: tuple, src: np.ndarray, idx: np.ndarray, *, check: bool = True):
    """Pick masks out of two decoded sets (``(boxes, areas, offsets, flat, ...)`` as
    :func:`decode_polygons` and :func:`rapkit.kernels.rle.decode_rles` return them, x-major
    crops) and lay them out row-major, as :func:`rapkit.core.relations.pack_masks` does: mask
    ``k`` is mask ``idx[k]`` of ``first`` (``src[k] == 0``) or of ``second``. Returns
    ``(boxes (N, 4) int64 [x0, y0, x1, y1), offsets (N + 1,), flat uint8)``. ``check=False``
    skips the check of ``src`` and ``idx``.

    >>> d = decode_polygons(*pack_polygons([[[0, 0, 2, 0, 2, 1]]]), 3, 3)
    >>> [a.tolist() for a in gather_rows(d, d, np.array([0]), np.array([0]))]
    [[[1, 0, 2, 1]], [0, 1], [1]]
    """
    src = np.ascontiguousarray(src, np.int64)
    idx = np.ascontiguousarray(idx, np.int64)
    if not check:  # src and idx made by the caller from the sets' own sizes
        (ba, _, oa, fa), (bb, _, ob, fb) = first[:4], second[:4]
        return _gather_rows(ba, oa, fa, bb, ob, fb, src, idx)
    lim = np.where(src == 0, first[0].shape[0], second[0].shape[0])
    if (
        src.shape != idx.shape
        or src.ndim != 1
        or ((src != 0) & (src != 1)).any()
        or (idx < 0).any()
        or (idx >= lim).any()
    ):
        raise ValueError("src must be 0 or 1 and idx a mask of that set, one each per mask")
    (ba, _, oa, fa), (bb, _, ob, fb) = first[:4], second[:4]
    return _gather_rows(ba, oa, fa, bb, ob, fb, src, idx)


def pack_polygons(segmentations: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack annotations' polygon lists (``[[x0, y0, x1, y1, ...], ...]`` each) for
    :func:`decode_polygons`: ``(coords float64, poly_offsets (P + 1,), ann_polys (N + 1,))``.

    >>> [a.tolist() for a in pack_polygons([[[0, 0, 2, 0, 2, 2]], [[1, 1, 3, 1, 3, 3], [0, 0, 1, 0, 1, 1]]])]
    [[0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0], [0, 6, 12, 18], [0, 1, 3]]
    """
    polys = [p for seg in segmentations for p in seg]
    lens = np.fromiter(map(len, polys), np.int64, len(polys))
    poly_offs = np.zeros(len(polys) + 1, np.int64)
    np.cumsum(lens, out=poly_offs[1:])
    ann_polys = np.zeros(len(segmentations) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, segmentations), np.int64, len(segmentations)), out=ann_polys[1:])
    coords = np.fromiter(itertools.chain.from_iterable(polys), np.float64, int(poly_offs[-1]))
    return coords, poly_offs, ann_polys


def decode_polygons(
    coords: np.ndarray, poly_offsets: np.ndarray, ann_polys: np.ndarray, height: int, width: int, *, check: bool = True
):
    """Rasterise packed polygons (:func:`pack_polygons`) as pycocotools does and crop each
    annotation's union to its box: ``(boxes (N, 4) int64 [x0, x1, y0, y1), areas (N,),
    offsets (N + 1,), flat uint8 x-major crops, status (N,) all 0)``, the layout of
    :func:`rapkit.kernels.rle.decode_rles` (equal to it on ``frPyObjects`` + ``merge`` of the
    same polygons). Every polygon needs at least one point; coordinates must be finite and
    bounded (``rapkit.io.coco.validate_segmentation`` checks both; this function checks them
    too, always). ``check=False`` skips the checks of the arrays' layout (for arrays made by
    :func:`pack_polygons`).
    """
    if not check:
        if coords.size and not (np.abs(coords) <= _LIMIT).all():
            raise ValueError(f"polygon coordinates must be finite and within +-{_LIMIT:g}")
        return _decode_polygons(coords, poly_offsets, ann_polys, np.int64(height), np.int64(width))
    for name, a, dt in (("coords", coords, np.float64), ("poly_offsets", poly_offsets, np.int64),
                        ("ann_polys", ann_polys, np.int64)):  # fmt: skip
        if not isinstance(a, np.ndarray) or a.dtype != dt or a.ndim != 1 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous 1-D {np.dtype(dt).name} array")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if poly_offsets.size < 1 or ann_polys.size < 1 or ann_polys[0] != 0 or ann_polys[-1] != poly_offsets.size - 1:
        raise ValueError("ann_polys must index poly_offsets")
    if poly_offsets[0] != 0 or poly_offsets[-1] != coords.size or (np.diff(poly_offsets) < 2).any():
        raise ValueError("poly_offsets must index coords, at least one point per polygon")
    if (np.diff(poly_offsets) % 2).any() or (np.diff(ann_polys) < 0).any():
        raise ValueError("each polygon needs an even number of coordinates")
    if coords.size and not (np.abs(coords) <= _LIMIT).all():  # NaN fails too
        raise ValueError(f"polygon coordinates must be finite and within +-{_LIMIT:g}")
    return _decode_polygons(coords, poly_offsets, ann_polys, np.int64(height), np.int64(width))


__all__ = ["INT_MIN", "decode_polygons", "gather_rows", "pack_polygons"]
