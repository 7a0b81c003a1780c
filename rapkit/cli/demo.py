"""``rapkit demo -o OUT``: the whole pipeline on a synthetic world."""

from __future__ import annotations

import click

from ..pipeline.demo import TRAIN_ITERATIONS
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


@click.command("demo", cls=Command, epilog="Example: rapkit demo -o demo-out -n 100 --workers 2")
@output_option("Output folder for everything the demo writes.", folder=True, default="demo-out")
@click.option(
    "-n",
    "--num-images",
    "images",
    type=click.IntRange(4, 16000),
    default=100,
    show_default=True,
    help="Images in the synthetic world (a count).",
)
@click.option("--height", type=click.IntRange(min=64), default=480, show_default=True, help="Image height, in pixels.")
@click.option("--width", type=click.IntRange(min=64), default=640, show_default=True, help="Image width, in pixels.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed of the world; same seed -> same numbers."
)
@click.option(
    "--no-render",
    is_flag=True,
    help="Skip writing the world's JPEG images (and so the learning step, which needs them).",
)
@click.option(
    "--no-train",
    is_flag=True,
    help="Skip the learning step (training a relation head); only the simulated relation values.",
)
@click.option(
    "--train-iterations",
    "iterations",
    type=click.IntRange(min=1),
    default=TRAIN_ITERATIONS,
    show_default=True,
    help="Training iterations of the learning step's relation head.",
)
@force_option
@workers_option
@output_options
def command(output, images, height, width, seed, no_render, no_train, iterations, force, workers, fmt, quiet):
    """Run the whole RAP pipeline on a synthetic world and print the paper's tables.

    synth -> extract-relations -> threshold sweep (Table 1) -> fuse (heuristic and RAP,
    with the world's simulated relation values) -> evaluate (PQ and relation accuracy,
    Tables 3-4) -> ablation (Table 2) -> learning step -> pictures. The learning step
    (needs the train extra, pip install 'rapkit[train]') trains a relation head on the
    first 60% of the images, on a randomly initialised ResNet-18-FPN Mask R-CNN that stands
    in for your checkpoint, and fuses the other 40% with its relation values, beside the
    heuristic and the simulated values. Everything it writes stays in the output folder.
    """
    from ..pipeline.demo import run_demo
    from ..report.demo import demo_report

    with progress_group(quiet) as bars:
        res = run_demo(
            output,
            images=images,
            height=height,
            width=width,
            seed=seed,
            workers=resolve_workers(workers),
            force=force,
            render_images=not no_render,
            train=not no_train,
            learn={"iterations": iterations},
            log=lambda s: status(s, quiet),
            progress=bars,
        )
    emit(demo_report(res), fmt)
