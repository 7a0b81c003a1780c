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
from typing import Any

from ..core.boundary import DILATION_RATIO
from ..core.pq_evaluation import Evaluation
from .evaluate import METRICS, delta_rows, evaluate_metrics

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
