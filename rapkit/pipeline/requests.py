"""``rapkit evaluate`` as one typed request and one call.

:class:`EvaluateRequest` holds every option of ``rapkit evaluate``; :meth:`~EvaluateRequest.plan`
checks the combination and decides what runs; :func:`run_evaluate` runs it and returns the
report and the result of the ``--fail-under`` gate. The command line only builds the
request, calls :func:`run_evaluate` and prints (``cli/evaluate.py``).

Modes (an option names in ``--help`` the modes it applies to):

* **PQ** — ``gt`` + ``pred``: PQ / SQ / RQ, panopticapi-exact, or Boundary PQ / PQ† with
  ``metric="boundary"`` / ``"pq-dagger"`` (``per_class``, ``per_image``, ``check``, ``fail_under``,
  ``decoder``, ``metric``, ``pred_dir`` apply only here); ``pred`` may be
  two predictions ``(A, B)`` with ``per_image``: PQ of each and ΔPQ = PQ(B) - PQ(A) per
  image, largest |ΔPQ| first (PQ alone: no relation accuracy, ``check``, ``fail_under``,
  ``per_class`` or ``pred_dir`` with two);
* **relations** — ``relations`` + ``proposals`` + ``instances``: relation accuracy (paper
  Table 4) at one ``rho``/``tau``/``gamma``; alone or together with PQ (``protocol``,
  ``by_category``, ``train_relations``/``train_instances`` and, with ``by_category``,
  ``output`` apply only here);
* **sweep** — ``sweep=True`` with the parameter names in ``sweep_params``
  (``rapkit evaluate --sweep rho tau gamma``): ``gt`` + ``proposals``, fused for every
  combination of the ``rho``/``tau``/``gamma`` value lists (paper Table 1);
* **ablation** — ``ablation=True``: ``gt`` + ``proposals``, paper Table 2's rows at one
  ``rho``/``tau``/``gamma``.

Invalid combinations raise :class:`~rapkit.errors.ConfigError` (exit 2) naming the option
and what to do instead; bad data raises :class:`~rapkit.errors.InputError` (exit 3) from the
pipelines.

>>> req = EvaluateRequest(gt="gt.json", proposals="props.json", sweep=True, sweep_params=("rho", "tau"),
...                       rho=(0.5, 0.6), tau=(0.5, 0.6))
>>> plan = req.plan()
>>> plan.mode, len(plan.grid)
('sweep', 4)
>>> EvaluateRequest(gt="gt.json", pred="p.json", fail_under="PQ=50").plan().gates
{'PQ': 50.0}
>>> out = run_evaluate(req)          # doctest: +SKIP
>>> out.sweep.to_frame(), out.gate   # doctest: +SKIP

The outcome holds results (fractions), never a printed table: the command line lays it out
with :func:`rapkit.report.evaluate.evaluate_report`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError, GateFailed, InputError
from ..io.panoptic import load_categories
from ..io.tables import check_table_path
from ..types import FusionParams
from .evaluate import PQEvaluation, delta_rows
from .gates import check_gates, parse_gates
from .metrics import LABELS, Evaluation, evaluate, metric_deltas, parse_metrics

if TYPE_CHECKING:  # each mode's pipeline is imported when that mode runs (start-up of the others)
    from .check import CheckResult
    from .relation_acc import RelationEvaluation
    from .sweep import SweepResult

PathLike = str | os.PathLike
Mode = Literal["evaluate", "sweep", "ablation"]

#: what the value options take, for messages
_COMMA_FORM = "comma-separated numbers in [0, 1]"


@dataclass(frozen=True)
class EvaluateRequest:
    """Every option of ``rapkit evaluate`` (see the module docstring for the modes).

    Paths may be ``str`` or ``os.PathLike``. ``rho``/``tau``/``gamma`` are value lists for
    ``sweep`` and single values (a one-element list or a number) for ``ablation`` and
    relation accuracy; ``None`` = the default (the paper's best 0.6/0.6/0.5, and
    ``0.4, 0.5, 0.6, 0.7`` for a swept parameter). ``fail_under`` is the ``--fail-under``
    spec (``"PQ=50,PQ_th=45"``) or a ``{key: bar}`` mapping, bars x100 (applied to the first
    metric). ``metric`` is one of ``pq``, ``boundary``, ``pq-dagger``, or several
    (``"pq,boundary"`` or a sequence): then they are computed in one pass and reported side
    by side.
    """

    # inputs
    gt: PathLike | None = None
    gt_dir: PathLike | None = None
    pred: PathLike | Sequence[PathLike] | None = None
    pred_dir: PathLike | None = None
    relations: PathLike | None = None
    proposals: PathLike | None = None
    instances: PathLike | None = None
    semantic: PathLike | None = None
    categories: PathLike | None = None
    # PQ
    per_class: bool = False
    per_image: bool = False
    check: bool = False
    fail_under: str | Mapping[str, float] | None = None
    decoder: Literal["fast", "pil"] = "fast"
    metric: str | Sequence[str] = "pq"
    # sweep / ablation
    sweep: bool = False
    sweep_params: tuple[str, ...] = ()
    ablation: bool = False
    output: PathLike | None = None
    force: bool = False
    # fusion parameters (sweep, ablation, relation accuracy)
    rho: Sequence[float] | float | None = None
    tau: Sequence[float] | float | None = None
    gamma: Sequence[float] | float | None = None
    stuff_area: int = 4096
    #: ``None``: the strategy's first (rap: paper; ocfusion: reference)
    variant: Literal["paper", "reference", "original"] | None = None
    #: the fusion the sweep and the ablation run: RAP (Algorithm 1) or OCFusion (the
    #: proposals' pair logits, ``occludes``)
    strategy: Literal["rap", "ocfusion"] = "rap"
    # relation accuracy
    protocol: Literal["rapkit", "authors"] = "rapkit"
    by_category: bool = False
    train_relations: PathLike | None = None
    train_instances: PathLike | None = None
    # execution
    workers: int = 1

    def plan(self) -> EvaluatePlan:
        """Check the combination of options and say what runs; raises :class:`ConfigError`."""
        return _plan(self)

    @property
    def preds(self) -> tuple[PathLike, ...]:
        """The predictions given: ``()``, ``(pred,)`` or ``(A, B)``."""
        if self.pred is None:
            return ()
        if isinstance(self.pred, (str, os.PathLike)):
            return (self.pred,)
        return tuple(self.pred)


@dataclass(frozen=True)
class EvaluatePlan:
    """What a valid :class:`EvaluateRequest` runs.

    ``mode`` is ``"evaluate"`` (PQ and/or relation accuracy), ``"sweep"`` or
    ``"ablation"``; ``pq`` and ``relation_params`` (``None`` = no relation accuracy) say
    which parts of ``"evaluate"`` run; ``grid`` holds the settings of a sweep (FusionParams)
    or an ablation ((label, FusionParams) pairs); ``gates`` the parsed ``fail_under``.
    """

    mode: Mode
    pq: bool = False
    relation_params: FusionParams | None = None
    grid: list[Any] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)
    gates: dict[str, float] = field(default_factory=dict)
    compare: bool = False  # two predictions: per-image ΔPQ
    metrics: tuple[str, ...] = ("pq",)


@dataclass
class GateResult:
    """The ``--fail-under`` gate: the bars asked for and the ones that failed (as messages)."""

    bars: dict[str, float]
    failed: list[str]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def message(self) -> str:
        return "quality gate failed: " + "; ".join(self.failed) if self.failed else "quality gate passed"


@dataclass
class EvaluateOutcome:
    """What :func:`run_evaluate` returns: the results of the request's mode (fractions) and
    the gate (``None`` when no ``fail_under`` was given). The report the command line prints
    is :func:`rapkit.report.evaluate.evaluate_report` of it."""

    request: EvaluateRequest
    mode: Mode = "evaluate"
    gate: GateResult | None = None
    warnings: list[str] = field(default_factory=list)
    #: PQ (``gt`` + ``pred``); with two predictions, A's
    evaluation: PQEvaluation | None = None
    #: relation accuracy (``relations`` + ``proposals`` + ``instances``)
    relations: RelationEvaluation | None = None
    checks: list[tuple[str, CheckResult]] = field(default_factory=list)
    #: ``sweep`` or ``ablation``
    sweep: SweepResult | None = None
    #: with two predictions: the evaluation of B and the per-image rows
    #: ``{image_id, dpq, a: {...}, b: {...}}``, largest |ΔPQ| first (of the first metric)
    evaluation_b: PQEvaluation | None = None
    per_image_delta: list[dict[str, Any]] | None = None
    #: with several metrics: all of them (A's with two predictions; ``evaluation`` is the
    #: first metric's), B's, and the per-image rows of every metric
    metrics: Evaluation | None = None
    metrics_b: Evaluation | None = None
    metric_deltas: dict[str, list[dict[str, Any]]] | None = None

    @property
    def relation_stats(self) -> Any:
        """The relation accuracy's counts (:class:`~rapkit.core.relation_acc.RelationAccStats`), if run."""
        return self.relations.stats if self.relations is not None else None

    @property
    def relation_by_category(self) -> Any:
        """With ``by_category``: the per-category-pair table (pandas, fractions)."""
        return self.relations.by_category if self.relations is not None else None

    def to_dict(self) -> dict[str, Any]:
        """Every result of the run as plain data (fractions), by part."""
        d: dict[str, Any] = {"mode": self.mode, "warnings": list(self.warnings)}
        if self.checks:
            d["check"] = {label: res.to_dict() for label, res in self.checks}
        if self.metrics is not None:
            d["metrics" if self.metrics_b is None else "metrics_a"] = self.metrics.to_dict()
        if self.metrics_b is not None:
            d["metrics_b"] = self.metrics_b.to_dict()
            d["metric_deltas"] = self.metric_deltas
        elif self.evaluation is not None:
            d["pq" if self.evaluation_b is None else "pq_a"] = self.evaluation.to_dict()
        if self.evaluation_b is not None and self.metrics_b is None:
            d["pq_b"] = self.evaluation_b.to_dict()
            d["per_image_delta"] = self.per_image_delta
        if self.relations is not None:
            d["relations"] = self.relations.to_dict()
        if self.sweep is not None:
            d[self.mode] = self.sweep.to_dict()
        if self.gate is not None:
            d["gate"] = {"bars": self.gate.bars, "failed": self.gate.failed, "passed": self.gate.passed}
        return d

    def to_frame(self) -> Any:
        """The main table of the mode (pandas, fractions): the sweep's or ablation's rows, PQ's
        All / Things / Stuff, or the relation accuracies."""
        if self.sweep is not None:
            return self.sweep.to_frame()
        if self.metrics is not None:
            return self.metrics.to_frame()
        if self.evaluation is not None:
            return self.evaluation.to_frame()
        if self.relations is not None:
            return self.relations.to_frame()
        raise ValueError("this outcome holds no table")

    def raise_for_gate(self) -> None:
        """Raise :class:`GateFailed` (exit 1) when the gate failed; nothing otherwise."""
        if self.gate is not None and not self.gate.passed:
            raise GateFailed(self.gate.message)


# --------------------------------------------------------------------------- validation


def _values(name: str, v: Sequence[float] | float | None) -> list[float] | None:
    """``rho``-style values as a list of floats in [0, 1] (a number = one value)."""
    if v is None:
        return None
    if isinstance(v, str):
        raise ConfigError(f"--{name}: expected {_COMMA_FORM} as a list, got the string {v!r}")
    items = [v] if isinstance(v, (int, float)) else list(v)
    if not items:
        raise ConfigError(f"--{name}: empty value list; expected {_COMMA_FORM}, e.g. --{name} 0.5,0.6")
    out = []
    for x in items:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x) or not 0.0 <= x <= 1.0:
            raise ConfigError(f"--{name}: {x!r} is not in [0, 1]; expected {_COMMA_FORM}, e.g. --{name} 0.5,0.6")
        out.append(float(x))
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _given(req: EvaluateRequest, names: Sequence[str]) -> list[str]:
    """The options among ``names`` (request fields) that were given, as ``--option``."""
    return [f"--{n.replace('_', '-')}" for n in names if getattr(req, n) not in (None, False)]


def _one_value(
    what: str, lists: Mapping[str, list[float] | None], stuff_area: int, variant: str | None, strategy: str = "rap"
) -> FusionParams:
    """One FusionParams from single-valued rho/tau/gamma (defaults: the strategy's, for RAP
    the paper's best)."""
    one = {}
    for name, vals in lists.items():
        if vals is not None:
            if len(vals) != 1:
                shown = ",".join(f"{v:g}" for v in vals)
                raise ConfigError(f"{what} takes one value of --{name}, got {shown} (value lists are for --sweep)")
            one[name] = vals[0]
    return FusionParams.of(strategy, stuff_area=stuff_area, variant=variant, **one)


def _plan(req: EvaluateRequest) -> EvaluatePlan:
    # words the command line took as parameter names but that are values: "--rho 0.5 0.6"
    numbers = [p for p in req.sweep_params if _is_number(p)]
    if numbers:
        names = "; the arguments of --sweep are parameter names (rho tau gamma)" if req.sweep else ""
        raise ConfigError(
            f"unexpected value {numbers[0]!r}: value lists are {_COMMA_FORM} without spaces, e.g. --rho 0.5,0.6{names}"
        )
    if req.sweep and req.ablation:
        raise ConfigError("--sweep and --ablation are exclusive: run them one after the other")
    lists = {name: _values(name, getattr(req, name)) for name in ("rho", "tau", "gamma")}
    if req.sweep or req.ablation:
        return _plan_sweep(req, lists)
    return _plan_evaluate(req, lists)


def _plan_sweep(req: EvaluateRequest, lists: Mapping[str, list[float] | None]) -> EvaluatePlan:
    from ..core.sweep import ablation_grid, make_grid

    flag = "--sweep" if req.sweep else "--ablation"
    if req.pred is not None:
        raise ConfigError(
            f"{flag} fuses the proposals itself and takes no --pred (a fused panoptic JSON): "
            f"pass the detections with --proposals instead"
        )
    pq_only = _given(req, ("pred_dir", "per_class", "per_image", "check", "fail_under"))
    if _metrics(req) != ("pq",):
        pq_only.append("--metric")
    if pq_only:
        raise ConfigError(f"{pq_only[0]} applies to PQ evaluation (--gt with --pred), not to {flag}")
    rel_only = _given(req, ("relations", "instances", "by_category", "train_relations", "train_instances"))
    if req.protocol != "rapkit":
        rel_only.append("--protocol")
    if rel_only:
        raise ConfigError(
            f"{rel_only[0]} applies to relation accuracy (--relations, --proposals, --instances), not to {flag}"
        )
    if req.gt is None:
        raise ConfigError(f"{flag} needs --gt (the GT panoptic JSON every setting is scored against)")
    if req.proposals is None:
        raise ConfigError(f"{flag} needs --proposals (the dumped detections to fuse)")
    if req.ablation:
        if req.sweep_params:
            raise ConfigError(
                f"unexpected argument(s) {' '.join(req.sweep_params)} with --ablation (parameter names go with --sweep)"
            )
        if req.strategy == "ocfusion" and lists.get("gamma") is not None:
            raise ConfigError("strategy ocfusion has no gamma (its pair threshold is fixed at 0.2)")
        base = _one_value("--ablation", lists, req.stuff_area, req.variant, req.strategy)
        return EvaluatePlan("ablation", grid=ablation_grid(base))
    names = list(req.sweep_params)
    if not names:
        raise ConfigError("--sweep needs the parameters to vary, e.g. --sweep rho tau gamma")
    grid = make_grid(names, FusionParams.of(req.strategy, stuff_area=req.stuff_area, variant=req.variant), **lists)
    return EvaluatePlan("sweep", grid=grid, swept=names)


def _plan_evaluate(req: EvaluateRequest, lists: Mapping[str, list[float] | None]) -> EvaluatePlan:
    if req.sweep_params:
        words = " ".join(req.sweep_params)
        raise ConfigError(f"unexpected argument(s) {words} (did you mean --sweep {words}?)")
    compare = _check_preds(req)
    sweep_only = _given(req, ("semantic", "categories"))
    if sweep_only:
        raise ConfigError(f"{sweep_only[0]} applies to --sweep and --ablation only")
    if req.output is not None and not req.by_category:
        raise ConfigError("--output applies to --sweep, --ablation and --by-category (relation accuracy)")
    gates = (
        parse_gates(req.fail_under)
        if isinstance(req.fail_under, str) or req.fail_under is None
        else _gates_from_mapping(req.fail_under)
    )
    rel_given = {n: getattr(req, n) for n in ("relations", "proposals", "instances")}
    rel_params = None
    if any(v is not None for v in rel_given.values()):
        missing = [f"--{n}" for n, v in rel_given.items() if v is None]
        if missing:
            hint = ""
            if missing == ["--relations", "--instances"]:
                hint = "; to fuse the proposals and score PQ, add --sweep PARAM... or --ablation"
            raise ConfigError(
                f"relation accuracy needs --relations, --proposals and --instances (missing {', '.join(missing)}){hint}"
            )
        rel_params = _one_value("relation accuracy", lists, req.stuff_area, req.variant, req.strategy)
        _check_relation_options(req)
    else:
        fixed = [f"--{n}" for n, v in lists.items() if v is not None]
        if req.strategy != "rap":
            fixed.insert(0, "--strategy")
        if fixed:
            raise ConfigError(
                f"{fixed[0]} applies to --sweep, --ablation and relation accuracy "
                f"(--relations, --proposals, --instances), not to PQ alone"
            )
        rel_only = _given(req, ("by_category", "train_relations", "train_instances"))
        if req.protocol != "rapkit":
            rel_only.insert(0, "--protocol")
        if rel_only:
            alone = ", not to PQ alone" if req.pred is not None else ""
            raise ConfigError(
                f"{rel_only[0]} applies to relation accuracy (--relations, --proposals, --instances){alone}"
            )
    if req.pred is None and rel_params is None:
        raise ConfigError(
            "nothing to evaluate: give --gt and --pred (PQ), and/or --relations, --proposals, --instances"
        )
    if req.pred is not None and req.gt is None:
        raise ConfigError("--pred needs --gt")
    if req.pred is None:
        # relation accuracy alone: the PQ options have nothing to act on
        if req.check:
            raise ConfigError("--check needs --gt and --pred")
        if gates:
            raise ConfigError("--fail-under needs a PQ evaluation (--gt and --pred)")
        stray = _given(req, ("gt", "gt_dir", "pred_dir", "per_class", "per_image"))
        if stray:
            raise ConfigError(
                f"{stray[0]} applies to PQ evaluation, which needs --pred too "
                f"(relation accuracy takes its GT from --instances and --relations)"
            )
    if req.decoder not in ("fast", "pil"):
        raise ConfigError(f"--decoder: unknown decoder {req.decoder!r}; choose fast or pil")
    metrics = _metrics(req)
    if metrics != ("pq",) and req.pred is None:
        raise ConfigError("--metric needs a PQ evaluation (--gt and --pred)")
    return EvaluatePlan(
        "evaluate", pq=req.pred is not None, relation_params=rel_params, gates=gates, compare=compare, metrics=metrics
    )


def _metrics(req: EvaluateRequest) -> tuple[str, ...]:
    try:
        return parse_metrics(req.metric)
    except ValueError as e:
        raise ConfigError(f"--metric: {e}") from None


def _check_preds(req: EvaluateRequest) -> bool:
    """Whether two predictions are compared; ConfigError for a bad number or combination."""
    preds = req.preds
    if req.pred is not None and not preds:
        raise ConfigError("--pred: no prediction given")
    if len(preds) > 2:
        raise ConfigError(
            f"--pred takes one prediction, or two (A and B) with --per-image for the per-image ΔPQ; got {len(preds)}"
        )
    if len(preds) < 2:
        return False
    if not req.per_image:
        raise ConfigError(
            "two --pred compare two predictions per image: add --per-image (ΔPQ = PQ(B) - PQ(A) per image)"
        )
    rel = _given(req, ("relations", "proposals", "instances", "by_category", "train_relations", "train_instances"))
    if rel:
        raise ConfigError(
            f"{rel[0]} applies to relation accuracy with one --pred; two --pred (the per-image ΔPQ of PQ "
            f"evaluation) take only --gt, --gt-dir, --decoder and --workers"
        )
    one = _given(req, ("pred_dir", "per_class", "check", "fail_under"))
    if one:
        raise ConfigError(
            f"{one[0]} applies to PQ evaluation of one --pred; two --pred (the per-image ΔPQ) take only "
            f"--gt, --gt-dir, --decoder and --workers"
        )
    return True


def _check_relation_options(req: EvaluateRequest) -> None:
    """The options of relation accuracy alone: --protocol, --by-category and its companions."""
    from ..core.relation_acc import check_protocol

    check_protocol(req.protocol)
    if req.train_relations is not None and not req.by_category:
        raise ConfigError("--train-relations applies to --by-category (the training frequency of each category pair)")
    if req.train_instances is not None and not req.by_category:
        raise ConfigError("--train-instances applies to --by-category (with --train-relations)")
    if (req.train_relations is None) != (req.train_instances is None):
        missing = "--train-instances" if req.train_instances is None else "--train-relations"
        raise ConfigError(
            f"--by-category's training frequency needs --train-relations and --train-instances (missing {missing}; "
            f"the instances JSON gives the categories of the training relations)"
        )


def _gates_from_mapping(bars: Mapping[str, float]) -> dict[str, float]:
    return parse_gates(",".join(f"{k}={v}" for k, v in bars.items()))


# --------------------------------------------------------------------------- running


def run_evaluate(
    request: EvaluateRequest,
    *,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int | None, str], None] | None = None,
    log: Callable[[str], None] | None = None,
    on_checks: Callable[[list[tuple[str, CheckResult]]], None] | None = None,
) -> EvaluateOutcome:
    """Run ``rapkit evaluate`` for ``request`` (validated first, see :meth:`EvaluateRequest.plan`).

    Callbacks, all optional: ``on_start(total, step)`` when a step with ``total`` items
    starts (``step`` is ``"check GT"``, ``"check prediction"``, ``"PQ"``, ``"relation
    accuracy"``, ``"sweep"`` or ``"ablation"``; ``total`` is ``None`` for the check steps,
    whose size :func:`~rapkit.pipeline.check.check_panoptic` does not announce), then
    ``progress(n)`` as items complete; ``log(line)`` for status lines; ``on_checks(checks)``
    receives the ``check`` results when the evaluation after ``check`` fails (the error then
    propagates).

    The gate is applied, not enforced: :meth:`EvaluateOutcome.raise_for_gate` raises
    :class:`GateFailed` (exit 1) after the caller has printed the report.

    >>> out = run_evaluate(EvaluateRequest(gt="gt.json", pred="pred.json", fail_under="PQ=40"))  # doctest: +SKIP
    >>> out.gate.passed                                                                         # doctest: +SKIP
    """
    plan = request.plan()
    if plan.mode == "evaluate":
        return _run_evaluate(request, plan, progress, on_start, on_checks)
    return _run_sweep(request, plan, progress, on_start, log)


def _run_evaluate(req: EvaluateRequest, plan: EvaluatePlan, progress, on_start, on_checks) -> EvaluateOutcome:
    step = (lambda name: lambda n: on_start(n, name)) if on_start is not None else (lambda name: None)
    out = EvaluateOutcome(req, "evaluate")
    if req.output is not None:  # --by-category's table: checked before any work
        check_table_path(req.output, req.force)
    if req.check:
        from .check import check_panoptic

        if on_start is not None:
            on_start(None, "check GT")
        gt_res = check_panoptic(req.gt, req.gt_dir, gt=True, workers=req.workers, progress=progress)
        try:
            cats = load_categories(req.gt)
        except InputError:
            cats = None
        if on_start is not None:
            on_start(None, "check prediction")
        pred_res = check_panoptic(
            req.pred, req.pred_dir, gt=False, categories=cats, workers=req.workers, progress=progress
        )
        out.checks = [("GT", gt_res), ("prediction", pred_res)]
    if plan.compare:
        return _run_compare(req, plan, step)
    if plan.pq:
        try:
            ev = evaluate(
                req.gt,
                req.pred,
                req.gt_dir,
                req.pred_dir,
                metrics=plan.metrics,
                workers=req.workers,
                per_image=req.per_image,
                fast=req.decoder == "fast",
                progress=progress,
                on_start=step(", ".join(LABELS[m] for m in plan.metrics)),
            )
            out.evaluation = ev.first
            if len(plan.metrics) > 1:
                out.metrics = ev
        except InputError:
            if out.checks and on_checks is not None:
                on_checks(out.checks)
            raise
        out.warnings.extend(out.evaluation.warnings)
    if plan.relation_params is not None:
        from .relation_acc import evaluate_relations

        out.relations = evaluate_relations(
            relations=req.relations,
            proposals=req.proposals,
            instances=req.instances,
            params=plan.relation_params,
            protocol=req.protocol,
            by_category=req.by_category,
            train_relations=req.train_relations,
            train_instances=req.train_instances,
            output=req.output,
            force=req.force,
            workers=req.workers,
            progress=progress,
            on_start=step("relation accuracy"),
        )
    if plan.gates:
        out.gate = GateResult(dict(plan.gates), check_gates(out.evaluation.result, plan.gates))
    return out


def _run_compare(req: EvaluateRequest, plan: EvaluatePlan, step) -> EvaluateOutcome:
    """``--per-image`` with two predictions: each evaluated per image on every metric, ΔPQ
    per image of each metric."""
    a_path, b_path = req.preds
    a, b = (
        evaluate(
            req.gt,
            path,
            req.gt_dir,
            None,
            metrics=plan.metrics,
            workers=req.workers,
            per_image=True,
            fast=req.decoder == "fast",
            on_start=step(f"{', '.join(LABELS[m] for m in plan.metrics)} {name}"),
        )
        for name, path in (("A", a_path), ("B", b_path))
    )
    warnings = [f"{n}: {w}" for n, ev in (("A", a), ("B", b)) for w in ev.warnings]
    out = EvaluateOutcome(
        req, "evaluate", None, warnings, a.first, evaluation_b=b.first, per_image_delta=delta_rows(a.first, b.first)
    )
    if len(plan.metrics) > 1:
        out.metrics, out.metrics_b, out.metric_deltas = a, b, metric_deltas(a, b)
    return out


def _run_sweep(req: EvaluateRequest, plan: EvaluatePlan, progress, on_start, log) -> EvaluateOutcome:
    from .sweep import ablate, sweep

    say = log or (lambda s: None)
    kind = plan.mode
    say(f"{kind}: {len(plan.grid)} setting(s) + baseline")
    common: dict[str, Any] = dict(
        gt_dir=req.gt_dir,
        semantic=req.semantic,
        categories=req.categories,
        output=req.output,
        force=req.force,
        workers=req.workers,
        progress=progress,
        on_start=(lambda n: on_start(n, kind)) if on_start is not None else None,
    )
    if kind == "ablation":
        base = plan.grid[-1][1]  # the RA+CA+EO row (OCFusion: its original variant) at the one setting
        res = ablate(req.gt, req.proposals, rho=base.rho, tau=base.tau, gamma=base.gamma, stuff_area=base.stuff_area,
                     variant=base.variant, strategy=base.strategy, **common)  # fmt: skip
    else:
        lists = {name: _values(name, getattr(req, name)) for name in ("rho", "tau", "gamma")}
        res = sweep(req.gt, req.proposals, plan.swept, stuff_area=req.stuff_area, variant=req.variant,
                    strategy=req.strategy, **lists, **common)  # fmt: skip
    if req.output is not None:
        say(f"wrote {req.output}")
    say(f"{res.n_images} images x {len(res.grid)} settings in {res.seconds:.1f} s")
    return EvaluateOutcome(req, kind, sweep=res)


__all__ = [
    "EvaluateOutcome",
    "EvaluatePlan",
    "EvaluateRequest",
    "GateResult",
    "run_evaluate",
]
