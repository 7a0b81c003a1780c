"""Colours of rapkit's pictures: the fixed colours of contours, labels, comparisons and
relation arrows, and one distinct colour per category.

* the constants (:data:`CONTOUR_COLOR`, :data:`DIFF_COLOR`, :data:`STATUS_COLORS`, ...);
* :func:`distinct_color`: the ``k``-th generated colour;
* :func:`category_palette`: ``{category id: colour}``, the categories' own colours where free;
* :func:`color_segments`: a category map painted with a palette.

Colours are ``(r, g, b)`` tuples of ints in 0-255.

>>> color_segments(np.array([[0, 1]]), category_palette({1: Category(1, "a", True, (9, 9, 9))})).tolist()
[[[0, 0, 0], [9, 9, 9]]]
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping

import numpy as np

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
#: arrow colour by the status of a drawn relation (see rapkit.viz.pictures.DrawnRelation)
STATUS_COLORS: dict[str | None, RGB] = {
    None: ARROW_COLOR,
    "correct": CORRECT_COLOR,
    "wrong": WRONG_COLOR,
    "unmatched": UNKNOWN_COLOR,
}

# colours no category gets (a segment must not look like a contour, a label box or the grey background)
_RESERVED = {CONTOUR_COLOR, LABEL_BACKGROUND, GREY_BACKGROUND}


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


__all__ = [
    "RGB",
    "GREY_BACKGROUND",
    "CONTOUR_COLOR",
    "LABEL_BACKGROUND",
    "LABEL_TEXT",
    "DIFF_COLOR",
    "A_RIGHT_COLOR",
    "B_RIGHT_COLOR",
    "NEITHER_COLOR",
    "DIM_MAX",
    "ARROW_COLOR",
    "CORRECT_COLOR",
    "WRONG_COLOR",
    "UNKNOWN_COLOR",
    "OUTLINE_COLOR",
    "STATUS_COLORS",
    "distinct_color",
    "category_palette",
    "color_segments",
]
