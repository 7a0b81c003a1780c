"""The first run's one-line compile notice (rapkit._runtime.notice), in real processes.

A tiny command module (one kernel made with rapkit's ``njit``, compiled in well under a
second) is registered in the CLI's command table of a subprocess that runs the console entry
point, so the path is the real one: ``main()`` enables the record before numba is imported,
the command imports numba and compiles, and the notice is printed at exit. A fresh
``NUMBA_CACHE_DIR`` makes the first run cold; the second run loads from it and stays quiet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

TINY = textwrap.dedent(
    """
    import json

    import click

    from rapkit._runtime.jit import njit


    @njit
    def add_one(x):
        return x + 1


    @click.command()
    @click.option("--format", "fmt", default="table")
    def command(fmt):
        v = add_one(41)
        click.echo(json.dumps({"value": v}) if fmt == "json" else str(v))
    """
)

RUN = (
    "import sys, rapkit.cli as c; c.COMMANDS['tiny'] = ('tiny_cmd', 'A test command.'); "
    "sys.argv = ['rapkit', 'tiny', '--format', 'json']; c.main()"
)


def _run(tmp_path, cache, events=None, code=RUN):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    env.pop("RAPKIT_NUMBA_EVENTS", None)
    if events is not None:
        env["RAPKIT_NUMBA_EVENTS"] = str(events)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def test_notice_once_when_cold_and_never_when_warm(tmp_path):
    (tmp_path / "tiny_cmd.py").write_text(TINY)
    cache = tmp_path / "nbcache"
    cold = _run(tmp_path, cache, events=tmp_path / "cold.json")
    lines = [ln for ln in cold.stderr.splitlines() if ln.startswith("rapkit: compiled")]
    assert len(lines) == 1, cold.stderr
    assert lines[0].startswith("rapkit: compiled 1 numba kernel on first use in ")
    assert f"(one-time; cached in {cache}" in lines[0]
    assert json.loads(cold.stdout) == {"value": 42}  # stdout untouched under --format json
    rec = json.loads((tmp_path / "cold.json").read_text())
    assert [c["kernel"] for c in rec["compiles"]] == ["tiny_cmd.add_one"] and rec["loads"] == []
    assert rec["compiles"][0]["seconds"] > 0 and rec["compiles"][0]["inside"] is None

    warm = _run(tmp_path, cache, events=tmp_path / "warm.json")
    assert "compiled" not in warm.stderr, warm.stderr
    assert json.loads(warm.stdout) == {"value": 42}
    rec = json.loads((tmp_path / "warm.json").read_text())
    assert rec["compiles"] == [] and [c["kernel"] for c in rec["loads"]] == ["tiny_cmd.add_one"]


def test_a_library_call_records_nothing(tmp_path):
    """Without the command line, no listener is registered with numba and nothing is printed."""
    (tmp_path / "tiny_cmd.py").write_text(TINY)
    code = (
        "import tiny_cmd; from numba.core import event; from rapkit._runtime import notice; "
        "print(tiny_cmd.add_one(1), notice._state.installed, len(event._registered.get('numba:compile', [])))"
    )
    r = _run(tmp_path, tmp_path / "nbcache", code=code)
    assert r.stdout.split() == ["2", "False", "0"] and "compiled" not in r.stderr


def test_enabling_imports_no_numba():
    code = (
        "import sys; from rapkit._runtime import notice; notice.enable(); "
        "print('numba' in sys.modules); import rapkit._runtime.jit; print(notice._state.installed)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["False", "True"], r.stderr
