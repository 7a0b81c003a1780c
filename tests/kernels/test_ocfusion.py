"""OCFusion's fusion kernel (rapkit.kernels.ocfusion) == its numpy twin
(rapkit.kernels._reference_ocfusion) on random scenes, and each comparison of both variants on
hand-built cases (docs/fusion.md, "OCFusion (strategy ocfusion), exactly")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.kernels import _reference as ref
from rapkit.kernels import fusion, ocfusion, sweep
from rapkit.kernels.status import CANVAS, EMPTIED, EMPTY, KEPT, SCORE, UNSEEN, reported

from .test_fusion import scenes

NAN = float("nan")


def fuse_both(masks, scores, labels, logits, *, tau=0.5, original=False, h=None, w=None):
    """Kernel and twin on full masks; asserts they agree; ``(canvas, status, events)``."""
    masks = [np.asarray(m, bool) for m in masks]
    n = len(masks)
    if n:
        h, w = masks[0].shape
    runs = ref.runs_from_full(masks, h, w)
    boxes, areas, col_offs, col_ptr, y0, y1 = runs
    sc = np.asarray(scores, np.float64).reshape(n)
    order = np.argsort(-sc, kind="stable").astype(np.int64)
    order = order[sc[order] >= 0]  # a negative score: below rho
    lab = np.asarray(labels, np.int64).reshape(n)
    lg = np.asarray(logits, np.float64).reshape(n, n)
    args = (boxes, areas, col_offs, col_ptr, y0, y1, lab, order, w, h, lg)
    got = ocfusion.fuse_ocfusion(*args, tau=tau, original=original, record_events=True)
    want = ref.ref_fuse_ocfusion(*args, tau=tau, original=original, record_events=True)
    for name, a, b in zip(("canvas", "status", "visible", "events"), got, want):
        assert np.array_equal(a, b), name
    return got[0], reported(got[1]), got[3]


def row(width: int, *spans: tuple[int, int]) -> np.ndarray:
    """A 1-row mask holding the columns ``[a, b)`` of each span."""
    m = np.zeros((1, width), bool)
    for a, b in spans:
        m[0, a:b] = True
    return m


def logits_of(n: int, **pairs: float) -> np.ndarray:
    """``logits_of(3, p1_0=2.0)``: proposal 1 occludes proposal 0 with logit 2."""
    out = np.full((n, n), NAN)
    for key, v in pairs.items():
        i, j = key[1:].split("_")
        out[int(i), int(j)] = v
    return out


# ------------------------------------------------------------------ the variants agree


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenes(),
    st.data(),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    st.booleans(),
)
def test_kernel_matches_twin(scene, data, tau, original):
    h, w, masks, scores, _rels, labels = scene
    n = len(masks)
    # logits near both variants' cuts (0 and 0.5) and missing pairs
    values = st.sampled_from([NAN, -3.0, 0.0, 0.3, 0.5, 0.7, 3.0])
    lg = np.array(data.draw(st.lists(values, min_size=n * n, max_size=n * n)), np.float64).reshape(n, n)
    # proposals below rho are not in the order
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    canvas, status, _ = fuse_both(masks, np.where(keep, scores, -1.0), labels, lg, tau=tau, original=original, h=h, w=w)
    assert np.all(status[np.unique(canvas[canvas > 0]) - 1] == KEPT)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.data(), st.sampled_from([0.0, 0.3, 0.5, 1.0]), st.booleans())
def test_atom_kernel_matches_its_twin_and_the_pixel_kernel(scene, data, tau, original):
    h, w, masks, scores, _rels, labels = scene
    n = len(masks)
    values = st.sampled_from([NAN, -3.0, 0.0, 0.3, 0.7, 3.0])
    lg = np.array(data.draw(st.lists(values, min_size=n * n, max_size=n * n)), np.float64).reshape(n, n)
    sem = np.array(data.draw(st.lists(st.sampled_from([0, 3]), min_size=h * w, max_size=h * w)), np.uint8)
    runs = ref.runs_from_full([np.asarray(m, bool) for m in masks], h, w)
    boxes, areas = runs[0], runs[1]
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    order = np.ascontiguousarray(order[scores[order] >= 0.5])
    canvas, st_px, vis_px, _ = ocfusion.fuse_ocfusion(*runs, labels, order, w, h, lg, tau=tau, original=original)
    overlaps = fusion.pairwise_overlaps(boxes, *runs[2:])
    keys = sweep.xmajor_keys(np.zeros((h, w), np.uint32), sem.reshape(h, w))
    weight, base, base_keys, ptr, idx = sweep.build_atoms(keys, h, boxes, *runs[2:])
    args = (weight, ptr, idx, areas, labels, order, overlaps, lg)
    owner, st_at, vis_at = ocfusion.fuse_atoms_ocfusion(*args, tau=tau, original=original)
    twin = ref.ref_fuse_atoms_ocfusion(*args, tau=tau, original=original)
    assert np.array_equal(owner, twin[0]) and np.array_equal(st_at, twin[1]) and np.array_equal(vis_at, twin[2])
    assert np.array_equal(st_px, st_at) and np.array_equal(vis_px, vis_at)
    # every pixel's owner is its atom's
    cover = [set() for _ in range(weight.shape[0])]
    for k in range(n):
        for a in idx[ptr[k] : ptr[k + 1]]:
            cover[int(a)].add(k)
    atom_of = {(int(base_keys[base[a]]), frozenset(cover[a])): a for a in range(weight.shape[0])}
    for y in range(h):
        for x in range(w):
            sig = (int(keys[x * h + y]), frozenset(k for k in range(n) if masks[k][y, x]))
            assert canvas[y, x] - 1 == owner[atom_of[sig]], (y, x)


def test_proposals_outside_the_order_are_unseen():
    masks = [row(4, (0, 2)), row(4, (1, 4))]
    runs = ref.runs_from_full(masks, 1, 4)
    out = ocfusion.fuse_ocfusion(
        *runs, np.array([1, 1]), np.array([1], np.int64), 4, 1, np.full((2, 2), NAN), tau=0.5, original=False
    )
    assert out[1].tolist() == [UNSEEN, KEPT] and reported(out[1]).tolist() == [SCORE, KEPT]


# ------------------------------------------------------------------ reference variant (RAP's code)


def test_reference_pair_met_by_either_share():
    # j = [0, 20) kept first; i = [17, 27): o = 3, o/|I_i| = 0.3 >= 0.2, o/|seg_j| = 0.15
    masks = [row(30, (0, 20)), row(30, (17, 27))]
    canvas, status, ev = fuse_both(masks, [0.9, 0.8], [1, 1], logits_of(2, p1_0=2.0))
    assert status.tolist() == [KEPT, KEPT] and canvas[0, 17:20].tolist() == [2, 2, 2]  # reclaimed
    assert ev.tolist() == [[1, 0]]
    # j = [0, 10); i = [8, 28): o = 2, o/|I_i| = 0.1, o/|seg_j| = 0.2 (met: >=)
    masks = [row(30, (0, 10)), row(30, (8, 28))]
    canvas, status, ev = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=2.0))
    assert canvas[0, 8:10].tolist() == [2, 2] and ev.tolist() == [[1, 0]]


def test_reference_pair_below_theta_is_not_asked():
    # j = [0, 20); i = [19, 39): o = 1: 0.05 and 0.05, not met; the logit is not read
    masks = [row(40, (0, 20)), row(40, (19, 39))]
    canvas, status, ev = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=5.0))
    assert canvas[0, 19] == 1 and status.tolist() == [KEPT, KEPT] and ev.tolist() == []


def test_reference_share_is_of_the_visible_segment():
    # k = [0, 10) first, j = [5, 25) second (front of k: takes [5, 10)), i = [3, 8) third:
    # it meets seg_k = [0, 5) on [3, 5) and seg_j = [5, 25) on [5, 8); |seg_j| = 20: 3/20 < 0.2,
    # but 3/|I_i| = 0.6: met; the full-mask overlap |I_i ∩ I_j| plays no part
    masks = [row(30, (0, 10)), row(30, (5, 25)), row(30, (3, 8))]
    lg = logits_of(3, p1_0=1.0, p2_0=-1.0, p2_1=1.0)
    canvas, status, ev = fuse_both(masks, [0.9, 0.8, 0.7], [1, 2, 3], lg, tau=0.2)
    assert canvas[0].tolist()[:10] == [1, 1, 1, 1, 1, 3, 3, 3, 2, 2]
    assert ev.tolist() == [[1, 0], [2, 0], [2, 1]]  # ascending owner, as np.unique


def test_reference_in_front_is_logit_above_zero_and_missing_is_behind():
    masks = [row(10, (0, 10)), row(10, (5, 10))]
    for logit, front in ((0.0, False), (1e-9, True), (-2.0, False), (NAN, False), (0.3, True)):
        canvas, status, _ = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=logit), tau=0.0)
        assert (status[1] == KEPT) == front, logit  # nothing free: kept only by reclaiming
        assert (canvas[0, 5] == 2) == front


def test_reference_has_no_category_logic():
    masks = [row(10, (0, 10)), row(10, (5, 10))]
    canvas, status, _ = fuse_both(masks, [0.9, 0.8], [7, 7], logits_of(2, p1_0=1.0), tau=0.0)
    assert status.tolist() == [KEPT, KEPT] and canvas[0, 5:].tolist() == [2] * 5


def test_reference_drop_is_kept_share_at_most_tau():
    # i = [5, 15): 5 of its 10 pixels free, j's 5 not reclaimed (logit < 0): kept share 0.5
    masks = [row(20, (0, 10)), row(20, (5, 15))]
    for tau, kept in ((0.5, False), (0.49, True)):
        _, status, _ = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=-1.0), tau=tau)
        assert (status[1] == KEPT) == kept and (status[1] == CANVAS) != kept
    # reclaimed pixels count as kept: 10/10 > 0.99
    _, status, _ = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=1.0), tau=0.99)
    assert status.tolist() == [KEPT, KEPT]


def test_no_occupied_pixel_means_no_drop_check():
    masks = [row(10, (0, 5)), row(10, (5, 10))]
    for original in (False, True):
        _, status, ev = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2), tau=1.0, original=original)
        assert status.tolist() == [KEPT, KEPT] and ev.tolist() == []  # 5/5 <= 1.0 would drop


def test_reclaimed_segment_left_empty_is_removed():
    masks = [row(10, (2, 6)), row(10, (0, 10)), row(10, (0, 0))]
    canvas, status, _ = fuse_both(masks, [0.9, 0.8, 0.7], [1, 2, 3], logits_of(3, p1_0=4.0))
    assert status.tolist() == [EMPTIED, KEPT, EMPTY] and canvas[0].tolist() == [2] * 10


def test_score_ties_keep_file_order():
    masks = [row(10, (0, 6)), row(10, (4, 10))]
    canvas, status, ev = fuse_both(masks, [0.5, 0.5], [1, 2], logits_of(2, p0_1=3.0, p1_0=3.0))
    assert ev.tolist() == [[1, 0]] and canvas[0, 4:6].tolist() == [2, 2]


# ------------------------------------------------------------------ original variant (OCFusion's code)


def test_original_asks_only_pairs_of_different_classes():
    masks = [row(10, (0, 10)), row(10, (5, 10))]
    _, status, ev = fuse_both(masks, [0.9, 0.8], [3, 3], logits_of(2, p1_0=9.0), tau=0.0, original=True)
    assert status.tolist() == [KEPT, CANVAS] and ev.tolist() == []
    canvas, status, ev = fuse_both(masks, [0.9, 0.8], [3, 4], logits_of(2, p1_0=9.0), tau=0.0, original=True)
    assert status.tolist() == [KEPT, KEPT] and canvas[0, 5:].tolist() == [2] * 5 and ev.tolist() == [[1, 0]]


def test_original_share_is_of_the_new_proposal_full_mask_float32():
    # j = [0, 10); i = [8, 28): o/|I_i| = 0.1 (o/|I_j| = 0.2 does not count): not asked
    masks = [row(30, (0, 10)), row(30, (8, 28))]
    canvas, _, ev = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=9.0), original=True)
    assert canvas[0, 8:10].tolist() == [1, 1] and ev.tolist() == []
    # o/|I_i| = 2/10 exactly: 2/(10 + 0.0001) rounds below float32(0.2): not asked
    masks = [row(30, (0, 10)), row(30, (8, 18))]
    canvas, _, ev = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=9.0), original=True)
    assert canvas[0, 8:10].tolist() == [1, 1] and ev.tolist() == []
    # 3/10: asked, in front
    masks = [row(30, (0, 10)), row(30, (7, 17))]
    canvas, _, ev = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=9.0), original=True)
    assert canvas[0, 7:10].tolist() == [2, 2, 2] and ev.tolist() == [[1, 0]]


def test_original_share_is_of_the_full_masks_reference_of_the_segment():
    # k = [0, 40); j = [5, 15) in front of k takes [5, 15); i = [4, 14) meets seg_k on [4, 5)
    # only: reference 1/|I_i| = 0.1 and 1/|seg_k| = 1/30, not asked; original |I_i ∩ I_k| = 10,
    # 1.0 of I_i: asked, reclaims pixel 4
    masks = [row(60, (0, 40)), row(60, (5, 15)), row(60, (4, 14))]
    lg = logits_of(3, p1_0=1.0, p2_0=1.0, p2_1=-1.0)
    canvas, status, ev = fuse_both(masks, [0.9, 0.8, 0.7], [1, 2, 3], lg, tau=0.95, original=True)
    assert status.tolist() == [KEPT, KEPT, KEPT] and canvas[0, 4] == 3 and ev.tolist() == [[1, 0], [2, 0], [2, 1]]
    canvas, status, ev = fuse_both(masks, [0.9, 0.8, 0.7], [1, 2, 3], lg, tau=0.0)
    assert status.tolist() == [KEPT, KEPT, CANVAS] and canvas[0, 4] == 1 and ev.tolist() == [[1, 0], [2, 1]]


def test_original_in_front_is_raw_logit_above_half():
    masks = [row(10, (0, 10)), row(10, (5, 10))]
    for logit, front in ((0.3, False), (0.5, False), (0.51, True), (NAN, False)):
        _, status, _ = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=logit), tau=0.0, original=True)
        assert (status[1] == KEPT) == front, logit


def test_original_drop_is_occluded_share_above_tau():
    # i = [5, 15): 5 of 10 occupied, not reclaimed: occluded share 0.5
    masks = [row(20, (0, 10)), row(20, (5, 15))]
    for tau, kept in ((0.5, True), (0.49, False)):
        _, status, _ = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=0.0), tau=tau, original=True)
        assert (status[1] == KEPT) == kept
    _, status, _ = fuse_both(masks, [0.9, 0.8], [1, 2], logits_of(2, p1_0=0.9), tau=0.0, original=True)
    assert status[1] == KEPT  # all reclaimed: occluded share 0


def test_wrapper_checks_the_logits():
    masks = [row(4, (0, 2))]
    runs = ref.runs_from_full(masks, 1, 4)
    with pytest.raises(ValueError, match="logits"):
        ocfusion.fuse_ocfusion(*runs, np.array([1]), np.array([0]), 4, 1, np.zeros((2, 2)), tau=0.5, original=False)


def test_pair_matrix():
    m = ocfusion.pair_matrix(3, np.array([0, 2]), np.array([1, 0]), np.array([1.5, -2.0]))
    assert (
        m[0, 1] == 1.5
        and m[2, 0] == -2.0
        and np.isnan(m[1, 0])
        and np.isnan(ocfusion.pair_matrix(2, None, None, None)).all()
    )
