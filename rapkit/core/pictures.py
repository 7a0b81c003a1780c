"""Picture computations of ``rapkit show``: pure functions on numpy arrays (no files).

* colours: :func:`category_palette` (the categories' own colours, distinct generated ones
  where missing), :func:`color_segments`, :func:`blend`;
* :func:`contour_mask`: the 1-px boundaries between different segment ids;
* labels: :func:`text_coverage` (Pillow's default font, rendered in memory),
  :func:`place_labels`, :func:`draw_labels`;
* :func:`overlay`: an image with a panoptic result on top (colours, contours, labels);
* compare: :func:`corresponding_pixels`, :func:`differ_mask`, :func:`compare_panel`;
* relations: :func:`mask_centroid`, :func:`arrow_mask`, :func:`relations_picture`;
* layout: :func:`fit_size`, :func:`resize_nearest`, :func:`panels`;
* charts (matplotlib, the optional extra ``rapkit[plot]``, imported on first use):
  :func:`sweep_figure`, :func:`ablation_figure`, :func:`gap_figure`, :func:`figure_rgb`,
  and :func:`table_unit` (percent or fraction).

Conventions: images are ``(H, W, 3)`` uint8 RGB; id maps ``(H, W)`` integers, 0 = VOID;
points are ``(x, y)`` in pixel coordinates (pixel centres at integers).

>>> ids = np.array([[1, 1, 2], [1, 1, 2]], np.uint32)
>>> contour_mask(ids).astype(int).tolist()
[[0, 1, 0], [0, 1, 0]]
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import Category

RGB = tuple[int, int, int]

#: background of an image whose file is missing (neutral grey)
GREY_BACKGROUND: RGB = (128, 128, 128)
#: contour colour (1-px lines between segments)
CONTOUR_COLOR: RGB = (255, 255, 255)
#: label box background and text
LABEL_BACKGROUND: RGB = (0, 0, 0)
LABEL_TEXT: RGB = (255, 255, 255)
#: compare panel: pixels that differ, without GT / A right / B right / neither or both
DIFF_COLOR: RGB = (255, 140, 0)
A_RIGHT_COLOR: RGB = (0, 200, 0)
B_RIGHT_COLOR: RGB = (230, 0, 230)
NEITHER_COLOR: RGB = (200, 200, 200)
#: unmarked pixels of the compare panel: the image in grey, scaled to at most this value
DIM_MAX = 90
#: relations: arrow colours (no proposals / correct / wrong / not evaluable)
ARROW_COLOR: RGB = (255, 230, 0)
CORRECT_COLOR: RGB = (0, 220, 0)
WRONG_COLOR: RGB = (255, 30, 30)
UNKNOWN_COLOR: RGB = (170, 170, 170)
OUTLINE_COLOR: RGB = (0, 0, 0)

_RESERVED = {CONTOUR_COLOR, LABEL_BACKGROUND, GREY_BACKGROUND}


# --------------------------------------------------------------------------- colours


def distinct_color(k: int) -> RGB:
    """The ``k``-th generated colour: golden-ratio hues, alternating value/saturation.

    >>> distinct_color(0) != distinct_color(1)
    True
    """
    h = (k * 0.618033988749895) % 1.0
    s = (0.65, 0.9, 0.5)[k % 3]
    v = (0.95, 0.75, 0.85)[(k // 3) % 3]
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def category_palette(categories: Mapping[int, Category]) -> dict[int, RGB]:
    """``{category id: colour}``: the category's own ``color`` where it has one and it is
    not taken (by an earlier category, or reserved: contours, label boxes, grey background),
    else a generated distinct colour. Colours are unique, so a colour maps back to one category.

    >>> pal = category_palette({1: Category(1, "a", True, (10, 20, 30)), 2: Category(2, "b", True)})
    >>> pal[1], len(set(pal.values()))
    ((10, 20, 30), 2)
    """
    used = set(_RESERVED)
    out: dict[int, RGB] = {}
    pending = []
    for cid, c in categories.items():
        col = tuple(int(v) for v in c.color[:3]) if c.color is not None else None
        if col is not None and col not in used:
            out[cid] = col  # type: ignore[assignment]
            used.add(col)
        else:
            pending.append(cid)
    k = 0
    for cid in pending:
        while distinct_color(k) in used:
            k += 1
        out[cid] = distinct_color(k)
        used.add(out[cid])
        k += 1
    return {cid: out[cid] for cid in categories}


def segment_categories(id_map: np.ndarray, segments: Mapping[int, int], *, image_id: Any = None) -> np.ndarray:
    """The category map of an id map: ``segments`` maps segment id -> category id; VOID
    stays 0. An id in the map but not in ``segments`` is an :class:`InputError`.

    >>> segment_categories(np.array([[0, 5]], np.uint32), {5: 3}).tolist()
    [[0, 3]]
    """
    ids = np.asarray(id_map)
    uniq, inv = np.unique(ids, return_inverse=True)
    cats = np.zeros(uniq.size, np.int64)
    for k, u in enumerate(uniq.tolist()):
        if u == 0:
            continue
        if u not in segments:
            raise InputError("id in the PNG but not in the JSON's segments_info", image_id=image_id, segment_id=int(u))
        cats[k] = int(segments[u])
    return cats[inv.reshape(ids.shape)]


def color_segments(category_map: np.ndarray, palette: Mapping[int, RGB]) -> np.ndarray:
    """(H, W, 3) uint8: every pixel in its category's colour (VOID and unknown: black).

    >>> color_segments(np.array([[0, 3]]), {3: (1, 2, 3)}).tolist()
    [[[0, 0, 0], [1, 2, 3]]]
    """
    cm = np.asarray(category_map)
    uniq, inv = np.unique(cm, return_inverse=True)
    lut = np.zeros((uniq.size, 3), np.uint8)
    for k, c in enumerate(uniq.tolist()):
        if c != 0 and c in palette:
            lut[k] = palette[c]
    return lut[inv.reshape(cm.shape)]


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


# --------------------------------------------------------------------------- contours


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


# --------------------------------------------------------------------------- text labels


@lru_cache(maxsize=8)
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=4096)
def _text_coverage(text: str, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw

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


# --------------------------------------------------------------------------- overlay


@dataclass
class Picture:
    """A drawn picture and what was drawn where: ``contour`` and ``labels`` masks (for tests
    and for callers composing pictures), the label boxes, and free-form ``info``."""

    rgb: np.ndarray
    contour: np.ndarray | None = None
    labels: np.ndarray | None = None
    boxes: list[LabelBox] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def label_text(category: Category | None, category_id: int) -> str:
    """A segment's label: category name and id, e.g. ``person 1``."""
    name = category.name if category is not None else "?"
    return f"{name} {category_id}"


def overlay(
    image: np.ndarray,
    id_map: np.ndarray,
    segments: Mapping[int, int],
    categories: Mapping[int, Category],
    *,
    alpha: float = 0.5,
    contours: bool = True,
    labels: bool = True,
    font_size: int = 11,
    min_label_area: int = 50,
    palette: Mapping[int, RGB] | None = None,
    image_id: Any = None,
) -> Picture:
    """An image with a panoptic result on top.

    Every non-VOID pixel takes its segment's category colour at opacity ``alpha``
    (``alpha=1``: exactly the colour of :func:`category_palette`); VOID pixels show the
    image. Contour pixels (:func:`contour_mask`) are white; each segment gets a label box
    with its category name and id (:func:`label_text`) at its most interior point
    (:func:`anchor_points`; things placed first, a label that would overlap another is
    left out, segments under ``min_label_area`` pixels get none). ``segments`` maps segment id -> category id. A category id not in
    ``categories`` is an :class:`InputError`.

    >>> cats = {1: Category(1, "a", True, (200, 0, 0))}
    >>> ids = np.array([[0, 7], [0, 7]], np.uint32)
    >>> p = overlay(np.zeros((2, 2, 3), np.uint8), ids, {7: 1}, cats, alpha=1.0, labels=False)
    >>> p.rgb[:, 1].tolist(), p.rgb[:, 0].tolist()      # the VOID column is the contour
    ([[200, 0, 0], [200, 0, 0]], [[255, 255, 255], [255, 255, 255]])
    """
    ids = np.asarray(id_map)
    img = np.asarray(image)
    if img.shape[:2] != ids.shape:
        raise InputError(
            f"image is {img.shape[1]}x{img.shape[0]} but the panoptic PNG is {ids.shape[1]}x{ids.shape[0]}",
            image_id=image_id,
        )
    for sid, cid in segments.items():
        if cid not in categories:
            raise InputError(f"category {cid} is not in the categories", image_id=image_id, segment_id=sid)
    pal = palette if palette is not None else category_palette(categories)
    cmap = segment_categories(ids, segments, image_id=image_id)
    rgb = blend(img, color_segments(cmap, pal), ids != 0, alpha)
    contour = contour_mask(ids) if contours else np.zeros(ids.shape, bool)
    rgb[contour] = CONTOUR_COLOR
    boxes: list[LabelBox] = []
    if labels:
        uniq, counts = np.unique(ids, return_counts=True)
        area = dict(zip(uniq.tolist(), counts.tolist()))
        present = [k for k in segments if k != 0 and area.get(k, 0) >= min_label_area]
        anchors = anchor_points(ids, present)
        # things first (they are what a fusion decides), then the deepest segments
        anchors = {
            k: (x, y, d + (1 << 20) * bool(getattr(categories.get(segments[k]), "isthing", False)))
            for k, (x, y, d) in anchors.items()
        }
        texts = {k: label_text(categories.get(segments[k]), segments[k]) for k in anchors}
        boxes = place_labels(anchors, texts, ids.shape, font_size=font_size)
        rgb = draw_labels(rgb, boxes, font_size=font_size)
    return Picture(rgb, contour, label_mask(boxes, ids.shape), boxes)


# --------------------------------------------------------------------------- compare


def corresponding_pixels(id_a: np.ndarray, id_b: np.ndarray) -> np.ndarray:
    """Pixels whose A segment and B segment correspond: each is the other's largest overlap
    (in pixels; ties go to the smaller id). VOID (0) takes part as a segment of its own, so
    VOID in both corresponds and VOID against a segment does not.

    >>> a = np.array([[1, 1, 1, 1]]); b = np.array([[5, 5, 5, 6]])
    >>> corresponding_pixels(a, b).tolist()
    [[True, True, True, False]]
    """
    a = np.asarray(id_a).astype(np.uint64).ravel()
    b = np.asarray(id_b).astype(np.uint64).ravel()
    if np.asarray(id_a).shape != np.asarray(id_b).shape:
        raise ValueError("id maps must have the same shape")
    keys, inv, counts = np.unique(a * np.uint64(1 << 24) + b, return_inverse=True, return_counts=True)
    pa = keys >> np.uint64(24)
    pb = keys & np.uint64((1 << 24) - 1)
    # best partner of each A id: largest count, then smallest B id
    order = np.lexsort((pb, -counts, pa))
    first = np.ones(order.size, bool)
    first[1:] = pa[order][1:] != pa[order][:-1]
    best_a = set(zip(pa[order][first].tolist(), pb[order][first].tolist()))
    order = np.lexsort((pa, -counts, pb))
    first = np.ones(order.size, bool)
    first[1:] = pb[order][1:] != pb[order][:-1]
    best_b = set(zip(pa[order][first].tolist(), pb[order][first].tolist()))
    mutual = np.array([(x, y) in best_a and (x, y) in best_b for x, y in zip(pa.tolist(), pb.tolist())], bool)
    return mutual[inv].reshape(np.asarray(id_a).shape)


def agree_mask(id_a: np.ndarray, cat_a: np.ndarray, id_b: np.ndarray, cat_b: np.ndarray) -> np.ndarray:
    """Pixels where A and B agree: same category (VOID = 0) and corresponding segments
    (:func:`corresponding_pixels`)."""
    return (np.asarray(cat_a) == np.asarray(cat_b)) & corresponding_pixels(id_a, id_b)


def differ_mask(id_a: np.ndarray, cat_a: np.ndarray, id_b: np.ndarray, cat_b: np.ndarray) -> np.ndarray:
    """Pixels whose segment differs between two panoptic results: the category differs
    (VOID counts as a category) or the segment partition differs there, i.e. the pixel's A
    segment and B segment are not each other's largest overlap. Renumbering segments marks
    nothing; a shifted boundary marks the pixels that changed hands; a split marks the
    smaller part.

    >>> a = np.array([[1, 1, 2, 2, 2]]); ca = np.array([[3, 3, 4, 4, 4]])
    >>> b = np.array([[8, 8, 8, 9, 9]]); cb = np.array([[3, 3, 3, 4, 4]])
    >>> differ_mask(a, ca, b, cb).tolist()
    [[False, False, True, False, False]]
    """
    return ~agree_mask(id_a, cat_a, id_b, cat_b)


def compare_panel(
    image: np.ndarray,
    differs: np.ndarray,
    a_right: np.ndarray | None = None,
    b_right: np.ndarray | None = None,
) -> np.ndarray:
    """The third panel of a comparison: the image dimmed to grey (values <= :data:`DIM_MAX`)
    and, on the pixels of ``differs``, exact colours: without a GT :data:`DIFF_COLOR`; with
    ``a_right``/``b_right`` (where each result agrees with the GT) :data:`A_RIGHT_COLOR` where
    only A is right, :data:`B_RIGHT_COLOR` where only B is right, :data:`NEITHER_COLOR` where
    neither or both are.

    >>> d = np.array([[True, False]])
    >>> compare_panel(np.zeros((1, 2, 3), np.uint8), d)[0].tolist()
    [[255, 140, 0], [0, 0, 0]]
    """
    out = dim(image)
    d = np.asarray(differs, bool)
    if a_right is None or b_right is None:
        out[d] = DIFF_COLOR
        return out
    ar = np.asarray(a_right, bool)
    br = np.asarray(b_right, bool)
    out[d] = NEITHER_COLOR
    out[d & ar & ~br] = A_RIGHT_COLOR
    out[d & br & ~ar] = B_RIGHT_COLOR
    return out


# --------------------------------------------------------------------------- relations


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


@dataclass(frozen=True)
class DrawnRelation:
    """One relation to draw: the front and back instance ids and a status
    (``None`` = no prediction given, ``"correct"``, ``"wrong"``, ``"unmatched"``)."""

    front: int
    back: int
    status: str | None = None


STATUS_COLORS: dict[str | None, RGB] = {
    None: ARROW_COLOR,
    "correct": CORRECT_COLOR,
    "wrong": WRONG_COLOR,
    "unmatched": UNKNOWN_COLOR,
}


def relations_picture(
    image: np.ndarray,
    instances: Mapping[int, tuple[int, np.ndarray]],
    relations: Sequence[DrawnRelation],
    categories: Mapping[int, Category],
    *,
    width: float = 3.0,
    head_length: float = 12.0,
    head_width: float = 10.0,
    font_size: int = 11,
    labels: bool = True,
    scale: float = 1.0,
    image_id: Any = None,
) -> Picture:
    """The image with the outline of every instance taking part in a relation (its category
    colour) and, for each relation, an arrow from the front instance's centroid to the back
    instance's centroid, coloured by status (:data:`STATUS_COLORS`) with a 1-px black
    outline; arrows stop 3 px (x ``scale``) short of both centroids, so arrows meeting at an
    instance stay apart, and mistakes are drawn last, on top. ``instances`` maps instance id -> ``(category id, full (H, W) bool mask)``.
    Instance labels (``name #id``) sit at the centroids. ``info["arrows"]`` lists
    ``(front, back, start, end, status)``.
    """
    img = np.array(image, np.uint8, copy=True)
    h, w = img.shape[:2]
    pal = category_palette(categories)
    used = sorted({r.front for r in relations} | {r.back for r in relations})
    for iid in used:
        if iid not in instances:
            raise InputError(
                "relation names an instance that is not in the instances JSON", image_id=image_id, segment_id=iid
            )
    cent: dict[int, tuple[float, float]] = {}
    for iid in used:
        cid, m = instances[iid]
        if m.shape != (h, w):
            raise InputError(
                f"instance mask is {m.shape[1]}x{m.shape[0]}, the image {w}x{h}", image_id=image_id, segment_id=iid
            )
        if not m.any():
            raise InputError("instance mask is empty", image_id=image_id, segment_id=iid)
        cent[iid] = mask_centroid(m)
        edge = m & ~_erode(m)
        img[edge] = pal.get(cid, distinct_color(iid))
    arrows = []
    # mistakes last, on top: unmatched / plain, then correct, then wrong
    rank = {None: 0, "unmatched": 0, "correct": 1, "wrong": 2}
    for r in sorted(relations, key=lambda r: rank.get(r.status, 0)):
        p, q = cent[r.front], cent[r.back]
        a, b = _shorten(p, q, 3.0 * scale)  # arrows meeting at a centroid stay apart
        m = arrow_mask(
            (h, w), a, b, width=width * scale, head_length=head_length * scale, head_width=head_width * scale
        )
        img[dilate(m) & ~m] = OUTLINE_COLOR
        img[m] = STATUS_COLORS.get(r.status, UNKNOWN_COLOR)
        arrows.append((r.front, r.back, p, q, r.status, m))
    boxes: list[LabelBox] = []
    if labels:
        anchors = {iid: (cent[iid][0], cent[iid][1] - 2 * font_size, int(instances[iid][1].sum())) for iid in used}
        texts = {
            iid: f"{categories[instances[iid][0]].name if instances[iid][0] in categories else '?'} #{iid}"
            for iid in used
        }
        boxes = place_labels(anchors, texts, (h, w), font_size=font_size)
        img = draw_labels(img, boxes, font_size=font_size)
    info = {"arrows": [(f, b, p, q, s) for f, b, p, q, s, _ in arrows]}
    return Picture(img, None, label_mask(boxes, (h, w)), boxes, info)


def _shorten(
    p: tuple[float, float], q: tuple[float, float], by: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The segment p-q with ``by`` pixels taken off each end (unchanged when it is short)."""
    length = math.hypot(q[0] - p[0], q[1] - p[1])
    if length <= 6 * by or by <= 0:
        return p, q
    ux, uy = (q[0] - p[0]) / length, (q[1] - p[1]) / length
    return (p[0] + by * ux, p[1] + by * uy), (q[0] - by * ux, q[1] - by * uy)


def relations_legend(statuses: Sequence[str | None]) -> list[tuple[RGB | None, str]]:
    """The legend of a relations picture: colour swatches with the count of each status.

    >>> [t for _, t in relations_legend(["correct", "wrong", "correct"])]
    ['front -> back:', 'correct 2', 'wrong 1', 'no matched proposal 0']
    """
    if all(s is None for s in statuses):
        return [(None, "front -> back:"), (ARROW_COLOR, f"{len(statuses)} relation(s)")]
    n = {k: sum(1 for s in statuses if s == k) for k in ("correct", "wrong", "unmatched")}
    return [
        (None, "front -> back:"),
        (CORRECT_COLOR, f"correct {n['correct']}"),
        (WRONG_COLOR, f"wrong {n['wrong']}"),
        (UNKNOWN_COLOR, f"no matched proposal {n['unmatched']}"),
    ]


def _erode(mask: np.ndarray) -> np.ndarray:
    return ~dilate(~np.asarray(mask, bool), 1)


# --------------------------------------------------------------------------- layout


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


def panels(
    images: Sequence[np.ndarray], titles: Sequence[Any] | None = None, *, gap: int = 4, font_size: int = 11
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Side-by-side panels (same height) with an optional title strip above each (a string
    or a legend, see :func:`title_strip`); returns the picture and each panel's top-left
    ``(x, y)`` in it."""
    hs = {im.shape[0] for im in images}
    if len(hs) != 1:
        raise ValueError("panels need the same height")
    h = hs.pop()
    strips = [title_strip(t, im.shape[1], font_size=font_size) for t, im in zip(titles, images)] if titles else []
    th = max((s.shape[0] for s in strips), default=0)
    total_w = sum(im.shape[1] for im in images) + gap * (len(images) - 1)
    out = np.full((th + h, total_w, 3), 255, np.uint8)
    x = 0
    where = []
    for k, im in enumerate(images):
        if strips:
            s = strips[k]
            out[: s.shape[0], x : x + im.shape[1]] = s
            out[s.shape[0] : th, x : x + im.shape[1]] = 32
        out[th : th + h, x : x + im.shape[1]] = im
        where.append((x, th))
        x += im.shape[1] + gap
    return out, where


# --------------------------------------------------------------------------- charts


PLOT_HINT = "pip install 'rapkit[plot]'"
ABSOLUTE_METRICS = ("PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st")


def table_unit(df: Any, declared: str | None = None) -> str:
    """``"percent"`` or ``"fraction"``: the declared unit (a JSON table's ``unit``) when
    given, else ``percent`` when any absolute metric (PQ, SQ, RQ and their _th/_st, or a
    column ending in ``accuracy``) exceeds 1.5, else ``fraction``.

    >>> import pandas as pd
    >>> table_unit(pd.DataFrame({"PQ": [0.5]})), table_unit(pd.DataFrame({"PQ": [50.0]}))
    ('fraction', 'percent')
    """
    if declared in ("percent", "fraction"):
        return declared
    cols = [c for c in df.columns if str(c) in ABSOLUTE_METRICS or str(c).lower().endswith("accuracy")]
    for c in cols:
        v = np.asarray(df[c], dtype=np.float64)
        if np.nanmax(np.abs(v), initial=0.0) > 1.5:
            return "percent"
    return "fraction"


def _percent_values(df: Any, unit: str, cols: Sequence[str]) -> Any:
    out = df.copy()
    if unit == "fraction":
        for c in cols:
            out[c] = out[c].astype(float) * 100.0
    return out


def _figure(w: float, h: float) -> Any:
    # a bare Figure rendered by FigureCanvasAgg (figure_rgb): the Agg backend without
    # pyplot, so no global backend state is touched and no window can open
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def sweep_figure(df: Any, *, metric: str = "PQ", style: str = "heatmap", unit: str | None = None) -> Any:
    """Table 1 as a matplotlib Figure: one heatmap per gamma (rows rho, columns tau) of
    ``metric`` over the ``rap`` rows, or (``style="lines"``, or when only one parameter
    varies) lines of ``metric`` against the first varying parameter, one line per setting
    of the others. The heuristic baseline row, when present, is named in the title. Values
    are shown in percent (fractions are converted; see :func:`table_unit`)."""
    if metric not in df.columns:
        raise InputError(f"sweep table has no column {metric!r} (columns: {', '.join(map(str, df.columns))})")
    for c in ("rho", "tau", "gamma"):
        if c not in df.columns:
            raise InputError(f"sweep table has no column {c!r}: not a table of rapkit evaluate --sweep")
    u = table_unit(df, unit)
    data = _percent_values(df, u, [metric])
    rap = data[data["strategy"] == "rap"] if "strategy" in data.columns else data
    if rap.empty:
        raise InputError("sweep table has no rap rows to plot")
    base = data[data["strategy"] == "heuristic"] if "strategy" in data.columns else data.iloc[:0]
    base_note = f"; heuristic baseline {float(base[metric].iloc[0]):.1f}" if len(base) else ""
    varying = [c for c in ("rho", "tau", "gamma") if rap[c].nunique() > 1]
    label = f"{metric} (%)"
    if style == "heatmap" and {"rho", "tau"} <= set(varying):
        gammas = sorted(rap["gamma"].unique())
        fig = _figure(min(4.2 * len(gammas) + 1.2, 22), 3.9)
        axes = fig.subplots(1, len(gammas), squeeze=False)[0]
        piv_all = rap.pivot_table(index="rho", columns=["tau", "gamma"], values=metric, aggfunc="first")
        vmin, vmax = float(np.nanmin(piv_all.values)), float(np.nanmax(piv_all.values))
        im = None
        for ax, g in zip(axes, gammas):
            piv = rap[rap["gamma"] == g].pivot_table(index="rho", columns="tau", values=metric, aggfunc="first")
            im = ax.imshow(piv.values, cmap="viridis", vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
            ax.set_xticks(range(piv.shape[1]), [f"{v:g}" for v in piv.columns])
            ax.set_yticks(range(piv.shape[0]), [f"{v:g}" for v in piv.index])
            ax.set_xlabel("tau")
            ax.set_ylabel("rho")
            ax.set_title(f"gamma = {g:g}")
            for i in range(piv.shape[0]):
                for j in range(piv.shape[1]):
                    v = piv.values[i, j]
                    if np.isfinite(v):
                        r, g_, b, _ = im.cmap(im.norm(v))
                        dark = 0.299 * r + 0.587 * g_ + 0.114 * b < 0.5
                        ax.text(
                            j, i, f"{v:.1f}", ha="center", va="center", fontsize=8, color="white" if dark else "black"
                        )
        fig.colorbar(im, ax=list(axes), label=label)
        fig.suptitle(f"Threshold sweep (Table 1): {metric}, rap rows{base_note}")
        return fig
    # lines: x = the first varying parameter, one line per value of the second, one panel
    # per value of the third
    x = varying[0] if varying else "rho"
    hue = varying[1] if len(varying) > 1 else None
    facet = varying[2] if len(varying) > 2 else None
    facets = sorted(rap[facet].unique()) if facet else [None]
    fig = _figure(min(4.6 * len(facets) + 1.0, 22), 4.0)
    axes = fig.subplots(1, len(facets), squeeze=False, sharey=True)[0]
    for ax, fv in zip(axes, facets):
        sub = rap if facet is None else rap[rap[facet] == fv]
        groups = [(None, sub)] if hue is None else list(sub.groupby(hue, sort=True))
        for hv, grp in groups:
            grp = grp.sort_values(x).drop_duplicates(subset=[x])
            ax.plot(grp[x], grp[metric], marker="o", label=None if hv is None else f"{hue} = {hv:g}")
        if len(base):
            ax.axhline(float(base[metric].iloc[0]), color="grey", linestyle="--", label="heuristic baseline")
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if facet is not None:
            ax.set_title(f"{facet} = {fv:g}")
    axes[0].legend(fontsize=8)
    fixed = [c for c in ("rho", "tau", "gamma") if c not in varying]
    fixed_note = ", ".join(f"{c} = {rap[c].iloc[0]:g}" for c in fixed)
    fig.suptitle(f"Threshold sweep (Table 1): {metric}{' at ' + fixed_note if fixed_note else ''}{base_note}")
    return fig


def ablation_figure(df: Any, *, metrics: Sequence[str] = ("PQ", "PQ_th", "PQ_st"), unit: str | None = None) -> Any:
    """Table 2 as grouped bars: one group per row (heuristic, RA, RA+CA, ...), one bar per
    metric, values in percent written above the bars."""
    if "row" not in df.columns:
        raise InputError("ablation table has no 'row' column: not a table of rapkit evaluate --ablation")
    ms = [m for m in metrics if m in df.columns]
    if not ms:
        raise InputError(f"ablation table has none of the columns {', '.join(metrics)}")
    u = table_unit(df, unit)
    data = _percent_values(df, u, ms)
    fig = _figure(max(6.4, 1.1 * len(data) + 2), 4.2)
    ax = fig.subplots()
    n = len(ms)
    xs = np.arange(len(data))
    bw = 0.8 / n
    for k, m in enumerate(ms):
        bars = ax.bar(xs + (k - (n - 1) / 2) * bw, data[m].astype(float), bw, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(xs, [str(r) for r in data["row"]], rotation=20, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, max(100.0, float(np.nanmax(data[ms].values)) * 1.08))
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("Ablation (Table 2)")
    return fig


def gap_matrix(df: Any, value: str | None = None) -> tuple[Any, str]:
    """The per-category table as a matrix: long form (columns ``front``, ``back`` and a
    numeric value column: ``mean_gap`` as ``rapkit evaluate --by-category`` writes it, else
    ``value``, else the first other numeric column that is not an id) pivoted to rows =
    front category, columns = back category; or a wide table (first column = row labels,
    the other numeric columns = column labels) as it is. Returns ``(matrix, value name)``."""
    cols = [str(c) for c in df.columns]
    if "front" in cols and "back" in cols:
        if value is None:
            preferred = [c for c in ("mean_gap", "value") if c in cols]
            nums = preferred or [
                c
                for c in df.columns
                if c not in ("front", "back") and not str(c).endswith("_id") and df[c].dtype.kind in "fiu"
            ]
            if not nums:
                raise InputError("relation-gap table has no numeric value column")
            value = str(nums[0])
        if value not in cols:
            raise InputError(f"relation-gap table has no column {value!r}")
        return df.pivot_table(index="front", columns="back", values=value, aggfunc="first"), value
    first = df.columns[0]
    nums = [c for c in df.columns[1:] if df[c].dtype.kind in "fiu"]
    if not nums:
        raise InputError(
            "relation-gap table needs columns front, back and a value, or a first label column and numeric columns"
        )
    return df.set_index(first)[nums], value or "value"


def gap_figure(df: Any, *, value: str | None = None, unit: str | None = None) -> Any:
    """The per-category relation gap (paper Fig. 3) as a heatmap (see :func:`gap_matrix`)."""
    mat, name = gap_matrix(df, value)
    vals = mat.values.astype(np.float64)
    # the gap v_back - v_front is in relation-value units, never a percentage
    pct = name != "mean_gap" and (unit == "percent" or (unit is None and np.nanmax(np.abs(vals), initial=0.0) > 1.5))
    n_r, n_c = mat.shape
    fig = _figure(min(2.5 + 0.45 * n_c, 24), min(2.0 + 0.4 * n_r, 24))
    ax = fig.subplots()
    lim = float(np.nanmax(np.abs(vals), initial=0.0)) or 1.0
    im = ax.imshow(
        vals,
        cmap="RdBu_r",
        vmin=-lim if np.nanmin(vals, initial=0) < 0 else None,
        vmax=lim if np.nanmin(vals, initial=0) < 0 else None,
        aspect="auto",
    )
    ax.set_xticks(range(n_c), [str(c) for c in mat.columns], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_r), [str(r) for r in mat.index], fontsize=7)
    ax.set_xlabel(str(mat.columns.name or "back"))
    ax.set_ylabel(str(mat.index.name or "front"))
    if n_r * n_c <= 400:
        for i in range(n_r):
            for j in range(n_c):
                if np.isfinite(vals[i, j]):
                    r, g, b, _ = im.cmap(im.norm(vals[i, j]))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                    ax.text(
                        j,
                        i,
                        f"{vals[i, j]:.2g}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if dark else "black",
                    )
    fig.colorbar(im, ax=ax, label=f"{name}{' (%)' if pct else ''}")
    ax.set_title("Per-category relation gap (Fig. 3)")
    return fig


def figure_rgb(fig: Any) -> np.ndarray:
    """Render a matplotlib Figure with the Agg canvas into an (H, W, 3) uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


__all__ = [
    "category_palette",
    "distinct_color",
    "segment_categories",
    "color_segments",
    "blend",
    "grey_image",
    "dim",
    "contour_mask",
    "text_coverage",
    "LabelBox",
    "anchor_points",
    "place_labels",
    "label_mask",
    "draw_labels",
    "Picture",
    "label_text",
    "overlay",
    "corresponding_pixels",
    "agree_mask",
    "differ_mask",
    "compare_panel",
    "mask_centroid",
    "arrow_mask",
    "dilate",
    "DrawnRelation",
    "STATUS_COLORS",
    "relations_picture",
    "relations_legend",
    "fit_size",
    "resize_nearest",
    "title_strip",
    "panels",
    "table_unit",
    "sweep_figure",
    "ablation_figure",
    "gap_matrix",
    "gap_figure",
    "figure_rgb",
    "PLOT_HINT",
]
