"""Shared CLI machinery: exit codes, config files, atomic outputs, report rendering."""

import json
import os
import subprocess
import sys

import pytest

from rapkit.cli._common import config_default_map
from rapkit.errors import ConfigError, InputError
from rapkit.io._atomic import atomic_path, write_text_atomic
from rapkit.report import Report, Table, render


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rapkit", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and "rapkit" in r.stdout
    r = run("--help")
    assert r.returncode == 0 and "extract-relations" in r.stdout and "Example" in r.stdout


def test_unknown_command_is_usage_error():
    r = run("no-such-command")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_config_file_supplies_defaults(tmp_path):
    cfg = tmp_path / "rapkit.toml"
    cfg.write_text("quiet = true\n[synth]\nheight = 64\nwidth = 80\nno-render = true\n")
    out = tmp_path / "w"
    r = run("--config", str(cfg), "synth", "-o", str(out), "-n", "1", "--format", "json")
    assert r.returncode == 0, r.stderr
    from PIL import Image

    png = next((out / "panoptic").iterdir())
    assert Image.open(png).size == (80, 64)
    assert not list((out / "images").iterdir())


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError):
        config_default_map(str(bad), ["synth"])
    unknown = tmp_path / "u.toml"
    unknown.write_text("[nosuch]\na = 1\n")
    with pytest.raises(ConfigError, match="nosuch"):
        config_default_map(str(unknown), ["synth"])
    r = run("--config", str(bad), "synth", "-o", str(tmp_path / "w"))
    assert r.returncode == 2 and "malformed TOML" in r.stderr and "Traceback" not in r.stderr


def test_atomic_path_keeps_old_output_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_text_atomic(target, "old")
    with pytest.raises(ConfigError):
        write_text_atomic(target, "new")
    with pytest.raises(RuntimeError):
        with atomic_path(target, force=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]
    write_text_atomic(target, "new", force=True)
    assert target.read_text() == "new"


def test_atomic_directory_replace(tmp_path):
    target = tmp_path / "outdir"
    with atomic_path(target, directory=True) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, force=True, directory=True) as tmp:
            (tmp / "b").write_text("2")
            raise KeyboardInterrupt
    assert sorted(os.listdir(target)) == ["a"]
    assert os.listdir(tmp_path) == ["outdir"]
    with atomic_path(target, force=True, directory=True) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(os.listdir(target)) == ["b"]


def test_error_message_names_location():
    e = InputError("id in PNG but not in JSON", file="p.json", image_id=139, segment_id=4210752)
    assert str(e) == "p.json: image 139, segment 4210752: id in PNG but not in JSON"
    assert e.exit_code == 3 and ConfigError("x").exit_code == 2


def test_report_formats():
    rep = Report("t", {"a": 1.5, "nan": float("nan")}, [Table("x", ["name", "v"], [["r", 0.25]])], notes=["reading"])
    assert json.loads(render(rep, "json")) == {
        "schema_version": 2,
        "kind": "t",
        "unit": "percent",
        "a": 1.5,
        "nan": None,
    }
    assert render(rep, "csv").splitlines() == ["name,v", "r,0.25"]
    text = render(rep, "table")
    assert "0.2" in text and "reading" in text


def test_interrupt_inside_compiled_code_exits_130():
    """Ctrl-C inside a numba kernel surfaces as SystemError caused by KeyboardInterrupt."""
    import click

    from rapkit.cli import _run

    @click.group()
    def g():
        pass

    @g.command()
    def boom():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as k:
            raise SystemError("CPUDispatcher(...) returned a result with an exception set") from k

    @g.command()
    def bug():
        raise SystemError("a real internal error")

    assert _run(g, ["boom"], "rapkit", {}) == 130
    assert _run(g, ["bug"], "rapkit", {}) == 70
