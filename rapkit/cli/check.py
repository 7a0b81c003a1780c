"""``rapkit check``: sanity report of a panoptic GT and/or prediction (JSON + PNG folder)."""

from __future__ import annotations

import click

from ._common import Command, JsonPath, emit, output_options, progress, resolve_workers, status, workers_option


@click.command(
    "check",
    cls=Command,
    epilog="Example: rapkit check --gt world/panoptic.json --pred fused/panoptic.json --format json",
)
@click.option(
    "--gt",
    "gt_path",
    type=JsonPath("--gt-dir"),
    default=None,
    help="GT COCO panoptic JSON (areas are compared with the PNGs).",
)
@click.option(
    "--gt-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of GT PNGs [default: the GT JSON's path without .json].",
)
@click.option(
    "--pred",
    "pred_path",
    type=JsonPath("--pred-dir"),
    default=None,
    help="Predicted COCO panoptic JSON (categories checked against the GT's when --gt is given).",
)
@click.option(
    "--pred-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of predicted PNGs [default: the prediction JSON's path without .json].",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Issues listed in the table at most (JSON lists all).",
)
@workers_option
@output_options
def command(gt_path, gt_dir, pred_path, pred_dir, max_rows, workers, fmt, quiet):
    """Report what makes PQ wrong or makes evaluation fail: GT 'area' fields that disagree
    with the PNG (the cause of PQ above 100), ids in a PNG but not in the JSON, segments
    in the JSON but not in the PNG, duplicate segment ids, unknown categories, PNG sizes
    that disagree with the 'images' entry, missing or undecodable PNGs, PNG formats.

    Exit status 3 when an error-level issue is found, 0 otherwise.
    """
    from ..pipeline.check import check_verdict, run_check
    from ..report.check import check_report

    with progress(None, "check", quiet) as advance:
        results = run_check(
            gt_path,
            pred_path,
            gt_dir=gt_dir,
            pred_dir=pred_dir,
            workers=resolve_workers(workers),
            progress=advance,
            on_start=advance.start,
        )
    emit(check_report(results, max_rows=max_rows), fmt)
    verdict, error = check_verdict(results)
    status(verdict, quiet)
    if error is not None:
        raise error
