"""rapkit's command line: a thin click layer over the library.

Subcommands are imported lazily, so ``rapkit --help`` loads neither torch nor numba.
Exit codes are decided in one place (:func:`main`): 0 ok, 1 gate failed, 2 usage/config,
3 bad input data, 130 interrupted, 70 internal error.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

# name -> (module, short help). Modules expose a click command named ``command``.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("rapkit.cli.synth", "Write a synthetic COCO world with known depth order."),
    "extract-relations": ("rapkit.cli.extract_relations", "Extract occlusion relations from instance + panoptic GT."),
    "train": ("rapkit.cli.train", "Fine-tune the relation head on a frozen Mask R-CNN."),
    "predict": ("rapkit.cli.predict", "Score proposals with a trained relation head."),
    "fuse": ("rapkit.cli.fuse", "Fuse proposals (+ semantic) into COCO panoptic output."),
    "evaluate": ("rapkit.cli.evaluate", "PQ/SQ/RQ, relation accuracy, threshold sweeps."),
    "check": ("rapkit.cli.check", "Sanity report for a dataset or a prediction."),
    "demo": ("rapkit.cli.demo", "The whole pipeline on a synthetic world, in one command."),
}


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
    from ._common import config_default_map

    ctx.default_map = config_default_map(value, list(COMMANDS))
    return value


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: rapkit demo out/  (the whole pipeline on a synthetic world)",
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
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """rapkit: relation-aware panoptic segmentation toolkit (RAP).

    Extract occlusion relations, train a relation head, fuse proposals with Algorithm 1,
    evaluate PQ (panopticapi-exact) and relation accuracy, sweep fusion thresholds.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _interrupted(e: BaseException) -> bool:
    """Whether ``e`` was caused by a KeyboardInterrupt (anywhere in its cause/context chain)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _run(group: click.Group, args: list[str], prog_name: str, extra: dict) -> int:
    """Invoke the CLI and map every outcome to the documented exit code."""
    from ..errors import RapkitError

    debug = "--debug" in args
    try:
        rv = click.Group.main(group, args=args, prog_name=prog_name, standalone_mode=False, **extra)
        return rv if isinstance(rv, int) else 0
    except RapkitError as e:
        if debug:
            raise
        click.echo(f"rapkit: error: {e}", err=True)
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("rapkit: interrupted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except BrokenPipeError:
        return 0
    except Exception as e:  # pragma: no cover - last resort
        if _interrupted(e):
            # Ctrl-C landing inside compiled code (numba) surfaces as a SystemError
            # whose cause is the KeyboardInterrupt
            click.echo("rapkit: interrupted", err=True)
            return 130
        if debug:
            raise
        click.echo(f"rapkit: internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback)", err=True)
        return 70


def main(argv: list[str] | None = None) -> int:
    """Console entry point; exits with the documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    code = _run(cli, args, "rapkit", {})
    if argv is None:  # the process ends here (console script, python -m rapkit)
        _before_exit()
    sys.exit(code)


def _before_exit() -> None:
    """Leave every live object out of the interpreter's shutdown collections (``gc.freeze``):
    they would otherwise walk the whole heap (numba's object graph above all; about 0.25 s of
    a ``rapkit fuse`` process) only for the OS to reclaim the memory anyway. Only for a real
    process exit, never when :func:`main` is called with arguments (tests, embedding)."""
    import gc

    gc.freeze()
