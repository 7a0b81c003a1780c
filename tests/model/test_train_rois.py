"""``rapkit train --rois detector`` (the default) beside ``--rois gt-jitter``: the training RoIs
are the frozen detector's region proposals matched to the instances of known pairs
(IoU >= 0.5, the matched GT's category), up to ``--rois-per-image``; every RoI pair whose
instances have a known relation is a pair of the loss; cache and no-cache use the same boxes
and pairs; the CLI runs with both values. Small world, few iterations (CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.cli import main  # noqa: E402
from rapkit.model import train as train_mod  # noqa: E402
from rapkit.model.data import box_iou, load_relation_dataset, match_proposals  # noqa: E402
from rapkit.model.detector import load_detector  # noqa: E402
from rapkit.model.head import load_head_file  # noqa: E402
from rapkit.model.train import TrainConfig, compute_proposal_inputs, train_head  # noqa: E402

H, W = 96, 128
K = 12


@pytest.fixture(autouse=True, scope="module")
def _deterministic_torch():
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(was)


@pytest.fixture(scope="module")
def world(tmp_path_factory, test_detector):
    """The world, its relations, and the session's detector (tests/conftest.py; a plain seed-0 build)."""
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("rois")
    paths = make_world(root / "w", SynthConfig(n_images=6, height=H, width=W, seed=11))
    extract_dataset_relations(paths.instances, paths.panoptic, output=root / "relations.json")
    return {"root": root, "paths": paths, "relations": root / "relations.json", "checkpoint": test_detector.path}


@pytest.fixture(scope="module")
def matched(world):
    """The dataset and the RoI sets of every image (with their head inputs)."""
    p = world["paths"]
    det = load_detector(world["checkpoint"], "resnet18_fpn", min_size=H, max_size=W)
    ds = load_relation_dataset(p.images_dir, p.instances, world["relations"], det.num_classes)
    rois, inputs = compute_proposal_inputs(det, ds.images, K, 0, 0.5, torch.device("cpu"), detector_batch=3)
    return ds, rois, inputs


def _truth_boxes(world):
    """Every annotation's xyxy box and category by annotation id, read straight from the JSON."""
    inst = json.loads(world["paths"].instances.read_text())
    out = {}
    for a in inst["annotations"]:
        x, y, w, h = a["bbox"]
        out[a["id"]] = (np.array([x, y, x + w, y + h], np.float64), a["category_id"])
    return out


def test_every_roi_has_iou_at_least_half_with_its_instance_and_its_category(world, matched):
    ds, rois, inputs = matched
    truth = _truth_boxes(world)
    cat_to_label = {c: lab for lab, c in ds.label_map.items()}
    assert len(rois) == len(ds.images)
    n_proposals = 0
    for img, r, x in zip(ds.images, rois, inputs):
        assert 0 < len(r.boxes) <= K and x.shape == (len(r.boxes), 257, 14, 14)
        gt = np.stack([truth[int(img.ann_ids[i])][0] for i in r.instance])
        iou = box_iou(r.boxes.astype(np.float64), gt)
        assert (iou >= 0.5).all(), iou.min()
        assert np.allclose(iou, r.iou, atol=1e-5)
        # the RPN is class-agnostic: the RoI's label is its matched instance's category
        assert r.labels.tolist() == [cat_to_label[truth[int(img.ann_ids[i])][1]] for i in r.instance]
        n_proposals += int((r.iou < 1.0).sum())
    assert n_proposals > 0  # not only the GT boxes: the detector's own proposals take part


def test_matching_prefers_the_best_overlapping_annotation():
    from pathlib import Path

    from rapkit.model.data import RelImage

    # instance 0 and 1 in a pair; annotation 2 (no relation) sits where the proposal is
    img = RelImage(
        1,
        Path("x"),
        100,
        100,
        np.array([10, 11]),
        np.array([[0, 0, 50, 50], [50, 50, 100, 100]], np.float32),
        np.array([3, 4]),
        np.array([[0, 1]]),
        all_boxes=np.array([[0, 0, 50, 50], [50, 50, 100, 100], [0, 0, 40, 50]], np.float32),
        all_local=np.array([0, 1, -1]),
    )
    r = match_proposals(img, np.array([[0, 0, 41, 50], [0, 0, 49, 50], [52, 50, 100, 99]], np.float32), k=10, seed=0)
    # the first proposal matches annotation 2 best (no known pair): dropped; the others kept
    assert np.allclose(r.iou, [1.0, 1.0, 49 * 50 / 2500, 48 * 49 / 2500], atol=1e-6)
    assert r.instance.tolist() == [0, 1, 0, 1]
    assert r.pairs.tolist() == [[0, 1], [0, 3], [2, 1], [2, 3]]
    # k caps the RoIs, round-robin over the instances: both instances keep a RoI
    r2 = match_proposals(img, np.array([[0, 0, 49, 50], [1, 0, 50, 50], [52, 50, 100, 99]], np.float32), k=2, seed=0)
    assert sorted(r2.instance.tolist()) == [0, 1] and len(r2.pairs) == 1


def test_pairs_are_exactly_the_relation_pairs_among_the_rois(matched):
    ds, rois, _ = matched
    total = 0
    for img, r in zip(ds.images, rois):
        known = {(int(f), int(b)) for f, b in img.pairs}
        want = {
            (i, j)
            for i in range(len(r.boxes))
            for j in range(len(r.boxes))
            if (int(r.instance[i]), int(r.instance[j])) in known
        }
        got = [tuple(p) for p in r.pairs.tolist()]
        assert len(got) == len(set(got)) and set(got) == want
        total += len(got)
    assert total > 0


def test_proposals_are_deterministic(world, matched):
    """Same detector, same batching -> the same RoIs and pairs, with or without head inputs.
    (Another --detector-batch changes the float rounding of the backbone, so proposal
    coordinates may move in the last bits: they are compared loosely then.)"""
    ds, rois, _ = matched
    det = load_detector(world["checkpoint"], "resnet18_fpn", min_size=H, max_size=W)
    again, none = compute_proposal_inputs(
        det, ds.images, K, 0, 0.5, torch.device("cpu"), with_inputs=False, detector_batch=3
    )
    assert none is None
    for a, b in zip(rois, again):
        assert (
            np.array_equal(a.boxes, b.boxes) and np.array_equal(a.pairs, b.pairs) and np.array_equal(a.labels, b.labels)
        )
    single, _ = compute_proposal_inputs(
        det, ds.images, K, 0, 0.5, torch.device("cpu"), with_inputs=False, detector_batch=1
    )
    same_shape = [(a, b) for a, b in zip(rois, single) if a.boxes.shape == b.boxes.shape]
    assert len(same_shape) >= len(rois) - 1
    assert max(float(np.abs(a.boxes - b.boxes).max()) for a, b in same_shape) < 0.05


def _cfg(world, out, **over):
    p = world["paths"]
    kw = dict(
        checkpoint=str(world["checkpoint"]),
        arch="resnet18_fpn",
        images=str(p.images_dir),
        instances=str(p.instances),
        relations=str(world["relations"]),
        output=str(out),
        min_size=H,
        max_size=W,
        iterations=3,
        batch_size=2,
        optimizer="sgd",
        lr=0.002,
        eval_every=3,
        log_every=1,
        val_fraction=0.2,
        checkpoint_every=10,
        rois="detector",
        rois_per_image=K,
        select="last",
    )
    kw.update(over)
    return TrainConfig(**kw)


def _batches(world, out, **over):
    """Train; return every batch handed to ``train_step``, the run's RoI sets by image id, and the result."""
    batches, rois = [], {}
    real_step, real_rois = train_mod.train_step, train_mod.compute_proposal_inputs

    def step(learner, batch, lr):
        batches.append(batch)
        return real_step(learner, batch, lr)

    def spy(det, images, *a, **k):
        got = real_rois(det, images, *a, **k)
        rois.update({img.image_id: r for img, r in zip(images, got[0])})
        return got

    mp = pytest.MonkeyPatch()
    mp.setattr(train_mod, "train_step", step)
    mp.setattr(train_mod, "compute_proposal_inputs", spy)
    try:
        res = train_head(_cfg(world, out, **over))
    finally:
        mp.undo()
    return batches, rois, res


@pytest.mark.slow  # two trainings, one without the feature cache
def test_cache_and_no_cache_give_the_same_boxes_and_pairs(world, tmp_path):
    cached, by_id, res = _batches(world, tmp_path / "c.pt")
    live, by_id_live, _ = _batches(world, tmp_path / "nc.pt", cache=False)
    assert len(cached) == len(live) == 3 and res.rois == "detector" and res.n_train_roi_pairs > 0
    assert by_id.keys() == by_id_live.keys()
    for iid, r in by_id.items():
        assert np.array_equal(r.boxes, by_id_live[iid].boxes) and np.array_equal(r.pairs, by_id_live[iid].pairs)
    assert res.n_train_roi_pairs == sum(len(r.pairs) for r in by_id.values())
    for a, b in zip(cached, live):
        assert a.image_ids == b.image_ids
        assert len(a.boxes) == len(b.boxes) == len(a.image_ids)
        for ba, bb, iid in zip(a.boxes, b.boxes, a.image_ids):
            assert np.array_equal(ba, bb) and np.array_equal(ba, by_id[iid].boxes)
        assert torch.equal(a.front, b.front) and torch.equal(a.back, b.back) and a.front.numel() > 0
        assert a.inputs.shape == b.inputs.shape and a.inputs.dtype == b.inputs.dtype == torch.float16
        xa, xb = a.inputs.double(), b.inputs.double()
        assert float(((xa - xb).abs() - (2.0**-10 * torch.maximum(xa.abs(), xb.abs()) + 1e-4)).max()) <= 0.0
        # the batch's pairs are the sampled images' RoI pairs, offset into the batch
        off, want = 0, []
        for iid in a.image_ids:
            want.append(by_id[iid].pairs + off)
            off += len(by_id[iid].boxes)
        want = np.concatenate(want)
        assert np.array_equal(a.front.numpy(), want[:, 0]) and np.array_equal(a.back.numpy(), want[:, 1])


@pytest.mark.parametrize("rois", ["detector", "gt-jitter"])
def test_cli_train_with_each_rois_value(world, tmp_path, capsys, monkeypatch, rois):
    monkeypatch.setenv("RAPKIT_PROGRESS", "0")
    p = world["paths"]
    out = tmp_path / "head.pt"
    args = [
        "train",
        "--detector",
        world["checkpoint"],
        "--arch",
        "resnet18_fpn",
        "--images",
        p.images_dir,
        "--instances",
        p.instances,
        "--relations",
        world["relations"],
        "-o",
        out,
        "--min-size",
        H,
        "--max-size",
        W,
        "--iterations",
        2,
        "--batch-size",
        2,
        "--eval-every",
        1,
        "--rois",
        rois,
        "--rois-per-image",
        8,
        "--draws",
        2,
        "--format",
        "json",
    ]
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    assert e.value.code == 0, cap.err
    data = json.loads(cap.out)
    assert data["rois"] == rois and data["train_roi_pairs"] > 0
    _, meta = load_head_file(out)
    assert meta["train"]["rois"] == rois and meta["train"]["config"]["rois_per_image"] == 8
    if rois == "detector":
        assert "training RoIs: the detector's region proposals" in cap.err


@pytest.mark.slow  # an interrupted training first
def test_resume_refuses_another_rois_scheme(world, tmp_path):
    from rapkit.errors import ConfigError

    out = tmp_path / "h.pt"

    def stop(rec):
        if rec["iteration"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_head(_cfg(world, out, iterations=4, checkpoint_every=2, eval_every=2), on_step=stop)
    with pytest.raises(ConfigError, match="rois"):
        train_head(_cfg(world, out, iterations=4, checkpoint_every=2, eval_every=2, rois="gt-jitter", resume=True))
