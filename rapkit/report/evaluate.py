"""``rapkit evaluate``'s report: the parts of an :class:`~rapkit.pipeline.requests.EvaluateOutcome`
laid out together (the check, PQ, relation accuracy; or the A/B delta; or the sweep)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..pipeline.requests import EvaluateOutcome
from .metrics import metrics_delta_report, metrics_report
from .pq import combine_reports, delta_report, pq_report
from .render import Report

if TYPE_CHECKING:  # the check, relations and sweep layouts are imported when there is one to lay out
    from ..pipeline.check import CheckResult

__all__ = ["checks_report", "evaluate_report"]


def checks_report(checks: list[tuple[str, CheckResult]]) -> Report:
    """The ``--check`` part alone (printed when the evaluation after it fails)."""
    from .check import check_report

    return combine_reports("check", [("check", check_report(checks))])


def evaluate_report(outcome: EvaluateOutcome) -> Report:
    """The report ``rapkit evaluate`` prints for ``outcome`` (its request says which tables:
    ``per_class``, ``per_image``)."""
    req = outcome.request
    if outcome.sweep is not None:
        from .sweep import sweep_report

        return sweep_report(outcome.sweep, kind=outcome.mode)
    if outcome.metrics_b is not None:
        a_path, b_path = req.preds
        return metrics_delta_report(outcome.metrics, outcome.metrics_b, (str(a_path), str(b_path)))
    if outcome.evaluation_b is not None:
        a_path, b_path = req.preds
        return delta_report(outcome.evaluation, outcome.evaluation_b, (str(a_path), str(b_path)))
    parts: list[tuple[str | None, Report]] = []
    if outcome.checks:
        from .check import check_report

        parts.append(("check", check_report(outcome.checks)))
    if outcome.metrics is not None:
        parts.append((None, metrics_report(outcome.metrics, per_class=req.per_class, per_image=req.per_image)))
    elif outcome.evaluation is not None:
        parts.append((None, pq_report(outcome.evaluation, per_class=req.per_class, per_image=req.per_image)))
    if outcome.relations is not None:
        from .relations import relation_accuracy_report

        parts.append((None, relation_accuracy_report(outcome.relations)))
    return combine_reports("evaluate", parts)
