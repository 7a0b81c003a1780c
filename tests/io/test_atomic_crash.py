"""``kill -9`` during ``rapkit fuse`` and ``rapkit evaluate --sweep --output``, each into a folder
that already holds an output, at every named stage of the atomic write: the old output stays byte-identical
(or, in the documented window between the two renames of a folder swap without
RENAME_EXCHANGE, complete under ``.NAME.rapkit-old`` and restored by the next run); the next
run leaves no temporaries and reports those it removed. Two concurrent ``fuse -o same
--force`` runs never leave a mixed folder.

The package has no test hooks: the child that is killed runs rapkit through :data:`LAUNCHER`,
which patches the seams of ``rapkit.io._atomic`` in that child only (see the module's
docstring) so that it announces each stage and stops there, then calls ``rapkit.cli.main()``."""

from __future__ import annotations

import json
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


def rapkit(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rapkit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


#: The stages of an atomic write, in order (see rapkit/io/_atomic.py).
STAGES = ("locked", "temp-created", "temp-written", "synced", "between-renames", "renamed", "old-removed")

#: Runs ``rapkit ARGS`` with the atomic write stopped at one stage: ``python LAUNCHER SPEC ARGS``,
#: SPEC a JSON object with ``stage``, ``mark`` (a file the stage is appended to when reached),
#: ``seconds`` (how long to stop; null: until killed) and ``exchange`` (false: behave as a
#: filesystem without RENAME_EXCHANGE, so a folder takes the two-rename path).
LAUNCHER = r"""
import json
import os
import sys
import time

spec = json.loads(sys.argv[1])
sys.argv = ["rapkit", *sys.argv[2:]]

from rapkit import cli
from rapkit.io import _atomic as A


def pause(stage):
    if stage != spec["stage"]:
        return
    with open(spec["mark"], "a") as f:
        f.write(stage + "\n")
    sys.stderr.write(f"rapkit-test: paused at {stage}\n")
    sys.stderr.flush()
    if spec["seconds"] is not None:
        time.sleep(spec["seconds"])
    else:
        while True:  # until killed
            time.sleep(3600)


def is_temp(path):
    return A.parse_temp_name(os.path.basename(os.fsdecode(path))) is not None


def then(fn, stage):
    def wrapped(*a, **kw):
        result = fn(*a, **kw)
        pause(stage)
        return result

    return wrapped


class Os:
    # rapkit.io._atomic's os: the real one, except that the calls that create and rename
    # the temporary announce their stage
    def __getattr__(self, name):
        return getattr(os, name)

    def mkdir(self, path, *a, **kw):
        os.mkdir(path, *a, **kw)
        if is_temp(path):
            pause("temp-created")

    def open(self, path, flags, *a, **kw):
        fd = os.open(path, flags, *a, **kw)
        if flags & os.O_EXCL and is_temp(path):
            pause("temp-created")
        return fd

    def rename(self, src, dst, *a, **kw):
        if is_temp(src):  # NAME is already under .NAME.rapkit-old
            pause("between-renames")
        os.rename(src, dst, *a, **kw)
        if is_temp(src):
            pause("renamed")

    def replace(self, src, dst, *a, **kw):
        os.replace(src, dst, *a, **kw)
        if is_temp(src):
            pause("renamed")


def fsync_tree(p, _real=A.fsync_tree, **kw):
    pause("temp-written")
    _real(p, **kw)
    pause("synced")


def exchange(a, b, _real=A._exchange):
    if not spec["exchange"]:
        return False
    done = _real(a, b)
    if done:
        pause("renamed")
    return done


A.os = Os()
A._acquire = then(A._acquire, "locked")
A.fsync_tree = fsync_tree
A._exchange = exchange
A._commit = then(A._commit, "old-removed")
cli.main()
"""


@pytest.fixture(scope="module")
def launcher(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("launcher") / "stop_at_stage.py"
    p.write_text(LAUNCHER)
    return p


def stopped_at(
    launcher: Path, args: list[str], stage: str, mark: Path, *, seconds: float | None = None, exchange: bool = True
) -> subprocess.Popen:
    """Start ``rapkit ARGS`` that stops at ``stage`` (for ``seconds``, or until killed) and
    appends the stage to ``mark`` when it gets there."""
    assert stage in STAGES
    spec = {"stage": stage, "mark": str(mark), "seconds": seconds, "exchange": exchange}
    return subprocess.Popen(
        [sys.executable, str(launcher), json.dumps(spec), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def snapshot(path: Path) -> dict[str, bytes]:
    """Relative path -> bytes of a file or of every file under a folder."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def kill_at(launcher: Path, args: list[str], stage: str, tmp_path: Path, *, exchange: bool = True) -> int:
    """Start rapkit, SIGKILL it once it has paused at ``stage``; return its pid."""
    mark = tmp_path / f"paused-{stage}"
    mark.unlink(missing_ok=True)
    proc = stopped_at(launcher, args, stage, mark, exchange=exchange)
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
AFTER = ("renamed", "old-removed")


@pytest.mark.parametrize(
    "stage,exchange", [*((s, True) for s in BEFORE + AFTER), ("between-renames", False), ("renamed", False)]
)
def test_fuse_killed_at_each_stage(launcher, world, fused, tmp_path, stage, exchange):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(fused["heuristic"], out)
    old, new = snapshot(fused["heuristic"]), snapshot(fused["rap"])
    pid = kill_at(launcher, fuse_args(world, out, "rap"), stage, tmp_path, exchange=exchange)
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
def test_sweep_output_killed_at_each_stage(launcher, world, tmp_path, stage):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "sweep.csv"
    r = rapkit(sweep_args(world, out, "0.5"))
    assert r.returncode == 0, r.stderr
    old = out.read_bytes()
    pid = kill_at(launcher, sweep_args(world, out, "0.5,0.7"), stage, tmp_path)
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


def test_concurrent_writer_gets_exit_2_while_the_first_finishes(launcher, world, fused, tmp_path):
    """Documented outcome: the second writer of an output that is being written fails at once
    with exit 2 (ConfigError naming the other process); the first completes."""
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(fused["heuristic"], out)
    mark = tmp_path / "mark"
    first = stopped_at(launcher, fuse_args(world, out, "rap"), "temp-written", mark, seconds=12)
    try:
        deadline = time.monotonic() + 240
        while not mark.exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        second = rapkit(fuse_args(world, out, "heuristic") + ["--format", "json"])
        assert second.returncode == 2
        assert f"another rapkit process (pid {first.pid}) is writing this output" in second.stderr
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
