"""Shared click options, config-file defaults, progress bars and result output.

Every command uses :func:`output_options` (``--format``, ``--quiet``) and, where it does
work per image, :func:`workers_option`. Results go to stdout through :func:`emit`;
progress and status go to stderr.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

from .. import report
from .._runtime import setting
from .._runtime.pool import available_cores
from ..errors import ConfigError
from ..io.config import read_config

# name -> (module, short help). Modules expose a click command named ``command``.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("rapkit.cli.synth", "Write a synthetic COCO world with known depth order."),
    "extract-relations": ("rapkit.cli.extract_relations", "Extract occlusion relations from instance + panoptic GT."),
    "train": ("rapkit.cli.train", "Fine-tune the relation head on a frozen Mask R-CNN."),
    "predict": ("rapkit.cli.predict", "Score proposals with a trained relation head."),
    "fuse": ("rapkit.cli.fuse", "Fuse proposals (+ semantic) into COCO panoptic output."),
    "evaluate": ("rapkit.cli.evaluate", "PQ/SQ/RQ, relation accuracy, threshold sweeps."),
    "check": ("rapkit.cli.check", "Sanity report for a dataset or a prediction."),
    "category-order": ("rapkit.cli.category_order", "Category-level baseline: Bradley-Terry category values."),
    "show": ("rapkit.cli.show", "Pictures: overlay, compare, relations, charts (PNG files)."),
    "demo": ("rapkit.cli.demo", "The whole pipeline on a synthetic world, in one command."),
}

FORMATS = ("table", "json", "csv")


def config_default_map(path: str, commands: list[str]) -> dict[str, Any]:
    """Read a TOML config into click's ``default_map``.

    Top-level scalar keys apply to every command that has the option; ``[fuse]``-style
    tables to one command. Keys are option names, with dashes or underscores
    (``stuff-area`` = ``stuff_area``; ``proposals`` sets ``--proposals``). An unknown key
    or table is a :class:`ConfigError` (exit 2) naming the closest known key; a key of an
    option that was renamed names the new one.
    """
    data = read_config(path)

    def value(v: Any) -> Any:
        # lists (e.g. rho = [0.5, 0.6]) become the comma form the options parse
        return ",".join(str(x) for x in v) if isinstance(v, list) else v

    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    common = {k: v for k, v in data.items() if not isinstance(v, dict)}
    unknown = [k for k in tables if k not in commands]
    if unknown:
        raise ConfigError(
            f"{path}: unknown command table [{unknown[0]}]{_did_you_mean(unknown[0], commands)}; "
            f"known: {', '.join(commands)}"
        )
    keys = {name: config_keys(_load_command(name)) for name in commands}
    all_keys = {k for ks in keys.values() for k in ks}
    for k in common:
        if _norm_key(k) not in all_keys:
            raise ConfigError(f"{path}: unknown key {k!r}{_renamed_or_close(k, all_keys, commands)}")
    out: dict[str, Any] = {}
    for name in commands:
        known = keys[name]
        d = {known[_norm_key(k)]: value(v) for k, v in common.items() if _norm_key(k) in known}
        for k, v in tables.get(name, {}).items():
            if _norm_key(k) not in known:
                raise ConfigError(f"{path}: unknown key {k!r} in [{name}]{_renamed_or_close(k, known, [name])}")
            d[known[_norm_key(k)]] = value(v)
        if d:
            out[name] = d
    return out


def _norm_key(k: str) -> str:
    return k.strip().lstrip("-").replace("-", "_")


def _load_command(name: str) -> click.Command:

    return importlib.import_module(COMMANDS[name][0]).command


def config_keys(cmd: click.Command) -> dict[str, str]:
    """Config keys of a command -> its parameter names: every long option name without
    dashes (``stuff_area``, ``proposals``, ``no_ra``) and the parameter name itself."""
    out: dict[str, str] = {}
    for p in cmd.params:
        if not isinstance(p, click.Option) or p.hidden or p.name is None:
            continue
        out[p.name] = p.name
        for o in p.opts:
            if o.startswith("--"):
                out[_norm_key(o)] = p.name
    return out


def _did_you_mean(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _renamed_or_close(key: str, known: Any, commands: list[str]) -> str:
    for name in commands:
        new = RENAMED.get(name, {}).get("--" + _norm_key(key).replace("_", "-"))
        if new:
            return f" (renamed in 0.2.0: use {new.split('/')[-1].lstrip('-').replace('-', '_')!r}, the option {new})"
    return _did_you_mean(_norm_key(key), known)


# --------------------------------------------------------------------------- the vocabulary

#: Options of rapkit 0.1.0 renamed in 0.2.0, per command: old spelling -> the new option
#: (CHANGELOG.md lists them).
#: Giving one is a usage error (exit 2) that names the new option; see :class:`Command`.
RENAMED: dict[str, dict[str, str]] = {
    "synth": {"--images": "-n/--num-images"},
    "demo": {"--images": "-n/--num-images"},
    "fuse": {"--images": "--image-info", "--out": "-o/--output"},
    "train": {"--checkpoint": "--detector", "--checkpoint-file": "--resume-from", "--checkpoint-every": "--save-every"},
    "predict": {"--checkpoint": "--detector"},
}


class Command(click.Command):
    """A rapkit command: shows every default in ``--help``, and turns the old spellings of
    :data:`RENAMED` and a positional output (``rapkit synth OUT``) into a usage error
    (exit 2) naming the new option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = kwargs.setdefault("context_settings", {})
        settings.setdefault("show_default", True)
        # extra positional arguments are reported by parse_args, naming -o/--output
        settings.setdefault("allow_extra_args", True)
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        renamed = RENAMED.get(self.name or "", {})
        for a in args:
            if a == "--":
                break
            old = a.split("=", 1)[0]
            if old in renamed:
                raise click.UsageError(f"{old} of 'rapkit {self.name}' was renamed in 0.2.0: use {renamed[old]}", ctx)
        rest = super().parse_args(ctx, args)
        if ctx.args:
            extra = ctx.args[0]
            hint = ""
            if any("--output" in p.opts for p in self.params if isinstance(p, click.Option)):
                hint = f"; outputs are no longer positional since 0.2.0: use -o/--output {extra}"
            raise click.UsageError(f"unexpected argument {extra!r}{hint}", ctx)
        return rest


class JsonPath(click.Path):
    """A JSON file option; given a folder it names the folder option that takes it."""

    def __init__(self, folder_option: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("dir_okay", False)
        super().__init__(**kwargs)
        self.folder_option = folder_option

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (str, os.PathLike)) and os.path.isdir(value):
            where = f"; a folder goes to {self.folder_option}" if self.folder_option else ""
            inside = os.path.join(os.fspath(value), "panoptic.json")
            if os.path.isfile(inside):  # e.g. the output folder of rapkit fuse
                where += f"; did you mean {inside}?"
            self.fail(f"{os.fspath(value)!r} is a folder, not a JSON file{where}", param, ctx)
        return super().convert(value, param, ctx)


def output_option(help: str, *, folder: bool = False, required: bool = True, default: Any = None) -> Callable:
    """``-o/--output``: the output file (or folder) of every command."""
    return click.option(
        "-o",
        "--output",
        "output",
        required=required and default is None,
        default=default,
        type=click.Path(file_okay=not folder, dir_okay=folder),
        help=help,
    )


def output_options(f: Callable) -> Callable:
    """``--format table|json|csv`` and ``--quiet``."""
    f = click.option(
        "--quiet", "-q", is_flag=True, help="No progress bars or status lines on stderr (warnings still show)."
    )(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="How results are printed on stdout (PQ, SQ, RQ and accuracies in percent in every format).",
    )(f)
    return f


def default_workers() -> int:
    """``--workers 0``: one worker per available CPU core (every core, in every command)."""
    return available_cores()


def workers_option(f: Callable | None = None, *, help: str = "Worker threads; 0 = one per CPU core.") -> Callable:
    """``--workers/-j`` (``@workers_option``, or ``@workers_option(help=...)`` where the workers
    are something else than threads)."""

    def deco(g: Callable) -> Callable:
        return click.option("--workers", "-j", type=click.IntRange(min=0), default=1, show_default=True, help=help)(g)

    return deco(f) if f is not None else deco


def resolve_workers(n: int) -> int:
    return default_workers() if n == 0 else n


def force_option(f: Callable) -> Callable:
    return click.option("--force", is_flag=True, help="Replace an existing output (default: refuse).")(f)


def float_list(ctx: click.Context, param: click.Parameter, value: Any) -> list[float] | None:
    """Parse ``0.5,0.6`` (or a TOML list) into floats in [0, 1]; anything else is a usage
    error (exit 2) naming the option and the expected comma form."""
    if value is None:
        return None
    opt = param.opts[0] if param is not None and param.opts else "value"
    expected = f"expected comma-separated numbers in [0, 1], e.g. {opt} 0.5,0.6"
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for it in items:
        s = str(it).strip()
        if not s:
            raise click.BadParameter(f"empty value in {value!r}; {expected}", ctx=ctx, param=param)
        try:
            v = float(s)
        except ValueError:
            raise click.BadParameter(f"{s!r} is not a number; {expected}", ctx=ctx, param=param) from None
        if not 0.0 <= v <= 1.0:  # also NaN
            raise click.BadParameter(f"{s} is not in [0, 1]; {expected}", ctx=ctx, param=param)
        out.append(v)
    return out


class Step:
    """One step of a progress display. ``step(n)`` advances it; ``step.start(total, name=None)``
    sets its total (restarting the count, renaming the step when ``name`` is given) once the
    pipeline knows it: pass ``step`` as a pipeline's ``progress`` and ``step.start`` as its
    ``on_start``."""

    def __init__(self, advance: Callable[[int], None], start: Callable[[int | None, str | None], None]) -> None:
        self._advance = advance
        self._start = start

    def __call__(self, n: int = 1) -> None:
        self._advance(n)

    def start(self, total: int | None, name: str | None = None) -> None:
        self._start(total, name)


def _progress_mode(quiet: bool) -> str:
    """``bar`` (rich, on a terminal or with RAPKIT_PROGRESS=bar), ``lines`` (plain text every
    ~10 s when stderr is not a terminal: logs, CI, pipes) or ``off`` (--quiet, RAPKIT_PROGRESS=0)."""
    env = setting("RAPKIT_PROGRESS")
    if quiet or env == "off":
        return "off"
    if env is not None:
        return env
    return "bar" if sys.stderr.isatty() else "lines"


class _Ticker:
    """Plain-text progress for a non-terminal stderr: every ``interval`` seconds (env
    ``RAPKIT_PROGRESS_INTERVAL``, default 10) one line with the current step's count. The
    current step is the one advanced or started last (a pipeline may declare several steps
    before it begins the first), else the one added last."""

    def __init__(self) -> None:
        self.interval = float(setting("RAPKIT_PROGRESS_INTERVAL"))
        self.tasks: list[list[Any]] = []  # [name, done, total]
        self.current: list[Any] | None = None  # the task advanced or started last
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="rapkit-progress", daemon=True)

    def add(self, name: str, total: int | None) -> Step:
        task = [name, 0, total]
        with self.lock:
            self.tasks.append(task)

        def advance(n: int = 1) -> None:
            with self.lock:
                task[1] += n
                self.current = task

        def start(total: int | None, name: str | None = None) -> None:
            with self.lock:
                task[1], task[2] = 0, total
                if name is not None:
                    task[0] = name
                self.current = task

        return Step(advance, start)

    def line(self) -> str | None:
        with self.lock:
            if not self.tasks:
                return None
            name, done, total = self.current or self.tasks[-1]
        count = f"{done}/{total}" if total else f"{done}"
        return f"{name}: {count} done, {time.monotonic() - self.t0:.0f} s elapsed"

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            text = self.line()
            if text:
                click.echo(text, err=True)

    def __enter__(self) -> _Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()


@contextlib.contextmanager
def progress_group(quiet: bool = False) -> Iterator[Callable[[str, int | None], Step]]:
    """Yields ``add(name, total) -> Step``: several steps sharing one display on stderr
    (rich bars on a terminal, periodic plain-text lines otherwise, nothing with --quiet)."""
    mode = _progress_mode(quiet)
    if mode == "off":
        yield lambda name, total: Step(lambda n=1: None, lambda total, name=None: None)
        return
    if mode == "lines":
        with _Ticker() as ticker:
            yield ticker.add
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cols = [
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*cols, console=Console(stderr=True), transient=True) as prog:

        def add(name: str, total: int | None) -> Step:
            task = prog.add_task(name, total=total)

            def start(total: int | None, name: str | None = None) -> None:
                prog.reset(task, total=total, description=name)

            return Step(lambda n=1: prog.advance(task, n), start)

        yield add


@contextlib.contextmanager
def progress(total: int | None, description: str, quiet: bool = False) -> Iterator[Step]:
    """One step's progress on stderr; yields a :class:`Step` (see :func:`progress_group`):
    pass it as the pipeline's ``progress`` and its ``.start`` as the pipeline's ``on_start``,
    so the bar gets its total once the inputs are read."""
    with progress_group(quiet) as add:
        yield add(description, total)


def status(msg: str, quiet: bool = False) -> None:
    """A status line on stderr."""
    if not quiet:
        click.echo(msg, err=True)


def warn(msg: str) -> None:
    """``warning: ...`` on stderr, also under --quiet (a result that may not be what was meant)."""
    click.echo(f"warning: {msg}", err=True)


def emit(result: Any, fmt: str) -> None:
    """Print a result (a report.Report) on stdout in the chosen format."""
    text = report.render(result, fmt)
    click.echo(text, nl=not text.endswith("\n"))
