"""``rapkit predict``: relation values for detections (torch imported inside the command)."""

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
from .train import ARCHS, arch_help, require_torch


@click.command(
    "predict",
    cls=Command,
    epilog=(
        "Example: rapkit predict --detector model.pth --head head.pt --images coco/val2017 "
        "--image-info instances_val2017.json -o proposals.json\n\n"
        "Add relations to another framework's detections: rapkit predict --detector model.pth --head head.pt "
        "--images coco/val2017 --image-info instances_val2017.json --proposals detections.json -o proposals.json"
    ),
)
@click.option(
    "--detector",
    required=True,
    type=click.Path(dir_okay=False),
    help="Detector checkpoint: the one the head was trained on.",
)
@click.option(
    "--head", "head_path", required=True, type=click.Path(dir_okay=False), help="Head file of `rapkit train`."
)
@click.option("--images", required=True, type=click.Path(file_okay=False), help="Folder of images.")
@output_option("COCO results JSON to write (the --proposals of rapkit fuse).")
@click.option(
    "--proposals",
    type=JsonPath(),
    default=None,
    help="COCO results JSON of another detector: keep every entry, add 'relation'.",
)
@click.option(
    "--image-info",
    type=JsonPath(),
    default=None,
    help="COCO JSON with an 'images' list (ids by file name) [default: ids from numeric file names].",
)
@click.option(
    "--arch",
    type=click.Choice(ARCHS),
    metavar="NAME",
    default=None,
    help=arch_help("Detector architecture [default: the head file's]:"),
)
@click.option(
    "--score-threshold",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Keep detections scoring at least this (0-1).",
)
@click.option(
    "--mask-threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="Mask probability (0-1) above which a pixel belongs to the detection.",
)
@click.option(
    "--max-detections",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Detections kept per image at most.",
)
@click.option(
    "--rpn-top-n",
    type=click.IntRange(min=1),
    default=None,
    help="Region proposals kept per image and FPN level before/after NMS [default: the checkpoint's, 1000].",
)
@click.option(
    "--pair-overlap",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.2,
    show_default=True,
    help="OCFusion pair head (a head file of `rapkit train --head-type ocfusion`): score the ordered pairs of an "
    "image's proposals whose masks overlap, |Mi∩Mj|/|Mi| or |Mi∩Mj|/|Mj| at least this (0-1); each entry gets "
    "'occludes': [[k, logit], ...] instead of 'relation'. Example: --pair-overlap 0.3.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=2, show_default=True, help="Images per forward pass.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--amp/--no-amp", default=None, help="Mixed precision [default: on with CUDA].")
@force_option
@workers_option(help="Image-reading processes of the torch DataLoader (1: read in this process); 0 = one per CPU core.")
@output_options
def command(
    detector,
    head_path,
    images,
    output,
    proposals,
    image_info,
    arch,
    score_threshold,
    mask_threshold,
    max_detections,
    rpn_top_n,
    pair_overlap,
    batch_size,
    device,
    amp,
    force,
    workers,
    fmt,
    quiet,
):
    """Run the detector + relation head over a folder of images and write proposals with
    'relation' values for `rapkit fuse` (or, with --proposals, add 'relation' to given detections).

    With an OCFusion pair head (--head of `rapkit train --head-type ocfusion`) each proposal
    gets 'occludes' (pair logits with the proposals its mask overlaps, --pair-overlap) for
    `rapkit fuse --strategy ocfusion`; both ways of running the pair head are timed."""
    require_torch()
    from ..model.predict import PredictConfig, predict
    from ..report.train import predict_report

    n_workers = resolve_workers(workers)
    cfg = PredictConfig(
        checkpoint=detector,
        head=head_path,
        images=images,
        output=output,
        arch=arch,
        proposals=proposals,
        image_info=image_info,
        score_threshold=score_threshold,
        mask_threshold=mask_threshold,
        max_detections=max_detections,
        rpn_top_n=rpn_top_n,
        pair_overlap=pair_overlap,
        batch_size=batch_size,
        device=device,
        amp=amp,
        workers=n_workers if n_workers > 1 else 0,
        force=force,
    )
    with progress(None, "predict", quiet) as advance:
        s = predict(cfg, progress=advance)
    per_image = s.detections / s.images if s.images else 0.0
    status(
        f"predict: {s.detections} detection(s) in {s.images} image(s), {per_image:.1f} per image -> {s.output}", quiet
    )
    if s.images and s.detections == 0:
        warn(
            f"no detections in {s.images} image(s) (the output holds none): is --detector trained for these images, "
            f"--arch right, or --score-threshold {score_threshold:g} too high?"
        )
    emit(predict_report(s), fmt)
