"""rapkit.kernels.background: a background process compiles into the shared numba cache, is
skipped when the kernels are cached, and never outlives its parent."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from rapkit.kernels import background


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # exited, waiting to be reaped


def _wait_gone(pid: int, seconds: float = 20.0) -> bool:
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return False


def test_all_cached_follows_the_cache(tmp_path, monkeypatch):
    (tmp_path / "bg_tiny_kernel.py").write_text(
        "from numba import njit\n\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("bg_tiny_kernel")
    assert background.all_cached([mod]) is False
    assert mod.twice(21) == 42
    assert background.all_cached([mod]) is True
    assert background.all_cached([]) is True


def test_close_stops_the_child_and_removes_its_folder(tmp_path, monkeypatch):
    from rapkit.kernels import sweep

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty-cache"))
    bg = background.precompile(["synth", "-o", "{out}", "-n", "3", "--height", "64", "--width", "64"], modules=[sweep])
    if not bg.started:  # the test process's own cache already holds sweep: force a start
        bg = background.Precompile(
            subprocess.Popen([sys.executable, "-m", "rapkit.kernels.background", "--version"], stdin=subprocess.PIPE),
            str(tmp_path / "folder"),
        )
    pid = bg._proc.pid
    folder = bg._folder
    bg.close()
    assert _gone(pid) and not Path(folder).exists()
    bg.close()  # twice is fine


def test_child_exits_when_the_parent_dies(tmp_path):
    """The parent is killed without closing the handle: the child sees the pipe close."""
    parent = textwrap.dedent(
        """
        import os, sys
        from rapkit.kernels import background, sweep
        bg = background.precompile(["demo", "-o", "{out}", "-n", "4", "--height", "64", "--width", "64",
                                    "--no-render", "--quiet"], modules=[sweep])
        print(bg._proc.pid if bg.started else -1, flush=True)
        sys.stdin.readline()
        os._exit(0)  # no close(), no atexit: as after kill -9
        """
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.Popen(
        [sys.executable, "-c", parent], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    pid = int(p.stdout.readline())
    assert pid > 0
    assert not _gone(pid)  # compiling into an empty cache: still at work
    p.stdin.write("\n")
    p.stdin.flush()
    p.wait(30)
    assert _wait_gone(pid), "background compile outlived its parent"


def test_background_compile_leaves_nothing_to_compile(tmp_path):
    """After a background ``rapkit extract-relations`` the same command in the foreground
    compiles no kernel: it loads every one the background compiled."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    w = tmp_path / "world"
    synth = [sys.executable, "-m", "rapkit", "synth", "-o", str(w), "-n", "2", "--height", "64", "--width", "64"]
    r = subprocess.run([*synth, "--no-render"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    args = ["extract-relations", "--instances", str(w / "instances.json"), "--panoptic", str(w / "panoptic.json")]
    code = textwrap.dedent(
        f"""
        from rapkit.kernels import background, relations
        bg = background.precompile({[*args, "-o", "{out}"]!r}, modules=[relations])
        assert bg.started
        assert bg.wait(600)
        bg.close()
        print(background.precompile(["--version"], modules=[relations]).started)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False"]  # cached now: a second precompile starts nothing
    env["RAPKIT_NUMBA_EVENTS"] = str(tmp_path / "events.json")
    cmd = [sys.executable, "-m", "rapkit", *args, "-o", str(tmp_path / "rel.json")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "events.json").read_text())
    assert rec["compiles"] == [] and "rapkit: compiled" not in r.stderr
    assert any(c["kernel"].startswith("rapkit.kernels.relations.") for c in rec["loads"])
