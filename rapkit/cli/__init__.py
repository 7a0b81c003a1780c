"""rapkit's command line: a thin click layer over the library.

Subcommands are imported lazily, so ``rapkit --help`` loads neither torch nor numba.
Exit codes are decided in one place (:func:`_run`): 0 ok, 1 gate failed, 2 usage/config,
3 bad input data, 130 interrupted, 70 internal error. A failure prints one line on stderr;
under ``--format json`` (on the command line or in the config file) it also prints, as the
last line of stdout, ``{"error": {"code": 3, "kind": "input", "message": ..., "file": ...,
"image_id": ..., "segment_id": ...}}`` with ``code`` equal to the exit code.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from .. import __version__
from .._runtime import notice, process
from ..errors import RapkitError
from ._common import COMMANDS, config_default_map


class LazyGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        """Same exit codes whether run as ``rapkit`` or through ``CliRunner``."""
        argv = list(sys.argv[1:] if args is None else args)
        code = _run(self, argv, prog_name or "rapkit", extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    ctx.default_map = config_default_map(value, list(COMMANDS))
    if isinstance(ctx.obj, dict):  # _run's state: the config may ask for --format json
        ctx.obj["default_map"] = ctx.default_map
    return value


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: rapkit demo -o demo-out  (the whole pipeline on a synthetic world)",
)
@click.version_option(__version__, prog_name="rapkit")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    callback=_load_config,
    is_eager=True,
    expose_value=False,
    help="TOML file supplying option defaults: top-level keys for every command, [command] tables per command.",
)
@click.option("--debug", is_flag=True, expose_value=False, help="Show tracebacks on errors.")
def cli() -> None:
    """rapkit: relation-aware panoptic segmentation toolkit (RAP).

    Extract occlusion relations, train a relation head, fuse proposals with Algorithm 1,
    evaluate PQ (panopticapi-exact) and relation accuracy, sweep fusion thresholds.
    """


def _interrupted(e: BaseException) -> bool:
    """Whether ``e`` was caused by a KeyboardInterrupt (anywhere in its cause/context chain)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _json_format(args: list[str], state: dict) -> bool:
    """Whether failures should also be rendered as JSON: ``--format json`` (or
    ``--format=json``, last one wins) on the command line, else ``format``/``fmt`` in the
    config file's tables for the command (or its top level)."""
    fmt = None
    for i, a in enumerate(args):
        if a == "--":
            break
        if a == "--format" and i + 1 < len(args):
            fmt = args[i + 1]
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
    if fmt is None:
        dm = state.get("default_map") or {}
        name = next((a for a in args if a in COMMANDS), None)
        table = dm.get(name, {}) if name else {}
        fmt = table.get("fmt", table.get("format"))
    return fmt == "json"


def error_object(
    code: int, kind: str, message: str, *, file: Any = None, image_id: Any = None, segment_id: Any = None
) -> dict:
    """The JSON a failure prints on stdout under ``--format json``.

    >>> error_object(3, "input", "bad RLE", file="p.json", image_id=7)["error"]["code"]
    3
    """

    def plain(v: Any) -> Any:
        return v if v is None or isinstance(v, (int, float, str, bool)) else str(v)

    return {
        "error": {
            "code": code,
            "kind": kind,
            "message": message,
            "file": plain(file),
            "image_id": plain(image_id),
            "segment_id": plain(segment_id),
        }
    }


_KINDS = {1: "gate", 2: "config", 3: "input"}


def _run(group: click.Group, args: list[str], prog_name: str, extra: dict) -> int:
    """Invoke the CLI and map every outcome to the documented exit code (and, under
    ``--format json``, to a JSON error object on stdout)."""
    debug = "--debug" in args
    state: dict = {}
    extra = dict(extra)
    extra.setdefault("obj", state)
    if not isinstance(extra["obj"], dict):
        state = {}

    def fail(code: int, kind: str, human: str | None, message: str, **where: Any) -> int:
        if human is not None:
            click.echo(human, err=True)
        if _json_format(args, state):
            try:
                click.echo(json.dumps(error_object(code, kind, message, **where)))
            except (OSError, ValueError):  # stdout gone: the exit code still says it
                pass
        return code

    try:
        rv = click.Group.main(group, args=args, prog_name=prog_name, standalone_mode=False, **extra)
        return rv if isinstance(rv, int) else 0
    except RapkitError as e:
        if debug:
            raise
        return fail(
            e.exit_code,
            _KINDS.get(e.exit_code, "error"),
            f"rapkit: error: {e}",
            e.message,
            file=e.file,
            image_id=e.image_id,
            segment_id=e.segment_id,
        )
    except (click.exceptions.Abort, KeyboardInterrupt):
        return fail(130, "interrupted", "rapkit: interrupted", "interrupted")
    except click.ClickException as e:
        e.show()
        return fail(
            e.exit_code,
            "usage" if isinstance(e, click.UsageError) else "config",
            None,
            e.format_message(),
            file=getattr(e, "filename", None),
        )
    except click.exceptions.Exit as e:
        return e.exit_code
    except BrokenPipeError:
        return 0
    except Exception as e:  # pragma: no cover - last resort
        if _interrupted(e):
            # Ctrl-C landing inside compiled code (numba) surfaces as a SystemError
            # whose cause is the KeyboardInterrupt
            return fail(130, "interrupted", "rapkit: interrupted", "interrupted")
        if debug:
            raise
        return fail(
            70,
            "internal",
            f"rapkit: internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback)",
            f"{type(e).__name__}: {e}",
        )


def main(argv: list[str] | None = None) -> int:
    """Console entry point; exits with the documented exit code.

    Run as its own process (``argv`` None: the ``rapkit`` script, ``python -m rapkit``) it is
    the one caller that switches process-wide settings on (:mod:`rapkit._runtime`): the
    allocator tuning, the command's GC policy and the compile notice. Called with arguments
    (tests, embedding) it changes nothing of the process."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        notice.enable()  # the first run's numba compiles get one line on stderr
        process.tune_allocator()
        process.command_gc()
    code = _run(cli, args, "rapkit", {})
    if argv is None:  # the process ends here
        notice.report()
        process.before_exit()
    sys.exit(code)


def entry() -> None:
    """The ``rapkit`` script and ``python -m rapkit``: :func:`main`, then the process ends
    without the interpreter's teardown (:func:`rapkit._runtime.process.end_process`: atexit
    handlers run, streams flushed). A script that calls :func:`main` itself keeps the
    ordinary ``SystemExit``."""
    try:
        main()
    except SystemExit as e:
        code = e.code
    else:  # pragma: no cover - main always exits
        code = 0
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    process.end_process(code)
