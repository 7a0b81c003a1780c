"""Fusion kernels == their numpy twins (rapkit.kernels._reference_fusion) on random scenes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as cm

from rapkit.kernels import _reference as ref
from rapkit.kernels import fusion, png_encode, rle

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(m: np.ndarray) -> bytes:
    return cm.encode(np.asfortranarray(m.astype(np.uint8)))["counts"]


@st.composite
def scenes(draw, max_n: int = 10):
    h = draw(st.integers(1, 18))
    w = draw(st.integers(1, 18))
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(n):
        kind = rng.integers(0, 4)
        m = np.zeros((h, w), bool)
        if kind == 0:  # empty
            pass
        elif kind == 1:  # rectangle
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1)] = True
        elif kind == 2:  # ragged blob
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1)] = True
            m &= rng.random((h, w)) < 0.7
        else:  # near-duplicate of an earlier mask
            if masks:
                m = masks[rng.integers(0, len(masks))].copy()
                m ^= rng.random((h, w)) < 0.1
        masks.append(m)
    scores = rng.choice([0.3, 0.5, 0.6, 0.8, 1.0], size=n)  # ties on purpose
    rels = rng.choice([0.0, 1.0, 2.0, 3.0], size=n).astype(np.float64)  # ties on purpose
    labels = rng.integers(1, 4, size=n).astype(np.int64)
    return h, w, masks, scores, rels, labels


def decode(h, w, masks):
    return rle.decode_rles([encode(m) for m in masks], h, w)


@SETTINGS
@given(scenes())
def test_rle_decode_matches_twin_and_pycocotools(scene):
    h, w, masks, *_ = scene
    got = decode(h, w, masks)
    want = ref.ref_decode_rles([encode(m) for m in masks], h, w)
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    assert np.array_equal(ref.full_masks(got[0], got[2], got[3], h, w), np.array(masks, bool).reshape(len(masks), h, w))


def test_rle_decode_large_runs_and_bad_strings():
    h, w = 300, 7
    m = np.zeros((h, w), bool)
    m[:, 2:5] = True  # runs spanning whole columns (multi-char counts)
    m[5, 0] = True
    counts = [encode(m), encode(np.ones((h, w))), b"", b"0", b"@"]
    got = rle.decode_rles(counts, h, w)
    want = ref.ref_decode_rles(counts, h, w)
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    assert got[4].tolist() == [0, 0, 2, 2, 1]
    assert got[0][0].tolist() == [0, 5, 0, 300] and got[1][1] == h * w


@SETTINGS
@given(
    scenes(),
    st.sampled_from(list(itertools.product([False, True], repeat=4))),
    st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]),
    st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]),
    st.booleans(),
    st.booleans(),
)
def test_fuse_kernel_matches_twin(scene, flags, tau, gamma, cached, events):
    h, w, masks, scores, rels, labels = scene
    boxes, areas, offs, flat, _ = decode(h, w, masks)
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    order = np.ascontiguousarray(order[scores[order] >= 0.5])
    ra, ca, eo, reference = flags
    kw = dict(tau=tau, gamma=gamma, ra=ra, ca=ca, eo=eo, reference=reference, record_events=events)
    ov = fusion.pairwise_overlaps(boxes, offs, flat) if cached else None
    got = fusion.fuse_instances(boxes, areas, offs, flat, labels, rels, order, w, h, overlaps=ov, **kw)
    want = ref.ref_fuse_instances(boxes, areas, offs, flat, labels, rels, order, w, h, **kw)
    for name, a, b in zip(["canvas", "status", "visible", "events"], got, want):
        assert np.array_equal(a, b), name
    if events:  # the events do not change the decisions
        quiet = fusion.fuse_instances(
            boxes, areas, offs, flat, labels, rels, order, w, h, overlaps=ov, **dict(kw, record_events=False)
        )
        assert np.array_equal(quiet[0], got[0]) and np.array_equal(quiet[1], got[1]) and quiet[3].shape == (0, 2)


@SETTINGS
@given(scenes())
def test_pairwise_overlaps_match_twin(scene):
    h, w, masks, *_ = scene
    boxes, areas, offs, flat, _ = decode(h, w, masks)
    got = fusion.pairwise_overlaps(boxes, offs, flat)
    fm = np.array(masks, bool).reshape(len(masks), h * w).astype(np.int64)
    want = fm @ fm.T
    np.fill_diagonal(want, 0)
    assert np.array_equal(got, want)
    assert np.array_equal(got, ref.ref_pairwise_overlaps(boxes, offs, flat))


@SETTINGS
@given(st.integers(1, 20), st.integers(1, 20), st.integers(0, 2**31 - 1), st.integers(0, 40), st.booleans())
def test_compose_matches_twin(h, w, seed, stuff_area, with_sem):
    rng = np.random.default_rng(seed)
    n = 5
    canvas = np.where(rng.random((h, w)) < 0.4, rng.integers(1, n + 1, (h, w)), 0).astype(np.int32)
    sem = rng.choice(np.array([0, 5, 6, 7, 200, 255], np.uint8), size=(h, w)) if with_sem else None
    is_stuff = np.zeros(256, bool)
    is_stuff[[5, 7, 200]] = True
    lut = np.zeros(n + 1, np.uint32)
    keep = np.nonzero(rng.random(n) < 0.7)[0] + 1
    lut[keep] = np.arange(1, keep.size + 1, dtype=np.uint32)
    got = fusion.compose(canvas, sem, is_stuff, stuff_area, lut, keep.size)
    want = ref.ref_compose(canvas, sem, is_stuff, stuff_area, lut, keep.size)
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    assert got[2].sum() == h * w


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_png_rows_match_twin(h, w, seed):
    ids = np.random.default_rng(seed).integers(0, 1 << 24, (h, w)).astype(np.uint32)
    ids[h // 2 :] = ids[0]  # repeated rows
    assert np.array_equal(png_encode.png_up_rows(ids), ref.ref_png_up_rows(ids))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 9), st.integers(1, 300), st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_png_idat_matches_twin_and_inflates_to_the_rows(h, w, seed, kind):
    import zlib

    rng = np.random.default_rng(seed)
    if kind == 0:  # blocks, like a panoptic map
        ids = np.zeros((h, w), np.uint32)
        for _ in range(int(rng.integers(0, 6))):
            y, x = rng.integers(0, h), rng.integers(0, w)
            ids[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = rng.integers(0, 1 << 24)
    elif kind == 1:  # few values, short runs
        ids = (rng.integers(0, 3, (h, w)) * rng.integers(0, 1 << 22)).astype(np.uint32)
    elif kind == 2:  # noise
        ids = rng.integers(0, 1 << 24, (h, w)).astype(np.uint32)
    else:  # long constant rows (matches split at 258 bytes)
        ids = np.full((h, w), rng.integers(0, 1 << 24), np.uint32)
        ids[h // 2 :, : w // 3] = 0
    got = png_encode.png_idat(ids)
    assert zlib.decompress(got.tobytes()) == png_encode.png_up_rows(ids).tobytes()
    assert np.array_equal(got, ref.ref_png_idat(ids))


def test_wrappers_reject_bad_arrays():
    z = np.zeros
    good = dict(
        boxes=z((1, 4), np.int64),
        areas=z(1, np.int64),
        offsets=z(2, np.int64),
        masks=z(0, np.uint8),
        labels=z(1, np.int64),
        relations=z(1),
        order=z(1, np.int64),
    )
    kw = dict(tau=0.5, gamma=0.5, ra=True, ca=True, eo=True, reference=False)
    fusion.fuse_instances(*good.values(), 2, 2, **kw)
    bad = dict(good, labels=z(1, np.int32))
    with pytest.raises(ValueError, match="labels"):
        fusion.fuse_instances(*bad.values(), 2, 2, **kw)
    bad = dict(good, order=np.array([3], np.int64))
    with pytest.raises(ValueError, match="order"):
        fusion.fuse_instances(*bad.values(), 2, 2, **kw)
    with pytest.raises(ValueError, match="canvas"):
        fusion.compose(z((2, 2), np.int64), None, z(256, bool), 1, z(1, np.uint32), 0)
    with pytest.raises(ValueError, match="semantic"):
        fusion.compose(z((2, 3), np.int32), z((3, 2), np.uint8), z(256, bool), 1, z(1, np.uint32), 0)
    with pytest.raises(ValueError, match="chars"):
        rle.decode_packed(z(3, np.int64), z(2, np.int64), 2, 2)
