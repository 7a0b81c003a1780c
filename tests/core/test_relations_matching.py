"""The one-matrix matching of ``extract_relations`` equals the per-category matching it
replaced (written out here as the reference), on random scenes with several categories,
crowd segments, shared pixels and ties."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.core.relations import extract_relations, match_instances, pack_masks
from rapkit.kernels._reference_relations import ref_image_histograms
from rapkit.types import InstanceMask, Segment


def _reference_matches(insts, id_map, segments) -> dict[int, int]:
    seg_sorted = sorted(segments, key=lambda s: s.id)
    seg_ids = np.array([s.id for s in seg_sorted], np.int64)
    _, seg_areas, hist = ref_image_histograms(id_map, seg_ids, *pack_masks(insts))
    seg_by_label = {k + 1: s for k, s in enumerate(seg_sorted)}
    areas = np.array([m.area for m in insts], dtype=np.int64)
    out = {}
    for cat in sorted({m.category_id for m in insts}):
        rows = [k for k, m in enumerate(insts) if m.category_id == cat]
        cols = [lab for lab, s in seg_by_label.items() if s.category_id == cat and not s.iscrowd]
        if not cols:
            continue
        inter = hist[np.ix_(rows, cols)].astype(np.float64)
        union = areas[rows][:, None] + seg_areas[cols][None, :] - inter
        wts = inter + (0.5 / (len(rows) + 1)) * np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        for r, c in match_instances(wts):
            out[insts[rows[r]].id] = seg_by_label[cols[c]].id
    return out


@st.composite
def scenes(draw):
    h, w = draw(st.integers(2, 8)), draw(st.integers(2, 8))
    n_seg = draw(st.integers(0, 6))
    segs = [
        Segment(10 + k, draw(st.integers(1, 3)), 0, (0, 0, w, h), iscrowd=int(draw(st.integers(0, 4)) == 0))
        for k in range(n_seg)
    ]
    pool = [0] + [s.id for s in segs]
    id_map = np.array(draw(st.lists(st.sampled_from(pool), min_size=h * w, max_size=h * w)), np.uint32).reshape(h, w)
    insts = []
    for k in range(draw(st.integers(0, 6))):
        x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        bw, bh = draw(st.integers(1, w - x0)), draw(st.integers(1, h - y0))
        bits = np.array(draw(st.lists(st.booleans(), min_size=bw * bh, max_size=bw * bh)), bool).reshape(bh, bw)
        insts.append(InstanceMask(100 + k, draw(st.integers(1, 3)), 0, x0, y0, bits))
    return insts, id_map, segs


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_matching_equals_per_category_reference(scene):
    insts, id_map, segs = scene
    r = extract_relations(insts, id_map, segs, kernels="numpy")
    assert r.matches == _reference_matches(insts, id_map, segs)
    assert r.unmatched == [m.id for m in insts if m.id not in r.matches]
