"""``rapkit evaluate``: PQ / SQ / RQ (panopticapi-exact), relation accuracy, threshold sweeps.

Thin: parse -> :class:`rapkit.pipeline.requests.EvaluateRequest` -> one call,
:func:`rapkit.pipeline.requests.run_evaluate` (which decides the mode, checks the options
and applies the gate) -> render, then exit 1 when the ``--fail-under`` gate failed.
Each option's help names in brackets the modes it applies to.
"""

from __future__ import annotations

import click

from ._common import (
    JsonPath,
    emit,
    float_list,
    force_option,
    output_options,
    progress,
    resolve_workers,
    status,
    workers_option,
)

PQ = "[PQ]"
REL = "[relations]"
SW = "[sweep, ablation]"
FUSION = "[sweep, ablation, relations]"


class _PredOption(click.Option):
    """``--pred`` (given once or twice). From a config file it arrives as one string: a path
    (``pred = "a.json"``), or two joined by a comma (``pred = ["a.json", "b.json"]``, which
    the config reader joins, as for value lists)."""

    def type_cast_value(self, ctx: click.Context, value):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return super().type_cast_value(ctx, value)


def _threshold(name: str, what: str, default: str) -> click.Option:
    return click.option(
        f"--{name}",
        callback=float_list,
        default=None,
        metavar="V[,V...]",
        help=f"{FUSION} {what}, 0-1: under --sweep a comma list of values to try (e.g. 0.5,0.6; default "
        f"0.4,0.5,0.6,0.7), under --ablation and --relations one value (default {default}).",
    )


@click.command(
    "evaluate",
    epilog=(
        "Examples: rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --per-class -j 2\n\n"
        "rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --fail-under PQ=50,PQ_th=45\n\n"
        "rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --metric pq,boundary,pq-dagger --per-image\n\n"
        "rapkit evaluate --gt world/panoptic.json --pred heuristic/panoptic.json --pred rap/panoptic.json "
        "--per-image\n\n"
        "rapkit evaluate --gt world/panoptic.json --pred fused/panoptic.json --relations relations.json "
        "--proposals world/proposals.json --instances world/instances.json\n\n"
        "rapkit evaluate --relations relations.json --proposals world/proposals.json "
        "--instances world/instances.json --by-category --protocol authors -o by_category.csv\n\n"
        "rapkit evaluate --sweep rho tau gamma --gt world/panoptic.json --proposals world/proposals.json "
        "--semantic world/semantic"
    ),
)
@click.argument("sweep_params", nargs=-1, metavar="[PARAM]...")
@click.option(
    "--gt",
    "gt_path",
    type=JsonPath("--gt-dir"),
    default=None,
    help="[PQ, sweep, ablation] GT COCO panoptic JSON (its 'categories' decide the classes and things/stuff).",
)
@click.option(
    "--gt-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="[PQ, sweep, ablation] Folder of GT PNGs [default: the GT JSON's path without .json].",
)
@click.option(
    "--pred",
    "pred_paths",
    cls=_PredOption,
    type=JsonPath("--pred-dir"),
    multiple=True,
    help=f"{PQ} Predicted COCO panoptic JSON, e.g. the panoptic.json written by rapkit fuse "
    "(--sweep and --ablation fuse --proposals instead). Twice (--pred A --pred B) with --per-image: "
    "PQ per image of both and dPQ = PQ(B) - PQ(A), largest |dPQ| first.",
)
@click.option(
    "--pred-dir",
    type=click.Path(file_okay=False),
    default=None,
    help=f"{PQ} Folder of predicted PNGs [default: the prediction JSON's path without .json].",
)
@click.option("--per-class", is_flag=True, help=f"{PQ} Add a per-class table (PQ SQ RQ TP FP FN).")
@click.option(
    "--per-image",
    is_flag=True,
    help=f"{PQ} Add a per-image table (PQ, PQ^Th, TP, FP, FN); with two --pred, dPQ per image.",
)
@click.option(
    "--fail-under",
    default=None,
    metavar="KEY=V,...",
    help=f"{PQ} Exit 1 when a score (x100) is below its bar, e.g. PQ=50,PQ_th=45 "
    "(keys PQ SQ RQ, PQ_th ..., PQ_st ...).",
)
@click.option(
    "--check",
    "run_check",
    is_flag=True,
    help=f"{PQ} First report GT/prediction problems (areas that disagree with the PNG, unknown ids...).",
)
@click.option(
    "--decoder",
    type=click.Choice(["fast", "pil"]),
    default="fast",
    show_default=True,
    help=f"{PQ} PNG decoding: libdeflate + numba (fast) or PIL; both give the same numbers.",
)
@click.option(
    "--metric",
    "metric",
    default="pq",
    show_default=True,
    metavar="M[,M...]",
    help=f"{PQ} pq: panoptic quality (panopticapi); boundary: Boundary PQ (Cheng et al. 2021, as "
    "boundary-iou-api's coco_panoptic_api: matched and scored on min(mask IoU, boundary IoU), bands 0.02 "
    "of the image diagonal wide); pq-dagger: PQ-dagger (Porzi et al. 2019, as torchmetrics' "
    "ModifiedPanopticQuality: stuff scored by IoU, no 0.5 matching). Several, comma-separated, are computed "
    "in one pass and printed side by side (also per class, per image, and per image for two --pred), e.g. "
    "--metric pq,boundary,pq-dagger.",
)
@click.option(
    "--relations",
    "relations_path",
    type=JsonPath(),
    default=None,
    help=f"{REL} Relations JSON (rapkit extract-relations; also the authors' relations pickle or an "
    "instances JSON with 'overlap' lists, recognised by content): adds relation accuracy (paper Table 4).",
)
@click.option(
    "--proposals",
    "proposals_path",
    type=JsonPath(),
    default=None,
    help="[relations, sweep, ablation] Proposals JSON (COCO results with 'relation'): scored for "
    "relation accuracy, or fused by --sweep/--ablation.",
)
@click.option(
    "--instances",
    "instances_path",
    type=JsonPath(),
    default=None,
    help=f"{REL} COCO instances JSON (the GT masks relation accuracy matches proposals to).",
)
@click.option(
    "--sweep",
    "sweep",
    is_flag=True,
    help="[sweep] Sweep fusion thresholds (paper Table 1); the parameters to vary follow as "
    "arguments: --sweep rho tau gamma.",
)
@click.option(
    "--ablation",
    is_flag=True,
    help="[ablation] Paper Table 2's rows (heuristic; RA; RA+CA; RA+CA+EO) at one --rho/--tau/--gamma.",
)
@click.option(
    "--semantic",
    "semantic_path",
    type=click.Path(),
    default=None,
    help=f"{SW} Semantic PNG folder or COCO-stuff JSON for the stuff fill.",
)
@click.option(
    "--categories",
    "categories_path",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"{SW} Categories JSON [default: the GT JSON's].",
)
@_threshold("rho", "Score threshold", "0.6")
@_threshold("tau", "Overlap threshold", "0.6")
@_threshold("gamma", "Excessive-overlap threshold", "0.5")
@click.option(
    "--stuff-area",
    type=click.IntRange(min=0),
    default=4096,
    show_default=True,
    help=f"{FUSION} Minimum stuff segment area, in pixels.",
)
@click.option(
    "--strategy",
    type=click.Choice(["rap", "ocfusion"]),
    default="rap",
    show_default=True,
    help=f"{FUSION} The fusion to run: Algorithm 1 (rap), or OCFusion's pairwise decisions from the "
    "proposals' 'occludes' (ocfusion: no --gamma; rho/tau default 0.5; relation accuracy scores the "
    "head's decisions; the ablation's rows are the heuristic and both OCFusion variants).",
)
@click.option(
    "--variant",
    type=click.Choice(["paper", "reference", "original"]),
    default=None,
    help=f"{FUSION} rap: Algorithm 1 as in the paper or as in the authors' code (reference); ocfusion: "
    "reference (the RAP authors' code) or original (OCFusion's) [default: paper; ocfusion: reference].",
)
@click.option(
    "--protocol",
    type=click.Choice(["rapkit", "authors"]),
    default="rapkit",
    show_default=True,
    help=f"{REL} How the fusion accuracy counts: rapkit's, or as the authors' released code (box-IoU "
    "argmax matching, visible segments only, stop at the first excessive-overlap hit; docs/relations.md).",
)
@click.option(
    "--by-category",
    is_flag=True,
    help=f"{REL} Add the table per (front, back) category pair of the matched GT pairs: mean relation "
    "value gap v_back - v_front, share ordered right, count (paper Fig. 3).",
)
@click.option(
    "--train-relations",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"{REL} With --by-category: training relations JSON; adds how often each pair occurs there and "
    "sorts by it (needs --train-instances).",
)
@click.option(
    "--train-instances",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"{REL} With --train-relations: the training instances JSON (the categories of its relations).",
)
@click.option(
    "-o",
    "--output",
    "table_output",
    type=click.Path(dir_okay=False),
    default=None,
    help="[sweep, ablation, relations] Also write the rows (under --relations: the --by-category table) to .csv, "
    ".json, .parquet (needs pyarrow) or .md.",
)
@force_option
@workers_option
@output_options
def command(
    sweep_params,
    gt_path,
    gt_dir,
    pred_paths,
    pred_dir,
    per_class,
    per_image,
    fail_under,
    run_check,
    decoder,
    metric,
    relations_path,
    proposals_path,
    instances_path,
    sweep,
    ablation,
    semantic_path,
    categories_path,
    rho,
    tau,
    gamma,
    stuff_area,
    strategy,
    variant,
    protocol,
    by_category,
    train_relations,
    train_instances,
    table_output,
    force,
    workers,
    fmt,
    quiet,
):
    """Evaluate panoptic predictions: PQ, SQ, RQ for All / Things / Stuff (x100), equal to
    panopticapi's pq_compute run with one process, bit for bit, for any --workers.

    Modes, named in brackets in each option's help: PQ (--gt, --pred); relations: relation
    accuracy of the paper's Table 4 (--relations, --proposals, --instances; alone or with PQ;
    --by-category: paper Fig. 3);
    sweep (--sweep rho tau gamma: fuse --proposals for every combination of the named
    thresholds and tabulate PQ, paper Table 1); ablation (--ablation: paper Table 2).
    """
    from ..pipeline.requests import EvaluateRequest, run_evaluate
    from ..report.evaluate import checks_report, evaluate_report

    request = EvaluateRequest(
        gt=gt_path,
        gt_dir=gt_dir,
        pred=(pred_paths[0] if len(pred_paths) == 1 else tuple(pred_paths)) if pred_paths else None,
        pred_dir=pred_dir,
        relations=relations_path,
        proposals=proposals_path,
        instances=instances_path,
        semantic=semantic_path,
        categories=categories_path,
        per_class=per_class,
        per_image=per_image,
        check=run_check,
        fail_under=fail_under,
        decoder=decoder,
        metric=metric,
        sweep=sweep,
        sweep_params=tuple(sweep_params),
        ablation=ablation,
        output=table_output,
        force=force,
        rho=rho,
        tau=tau,
        gamma=gamma,
        stuff_area=stuff_area,
        strategy=strategy,
        variant=variant,
        protocol=protocol,
        by_category=by_category,
        train_relations=train_relations,
        train_instances=train_instances,
        workers=resolve_workers(workers),
    )
    with progress(None, "evaluate", quiet) as bar:
        outcome = run_evaluate(
            request,
            progress=bar,
            on_start=bar.start,
            log=lambda s: status(s, quiet),
            on_checks=lambda checks: emit(checks_report(checks), fmt),
        )
    for w in outcome.warnings:
        status(f"warning: {w}", quiet)
    emit(evaluate_report(outcome), fmt)
    outcome.raise_for_gate()
