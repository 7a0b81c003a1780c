"""rapkit.PanopticEvaluator: arrays in memory, panopticapi's numbers bit for bit.

The oracle is panopticapi's own single-core loop on the same data written as files (Pillow
PNGs + JSON). The bench is benchmarks/evaluate.py's COCO-like generator (crowd, VOID,
relabelled, shifted and invented segments), at a small image size."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

import rapkit
from rapkit.core.evaluator import PanopticEvaluator
from rapkit.errors import InputError
from rapkit.io.panoptic import read_id_map


def _load(gt_json: Path, pred_json: Path) -> tuple[list, list]:
    """Every GT image (JSON order) as ``(image_id, pred_ids, pred_segs, gt_ids, gt_segs)``, and the categories."""
    gt = json.loads(gt_json.read_text())
    pred = {a["image_id"]: a for a in json.loads(pred_json.read_text())["annotations"]}
    gdir, pdir = Path(str(gt_json)[:-5]), Path(str(pred_json)[:-5])
    out = []
    for a in gt["annotations"]:
        p = pred[a["image_id"]]
        out.append(
            (
                a["image_id"],
                read_id_map(pdir / p["file_name"]),
                p["segments_info"],
                read_id_map(gdir / a["file_name"]),
                a["segments_info"],
            )
        )
    return out, gt["categories"]


def _one_by_one(images: list, cats: list, **kw) -> PanopticEvaluator:
    ev = PanopticEvaluator(cats, **kw)
    for iid, p, ps, g, gs in images:
        ev.update(p, ps, g, gs, image_ids=[iid])
    return ev


def _chunked(images: list, cats: list, seed: int, **kw) -> PanopticEvaluator:
    """Images shuffled, cut in chunks of 1 to 9, one evaluator per chunk (batch updates),
    merged in a shuffled order through their JSON states."""
    rng = random.Random(seed)
    images = images[:]
    rng.shuffle(images)
    parts = []
    while images:
        k = rng.randint(1, 9)
        chunk, images = images[:k], images[k:]
        ev = PanopticEvaluator(cats, **kw)
        ev.update(
            [c[1] for c in chunk],
            [c[2] for c in chunk],
            [c[3] for c in chunk],
            [c[4] for c in chunk],
            image_ids=[c[0] for c in chunk],
        )
        parts.append(json.loads(json.dumps(ev.state())))
    rng.shuffle(parts)
    total = PanopticEvaluator(cats, **kw)
    for s in parts:
        total.merge(s)
    return total


def _check_bench(pq_kit, gt_json: Path, pred_json: Path) -> None:
    images, cats = _load(gt_json, pred_json)
    theirs = pq_kit.oracle(gt_json, pred_json)
    files = rapkit.evaluate_pq(gt_json, pred_json)
    for ev in (_one_by_one(images, cats), _chunked(images, cats, seed=1)):
        res = ev.compute()
        pq_kit.assert_same(res.result.to_panopticapi(), theirs)
        assert res.stats == files.stats and res.result == files.result
        assert res.n_images == len(images)


def test_bench_parity_200(pq_bench, pq_kit):
    """The must-show: 200 Pillow-written pairs (rows filtered Sub, Up and Paeth), fed image by
    image and in shuffled chunks merged through their JSON states (about 1 s)."""
    gt_json, pred_json = pq_bench(200)
    _check_bench(pq_kit, gt_json, pred_json)


def test_coco_sample_quirks(pq_kit, tmp_path):
    """The COCO sample's crowd regions, ids up to 2**24 and perturbed predictions (merged,
    shifted, relabelled, invented over VOID and crowd), a GT JSON not in id order."""
    gt_json = pq_kit.sample / "panoptic_examples.json"
    for seed in (1, 2):
        pred_json = pq_kit.perturbed(tmp_path, seed)
        images, cats = _load(gt_json, pred_json)
        theirs = pq_kit.oracle(gt_json, pred_json)
        order = [i[0] for i in images]
        for ev in (_one_by_one(images[::-1], cats, image_order=order), _chunked(images, cats, 3, image_order=order)):
            pq_kit.assert_same(ev.compute().result.to_panopticapi(), theirs)


def test_gt_area_from_segments_and_unknown_gt_category(pq_kit, tmp_path):
    """GT ``area`` comes from segments_info when given (panopticapi's JSON area), else the
    pixel count; a GT segment of a category not in the list is counted nowhere."""
    cats = pq_kit.categories
    g = np.array([[1, 1, 2, 2], [1, 1, 2, 3]], np.uint32)
    p = np.array([[5, 5, 6, 6], [5, 0, 6, 6]], np.uint32)
    gs = [{"id": 1, "category_id": 1, "area": 9}, {"id": 2, "category_id": 100}, {"id": 3, "category_id": 55}]
    ps = [{"id": 5, "category_id": 1}, {"id": 6, "category_id": 100}]
    ev = PanopticEvaluator(cats)
    ev.update(p, ps, g, gs, image_ids=[1])
    gj = pq_kit.write_dataset(tmp_path, "gt", [{"image_id": 1, "id_map": g, "segments": gs}], cats)
    pj = pq_kit.write_dataset(tmp_path, "pred", [{"image_id": 1, "id_map": p, "segments": ps}], cats)
    pq_kit.assert_same(ev.compute().result.to_panopticapi(), pq_kit.oracle(gj, pj))


# --------------------------------------------------------------------------- layouts


CATS = [
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 2, "name": "car", "isthing": 1},
    {"id": 5, "name": "sky", "isthing": 0},
]


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A (category, instance) map: sky (instances scrambled: ignored for stuff), two persons, a car, VOID."""
    rng = np.random.default_rng(seed)
    cat = np.full((12, 16), 5)
    inst = rng.integers(0, 3, (12, 16))
    cat[2:6, 1:5], inst[2:6, 1:5] = 1, 1
    cat[6:10, 3:9], inst[6:10, 3:9] = 1, 2
    cat[1:5, 9:15], inst[1:5, 9:15] = 2, 1
    cat[0, :] = -1
    dy, dx = rng.integers(-1, 2, 2)
    return np.stack([cat, inst], -1), np.stack([np.roll(cat, (dy, dx), (0, 1)), np.roll(inst, (dy, dx), (0, 1))], -1)


def _as_coco(pairs: np.ndarray) -> tuple[np.ndarray, list]:
    """The documented conversion, written out by hand: ids 1, 2, ... in (category, instance) order."""
    cat, inst = pairs[..., 0], np.where(pairs[..., 0] == 5, 0, pairs[..., 1])
    keys = sorted({(c, i) for c, i in zip(cat.ravel().tolist(), inst.ravel().tolist()) if c != -1})
    ids = np.zeros(cat.shape, np.uint32)
    for k, (c, i) in enumerate(keys, 1):
        ids[(cat == c) & (inst == i)] = k
    return ids, [{"id": k, "category_id": c} for k, (c, _) in enumerate(keys, 1)]


def test_category_instance_layout_is_the_coco_conversion():
    a, b = PanopticEvaluator(CATS), PanopticEvaluator(CATS)
    for s in range(4):
        g, p = _scene(s)
        a.update(p, None, g, None)
        b.update(*_as_coco(p), *_as_coco(g))
    assert a.compute().stats == b.compute().stats and a.compute().result == b.compute().result
    # a batch array (B, H, W, 2) is the same as the four updates
    c = PanopticEvaluator(CATS)
    gs, ps = zip(*(_scene(s) for s in range(4)))
    c.update(np.stack(ps), None, np.stack(gs), None)
    assert c.compute().stats == a.compute().stats


def test_gt_category_not_listed_is_void_in_the_pair_layout():
    g, p = _scene(0)
    g2 = g.copy()
    g2[0, :, 0] = 77  # torchmetrics: a target category outside things and stuffs is VOID
    a, b = PanopticEvaluator(CATS), PanopticEvaluator(CATS)
    a.update(p, None, g, None)
    b.update(p, None, g2, None)
    assert a.compute().stats == b.compute().stats


def test_label_divisor_is_detectron2s_encoding():
    """labels ``category * 1000 + instance``, -1 VOID: ids ``label + 1`` as COCOPanopticEvaluator writes them."""
    g, p = _scene(1)
    enc = lambda m: np.where(m[..., 0] == -1, -1, m[..., 0] * 1000 + np.where(m[..., 0] == 5, 0, m[..., 1]))  # noqa: E731

    def coco(m):
        lab = enc(m)
        ids = (lab + 1).astype(np.uint32)
        return ids, [{"id": v + 1, "category_id": v // 1000} for v in np.unique(lab).tolist() if v != -1]

    a, b = PanopticEvaluator(CATS), PanopticEvaluator(CATS)
    a.update(enc(p).astype(np.int32), None, enc(g).astype(np.int32), None, label_divisor=1000)
    b.update(*coco(p), *coco(g))
    assert a.compute().stats == b.compute().stats and a.compute().result.all.n == 3


def test_layouts_mix_and_torch_tensors():
    torch = pytest.importorskip("torch")
    g, p = _scene(2)
    a, b = PanopticEvaluator(CATS), PanopticEvaluator(CATS)
    a.update(torch.from_numpy(p), None, *_as_coco(g), image_ids=torch.tensor([7]))
    b.update(*_as_coco(p), torch.from_numpy(g.astype(np.int32)), None, image_ids=np.array([7]))
    assert a.compute().stats == b.compute().stats
    assert type(a.compute().per_image[0].image_ids[0]) is int  # tensor and numpy ids become ints


def test_compute_tables_and_per_image():
    ev = PanopticEvaluator(CATS)
    for s in range(3):
        g, p = _scene(s)
        ev.update(p, None, g, None, image_ids=[10 - s])
    res = ev.compute()
    assert [r["image_id"] for r in res.image_rows()] == [8, 9, 10]
    assert list(res.to_frame().index) == ["All", "Things", "Stuff"]
    assert set(res.class_frame()["category_id"]) == {1, 2, 5}
    assert sum(r["tp"] for r in res.image_rows()) == sum(res.stats.tp.values())


# --------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    "args, kw, err, msg",
    [
        ((np.zeros((2, 2), np.float32), [], np.zeros((2, 2), int), []), {}, TypeError, "pred_ids must hold integers, got dtype float32"),
        ((np.zeros((2, 2), int), [], np.zeros((3, 2), int), []), {}, ValueError, "prediction (2, 2) and GT (3, 2) differ in shape"),
        ((np.zeros((2, 2), int), None, np.zeros((2, 2), int), []), {}, ValueError, "or (H, W) with label_divisor; got shape (2, 2)"),
        ((np.zeros((2, 2, 2, 2, 2), int), None, np.zeros((2, 2), int), []), {}, ValueError, "pred_ids must be (H, W, 2) (category, instance) or a batch of them"),
        ((np.full((2, 2), 1 << 24), [], np.zeros((2, 2), int), []), {}, ValueError, "id 16777216 in the map is out of range"),
        ((np.ones((2, 2), int), [{"id": 1, "category_id": 9}], np.zeros((2, 2), int), []), {}, InputError, "unknown category_id 9"),
        ((np.ones((2, 2), int), [], np.zeros((2, 2), int), []), {}, InputError, "id 1 is in the predicted map but in none of its segments"),
        ((np.zeros((2, 2), int), [{"id": 5, "category_id": 1}], np.zeros((2, 2), int), []), {}, InputError, "predicted segment has no pixel in the predicted map"),
        ((np.zeros((2, 2), int), [], np.full((2, 2), 4), []), {}, InputError, "id 4 is in the GT map but in none of its segments"),
        ((np.zeros((2, 2), int), [{"category_id": 1}], np.zeros((2, 2), int), []), {}, TypeError, "segments[0] must be a dict with 'id' and 'category_id'"),
        ((np.stack([np.full((2, 2), 3), np.zeros((2, 2), int)], -1), None, np.zeros((2, 2), int), []), {}, InputError, "predicted category 3 is not in categories (-1 marks VOID)"),
        ((np.full((2, 2), -2), None, np.zeros((2, 2), int), []), {"label_divisor": 1000}, ValueError, "label -2 is out of range"),
        ((np.zeros((2, 2), int), None, np.zeros((2, 2), int), None), {"label_divisor": 0}, ValueError, "label_divisor must be a positive integer"),
        (([np.zeros((2, 2), int)] * 2, [[]], [np.zeros((2, 2), int)] * 2, [[], []]), {}, ValueError, "a batch of 2 pred map(s) needs one segments list per map"),
        ((np.zeros((2, 2), int), [], np.zeros((2, 2), int), []), {"image_ids": [1, 2]}, ValueError, "2 image_ids for 1 image(s)"),
    ],
)  # fmt: skip
def test_precise_argument_errors(args, kw, err, msg):
    ev = PanopticEvaluator(CATS)
    with pytest.raises(err) as e:
        ev.update(*args, **kw)
    assert msg in str(e.value)
    assert ev.n_images == 0


def test_images_and_merges_are_checked():
    z = np.zeros((2, 2), int)
    ev = PanopticEvaluator(CATS)
    ev.update(z, [], z, [], image_ids=[3])
    with pytest.raises(ValueError, match="image 3 was already added"):
        ev.update(z, [], z, [], image_ids=[3])
    other = PanopticEvaluator(CATS)
    other.update(z, [], z, [], image_ids=[3])
    with pytest.raises(ValueError, match="image 3 is in both evaluators"):
        ev.merge(other)
    with pytest.raises(ValueError, match="different categories"):
        ev.merge(PanopticEvaluator(CATS[:2]))
    with pytest.raises(ValueError, match="not in image_order"):
        PanopticEvaluator(CATS, image_order=[1]).update(z, [], z, [], image_ids=[2])
    with pytest.raises(TypeError, match=r"categories\[0\] must be a Category"):
        PanopticEvaluator([1])
    empty = PanopticEvaluator(CATS).compute()
    assert empty.n_images == 0 and math.isnan(empty.result.all.pq)
    assert PanopticEvaluator.from_state(ev.state()).compute().stats == ev.compute().stats


# --------------------------------------------------------------------------- Boundary PQ and PQ†

ALL = ("pq", "boundary", "pq-dagger")


def test_bench_metrics_parity_with_the_files(pq_bench):
    """Boundary PQ and PQ† in memory ``==`` ``rapkit evaluate --metric boundary`` /
    ``--metric pq-dagger`` (and PQ ``==`` ``--metric pq``) on the 200 Pillow-written pairs,
    fed image by image and in shuffled chunks merged through their JSON states: statistics,
    summaries and per-image rows, bit for bit."""
    gt_json, pred_json = pq_bench(200)
    images, cats = _load(gt_json, pred_json)
    files = rapkit.evaluate(gt_json, pred_json, metrics=",".join(ALL), per_image=True)
    for ev in (_one_by_one(images, cats, metrics=ALL), _chunked(images, cats, seed=2, metrics=ALL)):
        res = ev.compute()
        assert isinstance(res, rapkit.Evaluation) and res.metrics == ALL
        for m in ALL:
            assert res[m].metric == m
            assert res[m].stats == files[m].stats, m
            assert res[m].result == files[m].result, m
            assert res[m].image_rows() == files[m].image_rows(), m
    # the metrics differ from PQ on this bench (the check is not vacuous)
    assert files["boundary"].result.all.pq < files["pq"].result.all.pq
    assert files["pq-dagger"].result.stuff.pq != files["pq"].result.stuff.pq
    # one metric alone: the same as in company, and the default stays a PQEvaluation
    alone = _one_by_one(images[:40], cats, metrics=("boundary",)).compute()
    assert alone.metrics == ("boundary",)
    part = _one_by_one(images[:40], cats, metrics=ALL).compute()
    assert alone["boundary"].stats == part["boundary"].stats
    assert _one_by_one(images[:40], cats).compute().stats == part["pq"].stats


def test_metrics_arguments_and_state_checks():
    z = np.zeros((4, 4), int)
    with pytest.raises(ValueError, match="unknown metric 'bpq'; choose among pq, boundary, pq-dagger"):
        PanopticEvaluator(CATS, metrics=("pq", "bpq"))
    with pytest.raises(ValueError, match="dilation_ratio must be > 0"):
        PanopticEvaluator(CATS, metrics="boundary", dilation_ratio=0)
    ev = PanopticEvaluator(CATS, metrics="pq,boundary", dilation_ratio=0.1)
    assert ev.metrics == ("pq", "boundary")
    ev.update(z, [], z, [], image_ids=[1])
    state = json.loads(json.dumps(ev.state()))
    assert state["version"] == 2 and state["metrics"] == ["pq", "boundary"] and state["dilation_ratio"] == 0.1
    back = PanopticEvaluator.from_state(state)
    assert back.metrics == ev.metrics and back.dilation_ratio == 0.1
    assert back.compute()["boundary"].stats == ev.compute()["boundary"].stats
    with pytest.raises(ValueError, match="different metrics"):
        PanopticEvaluator(CATS).merge(state)
    with pytest.raises(ValueError, match="different dilation_ratio"):
        PanopticEvaluator(CATS, metrics="pq,boundary").merge(ev)
    old = {**state, "version": 1}
    for call in (PanopticEvaluator.from_state, PanopticEvaluator(CATS, metrics="pq,boundary").merge):
        with pytest.raises(ValueError, match="state version 1 is from an older rapkit"):
            call(old)
    with pytest.raises(ValueError, match="metric 'pq-dagger' is not among"):
        ev.stats("pq-dagger")


def test_every_layout_gives_the_same_boundary_and_pq_dagger():
    """The (category, instance) layout and detectron2's labels are the COCO conversion for
    Boundary PQ and PQ† too (the bands depend on the segments, not on their id values)."""
    enc = lambda m: np.where(m[..., 0] == -1, -1, m[..., 0] * 1000 + np.where(m[..., 0] == 5, 0, m[..., 1]))  # noqa: E731
    a, b, c = (PanopticEvaluator(CATS, metrics=ALL, dilation_ratio=0.1) for _ in range(3))
    for s in range(3):
        g, p = _scene(s)
        a.update(p, None, g, None)
        b.update(*_as_coco(p), *_as_coco(g))
        c.update(enc(p), None, enc(g), None, label_divisor=1000)
    ra, rb, rc = a.compute(), b.compute(), c.compute()
    for m in ALL:
        assert ra[m].stats == rb[m].stats == rc[m].stats, m
    assert ra["boundary"].result.all.pq < ra["pq"].result.all.pq  # the bands matter on these scenes
