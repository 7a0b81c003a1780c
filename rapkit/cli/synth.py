"""``rapkit synth -o OUT``: write a synthetic COCO world."""

from __future__ import annotations

import click

from ..report import Report, Table
from ._common import (
    Command,
    emit,
    force_option,
    output_option,
    output_options,
    progress,
    resolve_workers,
    workers_option,
)


@click.command(
    "synth",
    cls=Command,
    epilog="Example: rapkit synth -o world -n 200 --seed 1 --height 480 --width 640",
)
@output_option("Output folder of the world (created; an existing one needs --force).", folder=True)
@click.option(
    "-n",
    "--num-images",
    "n_images",
    type=click.IntRange(1, 16000),
    default=20,
    show_default=True,
    help="Number of images (a count).",
)
@click.option("--height", type=click.IntRange(min=32), default=480, show_default=True, help="Image height, in pixels.")
@click.option("--width", type=click.IntRange(min=32), default=640, show_default=True, help="Image width, in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed -> same bytes.")
@click.option(
    "--things-per-image",
    type=click.FloatRange(min=0),
    default=7.0,
    show_default=True,
    help="Mean number of thing instances per image.",
)
@click.option(
    "--depth-noise",
    type=click.FloatRange(min=0),
    default=0.6,
    show_default=True,
    help="Sigma of depth around the category rank (the learnable cue).",
)
@click.option(
    "--relation-noise",
    type=click.FloatRange(min=0),
    default=0.3,
    show_default=True,
    help="Sigma of the simulated relation values around the true depth.",
)
@click.option(
    "--crowd-prob",
    type=click.FloatRange(0, 1),
    default=0.15,
    show_default=True,
    help="Probability (0-1) that an image has a crowd region.",
)
@click.option(
    "--p-miss",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Probability (0-1) that the simulated detector misses an instance.",
)
@click.option(
    "--p-dup-same",
    type=click.FloatRange(0, 1),
    default=0.15,
    show_default=True,
    help="Probability (0-1) of a duplicate proposal of the same category.",
)
@click.option(
    "--p-dup-other",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    help="Probability (0-1) of a duplicate proposal of another category.",
)
@click.option(
    "--false-per-image",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Mean number of false detections per image.",
)
@click.option(
    "--mask-noise",
    type=click.FloatRange(min=0),
    default=0.03,
    show_default=True,
    help="Proposal mask boundary noise, as a fraction of the object size.",
)
@click.option("--no-render", is_flag=True, help="Skip the JPEG images (faster; enough for fusion and PQ).")
@force_option
@workers_option
@output_options
def command(
    output,
    n_images,
    height,
    width,
    seed,
    things_per_image,
    depth_noise,
    relation_noise,
    crowd_prob,
    p_miss,
    p_dup_same,
    p_dup_other,
    false_per_image,
    mask_noise,
    no_render,
    force,
    workers,
    fmt,
    quiet,
):
    """Write a synthetic COCO world with known depth order into the -o/--output folder.

    It gets images/ (JPEG), instances.json (polygons + crowd RLE), panoptic.json + panoptic/
    (PNG, painted far to near), categories.json, proposals.json (simulated detector output
    with scores and relation values), semantic/ (predicted label maps) and truth.json (the
    true depth of every instance).
    """
    from ..synth import SynthConfig, make_world, world_summary

    cfg = SynthConfig(
        n_images=n_images,
        height=height,
        width=width,
        seed=seed,
        things_per_image=things_per_image,
        depth_noise=depth_noise,
        relation_noise=relation_noise,
        crowd_prob=crowd_prob,
        p_miss=p_miss,
        p_dup_same=p_dup_same,
        p_dup_other=p_dup_other,
        false_per_image=false_per_image,
        mask_noise=mask_noise,
        render_images=not no_render,
    )
    with progress(n_images, "synth", quiet) as advance:
        paths = make_world(output, cfg, force=force, workers=resolve_workers(workers), progress=advance)
    s = world_summary(paths)
    rows = [[k, v] for k, v in s.items()]
    emit(Report("synth", s, [Table("world", ["item", "value"], rows, title="synthetic world", decimals=3)]), fmt)
