"""``rapkit evaluate``: PQ / SQ / RQ (panopticapi-exact), relation accuracy, threshold sweeps.

The plain mode is thin: parse -> :func:`rapkit.pipeline.evaluate.evaluate_pq` (and
:func:`rapkit.pipeline.relation_acc.evaluate_relations` with ``--relations``) -> render.
``--sweep`` / ``--ablation`` are delegated to :mod:`rapkit.cli._sweep`.
"""

from __future__ import annotations

import click

from ._common import emit, force_option, output_options, progress, resolve_workers, status, workers_option
from ._sweep import check_no_sweep_args, run_sweep_mode, sweep_options


@click.command(
    "evaluate",
    epilog=(
        "Examples: rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --per-class -j 2\n\n"
        "rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --fail-under PQ=50,PQ_th=45\n\n"
        "rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --relations relations.json "
        "--proposals world/proposals.json --instances world/instances.json\n\n"
        "rapkit evaluate --sweep rho tau gamma --gt world/panoptic.json --proposals world/proposals.json "
        "--semantic world/semantic"
    ),
)
@click.option("--gt", "gt_path", type=click.Path(dir_okay=False), default=None,
              help="GT COCO panoptic JSON (its 'categories' decide the classes and things/stuff).")
@click.option("--gt-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of GT PNGs [default: the GT JSON's path without .json].")
@click.option("--pred", "pred_path", type=click.Path(dir_okay=False), default=None,
              help="Predicted COCO panoptic JSON, e.g. the panoptic.json written by rapkit fuse.")
@click.option("--pred-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of predicted PNGs [default: the prediction JSON's path without .json].")
@click.option("--per-class", is_flag=True, help="Add a per-class table (PQ SQ RQ TP FP FN).")
@click.option("--fail-under", default=None, metavar="KEY=V,...",
              help="Exit 1 when a score (x100) is below its bar, e.g. PQ=50,PQ_th=45 "
                   "(keys PQ SQ RQ, PQ_th ..., PQ_st ...).")
@click.option("--check", "run_check", is_flag=True,
              help="First report GT/prediction problems (areas that disagree with the PNG, unknown ids...).")
@click.option("--decoder", type=click.Choice(["fast", "pil"]), default="fast", show_default=True,
              help="PNG decoding: libdeflate + numba (fast) or PIL; both give the same numbers.")
@click.option("--relations", "relations_path", type=click.Path(dir_okay=False), default=None,
              help="Relations JSON (rapkit extract-relations) for relation accuracy.")
@click.option("--proposals", "proposals_path", type=click.Path(dir_okay=False), default=None,
              help="Proposals JSON (COCO results with 'relation'): relation accuracy, or the input of --sweep.")
@click.option("--instances", "instances_path", type=click.Path(dir_okay=False), default=None,
              help="COCO instances JSON for relation accuracy (GT masks).")
@sweep_options
@force_option
@workers_option
@output_options
def command(gt_path, gt_dir, pred_path, pred_dir, per_class, fail_under, run_check, decoder, relations_path,
            proposals_path, instances_path, sweep_params, sweep, ablation, semantic_path, categories_path, rho, tau,
            gamma, stuff_area, variant, table_output, force, workers, fmt, quiet):
    """Evaluate panoptic predictions: PQ, SQ, RQ for All / Things / Stuff (x100), equal to
    panopticapi's pq_compute run with one process, bit for bit, for any --workers.

    With --relations, --proposals and --instances it adds the relation accuracy of the
    paper's Table 4 (fusion accuracy at --rho/--tau/--gamma and all-pair accuracy). With
    --sweep it fuses the proposals for every combination of the named thresholds and
    tabulates PQ (paper Table 1).
    """
    from ..errors import ConfigError

    workers = resolve_workers(workers)
    if sweep or ablation:
        if pred_path or relations_path or fail_under or run_check:
            raise ConfigError("--sweep/--ablation cannot be combined with --pred, --relations, --fail-under or --check")
        if gt_path is None:
            raise ConfigError("--sweep/--ablation need --gt")
        run_sweep_mode(gt=gt_path, gt_dir=gt_dir, proposals=proposals_path, sweep=sweep, ablation=ablation,
                       sweep_params=sweep_params, semantic_path=semantic_path, categories_path=categories_path,
                       rho=rho, tau=tau, gamma=gamma, stuff_area=stuff_area, variant=variant,
                       table_output=table_output, force=force, workers=workers, fmt=fmt, quiet=quiet)
        return
    check_no_sweep_args(sweep, ablation, sweep_params)
    if semantic_path or categories_path or table_output:
        raise ConfigError("--semantic, --categories and --output belong to --sweep/--ablation")

    from ..pipeline.evaluate import evaluate_command

    gates = None
    if fail_under:
        from ..pipeline.evaluate import parse_gates

        gates = parse_gates(fail_under)
    rel = None
    if relations_path or proposals_path or instances_path:
        missing = [n for n, v in (("--relations", relations_path), ("--proposals", proposals_path),
                                  ("--instances", instances_path)) if v is None]
        if missing:
            raise ConfigError(f"relation accuracy needs --relations, --proposals and --instances (missing {', '.join(missing)})")
        from ._sweep import fixed_params

        rel = (relations_path, proposals_path, instances_path,
               fixed_params("relation accuracy", rho, tau, gamma, stuff_area, variant))
    elif rho is not None or tau is not None or gamma is not None:
        raise ConfigError("--rho/--tau/--gamma need --sweep, --ablation or relation accuracy (--relations ...)")
    if pred_path is None and rel is None:
        raise ConfigError("nothing to evaluate: give --gt and --pred (PQ), and/or --relations, --proposals, --instances")
    if pred_path is not None and gt_path is None:
        raise ConfigError("--pred needs --gt")
    if run_check and pred_path is None:
        raise ConfigError("--check needs --gt and --pred")
    if gates and pred_path is None:
        raise ConfigError("--fail-under needs a PQ evaluation (--gt and --pred)")

    with progress(None, "evaluate", quiet) as advance:
        out = evaluate_command(gt_path, pred_path, gt_dir=gt_dir, pred_dir=pred_dir, workers=workers,
                               per_class=per_class, fast=decoder == "fast", check=run_check, relations=rel,
                               progress=advance, on_report=lambda r: emit(r, fmt))
    for w in out.warnings:
        status(f"warning: {w}", quiet)
    emit(out.report, fmt)
    if gates:
        from ..errors import GateFailed
        from ..pipeline.evaluate import check_gates

        failed = check_gates(out.evaluation.result, gates)
        if failed:
            raise GateFailed("quality gate failed: " + "; ".join(failed))
