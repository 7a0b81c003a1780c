"""Pairwise values of the OCFusion pair head for ``rapkit predict``: which ordered pairs of
an image's proposals overlap, their logits, and the ``occludes`` field of the COCO results
(the contract of docs/fusion.md's inputs, read by ``rapkit fuse --strategy ocfusion``).

A pair (i, j) of one image's proposals overlaps when ``|Mi ∩ Mj| / |Mi| >= theta`` or
``|Mi ∩ Mj| / |Mj| >= theta`` (binary masks as written, ``theta`` = ``--pair-overlap``);
an empty mask overlaps nothing. Both orders of an overlapping pair get a logit.

Two ways to run the head, both timed by ``predict`` (paper Table 5's pair-head row):

* **batched** (:func:`overlap_pairs` + :func:`rapkit.model.ocfusion.pair_logits`): every
  overlapping ordered pair of the image, :data:`PAIR_BATCH` pairs per forward: what is written;
* **replay** (:func:`replay_pairs`): one forward per overlap met when the proposals are
  placed one by one in score order (highest first, ties in file order) and each is compared
  with the ones placed before it, as a fusion that queries the head lazily would meet them.
  A simple replay of score order and mask overlap, not the fusion rule itself (which also
  drops proposals by score and overlap checks): it times the lazy strategy, its logits are
  not written.

>>> import torch
>>> m = torch.zeros(3, 4, 4, dtype=torch.bool)
>>> m[0, :2] = True; m[1, 1:3] = True; m[2, 3] = True
>>> first, second = overlap_pairs(m, 0.2)
>>> list(zip(first.tolist(), second.tolist()))
[(0, 1), (1, 0)]
"""

from __future__ import annotations

import numpy as np
import torch

#: ordered pairs per forward of the batched strategy (~400 MB of float32 inputs)
PAIR_BATCH = 1024


def overlap_matrix(masks: torch.Tensor, theta: float) -> torch.Tensor:
    """Boolean (n, n): proposals i and j (i != j) overlap (module docstring) for binary
    ``masks`` (n, H, W). Intersections are counted exactly (float32 sums of 0/1 below 2^24
    pixels per mask, in float64 above).

    >>> m = torch.ones(2, 2, 2, dtype=torch.bool)
    >>> overlap_matrix(m, 0.2).tolist()
    [[False, True], [True, False]]
    """
    n = int(masks.shape[0])
    if n == 0:
        return torch.zeros(0, 0, dtype=torch.bool)
    hw = int(masks[0].numel())
    flat = masks.reshape(n, -1).to(torch.float32 if hw < 2**24 else torch.float64)
    inter = flat @ flat.T
    area = inter.diagonal().clone()
    ok = (inter >= theta * area[:, None]) | (inter >= theta * area[None, :])
    ok &= (inter > 0) & (area[:, None] > 0) & (area[None, :] > 0)
    ok.fill_diagonal_(False)
    return ok.cpu()


def overlap_pairs(masks: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The overlapping ordered pairs ``(first, second)`` (int64, row-major: i ascending, then j)."""
    ok = overlap_matrix(masks, theta)
    if ok.numel() == 0:
        z = torch.zeros(0, dtype=torch.int64)
        return z, z
    idx = ok.nonzero()
    return idx[:, 0].contiguous(), idx[:, 1].contiguous()


def replay_pairs(scores: np.ndarray, overlap: torch.Tensor) -> list[tuple[int, int]]:
    """The pairs ``(new, placed)`` a lazy fusion meets: proposals in descending score order
    (stable), each against every proposal placed before it that it overlaps.

    >>> replay_pairs(np.array([0.2, 0.9, 0.5]), torch.ones(3, 3, dtype=torch.bool).fill_diagonal_(False))
    [(2, 1), (0, 1), (0, 2)]
    """
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable").tolist()
    ov = overlap.numpy()
    met = []
    for k, p in enumerate(order):
        for q in order[:k]:
            if ov[p, q]:
                met.append((p, q))
    return met


def occludes_lists(n: int, first: torch.Tensor, second: torch.Tensor, logits: torch.Tensor) -> list[list]:
    """Per proposal ``0..n-1`` its ``occludes`` list ``[[k, logit], ...]`` (k ascending).

    >>> occludes_lists(3, torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([1.5, -1.5]))
    [[[1, 1.5]], [[0, -1.5]], []]
    """
    out: list[list] = [[] for _ in range(n)]
    for a, b, v in zip(first.tolist(), second.tolist(), logits.tolist()):
        out[a].append([int(b), float(v)])
    return out


__all__ = ["PAIR_BATCH", "occludes_lists", "overlap_matrix", "overlap_pairs", "replay_pairs"]
