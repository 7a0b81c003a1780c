"""The relation head (paper 3.3; docs/training.md).

Input per RoI: the mask branch's RoIAlign features (256x14x14) concatenated with the
predicted mask probability of the RoI's class, max-pooled from 28x28 to 14x14 (257
channels). Three 3x3 convolutions and one stride-2 3x3 convolution (256 channels each,
ReLU), then FC 1024 (ReLU) and FC 1 -> one relation value per RoI (smaller = closer).

>>> import torch
>>> head = RelationHead()
>>> head(torch.zeros(2, 257, 14, 14)).shape
torch.Size([2])
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from ..io._atomic import atomic_path
from .ocfusion import DEFAULT_WIDTH, OcclusionHead

IN_CHANNELS = 257
ROI_SIZE = 14


class RelationHead(nn.Module):
    """Four 3x3 convolutions (the last with stride 2), FC 1024, FC 1."""

    def __init__(
        self, in_channels: int = IN_CHANNELS, channels: int = 256, fc: int = 1024, roi_size: int = ROI_SIZE
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.roi_size = roi_size
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(in_channels, channels, 3, padding=1),
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            ]
        )
        out = (roi_size + 1) // 2
        self.fc1 = nn.Linear(channels * out * out, fc)
        self.fc2 = nn.Linear(fc, 1)
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.kaiming_uniform_(self.fc1.weight, a=1)
        nn.init.zeros_(self.fc1.bias)
        nn.init.normal_(self.fc2.weight, std=0.01)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (R, 257, 14, 14) -> relation values (R,)."""
        for conv in self.convs:
            x = F.relu(conv(x))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x).squeeze(1)


def head_input(mask_features: torch.Tensor, mask_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Build the 257-channel head input.

    ``mask_features``: (R, 256, 14, 14) RoIAlign features of the mask branch;
    ``mask_logits``: (R, K, 28, 28) mask predictor output; ``labels``: (R,) contiguous
    detector labels. Returns (R, 257, 14, 14).

    >>> x = head_input(torch.zeros(3, 256, 14, 14), torch.zeros(3, 5, 28, 28), torch.tensor([1, 2, 4]))
    >>> x.shape, float(x[0, 256, 0, 0])
    (torch.Size([3, 257, 14, 14]), 0.5)
    """
    r = mask_features.shape[0]
    if r == 0:
        return mask_features.new_zeros((0, mask_features.shape[1] + 1, *mask_features.shape[2:]))
    idx = torch.arange(r, device=mask_logits.device)
    prob = mask_logits[idx, labels.to(mask_logits.device)].sigmoid()[:, None]
    prob = F.adaptive_max_pool2d(prob, mask_features.shape[-2:])
    return torch.cat([mask_features, prob.to(mask_features.dtype)], dim=1)


# --------------------------------------------------------------------------- head files

HEAD_FORMAT = "rapkit-relation-head"
HEAD_VERSION = 1
#: what a head file can hold: ``rap`` (:class:`RelationHead`, one value per RoI) or
#: ``ocfusion`` (:class:`rapkit.model.ocfusion.OcclusionHead`, one logit per ordered pair)
HEAD_TYPES = ("rap", "ocfusion")


def head_type(head: nn.Module) -> tuple[str, int | None]:
    """``(type, width)`` of a head: ``("rap", None)`` or ``("ocfusion", width)``.

    >>> head_type(RelationHead()), head_type(OcclusionHead(width=16))
    (('rap', None), ('ocfusion', 16))
    """
    if isinstance(head, OcclusionHead):
        return "ocfusion", head.width
    return "rap", None


def new_head(kind: str = "rap", width: int = DEFAULT_WIDTH) -> nn.Module:
    """A freshly initialised head of ``kind`` (``width``: the OCFusion head's convolutions).

    >>> type(new_head("ocfusion", 8)).__name__, type(new_head()).__name__
    ('OcclusionHead', 'RelationHead')
    """
    if kind == "ocfusion":
        return OcclusionHead(width=width)
    if kind == "rap":
        return RelationHead()
    raise ValueError(f"unknown head type {kind!r}; one of {', '.join(HEAD_TYPES)}")


def head_payload(
    head: nn.Module,
    *,
    arch: str,
    num_classes: int,
    min_size: int,
    max_size: int,
    label_map: dict[int, int],
    detector_buffers: dict[str, torch.Tensor] | None = None,
    train_info: dict | None = None,
    category_ids: list[int] | None = None,
) -> dict:
    """Everything ``rapkit predict`` needs besides the detector checkpoint (tensors and
    plain values only, so it loads with ``weights_only=True``). ``head_type`` and
    ``head_width`` say which head it holds (:func:`head_type`; a file without them holds a
    ``rap`` head: files written before the OCFusion head)."""
    kind, width = head_type(head)
    return {
        "format": HEAD_FORMAT,
        "version": HEAD_VERSION,
        "head_type": kind,
        "head_width": width,
        "head": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
        "arch": arch,
        "num_classes": int(num_classes),
        "min_size": int(min_size),
        "max_size": int(max_size),
        "label_map": [[int(k), int(v)] for k, v in sorted(label_map.items())],
        "category_ids": sorted(int(c) for c in (category_ids if category_ids is not None else label_map.values())),
        "detector_buffers": dict(detector_buffers or {}),
        "train": dict(train_info or {}),
    }


def save_head_file(path, payload: dict, force: bool = False):
    """Write a head file atomically (temporary sibling, rename)."""
    with atomic_path(path, force) as tmp:
        torch.save(payload, tmp)
    return path


def load_head_file(path) -> tuple[nn.Module, dict]:
    """Read a head file written by ``rapkit train``: ``(head in eval mode, payload)``; the head
    is a :class:`RelationHead` or, for ``head_type`` ``ocfusion``, an
    :class:`~rapkit.model.ocfusion.OcclusionHead` of the file's ``head_width`` (the payload
    always has both keys: ``rap``/None for files that lack them).

    >>> head, meta = load_head_file("head.pt")   # doctest: +SKIP
    >>> meta["arch"]                             # doctest: +SKIP
    'resnet50_fpn'
    """
    p = Path(path)
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError("head file not found", file=p) from None
    except IsADirectoryError:
        raise InputError("expected a head file, found a folder", file=p) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise InputError(f"not a rapkit head file ({type(e).__name__})", file=p) from None
    if not isinstance(payload, dict) or payload.get("format") != HEAD_FORMAT:
        raise InputError("not a rapkit head file (written by `rapkit train`)", file=p)
    if payload.get("version") != HEAD_VERSION:
        raise InputError(
            f"head file version {payload.get('version')} is not supported (expected {HEAD_VERSION})", file=p
        )
    kind = payload.setdefault("head_type", "rap")
    width = payload.setdefault("head_width", None)
    if kind not in HEAD_TYPES or (kind == "ocfusion" and not (isinstance(width, int) and width > 0)):
        raise InputError(f"head file holds an unknown head (head_type {kind!r}, head_width {width!r})", file=p)
    head = new_head(kind, width or DEFAULT_WIDTH)
    try:
        head.load_state_dict(payload["head"])
    except (RuntimeError, KeyError) as e:
        what = "relation head" if kind == "rap" else f"OCFusion pair head of width {width}"
        raise InputError(f"head weights do not fit the {what}: {str(e).splitlines()[0]}", file=p) from None
    head.eval()
    payload["label_map"] = {int(k): int(v) for k, v in payload["label_map"]}
    return head, payload


__all__ = [
    "HEAD_TYPES",
    "IN_CHANNELS",
    "ROI_SIZE",
    "RelationHead",
    "head_input",
    "head_payload",
    "head_type",
    "load_head_file",
    "new_head",
    "save_head_file",
]
