"""Shared click options, config-file defaults, progress bars and result output.

Every command uses :func:`output_options` (``--format``, ``--quiet``) and, where it does
work per image, :func:`workers_option`. Results go to stdout through :func:`emit`;
progress and status go to stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable, Iterator

import click

from ..errors import ConfigError

FORMATS = ("table", "json", "csv")


def config_default_map(path: str, commands: list[str]) -> dict[str, Any]:
    """Read a TOML config into click's ``default_map``.

    Top-level scalar keys apply to every command; ``[fuse]``-style tables to one command.
    Keys may use dashes or underscores (``stuff-area`` = ``stuff_area``).
    """
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: malformed TOML: {e}") from None

    def value(v: Any) -> Any:
        # lists (e.g. rho = [0.5, 0.6]) become the comma form the options parse
        return ",".join(str(x) for x in v) if isinstance(v, list) else v

    def norm(d: dict) -> dict:
        return {k.replace("-", "_"): value(v) for k, v in d.items()}

    common = norm({k: v for k, v in data.items() if not isinstance(v, dict)})
    unknown = [k for k, v in data.items() if isinstance(v, dict) and k not in commands]
    if unknown:
        raise ConfigError(f"{path}: unknown command table(s) {', '.join(unknown)}; known: {', '.join(commands)}")
    out: dict[str, Any] = {}
    for name in commands:
        d = dict(common)
        d.update(norm(data.get(name, {})))
        if d:
            out[name] = d
    return out


def output_options(f: Callable) -> Callable:
    """``--format table|json|csv`` and ``--quiet``."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress bars or status lines on stderr.")(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="How results are printed on stdout.",
    )(f)
    return f


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def workers_option(f: Callable) -> Callable:
    return click.option(
        "--workers",
        "-j",
        type=click.IntRange(min=0),
        default=1,
        show_default=True,
        help="Worker processes (0 = one per CPU core).",
    )(f)


def resolve_workers(n: int) -> int:
    return default_workers() if n == 0 else n


def force_option(f: Callable) -> Callable:
    return click.option("--force", is_flag=True, help="Replace an existing output.")(f)


def float_list(ctx: click.Context, param: click.Parameter, value: Any) -> list[float] | None:
    """Parse ``0.5,0.6`` (or a TOML list) into floats in [0, 1]."""
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for it in items:
        s = str(it).strip()
        if not s:
            raise click.BadParameter("empty value in list", ctx=ctx, param=param)
        try:
            v = float(s)
        except ValueError:
            raise click.BadParameter(f"{s!r} is not a number", ctx=ctx, param=param) from None
        out.append(v)
    return out


@contextlib.contextmanager
def progress(total: int | None, description: str, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when quiet or not a TTY
    unless ``RAPKIT_PROGRESS=1``."""
    show = not quiet and (sys.stderr.isatty() or os.environ.get("RAPKIT_PROGRESS") == "1")
    if not show:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*cols, console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


def status(msg: str, quiet: bool = False) -> None:
    """A status line on stderr."""
    if not quiet:
        click.echo(msg, err=True)


def emit(result: Any, fmt: str, **kwargs: Any) -> None:
    """Print a result (a report.Report) on stdout in the chosen format."""
    from .. import report

    text = report.render(result, fmt, **kwargs)
    click.echo(text, nl=not text.endswith("\n"))
