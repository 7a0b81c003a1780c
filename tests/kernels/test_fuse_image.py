"""The one-call-per-image kernel (rapkit.kernels.fuse_image) == its numpy twin
(rapkit.kernels._reference_fuse_image) and == the separate calls rapkit fuse made before
(decode_scene + fuse_scene + png_idat_runs), on random scenes; its errors."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as cm

from rapkit.core.fusion import decode_scene, fuse_packed_image, fuse_scene, packed_inputs
from rapkit.errors import InputError
from rapkit.kernels import _reference as ref
from rapkit.kernels import fuse_image
from rapkit.kernels.png_encode import png_idat
from rapkit.types import FusionParams, Proposals

IS_STUFF = np.zeros(256, bool)
IS_STUFF[[7, 9]] = True
KNOWN = IS_STUFF.copy()
KNOWN[[0, 255, 1, 2, 3]] = True


def scene(rng, h, w, n):
    masks = []
    for _ in range(n):
        m = np.zeros((h, w), bool)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1)] = True
        if rng.random() < 0.5:
            m &= rng.random((h, w)) < 0.8
        masks.append(m)
    counts = [cm.encode(np.asfortranarray(m.astype(np.uint8)))["counts"] for m in masks]
    scores = rng.choice([0.3, 0.5, 0.6, 0.8, 1.0], n).astype(np.float64)
    rels = rng.choice([0.0, 1.0, 2.0, 3.0], n).astype(np.float64)
    labels = rng.choice([1, 2, 3], n).astype(np.int64)
    sem = rng.choice([0, 7, 9, 255, 1], (h, w)).astype(np.uint8)
    return counts, scores, rels, labels, sem


def packed(counts, before=2):
    """``before`` other proposals' strings first (the image's are a slice of the run's arrays),
    and a byte past the end that is never read."""
    counts = [b"0" + bytes([49 + k]) for k in range(before)] + counts
    offs = np.zeros(len(counts) + 1, np.int64)
    offs[1:] = np.cumsum([len(c) for c in counts])
    return np.frombuffer(b"".join(counts) + b"!", np.uint8), offs


def inputs(counts, scores, labels, rels, params, before=2):
    chars, offs = packed(counts, before)
    pad = np.full(before, 0.7)
    return packed_inputs(
        chars,
        offs,
        np.concatenate([pad, scores]),
        np.concatenate([np.ones(before, np.int64), labels]),
        np.concatenate([pad, rels]),
        params,
        IS_STUFF,
        KNOWN,
    )


def gray_rows(sem: np.ndarray) -> np.ndarray:
    """The PNG rows of ``sem``: filter None on even rows, Up on odd ones (read-only, as inflated)."""
    h, w = sem.shape
    rows = np.zeros((h, w + 1), np.uint8)
    rows[:, 1:] = sem
    rows[1::2, 0] = 2
    rows[1::2, 1:] = sem[1::2] - sem[0:-1:2]
    out = rows.ravel()
    out.flags.writeable = False
    return out


PARAMS = [
    FusionParams(),
    FusionParams(rho=0.5, tau=0.4, gamma=0.3, variant="reference"),
    FusionParams(ca=False, eo=False, stuff_area=3),
    FusionParams.heuristic(),
]


@pytest.mark.parametrize("seed", range(12))
def test_fuse_packed_matches_twin_and_the_separate_calls(seed):
    rng = np.random.default_rng(seed)
    h, w, n = int(rng.integers(1, 20)), int(rng.integers(1, 20)), int(rng.integers(0, 9))
    n = 0 if seed == 0 else n  # an image without proposals
    counts, scores, rels, labels, sem = scene(rng, h, w, n)
    params = PARAMS[seed % len(PARAMS)]
    inp = inputs(counts, scores, labels, rels, params, before=seed % 3)
    a, b = seed % 3, seed % 3 + n
    for kw in ({"semantic": sem}, {"semantic_png": gray_rows(sem)}, {}):
        got = fuse_image.fuse_packed(inp, a, b, h, w, **kw)
        want = ref.ref_fuse_packed(inp, a, b, h, w, **kw)
        for name, x, y in zip(["err", "status", "kept", "classes", "area", "bbox", "idat", "tally"], got, want):
            assert np.array_equal(x, y), name
        # what fuse_scene gives for the same proposals (rapkit fuse before the one-call kernel)
        p = Proposals(1, h, w, scores, labels, rels, [{"size": [h, w], "counts": c} for c in counts])
        res = fuse_scene(decode_scene(p, params.rho), sem if kw else None, params, IS_STUFF)
        assert np.array_equal(got[1], res.status)
        assert got[7].tolist() == [int(v) for v in np.bincount(res.status, minlength=8)]
        assert np.array_equal(got[6], png_idat(res.id_map))
        segs = [(s.id, s.category_id, s.area, tuple(s.bbox)) for s in res.segments]
        kept, classes, area, bbox = got[2], got[3], got[4], got[5]
        mine = [(j + 1, int(labels[k]), int(area[j + 1]), tuple(bbox[j + 1])) for j, k in enumerate(kept)]
        nk = len(kept)
        mine += [(nk + 1 + s, int(c), int(area[nk + 1 + s]), tuple(bbox[nk + 1 + s])) for s, c in enumerate(classes)]
        assert mine == segs


def test_fuse_packed_errors():
    rng = np.random.default_rng(5)
    counts, scores, rels, labels, sem = scene(rng, 6, 5, 3)
    bad = [counts[0], b"0", counts[2]]  # runs that do not cover 6x5
    inp = inputs(bad, scores, labels, rels, FusionParams())
    with pytest.raises(InputError, match="proposal #1: RLE runs do not cover the 5x6 image"):
        fuse_packed_image(4, inp, 2, 5, 6, 5)
    inp = inputs(counts, np.ones(3), labels, np.full(3, np.nan), FusionParams())
    with pytest.raises(InputError, match="proposal #0 has no relation value"):
        fuse_packed_image(4, inp, 2, 5, 6, 5)
    # an unknown label or a bad filter byte in the PNG rows: None (the caller reads it the slow way)
    inp = inputs(counts, scores, labels, rels, FusionParams())
    assert fuse_packed_image(4, inp, 2, 5, 6, 5, semantic_png=gray_rows(np.full((6, 5), 4, np.uint8))) is None
    rows = gray_rows(sem).copy()
    rows[6] = 9
    assert ref.ref_fuse_packed(inp, 2, 5, 6, 5, semantic_png=rows)[0][0] == 4
    assert fuse_packed_image(4, inp, 2, 5, 6, 5, semantic_png=rows) is None
    assert fuse_packed_image(4, inp, 2, 5, 6, 5, semantic_png=rows[:-1].copy()) is None  # too short
    with pytest.raises(ValueError, match="within"):
        fuse_image.fuse_packed(inp, 2, 9, 6, 5)
    chars, offs = packed(counts, 0)
    with pytest.raises(ValueError, match="ascend"):
        fuse_image.fuse_inputs(chars, offs[[0, 2, 1, 3]], scores, labels, rels, inp.prm, IS_STUFF)
    with pytest.raises(ValueError, match="float64"):
        fuse_image.fuse_inputs(chars, offs, scores.astype(np.float32), labels, rels, inp.prm, IS_STUFF)
    with pytest.raises(ValueError, match="OCFusion"):
        packed_inputs(chars, offs, scores, labels, rels, FusionParams.of("ocfusion"), IS_STUFF)
