"""How ``rapkit extract-relations`` scales with ``--workers`` (rows for benchmarks/scaling.py).

    python benchmarks/_scaling_extract.py                       # /tmp/w5000 if there, 5 rounds
    python benchmarks/_scaling_extract.py --world W --repeat 3 --before /tmp/main-tree

:func:`measure` returns one row per tree and worker count (keys: work, workers, wall_s, cpu_s,
startup_s, serial_ms_per_image, amdahl_8, amdahl_16, note). Measured:

* **whole process**: ``python -m rapkit extract-relations --instances W/instances.json
  --panoptic W/panoptic.json -o OUT --force`` as a user runs it, fresh each time,
  ``RAPKIT_FSYNC=0``, at 1 and 2 workers, trees and worker counts interleaved in each of
  ``--repeat`` rounds; wall and CPU (user + sys of the child) are medians; the note gives the
  images per second at that median and, for 2 workers, the median over rounds of the paired
  1->2 ratio. The world (``--world``) is ``rapkit synth -n 5000 --seed 0 --no-render``;
  without one, a world of ``--n-images`` is made under ``--data``.
* **start-up** (``startup_s``): the probe's CPU seconds from the call of
  :func:`rapkit.pipeline.relations.extract_dataset_relations` to the first image (both JSON
  files read and checked), plus the whole-process CPU of a one-image world (interpreter,
  imports, kernel loads).
* **serial per image** (``serial_ms_per_image``): the probe runs the extraction in one process
  with one worker and times, in thread CPU, everything inside rapkit's numba kernels (all
  ``nogil=True``), libdeflate's inflate and the file reads; the rest of the per-image CPU holds
  the GIL and cannot be shared by threads.
* **projection** (Amdahl): ``S`` = start-up + serial CPU of all images + the JSON writing,
  ``P`` = the per-image CPU outside the GIL, ``T(n) = S + P / n``, given as ``T(1) / T(n)``
  for n = 8 and 16: an upper bound (free cores, no cost to hand the GIL over).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _nogil_timer import thread_cpu_timer, wrap_kernels

HERE = Path(__file__).resolve().parent
TREE = HERE.parent


def _env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree), RAPKIT_FSYNC="0", RAPKIT_PROGRESS="off")


def _run(cmd: list[str], tree: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout) of one fresh process with ``tree`` on PYTHONPATH."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # cwd: not a source tree (``python -m`` puts the working directory before PYTHONPATH)
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(tree), cwd=tempfile.gettempdir())
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), r.stdout


def _extract_cmd(world: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "rapkit", "extract-relations", "--instances", str(world / "instances.json"),
            "--panoptic", str(world / "panoptic.json"), "-o", str(out), "--force", "--quiet",
            "--workers", str(workers)]  # fmt: skip


def _synth(root: Path, n: int) -> Path:
    if not (root / "instances.json").exists():
        cmd = [sys.executable, "-m", "rapkit", "synth", "-o", str(root), "-n", str(n), "--seed", "0", "--no-render"]
        subprocess.run(cmd, check=True, capture_output=True, env=_env(TREE))
    return root


def probe(warm: str, world: str) -> dict:
    """In this process (the tree on ``sys.path``): the CPU split of one extraction (module
    docstring); the kernels are loaded on ``warm`` (a tiny world) first."""

    import deflate

    from rapkit._runtime import process
    from rapkit.pipeline.relations import extract_dataset_relations

    process.tune_allocator()  # the command line's process settings
    process.command_gc()
    tmp = tempfile.mkdtemp(prefix="rapkit-extract-probe-")
    try:

        def go(w: str, out: str, **kw):
            return extract_dataset_relations(f"{w}/instances.json", f"{w}/panoptic.json", output=out, force=True, **kw)

        go(warm, f"{tmp}/warm.json")
        acc, timed = thread_cpu_timer()
        clock = time.thread_time
        wrap_kernels(timed)
        deflate.zlib_decompress = timed(deflate.zlib_decompress)
        Path.read_bytes = timed(Path.read_bytes)  # type: ignore[method-assign]
        marks: dict = {}

        def on_start(n: int) -> None:
            marks["start"] = clock()
            acc[0] = 0.0

        def progress(k: int) -> None:
            marks["last"] = (clock(), acc[0])

        t0 = clock()
        run = go(world, f"{tmp}/a.json", workers=1, on_start=on_start, progress=progress)
        t1 = clock()
        start1, (t_last, nogil) = marks["start"], marks["last"]
        go(world, f"{tmp}/b.json", workers=2, on_start=on_start)
        main2 = clock() - marks["start"]
        return {
            "startup_cpu": start1 - t0,
            "images_cpu": t_last - start1,
            "images_nogil_cpu": nogil,
            "write_cpu": t1 - t_last,
            "main_cpu_2_workers": main2,
            "images": run.totals["images"],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _probe(tree: Path, warm: Path, world: Path) -> dict:
    _, _, out = _run([sys.executable, str(HERE / "_scaling_extract.py"), "--probe", str(warm), str(world)], tree)
    return json.loads(out.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def measure(args: argparse.Namespace) -> list[dict]:
    """The rows (module docstring). ``args``: ``world``, ``data``, ``n_images``, ``repeat``,
    ``before`` (each optional)."""
    data = Path(getattr(args, "data", None) or "/tmp/rapkit-scaling").resolve()
    data.mkdir(parents=True, exist_ok=True)
    world = getattr(args, "world", None)
    n_world = int(getattr(args, "n_images", None) or 5000)
    # an existing world, or one made here (at ``world`` when given, else under ``data``)
    world = _synth(Path(world).resolve() if world else data / f"world{n_world}", n_world)
    one = _synth(data / "world1", 1)
    repeat = int(getattr(args, "repeat", None) or 5)
    trees = {"after": TREE}
    if getattr(args, "before", None):
        trees["before"] = Path(args.before).resolve()
    n_img = len(json.loads((world / "instances.json").read_bytes())["images"])
    tmp = Path(tempfile.mkdtemp(prefix="rapkit-scaling-extract-"))
    walls: dict = {(t, w): [] for t in trees for w in (1, 2)}
    cpus: dict = {(t, w): [] for t in trees for w in (1, 2)}
    starts: dict = {t: [] for t in trees}
    try:
        for t, tree in trees.items():  # warm: kernels compiled and cached, files in the page cache
            _run(_extract_cmd(world, tmp / f"{t}.json", 2), tree)
        for r in range(repeat):
            for t, tree in trees.items():
                for w in (1, 2):
                    wall, cpu, _ = _run(_extract_cmd(world, tmp / f"{t}-{w}.json", w), tree)
                    walls[t, w].append(wall)
                    cpus[t, w].append(cpu)
                starts[t].append(_run(_extract_cmd(one, tmp / f"{t}-one.json", 1), tree)[1])
            print(f"# round {r + 1}/{repeat} done, load {_load()}", file=sys.stderr)
        same = {(tmp / f"{t}-{w}.json").read_bytes() for t in trees for w in (1, 2)}
        rows = []
        for t, tree in trees.items():
            p = _probe(tree, one, world)
            start = p["startup_cpu"] + statistics.median(starts[t])
            serial_img = p["images_cpu"] - p["images_nogil_cpu"]
            s = start + serial_img + p["write_cpu"]
            par = p["images_nogil_cpu"]
            amdahl = {n: (s + par) / (s + par / n) for n in (8, 16)}
            ratio = statistics.median(a / b for a, b in zip(walls[t, 1], walls[t, 2]))
            for w in (1, 2):
                wall = statistics.median(walls[t, w])
                note = f"{t}: {n_img / wall:.0f} img/s"
                if w == 2:
                    note += f"; 1->2 {ratio:.2f}x; bytes same across trees and workers: {len(same) == 1}"
                rows.append({"work": "extract-relations", "workers": w, "wall_s": round(wall, 3),
                             "cpu_s": round(statistics.median(cpus[t, w]), 3), "startup_s": round(start, 3),
                             "serial_ms_per_image": round(1000 * serial_img / p["images"], 4),
                             "amdahl_8": round(amdahl[8], 2), "amdahl_16": round(amdahl[16], 2),
                             "note": note})  # fmt: skip
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        print(json.dumps(probe(sys.argv[2], sys.argv[3])))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", default="/tmp/w5000" if Path("/tmp/w5000/instances.json").exists() else None,
                    help="an existing synthetic world (default /tmp/w5000 when it exists)")  # fmt: skip
    ap.add_argument("--data", default="/tmp/rapkit-scaling", help="where inputs are made once")
    ap.add_argument("--n-images", type=int, default=5000, help="images of a world made here (default 5000)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--before", default=None, help="also measure this rapkit source tree (an older commit)")
    for row in measure(ap.parse_args()):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
