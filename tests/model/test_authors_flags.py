"""The authors' training settings on request: bias parameter groups (--bias-lr-factor,
--bias-weight-decay), the RPN's training top-n (--rpn-mode train), and a --help that says
which defaults are the paper's and which are not."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.cli import main  # noqa: E402
from rapkit.model.batches import Batch  # noqa: E402
from rapkit.model.detector import load_detector  # noqa: E402
from rapkit.model.device import Dist  # noqa: E402
from rapkit.model.features import set_rpn_mode  # noqa: E402
from rapkit.model.learner import make_learner, ocfusion_batch_loss, train_step  # noqa: E402
from rapkit.model.ocfusion import OcclusionHead  # noqa: E402
from rapkit.model.train_config import TrainConfig  # noqa: E402


def _cfg(**kw) -> TrainConfig:
    return TrainConfig("m.pth", "imgs", "i.json", "r.json", "head.pt", **kw)


def _pair_batch() -> Batch:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 257, 14, 14, generator=g)
    return Batch([1], [0], x, torch.tensor([0, 1]), torch.tensor([1, 0]), target=torch.tensor([1.0, 0.0]),
                 weight=torch.ones(2))  # fmt: skip


def _learner(**kw):
    return make_learner(_cfg(**kw), Dist(), torch.device("cpu"), False, None, new_head=lambda: OcclusionHead(8),
                        loss_fn=ocfusion_batch_loss)  # fmt: skip


def test_default_is_one_group_as_before():
    learner = _learner()
    (g,) = learner.opt.param_groups
    assert [id(p) for p in g["params"]] == [id(p) for p in learner.head.parameters()]
    assert g["weight_decay"] == 1e-4 and g["momentum"] == 0.9
    train_step(learner, _pair_batch(), 0.002)
    assert g["lr"] == 0.002


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_bias_groups_the_authors_way(opt):
    learner = _learner(bias_lr_factor=2.0, bias_weight_decay=0.0, optimizer=opt)
    weights, biases = learner.opt.param_groups
    names = {id(p): n for n, p in learner.head.named_parameters()}
    assert all(names[id(p)].endswith("bias") for p in biases["params"]) and len(biases["params"]) == 6
    assert not any(names[id(p)].endswith("bias") for p in weights["params"]) and len(weights["params"]) == 6
    train_step(learner, _pair_batch(), 0.002)
    assert (weights["lr"], weights["weight_decay"]) == (0.002, 1e-4)
    assert (biases["lr"], biases["weight_decay"]) == (0.004, 0.0)
    state = learner.state()  # a checkpoint keeps the groups
    assert [g["lr_factor"] for g in state["optimizer"]["param_groups"]] == [1.0, 2.0]


def test_rpn_mode_train_uses_the_training_top_n(test_detector):
    det = load_detector(test_detector.path, test_detector.arch, min_size=64, max_size=96).model
    assert set_rpn_mode(det, "eval") == (1000, 1000)
    assert set_rpn_mode(det, "train") == (2000, 2000) and not det.training
    with pytest.raises(ValueError):
        set_rpn_mode(det, "other")


def test_cli_passes_the_flags_and_help_tells_the_truth(monkeypatch, capsys):
    import rapkit.model.train as train_mod

    seen = {}

    class Stop(Exception):
        pass

    def fake(cfg, **kw):
        seen["cfg"] = cfg
        raise Stop

    monkeypatch.setattr(train_mod, "train_head", fake)
    args = ["train", "--detector", "m.pth", "--images", "imgs", "--instances", "i.json", "--relations", "r.json"]
    args += ["-o", "h.pt", "--bias-lr-factor", "2", "--bias-weight-decay", "0", "--rpn-mode", "train", "--all-images"]
    with pytest.raises(SystemExit):
        main(args)  # the CLI turns the fake's exception into exit 70; the config was built
    cfg = seen["cfg"]
    assert (cfg.bias_lr_factor, cfg.bias_weight_decay, cfg.rpn_mode, cfg.all_images) == (2.0, 0.0, "train", True)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Defaults are the paper's" not in text
    assert "two defaults are not" in text and "--val-fraction 0 --select last" in text
    assert "--bias-lr-factor 2 --bias-weight-decay 0 --rpn-mode train --all-images" in text


def test_flip_samples_the_mirrored_copy_half_the_time():
    from pathlib import Path

    import numpy as np

    from rapkit.model.batches import BatchSource, _sample, sample_batch
    from rapkit.model.data import RelImage, flip_image

    imgs = [
        RelImage(i, Path("x"), 10, 20, np.array([1]), np.array([[2, 1, 6, 9]], np.float32), np.array([1]), np.zeros((0, 2), np.int64))
        for i in range(6)
    ]  # fmt: skip
    src = BatchSource(None, imgs + [flip_image(i) for i in imgs], None, None, 3, 0, 4, 1, 0.5, torch.device("cpu"),
                      False, flip=True)  # fmt: skip
    flipped = 0
    for it in range(200):
        pick, _ = _sample(src, it, 1)
        base, _ = sample_batch(3, 0, it, 6, 4, 1)
        assert (pick % 6).tolist() == base.tolist()  # the images of a run without --flip, some mirrored
        flipped += int((pick >= 6).sum())
    assert 0.4 < flipped / 800 < 0.6
    plain = BatchSource(None, imgs, None, None, 3, 0, 4, 1, 0.5, torch.device("cpu"), False)
    assert _sample(plain, 7, 1)[0].tolist() == sample_batch(3, 0, 7, 6, 4, 1)[0].tolist()


def test_preset_authors_sets_every_setting_and_explicit_flags_win(monkeypatch):
    import rapkit.model.train as train_mod
    from rapkit.model.train_config import PRESETS

    seen = {}

    def fake(cfg, **kw):
        seen["cfg"] = cfg
        raise RuntimeError("stop")

    monkeypatch.setattr(train_mod, "train_head", fake)
    base = ["train", "--detector", "m.pth", "--images", "imgs", "--instances", "i.json", "--relations", "r.json"]
    with pytest.raises(SystemExit):
        main([*base, "-o", "h.pt", "--preset", "authors", "--val-fraction", "0.2"])
    cfg = seen["cfg"]
    assert cfg.val_fraction == 0.2  # given explicitly
    assert all(getattr(cfg, k) == v for k, v in PRESETS["authors"].items() if k != "val_fraction")
    with pytest.raises(SystemExit):
        main([*base, "-o", "h.pt"])
    assert not seen["cfg"].flip and seen["cfg"].val_fraction == 0.1 and seen["cfg"].select == "best"
