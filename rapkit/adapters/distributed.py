"""One :class:`~rapkit.PanopticEvaluator` per rank, merged over ``torch.distributed`` (DDP).

Why a gather and not an all-reduce of sums: panopticapi adds each class's IoUs one after
the other in the GT's image order, and float addition is not associative, so per-rank sums
added together can differ from it in the last bit. Each rank sends its evaluator's
:meth:`~rapkit.PanopticEvaluator.state` (its matched IoUs and TP/FP/FN counts, a few dozen
bytes per image) with ``all_gather_object``; every rank merges them all and ``compute()``
replays panopticapi's order: the result is the same, bit for bit, as one evaluator that saw
every image, whatever the world size and however the images were shared out. The
evaluator's ``metrics`` (PQ, Boundary PQ, PQ†) all travel in the state.

>>> from rapkit.core.evaluator import PanopticEvaluator
>>> ev = PanopticEvaluator([{"id": 1, "name": "a", "isthing": 1}])
>>> all_gather_evaluator(ev).n_images     # no process group: the evaluator's own images
0
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist

from ..core.evaluator import PanopticEvaluator


def all_gather_evaluator(ev: PanopticEvaluator, group: Any = None) -> PanopticEvaluator:
    """A new evaluator holding the images of every rank's ``ev`` (on every rank; ``group``:
    a process group, default the world). Without an initialised process group, a copy of
    ``ev``. A collective call: every rank of the group must make it. The ranks' evaluators
    need the same categories, ``image_order``, ``metrics`` and ``dilation_ratio`` and
    distinct image ids (``ValueError``)."""
    total = PanopticEvaluator(
        ev.categories, image_order=ev.image_order, metrics=ev.metrics, dilation_ratio=ev.dilation_ratio
    )
    if not (dist.is_available() and dist.is_initialized()):
        return total.merge(ev)
    states: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(states, ev.state(), group=group)
    for s in states:
        total.merge(s)
    return total


__all__ = ["all_gather_evaluator"]
