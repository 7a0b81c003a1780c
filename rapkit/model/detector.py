"""The host detector: a torchvision Mask R-CNN rebuilt from a user's checkpoint.

Architectures (``--arch``): ``maskrcnn_resnet50_fpn``, ``maskrcnn_resnet50_fpn_v2`` and
``resnet18_fpn | resnet34_fpn | resnet50_fpn | resnet101_fpn`` (``MaskRCNN`` on
``resnet_fpn_backbone``). Models are built with ``weights=None, weights_backbone=None``:
nothing is ever downloaded. The number of classes is read from the checkpoint. A
checkpoint may be a state dict, a dict holding one under ``"model"`` / ``"state_dict"``
(torchvision's reference scripts), with or without DDP's ``module.`` prefix, or a whole
``torch.save(model)``. A whole-model file is a pickle: it is only unpickled when plain
tensor loading fails, so load such files only from sources you trust.

>>> det = build_detector("resnet18_fpn", num_classes=5, min_size=240, max_size=320)   # doctest: +SKIP
>>> det.num_classes                                                                     # doctest: +SKIP
5
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn_v2
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor, resnet_fpn_backbone
from torchvision.ops.misc import FrozenBatchNorm2d

from ..errors import ConfigError, InputError
from ..io._atomic import atomic_path

ARCHS = (
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
    "resnet18_fpn",
    "resnet34_fpn",
    "resnet50_fpn",
    "resnet101_fpn",
)

CLS_KEY = "roi_heads.box_predictor.cls_score.weight"
MASK_KEY = "roi_heads.mask_predictor.mask_fcn_logits.weight"


@dataclass
class LoadedDetector:
    """A frozen detector and what was learned from its checkpoint."""

    model: nn.Module
    arch: str
    num_classes: int
    min_size: int
    max_size: int
    source: str


def build_detector(arch: str, num_classes: int, *, min_size: int = 800, max_size: int = 1333) -> nn.Module:
    """A randomly initialised (never downloaded) torchvision Mask R-CNN of ``arch``.

    >>> build_detector("resnet18_fpn", 3).roi_heads.mask_predictor.mask_fcn_logits.out_channels   # doctest: +SKIP
    3
    """
    if arch not in ARCHS:
        raise ConfigError(f"unknown --arch {arch!r}; choose one of {', '.join(ARCHS)}")
    if num_classes < 2:
        raise InputError(f"a detector needs at least 2 classes (background + 1), got {num_classes}")
    sizes = dict(min_size=int(min_size), max_size=int(max_size))
    if arch == "maskrcnn_resnet50_fpn":
        # torchvision's published layout: frozen batch norm (eps 0 as its COCO weights), all layers.
        body = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
        model = MaskRCNN(_resnet_fpn_extractor(body, 5), num_classes=num_classes, **sizes)
        for m in model.modules():
            if isinstance(m, FrozenBatchNorm2d):
                m.eps = 0.0
    elif arch == "maskrcnn_resnet50_fpn_v2":
        model = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=num_classes, **sizes)
    else:
        name = arch[: -len("_fpn")]
        backbone = resnet_fpn_backbone(backbone_name=name, weights=None, trainable_layers=5)
        model = MaskRCNN(backbone, num_classes=num_classes, **sizes)
    model.eval()
    return model


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError("checkpoint file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("expected a checkpoint file, found a folder", file=path) from None
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError) as first:
        # A whole pickled model (torch.save(model)) needs full unpickling.
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - any failure means "not a checkpoint we can read"
            raise InputError(
                f"not a readable torch checkpoint ({type(first).__name__}: {str(first).splitlines()[0] if str(first) else ''}; {type(e).__name__})",
                file=path,
            ) from None
    except Exception as e:  # noqa: BLE001
        raise InputError(f"not a readable torch checkpoint ({type(e).__name__})", file=path) from None


def extract_state_dict(obj: Any, path: Any = None) -> dict[str, torch.Tensor]:
    """The detector state dict inside a loaded checkpoint object (see module docstring)."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, nn.Module):
                inner = inner.state_dict()
            if isinstance(inner, dict) and any(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) for k in obj):
        raise InputError("checkpoint holds neither a model nor a state dict", file=path)
    sd = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    if CLS_KEY not in sd:
        raise InputError(f"checkpoint is not a torchvision Mask R-CNN (no '{CLS_KEY}')", file=path)
    return sd


def num_classes_of(sd: dict[str, torch.Tensor], path: Any = None) -> int:
    """Number of classes (background included) stored in a Mask R-CNN state dict."""
    k = int(sd[CLS_KEY].shape[0])
    if MASK_KEY not in sd:
        raise InputError(f"checkpoint has no mask branch ('{MASK_KEY}'): a Mask R-CNN is needed", file=path)
    km = int(sd[MASK_KEY].shape[0])
    if km != k:
        raise InputError(f"checkpoint has {k} box classes but {km} mask classes", file=path)
    return k


def load_state_checked(model: nn.Module, sd: dict[str, torch.Tensor], arch: str, path: Any = None) -> None:
    """Load ``sd`` into ``model`` or raise InputError saying how it does not fit ``arch``."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own and not k.endswith("num_batches_tracked")]
    shapes = [k for k in sd if k in own and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), e.g. {missing[0]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[0]}")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} shape mismatch(es), e.g. {k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}")
        raise InputError(
            f"checkpoint does not fit --arch {arch}: " + "; ".join(parts) + f" (architectures: {', '.join(ARCHS)})",
            file=path,
        )
    fill = {k: v for k, v in own.items() if k not in sd}
    merged = dict(sd)
    merged.update(fill)
    model.load_state_dict({k: v for k, v in merged.items() if k in own}, strict=False)


def load_detector(path: str | os.PathLike, arch: str, *, min_size: int = 800, max_size: int = 1333) -> LoadedDetector:
    """Load a Mask R-CNN checkpoint for ``arch``; the model is frozen and in eval mode.

    >>> det = load_detector("model.pth", "resnet50_fpn")   # doctest: +SKIP
    """
    if arch not in ARCHS:
        raise ConfigError(f"unknown --arch {arch!r}; choose one of {', '.join(ARCHS)}")
    if min_size < 32 or max_size < min_size:
        raise ConfigError(f"image sizes must satisfy 32 <= min_size <= max_size, got {min_size}, {max_size}")
    p = Path(path)
    sd = extract_state_dict(_torch_load(p), p)
    k = num_classes_of(sd, p)
    model = build_detector(arch, k, min_size=min_size, max_size=max_size)
    load_state_checked(model, sd, arch, p)
    freeze(model)
    return LoadedDetector(
        model=model, arch=arch, num_classes=k, min_size=int(min_size), max_size=int(max_size), source=str(p)
    )


def freeze(model: nn.Module) -> nn.Module:
    """No gradients, eval mode (batch norm uses its stored statistics)."""
    for prm in model.parameters():
        prm.requires_grad_(False)
    model.eval()
    return model


def save_detector_checkpoint(model: nn.Module, path: str | os.PathLike, force: bool = False) -> Path:
    """Write ``model.state_dict()`` atomically (as torchvision's reference scripts do)."""
    with atomic_path(path, force) as tmp:
        torch.save(model.state_dict(), tmp)
    return Path(path)


# --------------------------------------------------------------------------- label maps


def make_label_map(num_classes: int, category_ids: list[int], mode: str = "auto") -> dict[int, int]:
    """Detector label -> dataset category id.

    ``coco``: labels are the category ids themselves (torchvision's COCO models, 91
    classes); ``contiguous``: label ``i`` (1-based) is the ``i``-th smallest category id
    (detectron2/mmdetection convention); ``auto``: ``coco`` when every category id is a
    valid label, else ``contiguous`` when the counts match.

    >>> make_label_map(4, [7, 3, 11], "contiguous")
    {1: 3, 2: 7, 3: 11}
    >>> make_label_map(4, [1, 3], "auto")
    {1: 1, 2: 2, 3: 3}
    """
    ids = sorted(set(int(c) for c in category_ids))
    if mode not in ("auto", "coco", "contiguous"):
        raise ConfigError(f"unknown label mapping {mode!r}; choose auto, coco or contiguous")
    fits_coco = all(1 <= c < num_classes for c in ids)
    if mode == "coco" or (mode == "auto" and fits_coco and (num_classes == 91 or len(ids) != num_classes - 1)):
        if not fits_coco:
            bad = [c for c in ids if not 1 <= c < num_classes][0]
            raise InputError(f"category id {bad} is not a label of a detector with {num_classes} classes")
        return {c: c for c in range(1, num_classes)}
    if len(ids) != num_classes - 1:
        raise InputError(
            f"cannot map {len(ids)} dataset thing categories onto a detector with {num_classes} classes "
            f"({num_classes - 1} + background); use a checkpoint trained on these categories"
        )
    return {i + 1: c for i, c in enumerate(ids)}


__all__ = [
    "ARCHS",
    "LoadedDetector",
    "build_detector",
    "load_detector",
    "extract_state_dict",
    "num_classes_of",
    "load_state_checked",
    "freeze",
    "save_detector_checkpoint",
    "make_label_map",
]
