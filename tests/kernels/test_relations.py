"""The relation kernels agree with their plain-numpy twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.core.relations import pack_masks
from rapkit.kernels._reference import ref_image_histograms, ref_pair_visibility
from rapkit.kernels.relations import image_histograms, pair_visibility
from rapkit.types import InstanceMask


@st.composite
def scenes(draw):
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    seg_ids = sorted(draw(st.sets(st.integers(1, 1 << 24), max_size=5)))
    pool = [0] + seg_ids
    extra = draw(st.sampled_from([None, 7777777]))  # sometimes an unknown id
    if extra is not None and extra not in seg_ids:
        pool = pool + [extra]
    id_map = np.array(draw(st.lists(st.sampled_from(pool), min_size=h * w, max_size=h * w)), np.uint32).reshape(h, w)
    masks = []
    for k in range(draw(st.integers(0, 5))):
        x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        bw, bh = draw(st.integers(0, w - x0)), draw(st.integers(0, h - y0))
        bits = draw(st.lists(st.booleans(), min_size=bw * bh, max_size=bw * bh))
        masks.append(InstanceMask(k + 1, 1, 0, x0, y0, np.array(bits, bool).reshape(bh, bw)))
    own = [draw(st.sampled_from([-1] + pool)) for _ in masks]
    return id_map, np.array(seg_ids, np.int64), masks, np.array(own, np.int64)


@settings(max_examples=200, deadline=None)
@given(scenes())
def test_kernels_agree_with_twins(scene):
    id_map, seg_ids, masks, own = scene
    boxes, offsets, flat = pack_masks(masks)
    bad, areas, hist = image_histograms(id_map, seg_ids, boxes, offsets, flat)
    rbad, rareas, rhist = ref_image_histograms(id_map, seg_ids, boxes, offsets, flat)
    assert bad == rbad and np.array_equal(areas, rareas) and np.array_equal(hist, rhist)
    ov, vis = pair_visibility(id_map, boxes, offsets, flat, own)
    rov, rvis = ref_pair_visibility(id_map, boxes, offsets, flat, own)
    assert np.array_equal(ov, rov) and np.array_equal(vis, rvis)


def test_wrappers_validate_inputs():
    id_map = np.zeros((4, 4), np.uint32)
    boxes, offsets, flat = pack_masks([InstanceMask(1, 1, 0, 0, 0, np.ones((2, 2), bool))])
    seg = np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="id_map"):
        image_histograms(id_map.astype(np.int64), seg, boxes, offsets, flat)
    with pytest.raises(ValueError, match="C-contiguous"):
        image_histograms(np.zeros((4, 8), np.uint32)[:, ::2], seg, boxes, offsets, flat)
    with pytest.raises(ValueError, match="inside"):
        image_histograms(id_map[:1], seg, boxes, offsets, flat)
    with pytest.raises(ValueError, match="offsets"):
        pair_visibility(id_map, boxes, offsets + 0, flat[:3], np.array([-1]))
    with pytest.raises(ValueError, match="sorted"):
        image_histograms(id_map, np.array([5, 3]), boxes, offsets, flat)
    with pytest.raises(ValueError, match="own"):
        pair_visibility(id_map, boxes, offsets, flat, np.array([-1, 2]))


@pytest.mark.parametrize("bad_at", [None, 0, 15, 16, 17, 33, 1000, 64 * 70 - 1])
def test_long_runs_and_an_unknown_id_anywhere(bad_at):
    """Maps of long runs (the whole-block scan) with one unknown id at a block edge or not."""
    id_map = np.zeros((64, 70), np.uint32)
    id_map[5:40, 3:60] = 7
    id_map[20:64, 30:70] = 9
    if bad_at is not None:
        id_map.reshape(-1)[bad_at] = 12345
    seg_ids = np.array([7, 9], np.int64)
    masks = [
        InstanceMask(1, 1, 0, 0, 0, np.ones((50, 50), bool)),
        InstanceMask(2, 1, 0, 25, 10, np.ones((54, 45), bool)),
    ]
    boxes, offsets, flat = pack_masks(masks)
    got = image_histograms(id_map, seg_ids, boxes, offsets, flat)
    ref = ref_image_histograms(id_map, seg_ids, boxes, offsets, flat)
    assert got[0] == ref[0] == (-1 if bad_at is None else 12345)
    assert np.array_equal(got[1], ref[1]) and np.array_equal(got[2], ref[2])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_match_weights_equals_twin(data):
    """The matching weights bit for bit (float64) and the easy pairs, against the numpy twin."""
    from rapkit.kernels._reference_relations import ref_match_weights
    from rapkit.kernels.relations import match_weights

    n, s = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))
    hist = np.array(data.draw(st.lists(st.integers(0, 5000), min_size=n * (s + 1), max_size=n * (s + 1))), np.int64)
    hist = hist.reshape(n, s + 1)
    areas = hist.sum(axis=1) + np.array(data.draw(st.lists(st.integers(0, 99), min_size=n, max_size=n)), np.int64)
    seg_areas = hist.sum(axis=0) + np.array(data.draw(st.lists(st.integers(0, 99), min_size=s + 1, max_size=s + 1)))
    seg_areas = seg_areas.astype(np.int64)
    cats = st.lists(st.integers(1, 3), min_size=n, max_size=n)
    inst_cat = np.array(data.draw(cats), np.int64)
    seg_cat = np.array(data.draw(st.lists(st.integers(1, 3), min_size=s, max_size=s)), np.int64)
    seg_crowd = np.array(data.draw(st.lists(st.booleans(), min_size=s, max_size=s)), bool)
    got = match_weights(hist, areas, seg_areas, inst_cat, seg_cat, seg_crowd)
    ref = ref_match_weights(hist, areas, seg_areas, inst_cat, seg_cat, seg_crowd)
    assert got[0].tobytes() == ref[0].reshape(n, s).tobytes()
    for a, b in zip(got[1:], ref[1:], strict=True):
        assert a.tolist() == b.tolist()
