"""``rapkit demo [OUT]``: the whole pipeline on a synthetic world."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from ._common import emit, force_option, output_options, status


@contextlib.contextmanager
def _bars(quiet: bool):
    """A factory of per-step progress callbacks sharing one rich display on stderr."""
    show = not quiet and (sys.stderr.isatty() or os.environ.get("RAPKIT_PROGRESS") == "1")
    if not show:
        yield lambda name, total: (lambda n=1: None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as prog:
        def factory(name: str, total: int):
            task = prog.add_task(name, total=total)
            return lambda n=1: prog.advance(task, n)

        yield factory


@click.command("demo", epilog="Example: rapkit demo demo-out/ --images 100 --workers 2")
@click.argument("out", type=click.Path(file_okay=False), default="rapkit-demo", required=False)
@click.option("--images", type=click.IntRange(4, 16000), default=100, show_default=True,
              help="Images in the synthetic world.")
@click.option("--height", type=click.IntRange(min=64), default=480, show_default=True)
@click.option("--width", type=click.IntRange(min=64), default=640, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", "-j", type=click.IntRange(min=0), default=2, show_default=True,
              help="Worker processes (0 = one per CPU core).")
@click.option("--no-render", is_flag=True, help="Skip writing the world's JPEG images.")
@force_option
@output_options
def command(out, images, height, width, seed, workers, no_render, force, fmt, quiet):
    """Run the whole RAP pipeline on a synthetic world and print the paper's tables.

    synth -> extract-relations -> fuse (heuristic and RAP, with the world's simulated
    relation values) -> evaluate (PQ and relation accuracy) -> ablation (Table 2) ->
    threshold sweep (Table 1). Everything it writes stays in OUT (default: rapkit-demo).
    """
    from ..pipeline.demo import run_demo
    from ._common import resolve_workers

    with _bars(quiet) as bars:
        res = run_demo(out, images=images, height=height, width=width, seed=seed, workers=resolve_workers(workers),
                       force=force, render_images=not no_render, log=lambda s: status(s, quiet), progress=bars)
    emit(res.report, fmt)
