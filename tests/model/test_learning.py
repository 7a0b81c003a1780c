"""The relation head LEARNS: on a synthetic world whose depth order follows a learnable
cue (per-category colour/texture/shape, depth = category rank + noise), a head trained on
a randomly initialised resnet18_fpn detector ranks held-out pairs far above chance, under
both training-RoI schemes (``--rois detector``, the default, and ``--rois gt-jitter``).

A small world (120x160 images) and a short run keep it quick on CPU; the bar has a wide
margin because the trained weights depend on float rounding (see the assertion). About
3.5 CPU-minutes per scheme on 2 cores (the backbone over 160 images, 40 head steps). The
480x640 measurement on the default world is ``benchmarks/learning.py``."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.model.data import load_relation_dataset  # noqa: E402
from rapkit.model.detector import build_detector, load_detector, save_detector_checkpoint  # noqa: E402
from rapkit.model.features import apply_buffers  # noqa: E402
from rapkit.model.head import load_head_file  # noqa: E402
from rapkit.model.train import TrainConfig, evaluate_pairs, train_head  # noqa: E402

H, W = 120, 160
N_TRAIN, N_TEST = 110, 50


def _subset(rel: dict, ids: set[int]) -> dict:
    out = dict(rel)
    out["images"] = [im for im in rel["images"] if im["image_id"] in ids]
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One world split by image into training and held-out relations, and a random checkpoint."""
    from rapkit.pipeline.relations import run_extract_relations
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("learning")
    paths = make_world(root / "w", SynthConfig(n_images=N_TRAIN + N_TEST, height=H, width=W, seed=11, depth_noise=0.3))
    truth = json.loads(paths.truth.read_text())
    run_extract_relations(paths.instances, paths.panoptic, root / "rel.json")
    rel = json.loads((root / "rel.json").read_text())
    ids = [im["id"] for im in json.loads(paths.instances.read_text())["images"]]
    (root / "train.json").write_text(json.dumps(_subset(rel, set(ids[:N_TRAIN]))))
    (root / "test.json").write_text(json.dumps(_subset(rel, set(ids[N_TRAIN:]))))
    torch.manual_seed(0)
    save_detector_checkpoint(build_detector("resnet18_fpn", 91, min_size=H, max_size=W), root / "det.pth")
    return {"root": root, "paths": paths, "truth": truth, "train_ids": set(ids[:N_TRAIN])}


@pytest.mark.slow
@pytest.mark.parametrize("rois", ["detector", "gt-jitter"])
def test_head_learns_depth_order_on_held_out_images(world, rois):
    root, paths = world["root"], world["paths"]
    # depth = category rank + N(0, 0.3^2): a perfect per-category ranking scores about 0.95
    # (same-category pairs count as a coin flip), well above the bar
    assert world["truth"]["category_ceiling"] >= 0.9
    out = root / f"head_{rois}.pt"
    cfg = TrainConfig(
        checkpoint=str(root / "det.pth"),
        arch="resnet18_fpn",
        images=str(paths.images_dir),
        instances=str(paths.instances),
        relations=str(root / "train.json"),
        output=str(out),
        min_size=H,
        max_size=W,
        # a fast setting for the test (the defaults stay the paper's SGD schedule)
        optimizer="adam",
        lr=1e-4,
        iterations=40,
        batch_size=8,
        rois=rois,
        rois_per_image=8,
        draws=2,
        lr_drop=0.75,
        eval_every=10,
        val_fraction=0.15,
        bn_recalibrate=16,
        seed=0,
    )
    res = train_head(cfg)
    assert res.n_train_images >= 80 and res.rois == rois

    head, meta = load_head_file(out)
    det = load_detector(root / "det.pth", "resnet18_fpn", min_size=H, max_size=W)
    apply_buffers(det.model, meta["detector_buffers"])
    test = load_relation_dataset(
        paths.images_dir, paths.instances, root / "test.json", det.num_classes, label_map=meta["label_map"]
    )
    assert not {im.image_id for im in test.images} & world["train_ids"]  # held-out images only
    correct, total = evaluate_pairs(det, head, test)
    assert total >= 150  # enough pairs for the bar to mean something
    acc = correct / total
    print(
        f"--rois {rois}: held-out pair accuracy {acc:.3f} on {total} pairs (ceiling {world['truth']['category_ceiling']})"
    )
    # measured 0.841 (detector) and 0.816 (gt-jitter) on 315 pairs, ceiling 0.94. The exact
    # value depends on float rounding (thread count, kernels), and the pair count alone gives
    # a binomial error of about 0.022: the bar sits 4 such errors below the lower measurement
    # and still 0.22 above chance (0.5)
    assert acc >= 0.72
