"""The ``--sweep`` / ``--ablation`` half of ``rapkit evaluate``.

``rapkit evaluate --sweep rho tau gamma --gt P.json --proposals props.json`` works verbatim:
``--sweep`` is a flag and the parameter names are the command's positional arguments.
Value lists come from ``--rho 0.5,0.6``-style options or a TOML config
(``[evaluate] rho = [0.5, 0.6]``); unspecified swept parameters use defaults covering the
paper's Table 1.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from ._common import float_list


def sweep_options(f: Callable) -> Callable:
    """Options of the sweep mode (applied to ``rapkit evaluate``)."""
    opts = [
        click.argument("sweep_params", nargs=-1, metavar="[PARAM]..."),
        click.option("--sweep", "sweep", is_flag=True,
                     help="Sweep fusion thresholds: name the parameters to vary as arguments (rho tau gamma)."),
        click.option("--ablation", is_flag=True,
                     help="Paper Table 2 rows (heuristic; RA; RA+CA; RA+CA+EO) at fixed --rho/--tau/--gamma."),
        click.option("--semantic", "semantic_path", type=click.Path(), default=None,
                     help="Sweep: semantic PNG folder or COCO-stuff JSON for the stuff fill."),
        click.option("--categories", "categories_path", type=click.Path(dir_okay=False), default=None,
                     help="Sweep: categories (default: the GT JSON's)."),
        click.option("--rho", callback=float_list, default=None, help="Sweep: score thresholds, e.g. 0.5,0.6."),
        click.option("--tau", callback=float_list, default=None, help="Sweep: overlap thresholds, e.g. 0.5,0.6."),
        click.option("--gamma", callback=float_list, default=None, help="Sweep: excessive-overlap thresholds."),
        click.option("--stuff-area", type=click.IntRange(min=0), default=4096, show_default=True,
                     help="Sweep: minimum stuff segment area."),
        click.option("--variant", type=click.Choice(["paper", "reference"]), default="paper", show_default=True,
                     help="Sweep: Algorithm 1 as in the paper or as in the authors' code."),
        click.option("--output", "table_output", type=click.Path(dir_okay=False), default=None,
                     help="Sweep: also write the rows to .csv, .json, .parquet or .md."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def run_sweep_mode(
    *,
    gt: str,
    gt_dir: str | None,
    proposals: str | None,
    sweep: bool,
    ablation: bool,
    sweep_params: tuple[str, ...],
    semantic_path: str | None,
    categories_path: str | None,
    rho: list[float] | None,
    tau: list[float] | None,
    gamma: list[float] | None,
    stuff_area: int,
    variant: str,
    table_output: str | None,
    force: bool,
    workers: int,
    fmt: str,
    quiet: bool,
) -> None:
    """Validate the sweep options, run the sweep, print (and optionally write) the table."""
    from ..core.sweep import ablation_grid, make_grid
    from ..errors import ConfigError
    from ..io._atomic import check_writable
    from ..pipeline.sweep import run_sweep, sweep_report, write_table
    from ..types import FusionParams
    from ._common import emit, progress, status

    if sweep and ablation:
        raise ConfigError("--sweep and --ablation are exclusive")
    if proposals is None:
        raise ConfigError("--sweep/--ablation need --proposals (the dumped detections to fuse)")
    if table_output is not None:
        check_writable(table_output, force)
    if ablation:
        if sweep_params:
            raise ConfigError(f"unexpected argument(s) {' '.join(sweep_params)} with --ablation")
        base = fixed_params("--ablation", rho, tau, gamma, stuff_area, variant)
        grid: list[Any] = ablation_grid(base)
        swept: list[str] = []
        kind = "ablation"
    else:
        names = list(sweep_params)
        if not names:
            raise ConfigError("--sweep needs the parameters to vary, e.g. --sweep rho tau gamma")
        grid = make_grid(names, FusionParams(stuff_area=stuff_area, variant=variant), rho=rho, tau=tau, gamma=gamma)
        swept = names
        kind = "sweep"
    status(f"{kind}: {len(grid)} setting(s) + baseline", quiet)
    with progress(None, kind, quiet) as advance:
        res = run_sweep(gt, proposals, grid, gt_dir=gt_dir, semantic_path=semantic_path,
                        categories_path=categories_path, workers=workers, swept=swept, progress=advance)
    if table_output is not None:
        write_table(res, table_output, force=force)
        status(f"wrote {table_output}", quiet)
    status(f"{res.n_images} images x {len(res.grid)} settings in {res.seconds:.1f} s", quiet)
    emit(sweep_report(res, kind=kind), fmt)


def fixed_params(what: str, rho: list[float] | None, tau: list[float] | None, gamma: list[float] | None,
                 stuff_area: int, variant: str):
    """One FusionParams from single-valued --rho/--tau/--gamma (defaults: the paper's best)."""
    from ..errors import ConfigError
    from ..types import FusionParams

    one = {}
    for name, vals in (("rho", rho), ("tau", tau), ("gamma", gamma)):
        if vals is not None:
            if len(vals) != 1:
                raise ConfigError(f"{what} takes one value of --{name} (lists are for --sweep)")
            one[name] = vals[0]
    return FusionParams(stuff_area=stuff_area, variant=variant, **one)


def check_no_sweep_args(sweep: bool, ablation: bool, sweep_params: tuple[str, ...]) -> None:
    """Plain evaluation takes no positional arguments."""
    from ..errors import ConfigError

    if sweep_params and not (sweep or ablation):
        raise ConfigError(f"unexpected argument(s) {' '.join(sweep_params)} (did you mean --sweep {' '.join(sweep_params)}?)")
