"""``rapkit fuse``: proposals (+ semantic) -> COCO panoptic JSON + PNG folder."""

from __future__ import annotations

import click

from ._common import (
    Command,
    JsonPath,
    emit,
    force_option,
    output_option,
    output_options,
    progress,
    resolve_workers,
    status,
    warn,
    workers_option,
)


@click.command(
    "fuse",
    cls=Command,
    epilog=(
        "Example: rapkit fuse --proposals world/proposals.json --image-info world/panoptic.json "
        "--categories world/categories.json --semantic world/semantic -o fused/ --strategy rap  "
        "(OCFusion: --strategy ocfusion [--variant original])"
    ),
)
@click.option(
    "--proposals",
    "proposals_path",
    required=True,
    type=JsonPath(),
    help="COCO results JSON with RLE masks (+ 'relation' or 'relation_val').",
)
@click.option(
    "--image-info",
    "images_path",
    required=True,
    type=JsonPath(),
    help="Any COCO JSON with an 'images' list, e.g. the GT panoptic JSON (names the PNGs, fixes sizes).",
)
@click.option(
    "--categories",
    "categories_path",
    required=True,
    type=JsonPath(),
    help="COCO panoptic categories (a list, or any JSON with 'categories').",
)
@click.option(
    "--semantic",
    "semantic_path",
    type=click.Path(),
    default=None,
    help="Folder of PNG label maps named like the images, or a COCO-stuff results JSON "
    "(without it every stuff pixel is VOID).",
)
@output_option("Output folder: panoptic.json + panoptic/*.png.", folder=True)
@click.option(
    "--strategy",
    type=click.Choice(["rap", "heuristic", "ocfusion"]),
    default="rap",
    show_default=True,
    help="Algorithm 1 (rap), the panopticapi/detectron2 rule (heuristic), or OCFusion's pairwise "
    "occlusion decisions (ocfusion: reads each proposal's 'occludes': [[k, logit], ...]).",
)
@click.option(
    "--rho",
    type=click.FloatRange(0, 1),
    default=None,
    help="Score threshold, 0-1 [default: rap 0.6, heuristic 0.5, ocfusion 0.5].",
)
@click.option(
    "--tau",
    type=click.FloatRange(0, 1),
    default=None,
    help="Overlap threshold, 0-1 [default: rap 0.6, heuristic 0.5, ocfusion 0.5].",
)
@click.option(
    "--gamma",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Excessive-overlap threshold, 0-1 (rap only).",
)
@click.option(
    "--stuff-area",
    type=click.IntRange(min=0),
    default=4096,
    show_default=True,
    help="Minimum area of a stuff segment, in pixels.",
)
@click.option("--no-ra", is_flag=True, help="rap: paint in score order (no relation-aware canvas).")
@click.option("--no-ca", is_flag=True, help="rap: skip the category-aware check.")
@click.option("--no-eo", is_flag=True, help="rap: skip the excessive-overlap check.")
@click.option(
    "--variant",
    type=click.Choice(["paper", "reference", "original"]),
    default=None,
    help="rap/heuristic: paper, or reference = the authors' code ('>' in the category check, overlap "
    "against visible segments); ocfusion: reference = the RAP authors' re-implementation, original = "
    "OCFusion's own code [default: paper; ocfusion: reference].",
)
@force_option
@workers_option
@output_options
def command(
    proposals_path,
    images_path,
    categories_path,
    semantic_path,
    output,
    strategy,
    rho,
    tau,
    gamma,
    stuff_area,
    no_ra,
    no_ca,
    no_eo,
    variant,
    force,
    workers,
    fmt,
    quiet,
):
    """Fuse instance proposals and a semantic map into COCO panoptic output (OUTPUT/panoptic.json
    + OUTPUT/panoptic/*.png, readable by panopticapi unchanged).

    Proposals are sorted by score; with --strategy rap each is placed by Algorithm 1 of the
    RAP paper (category-aware check, excessive-overlap check, relation-aware canvas); with
    --strategy heuristic by the classic rule (drop when more than tau of it is occupied);
    with --strategy ocfusion by OCFusion's pairwise decisions (a proposal reclaims the pixels
    of an earlier one when the pair head puts it in front).
    Free pixels then take the semantic map's stuff classes (segments under --stuff-area are
    dropped). The summary counts the proposals dropped by each check.
    """
    from ..pipeline.fuse import fuse
    from ..report.fuse import fuse_report

    if semantic_path is None:
        warn(
            "no --semantic: every stuff pixel will be VOID (Stuff PQ 0); pass --semantic DIR|file.json "
            "with the semantic segmentation's label maps"
        )
    with progress(None, "fuse", quiet) as advance:
        summary = fuse(
            proposals_path,
            images_path,
            categories_path,
            output,
            semantic=semantic_path,
            strategy=strategy,
            rho=rho,
            tau=tau,
            gamma=gamma,
            stuff_area=stuff_area,
            ra=not no_ra,
            ca=not no_ca,
            eo=not no_eo,
            variant=variant,
            force=force,
            workers=resolve_workers(workers),
            progress=advance,
            on_start=advance.start,
        )
    status(f"wrote {output}/panoptic.json and {summary.images} PNGs in {summary.seconds:.2f} s", quiet)
    emit(fuse_report(summary), fmt)
