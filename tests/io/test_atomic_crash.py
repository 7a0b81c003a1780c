"""``kill -9`` during ``rapkit fuse`` and ``rapkit evaluate --sweep --output``, each into a folder
that already holds an output, at every named stage of the atomic write
(``RAPKIT_TEST_PAUSE_AT``, see ``rapkit/io/_atomic.py``): the old output stays byte-identical
(or, in the documented window between the two renames of a folder swap without
RENAME_EXCHANGE, complete under ``.NAME.rapkit-old`` and restored by the next run); the next
run leaves no temporaries and reports those it removed. Two concurrent ``fuse -o same
--force`` runs never leave a mixed folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="SIGKILL, flock")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("crash")
    return make_world(root / "w", SynthConfig(n_images=4, height=64, width=80, seed=5, render_images=False))


def option(command: str, dest: str) -> str:
    """The spelling of a command's option (other work renames options; tests follow)."""
    import importlib

    cmd = importlib.import_module(f"rapkit.cli.{command}").command
    return next(p.opts[0] for p in cmd.params if p.name == dest)


def fuse_args(world, out: Path, strategy: str) -> list[str]:
    return [
        "fuse",
        "--proposals",
        str(world.proposals),
        option("fuse", "images_path"),
        str(world.instances),
        "--categories",
        str(world.categories),
        "--semantic",
        str(world.semantic),
        "-o",
        str(out),
        "--strategy",
        strategy,
        "--force",
        "-q",
    ]


def sweep_args(world, out: Path, rhos: str) -> list[str]:
    return [
        "evaluate",
        "--sweep",
        "rho",
        "--gt",
        str(world.panoptic),
        "--proposals",
        str(world.proposals),
        "--semantic",
        str(world.semantic),
        "--rho",
        rhos,
        "-o",
        str(out),
        "--force",
        "-q",
    ]


def env(**extra: str) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RAPKIT_TEST_")}
    e.update(extra)
    return e


def rapkit(args: list[str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rapkit", *args],
        capture_output=True,
        text=True,
        env=env(**extra),
        timeout=300,
        check=False,
    )


def snapshot(path: Path) -> dict[str, bytes]:
    """Relative path -> bytes of a file or of every file under a folder."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def kill_at(args: list[str], stage: str, tmp_path: Path, **extra: str) -> int:
    """Start rapkit, SIGKILL it once it has paused at ``stage``; return its pid."""
    mark = tmp_path / f"paused-{stage}"
    mark.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapkit", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(RAPKIT_TEST_PAUSE_AT=stage, RAPKIT_TEST_PAUSE_FILE=str(mark), **extra),
    )
    try:
        deadline = time.monotonic() + 240
        while not (mark.exists() and mark.read_text().strip() == stage):
            if proc.poll() is not None:
                raise AssertionError(f"rapkit ended (exit {proc.returncode}) before {stage}: {proc.stderr.read()}")
            assert time.monotonic() < deadline, f"never reached {stage}"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return proc.pid


@pytest.fixture(scope="module")
def fused(world, tmp_path_factory):
    """Reference outputs of the two fuse runs: the old (heuristic) and the new (rap)."""
    root = tmp_path_factory.mktemp("ref")
    for s in ("heuristic", "rap"):
        r = rapkit(fuse_args(world, root / s, s))
        assert r.returncode == 0, r.stderr
    return {s: root / s for s in ("heuristic", "rap")}


# stage -> what the output path holds right after the kill
BEFORE = ("locked", "temp-created", "temp-written", "synced")
AFTER = ("renamed",)


@pytest.mark.parametrize(
    "stage,exchange", [*((s, "1") for s in BEFORE + AFTER), ("between-renames", "0"), ("renamed", "0")]
)
def test_fuse_killed_at_each_stage(world, fused, tmp_path, stage, exchange):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(fused["heuristic"], out)
    old, new = snapshot(fused["heuristic"]), snapshot(fused["rap"])
    pid = kill_at(fuse_args(world, out, "rap"), stage, tmp_path, RAPKIT_ATOMIC_EXCHANGE=exchange)
    debris = sorted(p.name for p in runs.iterdir() if p.name != "out")
    if stage in BEFORE:
        assert snapshot(out) == old  # byte-identical
    elif stage == "between-renames":
        assert not out.exists() and snapshot(runs / ".out.rapkit-old") == old  # recoverable
    else:
        assert snapshot(out) == new  # the new one is complete and in place
    if stage != "locked":
        assert any(f"rapkit-tmp-{pid}-" in n for n in debris) or stage in AFTER + ("between-renames",)
    # the next run: no --force needed to see the old output restored, then judged
    stderr = ""
    if stage == "between-renames":
        r = rapkit(fuse_args(world, out, "rap")[:-2] + ["-q"])
        assert r.returncode == 2 and "--force" in r.stderr and f"restored {out}" in r.stderr, r.stderr
        assert snapshot(out) == old
        stderr += r.stderr
    r = rapkit(fuse_args(world, out, "rap"))
    assert r.returncode == 0, r.stderr
    stderr += r.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["out"]  # no temporaries, locks, backups
    assert snapshot(out) == new
    for n in debris:
        if "rapkit-tmp" in n:
            assert f"removed {runs / n}, a temporary of rapkit process {pid} that no longer runs" in stderr


@pytest.mark.parametrize("stage", ["temp-created", "temp-written", "synced", "renamed"])
def test_sweep_output_killed_at_each_stage(world, tmp_path, stage):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "sweep.csv"
    r = rapkit(sweep_args(world, out, "0.5"))
    assert r.returncode == 0, r.stderr
    old = out.read_bytes()
    pid = kill_at(sweep_args(world, out, "0.5,0.7"), stage, tmp_path)
    debris = sorted(p.name for p in runs.iterdir() if p.name != "sweep.csv")
    if stage == "renamed":
        assert out.read_bytes() != old and out.read_bytes().count(b"\n") > old.count(b"\n")
    else:
        assert out.read_bytes() == old
        assert [n for n in debris if "rapkit-tmp" in n] == [
            f for f in debris if f.startswith(f".sweep.csv.rapkit-tmp-{pid}-")
        ]
        assert len([n for n in debris if "rapkit-tmp" in n]) == 1
    r = rapkit(sweep_args(world, out, "0.5,0.7"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["sweep.csv"]
    if stage != "renamed":
        assert f"a temporary of rapkit process {pid} that no longer runs" in r.stderr


def test_fuse_killed_after_random_delays(world, fused, tmp_path):
    """No hook: SIGKILL at arbitrary moments (start-up, reading, fusing, writing, renaming)."""
    import random

    rng = random.Random(13)
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(fused["heuristic"], out)
    old, new = snapshot(fused["heuristic"]), snapshot(fused["rap"])
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "rapkit", *fuse_args(world, out, "rap")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env(),
        )
        time.sleep(rng.uniform(0.2, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert snapshot(out) in (old, new)
        if snapshot(out) == new:
            shutil.rmtree(out)
            shutil.copytree(fused["heuristic"], out)
    r = rapkit(fuse_args(world, out, "rap"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["out"] and snapshot(out) == new


def test_concurrent_writer_gets_exit_2_while_the_first_finishes(world, fused, tmp_path):
    """Documented outcome: the second writer of an output that is being written fails at once
    with exit 2 (ConfigError naming the other process); the first completes."""
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(fused["heuristic"], out)
    mark = tmp_path / "mark"
    first = subprocess.Popen(
        [sys.executable, "-m", "rapkit", *fuse_args(world, out, "rap")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(RAPKIT_TEST_PAUSE_AT="temp-written:12", RAPKIT_TEST_PAUSE_FILE=str(mark)),
    )
    try:
        deadline = time.monotonic() + 240
        while not mark.exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        second = rapkit(fuse_args(world, out, "heuristic") + ["--format", "json"])
        assert second.returncode == 2
        assert f"another rapkit process (pid {first.pid}) is writing this output" in second.stderr
        import json

        err = json.loads(second.stdout.strip().splitlines()[-1])["error"]
        assert err["code"] == 2 and "another rapkit process" in err["message"]
        assert first.wait(timeout=240) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stderr.close()
    assert sorted(p.name for p in runs.iterdir()) == ["out"] and snapshot(out) == snapshot(fused["rap"])


def test_two_concurrent_fuse_runs_never_mix(world, fused, tmp_path):
    """Racing ``fuse -o same --force`` runs (different strategies): each exits 0, or 2 when the
    other holds the output; the folder is exactly one of the two complete outputs."""
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(fused["heuristic"], out)
    refs = {s: snapshot(p) for s, p in fused.items()}
    for _ in range(2):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "rapkit", *fuse_args(world, out, s)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env(),
            )
            for s in ("rap", "heuristic")
        ]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        for p in procs:
            p.stderr.close()
        assert any(code == 0 for code, _ in results), results
        for code, err in results:
            assert code in (0, 2), err
            if code == 2:
                assert "another rapkit process" in err, err
        assert snapshot(out) in refs.values()
        assert sorted(p.name for p in runs.iterdir()) == ["out"]
