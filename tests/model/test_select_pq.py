"""``rapkit train --select best-pq`` (model/select_pq.py): the held-out images fused with the
head's relation values and scored in memory; the kept head is the evaluation point of best
held-out PQ^Th, and its score is reproduced from the written head file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.core.fusion import fuse_image  # noqa: E402
from rapkit.core.pq import pq_stats, summarize  # noqa: E402
from rapkit.io.panoptic import load_panoptic, read_id_map  # noqa: E402
from rapkit.io.proposals import load_proposals  # noqa: E402
from rapkit.model.head import RelationHead, load_head_file  # noqa: E402
from rapkit.model.select_pq import PQSelector, _Held, criterion  # noqa: E402
from rapkit.types import FusionParams, merge_stats  # noqa: E402

H, W = 96, 128


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("selectpq")
    paths = make_world(root / "w", SynthConfig(n_images=8, height=H, width=W, seed=5))
    extract_dataset_relations(paths.instances, paths.panoptic, output=root / "relations.json")
    return root, paths


def test_score_fuses_with_the_head_values_and_scores_like_pq_stats(world):
    """PQSelector.score == fusing each image's proposals with the head's values by hand and
    pq_stats of the result (a selector built without a detector: inputs given)."""
    _, paths = world
    gt = load_panoptic(paths.panoptic)
    props = load_proposals(paths.proposals, gt.images, gt.categories)
    rng = torch.Generator().manual_seed(0)
    head = RelationHead().eval()
    held, parts = [], []
    for k, iid in enumerate(list(gt.annotations)[:3]):
        p = props[iid]
        x = torch.randn(len(p), 257, 14, 14, generator=rng).to(torch.float16)
        gmap = read_id_map(gt.png_path(iid))
        held.append(_Held(k, p, x, gmap, gt.annotations[iid].segments))
        with torch.no_grad():
            v = head(x.float()).double().numpy()
        p.relations = v
        ids, segs = fuse_image(p, None, FusionParams(), gt.categories)
        parts.append(pq_stats(gmap, gt.annotations[iid].segments, segs, gt.categories, pred_map=ids, order=k))
    want = summarize(merge_stats(parts), gt.categories)
    got = PQSelector(held, gt.categories, FusionParams(), torch.device("cpu")).score(head)
    assert got == {"val_pq_th": want.things.pq, "val_pq": want.all.pq}
    assert criterion({"val_pq_th": math.nan}) == -1.0 and criterion(got) == want.things.pq


def test_best_pq_needs_its_inputs(world, tmp_path):
    from rapkit.errors import ConfigError
    from rapkit.model.train import TrainConfig

    cfg = TrainConfig(checkpoint="m.pth", images="i", instances="i.json", relations="r.json", output="h.pt")
    cfg.select = "best-pq"
    with pytest.raises(ConfigError, match="--select-proposals"):
        cfg.validate()
    # it scores RAP relation values: the OCFusion pair head has none
    cfg.select_proposals, cfg.select_panoptic, cfg.head_type = "p.json", "g.json", "ocfusion"
    with pytest.raises(ConfigError, match="--head-type rap"):
        cfg.validate()
    cfg.head_type = "rap"
    cfg.validate()


@pytest.mark.slow  # a training
def test_train_select_best_pq_keeps_the_best_pq_iteration(world, tmp_path, test_detector):
    from rapkit.model.train import TrainConfig, train_head

    _, paths = world
    root = world[0]
    out = tmp_path / "head.pt"
    cfg = TrainConfig(
        checkpoint=str(test_detector.detecting_path),
        arch="resnet18_fpn",
        images=str(paths.images_dir),
        instances=str(paths.instances),
        relations=str(root / "relations.json"),
        output=str(out),
        min_size=H,
        max_size=W,
        iterations=6,
        batch_size=2,
        draws=1,
        optimizer="adam",
        lr=1e-3,
        eval_every=2,
        log_every=2,
        val_fraction=0.4,
        checkpoint_every=100,
        rois="gt-jitter",
        select="best-pq",
        select_proposals=str(paths.proposals),
        select_panoptic=str(paths.panoptic),
    )
    res = train_head(cfg)
    evals = [r for r in res.records if "val_pq_th" in r]
    assert [r["iteration"] for r in evals] == [2, 4, 6]
    best = max(evals, key=lambda r: criterion(r))  # the first of equal maxima
    assert res.best_iteration == best["iteration"]
    assert res.val_pair_accuracy == best["val_pair_accuracy"]
    log = json.loads(out.with_suffix(".log.json").read_text())
    assert log["selected_iteration"] == best["iteration"] and log["config"]["select"] == "best-pq"
    # the kept head, rebuilt from the file, scores what the run recorded for it
    from rapkit.model.detector import load_detector
    from rapkit.model.device import dist_setup
    from rapkit.model.features import apply_buffers
    from rapkit.model.train import _prepare, _Run

    dist, device = dist_setup("cpu")
    data = _prepare(_Run(cfg, dist, device, False, lambda s: None, 0.0))
    head, meta = load_head_file(out)
    det = load_detector(cfg.checkpoint, "resnet18_fpn", min_size=H, max_size=W)
    apply_buffers(det.model, meta.get("detector_buffers") or {})
    sel = PQSelector.build(cfg.select_proposals, cfg.select_panoptic, det, meta["label_map"], data.val, device)
    again = sel.score(head)
    assert again["val_pq_th"] == best["val_pq_th"] or np.isclose(again["val_pq_th"], best["val_pq_th"])
