"""Host detector checkpoints: formats, class count, architecture mismatch (never downloads)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.errors import ConfigError, InputError  # noqa: E402
from rapkit.model.detector import ARCHS, build_detector, load_detector  # noqa: E402


@pytest.fixture(scope="module")
def r18(test_detector):
    """The session's resnet18_fpn checkpoint (a state dict, tests/conftest.py) and that state dict."""
    return test_detector.path, torch.load(test_detector.path, weights_only=True), test_detector.num_classes


def _same(model, sd):
    got = model.state_dict()
    return got.keys() == sd.keys() and all(torch.equal(got[k], sd[k]) for k in sd)


def test_state_dict_checkpoint_loads_bit_identical_and_frozen(r18):
    path, sd, num_classes = r18
    det = load_detector(path, "resnet18_fpn", min_size=64, max_size=96)
    assert det.num_classes == num_classes
    assert _same(det.model, sd)
    assert not det.model.training
    assert not any(p.requires_grad for p in det.model.parameters())


@pytest.mark.parametrize("wrap", ["model-key", "module-prefix", "whole-model"])
def test_other_checkpoint_layouts(r18, wrap, tmp_path):
    path, sd, num_classes = r18
    obj = (
        {"model": sd, "optimizer": {}, "epoch": 3}
        if wrap == "model-key"
        else (
            {"module." + k: v for k, v in sd.items()}
            if wrap == "module-prefix"
            else load_detector(path, "resnet18_fpn").model  # a whole pickled model object
        )
    )
    torch.save(obj, tmp_path / "c.pth")
    det = load_detector(tmp_path / "c.pth", "resnet18_fpn")
    assert det.num_classes == num_classes
    assert _same(det.model, sd)


def test_checkpoint_of_another_architecture_is_a_clear_error(r18):
    path, _, _ = r18
    with pytest.raises(InputError, match=r"does not fit --arch resnet34_fpn: .*missing key"):
        load_detector(path, "resnet34_fpn")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        load_detector(tmp_path / "x.pth", "resnet18_fpn")
    with pytest.raises(InputError, match="not found"):
        load_detector(tmp_path / "missing.pth", "resnet18_fpn")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "y.pth")
    with pytest.raises(InputError, match="not a torchvision Mask R-CNN"):
        load_detector(tmp_path / "y.pth", "resnet18_fpn")
    with pytest.raises(ConfigError, match="unknown --arch"):
        load_detector(tmp_path / "y.pth", "vgg16")


def test_every_arch_builds_without_download(monkeypatch):
    import torch.hub

    def no_download(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    for arch in ARCHS:
        m = build_detector(arch, 3, min_size=64, max_size=96)
        assert m.roi_heads.box_predictor.cls_score.out_features == 3
        assert m.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 3
