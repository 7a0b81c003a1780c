"""Paths of the fusion and PQ-matching kernels that the drawn scenes of test_fusion.py and
test_pq_match.py rarely reach: the growth of the event array (more pairs met than 4 N), and
the id sort of match_image (a hand-written stable merge sort, cheaper to compile than numba's
np.argsort) on ids in any order, with ties, all equal."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as cm

from rapkit.kernels import _reference as ref
from rapkit.kernels import fusion, pq_match, rle


def encode(m: np.ndarray) -> bytes:
    return cm.encode(np.asfortranarray(m.astype(np.uint8)))["counts"]


@pytest.mark.parametrize("n", [9, 12, 20, 33])
@pytest.mark.parametrize("eo, reference", [(False, False), (True, False), (True, True)])
def test_events_grow_past_their_first_capacity(n, eo, reference):
    # n overlapping proposals; without the excessive-overlap check all are kept (tau=1: no
    # occupied share is above it): n (n - 1) / 2 events against a first capacity of max(16, 4 n)
    h, w = 9, 40
    masks = []
    for k in range(n):
        m = np.zeros((h, w), bool)
        m[k % h :, k % 7 : k % 7 + 30] = True
        masks.append(m)
    runs = rle.decode_rle_runs([encode(m) for m in masks], h, w)[:6]
    labels = np.arange(n, dtype=np.int64) % 3
    rels = np.zeros(n)
    order = np.arange(n, dtype=np.int64)
    kw = dict(tau=1.0, gamma=0.5, ra=False, ca=False, eo=eo, reference=reference, record_events=True)
    got = fusion.fuse_runs(*runs, labels, rels, order, w, h, **kw)
    want = ref.ref_fuse_runs(*runs, labels, rels, order, w, h, **kw)
    for name, a, b in zip(["canvas", "status", "visible", "events"], got, want):
        assert np.array_equal(a, b), name
    if not eo:
        assert got[3].shape == (n * (n - 1) // 2, 2)


def _match(g_id, p_id):
    """match_image on GT segments ``g_id`` and predicted segments ``p_id`` (category 0, GT area
    1), the k-th of each meeting in 1 pixel."""
    g_id = np.asarray(g_id, np.int64)
    p_id = np.asarray(p_id, np.int64)
    keys = np.array(sorted({(int(g) << 24) | int(p) for g, p in zip(g_id, p_id)}), np.uint64)
    counts = np.ones(keys.size, np.int64)
    ng, npr = g_id.size, p_id.size
    tp, fp, fn = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
    m_cat, m_iou = np.zeros(max(1, keys.size), np.int64), np.zeros(max(1, keys.size))
    args = (
        keys,
        counts,
        g_id,
        np.zeros(ng, np.int64),
        np.ones(ng, np.int64),
        np.zeros(ng, np.int64),
        p_id,
        np.zeros(npr, np.int64),
        np.ones(1, np.bool_),
        tp,
        fp,
        fn,
        np.full(1, -1, np.int64),
        m_cat,
        m_iou,
    )
    return pq_match.match_image(*args), (tp[0], fp[0], fn[0]), m_cat, m_iou


@pytest.mark.parametrize(
    "ids",
    [
        [5],
        [3, 1, 2],
        list(range(40, 0, -1)),
        [7, 3, 9, 1, 8, 2, 6, 4, 5, 10, 30, 20, 25, 15, 11, 12, 13],
        list(np.random.default_rng(0).permutation(np.arange(1, 300)) * 3),
    ],
)
def test_match_image_sorts_ids_of_any_order(ids):
    (status, nm), counts, _, m_iou = _match(ids, ids)
    assert status == 0 and nm == len(ids) and counts == (len(ids), 0, 0)
    assert np.all(m_iou[:nm] == 1.0)


@pytest.mark.parametrize(
    "g_ids, p_ids",
    [
        ([4, 4], [4, 5]),  # a tie among the GT ids
        ([4, 5], [5, 5]),  # among the predicted ids
        ([9, 1, 5, 1, 3], [1, 2, 3, 4, 5]),  # not adjacent in the input
        ([1, 2, 3], [8, 2, 8, 8, 1]),
        ([6] * 20, [6] * 20),  # all equal
        (list(range(30, 0, -1)) + [17], list(range(1, 32))),
    ],
)
def test_match_image_rejects_duplicate_ids(g_ids, p_ids):
    (status, nm), counts, _, _ = _match(g_ids, p_ids)
    assert (status, nm) == (1, 0) and counts == (0, 0, 0)


def test_sorted_order_equals_numpys_stable_argsort():
    rng = np.random.default_rng(1)
    for n in [0, 1, 2, 3, 7, 16, 17, 100, 257]:
        for hi in [2, 5, n + 1, 1 << 40]:
            a = rng.integers(-3, hi, n).astype(np.int64)
            order, vals = pq_match._argsort_stable(a)
            want = np.argsort(a, kind="mergesort")
            assert order.tolist() == want.tolist()
            assert vals.tolist() == a[want].tolist()
