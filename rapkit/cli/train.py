"""``rapkit train``: fine-tune the relation head on a frozen Mask R-CNN checkpoint.

torch is imported inside the command, so ``rapkit --help`` stays torch-free.
"""

from __future__ import annotations

import os

import click
from click.core import ParameterSource

from ..errors import ConfigError
from ._common import (
    Command,
    emit,
    force_option,
    output_option,
    output_options,
    progress_group,
    resolve_workers,
    status,
    workers_option,
)

ARCHS = (
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
    "resnet18_fpn",
    "resnet34_fpn",
    "resnet50_fpn",
    "resnet101_fpn",
)
#: --arch choices, one line each in --help (the default fits torchvision's COCO Mask R-CNN checkpoints)
ARCH_HELP = {
    "maskrcnn_resnet50_fpn": "torchvision's model: its COCO checkpoints",
    "maskrcnn_resnet50_fpn_v2": "torchvision's v2 model and checkpoints",
    "resnet18_fpn": "Mask R-CNN, ResNet-18 FPN backbone (fast)",
    "resnet34_fpn": "Mask R-CNN, ResNet-34 FPN backbone",
    "resnet50_fpn": "Mask R-CNN, ResNet-50 FPN backbone, BN eps 1e-5",
    "resnet101_fpn": "Mask R-CNN, ResNet-101 FPN backbone",
}
ARCH_DEFAULT = "maskrcnn_resnet50_fpn"


def arch_help(intro: str) -> str:
    """``--arch``'s help: ``intro`` and one line per choice (\b keeps click from rewrapping)."""
    return intro + "\n\n\b\n" + "\n".join(f"{k}: {v}" for k, v in ARCH_HELP.items()) + "\n"


def require_torch() -> None:
    """ConfigError (exit 2) when the ``train`` extra is not installed."""
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        raise ConfigError("this command needs torch and torchvision: pip install 'rapkit[train]'") from None


@click.command(
    "train",
    cls=Command,
    epilog=(
        "Example: rapkit train --detector model.pth --images coco/train2017 "
        "--instances instances_train2017.json --relations relations.json -o head.pt\n\n"
        "Multi-GPU: torchrun --nproc-per-node 4 -m rapkit train ... (rank 0 writes the files)."
    ),
)
@click.option(
    "--detector",
    required=True,
    type=click.Path(dir_okay=False),
    help="Detector checkpoint: torchvision Mask R-CNN (state dict or whole model).",
)
@click.option(
    "--arch",
    type=click.Choice(ARCHS),
    metavar="NAME",
    default=ARCH_DEFAULT,
    show_default=True,
    help=arch_help("Detector architecture of the checkpoint:"),
)
@click.option("--images", required=True, type=click.Path(file_okay=False), help="Folder of the training images.")
@click.option(
    "--instances", required=True, type=click.Path(dir_okay=False), help="COCO instances JSON (boxes, categories)."
)
@click.option(
    "--relations",
    required=True,
    type=click.Path(dir_okay=False),
    help="Relations JSON of `rapkit extract-relations` (also the authors' relations pickle or an "
    "instances JSON with 'overlap' lists, recognised by content).",
)
@output_option("Head file to write (.pt).")
@click.option(
    "--head-type",
    type=click.Choice(["rap", "ocfusion"]),
    default="rap",
    show_default=True,
    help="Head to train: rap (the relation head, one value per RoI) or ocfusion (OCFusion's pair head, "
    "one occlusion logit per ordered pair of RoIs, BCE over the pairs and their flipped copies, at most 128 "
    "per image). Example: --head-type ocfusion --head-width 512.",
)
@click.option(
    "--head-width",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="--head-type ocfusion: channels of its four 3x3 convolutions (the authors' 512).",
)
@click.option(
    "--min-size",
    type=click.IntRange(min=32),
    default=800,
    show_default=True,
    help="Detector input: shorter side, in pixels.",
)
@click.option(
    "--max-size",
    type=click.IntRange(min=32),
    default=1333,
    show_default=True,
    help="Detector input: longest side at most, in pixels.",
)
@click.option(
    "--labels",
    type=click.Choice(["auto", "coco", "contiguous"]),
    default="auto",
    show_default=True,
    help="How detector labels map to dataset category ids.",
)
@click.option(
    "--iterations", type=click.IntRange(min=1), default=5000, show_default=True, help="Training iterations (batches)."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Images per iteration (all processes).",
)
@click.option(
    "--lr", type=click.FloatRange(min=0, min_open=True), default=0.002, show_default=True, help="Learning rate."
)
@click.option("--momentum", type=click.FloatRange(min=0), default=0.9, show_default=True, help="SGD momentum.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=1e-4, show_default=True, help="L2 weight decay.")
@click.option(
    "--lr-drop",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Fraction of the iterations after which lr is divided by 10 (1 = never).",
)
@click.option(
    "--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True, help="Optimizer of the head."
)
@click.option(
    "--bias-lr-factor",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Biases learn at lr x this (the authors: 2). Example: --bias-lr-factor 2.",
)
@click.option(
    "--bias-weight-decay",
    type=click.FloatRange(min=0),
    default=None,
    help="Weight decay of the biases (the authors: 0) [default: --weight-decay]. Example: --bias-weight-decay 0.",
)
@click.option(
    "--preset",
    type=click.Choice(["none", "authors"]),
    default="none",
    show_default=True,
    help="authors: the authors' training in one flag, --val-fraction 0 --select last --bias-lr-factor 2 "
    "--bias-weight-decay 0 --rpn-mode train --all-images --flip (an option given explicitly wins). "
    "Example: --preset authors --val-fraction 0.1.",
)
@click.option(
    "--flip",
    is_flag=True,
    help="Mirror each sampled training image left-right with p = 0.5 (boxes, masks and proposals follow; the "
    "pairs stay; the authors') [default: no flip]. The feature cache holds both copies.",
)
@click.option(
    "--all-images",
    is_flag=True,
    help="Draw batches from every image of the relations JSON, those without a known pair too (they add no loss; "
    "the authors') [default: only images with pairs].",
)
@click.option(
    "--rpn-mode",
    type=click.Choice(["eval", "train"]),
    default="eval",
    show_default=True,
    help="--rois detector: region proposals with the RPN's test top-n (eval, 1000 for torchvision) or its "
    "training top-n (train, 2000: the authors' proposals); deterministic either way.",
)
@click.option(
    "--rois",
    type=click.Choice(["detector", "gt-jitter"]),
    default="detector",
    show_default=True,
    help="Training RoIs: the detector's own region proposals matched to the GT instances (as the authors "
    "trained), or the GT boxes and jittered copies (--draws).",
)
@click.option(
    "--rois-per-image",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="--rois detector: matched proposals kept per image at most (the authors' 128; fewer train faster on CPU).",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="--rois gt-jitter: box draws per image, the GT boxes plus DRAWS-1 jittered sets (IoU >= --min-iou).",
)
@click.option(
    "--min-iou",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="Minimum IoU (0-1) of a training RoI with its instance's GT box (a matched proposal, a jittered box).",
)
@click.option(
    "--cache/--no-cache", default=True, show_default=True, help="Cache the frozen detector's head inputs per draw."
)
@click.option(
    "--cache-max-gb",
    type=click.FloatRange(min=0, min_open=True),
    default=8.0,
    show_default=True,
    help="Above this estimated size, in GB, the cache is skipped.",
)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.1,
    show_default=True,
    help="Held-out share (0-1) of the images for the pair accuracy.",
)
@click.option(
    "--eval-every",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Held-out pair accuracy every N iterations.",
)
@click.option(
    "--select",
    type=click.Choice(["best", "best-pq", "last"]),
    default="best",
    show_default=True,
    help="Keep the head with the best held-out pair accuracy (best), the best held-out fusion PQ^Th "
    "(best-pq: the held-out images' --select-proposals fused with the head's values at rho/tau/gamma "
    "0.6/0.6/0.5 and scored against --select-panoptic in memory), or the last one, e.g. --select best-pq "
    "--select-proposals world/proposals.json --select-panoptic world/panoptic.json.",
)
@click.option(
    "--select-proposals",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --select best-pq: detections with masks (COCO results JSON, as rapkit fuse --proposals) "
    "of the held-out images.",
)
@click.option(
    "--select-panoptic",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --select best-pq: the GT panoptic JSON of the held-out images (PNGs beside it, as for "
    "rapkit evaluate --gt).",
)
@click.option(
    "--bn-recalibrate",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Re-estimate backbone batch-norm statistics on N training images first (stored in the head file).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--amp/--no-amp", default=None, help="Mixed precision [default: on with CUDA].")
@click.option(
    "--detector-batch", type=click.IntRange(min=1), default=4, show_default=True, help="Images per frozen forward."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed -> same head.")
@click.option(
    "--save-every",
    "checkpoint_every",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Save the training state every N iterations (for --resume / --resume-from).",
)
@click.option(
    "--resume-from",
    "checkpoint_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Training-state file to continue from (and keep saving to) [default: OUTPUT.ckpt, used with --resume].",
)
@click.option("--resume", is_flag=True, help="Continue from the training state OUTPUT.ckpt (or --resume-from).")
@click.option("--log", type=click.Path(dir_okay=False), default=None, help="JSON log [default: OUTPUT with .log.json].")
@click.option(
    "--log-every", type=click.IntRange(min=1), default=20, show_default=True, help="Log a record every N iterations."
)
@force_option
@workers_option(help="Image-reading processes of the torch DataLoader (1: read in this process); 0 = one per CPU core.")
@output_options
def command(
    detector,
    arch,
    images,
    instances,
    relations,
    output,
    head_type,
    head_width,
    min_size,
    max_size,
    labels,
    iterations,
    batch_size,
    lr,
    momentum,
    weight_decay,
    lr_drop,
    optimizer,
    bias_lr_factor,
    bias_weight_decay,
    preset,
    flip,
    all_images,
    rpn_mode,
    rois,
    rois_per_image,
    draws,
    min_iou,
    cache,
    cache_max_gb,
    val_fraction,
    eval_every,
    select,
    select_proposals,
    select_panoptic,
    bn_recalibrate,
    device,
    amp,
    detector_batch,
    seed,
    checkpoint_every,
    checkpoint_file,
    resume,
    log,
    log_every,
    force,
    workers,
    fmt,
    quiet,
):
    """Fine-tune the relation head on a frozen Mask R-CNN (only the head learns).

    Pairs come from the relations JSON. RoIs (--rois detector) are the frozen detector's
    region proposals with IoU >= 0.5 to an instance of a known pair, up to 128 per image;
    every pair of RoIs whose instances have a known relation counts in the loss (with
    --rois gt-jitter: the GT boxes plus jittered boxes with IoU >= 0.5). The schedule's
    defaults are the paper's (SGD lr 0.002, momentum 0.9, wd 1e-4, 5000 iterations at batch
    16, lr / 10 at half); two defaults are not: 10% of the images are held out
    (--val-fraction 0.1) and the head of the best held-out accuracy is kept (--select best).
    The paper's set-up: --val-fraction 0 --select last; the authors' code also:
    --bias-lr-factor 2 --bias-weight-decay 0 --rpn-mode train --all-images --flip; --preset
    authors sets all of them (docs/paper.md lists every departure). Writes the head file and
    a JSON log.
    """
    require_torch()
    from ..model.train import TrainConfig, train_head
    from ..report.train import train_report

    rank = int(os.environ.get("RANK", "0"))
    quiet = quiet or rank != 0
    n_workers = resolve_workers(workers)
    cfg = TrainConfig(
        checkpoint=detector,
        images=images,
        instances=instances,
        relations=relations,
        output=output,
        head_type=head_type,
        head_width=head_width,
        arch=arch,
        min_size=min_size,
        max_size=max_size,
        labels=labels,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        lr_drop=lr_drop,
        optimizer=optimizer,
        bias_lr_factor=bias_lr_factor,
        bias_weight_decay=bias_weight_decay,
        flip=flip,
        all_images=all_images,
        rpn_mode=rpn_mode,
        rois=rois,
        rois_per_image=rois_per_image,
        draws=draws,
        min_iou=min_iou,
        cache=cache,
        cache_max_gb=cache_max_gb,
        val_fraction=val_fraction,
        eval_every=eval_every,
        select=select,
        select_proposals=select_proposals,
        select_panoptic=select_panoptic,
        bn_recalibrate=bn_recalibrate,
        device=device,
        amp=amp,
        workers=n_workers if n_workers > 1 else 0,
        detector_batch=detector_batch,
        seed=seed,
        checkpoint_every=checkpoint_every,
        checkpoint_path=checkpoint_file,
        resume=resume or checkpoint_file is not None,
        log=log,
        log_every=log_every,
        force=force,
    )
    if preset != "none":
        from ..model.train_config import PRESETS

        ctx = click.get_current_context()
        for name, value in PRESETS[preset].items():
            if ctx.get_parameter_source(name) in (None, ParameterSource.DEFAULT):
                setattr(cfg, name, value)
    with progress_group(quiet) as bars:
        on_cache = bars("train: detector features (images)", None)
        advance = None

        def on_step(rec: dict) -> None:
            nonlocal advance
            if advance is None:
                advance = bars("train (iterations)", iterations)
            advance(1)
            if "val_pair_accuracy" in rec and not quiet:
                acc = rec["val_pair_accuracy"]
                acc_s = "-" if acc is None else f"{100 * acc:.1f}%"
                pq_s = f", held-out fusion PQ^Th {100 * rec['val_pq_th']:.1f}" if "val_pq_th" in rec else ""
                status(
                    f"iteration {rec['iteration']}/{iterations}: loss {rec['loss']:.4f}, lr {rec['lr']:g}, held-out pair accuracy {acc_s}{pq_s}"
                )

        res = train_head(cfg, on_step=on_step, on_status=lambda s: status(s, quiet), on_cache=on_cache)
    if rank != 0:
        return
    emit(train_report(res), fmt)
