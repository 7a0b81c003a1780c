"""Pair accuracy of a relation head: over the known pairs of images, how often the front
instance gets the smaller relation value (on GT boxes). The training's held-out yardstick
(:mod:`rapkit.model.train`) and a check of any head on any relations JSON.

>>> correct, total = evaluate_pairs(det, head, load_relation_dataset(...))   # doctest: +SKIP
"""

from __future__ import annotations

import torch

from .data import RelationDataset, RelImage
from .detector import LoadedDetector
from .inputs import compute_inputs, head_values
from .loss import pair_correct


def pair_accuracy(
    head: torch.nn.Module, images: list[RelImage], inputs: list[torch.Tensor], device: torch.device, amp: bool = False
) -> tuple[int, int]:
    """``(correct, total)`` over the known pairs of ``images`` given their GT-box head inputs.

    >>> pair_accuracy(head, ds.images, [x[0] for x in cache], torch.device("cpu"))   # doctest: +SKIP
    (87, 100)
    """
    was = head.training
    head.eval()
    correct = total = 0
    for img, x in zip(images, inputs):
        v = head_values(head, x, device, amp)
        pr = torch.from_numpy(img.pairs)
        correct += int(pair_correct(v, pr[:, 0], pr[:, 1]).sum())
        total += int(pr.shape[0])
    head.train(was)
    return correct, total


def evaluate_pairs(
    det: LoadedDetector,
    head: torch.nn.Module,
    dataset: RelationDataset,
    device: torch.device | str = "cpu",
    *,
    detector_batch: int = 4,
    workers: int = 0,
) -> tuple[int, int]:
    """Pair accuracy of ``head`` on a dataset (GT boxes): ``(correct, total)``.

    >>> correct, total = evaluate_pairs(det, head, load_relation_dataset(...))   # doctest: +SKIP
    """
    device = torch.device(device)
    head = head.to(device)
    inputs = compute_inputs(
        det,
        dataset.images,
        [0],
        0,
        0.5,
        device,
        detector_batch=detector_batch,
        workers=workers,
        store_dtype=torch.float32,
    )
    return pair_accuracy(head, dataset.images, [x[0] for x in inputs], device)


__all__ = ["evaluate_pairs", "pair_accuracy"]
