"""One vocabulary: every option of every command has help, and the same option name means
the same thing in every command (a table of names and meanings that fails when a command
breaks it). Walks the click command objects, then every ``--help``."""

from __future__ import annotations

import importlib

import click
import pytest

from rapkit.cli import COMMANDS
from rapkit.cli._common import FORMATS, float_list

ARCHS = (
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
    "resnet18_fpn",
    "resnet34_fpn",
    "resnet50_fpn",
    "resnet101_fpn",
)


def _cmd(name: str) -> click.Command:
    return importlib.import_module(COMMANDS[name][0]).command


def _path(p, *, file: bool, folder: bool) -> bool:
    t = p.type
    return isinstance(t, click.Path) and bool(t.file_okay) == file and bool(t.dir_okay) == folder


def _count(p, minimum: int = 0) -> bool:
    t = p.type
    return isinstance(t, click.types.IntRange) and t.min is not None and t.min >= minimum and not p.is_flag


def _threshold(p) -> bool:
    t = p.type
    one = isinstance(t, click.types.FloatRange) and t.min == 0 and t.max == 1
    return one or p.callback is float_list


def _choice(values):
    return lambda p: isinstance(p.type, click.Choice) and set(p.type.choices) == set(values)


folder = lambda p: _path(p, file=False, folder=True)
json_file = lambda p: _path(p, file=True, folder=False)
file_or_folder = lambda p: _path(p, file=True, folder=True)
flag = lambda p: p.is_flag

#: option -> (meaning, test). Every option name used by two or more commands must be here.
MEANING = {
    "--images": ("a folder of images", folder),
    "--image-info": ("a COCO JSON with an 'images' list", json_file),
    "--num-images": ("a count of images (-n)", lambda p: _count(p, 1) and "-n" in p.opts),
    "--output": ("the output file or folder (-o)", lambda p: "-o" in p.opts and isinstance(p.type, click.Path)),
    "--detector": ("the detector checkpoint file", json_file),
    "--workers": (
        "worker processes, 0 = every core, default 1 (-j)",
        lambda p: _count(p, 0) and p.type.min == 0 and p.default == 1 and "-j" in p.opts,
    ),
    "--format": ("table|json|csv", _choice(FORMATS)),
    "--quiet": ("no progress on stderr (-q)", lambda p: p.is_flag and "-q" in p.opts),
    "--force": ("replace an existing output", flag),
    "--seed": ("random seed", lambda p: p.type is click.INT),
    "--height": ("image height in pixels", lambda p: _count(p, 1)),
    "--width": ("image width in pixels", lambda p: _count(p, 1)),
    "--no-render": ("skip the JPEGs", flag),
    "--proposals": ("a COCO results JSON", json_file),
    "--instances": ("a COCO instances JSON", json_file),
    "--relations": ("a relations JSON", json_file),
    "--train-relations": ("the training relations JSON", json_file),
    "--train-instances": ("the instances JSON of the training relations", json_file),
    "--categories": ("COCO panoptic categories JSON", json_file),
    "--semantic": ("semantic PNG folder or COCO-stuff JSON", file_or_folder),
    "--gt": ("GT panoptic JSON", json_file),
    "--pred": ("predicted panoptic JSON", json_file),
    "--gt-dir": ("GT PNG folder", folder),
    "--pred-dir": ("predicted PNG folder", folder),
    "--panoptic": ("panoptic JSON", json_file),
    "--panoptic-dir": ("panoptic PNG folder", folder),
    "--rho": ("score threshold(s) in [0, 1]", _threshold),
    "--tau": ("overlap threshold(s) in [0, 1]", _threshold),
    "--gamma": ("excessive-overlap threshold(s) in [0, 1]", _threshold),
    "--stuff-area": ("minimum stuff area in pixels", lambda p: _count(p, 0)),
    "--variant": (
        "paper|reference, and original where --strategy ocfusion is offered",
        lambda p: _choice(["paper", "reference"])(p) or _choice(["paper", "reference", "original"])(p),
    ),
    "--strategy": (
        "the fusion rule, rap by default (fuse: rap|heuristic|ocfusion; evaluate: rap|ocfusion)",
        lambda p: (
            p.default == "rap" and (_choice(["rap", "heuristic", "ocfusion"])(p) or _choice(["rap", "ocfusion"])(p))
        ),
    ),
    "--arch": ("detector architecture", _choice(ARCHS)),
    "--device": ("auto, cpu or cuda[:N]", lambda p: p.type is click.STRING and p.default == "auto"),
    "--amp": ("mixed precision on/off", lambda p: p.is_flag and p.secondary_opts == ["--no-amp"]),
    "--batch-size": ("images per batch", lambda p: _count(p, 1)),
    "--max-size": ("longest image side, in pixels", lambda p: _count(p, 1)),
    "--sweep": ("evaluate's sweep flag", flag),
    "--ablation": ("evaluate's ablation flag", flag),
    "--labels": ("how detector labels map to category ids", _choice(["auto", "coco", "contiguous"])),
    "--ids": ("image ids, comma-separated", lambda p: p.type is click.STRING),
    "--first": ("the first N images (a count)", lambda p: _count(p, 0)),
    "--metric": (
        "a metric by name (evaluate: pq, boundary, pq-dagger, comma-separated; show: a sweep column)",
        lambda p: p.type is click.STRING and not p.multiple,
    ),
    "--alpha": ("blend opacity in [0, 1]", lambda p: isinstance(p.type, click.types.FloatRange) and p.type.max == 1),
}
#: (command, option) pairs known to break the table, each a failing case until renamed
#: (command, option) pairs allowed to differ from MEANING, with the reason; empty: none today
KNOWN_CONFLICTS: dict[tuple[str, str], str] = {}
#: short flags: one meaning each
SHORT = {"-o": "--output", "-n": "--num-images", "-j": "--workers", "-q": "--quiet"}


def all_commands():
    """(name, command) of every command, subcommands of groups (``show overlay``) included."""
    for name in COMMANDS:
        cmd = _cmd(name)
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for sub in cmd.list_commands(ctx):
                yield f"{name} {sub}", cmd.get_command(ctx, sub)
        else:
            yield name, cmd


def _by_name(name: str) -> click.Command:
    return dict(all_commands())[name]


def all_options():
    for name, cmd in all_commands():
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                yield name, p


def _long(p) -> str:
    return next(o for o in p.opts if o.startswith("--"))


@pytest.mark.parametrize("name,param", [pytest.param(n, p, id=f"{n}:{_long(p)}") for n, p in all_options()])
def test_option_has_help_and_default(name, param):
    assert param.help and param.help.strip(), f"rapkit {name} {_long(param)} has no help text"
    unset = getattr(click._utils, "UNSET", None) if hasattr(click, "_utils") else None
    has_default = (
        param.default not in (None, (), []) and param.default is not unset and not param.is_flag and not param.required
    )
    if has_default and not param.show_default:
        ctx = _by_name(name).context_settings
        assert ctx.get("show_default"), f"rapkit {name} {_long(param)}: default {param.default!r} not shown in --help"


def _meaning_cases():
    for n, p in all_options():
        if _long(p) in MEANING:
            why = KNOWN_CONFLICTS.get((n, _long(p)))
            marks = [pytest.mark.xfail(strict=True, reason=f"known conflict: {why}")] if why else []
            yield pytest.param(n, p, id=f"{n}:{_long(p)}", marks=marks)


@pytest.mark.parametrize("name,param", list(_meaning_cases()))
def test_same_name_same_meaning(name, param):
    meaning, ok = MEANING[_long(param)]
    assert ok(param), f"rapkit {name} {_long(param)} does not mean {meaning!r}"


def test_shared_names_are_in_the_table():
    uses: dict[str, set[str]] = {}
    for name, p in all_options():
        uses.setdefault(_long(p), set()).add(name)
        for o in p.opts + p.secondary_opts:
            if o in SHORT:
                assert SHORT[o] in p.opts, f"rapkit {name}: {o} is {_long(p)}, elsewhere {SHORT[o]}"
    shared = {o for o, cmds in uses.items() if len(cmds) > 1}
    missing = shared - set(MEANING)
    assert not missing, f"options used by several commands without a declared meaning: {sorted(missing)}"


def test_every_writing_command_has_dash_o_output_and_no_positional_output():
    for name, cmd in all_commands():
        args = [p.name for p in cmd.params if isinstance(p, click.Argument)]
        assert args in ([], ["sweep_params"]), f"rapkit {name} has positional arguments {args}"
        if name != "check":
            assert any("--output" in p.opts and "-o" in p.opts for p in cmd.params), f"rapkit {name} lacks -o/--output"


def test_workers_zero_means_every_core(monkeypatch):
    from rapkit.cli._common import resolve_workers

    monkeypatch.setattr("rapkit.cli._common.available_cores", lambda: 64)
    assert resolve_workers(0) == 64 and resolve_workers(3) == 3


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_has_an_example_and_explains_arch(cli, name):
    code, out, err = cli(name, "--help")
    assert code == 0, err
    assert "Example" in out
    if name in ("train", "predict"):
        for arch in ARCHS:  # one line per choice
            assert any(line.strip().startswith(f"{arch}:") for line in out.splitlines()), arch
        if name == "train":
            assert "[default: maskrcnn_resnet50_fpn]" in out
