"""``rapkit predict``: relation values for detections (torch imported inside the command)."""

from __future__ import annotations

import click

from ._common import emit, force_option, output_options, progress, resolve_workers, workers_option
from .train import ARCHS, require_torch


@click.command(
    "predict",
    epilog=(
        "Example: rapkit predict --checkpoint model.pth --head head.pt --images coco/val2017 "
        "--image-info instances_val2017.json -o proposals.json\n\n"
        "Add relations to another framework's detections: rapkit predict --checkpoint model.pth --head head.pt "
        "--images coco/val2017 --image-info instances_val2017.json --proposals detections.json -o proposals.json"
    ),
)
@click.option("--checkpoint", required=True, type=click.Path(dir_okay=False), help="The detector checkpoint the head was trained on.")
@click.option("--head", "head_path", required=True, type=click.Path(dir_okay=False), help="Head file of `rapkit train`.")
@click.option("--images", required=True, type=click.Path(file_okay=False), help="Folder of images.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="COCO results JSON to write.")
@click.option("--proposals", type=click.Path(dir_okay=False), default=None,
              help="COCO results JSON of another detector: keep every entry, add 'relation'.")
@click.option("--image-info", type=click.Path(dir_okay=False), default=None,
              help="COCO JSON with an 'images' list (ids by file name); default: ids from numeric file names.")
@click.option("--arch", type=click.Choice(ARCHS), default=None, help="Detector architecture (default: the head file's).")
@click.option("--score-threshold", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--mask-threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5, show_default=True)
@click.option("--max-detections", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--rpn-top-n", type=click.IntRange(min=1), default=None,
              help="Region proposals kept per image and FPN level before/after NMS (default: the checkpoint's, 1000).")
@click.option("--batch-size", type=click.IntRange(min=1), default=2, show_default=True, help="Images per forward pass.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--amp/--no-amp", default=None, help="Mixed precision (default: on with CUDA).")
@force_option
@workers_option
@output_options
def command(checkpoint, head_path, images, output, proposals, image_info, arch, score_threshold, mask_threshold, max_detections,
            rpn_top_n, batch_size, device, amp, force, workers, fmt, quiet):
    """Run the detector + relation head over a folder of images and write proposals with
    'relation' values for `rapkit fuse` (or, with --proposals, add 'relation' to given detections)."""
    require_torch()
    from ..model.predict import PredictConfig, predict
    from ..report import Report, Table

    n_workers = resolve_workers(workers)
    cfg = PredictConfig(checkpoint=checkpoint, head=head_path, images=images, output=output, arch=arch, proposals=proposals,
                        image_info=image_info, score_threshold=score_threshold, mask_threshold=mask_threshold,
                        max_detections=max_detections, rpn_top_n=rpn_top_n, batch_size=batch_size, device=device, amp=amp,
                        workers=n_workers if n_workers > 1 else 0, force=force)
    with progress(None, "predict", quiet) as advance:
        s = predict(cfg, progress=advance)
    data = {"output": s.output, "mode": s.mode, "images": s.images, "detections": s.detections,
            "dropped_unknown_category": s.dropped_unknown_category, "device": s.device}
    emit(Report("predict", data, [Table("predict", ["item", "value"], [[k, v] for k, v in data.items()], title="predict")]), fmt)
