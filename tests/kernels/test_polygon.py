"""The polygon rasteriser equals pycocotools (``frPyObjects`` + ``merge`` + decode) bit for
bit, and its plain-numpy twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from rapkit.io.coco import decode_instances, decode_instances_packed, load_instances
from rapkit.kernels._reference_polygon import ref_decode_polygons
from rapkit.kernels.polygon import decode_polygons, pack_polygons
from rapkit.kernels.rle import decode_rles


def _pycocotools(segmentations: list, h: int, w: int):
    """The oracle: each annotation's polygons through pycocotools, decoded into crops."""
    counts = []
    for seg in segmentations:
        rles = mask_utils.frPyObjects(seg, h, w)
        counts.append((mask_utils.merge(rles) if len(rles) > 1 else rles[0])["counts"])
    return decode_rles(counts, h, w)


def _assert_same(a, b) -> None:
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


coord = st.one_of(
    st.floats(-6, 30, allow_nan=False, width=64),
    st.integers(-3, 28).map(float),
    st.integers(-6, 60).map(lambda v: v / 2),  # exact halves: the rounding edges
    st.integers(-30, 150).map(lambda v: v / 5 - 0.1),  # exact upsampled points and just below
)


@st.composite
def polygon(draw):
    k = draw(st.integers(3, 7))
    pts = [draw(coord) for _ in range(2 * k)]
    if draw(st.booleans()):  # repeated and nearly repeated vertices: zero-length edges
        j = draw(st.integers(0, k - 2))
        eps = draw(st.sampled_from([0.0, 0.01, 0.09, 0.11]))
        pts[2 * j + 2 : 2 * j + 4] = [pts[2 * j] + eps, pts[2 * j + 1]]
    if draw(st.booleans()):  # collinear / flat polygons
        pts[1::2] = [pts[1]] * k
    return pts


@settings(max_examples=250, deadline=None)
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    segs=st.lists(st.lists(polygon(), min_size=1, max_size=3), min_size=1, max_size=3),
)
def test_equals_pycocotools_and_twin(h, w, segs):
    got = decode_polygons(*pack_polygons(segs), h, w)
    _assert_same(got, _pycocotools(segs, h, w))
    _assert_same(got, ref_decode_polygons(*pack_polygons(segs), h, w))


def test_synthetic_world_polygons(synth_world):
    """Every polygon annotation of a synthetic world, and ``decode_instances`` both ways."""
    ds = load_instances(synth_world(n_images=6, height=120, width=160).instances)
    n = 0
    for iid, anns in ds.by_image.items():
        info = ds.images[iid]
        segs = [a["segmentation"] for a in anns if isinstance(a["segmentation"], list)]
        n += len(segs)
        if segs:
            _assert_same(
                decode_polygons(*pack_polygons(segs), info.height, info.width),
                _pycocotools(segs, info.height, info.width),
            )
        fast = decode_instances(anns, info.height, info.width)
        slow = decode_instances(anns, info.height, info.width, fast=False)
        assert [(m.id, m.x0, m.y0, m.area) for m in fast] == [(m.id, m.x0, m.y0, m.area) for m in slow]
        assert all(np.array_equal(a.mask, b.mask) for a, b in zip(fast, slow))
    assert n > 0


def test_image_border_and_far_points():
    segs = [
        [[-40.0, -40.0, 90.0, -40.0, 90.0, 90.0, -40.0, 90.0]],
        [[0, 0, 7.5, 0, 7.5, 5.5, 0, 5.5]],
        [[3, 3, 3.04, 3, 3.01, 3.02]],
    ]
    _assert_same(decode_polygons(*pack_polygons(segs), 6, 8), _pycocotools(segs, 6, 8))


def test_wrapper_checks():
    c, p, a = pack_polygons([[[0, 0, 2, 0, 2, 2]]])
    with pytest.raises(ValueError, match="finite"):
        decode_polygons(np.array([0, 0, np.nan, 0, 2, 2.0]), p, a, 4, 4)
    with pytest.raises(ValueError, match="size"):
        decode_polygons(c, p, a, 0, 4)
    with pytest.raises(ValueError, match="coords"):
        decode_polygons(c.astype(np.float32), p, a, 4, 4)
    with pytest.raises(ValueError, match="ann_polys"):
        decode_polygons(c, p, np.array([0, 2]), 4, 4)


def test_packed_decoding_equals_masks_and_relations(synth_world):
    """``decode_instances_packed`` (polygons and RLE, crowd left out) lays the masks out as
    ``pack_masks`` of ``decode_instances``; ``gather_rows`` equals its twin; and
    ``relations_of_packed`` equals ``extract_relations`` on every image of a world."""
    from rapkit.core.relations import extract_relations, pack_masks, relations_of_packed
    from rapkit.io.panoptic import load_panoptic
    from rapkit.io.png import read_id_map_fast
    from rapkit.kernels._reference_polygon import ref_gather_rows
    from rapkit.kernels.polygon import gather_rows

    w = synth_world(n_images=6, height=120, width=160)
    ds, pan = load_instances(w.instances), load_panoptic(w.panoptic)
    for iid, anns in ds.by_image.items():
        info, pa = ds.images[iid], pan.annotations[iid]
        keep = [not a.get("iscrowd", 0) for a in anns]
        got = decode_instances_packed(anns, info.height, info.width, keep)
        masks = [m for m in decode_instances(anns, info.height, info.width) if not m.iscrowd]
        for a, b in zip(got[:3], pack_masks(masks), strict=True):
            assert np.array_equal(a, b)
        assert got[3].tolist() == [m.area for m in masks]
        ids = read_id_map_fast(pan.png_dir / pa.file_name, image_id=iid)
        r = relations_of_packed(ids, pa.segments, [m.id for m in masks], np.array([m.category_id for m in masks]),
                                got[3], *got[:3], 0.1, image_id=iid, n_crowd=len(anns) - len(masks))  # fmt: skip
        assert r == extract_relations(
            decode_instances(anns, info.height, info.width), ids, pa.segments, 0.1, image_id=iid
        )
    segs = [[[0, 0, 5, 0, 5, 3]], [[1, 1, 7, 2, 2, 6]], [[9, 9, 9.5, 9, 9, 9.2]]]
    d = decode_polygons(*pack_polygons(segs), 8, 10)
    src, idx = np.array([0, 1, 0, 1]), np.array([2, 0, 1, 1])
    for a, b in zip(gather_rows(d, d, src, idx), ref_gather_rows(d, d, src, idx), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="src"):
        gather_rows(d, d, np.array([2]), np.array([0]))
