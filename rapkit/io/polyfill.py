"""Polygon masks as OpenCV's ``cv2.fillPoly`` draws them (integer vertices, 8-connected
outline, colour 1): the rasterisation of the authors' relation script, which fills each
polygon of an annotation with ``cv2.fillPoly`` after truncating its coordinates to int.

OpenCV's rule for a polygon with integer vertices (``shift=0``, ``LINE_8``), re-written here
in numpy (no OpenCV dependency), is the union of

* the **outline**: every edge, from the previous vertex to the next (the last vertex to the
  first included), drawn as an 8-connected Bresenham line from its left end (the end with
  the smaller x; a vertical edge from its first end), first clipped to the image with
  integer arithmetic (divisions truncated toward zero) when an end lies outside it;
* the **scanline fill**: each non-horizontal edge covers rows ``y0 <= y < y1`` with a
  16.16 fixed-point x that starts at its upper end and steps by
  ``trunc(((x_end - x_start) << 16) / (y_end - y_start))`` per row; on each row the active
  edges' x values, sorted, are paired in turn, and a pair ``(a, b)`` paints the pixels
  ``ceil(a / 65536) <= x <= floor(b / 65536)`` (even-odd rule). A polygon with fewer than
  two non-horizontal edges gets its outline only.

``tests/io/test_polyfill.py`` compares it with ``cv2.fillPoly`` on random polygons where
OpenCV is installed.

>>> fill_polygon_opencv([(0, 0), (3, 0), (3, 2), (0, 2)], 4, 5).astype(int).tolist()
[[1, 1, 1, 1, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SHIFT = 16
_ONE = 1 << _SHIFT


def _tdiv(a: int, b: int) -> int:
    """Integer division truncated toward zero (C's ``/``)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _clip_line(w: int, h: int, x1: int, y1: int, x2: int, y2: int) -> tuple[int, int, int, int] | None:
    """The segment clipped to the image (outcodes, C integer arithmetic); None when outside."""
    right, bottom = w - 1, h - 1

    def code(x: int, y: int) -> int:
        return (x < 0) + (x > right) * 2 + (y < 0) * 4 + (y > bottom) * 8

    c1, c2 = code(x1, y1), code(x2, y2)
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1 += _tdiv((a - y1) * (x2 - x1), y2 - y1)
            y1 = a
            c1 = (x1 < 0) + (x1 > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2 += _tdiv((a - y2) * (x2 - x1), y2 - y1)
            y2 = a
            c2 = (x2 < 0) + (x2 > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1 += _tdiv((a - x1) * (y2 - y1), x2 - x1)
                x1 = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2 += _tdiv((a - x2) * (y2 - y1), x2 - x1)
                x2 = a
                c2 = 0
    if c1 | c2:
        return None
    return x1, y1, x2, y2


def _draw_line(out: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> None:
    """An 8-connected line from the left end, clipped to ``out`` first when it leaves it."""
    h, w = out.shape
    if not (0 <= x1 < w and 0 <= x2 < w and 0 <= y1 < h and 0 <= y2 < h):
        if w <= 0 or h <= 0:
            return
        clipped = _clip_line(w, h, x1, y1, x2, y2)
        if clipped is None:
            return
        x1, y1, x2, y2 = clipped
    if x2 < x1:  # from the left end
        x1, y1, x2, y2 = x2, y2, x1, y1
    dx, dy = x2 - x1, y2 - y1
    sy = -1 if dy < 0 else 1
    dy = abs(dy)
    if dy > dx:  # y is the major axis
        a, b, major, minor = dy, dx, (0, sy), (1, 0)
    else:
        a, b, major, minor = dx, dy, (1, 0), (0, sy)
    # Bresenham from (x1, y1), error a - 2b: the minor coordinate of step k is
    # ceil((2kb - a) / 2a) (a half step rounds down), what the loop over the error gives
    k = np.arange(a + 1, dtype=np.int64)
    m = -((a - 2 * k * b) // (2 * a)) if a else np.zeros(1, np.int64)
    xs = x1 + k * major[0] + m * minor[0]
    ys = y1 + k * major[1] + m * minor[1]
    out[ys, xs] = True


def fill_polygon_opencv(points: Sequence[Sequence[int]], height: int, width: int) -> np.ndarray:
    """(height, width) bool mask of one polygon with integer vertices ``[(x, y), ...]``, as
    ``cv2.fillPoly(img, [np.array(points)], 1)`` paints it (module docstring)."""
    out = np.zeros((height, width), bool)
    pts = [(int(x), int(y)) for x, y in points]
    n = len(pts)
    if n == 0 or height <= 0 or width <= 0:
        return out
    edges = []  # (y0, y1, x0 fixed-point, dx fixed-point)
    for i in range(n):
        (xa, ya), (xb, yb) = pts[i - 1], pts[i]
        _draw_line(out, xa, ya, xb, yb)
        if ya == yb:
            continue
        dx = _tdiv((xb - xa) << _SHIFT, yb - ya)
        edges.append((ya, yb, xa << _SHIFT, dx) if ya < yb else (yb, ya, xb << _SHIFT, dx))
    if len(edges) < 2:
        return out
    e = np.array(edges, np.int64)
    y0, y1, x0, dx = e[:, 0], e[:, 1], e[:, 2], e[:, 3]
    x_end = x0 + (y1 - y0) * dx
    if (
        y1.max() < 0
        or y0.min() >= height
        or max(x0.max(), x_end.max()) < 0
        or min(x0.min(), x_end.min()) >= (width << _SHIFT)
    ):
        return out
    # every (row, x) of every edge on the rows it covers, rows clipped to the image
    lo, hi = np.maximum(y0, 0), np.minimum(y1, height)
    counts = np.maximum(hi - lo, 0)
    if counts.sum() == 0:
        return out
    k = np.repeat(np.arange(len(edges)), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    rows = lo[k] + (np.arange(k.size) - start)
    xs = x0[k] + (rows - y0[k]) * dx[k]
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    # pair the sorted x values row by row (each row holds an even count)
    first = np.ones(rows.size, bool)
    first[1:] = rows[1:] != rows[:-1]
    rank = np.arange(rows.size) - np.maximum.accumulate(np.where(first, np.arange(rows.size), 0))
    left = np.flatnonzero(rank % 2 == 0)
    left = left[left + 1 < rows.size]
    left = left[rows[left + 1] == rows[left]]
    r = rows[left]
    xa = (xs[left] + _ONE - 1) >> _SHIFT
    xb = xs[left + 1] >> _SHIFT
    keep = (xa < width) & (xb >= 0)
    r, xa, xb = r[keep], np.maximum(xa[keep], 0), np.minimum(xb[keep], width - 1)
    keep = xa <= xb
    r, xa, xb = r[keep], xa[keep], xb[keep]
    if r.size:  # the spans, as a running sum over their window
        r0, r1, c0, c1 = int(r.min()), int(r.max()) + 1, int(xa.min()), int(xb.max()) + 1
        diff = np.zeros((r1 - r0, c1 - c0 + 1), np.int32)
        np.add.at(diff, (r - r0, xa - c0), 1)
        np.add.at(diff, (r - r0, xb + 1 - c0), -1)
        out[r0:r1, c0:c1] |= np.cumsum(diff[:, :-1], axis=1) > 0
    return out


def fill_polygons_opencv(segmentation: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """The union of an annotation's polygons (flat ``[x0, y0, x1, y1, ...]`` lists), each
    with its coordinates truncated to int and filled by :func:`fill_polygon_opencv`: the
    authors' ``cv2.fillPoly(img, np.array([pts]).astype(np.int), 1)`` per polygon.

    >>> int(fill_polygons_opencv([[0.9, 0.9, 4.9, 0.9, 4.9, 4.9, 0.9, 4.9]], 8, 8).sum())
    25
    """
    out = np.zeros((height, width), bool)
    for poly in segmentation:
        pts = [(int(poly[2 * i]), int(poly[2 * i + 1])) for i in range(len(poly) // 2)]
        out |= fill_polygon_opencv(pts, height, width)
    return out


__all__ = ["fill_polygon_opencv", "fill_polygons_opencv"]
