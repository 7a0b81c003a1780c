"""Plain-numpy twin of :mod:`rapkit.kernels.polygon` (same arguments, same results): each
polygon's ``rleFrPoly`` counts in Python, decoded full-image, ORed, then cropped."""

from __future__ import annotations

import math

import numpy as np

INT_MIN = -(1 << 31)


def ref_poly_counts(xy: np.ndarray, h: int, w: int) -> list[int]:
    """pycocotools ``rleFrPoly`` of one polygon (flat ``[x0, y0, x1, y1, ...]``)."""
    k = len(xy) // 2
    x = [int(5.0 * float(xy[2 * j]) + 0.5) for j in range(k)]
    y = [int(5.0 * float(xy[2 * j + 1]) + 0.5) for j in range(k)]
    x.append(x[0])
    y.append(y[0])
    u: list[int] = []
    v: list[int] = []
    for j in range(k):
        xs, xe, ys, ye = x[j], x[j + 1], y[j], y[j + 1]
        dx, dy = abs(xe - xs), abs(ys - ye)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe, ys, ye = xe, xs, ye, ys
        if dx >= dy:
            if dx == 0:  # C's (int)NaN on x86
                u.append(xs)
                v.append(INT_MIN)
                continue
            s = (ye - ys) / dx
            for d in range(dx + 1):
                t = dx - d if flip else d
                u.append(t + xs)
                v.append(int(ys + s * t + 0.5))
        else:
            s = (xe - xs) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                v.append(t + ys)
                u.append(int(xs + s * t + 0.5))
    a = []
    for j in range(1, len(u)):
        if u[j] == u[j - 1]:
            continue
        xd = ((u[j] if u[j] < u[j - 1] else u[j] - 1) + 0.5) / 5.0 - 0.5
        if math.floor(xd) != xd or xd < 0 or xd > w - 1:
            continue
        yd = (min(v[j], v[j - 1]) + 0.5) / 5.0 - 0.5
        yd = math.ceil(min(max(yd, 0.0), float(h)))
        a.append(int(xd) * h + yd)
    a.append(h * w)
    a.sort()
    diffs = [a[0]] + [a[j] - a[j - 1] for j in range(1, len(a))]
    out = [diffs[0]]
    j = 1
    while j < len(diffs):
        if diffs[j] > 0:
            out.append(diffs[j])
            j += 1
        else:
            j += 1
            if j < len(diffs):
                out[-1] += diffs[j]
                j += 1
    return out


def ref_decode_polygons(coords, poly_offsets, ann_polys, height, width):
    """Twin of ``decode_polygons``."""
    n = len(ann_polys) - 1
    boxes = np.zeros((n, 4), np.int64)
    areas = np.zeros(n, np.int64)
    offs = np.zeros(n + 1, np.int64)
    crops = []
    for a in range(n):
        full = np.zeros(height * width, bool)  # column-major
        for p in range(int(ann_polys[a]), int(ann_polys[a + 1])):
            counts = ref_poly_counts(coords[poly_offsets[p] : poly_offsets[p + 1]], height, width)
            vals = np.arange(len(counts)) % 2 == 1
            full |= np.repeat(vals, counts)
        m = full.reshape(width, height)  # [x, y]
        xs, ys = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if xs.size:
            boxes[a] = (xs[0], xs[-1] + 1, ys[0], ys[-1] + 1)
            crop = m[xs[0] : xs[-1] + 1, ys[0] : ys[-1] + 1]
            areas[a] = int(crop.sum())
            crops.append(crop.astype(np.uint8).ravel())
        offs[a + 1] = offs[a] + (boxes[a, 1] - boxes[a, 0]) * (boxes[a, 3] - boxes[a, 2])
    flat = np.concatenate(crops) if crops else np.zeros(0, np.uint8)
    return boxes, areas, offs, flat, np.zeros(n, np.int64)


def ref_gather_rows(first, second, src, idx):
    """Twin of ``gather_rows``."""
    boxes, crops = [], []
    for which, i in zip(src, idx):
        b, _, o, f = (first if which == 0 else second)[:4]
        x0, x1, y0, y1 = (int(v) for v in b[i])
        boxes.append((x0, y0, x1, y1))
        crops.append(f[o[i] : o[i + 1]].reshape(x1 - x0, y1 - y0).T.ravel())
    offsets = np.zeros(len(crops) + 1, np.int64)
    offsets[1:] = np.cumsum([c.size for c in crops])
    flat = np.concatenate(crops).astype(np.uint8) if crops else np.zeros(0, np.uint8)
    return np.array(boxes, np.int64).reshape(-1, 4), offsets, flat


__all__ = ["ref_decode_polygons", "ref_gather_rows", "ref_poly_counts"]
