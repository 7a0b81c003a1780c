"""rapkit's PQ as a ``torchmetrics.Metric``: :class:`PanopticQuality`, panopticapi's semantics
(crowd, VOID, things/stuff split) with fixed-size states that sum across DDP.

**The state** is four tensors of one entry per category (in the order of ``categories``):
``tp``, ``fp``, ``fn`` (int64) and ``iou`` (float64, each class's sum of matched IoUs), and
the image count ``n_images``, all ``dist_reduce_fx="sum"``. ``update`` matches each image exactly as panopticapi's single-core
loop (through :class:`~rapkit.PanopticEvaluator`) and adds every matched IoU to its class's
sum one at a time, images in the order given, pairs in (GT id, predicted id) order: the
additions panopticapi makes, in its order.

**Where the bits are kept.** The counts are exact everywhere. The IoU sums are floats, and
float addition depends on order:

* one process, images fed in the GT's order: ``==`` panopticapi's ``pq_compute`` run with one
  process, bit for bit;
* DDP with 2 ranks, rank ``r`` given the ``r``-th contiguous half of the GT order: ``==``
  panopticapi's ``pq_compute`` with 2 processes (it sums contiguous chunks per process and adds
  the chunk sums; adding two floats does not depend on the order);
* any other split (``DistributedSampler`` deals images round robin; more ranks, whose
  all-reduce may add the partial sums in any tree order): the same TP/FP/FN and RQ, and PQ
  and SQ within a few ulps of panopticapi (tested to 1e-12 relative).

For the bits of the one-process run under any split, gather the images' IoUs instead of
their sums: a :class:`~rapkit.PanopticEvaluator` per rank and
:func:`rapkit.adapters.distributed.all_gather_evaluator`.

**Boundary PQ and PQ†**, when asked (``metrics=("pq", "boundary", "pq-dagger")``), get the
same four states each, prefixed ``boundary_`` and ``pq_dagger_`` (``boundary_tp``, ...,
``pq_dagger_iou``), and their keys in :meth:`PanopticQuality.compute`: ``bpq``, ``bsq``,
``brq``, ``bpq_th``, ..., ``brq_st`` and ``pqdagger``, ``sqdagger``, ``rqdagger``,
``pqdagger_th``, ..., ``rqdagger_st`` (:data:`METRIC_KEYS`), the same bits rules as PQ's.

"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

try:
    from torchmetrics import Metric
except ImportError:  # the module still imports (rapkit/'s doctests collect it); the class says what is missing
    Metric = None

from ..core.boundary import DILATION_RATIO
from ..core.evaluator import PanopticEvaluator, as_categories, as_metrics
from ..core.pq import summarize
from ..types import PQResult, PQStats

#: the keys of :meth:`PanopticQuality.compute` (fractions), split and measure
KEYS = [
    (f"{m}{s}", split, m) for s, split in (("", "all"), ("_th", "things"), ("_st", "stuff")) for m in ("pq", "sq", "rq")
]

#: the keys of each metric: PQ's are :data:`KEYS`; Boundary PQ prefixes ``b``, PQ† appends ``dagger``
METRIC_KEYS = {
    "pq": KEYS,
    "boundary": [("b" + key, split, m) for key, split, m in KEYS],
    "pq-dagger": [(key.replace("q", "qdagger", 1), split, m) for key, split, m in KEYS],
}
#: the prefix of each metric's states
PREFIX = {"pq": "", "boundary": "boundary_", "pq-dagger": "pq_dagger_"}


class PanopticQuality(Metric if Metric is not None else object):  # type: ignore[misc]
    """PQ / SQ / RQ of All, Things and Stuff as a ``torchmetrics.Metric`` (panopticapi's
    semantics; states: per-class TP, FP, FN and IoU sums, summed across processes).

    ``update(preds, target)`` takes torchmetrics' ``(B, H, W, 2)`` (category, instance)
    tensors (or one ``(H, W, 2)`` image); with ``label_divisor`` given here, detectron2's
    ``(B, H, W)`` labels (-1 VOID); with ``preds_segments=`` / ``target_segments=``, COCO id
    maps and their ``segments_info`` lists. ``compute()`` gives ``{"pq", "sq", "rq", "pq_th",
    ..., "rq_st"}`` as float64 scalars (fractions; NaN for a split with no class present);
    :meth:`result` the full :class:`~rapkit.types.PQResult` (per class too). ``metrics``:
    PQ always; add ``"boundary"`` and/or ``"pq-dagger"`` for their states and keys
    (``dilation_ratio``: Boundary PQ's band width).

    >>> m = PanopticQuality([{"id": 1, "name": "a", "isthing": 1}], label_divisor=1000)
    >>> m.update(torch.tensor([[1001, 1001, -1]]), torch.tensor([[1001, 1001, 1002]]))
    >>> round(float(m.compute()["pq"]), 4)        # one TP (IoU 1), one FN
    0.6667
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self,
        categories: Any,
        *,
        label_divisor: int | None = None,
        metrics: Any = ("pq",),
        dilation_ratio: float = DILATION_RATIO,
        **kwargs: Any,
    ) -> None:
        if Metric is None:
            raise ImportError(
                "PanopticQuality needs torchmetrics: pip install torchmetrics (rapkit's test extra has it)"
            )
        super().__init__(**kwargs)
        self.categories = as_categories(categories)
        self.label_divisor = label_divisor
        self.metrics = as_metrics(("pq", *as_metrics(metrics)))  # PQ always, the others when asked
        self.dilation_ratio = dilation_ratio
        PanopticEvaluator(self.categories, metrics=self.metrics, dilation_ratio=dilation_ratio)  # checks them
        self._cat_ids = np.fromiter(self.categories, np.int64, len(self.categories))
        n = len(self.categories)
        for pre in (PREFIX[m] for m in self.metrics):
            self.add_state(pre + "tp", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
            self.add_state(pre + "fp", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
            self.add_state(pre + "fn", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
            self.add_state(pre + "iou", torch.zeros(n, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n_images", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, preds: Any, target: Any, *, preds_segments: Any = None, target_segments: Any = None) -> None:
        """Add a batch of images (or one), in the order given."""
        ev = PanopticEvaluator(self.categories, metrics=self.metrics, dilation_ratio=self.dilation_ratio)
        ev.update(preds, preds_segments, target, target_segments, label_divisor=self.label_divisor)
        for metric in self.metrics:
            stats, _ = ev.stats(metric)  # images in the order given, pairs in panopticapi's order
            self._add(PREFIX[metric], stats)
        self.n_images = self.n_images + ev.n_images

    def _add(self, pre: str, stats: PQStats) -> None:
        known = {c: k for k, c in enumerate(self._cat_ids.tolist())}
        for name in ("tp", "fp", "fn"):
            add = np.zeros(len(known), np.int64)
            for c, v in getattr(stats, name).items():
                if c in known:  # a GT category panopticapi does not list: counted nowhere
                    add[known[c]] += v
            state = getattr(self, pre + name)
            setattr(self, pre + name, state + torch.from_numpy(add).to(state.device))
        iou_state = getattr(self, pre + "iou")
        sums = iou_state.detach().cpu().numpy().copy()
        for c in np.unique(stats.category).tolist():
            if c in known:
                k = known[c]
                # one addition after the other, as panopticapi's `iou +=` (np.cumsum is sequential)
                sums[k] = np.cumsum(np.r_[sums[k], stats.iou[stats.category == c]])[-1]
        setattr(self, pre + "iou", torch.from_numpy(sums).to(iou_state.device))

    def result(self, metric: str = "pq") -> PQResult:
        """All / Things / Stuff and per class of ``metric`` (one of ``metrics``), from the
        states summed over the processes (as :meth:`compute`)."""
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} is not among this metric's metrics {self.metrics}")
        if self._is_synced:
            return self._result(metric)
        with self.sync_context():
            return self._result(metric)

    def _result(self, metric: str = "pq") -> PQResult:
        pre = PREFIX[metric]
        tp, fp, fn = (getattr(self, pre + n).detach().cpu().numpy() for n in ("tp", "fp", "fn"))
        iou = getattr(self, pre + "iou").detach().cpu().numpy()
        idx = np.flatnonzero(tp)
        stats = PQStats(
            tp={int(c): int(v) for c, v in zip(self._cat_ids, tp) if v},
            fp={int(c): int(v) for c, v in zip(self._cat_ids, fp) if v},
            fn={int(c): int(v) for c, v in zip(self._cat_ids, fn) if v},
            order=np.zeros(idx.size, np.int64),
            rank=np.arange(idx.size, dtype=np.int64),
            category=self._cat_ids[idx],
            iou=iou[idx],  # one sum per class: summarize adds nothing more to it
            orders=np.arange(int(self.n_images), dtype=np.int64),
        )
        return summarize(stats, self.categories)

    def compute(self) -> dict[str, torch.Tensor]:
        out = {}
        for metric in self.metrics:
            r = self._result(metric)  # torchmetrics has summed the states over the processes
            out.update(
                {
                    key: torch.tensor(getattr(r.split(split), m), dtype=torch.float64)
                    for key, split, m in METRIC_KEYS[metric]
                }
            )
        return out


if Metric is None:  # no example can run without torchmetrics: the docstring keeps its words only
    PanopticQuality.__doc__ = PanopticQuality.__doc__.split(">>>")[0]

__all__ = ["KEYS", "METRIC_KEYS", "PanopticQuality"]
