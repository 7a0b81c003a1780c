"""Frozen-detector computations: the 257-channel RoI inputs of the relation head,
detections with their head inputs, and batch-norm re-estimation.

Boxes are ``(x0, y0, x1, y1)`` in original image pixels; labels are the detector's
contiguous labels.

>>> x = roi_inputs(det.model, [img], [boxes], [labels])    # doctest: +SKIP
>>> x.shape                                                # doctest: +SKIP
torch.Size([5, 257, 14, 14])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops.misc import FrozenBatchNorm2d

from ..errors import InputError
from .head import head_input


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float (3, H, W) in [0, 1] (the detector normalises itself).

    >>> to_tensor(np.zeros((4, 6, 3), np.uint8)).shape
    torch.Size([3, 4, 6])
    """
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device)
    return t.permute(2, 0, 1).float().div_(255.0)


def _scale_boxes(boxes: torch.Tensor, orig: tuple[int, int], new: tuple[int, int]) -> torch.Tensor:
    return resize_boxes(boxes, list(orig), list(new))


@torch.no_grad()
def roi_inputs(
    model: nn.Module, images: list[torch.Tensor], boxes: list[torch.Tensor], labels: list[torch.Tensor]
) -> torch.Tensor:
    """Head inputs (sum n_i, 257, 14, 14) for given boxes of a batch of images (frozen model)."""
    orig = [tuple(int(s) for s in im.shape[-2:]) for im in images]
    il, _ = model.transform(images)
    feats = model.backbone(il.tensors)
    scaled = [
        _scale_boxes(b.to(il.tensors.device, torch.float32), o, n) for b, o, n in zip(boxes, orig, il.image_sizes)
    ]
    rh = model.roi_heads
    mf = rh.mask_roi_pool(feats, scaled, il.image_sizes)
    logits = rh.mask_predictor(rh.mask_head(mf))
    lab = (
        torch.cat([lb.to(logits.device, torch.int64) for lb in labels]) if labels else torch.zeros(0, dtype=torch.int64)
    )
    return head_input(mf, logits, lab)


@torch.no_grad()
def rpn_proposals(
    model: nn.Module,
    images: list[torch.Tensor],
    choose: Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[list[np.ndarray], torch.Tensor | None]:
    """The region proposals of the frozen detector's RPN (eval mode: deterministic, the
    checkpoint's post-NMS top-n, in the RPN's ranking) as float32 (n, 4) xyxy arrays in
    original image pixels, one per image.

    With ``choose(k, proposals_k) -> (boxes, labels)`` the head inputs of the chosen boxes
    are computed from the same backbone pass: returns ``(chosen boxes per image, inputs
    (sum r_k, 257, 14, 14))``; without it ``(proposals per image, None)``.

    >>> props, _ = rpn_proposals(det.model, [to_tensor(rgb)])   # doctest: +SKIP
    >>> props[0].shape                                          # doctest: +SKIP
    (1000, 4)
    """
    orig = [tuple(int(s) for s in im.shape[-2:]) for im in images]
    il, _ = model.transform(images)
    feats = model.backbone(il.tensors)
    proposals, _ = model.rpn(il, feats)
    props = [
        _scale_boxes(p.float(), n, o).cpu().numpy().astype(np.float32)
        for p, n, o in zip(proposals, il.image_sizes, orig)
    ]
    if choose is None:
        return props, None
    chosen = [choose(k, p) for k, p in enumerate(props)]
    dev = il.tensors.device
    scaled = [
        _scale_boxes(torch.from_numpy(np.ascontiguousarray(b)).to(dev, torch.float32), o, n)
        for (b, _), o, n in zip(chosen, orig, il.image_sizes)
    ]
    rh = model.roi_heads
    mf = rh.mask_roi_pool(feats, scaled, il.image_sizes)
    logits = rh.mask_predictor(rh.mask_head(mf))
    lab = torch.cat([torch.from_numpy(np.asarray(lb, np.int64)) for _, lb in chosen]).to(logits.device)
    return [b for b, _ in chosen], head_input(mf, logits, lab)


@torch.no_grad()
def detect(model: nn.Module, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Run the frozen Mask R-CNN; each result has ``boxes, labels, scores, masks`` (original
    pixels, masks as (n, 1, H, W) probabilities) and ``head_input`` (n, 257, 14, 14).

    One pass of the mask branch: forward hooks on ``roi_heads.mask_roi_pool`` and
    ``roi_heads.mask_predictor`` keep the RoIAlign features and mask logits that
    ``roi_heads`` computes for its final boxes (the boxes of the results, before they are
    scaled to the original image), and the head inputs are built from those; the hooks are
    removed before returning. The head inputs are the tensors a second pass over the same
    boxes would compute (tests/model/test_predict_one_pass.py compares them with
    ``torch.equal``).

    >>> [d["scores"] for d in detect(det.model, [to_tensor(rgb)])]   # doctest: +SKIP
    """
    orig = [tuple(int(s) for s in im.shape[-2:]) for im in images]
    rh = model.roi_heads
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            seen[name] = output

        return hook

    hooks = [
        rh.mask_roi_pool.register_forward_hook(keep("features")),
        rh.mask_predictor.register_forward_hook(keep("logits")),
    ]
    try:
        il, _ = model.transform(images)
        feats = model.backbone(il.tensors)
        proposals, _ = model.rpn(il, feats)
        dets, _ = rh(feats, proposals, il.image_sizes)
    finally:
        for h in hooks:
            h.remove()
    labels = torch.cat([d["labels"] for d in dets]) if dets else torch.zeros(0, dtype=torch.int64)
    x = head_input(seen["features"], seen["logits"], labels)  # torchvision's eval forward always runs both
    dets = model.transform.postprocess(dets, il.image_sizes, orig)
    out = []
    start = 0
    for d in dets:
        n = int(d["boxes"].shape[0])
        d = dict(d)
        d["head_input"] = x[start : start + n]
        start += n
        out.append(d)
    return out


def set_rpn_mode(model: nn.Module, mode: str) -> tuple[int, int]:
    """The RPN's proposals per image for ``rpn_proposals`` (the model stays in eval mode, so
    deterministic): ``"eval"`` leaves the test top-n (torchvision: 1000 before and after NMS),
    ``"train"`` sets it to the training top-n (2000), the proposals the authors trained the
    head on (their RPN ran in training mode). Returns ``(pre-NMS, post-NMS)`` top-n now used.

    >>> from types import SimpleNamespace as NS
    >>> top = lambda: {"training": 2000, "testing": 1000}   # torchvision's MaskRCNN defaults
    >>> set_rpn_mode(NS(rpn=NS(_pre_nms_top_n=top(), _post_nms_top_n=top())), "train")
    (2000, 2000)
    """
    rpn = model.rpn
    if mode == "train":
        rpn._pre_nms_top_n["testing"] = rpn._pre_nms_top_n["training"]
        rpn._post_nms_top_n["testing"] = rpn._post_nms_top_n["training"]
    elif mode != "eval":
        raise ValueError(f"unknown RPN mode {mode!r} (eval or train)")
    return int(rpn._pre_nms_top_n["testing"]), int(rpn._post_nms_top_n["testing"])


def _bn_modules(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in module.named_modules() if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d))]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Re-estimate the backbone's batch-norm statistics on ``batches`` of images ("precise
    BN": each batch is normalised with its own statistics on the way through, the stored
    statistics become the average over batches), then keep them frozen.

    Returns the changed buffers as ``{"backbone.<module>.running_mean"|...: tensor}``
    (the relation head file stores them so that prediction uses the same detector).

    >>> buffers = recalibrate_bn(det.model, [[to_tensor(rgb) for rgb in batch]])   # doctest: +SKIP
    """
    bns = _bn_modules(model.backbone)
    if not bns:
        return {}
    sums: dict[str, list] = {n: [None, None, 0] for n, _ in bns}
    hooks = []

    def make_hook(name: str, m: nn.Module):
        def hook(mod: nn.Module, args: tuple) -> None:
            x = args[0].float()
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3), unbiased=False)
            mod.running_mean.copy_(mean)
            mod.running_var.copy_(var)
            acc = sums[name]
            acc[0] = mean.clone() if acc[0] is None else acc[0] + mean
            acc[1] = var.clone() if acc[1] is None else acc[1] + var
            acc[2] += 1

        return hook

    for n, m in bns:
        hooks.append(m.register_forward_pre_hook(make_hook(n, m)))
    try:
        for imgs in batches:
            il, _ = model.transform(imgs)
            model.backbone(il.tensors)
    finally:
        for h in hooks:
            h.remove()
    out: dict[str, torch.Tensor] = {}
    for n, m in bns:
        s_mean, s_var, k = sums[n]
        if k == 0:
            continue
        m.running_mean.copy_(s_mean / k)
        m.running_var.copy_((s_var / k).clamp_(min=1e-5))  # a dead channel must not divide by zero
        out[f"backbone.{n}.running_mean"] = m.running_mean.detach().cpu().clone()
        out[f"backbone.{n}.running_var"] = m.running_var.detach().cpu().clone()
    return out


def apply_buffers(model: nn.Module, buffers: dict[str, torch.Tensor]) -> None:
    """Copy stored detector buffers (from :func:`recalibrate_bn`) into ``model``.

    >>> apply_buffers(det.model, meta["detector_buffers"])   # doctest: +SKIP
    """
    own = dict(model.named_buffers())
    for k, v in buffers.items():
        if k not in own or tuple(own[k].shape) != tuple(v.shape):
            raise InputError(f"head file's detector buffer {k} does not fit this detector")
        own[k].copy_(v.to(own[k].device, own[k].dtype))


__all__ = ["to_tensor", "roi_inputs", "rpn_proposals", "detect", "recalibrate_bn", "apply_buffers", "set_rpn_mode"]
