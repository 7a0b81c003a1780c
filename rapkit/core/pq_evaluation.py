"""The result of a PQ evaluation: :class:`PQEvaluation` (All / Things / Stuff, per class, per
image, as fractions, with pandas tables), :func:`image_row`, one image's row, and
:class:`Evaluation`, several metrics (:data:`METRICS`) side by side.

Two producers, one result type: :func:`rapkit.evaluate_pq` (files, ``rapkit evaluate``)
and :meth:`rapkit.PanopticEvaluator.compute` (arrays in memory). Pure data: the numbers
come from :func:`rapkit.core.pq.summarize`; pandas is imported only when a table is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import Category, PQResult, PQStats
from .pq import summarize

#: the metrics rapkit computes: PQ, Boundary PQ, PQ† (``rapkit evaluate --metric``, ``PanopticEvaluator(metrics=)``)
METRICS = ("pq", "boundary", "pq-dagger")


@dataclass
class PQEvaluation:
    """What :func:`rapkit.evaluate_pq` or :meth:`rapkit.PanopticEvaluator.compute` found: the
    summary, the merged statistics, bookkeeping.

    >>> from rapkit.types import PQStats
    >>> ev = PQEvaluation(summarize(PQStats(), {}), PQStats(), {}, 0)
    >>> int(ev.to_frame().loc["All", "N"]), ev.n_images
    (0, 0)
    """

    result: PQResult
    stats: PQStats
    categories: dict[int, Category]
    n_images: int
    ignored_pred_images: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: with ``per_image=True``: one :class:`PQStats` per GT image, in GT order (they merge to ``stats``)
    per_image: list[PQStats] = field(default_factory=list)
    #: ``"pq"``, ``"boundary"`` (Boundary PQ) or ``"pq-dagger"`` (PQ†; :data:`rapkit.pipeline.evaluate.METRICS`)
    metric: str = "pq"

    def to_dict(self) -> dict[str, Any]:
        """All / Things / Stuff, per class, the ignored predicted images and the warnings
        (fractions; panopticapi's keys; ``metric`` when it is not ``"pq"``)."""
        d = self.result.to_dict()
        if self.metric != "pq":
            d["metric"] = self.metric
        d["ignored_pred_images"] = list(self.ignored_pred_images)
        d["warnings"] = list(self.warnings)
        return d

    def to_frame(self) -> Any:
        """``PQ SQ RQ N`` of All / Things / Stuff (pandas DataFrame, fractions)."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        r = self.result
        return pd.DataFrame(
            [[s.pq, s.sq, s.rq, s.n] for s in (r.all, r.things, r.stuff)],
            index=["All", "Things", "Stuff"],
            columns=["PQ", "SQ", "RQ", "N"],
        )

    def class_frame(self) -> Any:
        """One row per category: name, thing or stuff, PQ SQ RQ (fractions), TP FP FN."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        rows = [
            {"category_id": c.category_id, "name": c.name, "isthing": c.isthing, "PQ": c.pq, "SQ": c.sq,
             "RQ": c.rq, "TP": c.tp, "FP": c.fp, "FN": c.fn}
            for c in self.result.per_class.values()
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def image_rows(self) -> list[dict[str, Any]]:
        """With ``per_image=True``: ``{image_id, pq, pq_th, tp, fp, fn}`` of every image, GT order."""
        return [image_row(st, self.categories) for st in self.per_image]

    def image_frame(self) -> Any:
        """:meth:`image_rows` as a pandas DataFrame."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        return pd.DataFrame(self.image_rows(), columns=["image_id", "pq", "pq_th", "tp", "fp", "fn"])


# --------------------------------------------------------------------------- per image


def image_row(stats: PQStats, categories: dict[int, Category]) -> dict[str, Any]:
    """One image's ``{image_id, pq, pq_th, tp, fp, fn}`` (fractions; PQ NaN when no class is
    present in the image, PQ^Th NaN when no thing class is).

    >>> from rapkit.types import PQStats
    >>> image_row(PQStats(fn={1: 2}, image_ids=[7]), {1: Category(1, "a", True)})
    {'image_id': 7, 'pq': 0.0, 'pq_th': 0.0, 'tp': 0, 'fp': 0, 'fn': 2}
    """
    r = summarize(stats, categories)
    iid = stats.image_ids[0] if len(stats.image_ids) == 1 else None
    return {
        "image_id": iid,
        "pq": r.all.pq,
        "pq_th": r.things.pq,
        "tp": sum(stats.tp.values()),
        "fp": sum(stats.fp.values()),
        "fn": sum(stats.fn.values()),
    }


@dataclass
class Evaluation:
    """Several metrics of one prediction: ``by_metric[m]`` is metric ``m``'s
    :class:`~rapkit.pipeline.evaluate.PQEvaluation` (also ``ev[m]``), in the order asked.

    >>> from rapkit.core.pq import summarize
    >>> from rapkit.types import PQStats
    >>> one = PQEvaluation(summarize(PQStats(), {}), PQStats(), {}, 0)
    >>> ev = Evaluation({"pq": one, "boundary": one})
    >>> ev.metrics, list(ev.to_frame().columns.get_level_values(0).unique())
    (('pq', 'boundary'), ['pq', 'boundary'])
    """

    by_metric: dict[str, PQEvaluation]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.by_metric)

    def __getitem__(self, metric: str) -> PQEvaluation:
        return self.by_metric[metric]

    @property
    def first(self) -> PQEvaluation:
        return next(iter(self.by_metric.values()))

    @property
    def n_images(self) -> int:
        return self.first.n_images

    @property
    def warnings(self) -> list[str]:
        return self.first.warnings

    @property
    def ignored_pred_images(self) -> list:
        return self.first.ignored_pred_images

    def to_dict(self) -> dict[str, Any]:
        """``{metrics, n_images, <metric>: {All, Things, Stuff, per_class}, ignored_pred_images,
        warnings}`` (fractions)."""
        d: dict[str, Any] = {"metrics": list(self.metrics), "n_images": self.n_images}
        for m, ev in self.by_metric.items():
            sub = ev.to_dict()
            for k in ("ignored_pred_images", "warnings", "metric", "n_images"):
                sub.pop(k, None)
            d[m] = sub
        d["ignored_pred_images"] = list(self.ignored_pred_images)
        d["warnings"] = list(self.warnings)
        return d

    def to_frame(self) -> Any:
        """All / Things / Stuff x (metric, ``PQ SQ RQ N``) (pandas, fractions)."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        return pd.concat({m: ev.to_frame() for m, ev in self.by_metric.items()}, axis=1)

    def image_rows(self) -> list[dict[str, Any]]:
        """With ``per_image=True``: ``{image_id, <metric>: {pq, pq_th, tp, fp, fn}}`` per image, GT order."""
        per = {m: ev.image_rows() for m, ev in self.by_metric.items()}
        first = per[self.metrics[0]]
        return [
            {"image_id": r["image_id"], **{m: {k: v for k, v in per[m][i].items() if k != "image_id"} for m in per}}
            for i, r in enumerate(first)
        ]

    def image_frame(self) -> Any:
        """:meth:`image_rows` flat: ``image_id`` and ``<metric>_<pq|pq_th|tp|fp|fn>`` columns."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        rows = [
            {"image_id": r["image_id"], **{f"{m}_{k}": v for m in self.metrics for k, v in r[m].items()}}
            for r in self.image_rows()
        ]
        cols = ["image_id"] + [f"{m}_{k}" for m in self.metrics for k in ("pq", "pq_th", "tp", "fp", "fn")]
        return pd.DataFrame(rows, columns=cols)


__all__ = ["METRICS", "Evaluation", "PQEvaluation", "image_row"]
