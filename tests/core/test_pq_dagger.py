"""PQ† (core/pq_dagger.py, ``evaluate_pq(metric="pq-dagger")``) equals torchmetrics'
``ModifiedPanopticQuality`` to 1e-12 on shared data: drawn COCO-format images (things, stuff
of two classes, a stuff class split into two GT segments, GT VOID; no crowd and no predicted
VOID, which torchmetrics' layout cannot express the way panopticapi counts them), written as
PNG + JSON and fed to torchmetrics as (category, instance) maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rapkit.core.pq import summarize
from rapkit.core.pq_dagger import pq_dagger_stats
from rapkit.pipeline.evaluate import evaluate_pq
from rapkit.types import Category

THINGS, STUFF = (1, 3, 7), (100, 101)


def _draw(rng: np.random.Generator, h: int, w: int, gt: bool):
    """An id map and its segments: stuff bands (GT: sky split into two segments, VOID
    patches), then things painted on top; a prediction has no VOID."""
    ids = np.zeros((h, w), np.uint32)
    segs = []
    cut = int(rng.integers(h // 3, 2 * h // 3))
    ids[:cut] = 11
    ids[cut:] = 12
    segs += [{"id": 11, "category_id": 100}, {"id": 12, "category_id": 101}]
    if gt and rng.random() < 0.5:
        ids[: cut // 2, : w // 2] = 13  # a second segment of the same stuff class
        segs.append({"id": 13, "category_id": 100})
    if gt:
        for _ in range(int(rng.integers(0, 3))):
            y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
            ids[y : y + int(rng.integers(2, 8)), x : x + int(rng.integers(2, 8))] = 0
    for k in range(int(rng.integers(1, 6))):
        y, x = int(rng.integers(0, h - 6)), int(rng.integers(0, w - 6))
        ids[y : y + int(rng.integers(4, 16)), x : x + int(rng.integers(4, 18))] = 1000 + k
        segs.append({"id": 1000 + k, "category_id": int(rng.choice(THINGS))})
    present = set(np.unique(ids).tolist())
    return ids, [s for s in segs if s["id"] in present]


@pytest.fixture(scope="module")
def shared(tmp_path_factory, pq_kit):
    rng = np.random.default_rng(5)
    gts, preds = [], []
    for i in range(12):
        g, gs = _draw(rng, 40, 56, True)
        p, ps = _draw(rng, 40, 56, False) if i % 3 else (g.copy(), [dict(s) for s in gs])
        if i % 3 == 0:  # the GT with its VOID filled, things shifted
            p[p == 0] = 12
            p = np.roll(p, int(rng.integers(-2, 3)), axis=1)
        gts.append({"image_id": i + 1, "id_map": g, "segments": gs})
        preds.append(
            {"image_id": i + 1, "id_map": p, "segments": [s for s in ps if s["id"] in set(np.unique(p).tolist())]}
        )
    cats = [c for c in pq_kit.categories]
    root = tmp_path_factory.mktemp("dagger")
    return pq_kit.write_dataset(root, "gt", gts, cats), pq_kit.write_dataset(root, "pred", preds, cats), gts, preds


def _layout(images):
    """COCO-format images as torchmetrics' (B, H, W, 2) (category, instance) tensor; VOID: category 0."""
    import torch

    out = []
    for im in images:
        cat = {s["id"]: s["category_id"] for s in im["segments"]}
        m = im["id_map"]
        c = np.vectorize(lambda i: cat.get(i, 0))(m)
        out.append(np.stack([c, m.astype(np.int64)], -1))
    return torch.from_numpy(np.stack(out).astype(np.int64))


def test_equals_torchmetrics_modified_panoptic_quality(shared):
    pytest.importorskip("torchmetrics")
    from torchmetrics.detection import ModifiedPanopticQuality

    gt_json, pred_json, gts, preds = shared
    assert not any(np.any(p["id_map"] == 0) for p in preds)
    import torch

    # torchmetrics divides integer areas in torch's default float type: float64 for 1e-12
    # (in float32 each IoU is rounded to 1e-8; the last check)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        metric = ModifiedPanopticQuality(things=set(THINGS), stuffs=set(STUFF))
        metric.update(_layout(preds), _layout(gts))
        want = float(metric.compute())
    finally:
        torch.set_default_dtype(old)
    single = ModifiedPanopticQuality(things=set(THINGS), stuffs=set(STUFF))
    single.update(_layout(preds), _layout(gts))
    ev = evaluate_pq(gt_json, pred_json, metric="pq-dagger", workers=2, per_image=True)
    assert abs(ev.result.all.pq - want) <= 1e-12 and ev.metric == "pq-dagger"
    # per class: counts equal, IoU sums to 1e-12 (torchmetrics numbers classes things first, sorted)
    order = sorted(THINGS) + sorted(STUFF)
    for k, cid in enumerate(order):
        c = ev.result.per_class[cid]
        assert (c.tp, c.fp, c.fn) == (
            int(metric.true_positives[k]),
            int(metric.false_positives[k]),
            int(metric.false_negatives[k]),
        ), cid
        assert abs(c.iou - float(metric.iou_sum[k])) <= 1e-12
    assert summarize(ev.stats, ev.categories) == ev.result
    assert abs(ev.result.all.pq - float(single.compute())) <= 1e-7  # torchmetrics in float32
    plain = evaluate_pq(gt_json, pred_json)
    assert plain.result.things == ev.result.things  # things are scored as PQ
    assert ev.result.stuff.rq == 1.0 and ev.result.stuff.pq != plain.result.stuff.pq


def test_stuff_is_scored_by_iou_without_matching():
    cats = {1: Category(1, "car", True), 2: Category(2, "sky", False), 3: Category(3, "road", False)}
    gt = np.array([[2, 2, 2, 3], [2, 2, 3, 3], [0, 1, 1, 3]], np.uint32)
    pred = np.array([[2, 3, 3, 3], [3, 3, 3, 3], [3, 1, 1, 2]], np.uint32)
    segs = [(1, 1, 2, 0), (2, 2, 5, 0), (3, 3, 4, 0)]
    st = pq_dagger_stats(gt, segs, segs, cats, pred_map=pred, image_id=9)
    r = summarize(st, cats)
    # sky: IoU 1 / (5 + 2 - 1) below 0.5 still counts; road: 3 / (8 + 4 - 3 - 1 on VOID)
    assert st.tp == {1: 1, 2: 1, 3: 1} and st.fp == {} and st.fn == {}
    assert r.per_class[2].pq == 1 / 6 and r.per_class[3].pq == 3 / 8 and r.per_class[2].rq == 1.0
    assert math.isclose(r.all.pq, (1.0 + 1 / 6 + 3 / 8) / 3)
