"""rapkit.viz: colours, contours, labels, the compare panel, arrows, panels (pure numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import planted_partitions

from rapkit.core.agreement import agree_mask
from rapkit.errors import InputError
from rapkit.types import Category
from rapkit.viz.draw import arrow_mask, contour_mask, fit_size, mask_centroid, resize_nearest
from rapkit.viz.labels import text_coverage, title_strip
from rapkit.viz.palette import (
    A_RIGHT_COLOR,
    ARROW_COLOR,
    B_RIGHT_COLOR,
    CONTOUR_COLOR,
    DIFF_COLOR,
    DIM_MAX,
    GREY_BACKGROUND,
    LABEL_BACKGROUND,
    WRONG_COLOR,
    category_palette,
)
from rapkit.viz.pictures import DrawnRelation, compare_panel, overlay, panels, relations_picture

CATS = {
    1: Category(1, "person", True, (220, 20, 60)),
    2: Category(2, "dog", True, (0, 0, 230)),
    3: Category(3, "grass", False, (0, 160, 0)),
}


def scene() -> tuple[np.ndarray, dict[int, int]]:
    """80 x 120: grass (id 30) everywhere, a person (11) and a dog (12) side by side, VOID strip."""
    ids = np.full((80, 120), 30, np.uint32)
    ids[10:50, 10:50] = 11
    ids[20:60, 60:110] = 12
    ids[75:, :] = 0
    return ids, {11: 1, 12: 2, 30: 3}


def contours_by_definition(ids: np.ndarray) -> np.ndarray:
    h, w = ids.shape
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            if x + 1 < w and ids[y, x] != ids[y, x + 1]:
                out[y, x] = True
            if y + 1 < h and ids[y, x] != ids[y + 1, x]:
                out[y, x] = True
    return out


def test_contour_mask_is_the_one_pixel_boundary_between_ids():
    ids, _ = scene()
    assert np.array_equal(contour_mask(ids), contours_by_definition(ids))
    assert not contour_mask(np.full((5, 5), 3)).any()


def test_palette_keeps_category_colours_and_makes_every_colour_unique():
    cats = dict(CATS)
    cats[4] = Category(4, "cup", True, (220, 20, 60))  # taken by person
    cats[5] = Category(5, "sky", False, None)
    cats[6] = Category(6, "wall", False, (255, 255, 255))  # reserved (contours)
    pal = category_palette(cats)
    assert pal[1] == (220, 20, 60) and pal[2] == (0, 0, 230)
    assert len(set(pal.values())) == len(cats)
    assert not set(pal.values()) & {CONTOUR_COLOR, LABEL_BACKGROUND, GREY_BACKGROUND}


def test_overlay_alpha_one_colours_every_pixel_by_its_category():
    ids, segs = scene()
    image = np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8)
    pic = overlay(image, ids, segs, CATS, alpha=1.0)
    free = ~pic.contour & ~pic.labels
    assert np.array_equal(pic.contour, contours_by_definition(ids))
    assert (pic.rgb[pic.contour & ~pic.labels] == CONTOUR_COLOR).all()
    inverse = {c.color: cid for cid, c in CATS.items()}
    decoded = np.zeros(ids.shape, np.int64)
    for y, x in zip(*np.nonzero(free & (ids != 0))):
        decoded[y, x] = inverse[tuple(int(v) for v in pic.rgb[y, x])]
    want = np.vectorize(lambda i: segs.get(int(i), 0))(ids)
    assert np.array_equal(decoded[free], want[free])
    assert np.array_equal(pic.rgb[free & (ids == 0)], image[free & (ids == 0)])  # VOID shows the image
    assert {b.text for b in pic.boxes} == {"person 1", "dog 2", "grass 3"}


def test_overlay_alpha_blends_and_zero_shows_the_image():
    ids, segs = scene()
    image = np.full((80, 120, 3), 100, np.uint8)
    pic0 = overlay(image, ids, segs, CATS, alpha=0.0, contours=False, labels=False)
    assert np.array_equal(pic0.rgb, image)
    half = overlay(image, ids, segs, CATS, alpha=0.5, contours=False, labels=False)
    assert half.rgb[30, 30].tolist() == [160, 60, 80]  # (220 + 100) / 2, (20 + 100) / 2, (60 + 100) / 2


def test_labels_stay_inside_and_never_overlap():
    ids = np.zeros((40, 60), np.uint32)
    for k in range(12):  # many tiny segments: most labels must be left out rather than overlap
        ids[(k // 4) * 12 : (k // 4) * 12 + 6, (k % 4) * 14 : (k % 4) * 14 + 6] = k + 1
    segs = {k + 1: 1 + k % 3 for k in range(12)}
    pic = overlay(np.zeros((40, 60, 3), np.uint8), ids, segs, CATS, min_label_area=0)
    assert pic.boxes
    for i, a in enumerate(pic.boxes):
        assert 0 <= a.x and a.x + a.w <= 60 and 0 <= a.y and a.y + a.h <= 40
        for b in pic.boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_overlay_errors_name_image_and_segment():
    ids, segs = scene()
    with pytest.raises(InputError) as e:
        overlay(np.zeros((80, 120, 3), np.uint8), ids, {11: 1, 12: 2}, CATS, image_id=7)
    assert e.value.image_id == 7 and e.value.segment_id == 30
    with pytest.raises(InputError) as e:
        overlay(np.zeros((80, 120, 3), np.uint8), ids, {11: 1, 12: 9, 30: 3}, CATS, image_id=7)
    assert e.value.segment_id == 12 and "category 9" in e.value.message
    with pytest.raises(InputError):
        overlay(np.zeros((10, 10, 3), np.uint8), ids, segs, CATS)


def test_compare_panel_colours_by_gt():
    a, ca, b, cb, expect = planted_partitions()
    g, cg = a.copy(), ca.copy()
    g[5:15, 40:50] = 77  # the GT agrees with B's split ...
    cg[5:15, 40:50] = 2
    a_right = agree_mask(a, ca, g, cg)
    b_right = agree_mask(b, cb, g, cg)
    img = np.full((60, 90, 3), 255, np.uint8)
    panel = compare_panel(img, expect, a_right, b_right)
    assert (panel[~expect] <= DIM_MAX).all()
    assert (panel[5:15, 40:50] == B_RIGHT_COLOR).all()
    assert (panel[:50, 28:30] == A_RIGHT_COLOR).all()
    assert (panel[45:50, 0:10] == A_RIGHT_COLOR).all()
    plain = compare_panel(img, expect)
    assert (plain[expect] == DIFF_COLOR).all() and (plain[~expect] <= DIM_MAX).all()


def _distance_to_segment(ys, xs, p, q):
    d = np.array(q) - np.array(p)
    t = ((xs - p[0]) * d[0] + (ys - p[1]) * d[1]) / float(d @ d)
    tc = np.clip(t, 0, 1)
    return np.hypot(xs - (p[0] + tc * d[0]), ys - (p[1] + tc * d[1])), t


@pytest.mark.parametrize(
    "p,q", [((10, 10), (90, 50)), ((80, 60), (15, 5)), ((50, 5), (50, 65)), ((5, 30), (95, 30)), ((40, 40), (46, 43))]
)
def test_arrow_pixels_lie_between_start_and_end(p, q):
    m = arrow_mask((70, 100), p, q, width=3, head_length=12, head_width=10)
    ys, xs = np.nonzero(m)
    assert ys.size > 0
    dist, t = _distance_to_segment(ys, xs, p, q)
    assert dist.max() <= 10 / 2 + 1e-9
    assert t.min() >= -1e-9 and t.max() <= 1 + 1e-9
    # it reaches both ends: a pixel within 1.5 px of the start and of the tip
    assert np.hypot(xs - p[0], ys - p[1]).min() <= 1.5
    assert np.hypot(xs - q[0], ys - q[1]).min() <= 1.5


def test_relations_picture_draws_arrows_from_front_to_back_centroid():
    h, w = 80, 120
    front = np.zeros((h, w), bool)
    front[10:40, 10:50] = True
    back = np.zeros((h, w), bool)
    back[30:70, 40:110] = True
    insts = {5: (1, front), 6: (2, back)}
    pic = relations_picture(np.full((h, w, 3), 128, np.uint8), insts, [DrawnRelation(5, 6)], CATS, labels=False)
    cf, cb = mask_centroid(front), mask_centroid(back)
    assert pic.info["arrows"][0][2:4] == (cf, cb)
    ys, xs = np.nonzero((pic.rgb == ARROW_COLOR).all(axis=2))
    assert ys.size > 20
    dist, t = _distance_to_segment(ys, xs, cf, cb)
    assert dist.max() <= 5 + 1e-9 and t.min() >= -1e-9 and t.max() <= 1 + 1e-9
    wrong = relations_picture(np.full((h, w, 3), 128, np.uint8), insts, [DrawnRelation(5, 6, "wrong")], CATS)
    assert (wrong.rgb == WRONG_COLOR).all(axis=2).sum() == ys.size
    with pytest.raises(InputError):
        relations_picture(np.zeros((h, w, 3), np.uint8), insts, [DrawnRelation(5, 9)], CATS)


def test_fit_size_and_nearest_resize():
    assert fit_size(480, 640, 320) == (240, 320)
    assert fit_size(100, 50, 1000) == (100, 50)
    ids = np.arange(16).reshape(4, 4)
    small = resize_nearest(ids, (2, 2))
    assert set(small.ravel().tolist()) <= set(ids.ravel().tolist())


def test_panels_layout_and_legend_strip():
    a = np.zeros((20, 30, 3), np.uint8)
    pic, where = panels([a, a, a], ["A", "B", [(A_RIGHT_COLOR, "x"), (None, "y")]])
    assert pic.shape[1] == 3 * 30 + 2 * 4 and where[2][0] == 68
    strip = title_strip([(A_RIGHT_COLOR, "A right")], 100)
    assert (strip == A_RIGHT_COLOR).all(axis=2).any()


def test_text_coverage_is_legible_size():
    a = text_coverage("person 1")
    assert 6 <= a.shape[0] <= 14 and a.shape[1] > 30 and a.max() == 255
    assert math.isclose(text_coverage("x").shape[0], text_coverage("x").shape[0])
