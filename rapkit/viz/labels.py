"""Text on pictures: rendering (Pillow's default font, in memory), label placement, title strips.

* :func:`text_coverage`: a string as an (h, w) uint8 coverage map;
* labels: :func:`anchor_points` (each segment's most interior pixel), :func:`place_labels`
  (boxes that stay inside and never overlap), :func:`label_mask`, :func:`draw_labels`;
* :func:`title_strip`: a dark strip with a title or a legend of colour swatches.

>>> boxes = place_labels({1: (10.0, 5.0, 1)}, {1: "dog 18"}, (20, 60))
>>> [(b.text, b.x >= 0, b.x + b.w <= 60) for b in boxes]
[('dog 18', True, True)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .palette import LABEL_BACKGROUND, LABEL_TEXT, RGB

# --------------------------------------------------------------------------- text


@lru_cache(maxsize=8)
def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=4096)
def _text_coverage(text: str, size: int) -> np.ndarray:
    font = _font(size)
    x0, y0, x1, y1 = font.getbbox(text)
    w, h = max(1, x1 - min(0, x0)), max(1, y1 - min(0, y0))
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).text((-min(0, x0), -min(0, y0)), text, font=font, fill=255)
    a = np.asarray(im)
    rows = np.nonzero(a.any(axis=1))[0]
    if rows.size:  # trim the empty rows above and below (the font's ascent)
        a = a[rows[0] : rows[-1] + 1]
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def text_coverage(text: str, size: int = 11) -> np.ndarray:
    """``text`` rendered with Pillow's default font (in memory): an (h, w) uint8 coverage
    map, 0 = background, 255 = ink.

    >>> a = text_coverage("person 1"); str(a.dtype), int(a.max()), a.shape[0] < 16
    ('uint8', 255, True)
    """
    return _text_coverage(str(text), int(size))


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelBox:
    """A label placed on a picture: ``text`` in the box ``x, y, w, h`` (padding included)."""

    key: int
    text: str
    x: int
    y: int
    w: int
    h: int

    def overlaps(self, o: LabelBox) -> bool:
        return not (self.x + self.w <= o.x or o.x + o.w <= self.x or self.y + self.h <= o.y or o.y + o.h <= self.y)


def _run_depth(ids: np.ndarray) -> np.ndarray:
    """Per pixel, the distance (in pixels, >= 1) to the nearest other id (or the border)
    along its row and its column: ``min(left, right, up, down)``."""
    h, w = ids.shape

    def along_rows(a: np.ndarray) -> np.ndarray:
        n = a.shape[1]
        idx = np.broadcast_to(np.arange(n), a.shape)
        start = np.zeros(a.shape, bool)
        start[:, 0] = True
        start[:, 1:] = a[:, 1:] != a[:, :-1]
        left = idx - np.maximum.accumulate(np.where(start, idx, 0), axis=1) + 1
        end = np.zeros(a.shape, bool)
        end[:, -1] = True
        end[:, :-1] = a[:, :-1] != a[:, 1:]
        right = (np.minimum.accumulate(np.where(end, idx, n - 1)[:, ::-1], axis=1)[:, ::-1] - idx) + 1
        return np.minimum(left, right)

    return np.minimum(along_rows(ids), along_rows(ids.T).T)


def anchor_points(id_map: np.ndarray, keys: Iterable[int]) -> dict[int, tuple[float, float, int]]:
    """``{id: (x, y, depth)}``: for each id present in the map, its most interior pixel (the
    largest distance to another id along its row and column; ties: nearest to the centroid),
    where a label hides the least of the segment's outline.

    >>> anchor_points(np.array([[1, 1, 1, 2]]), [1, 2])
    {1: (1.0, 0.0, 1), 2: (3.0, 0.0, 1)}
    """
    ids = np.asarray(id_map)
    depth = _run_depth(ids)
    out: dict[int, tuple[float, float, int]] = {}
    for k in keys:
        ys, xs = np.nonzero(ids == k)
        if ys.size == 0:
            continue
        d = depth[ys, xs]
        best = d == d.max()
        bx, by = xs[best], ys[best]
        cx, cy = xs.mean(), ys.mean()
        j = int(np.argmin((bx - cx) ** 2 + (by - cy) ** 2))
        out[int(k)] = (float(bx[j]), float(by[j]), int(d.max()))
    return out


def place_labels(
    anchors: Mapping[int, tuple[float, float, int]],
    texts: Mapping[int, str],
    shape: tuple[int, int],
    *,
    font_size: int = 11,
    pad: int = 1,
    min_area: int = 0,
) -> list[LabelBox]:
    """Label boxes centred on their anchors ``{key: (x, y, weight)}``, kept inside the
    picture; higher weights first, a label that would overlap an earlier one is left out (so
    labels never hide each other). Anchors with a weight under ``min_area`` get no label."""
    h, w = shape
    order = sorted(anchors, key=lambda k: (-anchors[k][2], k))
    boxes: list[LabelBox] = []
    for k in order:
        x, y, area = anchors[k]
        if area < min_area or k not in texts:
            continue
        cov = text_coverage(texts[k], font_size)
        bw, bh = cov.shape[1] + 2 * pad, cov.shape[0] + 2 * pad
        if bw > w or bh > h:
            continue
        bx = int(min(max(round(x - bw / 2), 0), w - bw))
        by = int(min(max(round(y - bh / 2), 0), h - bh))
        box = LabelBox(k, texts[k], bx, by, bw, bh)
        if any(box.overlaps(b) for b in boxes):
            continue
        boxes.append(box)
    return boxes


def label_mask(boxes: Sequence[LabelBox], shape: tuple[int, int]) -> np.ndarray:
    """Pixels covered by label boxes."""
    m = np.zeros(shape, bool)
    for b in boxes:
        m[b.y : b.y + b.h, b.x : b.x + b.w] = True
    return m


def draw_labels(
    rgb: np.ndarray,
    boxes: Sequence[LabelBox],
    *,
    font_size: int = 11,
    pad: int = 1,
    background: RGB = LABEL_BACKGROUND,
    ink: RGB = LABEL_TEXT,
) -> np.ndarray:
    """Draw label boxes (solid background, anti-aliased text) onto a copy of ``rgb``."""
    out = np.array(rgb, np.uint8, copy=True)
    bg = np.array(background, np.float32)
    fg = np.array(ink, np.float32)
    for b in boxes:
        cov = text_coverage(b.text, font_size).astype(np.float32)[..., None] / 255.0
        region = np.empty((b.h, b.w, 3), np.float32)
        region[...] = bg
        region[pad : pad + cov.shape[0], pad : pad + cov.shape[1]] = cov * fg + (1.0 - cov) * bg
        out[b.y : b.y + b.h, b.x : b.x + b.w] = np.rint(region).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- title strips


def title_strip(
    title: str | Sequence[tuple[RGB | None, str]], width: int, *, font_size: int = 11, pad: int = 3
) -> np.ndarray:
    """A dark strip ``width`` pixels wide with a title in white. The title is a string, or a
    legend: ``(colour, text)`` items, each drawn as a colour swatch (none for ``None``)
    followed by its text. Items that do not fit on a line go to the next one; an item wider
    than the strip is cut at the right edge.

    >>> title_strip([((0, 200, 0), "A right"), (None, "!")], 120).shape[1]
    120
    >>> title_strip([((0, 200, 0), "a long legend item")] * 3, 120).shape[0] > title_strip("x", 120).shape[0]
    True
    """
    items = [(None, title)] if isinstance(title, str) else list(title)
    covs = [(c, text_coverage(t, font_size)) for c, t in items if t]
    line_h = max([cv.shape[0] for _, cv in covs] + [font_size]) + 2
    sw = max(6, line_h - 4)
    # lay the items out in lines
    placed: list[tuple[int, int, RGB | None, np.ndarray]] = []
    x, line = pad, 0
    for color, cov in covs:
        iw = (sw + 3 if color is not None else 0) + cov.shape[1]
        if x > pad and x + iw > width - pad:
            x, line = pad, line + 1
        placed.append((x, line, color, cov))
        x += iw + 8
    n_lines = line + 1
    h = n_lines * line_h + 2 * pad
    strip = np.full((h, width, 3), 32, np.uint8)
    for x, line, color, cov in placed:
        top = pad + line * line_h
        if color is not None:
            y0 = top + (line_h - sw) // 2
            strip[y0 : y0 + sw, x : min(x + sw, width - pad)] = color
            x += sw + 3
        cw = min(cov.shape[1], max(0, width - pad - x))
        if cw > 0:
            y0 = top + (line_h - cov.shape[0]) // 2
            c = cov[:, :cw].astype(np.float32)[..., None] / 255.0
            region = strip[y0 : y0 + cov.shape[0], x : x + cw].astype(np.float32)
            strip[y0 : y0 + cov.shape[0], x : x + cw] = np.rint(c * 255.0 + (1.0 - c) * region).astype(np.uint8)
    return strip


__all__ = [
    "text_coverage",
    "LabelBox",
    "anchor_points",
    "place_labels",
    "label_mask",
    "draw_labels",
    "title_strip",
]
