"""Fusion kernels (RLE decoding, the run kernel, compose, the PNG encoder) == their numpy twins
(rapkit.kernels._reference_fusion, _reference_png_encode) on random scenes."""

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


def pixel_bytes(draw, h: int, w: int, per_pixel: int = 1) -> np.ndarray:
    """``per_pixel`` hypothesis-drawn bytes for every pixel, as an (h, w, per_pixel) uint8 array
    (one draw, so that large images stay within hypothesis's budget; shrinks towards zeros)."""
    raw = draw(st.binary(min_size=h * w * per_pixel, max_size=h * w * per_pixel))
    return np.frombuffer(raw, np.uint8).reshape(h, w, per_pixel)


def pixel_ids(draw, h: int, w: int) -> np.ndarray:
    """Any (h, w) map of 24-bit ids."""
    b = pixel_bytes(draw, h, w, 3).astype(np.uint32)
    return b[..., 0] | b[..., 1] << 8 | b[..., 2] << 16


def sparse_bits(draw, h: int, w: int, planes: int) -> np.ndarray:
    """Any (h, w) boolean mask, each pixel True with chance 2**-planes (the AND of ``planes``
    drawn bit planes); shrinks towards all False."""
    size = h * w
    raw = draw(st.binary(min_size=planes * -(-size // 8), max_size=planes * -(-size // 8)))
    bits = np.unpackbits(np.frombuffer(raw, np.uint8)).reshape(planes, -1)[:, :size]
    return bits.all(axis=0).reshape(h, w)


ATTRIBUTES = list(itertools.product([0.3, 0.5, 0.6, 0.8, 1.0], [0.0, 1.0, 2.0, 3.0], [1, 2, 3]))
KINDS = st.sampled_from(["empty", "rectangle", "ragged", "near-duplicate"])


@st.composite
def scenes(draw, max_n: int = 10):
    h = draw(st.integers(1, 18))
    w = draw(st.integers(1, 18))
    n = draw(st.integers(0, max_n))
    masks = []
    rects = st.tuples(st.integers(0, h - 1), st.integers(0, w - 1), st.integers(1, h), st.integers(1, w))
    for kind in draw(st.lists(KINDS, min_size=n, max_size=n)):
        m = np.zeros((h, w), bool)
        if kind in ("rectangle", "ragged"):
            y0, x0, dy, dx = draw(rects)
            m[y0 : y0 + dy, x0 : x0 + dx] = True
            if kind == "ragged":  # the rectangle with holes (about a quarter of it; any set of them)
                m &= ~sparse_bits(draw, h, w, 2)
        elif kind == "near-duplicate" and masks:  # an earlier mask with pixels flipped (about 1 in 8)
            m = masks[draw(st.integers(0, len(masks) - 1))] ^ sparse_bits(draw, h, w, 3)
        masks.append(m)
    # score, relation, label of each: ties on purpose
    attrs = draw(st.lists(st.sampled_from(ATTRIBUTES), min_size=n, max_size=n))
    scores = np.array([a[0] for a in attrs], np.float64).reshape(n)
    rels = np.array([a[1] for a in attrs], np.float64).reshape(n)
    labels = np.array([a[2] for a in attrs], np.int64).reshape(n)
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


def decode_runs(h, w, masks, need=None):
    return rle.decode_rle_runs([encode(m) for m in masks], h, w, need)


@SETTINGS
@given(scenes(), st.data())
def test_rle_runs_match_twin_and_the_masks(scene, data):
    h, w, masks, *_ = scene
    need = np.array(data.draw(st.lists(st.booleans(), min_size=len(masks), max_size=len(masks))), bool)
    got = decode_runs(h, w, masks, need)
    want = ref.ref_decode_rle_runs([encode(m) for m in masks], h, w, need)
    for name, a, b in zip(["boxes", "areas", "col_offsets", "col_ptr", "run_y0", "run_y1", "status"], got, want):
        assert np.array_equal(a, b), name
    full = np.array(masks, bool).reshape(len(masks), h, w) & need[:, None, None]
    assert np.array_equal(ref.full_masks_from_runs(*got[:1], *got[2:6], h, w), full)


def test_rle_runs_of_non_minimal_and_bad_strings():
    h, w = 300, 7
    m = np.zeros((h, w), bool)
    m[:, 2:5] = True  # runs spanning whole columns (multi-char counts)
    m[5, 0] = True
    # [1, 2, 0, 3, ...]: a zero-length gap splits one run of 5 into touching pieces of 2 and 3
    split = cm.frPyObjects({"size": [h, w], "counts": [1, 2, 0, 3, h * w - 6]}, h, w)["counts"]
    counts = [encode(m), encode(np.ones((h, w))), b"", b"0", b"@", split]
    got = rle.decode_rle_runs(counts, h, w)
    crops = rle.decode_rles(counts, h, w)
    assert np.array_equal(got[0], crops[0]) and np.array_equal(got[1], crops[1]) and np.array_equal(got[6], crops[4])
    full = ref.full_masks_from_runs(got[0], *got[2:6], h, w)
    assert np.array_equal(full, ref.full_masks(crops[0], crops[2], crops[3], h, w))
    assert got[6].tolist() == [0, 0, 2, 2, 1, 0]
    c = got[2][5]
    assert got[3][c + 1] - got[3][c] == 2  # the touching pieces stay two runs
    with pytest.raises(ValueError, match="need"):
        rle.decode_rle_runs(counts, h, w, np.ones(2, bool))


@SETTINGS
@given(
    scenes(),
    st.sampled_from(list(itertools.product([False, True], repeat=4))),
    st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]),
    st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]),
    st.booleans(),
    st.booleans(),
)
def test_fuse_runs_matches_twin(scene, flags, tau, gamma, events, all_runs):
    h, w, masks, scores, rels, labels = scene
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    order = np.ascontiguousarray(order[scores[order] >= 0.5])
    need = np.ones(len(masks), bool)
    if not all_runs:  # proposals below rho get no runs (what a scene decoded at rho holds)
        need[:] = False
        need[order] = True
    runs = decode_runs(h, w, masks, need)
    ra, ca, eo, reference = flags
    kw = dict(tau=tau, gamma=gamma, ra=ra, ca=ca, eo=eo, reference=reference, record_events=events)
    got = fusion.fuse_runs(*runs[:6], labels, rels, order, w, h, **kw)
    want = ref.ref_fuse_runs(*runs[:6], labels, rels, order, w, h, **kw)
    for name, a, b in zip(["canvas", "status", "visible", "events"], got, want):
        assert np.array_equal(a, b), name
    assert got[0].flags.c_contiguous and got[0].dtype == np.int32
    # the twin on the masks themselves (not the kernel's runs): the same again
    full = runs_of_masks(h, w, masks, need)
    assert all(np.array_equal(a, b) for a, b in zip(ref.ref_fuse_runs(*full, labels, rels, order, w, h, **kw), want))
    if events:  # the events do not change the decisions
        quiet = fusion.fuse_runs(*runs[:6], labels, rels, order, w, h, **dict(kw, record_events=False))
        assert np.array_equal(quiet[0], got[0]) and np.array_equal(quiet[1], got[1]) and quiet[3].shape == (0, 2)
        assert np.array_equal(quiet[2], got[2])


def runs_of_masks(h, w, masks, need=None):
    """The twin's runs of the drawn masks (no RLE in between)."""
    return ref.runs_from_full([np.asarray(m, bool) for m in masks], h, w, need)


@SETTINGS
@given(scenes())
def test_pairwise_overlaps_match_twin(scene):
    h, w, masks, *_ = scene
    runs = decode_runs(h, w, masks)
    got = fusion.pairwise_overlaps(*runs[:1], *runs[2:6])
    fm = np.array(masks, bool).reshape(len(masks), h * w).astype(np.int64)
    want = fm @ fm.T
    np.fill_diagonal(want, 0)
    assert np.array_equal(got, want)
    assert np.array_equal(got, ref.ref_pairwise_overlaps(*runs[:1], *runs[2:6]))


@SETTINGS
@given(scenes(), st.data())
def test_overlaps_with_crops_match_twin(scene, data):
    """Run masks against row-major crops (the layout of InstanceMask): every pair, crops with
    empty borders and crops reaching past the run masks' boxes included."""
    h, w, masks, *_ = scene
    runs = decode_runs(h, w, masks)
    n_crops = data.draw(st.integers(0, 4))
    boxes, parts = [], []
    for _ in range(n_crops):
        y0, y1 = sorted(data.draw(st.tuples(st.integers(0, h), st.integers(0, h))))
        x0, x1 = sorted(data.draw(st.tuples(st.integers(0, w), st.integers(0, w))))
        boxes.append((x0, x1, y0, y1))
        parts.append(sparse_bits(data.draw, y1 - y0, x1 - x0, 1).astype(np.uint8).ravel())
    crop_boxes = np.array(boxes, np.int64).reshape(-1, 4)
    offs = np.zeros(n_crops + 1, np.int64)
    offs[1:] = np.cumsum([p.size for p in parts])
    crops = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    pairs = np.array([(k, g) for k in range(len(masks)) for g in range(n_crops)], np.int64).reshape(-1, 2)
    got = fusion.overlaps_with_crops(*runs[:1], *runs[2:6], crop_boxes, offs, crops, pairs)
    want = ref.ref_overlaps_with_crops(*runs[:1], *runs[2:6], crop_boxes, offs, crops, pairs)
    assert np.array_equal(got, want)
    for (k, g), o in zip(pairs.tolist(), got.tolist()):  # and by hand, on the drawn masks
        x0, x1, y0, y1 = boxes[g]
        assert o == int((masks[k][y0:y1, x0:x1] & (parts[g].reshape(y1 - y0, x1 - x0) != 0)).sum())


@st.composite
def compose_inputs(draw):
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    n = 5
    raw = pixel_bytes(draw, h, w)[..., 0].astype(np.int32)
    canvas = np.where(raw < 154, 0, 1 + raw % n).astype(np.int32)  # about 40% of the pixels in an instance
    values = np.array([0, 5, 6, 7, 200, 255], np.uint8)
    sem = values[pixel_bytes(draw, h, w)[..., 0] % values.size] if draw(st.booleans()) else None
    kept = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return canvas, sem, np.nonzero(kept)[0] + 1


@SETTINGS
@given(compose_inputs(), st.integers(0, 40))
def test_compose_matches_twin(inputs, stuff_area):
    canvas, sem, keep = inputs
    h, w = canvas.shape
    n = 5
    is_stuff = np.zeros(256, bool)
    is_stuff[[5, 7, 200]] = True
    lut = np.zeros(n + 1, np.uint32)
    lut[keep] = np.arange(1, keep.size + 1, dtype=np.uint32)
    got = fusion.compose(canvas, sem, is_stuff, stuff_area, lut, keep.size)
    want = ref.ref_compose(canvas, sem, is_stuff, stuff_area, lut, keep.size)
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    assert got[2].sum() == h * w
    with_runs = fusion.compose(canvas, sem, is_stuff, stuff_area, lut, keep.size, row_runs=True, check=False)
    for a, b in zip(with_runs[:4], got):
        assert np.array_equal(a, b)
    for a, b in zip(with_runs[4:], png_encode.row_runs(got[0])):  # maximal runs along the rows
        assert np.array_equal(a, b) and a.dtype == b.dtype


@st.composite
def id_maps(draw):
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    ids = pixel_ids(draw, h, w)
    ids[h // 2 :] = ids[0]  # repeated rows
    return ids


@SETTINGS
@given(id_maps())
def test_png_rows_match_twin(ids):
    assert np.array_equal(png_encode.png_up_rows(ids), ref.ref_png_up_rows(ids))


@st.composite
def png_id_maps(draw):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["blocks", "few values", "noise", "long rows"]))
    if kind == "blocks":  # like a panoptic map
        ids = np.zeros((h, w), np.uint32)
        for _ in range(draw(st.integers(0, 5))):
            y, x = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            ids[y : y + draw(st.integers(1, h)), x : x + draw(st.integers(1, w))] = draw(st.integers(0, (1 << 24) - 1))
    elif kind == "few values":  # short runs
        ids = (pixel_bytes(draw, h, w)[..., 0] % 3).astype(np.uint32) * draw(st.integers(0, (1 << 22) - 1))
    elif kind == "noise":
        ids = pixel_ids(draw, h, w)
    else:  # long constant rows (matches split at 258 bytes)
        ids = np.full((h, w), draw(st.integers(0, (1 << 24) - 1)), np.uint32)
        ids[h // 2 :, : w // 3] = 0
    return ids


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(png_id_maps())
def test_png_idat_matches_twin_and_inflates_to_the_rows(ids):
    import zlib

    got = png_encode.png_idat(ids)
    assert zlib.decompress(got.tobytes()) == png_encode.png_up_rows(ids).tobytes()
    assert np.array_equal(got, ref.ref_png_idat(ids))


def test_wrappers_reject_bad_arrays():
    z = np.zeros
    kw = dict(tau=0.5, gamma=0.5, ra=True, ca=True, eo=True, reference=False)
    runs = dict(
        boxes=np.array([[0, 2, 0, 2]], np.int64),
        areas=np.array([4], np.int64),
        col_offsets=np.array([0, 3], np.int64),  # two columns, one run each: a full 2x2 mask
        col_ptr=np.array([0, 1, 2], np.int64),
        run_y0=z(2, np.int64),
        run_y1=np.full(2, 2, np.int64),
        labels=z(1, np.int64),
        relations=z(1),
        order=z(1, np.int64),
    )
    canvas, status, *_ = fusion.fuse_runs(*runs.values(), 2, 2, **kw)
    assert canvas.tolist() == [[1, 1], [1, 1]] and status.tolist() == [0]
    for change, match in [
        (dict(labels=z(1, np.int32)), "labels"),
        (dict(order=np.array([3], np.int64)), "order"),
        (dict(run_y0=z(2, np.int32)), "run_y0"),
        (dict(relations=z(2)), "same N"),
        (dict(col_offsets=np.array([0, 9], np.int64)), "col_offsets"),
        (dict(col_ptr=np.array([0, 1, 5], np.int64)), "col_ptr"),
    ]:
        with pytest.raises(ValueError, match=match):
            fusion.fuse_runs(*dict(runs, **change).values(), 2, 2, **kw)
    no_runs = dict(runs, col_offsets=np.array([0, 1], np.int64), col_ptr=z(1, np.int64), run_y0=z(0, np.int64))
    no_runs["run_y1"] = z(0, np.int64)
    with pytest.raises(ValueError, match="no runs"):
        fusion.fuse_runs(*no_runs.values(), 2, 2, **kw)
    fusion.fuse_runs(*dict(no_runs, order=z(0, np.int64)).values(), 2, 2, **kw)  # not painted: runs not needed
    with pytest.raises(ValueError, match="no runs"):
        fusion.pairwise_overlaps(no_runs["boxes"], *list(no_runs.values())[2:6])
    assert fusion.pairwise_overlaps(runs["boxes"], *list(runs.values())[2:6]).tolist() == [[0]]
    crop = (np.array([[1, 2, 0, 2]], np.int64), np.array([0, 2], np.int64), np.ones(2, np.uint8))
    both = np.zeros((1, 2), np.int64)
    assert fusion.overlaps_with_crops(runs["boxes"], *list(runs.values())[2:6], *crop, both).tolist() == [2]
    for bad, match in [
        ((crop[0], np.array([0, 1], np.int64), crop[2]), "its box's pixels"),
        ((crop[0], crop[1], np.ones(2, bool)), "crops"),
        (crop, "pairs"),
    ]:
        with pytest.raises(ValueError, match=match):
            pairs = np.array([[0, 1]], np.int64) if match == "pairs" else both
            fusion.overlaps_with_crops(runs["boxes"], *list(runs.values())[2:6], *bad, pairs)
    with pytest.raises(ValueError, match="no runs"):
        fusion.overlaps_with_crops(no_runs["boxes"], *list(no_runs.values())[2:6], *crop, both)
    with pytest.raises(ValueError, match="canvas"):
        fusion.compose(z((2, 2), np.int64), None, z(256, bool), 1, z(1, np.uint32), 0)
    with pytest.raises(ValueError, match="semantic"):
        fusion.compose(z((2, 3), np.int32), z((3, 2), np.uint8), z(256, bool), 1, z(1, np.uint32), 0)
    with pytest.raises(ValueError, match="chars"):
        rle.decode_packed(z(3, np.int64), z(2, np.int64), 2, 2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(png_id_maps(), st.data())
def test_png_idat_runs_match_twin_and_the_pixel_encoder(ids, data):
    h, w = ids.shape
    row_ptr, run_x, run_v = png_encode.row_runs(ids)
    want = png_encode.png_idat(ids)
    got = png_encode.png_idat_runs(row_ptr, run_x, run_v, w)
    assert np.array_equal(got, want)
    assert np.array_equal(got, ref.ref_png_idat_runs(row_ptr, run_x, run_v, w))
    # runs need not be maximal: split some at a drawn column, same bytes
    cuts = data.draw(st.lists(st.integers(1, max(1, w - 1)), max_size=4)) if w > 1 else []
    rows = []
    for y in range(h):
        xs = sorted(set(run_x[row_ptr[y] : row_ptr[y + 1]].tolist()) | set(cuts))
        rows.append(xs)
    row_ptr2 = np.zeros(h + 1, np.int64)
    row_ptr2[1:] = np.cumsum([len(xs) for xs in rows])
    run_x2 = np.array([x for xs in rows for x in xs], np.int64)
    run_v2 = np.array([ids[y, x] for y, xs in enumerate(rows) for x in xs], np.uint32)
    assert np.array_equal(png_encode.png_idat_runs(row_ptr2, run_x2, run_v2, w), want)


def test_png_idat_runs_rejects_bad_runs():
    ok = (np.array([0, 2, 3], np.int64), np.array([0, 1, 0], np.int64), np.array([1, 2, 3], np.uint32))
    assert png_encode.png_idat_runs(*ok, 2).size
    i64, u32 = np.int64, np.uint32
    for bad, width, match in [
        ((ok[0], np.array([1, 1, 0], i64), ok[2]), 2, "column 0"),
        ((ok[0], np.array([0, 0, 0], i64), ok[2]), 2, "ascend"),
        ((ok[0], ok[1], ok[2]), 1, "below width"),
        ((np.array([0, 3, 3], i64), ok[1], ok[2]), 2, "each row"),
        ((ok[0], ok[1], np.array([1, 2, 1 << 24], u32)), 2, "2\\*\\*24"),
        ((ok[0], ok[1], ok[2].astype(np.int64)), 2, "uint32"),
    ]:
        with pytest.raises(ValueError, match=match):
            png_encode.png_idat_runs(*bad, width)
