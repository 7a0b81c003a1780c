"""The polygon rasteriser equals pycocotools (``frPyObjects`` + ``merge`` + decode) bit for
bit, and its plain-numpy twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from rapkit.io.coco import decode_instances, load_instances
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
