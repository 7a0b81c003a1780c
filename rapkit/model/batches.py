"""The batches of a training run: which images (and box draws) each iteration takes, and
their head inputs and known pairs. A function of ``(seed, rank, iteration)`` only, so a
resumed run continues with the same batches.

A :class:`Batch` holds the head inputs of the sampled images' RoIs and every pair of RoIs
whose instances have a known relation, as indices into the inputs (front, back): what any
head that learns from pairs needs; nothing here depends on the head.

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


@dataclass
class Batch:
    """One iteration's batch on this rank: the sampled images and box draws, their head
    inputs (CPU, float16 as cached) and the known pairs as indices into ``inputs``."""

    image_ids: list[int]
    draws: list[int]
    inputs: torch.Tensor  # (n, 257, 14, 14)
    front: torch.Tensor  # int64 (K,)
    back: torch.Tensor  # int64 (K,)
    boxes: list[np.ndarray] | None = None  # the RoIs of each sampled image, in ``inputs`` order


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
    cache, or computed now by the frozen detector) and their known pairs."""
    if src.rois is not None:
        return _make_proposal_batch(src, it)
    images = src.images
    pick, dsel = sample_batch(src.seed, src.rank, it, len(images), src.per_rank, src.n_draws)
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
    )


def _make_proposal_batch(src: BatchSource, it: int) -> Batch:
    """``--rois detector``: the sampled images' matched proposals, their head inputs (cached,
    or computed now for the same boxes) and every RoI pair with a known relation."""
    device = src.device
    rois = src.rois
    assert rois is not None
    pick, _ = sample_batch(src.seed, src.rank, it, len(src.images), src.per_rank, 1)
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
    )


__all__ = ["Batch", "BatchSource", "make_batch", "sample_batch"]
