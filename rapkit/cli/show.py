"""``rapkit show``: pictures (overlay, compare, relations, charts) written as PNGs into a folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def _ids(ctx: click.Context, param: click.Parameter, value: Any) -> list[int] | None:
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for it in items:
        s = str(it).strip()
        try:
            out.append(int(s))
        except ValueError:
            raise click.BadParameter(
                f"{s!r} is not an image id (give ids like 139,285)", ctx=ctx, param=param
            ) from None
    if not out:
        raise click.BadParameter("no image id given", ctx=ctx, param=param)
    return out


def _labels(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[str, str]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    items = [str(v).strip() for v in items]
    if len(items) != 2 or not all(items):
        raise click.BadParameter("give two names separated by a comma, e.g. heuristic,rap", ctx=ctx, param=param)
    return items[0], items[1]


def _selection(f: Callable) -> Callable:
    f = click.option(
        "--first",
        type=click.IntRange(min=1),
        default=None,
        help="Only the first N images (of --ids, or of the file) [default: all].",
    )(f)
    f = click.option(
        "--ids",
        callback=_ids,
        default=None,
        metavar="ID[,ID...]",
        help="Image ids to draw, e.g. 139,285 [default: every image].",
    )(f)
    return f


def _images_option(f: Callable) -> Callable:
    return click.option(
        "--images",
        "images_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder of the images (named by the JSON's file_name); a missing image is drawn "
        "on grey [default: none, grey backgrounds].",
    )(f)


def _max_size(f: Callable) -> Callable:
    return click.option(
        "--max-size",
        type=click.IntRange(min=16),
        default=None,
        help="Longest side of each image panel in pixels; larger images are scaled down [default: full size].",
    )(f)


def _alpha(f: Callable) -> Callable:
    return click.option(
        "--alpha",
        type=click.FloatRange(0, 1),
        default=0.5,
        show_default=True,
        help="Opacity of the category colours, 0-1 (1: exactly the category colour).",
    )(f)


def _finish(res: Any, quiet: bool, fmt: str) -> None:
    from ..report.show import show_report

    status(f"wrote {len(res.pictures)} picture(s) into {res.output} in {res.seconds:.2f} s", quiet)
    emit(show_report(res), fmt)


@click.group(
    "show",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: rapkit show overlay --panoptic fused/panoptic.json --images world/images -o overlays",
)
def command() -> None:
    """Pictures of results, as PNG files in an output folder (one per image; charts by name).

    \b
    overlay    an image with a panoptic result on top (colours, contours, labels)
    compare    two panoptic results side by side and the pixels where they differ
    relations  arrows from front to back instance, coloured correct/wrong by the proposals
    charts     the sweep (Table 1), the ablation (Table 2), a per-category relation gap table
    """


@command.command(
    "overlay",
    cls=Command,
    short_help="An image with a panoptic result on top.",
    epilog="Example: rapkit show overlay --panoptic fused/panoptic.json --images world/images "
    "--categories world/categories.json --first 5 -o overlays",
)
@click.option(
    "--panoptic",
    "panoptic_path",
    required=True,
    type=JsonPath(folder_option="--panoptic-dir"),
    help="COCO panoptic JSON: the GT, rapkit fuse output or another tool's.",
)
@click.option(
    "--panoptic-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of its PNGs [default: the JSON's name without .json].",
)
@click.option(
    "--categories",
    "categories_path",
    type=JsonPath(),
    default=None,
    help="COCO panoptic categories (names, colours) [default: the panoptic JSON's categories].",
)
@_images_option
@_selection
@_alpha
@_max_size
@output_option("Output folder of the pictures (one PNG per image).", folder=True)
@force_option
@workers_option
@output_options
def overlay(
    panoptic_path,
    panoptic_dir,
    categories_path,
    images_dir,
    ids,
    first,
    alpha,
    max_size,
    output,
    force,
    workers,
    fmt,
    quiet,
):
    """Draw a panoptic result over its images: each segment in its category's colour (at
    --alpha), white 1-px contours between segments, and a label with the category name and
    id at each segment."""
    from ..pipeline.show import show_overlay

    with progress(None, "show overlay", quiet) as advance:
        res = show_overlay(
            panoptic_path,
            output,
            panoptic_dir=panoptic_dir,
            images_dir=images_dir,
            categories_path=categories_path,
            ids=ids,
            first=first,
            alpha=alpha,
            max_size=max_size,
            workers=resolve_workers(workers),
            force=force,
            progress=advance,
            on_start=advance.start,
            notify=warn,
        )
    _finish(res, quiet, fmt)


@command.command(
    "compare",
    cls=Command,
    short_help="Two panoptic results side by side, and where they differ.",
    epilog="Example: rapkit show compare --a heuristic/panoptic.json --b rap/panoptic.json --names heuristic,rap "
    "--gt world/panoptic.json --images world/images --top 5 -o compare",
)
@click.option(
    "--a", "a_path", required=True, type=JsonPath(folder_option="--a-dir"), help="First panoptic JSON (left panel)."
)
@click.option(
    "--b", "b_path", required=True, type=JsonPath(folder_option="--b-dir"), help="Second panoptic JSON (middle panel)."
)
@click.option(
    "--a-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="PNG folder of --a [default: its JSON's name without .json].",
)
@click.option(
    "--b-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="PNG folder of --b [default: its JSON's name without .json].",
)
@click.option(
    "--gt",
    "gt_path",
    type=JsonPath(folder_option="--gt-dir"),
    default=None,
    help="GT panoptic JSON: colour the differing pixels by which result matches it [default: none].",
)
@click.option(
    "--gt-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="PNG folder of --gt [default: its JSON's name without .json].",
)
@click.option(
    "--names",
    "labels",
    callback=_labels,
    default="A,B",
    show_default=True,
    help="Names of the two results, comma-separated, e.g. heuristic,rap.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=None,
    help="Draw the N images where A and B differ most in PQ against --gt [default: no ranking].",
)
@click.option(
    "--categories",
    "categories_path",
    type=JsonPath(),
    default=None,
    help="COCO panoptic categories [default: the categories of --a, --b or --gt].",
)
@_images_option
@_selection
@_alpha
@_max_size
@output_option("Output folder of the pictures (one PNG per image).", folder=True)
@force_option
@workers_option
@output_options
def compare(
    a_path,
    b_path,
    a_dir,
    b_dir,
    gt_path,
    gt_dir,
    labels,
    top,
    categories_path,
    images_dir,
    ids,
    first,
    alpha,
    max_size,
    output,
    force,
    workers,
    fmt,
    quiet,
):
    """Two panoptic results side by side, and a third panel marking the pixels whose segment
    differs: the category differs there, or the two segments there are not each other's
    largest overlap (renumbered segments are not a difference). With --gt the marks are
    green where only A matches the GT, magenta where only B does, grey where neither or both.
    With --top N the images are the N with the largest |PQ(B) - PQ(A)| (of those --ids/--first select)."""
    from ..pipeline.show import show_compare

    with progress(None, "show compare", quiet) as advance:
        res = show_compare(
            a_path,
            b_path,
            output,
            a_dir=a_dir,
            b_dir=b_dir,
            gt_path=gt_path,
            gt_dir=gt_dir,
            labels=labels,
            images_dir=images_dir,
            categories_path=categories_path,
            ids=ids,
            first=first,
            top=top,
            alpha=alpha,
            max_size=max_size,
            workers=resolve_workers(workers),
            force=force,
            progress=advance,
            on_start=advance.start,
            notify=warn,
        )
    _finish(res, quiet, fmt)


@command.command(
    "relations",
    cls=Command,
    short_help="Arrows from front to back instance (correct/wrong).",
    epilog="Example: rapkit show relations --relations relations.json --instances world/instances.json "
    "--proposals world/proposals.json --images world/images --first 5 -o relation-pictures",
)
@click.option(
    "--relations",
    "relations_path",
    required=True,
    type=JsonPath(),
    help="Relations JSON of rapkit extract-relations (also the authors' relations pickle or an "
    "instances JSON with 'overlap' lists, recognised by content).",
)
@click.option(
    "--instances",
    "instances_path",
    required=True,
    type=JsonPath(),
    help="COCO instances JSON (the masks the relations name).",
)
@click.option(
    "--proposals",
    "proposals_path",
    type=JsonPath(),
    default=None,
    help="Proposals with relation values: colour each arrow correct (green) / wrong (red) / "
    "unmatched (grey) [default: none, yellow arrows].",
)
@_images_option
@_selection
@_max_size
@output_option("Output folder of the pictures (one PNG per image).", folder=True)
@force_option
@workers_option
@output_options
def relations(
    relations_path, instances_path, proposals_path, images_dir, ids, first, max_size, output, force, workers, fmt, quiet
):
    """Draw each ground-truth occlusion relation as an arrow from the front instance's
    centroid to the back instance's. With --proposals, the proposals are matched to the
    instances (same category, mask IoU > 0.5) and an arrow is green when the front one has
    the smaller relation value, red when not (ties count as wrong), grey when an instance
    has no matched proposal. Default images: those with at least one relation."""
    from ..pipeline.show import show_relations

    with progress(None, "show relations", quiet) as advance:
        res = show_relations(
            relations_path,
            instances_path,
            output,
            images_dir=images_dir,
            proposals_path=proposals_path,
            ids=ids,
            first=first,
            max_size=max_size,
            workers=resolve_workers(workers),
            force=force,
            progress=advance,
            on_start=advance.start,
            notify=warn,
        )
    _finish(res, quiet, fmt)


@command.command(
    "charts",
    cls=Command,
    short_help="Sweep, ablation and relation-gap tables as charts.",
    epilog="Example: rapkit show charts --sweep-table sweep.csv --ablation-table ablation.csv -o charts",
)
@click.option(
    "--sweep-table",
    "sweep_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Table of rapkit evaluate --sweep --output (.csv, .json, .parquet) -> sweep.png [default: none].",
)
@click.option(
    "--ablation-table",
    "ablation_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Table of rapkit evaluate --ablation --output -> ablation.png [default: none].",
)
@click.option(
    "--gap-table",
    "gap_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Per-category relation gap table (columns front, back, value; or a wide matrix) -> "
    "relation_gap.png [default: none].",
)
@click.option(
    "--overlap-table",
    "overlap_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The table of rapkit evaluate --by-category -o (with --train-relations for the training "
    "frequency) -> overlap_types.png: unordered overlap types by frequency, |gap| and the cubic "
    "trend, a reading of paper Fig. 3 [default: none].",
)
@click.option(
    "--metric", default="PQ", show_default=True, help="Sweep column to chart (PQ, PQ_th, PQ_st, SQ, RQ, dPQ, ...)."
)
@click.option(
    "--style",
    type=click.Choice(["heatmap", "lines"]),
    default="heatmap",
    show_default=True,
    help="Sweep chart: heatmaps of rho x tau per gamma, or lines.",
)
@output_option("Output folder of the charts.", folder=True)
@force_option
@output_options
def charts(sweep_path, ablation_path, gap_path, overlap_path, metric, style, output, force, fmt, quiet):
    """Charts of the result tables (needs matplotlib: pip install 'rapkit[plot]'). Values in
    percent or fractions are both accepted (a JSON table's "unit", else detected from the
    values) and shown in percent."""
    from ..pipeline.show import show_charts

    res = show_charts(
        output,
        sweep=sweep_path,
        ablation=ablation_path,
        gap=gap_path,
        overlap=overlap_path,
        metric=metric,
        style=style,
        force=force,
    )
    _finish(res, quiet, fmt)
