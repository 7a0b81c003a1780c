"""The paper's relation ranking loss (eq. 1-2).

For every known pair (front, back) the loss is ``log(1 + exp(v_front - v_back))`` (the
instance in front learns the smaller value), averaged over the K pairs. ``softplus`` is
evaluated in the overflow-free form ``max(x, 0) + log1p(exp(-|x|))``.

>>> import torch
>>> v = torch.tensor([0.0, 1.0])
>>> round(float(relation_loss(v, torch.tensor([0]), torch.tensor([1]))), 6)   # log(1 + e^-1)
0.313262
"""

from __future__ import annotations

import torch


def stable_softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))`` without overflow for large ``|x|``."""
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))


def relation_loss(values: torch.Tensor, front: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """Mean over pairs of ``softplus(values[front] - values[back])``.

    ``values``: (R,) relation values; ``front``/``back``: (K,) integer indices into
    ``values``. With no pairs the loss is 0 (still connected to the graph so that
    distributed training sees every parameter).
    """
    if front.shape != back.shape or front.dim() != 1:
        raise ValueError(
            f"front and back must be 1-D and equal in shape, got {tuple(front.shape)} and {tuple(back.shape)}"
        )
    if front.numel() == 0:
        return values.sum() * 0.0
    diff = values[front].float() - values[back].float()
    return stable_softplus(diff).mean()


def pair_correct(values: torch.Tensor, front: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """Boolean (K,): the front instance has the strictly smaller value."""
    return values[front] < values[back]


__all__ = ["relation_loss", "stable_softplus", "pair_correct"]
