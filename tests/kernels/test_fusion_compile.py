"""Paths of the fusion kernels that the drawn scenes of test_fusion.py rarely reach: the growth
of the event array (more pairs met than 4 N)."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as cm

from rapkit.kernels import _reference as ref
from rapkit.kernels import fusion, rle


def encode(m: np.ndarray) -> bytes:
    return cm.encode(np.asfortranarray(m.astype(np.uint8)))["counts"]


@pytest.mark.parametrize("n", [9, 12, 20, 33])
@pytest.mark.parametrize("runs", [False, True])
@pytest.mark.parametrize("eo, reference", [(False, False), (True, False), (True, True)])
def test_events_grow_past_their_first_capacity(n, runs, eo, reference):
    # n overlapping proposals; without the excessive-overlap check all are kept (tau=1: no
    # occupied share is above it): n (n - 1) / 2 events against a first capacity of max(16, 4 n)
    h, w = 9, 40
    masks = []
    for k in range(n):
        m = np.zeros((h, w), bool)
        m[k % h :, k % 7 : k % 7 + 30] = True
        masks.append(m)
    boxes, areas, offs, flat, _ = rle.decode_rles([encode(m) for m in masks], h, w)
    labels = np.arange(n, dtype=np.int64) % 3
    rels = np.zeros(n)
    order = np.arange(n, dtype=np.int64)
    kw = dict(tau=1.0, gamma=0.5, ra=False, ca=False, eo=eo, reference=reference, record_events=True)
    if runs:
        got = fusion.fuse_runs(
            *rle.decode_rle_runs([encode(m) for m in masks], h, w)[:6], labels, rels, order, w, h, **kw
        )
    else:
        got = fusion.fuse_instances(boxes, areas, offs, flat, labels, rels, order, w, h, **kw)
    want = ref.ref_fuse_instances(boxes, areas, offs, flat, labels, rels, order, w, h, **kw)
    for name, a, b in zip(["canvas", "status", "visible", "events"], got, want):
        assert np.array_equal(a, b), name
    if not eo:
        assert got[3].shape == (n * (n - 1) // 2, 2)
