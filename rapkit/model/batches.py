"""The batches of a training run: which images (and box draws) each iteration takes, and
their head inputs and known pairs. A function of ``(seed, rank, iteration)`` only, so a
resumed run continues with the same batches.

A :class:`Batch` holds the head inputs of the sampled images' RoIs and every pair of RoIs
whose instances have a known relation, as indices into the inputs (front, back): what any
head that learns from pairs needs. A source with ``pair_cap`` (the OCFusion pair head) turns
them into the loss's ordered samples (:func:`rapkit.model.ocfusion.ordered_samples`: both
orders, at most ``pair_cap`` per image, drawn from ``(seed, rank, iteration)`` too).

>>> pick, draw = sample_batch(0, 0, 7, n_images=10, per_rank=4, n_draws=2)
>>> sorted(pick.tolist()) == sorted(set(pick.tolist()))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import RelImage, RoiSet, draw_boxes
from .detector import LoadedDetector
from .features import roi_inputs, to_tensor
from .inputs import BoxDraw, compute_inputs, read_image
from .ocfusion import ordered_samples


@dataclass
class Batch:
    """One iteration's batch on this rank: the sampled images and box draws, their head
    inputs (CPU, float16 as cached) and the known pairs as indices into ``inputs``. Under
    ``pair_cap`` ``front`` and ``back`` are the samples' first and second RoIs, with
    ``target`` (1: first in front) and ``weight`` (:func:`rapkit.model.ocfusion.ordered_samples`)."""

    image_ids: list[int]
    draws: list[int]
    inputs: torch.Tensor  # (n, 257, 14, 14)
    front: torch.Tensor  # int64 (K,)
    back: torch.Tensor  # int64 (K,)
    boxes: list[np.ndarray] | None = None  # the RoIs of each sampled image, in ``inputs`` order
    n_rois: list[int] | None = None  # RoIs of each sampled image, in ``inputs`` order
    target: torch.Tensor | None = None  # float32 (K,), pair_cap only
    weight: torch.Tensor | None = None  # float32 (K,), pair_cap only


@dataclass
class BatchSource:
    """What this rank's batches are made from: its training images, their cached head
    inputs (``cache[k][d]``: image k, box draw d; None = computed for every batch by the
    frozen detector) and, under ``--rois detector``, their matched proposals."""

    det: LoadedDetector
    images: list[RelImage]
    cache: list[list[torch.Tensor]] | None
    rois: list[RoiSet] | None  # --rois detector: the matched proposals of each image (None: gt-jitter)
    seed: int
    rank: int
    per_rank: int  # images per batch on this rank
    n_draws: int  # gt-jitter: box draws per image
    min_iou: float
    device: torch.device
    amp: bool
    draw: BoxDraw = draw_boxes  # gt-jitter: the box draw
    pair_cap: int | None = None  # the OCFusion head: ordered samples, at most this many per image
    #: --flip: ``images`` (and cache, rois) hold the n images, then their n mirrored copies;
    #: each sampled image is the mirrored copy with p = 0.5
    flip: bool = False


def _sample(src: BatchSource, it: int, n_draws: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sample_batch` over this rank's images, then (``flip``) each pick mirrored with
    p = 0.5 (its index + n): a function of ``(seed, rank, it)`` too; without ``flip`` the
    samples are those of a run before the flag existed."""
    n = len(src.images) // 2 if src.flip else len(src.images)
    pick, dsel = sample_batch(src.seed, src.rank, it, n, src.per_rank, n_draws)
    if src.flip:
        rng = np.random.default_rng([int(src.seed) & 0xFFFFFFFF, src.rank, it, 0xF11B])
        pick = pick + n * (rng.random(len(pick)) < 0.5)
    return pick, dsel


def sample_batch(
    seed: int, rank: int, it: int, n_images: int, per_rank: int, n_draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which of this rank's training images (indices) and which box draw of each iteration
    ``it`` uses: a function of ``(seed, rank, it)`` only, so a resumed run samples the same.

    >>> pick, draw = sample_batch(0, 0, 7, n_images=10, per_rank=4, n_draws=2)
    >>> len(pick), len(set(pick.tolist())), bool(((draw >= 0) & (draw < 2)).all())
    (4, 4, True)
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, rank, it])
    pick = rng.choice(n_images, size=min(per_rank, n_images), replace=False)
    draws = rng.integers(0, n_draws, size=len(pick))
    return pick, draws


def make_batch(src: BatchSource, it: int) -> Batch:
    """The batch of iteration ``it``: sampled images and draws, their head inputs (from the
    cache, or computed now by the frozen detector) and their known pairs (or, with
    ``pair_cap``, the loss's ordered samples of them)."""
    batch = _make_proposal_batch(src, it) if src.rois is not None else _make_box_batch(src, it)
    if src.pair_cap is None:
        return batch
    return _ordered(batch, src, it)


def _ordered(batch: Batch, src: BatchSource, it: int) -> Batch:
    """The OCFusion loss's samples of ``batch``'s pairs (seeded by ``(seed, rank, it)``)."""
    assert batch.n_rois is not None and src.pair_cap is not None
    front, back = batch.front.numpy(), batch.back.numpy()
    starts = np.cumsum([0, *batch.n_rois])
    pair_image = np.searchsorted(starts, front, side="right") - 1
    rng = np.random.default_rng([int(src.seed) & 0xFFFFFFFF, src.rank, it, 0x0CF])
    first, second, target, weight = ordered_samples(front, back, pair_image, len(batch.n_rois), rng, src.pair_cap)
    batch.front, batch.back = torch.from_numpy(first), torch.from_numpy(second)
    batch.target, batch.weight = torch.from_numpy(target), torch.from_numpy(weight)
    return batch


def _make_box_batch(src: BatchSource, it: int) -> Batch:
    """``--rois gt-jitter``: the sampled images' box draws, their head inputs and known pairs."""
    images = src.images
    pick, dsel = _sample(src, it, src.n_draws)
    if src.cache is not None:
        xs = [src.cache[k][d] for k, d in zip(pick, dsel)]
    else:
        xs = []
        for k, d in zip(pick, dsel):
            xs.extend(
                x[0]
                for x in compute_inputs(
                    src.det, [images[k]], [int(d)], src.seed, src.min_iou, src.device, amp=src.amp, draw=src.draw
                )
            )
    fronts, backs = [], []
    off = 0
    for k in pick:
        pr = images[k].pairs
        fronts.append(pr[:, 0] + off)
        backs.append(pr[:, 1] + off)
        off += len(images[k].labels)
    return Batch(
        [images[k].image_id for k in pick],
        [int(d) for d in dsel],
        torch.cat(xs),
        torch.from_numpy(np.concatenate(fronts)),
        torch.from_numpy(np.concatenate(backs)),
        [src.draw(images[k], int(d), src.seed, src.min_iou) for k, d in zip(pick, dsel)],
        [len(images[k].labels) for k in pick],
    )


def _make_proposal_batch(src: BatchSource, it: int) -> Batch:
    """``--rois detector``: the sampled images' matched proposals, their head inputs (cached,
    or computed now for the same boxes) and every RoI pair with a known relation."""
    device = src.device
    rois = src.rois
    assert rois is not None
    pick, _ = _sample(src, it, 1)
    xs = []
    for k in pick:
        if src.cache is not None:
            xs.append(src.cache[k][0])
        else:
            img, r = src.images[k], rois[k]
            with torch.autocast(device.type, enabled=src.amp and device.type == "cuda"):
                x = roi_inputs(
                    src.det.model,
                    [to_tensor(read_image(img), device)],
                    [torch.from_numpy(r.boxes)],
                    [torch.from_numpy(r.labels)],
                )
            xs.append(x.to("cpu", torch.float16))
    fronts, backs = [], []
    off = 0
    for k in pick:
        pr = rois[k].pairs
        fronts.append(pr[:, 0] + off)
        backs.append(pr[:, 1] + off)
        off += len(rois[k].boxes)
    return Batch(
        [src.images[k].image_id for k in pick],
        [0] * len(pick),
        torch.cat(xs),
        torch.from_numpy(np.concatenate(fronts)),
        torch.from_numpy(np.concatenate(backs)),
        [rois[k].boxes for k in pick],
        [len(rois[k].boxes) for k in pick],
    )


__all__ = ["Batch", "BatchSource", "make_batch", "sample_batch"]
