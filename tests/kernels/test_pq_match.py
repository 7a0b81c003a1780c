"""The PQ matching kernel (kernels/pq_match.py) == its twin (_reference_pq.ref_match_image)
== core.pq.pq_stats (panopticapi's semantics), on drawn images with crowd, VOID, unknown ids,
unknown categories, duplicate ids, inconsistent GT areas and segments absent from the PNG."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.core.pq import PairHistogram, pq_stats
from rapkit.errors import InputError
from rapkit.kernels._reference_pq import ref_match_image, ref_pair_keys_maps
from rapkit.kernels.pq_match import match_image

CATS = [3, 7, 12, 40]  # known categories; 99 is unknown


@st.composite
def images(draw):
    h = draw(st.integers(1, 7))
    w = draw(st.integers(1, 9))
    pool = draw(st.lists(st.integers(1, (1 << 24) - 1), min_size=1, max_size=6, unique=True))
    ids = [0, *pool]
    g = np.array(draw(st.lists(st.sampled_from(ids), min_size=h * w, max_size=h * w)), np.uint32).reshape(h, w)
    p = np.array(draw(st.lists(st.sampled_from(ids), min_size=h * w, max_size=h * w)), np.uint32).reshape(h, w)
    g_present = sorted(set(np.unique(g).tolist()) - {0})
    p_present = sorted(set(np.unique(p).tolist()) - {0})
    gsegs = []
    for i in g_present:
        if draw(st.integers(0, 9)) == 0:
            continue  # an id of the GT PNG that its JSON does not list (allowed)
        area = int((g == i).sum())
        if draw(st.integers(0, 7)) == 0:
            area = draw(st.integers(0, 2 * area + 1))  # an inconsistent GT area
        gsegs.append((i, draw(st.sampled_from(CATS)), area, int(draw(st.integers(0, 3)) == 0)))
    if draw(st.integers(0, 5)) == 0:
        gsegs.append((draw(st.integers(1, 1 << 25)), draw(st.sampled_from(CATS)), draw(st.integers(0, 4)), 1))
    psegs = [(i, draw(st.sampled_from(CATS + [99] * (draw(st.integers(0, 9)) == 0))), 0, 0) for i in p_present]
    bad = draw(st.integers(0, 11))
    if bad == 0 and psegs:
        psegs.pop(draw(st.integers(0, len(psegs) - 1)))  # a predicted id missing from the JSON
    elif bad == 1:
        psegs.append(((1 << 24) + 5, CATS[0], 0, 0))  # a predicted segment absent from the PNG
    elif bad == 2 and gsegs:
        gsegs.append(gsegs[0])  # a duplicate GT id
    elif bad == 3 and psegs:
        psegs.append(psegs[-1])  # a duplicate predicted id
    gsegs = draw(st.permutations(gsegs))
    psegs = draw(st.permutations(psegs))
    return g, p, gsegs, psegs


def _arrays(gsegs, psegs):
    cat_ids = np.array(sorted(set(CATS) | {99}), np.int64)
    idx = {c: k for k, c in enumerate(cat_ids.tolist())}
    g = np.array(gsegs, np.int64).reshape(len(gsegs), 4)
    p = np.array(psegs, np.int64).reshape(len(psegs), 4)
    return (
        cat_ids,
        np.isin(cat_ids, CATS),
        (g[:, 0].copy(), np.array([idx[c] for c in g[:, 1]], np.int64), g[:, 2].copy(), g[:, 3].copy()),
        (p[:, 0].copy(), np.array([idx[c] for c in p[:, 1]], np.int64)),
    )


def _run(fn, keys, counts, cat_ids, known, ga, pa):
    c = cat_ids.size
    tp, fp, fn_, crowd = np.zeros(c, np.int64), np.zeros(c, np.int64), np.zeros(c, np.int64), np.full(c, -1)
    m_cat, m_iou = np.full(keys.size, -7, np.int64), np.full(keys.size, -7.0)
    status, n = fn(keys, counts, *ga, *pa, known, tp, fp, fn_, crowd, m_cat, m_iou)
    assert (crowd == -1).all()
    return int(status), int(n), tp, fp, fn_, m_cat[:n], m_iou[:n]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_kernel_equals_twin_equals_pq_stats(image):
    g, p, gsegs, psegs = image
    keys, counts = ref_pair_keys_maps(g, p)
    cat_ids, known, ga, pa = _arrays(gsegs, psegs)
    got = _run(match_image, keys, counts, cat_ids, known, ga, pa)
    twin = _run(ref_match_image, keys, counts, cat_ids, known, ga, pa)
    assert got[:2] == twin[:2]
    for a, b in zip(got[2:], twin[2:]):
        assert a.tolist() == b.tolist()  # == on floats: the same IoU bits in the same order
    hist = PairHistogram.from_keys(keys, counts)
    if got[0] != 0:
        with pytest.raises(InputError):
            pq_stats(hist, gsegs, psegs, frozenset(CATS))
        assert not got[2].any() and not got[3].any() and not got[4].any()
        return
    want = pq_stats(hist, gsegs, psegs, frozenset(CATS))
    status, n, tp, fp, fn, m_cat, m_iou = got

    def as_dict(a):
        return {int(cat_ids[k]): int(a[k]) for k in np.flatnonzero(a)}

    assert (as_dict(tp), as_dict(fp), as_dict(fn)) == (want.tp, want.fp, want.fn)
    assert cat_ids[m_cat].tolist() == want.category.tolist()
    assert m_iou.tolist() == want.iou.tolist()


def test_counts_are_added_and_crowd_rules():
    # GT: a (cat 0) 6 px, crowd c (cat 0) 4 px; prediction: b covers a (IoU 6/8), d inside the crowd
    g = np.array([[1, 1, 1, 2, 2], [1, 1, 1, 2, 2]], np.uint32)
    p = np.array([[5, 5, 5, 5, 6], [5, 5, 5, 0, 6]], np.uint32)
    keys, counts = ref_pair_keys_maps(g, p)
    known = np.ones(2, np.bool_)
    ga = (np.array([1, 2]), np.array([0, 0]), np.array([6, 4]), np.array([0, 1]))
    pa = (np.array([5, 6]), np.array([0, 0]))
    tp, fp, fn = np.array([10, 0]), np.array([20, 0]), np.array([30, 0])
    m_cat, m_iou = np.zeros(keys.size, np.int64), np.zeros(keys.size)
    status, n = match_image(keys, counts, *ga, *pa, known, tp, fp, fn, np.full(2, -1), m_cat, m_iou)
    assert (status, n) == (0, 1)
    assert m_iou[0] == 6 / 7  # union 7 + 6 - 6 - 0 (segment 5 also covers 1 px of the crowd)
    # segment 6 lies in the crowd region: not a false positive; segment 1 matched
    assert tp.tolist() == [11, 0] and fp.tolist() == [20, 0] and fn.tolist() == [30, 0]
