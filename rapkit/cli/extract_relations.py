"""``rapkit extract-relations``: ground-truth occlusion relations from instance + panoptic GT."""

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
    workers_option,
)


@click.command(
    "extract-relations",
    cls=Command,
    epilog=(
        "Example: rapkit extract-relations --instances world/instances.json "
        "--panoptic world/panoptic.json --theta 0.2 -o relations.json --rap-instances instances_rap.json -j 2. "
        "The authors' relations and pickle: ... --rule deficit --matching bbox -o relations_authors.json "
        "--authors-pickle train_relation_result.pkl"
    ),
)
@click.option(
    "--instances", "instances", required=True, type=JsonPath(), help="COCO instances JSON (polygons / RLE, iscrowd)."
)
@click.option(
    "--panoptic",
    "panoptic",
    required=True,
    type=JsonPath("--panoptic-dir"),
    help="COCO panoptic JSON (segments_info per image).",
)
@click.option(
    "--panoptic-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of panoptic PNGs [default: the panoptic JSON's path without .json].",
)
@click.option(
    "--theta",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="A pair counts when |O|/|I_i| or |O|/|I_j| exceeds theta (strictly).",
)
@click.option(
    "--rule",
    type=click.Choice(["paper", "majority", "deficit"]),
    default="paper",
    show_default=True,
    help="paper: of the overlap pixels the panoptic map gives to the two instances, the one with "
    "more is in front (two-way plurality); majority: the instance given more than half of "
    "the overlap is in front, else no relation; deficit (authors' code): the instance that "
    "lost fewer of its own pixels is in front.",
)
@click.option(
    "--matching",
    type=click.Choice(["pixels", "bbox"]),
    default="pixels",
    show_default=True,
    help="pixels: each instance gets the same-category panoptic segment it shares most pixels "
    "with (one-to-one); bbox (authors' retrieve_relation.py): each thing segment claims the "
    "annotation with the nearest [x, y, w, h] box (any category, crowd included; a second "
    "claimant cancels the first), polygons filled as cv2.fillPoly fills their int-truncated coordinates. "
    "--rule deficit --matching bbox gives the authors' relations.",
)
@output_option("Relations JSON to write.")
@click.option(
    "--rap-instances",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the instances JSON with an 'overlap' list (ids on top) on every annotation [default: not written].",
)
@click.option(
    "--authors-pickle",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the relations as the authors' retrieve_relation.py pickles them: "
    "{image_id: {occluded_id: [occluder_id, ...]}} [default: not written].",
)
@force_option
@workers_option
@output_options
def command(
    instances,
    panoptic,
    panoptic_dir,
    theta,
    rule,
    matching,
    output,
    rap_instances,
    authors_pickle,
    force,
    workers,
    fmt,
    quiet,
):
    """Extract occlusion relations (which instance is in front) from COCO GT.

    Each non-crowd instance is matched to its panoptic segment by pixels (same category,
    largest intersection, one-to-one; --matching bbox: the authors' nearest-box matching). A pair whose overlap exceeds theta of either instance
    gets a relation: by default the instance the panoptic map shows on more of the overlap
    than the other is in front (--rule chooses the reading); ties give none. Writes the relations JSON (and, with --rap-instances, RAP's
    training format; with --authors-pickle, the authors' relations pickle) and prints a summary.
    """
    from ..pipeline.relations import extract_dataset_relations
    from ..report.relations import relations_report

    with progress(None, "extract-relations", quiet) as advance:
        run = extract_dataset_relations(
            instances,
            panoptic,
            panoptic_dir=panoptic_dir,
            theta=theta,
            rule=rule,
            matching=matching,
            output=output,
            rap_instances=rap_instances,
            authors_pickle=authors_pickle,
            force=force,
            workers=resolve_workers(workers),
            progress=advance,
            on_start=advance.start,
        )
    emit(relations_report(run, quiet=quiet), fmt)
