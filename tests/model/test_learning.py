"""The relation head LEARNS: on a synthetic world whose depth order follows a learnable
cue (per-category colour/texture/shape, depth = category rank + noise), a head trained on
a randomly initialised resnet18_fpn detector (the session's test detector, tests/conftest.py)
ranks held-out pairs far above chance (a bar with margin: the trained weights depend on float
rounding, see the assertion)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.model.data import load_relation_dataset  # noqa: E402
from rapkit.model.detector import load_detector  # noqa: E402
from rapkit.model.features import apply_buffers  # noqa: E402
from rapkit.model.head import load_head_file  # noqa: E402
from rapkit.model.train import TrainConfig, evaluate_pairs, train_head  # noqa: E402

H, W = 240, 320
N_TRAIN, N_TEST = 150, 60


def _subset(rel: dict, ids: set[int]) -> dict:
    out = dict(rel)
    out["images"] = [im for im in rel["images"] if im["image_id"] in ids]
    return out


@pytest.mark.slow
def test_head_learns_depth_order_on_held_out_images(tmp_path, test_detector):
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    paths = make_world(
        tmp_path / "w", SynthConfig(n_images=N_TRAIN + N_TEST, height=H, width=W, seed=11, depth_noise=0.3)
    )
    truth = json.loads(paths.truth.read_text())
    # depth = category rank + N(0, 0.3^2): a perfect per-category ranking scores about 0.95
    # (same-category pairs count as a coin flip), well above the bar
    assert truth["category_ceiling"] >= 0.93
    extract_dataset_relations(paths.instances, paths.panoptic, output=tmp_path / "rel.json")
    rel = json.loads((tmp_path / "rel.json").read_text())
    ids = [im["id"] for im in json.loads(paths.instances.read_text())["images"]]
    (tmp_path / "train.json").write_text(json.dumps(_subset(rel, set(ids[:N_TRAIN]))))
    (tmp_path / "test.json").write_text(json.dumps(_subset(rel, set(ids[N_TRAIN:]))))

    cfg = TrainConfig(
        checkpoint=str(test_detector.path),
        arch="resnet18_fpn",
        images=str(paths.images_dir),
        instances=str(paths.instances),
        relations=str(tmp_path / "train.json"),
        output=str(tmp_path / "head.pt"),
        min_size=H,
        max_size=W,
        # a fast setting for the test (the defaults stay the paper's SGD schedule)
        optimizer="adam",
        lr=1e-4,
        iterations=40,
        batch_size=8,
        draws=1,
        rois="gt-jitter",
        lr_drop=0.75,
        eval_every=10,
        val_fraction=0.15,
        bn_recalibrate=32,
        seed=0,
    )
    res = train_head(cfg)
    assert res.n_train_images >= 110

    head, meta = load_head_file(tmp_path / "head.pt")
    det = load_detector(test_detector.path, "resnet18_fpn", min_size=H, max_size=W)
    apply_buffers(det.model, meta["detector_buffers"])
    test = load_relation_dataset(
        paths.images_dir, paths.instances, tmp_path / "test.json", det.num_classes, label_map=meta["label_map"]
    )
    assert not {im.image_id for im in test.images} & set(ids[:N_TRAIN])  # held-out images only
    correct, total = evaluate_pairs(det, head, test)
    assert total >= 200  # enough pairs for the bar to mean something
    acc = correct / total
    print(f"held-out pair accuracy {acc:.3f} on {total} pairs (category ceiling {truth['category_ceiling']})")
    # measured 0.907 on 324 pairs (ceiling 0.94). The exact value depends on float rounding
    # (thread count, kernels), and the pair count alone gives a binomial error of 0.017, so the
    # bar sits 6 such errors below the measurement and still 0.3 above chance (0.5)
    assert acc >= 0.80
