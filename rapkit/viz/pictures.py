"""The pictures of ``rapkit show``, drawn on numpy arrays (no files).

* :func:`overlay`: an image with a panoptic result on top (colours, contours, labels);
* :func:`compare_panel`: the pixels where two results differ, coloured by which one
  matches the GT (the masks come from :mod:`rapkit.core.agreement`);
* :func:`relations_picture` and :func:`relations_legend`: arrows from front to back instance;
* :func:`panels`: pictures side by side under title strips;
* :class:`Picture`: a drawn picture and what was drawn where.

Conventions: images are ``(H, W, 3)`` uint8 RGB; id maps ``(H, W)`` integers, 0 = VOID;
points are ``(x, y)`` in pixel coordinates (pixel centres at integers).

>>> cats = {1: Category(1, "a", True, (200, 0, 0))}
>>> p = overlay(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.uint32), {1: 1}, cats, alpha=1.0, labels=False)
>>> p.rgb[0, 0].tolist(), int(p.contour.sum())
([200, 0, 0], 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.agreement import segment_categories
from ..errors import InputError
from ..types import Category
from .draw import arrow_mask, blend, contour_mask, dilate, dim, erode, mask_centroid
from .labels import LabelBox, anchor_points, draw_labels, label_mask, place_labels, title_strip
from .palette import (
    A_RIGHT_COLOR,
    ARROW_COLOR,
    B_RIGHT_COLOR,
    CONTOUR_COLOR,
    CORRECT_COLOR,
    DIFF_COLOR,
    NEITHER_COLOR,
    OUTLINE_COLOR,
    RGB,
    STATUS_COLORS,
    UNKNOWN_COLOR,
    WRONG_COLOR,
    category_palette,
    color_segments,
    distinct_color,
)

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
    (``alpha=1``: exactly the colour of :func:`~rapkit.viz.palette.category_palette`); VOID
    pixels show the image. Contour pixels (:func:`~rapkit.viz.draw.contour_mask`) are white;
    each segment gets a label box with its category name and id (:func:`label_text`) at its
    most interior point (:func:`~rapkit.viz.labels.anchor_points`; things placed first, a
    label that would overlap another is left out, segments under ``min_label_area`` pixels
    get none). ``segments`` maps segment id -> category id. A category id not in
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


def compare_panel(
    image: np.ndarray,
    differs: np.ndarray,
    a_right: np.ndarray | None = None,
    b_right: np.ndarray | None = None,
) -> np.ndarray:
    """The third panel of a comparison: the image dimmed to grey (values <= :data:`~rapkit.viz.palette.DIM_MAX`)
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


@dataclass(frozen=True)
class DrawnRelation:
    """One relation to draw: the front and back instance ids and a status
    (``None`` = no prediction given, ``"correct"``, ``"wrong"``, ``"unmatched"``)."""

    front: int
    back: int
    status: str | None = None


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
    instance's centroid, coloured by status (:data:`~rapkit.viz.palette.STATUS_COLORS`) with
    a 1-px black outline; arrows stop 3 px (x ``scale``) short of both centroids, so arrows
    meeting at an instance stay apart, and mistakes are drawn last, on top. ``instances``
    maps instance id -> ``(category id, full (H, W) bool mask)``. Instance labels (``name #id``) sit at the centroids. ``info["arrows"]`` lists
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
        edge = m & ~erode(m)
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


# --------------------------------------------------------------------------- panels


def panels(
    images: Sequence[np.ndarray], titles: Sequence[Any] | None = None, *, gap: int = 4, font_size: int = 11
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Side-by-side panels (same height) with an optional title strip above each (a string
    or a legend, see :func:`~rapkit.viz.labels.title_strip`); returns the picture and each panel's top-left
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


__all__ = [
    "Picture",
    "label_text",
    "overlay",
    "compare_panel",
    "DrawnRelation",
    "relations_picture",
    "relations_legend",
    "panels",
]
