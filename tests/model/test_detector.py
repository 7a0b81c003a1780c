"""Host detector checkpoints: formats, class count, architecture mismatch (never downloads)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.errors import ConfigError, InputError  # noqa: E402
from rapkit.model.detector import ARCHS, build_detector, load_detector, save_detector_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    torch.manual_seed(0)
    model = build_detector("resnet18_fpn", 7, min_size=64, max_size=96)
    d = tmp_path_factory.mktemp("det")
    save_detector_checkpoint(model, d / "sd.pth")
    return model, d


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_state_dict_checkpoint_loads_bit_identical_and_frozen(r18):
    model, d = r18
    det = load_detector(d / "sd.pth", "resnet18_fpn", min_size=64, max_size=96)
    assert det.num_classes == 7
    assert _same(det.model, model)
    assert not det.model.training
    assert not any(p.requires_grad for p in det.model.parameters())


@pytest.mark.parametrize("wrap", ["model-key", "module-prefix", "whole-model"])
def test_other_checkpoint_layouts(r18, wrap, tmp_path):
    model, _ = r18
    sd = model.state_dict()
    obj = (
        {"model": sd, "optimizer": {}, "epoch": 3}
        if wrap == "model-key"
        else ({"module." + k: v for k, v in sd.items()} if wrap == "module-prefix" else model)
    )
    torch.save(obj, tmp_path / "c.pth")
    det = load_detector(tmp_path / "c.pth", "resnet18_fpn")
    assert det.num_classes == 7
    assert _same(det.model, model)


def test_checkpoint_of_another_architecture_is_a_clear_error(r18):
    _, d = r18
    with pytest.raises(InputError, match=r"does not fit --arch resnet34_fpn: .*missing key"):
        load_detector(d / "sd.pth", "resnet34_fpn")


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
