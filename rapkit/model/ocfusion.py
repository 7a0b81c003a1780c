"""The OCFusion pair head (Lazarow et al. 2020, as the RAP authors trained it for their
comparison; docs/training.md): one occlusion logit per ordered pair of RoIs.

Input per ordered pair (i, j): RoI i's 257-channel head input (the mask branch's RoIAlign
features, 256x14x14, and its class's mask probability, 1x14x14; the relation head's input,
:func:`rapkit.model.head.head_input`) followed by RoI j's: 514 channels, in the authors'
order ``cat(x_i, x_j)``. Three 3x3 convolutions and one stride-2 3x3 convolution of
``width`` channels (the authors: 512), ReLU, then FC 1024 (ReLU) and FC 1: the logit that
i is in front of (occludes) j. Initialisation as the authors': convolutions Kaiming normal
(fan out), both FC layers Kaiming uniform (a=1), biases 0.

Loss (:func:`ocfusion_loss`, the authors' ``ROIRelationHead``): every RoI pair whose
instances have a known relation gives two samples, (front, back) with target 1 and the
flipped (back, front) with target 0; an image with more than ``cap`` = 128 samples keeps a
random 128 of them (:func:`ordered_samples`); binary cross-entropy of the logits, each
image's mean weighted by its sample count before the cap (the authors' normalisation).

>>> import torch
>>> head = OcclusionHead(width=8)
>>> head(torch.zeros(3, 514, 14, 14)).shape
torch.Size([3])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

PAIR_CHANNELS = 514
DEFAULT_WIDTH = 512
#: the authors' cap on the (front, back) + flipped samples of one image
PAIR_CAP = 128


class OcclusionHead(nn.Module):
    """Four 3x3 convolutions of ``width`` channels (the last with stride 2), FC 1024, FC 1."""

    def __init__(
        self, width: int = DEFAULT_WIDTH, in_channels: int = PAIR_CHANNELS, fc: int = 1024, roi_size: int = 14
    ) -> None:
        super().__init__()
        self.width = int(width)
        self.in_channels = in_channels
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(in_channels, width, 3, padding=1),
                nn.Conv2d(width, width, 3, padding=1),
                nn.Conv2d(width, width, 3, padding=1),
                nn.Conv2d(width, width, 3, stride=2, padding=1),
            ]
        )
        out = (roi_size + 1) // 2
        self.fc1 = nn.Linear(width * out * out, fc)
        self.fc2 = nn.Linear(fc, 1)
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        for lin in (self.fc1, self.fc2):
            nn.init.kaiming_uniform_(lin.weight, a=1)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (P, 514, 14, 14) pair inputs -> logits (P,) that the first RoI is in front."""
        for conv in self.convs:
            x = F.relu(conv(x))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x).squeeze(1)


def pair_inputs(x: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The pair head's inputs ``cat(x[first], x[second])`` (P, 514, 14, 14) of RoI head inputs ``x``.

    >>> pair_inputs(torch.zeros(3, 257, 14, 14), torch.tensor([0, 2]), torch.tensor([1, 0])).shape
    torch.Size([2, 514, 14, 14])
    """
    return torch.cat([x[first], x[second]], dim=1)


def ordered_samples(
    front: np.ndarray, back: np.ndarray, pair_image: np.ndarray, n_images: int, rng: np.random.Generator, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The loss's samples of a batch: per image, its known pairs (front, back) with target 1,
    then each flipped with target 0; more than ``cap`` samples in an image -> a random ``cap``
    of them (in their order). Returns ``(first, second, target, weight)``; ``weight`` is the
    image's sample count before the cap over the count kept (so that the weighted mean is
    the authors' count-weighted mean of per-image means).

    >>> f, s, t, w = ordered_samples(np.array([0, 1]), np.array([1, 2]), np.array([0, 0]), 1, np.random.default_rng(0), 3)
    >>> len(f), round(float(w[0]), 4)
    (3, 1.3333)
    """
    firsts, seconds, targets, weights = [], [], [], []
    for k in range(n_images):
        sel = pair_image == k
        f, b = front[sel], back[sel]
        first = np.concatenate([f, b])
        second = np.concatenate([b, f])
        target = np.concatenate([np.ones(len(f)), np.zeros(len(f))])
        n = len(first)
        if n == 0:
            continue
        if n > cap:
            keep = np.sort(rng.choice(n, size=cap, replace=False))
            first, second, target = first[keep], second[keep], target[keep]
        firsts.append(first)
        seconds.append(second)
        targets.append(target)
        weights.append(np.full(len(first), n / len(first)))
    if not firsts:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.float32), np.zeros(0, np.float32)
    return (
        np.concatenate(firsts).astype(np.int64),
        np.concatenate(seconds).astype(np.int64),
        np.concatenate(targets).astype(np.float32),
        np.concatenate(weights).astype(np.float32),
    )


def ocfusion_loss(
    model: nn.Module,
    x: torch.Tensor,
    first: torch.Tensor,
    second: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    amp: bool,
) -> torch.Tensor:
    """Weighted mean binary cross-entropy (with logits, float32) of the pair head on the
    samples ``(first, second, target, weight)`` of RoI head inputs ``x``. With no sample the
    loss is 0, still connected to every parameter (distributed training needs each one).

    >>> z = torch.zeros(2, 257, 14, 14)
    >>> loss = ocfusion_loss(OcclusionHead(8), z, torch.tensor([0, 1]), torch.tensor([1, 0]),
    ...                      torch.tensor([1.0, 0.0]), torch.ones(2), False)
    >>> round(loss.item(), 4)
    0.6931
    """
    if first.numel() == 0:
        x1 = x[:1] if x.shape[0] else x.new_zeros((1, *x.shape[1:]))  # a batch of images without RoIs
        with torch.autocast(x.device.type, enabled=amp):
            z = model(torch.cat([x1, x1], dim=1))
        return z.float().sum() * 0.0
    with torch.autocast(x.device.type, enabled=amp):
        logits = model(pair_inputs(x, first, second))
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return (bce * weight).sum() / weight.sum()


@torch.no_grad()
def pair_logits(
    head: nn.Module,
    x: torch.Tensor,
    first: torch.Tensor,
    second: torch.Tensor,
    device: torch.device,
    amp: bool = False,
    chunk: int = 128,
) -> torch.Tensor:
    """Logits (float32, CPU) of the ordered pairs ``(first[k], second[k])`` of RoI head inputs
    ``x``, ``chunk`` pairs per forward.

    >>> pair_logits(OcclusionHead(8).eval(), torch.zeros(2, 257, 14, 14), torch.tensor([0]), torch.tensor([1]),
    ...             torch.device("cpu")).shape
    torch.Size([1])
    """
    out = []
    for s in range(0, int(first.numel()), chunk):
        p = pair_inputs(x, first[s : s + chunk], second[s : s + chunk]).to(device, torch.float32)
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            out.append(head(p).float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def ocfusion_pair_accuracy(
    head: nn.Module, pairs: list[np.ndarray], inputs: list[torch.Tensor], device: torch.device, amp: bool = False
) -> tuple[int, int]:
    """``(correct, total)`` over known pairs (rows (front, back) per image, indices into that
    image's inputs): correct when the logit of (front, back) is > 0 (sigmoid > 0.5: in front).

    >>> ocfusion_pair_accuracy(OcclusionHead(8), [np.array([[0, 1]])], [torch.zeros(2, 257, 14, 14)], torch.device("cpu"))
    (0, 1)
    """
    was = head.training
    head.eval()
    correct = total = 0
    for pr, x in zip(pairs, inputs):
        if len(pr) == 0:
            continue
        t = torch.from_numpy(np.asarray(pr, np.int64))
        lg = pair_logits(head, x, t[:, 0], t[:, 1], device, amp)
        correct += int((lg > 0).sum())
        total += len(pr)
    head.train(was)
    return correct, total


__all__ = [
    "DEFAULT_WIDTH",
    "OcclusionHead",
    "PAIR_CAP",
    "PAIR_CHANNELS",
    "ocfusion_loss",
    "ocfusion_pair_accuracy",
    "ordered_samples",
    "pair_inputs",
    "pair_logits",
]
