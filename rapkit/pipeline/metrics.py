"""Several panoptic metrics in one run: PQ, Boundary PQ and PQ† side by side.

:func:`evaluate` reads every PNG pair once and computes the metrics asked for
(:func:`rapkit.pipeline.evaluate.evaluate_metrics`); the result, an :class:`Evaluation`,
holds one :class:`~rapkit.pipeline.evaluate.PQEvaluation` per metric (``ev["boundary"]``),
each ``==`` its own ``evaluate_pq(..., metric=...)`` run, and lays them out side by side
(``.to_frame()``, ``.image_frame()``, ``.to_dict()``; fractions). :func:`metric_deltas`
compares two evaluations of one GT per image on every metric.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.boundary import DILATION_RATIO
from .evaluate import METRICS, PQEvaluation, delta_rows, evaluate_metrics

#: how each metric is named in tables and frames
LABELS = {"pq": "PQ", "boundary": "Boundary PQ", "pq-dagger": "PQ-dagger"}

__all__ = ["LABELS", "METRICS", "Evaluation", "evaluate", "metric_deltas", "parse_metrics"]


def parse_metrics(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"pq,boundary"`` (or a sequence of names) -> ``("pq", "boundary")``, duplicates
    dropped, order kept; ValueError naming an unknown metric.

    >>> parse_metrics("pq, boundary,pq")
    ('pq', 'boundary')
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = tuple(dict.fromkeys(str(m).strip() for m in items if str(m).strip()))
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        what = f"unknown metric {bad[0]!r}" if bad else "no metric given"
        raise ValueError(f"{what}; choose among {', '.join(METRICS)} (comma-separated, e.g. pq,boundary)")
    return names


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


def evaluate(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    *,
    metrics: str | Sequence[str] = ("pq",),
    workers: int = 1,
    per_image: bool = False,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    dilation_ratio: float = DILATION_RATIO,
) -> Evaluation:
    """PQ, Boundary PQ and/or PQ† of a prediction (``metrics``: names of :data:`METRICS` or
    ``"pq,boundary"``) in one pass over the PNGs; arguments otherwise as
    :func:`rapkit.evaluate_pq`. Each metric's result ``==`` its own ``evaluate_pq`` run.

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> w = make_world(f"{tempfile.mkdtemp()}/w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> ev = evaluate(w.panoptic, w.panoptic, metrics="pq,boundary,pq-dagger")
    >>> [ev[m].result.all.pq for m in ev.metrics]
    [1.0, 1.0, 1.0]
    """
    names = parse_metrics(metrics)
    return Evaluation(
        evaluate_metrics(
            gt_json,
            pred_json,
            gt_dir,
            pred_dir,
            metrics=names,
            workers=workers,
            per_image=per_image,
            fast=fast,
            progress=progress,
            on_start=on_start,
            dilation_ratio=dilation_ratio,
        )
    )


def metric_deltas(a: Evaluation, b: Evaluation) -> dict[str, list[dict[str, Any]]]:
    """Per metric, :func:`~rapkit.pipeline.evaluate.delta_rows` of A and B (two ``per_image``
    evaluations of one GT): ``{metric: [{image_id, dpq, a, b}]}``, largest |dpq| first."""
    return {m: delta_rows(a[m], b[m]) for m in a.metrics}
