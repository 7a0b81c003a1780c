"""The OCFusion pair head: its layout, the loss's samples (both orders, the per-image cap)
and weights, the head file's type, and ``rapkit train --head-type ocfusion`` on a tiny world
(the same frozen detector and cached RoI inputs as the relation head; resume, DDP)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torch.nn import functional as F  # noqa: E402

from rapkit.cli import main  # noqa: E402
from rapkit.errors import ConfigError, InputError  # noqa: E402
from rapkit.model import train as train_mod  # noqa: E402
from rapkit.model.data import load_relation_dataset  # noqa: E402
from rapkit.model.head import RelationHead, head_payload, load_head_file, save_head_file  # noqa: E402
from rapkit.model.ocfusion import (  # noqa: E402
    OcclusionHead,
    ocfusion_loss,
    ordered_samples,
    pair_inputs,
)
from rapkit.model.train import TrainConfig, train_head  # noqa: E402

H, W = 96, 128


def test_layout_of_the_authors_head():
    head = OcclusionHead()  # the authors' width
    convs = head.convs
    assert [c.in_channels for c in convs] == [514, 512, 512, 512] and {c.out_channels for c in convs} == {512}
    assert [c.kernel_size for c in convs] == [(3, 3)] * 4 and [c.stride for c in convs] == [(1, 1)] * 3 + [(2, 2)]
    assert (head.fc1.in_features, head.fc1.out_features) == (512 * 7 * 7, 1024) and head.fc2.out_features == 1
    narrow = OcclusionHead(width=16)
    assert narrow.fc1.in_features == 16 * 49 and narrow(torch.zeros(2, 514, 14, 14)).shape == (2,)
    x = torch.arange(3.0)[:, None, None, None].expand(3, 257, 14, 14)
    p = pair_inputs(x, torch.tensor([2]), torch.tensor([0]))  # the authors' order: cat(x_i, x_j)
    assert p.shape == (1, 514, 14, 14) and p[0, :257].eq(2).all() and p[0, 257:].eq(0).all()


def test_samples_both_orders_cap_and_weights():
    front = np.array([0, 1, 5, 6])
    back = np.array([1, 2, 6, 7])
    img = np.array([0, 0, 1, 1])
    f, s, t, w = ordered_samples(front, back, img, 2, np.random.default_rng(0), cap=128)
    assert f.tolist() == [0, 1, 1, 2, 5, 6, 6, 7] and s.tolist() == [1, 2, 0, 1, 6, 7, 5, 6]
    assert t.tolist() == [1, 1, 0, 0, 1, 1, 0, 0] and w.tolist() == [1.0] * 8
    big_f = np.arange(100)
    f, s, t, w = ordered_samples(big_f, big_f + 100, np.zeros(100, int), 1, np.random.default_rng(1), cap=128)
    assert len(f) == 128 and len({(a, b) for a, b in zip(f, s)}) == 128  # 128 of the 200 distinct samples
    assert np.all((t == 1) == (f < 100)) and np.allclose(w, 200 / 128)
    f2, s2, *_ = ordered_samples(big_f, big_f + 100, np.zeros(100, int), 1, np.random.default_rng(1), cap=128)
    assert f2.tolist() == f.tolist() and s2.tolist() == s.tolist()  # a function of the generator
    assert all(len(a) == 0 for a in ordered_samples(front[:0], back[:0], img[:0], 2, np.random.default_rng(0), 128))


def test_loss_is_weighted_bce_of_the_logits():
    torch.manual_seed(0)
    head = OcclusionHead(width=8)
    x = torch.randn(4, 257, 14, 14)
    first, second = torch.tensor([0, 1, 2, 3]), torch.tensor([1, 0, 3, 2])
    target = torch.tensor([1.0, 0.0, 1.0, 0.0])
    weight = torch.tensor([1.0, 1.0, 3.0, 3.0])
    logits = head(torch.cat([x[first], x[second]], 1))
    want = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).sum() / 8
    got = ocfusion_loss(head, x, first, second, target, weight, False)
    assert torch.equal(got, want)
    empty = torch.zeros(0, dtype=torch.int64)
    zero = ocfusion_loss(head, x, empty, empty, torch.zeros(0), torch.zeros(0), False)
    zero.backward()  # no sample: 0, still reaching every parameter
    assert zero.item() == 0.0 and all(p.grad is not None for p in head.parameters())


def _payload(head):
    return head_payload(head, arch="resnet18_fpn", num_classes=3, min_size=64, max_size=96, label_map={1: 1})


def test_head_file_records_type_and_width_old_files_load_as_rap(tmp_path):
    path = save_head_file(tmp_path / "oc.pt", _payload(OcclusionHead(width=8)))
    head, meta = load_head_file(path)
    assert isinstance(head, OcclusionHead) and head.width == 8 and not head.training
    assert (meta["head_type"], meta["head_width"]) == ("ocfusion", 8)
    old = _payload(RelationHead())
    del old["head_type"], old["head_width"]  # a file written before the OCFusion head
    head, meta = load_head_file(save_head_file(tmp_path / "old.pt", old))
    assert isinstance(head, RelationHead) and (meta["head_type"], meta["head_width"]) == ("rap", None)
    bad = _payload(OcclusionHead(width=8))
    bad["head_width"] = 16
    with pytest.raises(InputError, match="OCFusion pair head of width 16"):
        load_head_file(save_head_file(tmp_path / "bad.pt", bad))


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def world(tmp_path_factory, test_detector):
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("ocf")
    paths = make_world(root / "w", SynthConfig(n_images=4, height=H, width=W, seed=3))
    extract_dataset_relations(paths.instances, paths.panoptic, output=root / "relations.json")
    return {
        "root": root,
        "paths": paths,
        "relations": root / "relations.json",
        "checkpoint": test_detector.detecting_path,
    }


def cfg_for(world, out, **over) -> TrainConfig:
    p = world["paths"]
    kw = dict(
        checkpoint=str(world["checkpoint"]),
        arch="resnet18_fpn",
        images=str(p.images_dir),
        instances=str(p.instances),
        relations=str(world["relations"]),
        output=str(out),
        head_type="ocfusion",
        head_width=8,
        min_size=H,
        max_size=W,
        iterations=4,
        batch_size=2,
        optimizer="adam",
        lr=1e-4,
        eval_every=2,
        log_every=1,
        val_fraction=0.25,
        checkpoint_every=2,
        rois_per_image=16,
    )
    kw.update(over)
    return TrainConfig(**kw)


def _run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _cli_args(world, out, *extra):
    p = world["paths"]
    return [
        "train",
        "--head-type",
        "ocfusion",
        "--head-width",
        8,
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
        "--optimizer",
        "adam",
        "--lr",
        "1e-4",
        "--rois-per-image",
        16,
        "--val-fraction",
        0.25,
        *extra,
    ]


def test_cli_train_ocfusion_on_the_cached_roi_inputs(world, tmp_path, capsys):
    """The run's batches are the relation head's (same cached RoI inputs, same pairs), turned
    into ordered samples; the head file holds an OCFusion head of the given width."""
    seen = []
    real = train_mod.train_step

    def spy(learner, batch, lr):
        seen.append(batch)
        return real(learner, batch, lr)

    mp = pytest.MonkeyPatch()
    mp.setattr(train_mod, "train_step", spy)
    try:
        out = tmp_path / "oc.pt"
        code, stdout, err = _run(capsys, *_cli_args(world, out, "--format", "json"))
    finally:
        mp.undo()
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["head_type"] == "ocfusion" and rep["iterations"] == 2 and rep["val_pair_accuracy"] is not None
    head, meta = load_head_file(out)
    assert isinstance(head, OcclusionHead) and head.width == 8 and meta["train"]["head_type"] == "ocfusion"
    assert len(seen) == 2
    for b in seen:
        n = b.inputs.shape[1:]
        assert tuple(n) == (257, 14, 14) and b.target is not None and b.weight is not None
        k = len(b.target)
        assert k > 0 and len(b.front) == len(b.back) == k and bool((b.front != b.back).all())
        assert k <= 128 * len(b.image_ids)
        pos = {(int(f), int(s)) for f, s, t in zip(b.front, b.back, b.target) if t == 1}
        neg = {(int(s), int(f)) for f, s, t in zip(b.front, b.back, b.target) if t == 0}
        if all(float(w) == 1.0 for w in b.weight):  # nothing capped: every pair in both orders
            assert pos == neg


@pytest.mark.slow  # two more (tiny) trainings and a resumed one
def test_ocfusion_resume_equals_uninterrupted_run(world, tmp_path):
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    quick = dict(rois_per_image=8, val_fraction=0.0, eval_every=100)
    try:
        a = tmp_path / "a.pt"
        train_head(cfg_for(world, a, **quick))
        b = tmp_path / "b.pt"

        def stop(rec):
            if rec["iteration"] == 3:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train_head(cfg_for(world, b, **quick), on_step=stop)
        train_head(cfg_for(world, b, resume=True, **quick))
        ha, _ = load_head_file(a)
        hb, _ = load_head_file(b)
        sa, sb = ha.state_dict(), hb.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)  # exactly determined: same seed, same batches
        c = tmp_path / "c.pt"
        (tmp_path / "c.pt.ckpt").write_bytes((tmp_path / "b.pt.ckpt").read_bytes())
        with pytest.raises(ConfigError, match="head_width"):
            train_head(cfg_for(world, c, resume=True, head_width=16, **quick))
    finally:
        torch.use_deterministic_algorithms(was)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ocfusion_torchrun_two_processes_gloo(world, tmp_path):
    out = tmp_path / "ddp.pt"
    args = [str(a) for a in _cli_args(world, out, "--batch-size", 2, "--iterations", 2, "--format", "json")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    cmd += ["--master-port", str(_free_port()), "-m", "rapkit", *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=900)  # a hang guard, not a speed claim
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    rep = json.loads(stdout)
    assert rep["world_size"] == 2 and rep["head_type"] == "ocfusion"
    head, _ = load_head_file(out)
    assert isinstance(head, OcclusionHead) and head.width == 8


# --------------------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def pair_head_file(world):
    """An (untrained) OCFusion head file for the world's detector: predict's contract does not
    depend on what the head learned."""
    cats = json.loads(world["paths"].instances.read_text())["categories"]
    ids = [c["id"] for c in cats]
    torch.manual_seed(0)
    payload = head_payload(
        OcclusionHead(width=8),
        arch="resnet18_fpn",
        num_classes=91,
        min_size=H,
        max_size=W,
        label_map={c: c for c in ids},
        category_ids=ids,
    )
    return save_head_file(world["root"] / "pair_head.pt", payload)


def _decode(seg) -> np.ndarray:
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode("ascii")}).astype(bool)


def _overlapping(entries: list[dict], theta: float) -> set[tuple[int, int]]:
    """The contract's pairs, from the written masks (numpy, independent of rapkit.model.occludes)."""
    ms = [_decode(e["segmentation"]) for e in entries]
    out = set()
    for i, a in enumerate(ms):
        for j, b in enumerate(ms):
            inter = int(np.logical_and(a, b).sum())
            if i != j and inter > 0 and (inter >= theta * a.sum() or inter >= theta * b.sum()):
                out.add((i, j))
    return out


def _predict_args(world, head, out, *extra):
    p = world["paths"]
    return ["predict", "--detector", world["checkpoint"], "--head", head, "--images", p.images_dir,
            "--image-info", p.instances, "-o", out, "--max-detections", 6, "--rpn-top-n", 50,
            "--format", "json", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def pair_predictions(world, pair_head_file):
    """``rapkit predict --head <pair head> --format json``: (output path, report, exit code, stderr)."""
    import contextlib
    import io

    out = world["root"] / "pair_pred.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as e:
        main([str(a) for a in _predict_args(world, pair_head_file, out, "--pair-overlap", 0.2)])
    return out, stdout.getvalue(), e.value.code, stderr.getvalue()


def test_predict_with_a_pair_head_writes_occludes_then_fuse_and_evaluate(world, pair_predictions, tmp_path, capsys):
    out, stdout, code, err = pair_predictions
    assert code == 0, err
    rep = json.loads(stdout)
    dets = json.loads(out.read_text())
    assert dets and rep["head_type"] == "ocfusion" and all("relation" not in d for d in dets)
    by_image: dict[int, list[dict]] = {}
    for d in dets:
        by_image.setdefault(d["image_id"], []).append(d)
    n_pairs = 0
    for entries in by_image.values():  # the contract of docs/fusion.md, read from the JSON itself
        listed = set()
        for i, e in enumerate(entries):
            occ = e.get("occludes")
            if occ is None:
                continue
            assert occ and all(isinstance(k, int) and isinstance(v, float) and np.isfinite(v) for k, v in occ)
            ks = [k for k, _ in occ]
            assert len(set(ks)) == len(ks) and i not in ks and all(0 <= k < len(entries) for k in ks)
            listed |= {(i, k) for k in ks}
        assert listed == _overlapping(entries, 0.2)  # exactly the pairs over the threshold, both orders
        n_pairs += len(listed)
    assert n_pairs > 0 and rep["pairs"] == n_pairs and rep["replay_calls"] == n_pairs // 2  # each overlap met once
    ms = rep["ms_per_image"]  # the pair head's two strategies apart from the detector
    assert set(ms) == {"detector", "pair_head", "pair_head_replay", "other", "total"}
    assert ms["pair_head"] > 0 and ms["pair_head_replay"] > 0 and ms["detector"] > 0
    # end to end: predict -> fuse --strategy ocfusion -> evaluate
    p = world["paths"]
    code, _, err = _run(capsys, "fuse", "--proposals", out, "--image-info", p.instances, "--categories",
                        p.categories, "--semantic", p.semantic, "-o", tmp_path / "fused", "--strategy", "ocfusion",
                        "-q", "--format", "json")  # fmt: skip
    assert code == 0, err
    code, stdout, err = _run(capsys, "evaluate", "--gt", p.panoptic, "--pred", tmp_path / "fused" / "panoptic.json",
                             "-q", "--format", "json")  # fmt: skip
    assert code == 0, err
    ev = json.loads(stdout)
    assert ev["n_images"] == 4 and 0 <= ev["All"]["pq"] <= 100


@pytest.mark.slow  # two more predict runs
def test_predict_pair_head_on_dumped_proposals(world, pair_head_file, pair_predictions, tmp_path, capsys):
    """Dumped proposals: every entry kept with its fields, ``occludes`` added from the given
    masks (the same pairs as the detect run that wrote them); an entry without a mask is refused."""
    out, _, code, err = pair_predictions
    assert code == 0, err
    dets = json.loads(out.read_text())
    given = [{k: v for k, v in d.items() if k != "occludes"} for d in dets]
    (tmp_path / "given.json").write_text(json.dumps(given))
    out2 = tmp_path / "pred2.json"
    code, _, err = _run(capsys, *_predict_args(world, pair_head_file, out2, "--proposals", tmp_path / "given.json"))
    assert code == 0, err
    got = json.loads(out2.read_text())
    assert [{k: v for k, v in d.items() if k != "occludes"} for d in got] == given
    assert [[k for k, _ in d.get("occludes", [])] for d in got] == [[k for k, _ in d.get("occludes", [])] for d in dets]
    del given[0]["segmentation"]
    (tmp_path / "nomask.json").write_text(json.dumps(given))
    code, _, err = _run(capsys, *_predict_args(world, pair_head_file, tmp_path / "p3.json", "--proposals",
                                               tmp_path / "nomask.json"))  # fmt: skip
    assert code == 3 and "needs a 'segmentation'" in err and "Traceback" not in err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_amp_pair_head_train_and_predict(world, tmp_path):
    from rapkit.model.predict import PredictConfig, predict

    out = tmp_path / "gpu.pt"
    res = train_head(cfg_for(world, out, device="cuda", amp=True))
    assert res.device.startswith("cuda") and res.head_type == "ocfusion"
    head, _ = load_head_file(out)
    assert all(torch.isfinite(v).all() for v in head.state_dict().values())
    p = world["paths"]
    s = predict(
        PredictConfig(
            checkpoint=str(world["checkpoint"]),
            head=str(out),
            images=str(p.images_dir),
            image_info=str(p.instances),
            output=str(tmp_path / "pred.json"),
            device="cuda",
            amp=True,
            max_detections=6,
            rpn_top_n=50,
        )
    )
    dets = json.loads((tmp_path / "pred.json").read_text())
    assert s.pairs == sum(len(d.get("occludes", [])) for d in dets) > 0


@pytest.mark.parametrize(
    "rois,head_type", [("detector", "ocfusion"), pytest.param("gt-jitter", "rap", marks=pytest.mark.slow)]
)
def test_all_images_draws_batches_from_images_without_pairs(world, tmp_path, rois, head_type):
    """--all-images (the authors'): images of the relations JSON without a pair join the
    batches with no RoI object and add no loss; without it they are skipped."""
    rel = json.loads(world["relations"].read_text())
    emptied = [im["image_id"] for im in rel["images"][1::2]]
    for im in rel["images"][1::2]:
        im["relations"] = []
    path = tmp_path / "rel.json"
    path.write_text(json.dumps(rel))
    seen = []
    real = train_mod.train_step

    def spy(learner, batch, lr):
        seen.append(batch)
        return real(learner, batch, lr)

    mp = pytest.MonkeyPatch()
    mp.setattr(train_mod, "train_step", spy)
    kw = dict(relations=str(path), rois=rois, head_type=head_type, draws=1, val_fraction=0.0, batch_size=4)
    try:
        res = train_head(cfg_for(world, tmp_path / "all.pt", all_images=True, iterations=1, **kw))
        assert res.n_train_images == 4 and len(seen) == 1
        for b in seen:  # every image in every batch: the emptied ones with no RoI and no pair
            assert sorted(b.image_ids) == sorted(im["image_id"] for im in rel["images"])
            sizes = dict(zip(b.image_ids, b.n_rois))
            assert all(sizes[i] == 0 for i in emptied) and len(b.front) > 0
    finally:
        mp.undo()
    p = world["paths"]
    some = load_relation_dataset(p.images_dir, p.instances, path, 91)
    assert len(some.images) == 4 - len(emptied) and some.skipped_images == len(emptied)


@pytest.mark.slow  # one more (tiny) training
def test_flip_trains_on_both_copies(world, tmp_path):
    """--flip: the cache holds every training image and its mirror (the reader mirrors the
    pixels, the boxes are mirrored, the pairs kept); batches draw the mirror half the time."""
    from rapkit.model.inputs import read_image

    seen, computed = [], []
    real_step, real_props = train_mod.train_step, train_mod.compute_proposal_inputs

    def step(learner, batch, lr):
        seen.append(batch)
        return real_step(learner, batch, lr)

    def props(det, images, *a, **k):
        computed.extend(images)
        return real_props(det, images, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(train_mod, "train_step", step)
    mp.setattr(train_mod, "compute_proposal_inputs", props)
    try:
        res = train_head(cfg_for(world, tmp_path / "f.pt", flip=True, iterations=3, val_fraction=0.0))
    finally:
        mp.undo()
    n = res.n_train_images
    assert len(computed) == 2 * n and [i.flipped for i in computed] == [False] * n + [True] * n
    a, b = computed[0], computed[n]
    assert a.image_id == b.image_id and np.array_equal(a.pairs, b.pairs)
    assert np.allclose(b.boxes[:, [0, 2]], a.width - a.boxes[:, [2, 0]])
    assert np.array_equal(read_image(b), read_image(a)[:, ::-1])
    assert len(seen) == 3 and all(len(s.front) > 0 for s in seen)
