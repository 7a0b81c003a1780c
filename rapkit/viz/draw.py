"""Drawing primitives on numpy arrays: the pixel operations pictures are made of.

* pixels: :func:`blend` (colours over an image at an opacity), :func:`grey_image`,
  :func:`dim` (a quiet grey background);
* masks: :func:`contour_mask` (1-px boundaries between segment ids), :func:`dilate`,
  :func:`erode`, :func:`arrow_mask`, :func:`mask_centroid`;
* size: :func:`fit_size`, :func:`resize_nearest` (id maps and masks).

Conventions: images are ``(H, W, 3)`` uint8 RGB; id maps ``(H, W)`` integers, 0 = VOID;
points are ``(x, y)`` in pixel coordinates (pixel centres at integers).

>>> ids = np.array([[1, 1, 2], [1, 1, 2]], np.uint32)
>>> contour_mask(ids).astype(int).tolist()
[[0, 1, 0], [0, 1, 0]]
"""

from __future__ import annotations

import math

import numpy as np

from .palette import DIM_MAX, GREY_BACKGROUND, RGB

# --------------------------------------------------------------------------- pixels


def blend(image: np.ndarray, colors: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """``image`` with ``colors`` laid on the pixels of ``mask`` at opacity ``alpha``
    (``alpha == 1``: exactly ``colors``; ``0``: the image).

    >>> blend(np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 200, np.uint8), np.ones((1, 1), bool), 0.5).tolist()
    [[[100, 100, 100]]]
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = np.asarray(image, dtype=np.uint8)
    m = np.asarray(mask, bool)[..., None]
    if alpha >= 1.0:
        return np.where(m, colors, img).astype(np.uint8, copy=False)
    if alpha <= 0.0:
        return img.copy()
    base = img.astype(np.float32)
    mixed = base + np.float32(alpha) * (np.asarray(colors, np.float32) - base)
    mixed = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return np.where(m, mixed, img)


def grey_image(shape: tuple[int, int], color: RGB = GREY_BACKGROUND) -> np.ndarray:
    """A plain (H, W, 3) background."""
    out = np.empty((shape[0], shape[1], 3), np.uint8)
    out[...] = color
    return out


def dim(image: np.ndarray, top: int = DIM_MAX) -> np.ndarray:
    """The image in grey levels scaled into ``[0, top]`` (a quiet background)."""
    img = np.asarray(image, np.float32)
    lum = 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    g = np.clip(np.rint(lum * (top / 255.0)), 0, top).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


# --------------------------------------------------------------------------- masks


def contour_mask(id_map: np.ndarray) -> np.ndarray:
    """Pixels on a boundary between different segment ids (VOID included): pixel ``(y, x)``
    is marked when its id differs from the id of its right neighbour ``(y, x+1)`` or of the
    pixel below ``(y+1, x)``. Every boundary is one pixel wide, drawn on its upper/left side.

    >>> contour_mask(np.array([[1, 2], [1, 1]])).astype(int).tolist()
    [[1, 1], [0, 0]]
    """
    ids = np.asarray(id_map)
    out = np.zeros(ids.shape, bool)
    out[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    out[:-1, :] |= ids[:-1, :] != ids[1:, :]
    return out


def dilate(mask: np.ndarray, r: int = 1) -> np.ndarray:
    """Binary dilation with a (2r+1)-square (numpy shifts)."""
    m = np.asarray(mask, bool)
    out = m.copy()
    h, w = m.shape
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx == 0 and dy == 0:
                continue
            ys = slice(max(dy, 0), h + min(dy, 0))
            yd = slice(max(-dy, 0), h + min(-dy, 0))
            xs = slice(max(dx, 0), w + min(dx, 0))
            xd = slice(max(-dx, 0), w + min(-dx, 0))
            out[yd, xd] |= m[ys, xs]
    return out


def erode(mask: np.ndarray) -> np.ndarray:
    """Binary erosion with a 3x3 square: the mask's pixels whose neighbours inside the array
    are all in the mask (the border of the array does not erode).

    >>> erode(np.array([[1, 1, 1, 0]], bool)).astype(int).tolist()
    [[1, 1, 0, 0]]
    """
    return ~dilate(~np.asarray(mask, bool), 1)


def mask_centroid(mask: np.ndarray, x0: int = 0, y0: int = 0) -> tuple[float, float]:
    """``(x, y)`` mean of the mask's pixels (offset by the crop origin ``x0, y0``).

    >>> mask_centroid(np.array([[0, 1, 1]], bool), 10, 5)
    (11.5, 5.0)
    """
    ys, xs = np.nonzero(np.asarray(mask))
    if ys.size == 0:
        raise ValueError("empty mask has no centroid")
    return (float(xs.mean()) + x0, float(ys.mean()) + y0)


def arrow_mask(
    shape: tuple[int, int],
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    width: float = 3.0,
    head_length: float = 12.0,
    head_width: float = 10.0,
) -> np.ndarray:
    """Pixels of an arrow from ``start`` to ``end`` (``(x, y)``): a shaft ``width`` pixels wide
    and a triangular head whose tip is at ``end`` (``head_length`` long, ``head_width``
    wide at its base; shortened for short arrows). Every pixel lies within
    ``max(width, head_width) / 2`` of the segment start-end and between its two ends.

    >>> m = arrow_mask((20, 40), (5, 10), (35, 10))
    >>> bool(m[10, 5]), bool(m[10, 34]), bool(m[0, 0])
    (True, True, False)
    """
    h, w = shape
    out = np.zeros((h, w), bool)
    sx, sy = float(start[0]), float(start[1])
    ex, ey = float(end[0]), float(end[1])
    length = math.hypot(ex - sx, ey - sy)
    reach = max(width, head_width) / 2.0 + 1.0
    x0 = max(int(math.floor(min(sx, ex) - reach)), 0)
    x1 = min(int(math.ceil(max(sx, ex) + reach)) + 1, w)
    y0 = max(int(math.floor(min(sy, ey) - reach)), 0)
    y1 = min(int(math.ceil(max(sy, ey) + reach)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return out
    yy, xx = np.mgrid[y0:y1, x0:x1]
    xs = xx.astype(np.float64)
    ys = yy.astype(np.float64)
    if length == 0:
        out[y0:y1, x0:x1] = np.hypot(xs - sx, ys - sy) <= width / 2.0
        return out
    hl = min(head_length, 0.6 * length)
    ux, uy = (ex - sx) / length, (ey - sy) / length
    # along-axis coordinate s (0 at start, length at the tip) and across-axis distance
    s = (xs - sx) * ux + (ys - sy) * uy
    across = np.abs(-(xs - sx) * uy + (ys - sy) * ux)
    base = length - hl
    shaft = (s >= 0) & (s <= base) & (across <= width / 2.0)
    # head: a triangle from half-width head_width/2 at s = base to 0 at the tip
    head = (s >= base) & (s <= length) & (across <= (head_width / 2.0) * (length - s) / max(hl, 1e-9))
    out[y0:y1, x0:x1] = shaft | head
    return out


# --------------------------------------------------------------------------- size


def fit_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """``(h, w)`` scaled down so that the longest side is at most ``max_size`` (never up).

    >>> fit_size(480, 640, 320), fit_size(480, 640, None), fit_size(10, 10, 100)
    ((240, 320), (480, 640), (10, 10))
    """
    if not max_size or max(height, width) <= max_size:
        return height, width
    s = max_size / max(height, width)
    return max(1, int(round(height * s))), max(1, int(round(width * s)))


def resize_nearest(arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W[, C]) array to ``shape`` (id maps, masks).

    >>> resize_nearest(np.array([[1, 2], [3, 4]]), (1, 1)).tolist()
    [[4]]
    """
    a = np.asarray(arr)
    h, w = a.shape[:2]
    nh, nw = shape
    if (h, w) == (nh, nw):
        return a
    ys = np.minimum(((np.arange(nh) + 0.5) * h / nh).astype(np.int64), h - 1)
    xs = np.minimum(((np.arange(nw) + 0.5) * w / nw).astype(np.int64), w - 1)
    return a[ys][:, xs]


__all__ = [
    "blend",
    "grey_image",
    "dim",
    "contour_mask",
    "dilate",
    "erode",
    "mask_centroid",
    "arrow_mask",
    "fit_size",
    "resize_nearest",
]
