"""rapkit.core.pictures: colours, contours, labels, compare masks, arrows (pure numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rapkit.core import pictures as P
from rapkit.errors import InputError
from rapkit.types import Category

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
    assert np.array_equal(P.contour_mask(ids), contours_by_definition(ids))
    assert not P.contour_mask(np.full((5, 5), 3)).any()


def test_palette_keeps_category_colours_and_makes_every_colour_unique():
    cats = dict(CATS)
    cats[4] = Category(4, "cup", True, (220, 20, 60))  # taken by person
    cats[5] = Category(5, "sky", False, None)
    cats[6] = Category(6, "wall", False, (255, 255, 255))  # reserved (contours)
    pal = P.category_palette(cats)
    assert pal[1] == (220, 20, 60) and pal[2] == (0, 0, 230)
    assert len(set(pal.values())) == len(cats)
    assert not set(pal.values()) & {P.CONTOUR_COLOR, P.LABEL_BACKGROUND, P.GREY_BACKGROUND}


def test_overlay_alpha_one_colours_every_pixel_by_its_category():
    ids, segs = scene()
    image = np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8)
    pic = P.overlay(image, ids, segs, CATS, alpha=1.0)
    free = ~pic.contour & ~pic.labels
    assert np.array_equal(pic.contour, contours_by_definition(ids))
    assert (pic.rgb[pic.contour & ~pic.labels] == P.CONTOUR_COLOR).all()
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
    pic0 = P.overlay(image, ids, segs, CATS, alpha=0.0, contours=False, labels=False)
    assert np.array_equal(pic0.rgb, image)
    half = P.overlay(image, ids, segs, CATS, alpha=0.5, contours=False, labels=False)
    assert half.rgb[30, 30].tolist() == [160, 60, 80]  # (220 + 100) / 2, (20 + 100) / 2, (60 + 100) / 2


def test_labels_stay_inside_and_never_overlap():
    ids = np.zeros((40, 60), np.uint32)
    for k in range(12):  # many tiny segments: most labels must be left out rather than overlap
        ids[(k // 4) * 12 : (k // 4) * 12 + 6, (k % 4) * 14 : (k % 4) * 14 + 6] = k + 1
    segs = {k + 1: 1 + k % 3 for k in range(12)}
    pic = P.overlay(np.zeros((40, 60, 3), np.uint8), ids, segs, CATS, min_label_area=0)
    assert pic.boxes
    for i, a in enumerate(pic.boxes):
        assert 0 <= a.x and a.x + a.w <= 60 and 0 <= a.y and a.y + a.h <= 40
        for b in pic.boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_overlay_errors_name_image_and_segment():
    ids, segs = scene()
    with pytest.raises(InputError) as e:
        P.overlay(np.zeros((80, 120, 3), np.uint8), ids, {11: 1, 12: 2}, CATS, image_id=7)
    assert e.value.image_id == 7 and e.value.segment_id == 30
    with pytest.raises(InputError) as e:
        P.overlay(np.zeros((80, 120, 3), np.uint8), ids, {11: 1, 12: 9, 30: 3}, CATS, image_id=7)
    assert e.value.segment_id == 12 and "category 9" in e.value.message
    with pytest.raises(InputError):
        P.overlay(np.zeros((10, 10, 3), np.uint8), ids, segs, CATS)


def planted() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A and B that differ in exactly the returned ``expect`` pixels; B renumbers every
    segment (a renumbering is not a difference)."""
    a = np.zeros((60, 90), np.int64)
    a[:, :30] = 1
    a[:, 30:60] = 2
    a[:, 60:] = 3
    a[50:, :] = 0  # VOID strip
    cat_of_a = {0: 0, 1: 1, 2: 2, 3: 3}
    b = np.vectorize({0: 0, 1: 101, 2: 102, 3: 103}.get)(a)
    cat_of_b = {0: 0, 101: 1, 102: 2, 103: 3, 104: 2}
    expect = np.zeros(a.shape, bool)
    # (1) boundary shift: columns 28-29 of segment 1 given to segment 2 in B
    b[:50, 28:30] = 102
    expect[:50, 28:30] = True
    # (2) split: a 10 x 10 block of segment 2 becomes its own segment (same category)
    b[5:15, 40:50] = 104
    expect[5:15, 40:50] = True
    # (3) category change of a block that stays in its segment: B's segment 103 keeps the
    # block's id, but we give the block a new id with another category
    cat_of_b[105] = 1
    b[30:40, 70:80] = 105
    expect[30:40, 70:80] = True
    # (4) VOID in B where A has a segment
    b[45:50, 0:10] = 0
    expect[45:50, 0:10] = True
    ca = np.vectorize(cat_of_a.get)(a)
    cb = np.vectorize(cat_of_b.get)(b)
    return a, ca, b, cb, expect


def test_differ_mask_marks_exactly_the_planted_pixels():
    a, ca, b, cb, expect = planted()
    got = P.differ_mask(a, ca, b, cb)
    assert np.array_equal(got, expect)
    assert np.array_equal(P.differ_mask(b, cb, a, ca), expect)  # symmetric


def test_differ_mask_category_only_change_and_renumbering():
    a = np.array([[1, 1, 2, 2]] * 3)
    ca = np.array([[5, 5, 6, 6]] * 3)
    assert not P.differ_mask(a, ca, a * 7, ca).any()
    cb = ca.copy()
    cb[:, 2:] = 9  # same partition, category of segment 2 differs
    assert np.array_equal(P.differ_mask(a, ca, a, cb), np.array([[False, False, True, True]] * 3))


def test_compare_panel_colours_by_gt():
    a, ca, b, cb, expect = planted()
    g, cg = a.copy(), ca.copy()
    g[5:15, 40:50] = 77  # the GT agrees with B's split ...
    cg[5:15, 40:50] = 2
    a_right = P.agree_mask(a, ca, g, cg)
    b_right = P.agree_mask(b, cb, g, cg)
    img = np.full((60, 90, 3), 255, np.uint8)
    panel = P.compare_panel(img, expect, a_right, b_right)
    assert (panel[~expect] <= P.DIM_MAX).all()
    assert (panel[5:15, 40:50] == P.B_RIGHT_COLOR).all()
    assert (panel[:50, 28:30] == P.A_RIGHT_COLOR).all()
    assert (panel[45:50, 0:10] == P.A_RIGHT_COLOR).all()
    plain = P.compare_panel(img, expect)
    assert (plain[expect] == P.DIFF_COLOR).all() and (plain[~expect] <= P.DIM_MAX).all()


def _distance_to_segment(ys, xs, p, q):
    d = np.array(q) - np.array(p)
    t = ((xs - p[0]) * d[0] + (ys - p[1]) * d[1]) / float(d @ d)
    tc = np.clip(t, 0, 1)
    return np.hypot(xs - (p[0] + tc * d[0]), ys - (p[1] + tc * d[1])), t


@pytest.mark.parametrize(
    "p,q", [((10, 10), (90, 50)), ((80, 60), (15, 5)), ((50, 5), (50, 65)), ((5, 30), (95, 30)), ((40, 40), (46, 43))]
)
def test_arrow_pixels_lie_between_start_and_end(p, q):
    m = P.arrow_mask((70, 100), p, q, width=3, head_length=12, head_width=10)
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
    pic = P.relations_picture(np.full((h, w, 3), 128, np.uint8), insts, [P.DrawnRelation(5, 6)], CATS, labels=False)
    cf, cb = P.mask_centroid(front), P.mask_centroid(back)
    assert pic.info["arrows"][0][2:4] == (cf, cb)
    ys, xs = np.nonzero((pic.rgb == P.ARROW_COLOR).all(axis=2))
    assert ys.size > 20
    dist, t = _distance_to_segment(ys, xs, cf, cb)
    assert dist.max() <= 5 + 1e-9 and t.min() >= -1e-9 and t.max() <= 1 + 1e-9
    wrong = P.relations_picture(np.full((h, w, 3), 128, np.uint8), insts, [P.DrawnRelation(5, 6, "wrong")], CATS)
    assert (wrong.rgb == P.WRONG_COLOR).all(axis=2).sum() == ys.size
    with pytest.raises(InputError):
        P.relations_picture(np.zeros((h, w, 3), np.uint8), insts, [P.DrawnRelation(5, 9)], CATS)


def test_fit_size_and_nearest_resize():
    assert P.fit_size(480, 640, 320) == (240, 320)
    assert P.fit_size(100, 50, 1000) == (100, 50)
    ids = np.arange(16).reshape(4, 4)
    small = P.resize_nearest(ids, (2, 2))
    assert set(small.ravel().tolist()) <= set(ids.ravel().tolist())


def test_panels_layout_and_legend_strip():
    a = np.zeros((20, 30, 3), np.uint8)
    pic, where = P.panels([a, a, a], ["A", "B", [(P.A_RIGHT_COLOR, "x"), (None, "y")]])
    assert pic.shape[1] == 3 * 30 + 2 * 4 and where[2][0] == 68
    strip = P.title_strip([(P.A_RIGHT_COLOR, "A right")], 100)
    assert (strip == P.A_RIGHT_COLOR).all(axis=2).any()


def test_table_unit_detection():
    pd = pytest.importorskip("pandas")
    assert P.table_unit(pd.DataFrame({"PQ": [0.41, 0.5], "dPQ": [0.0, 0.02]})) == "fraction"
    assert P.table_unit(pd.DataFrame({"PQ": [41.0, 50.0], "dPQ": [0.0, 0.5]})) == "percent"
    assert P.table_unit(pd.DataFrame({"PQ": [0.4]}), "percent") == "percent"


def test_text_coverage_is_legible_size():
    a = P.text_coverage("person 1")
    assert 6 <= a.shape[0] <= 14 and a.shape[1] > 30 and a.max() == 255
    assert math.isclose(P.text_coverage("x").shape[0], P.text_coverage("x").shape[0])


def test_gap_matrix_reads_the_by_category_table_of_evaluate():
    """The columns `rapkit evaluate --by-category -o` writes: the heatmap shows mean_gap,
    never an id column, and the gap is not labelled as a percentage."""
    import pandas as pd

    from rapkit.core.pictures import gap_matrix

    df = pd.DataFrame(
        {
            "front": ["dog", "cup"],
            "back": ["table", "table"],
            "front_id": [18, 47],
            "back_id": [67, 67],
            "mean_gap": [2.5, -0.5],
            "accuracy": [100.0, 40.0],
            "pairs": [4, 5],
        }
    )
    mat, name = gap_matrix(df)
    assert name == "mean_gap"
    assert mat.loc["dog", "table"] == 2.5 and mat.loc["cup", "table"] == -0.5
