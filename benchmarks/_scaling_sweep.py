"""The sweep's rows of benchmarks/scaling.py: ``rapkit evaluate --sweep rho tau gamma`` (5x5x5
+ baseline) on a synthetic world, whole process at 1 and 2 workers, its start-up, the serial
(GIL-held) CPU per image and the Amdahl projection for 8 and 16 cores.

    python benchmarks/_scaling_sweep.py --world /tmp/w5000 --repeat 5     # the rows alone
    python benchmarks/scaling.py --only sweep --world /tmp/w5000          # the same, from there

* **whole process**: benchmarks/sweep.py's command, fresh each time, 1 and 2 workers
  interleaved per round; wall, CPU (user + sys) and peak RSS medians; the paired 1->2 ratio.
* **start-up**: the same command on a one-image world.
* **serial per image**: this file run with ``--probe WORLD`` runs :func:`rapkit.sweep` of the
  tree on ``PYTHONPATH`` in one process with one worker (after a warm-up on a two-image
  world) and times in thread CPU everything inside rapkit's numba kernels (compiled
  ``nogil``), libdeflate's inflate and ``Path.read_bytes``; the rest of the per-image CPU
  holds the GIL. Amdahl: ``S`` = the start-up CPU + the serial CPU of all images, ``P`` = the
  rest, ``T(n) = S + P / n``, printed as ``T(1) / T(n)``: an upper bound (free cores, a GIL
  handed over without loss).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
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
VALS = [0.4, 0.5, 0.6, 0.7, 0.8]


def _bench_sweep():
    spec = importlib.util.spec_from_file_location("bench_sweep", HERE / "sweep.py")
    m = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(m)  # type: ignore[union-attr]
    return m


def _world(root: Path, n: int):
    from rapkit.synth import WorldPaths

    if not (root / "proposals.json").exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "rapkit", "synth", "-o", str(root), "-n", str(n), "--seed", "0", "--no-render"]
        subprocess.run(
            [*cmd, "--quiet"], check=True, capture_output=True, cwd=TREE, env=dict(os.environ, PYTHONPATH=str(TREE))
        )
    return WorldPaths.under(root)


def probe(world: str) -> dict:
    """In this process: start-up and per-image CPU of a one-worker sweep, and its GIL-free part."""
    from rapkit._runtime import process
    from rapkit.pipeline.sweep import sweep

    process.tune_allocator()  # the command line's process settings (rapkit.cli.main)
    process.command_gc()
    kw = dict(rho=VALS, tau=VALS, gamma=VALS)
    tmp = tempfile.mkdtemp(prefix="rapkit-sweep-probe-")
    try:
        from rapkit.synth import SynthConfig, make_world

        w = make_world(Path(tmp) / "w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
        sweep(w.panoptic, w.proposals, semantic=w.semantic, **kw)  # kernels loaded before wrapping
        acc, timed = thread_cpu_timer()
        clock = time.thread_time
        wrap_kernels(timed)
        import deflate

        deflate.zlib_decompress = timed(deflate.zlib_decompress)
        Path.read_bytes = timed(Path.read_bytes)  # type: ignore[method-assign]
        marks = {}

        def on_start(n: int) -> None:
            marks["start"] = clock()
            acc[0] = 0.0

        t0 = clock()
        res = sweep(
            f"{world}/panoptic.json", f"{world}/proposals.json", semantic=f"{world}/semantic", on_start=on_start, **kw
        )
        t1 = clock()
        return {
            "startup_cpu": marks["start"] - t0,
            "loop_cpu": t1 - marks["start"],
            "nogil_cpu": acc[0],
            "images": res.n_images,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(args) -> list[dict]:
    """The sweep's rows: whole process at 1 and 2 workers, start-up, serial ms per image, Amdahl."""
    bs = _bench_sweep()
    root = Path(getattr(args, "data", None) or "/tmp/rapkit-scaling")
    world = (
        _world(Path(args.world), 0)
        if getattr(args, "world", None)
        else _world(root / f"w{args.n_images}", args.n_images)
    )
    one = _world(root / "w1", 1)
    tree = str(TREE)
    bs.run_child(bs.sweep_cmd(one, VALS[:2], 1), tree)  # the kernel cache, outside the timings
    runs: dict[int, list[tuple[float, float, float]]] = {}
    start: list[tuple[float, float]] = []
    for r in range(args.repeat):
        for wk in (1, 2) if r % 2 == 0 else (2, 1):
            wall, cpu, rss, _ = bs.run_child(bs.sweep_cmd(world, VALS, wk), tree)
            runs.setdefault(wk, []).append((wall, cpu, rss))
        wall, cpu, _, _ = bs.run_child(bs.sweep_cmd(one, VALS, 1), tree)
        start.append((wall, cpu))
        print(
            f"sweep round {r + 1}: 1 worker {runs[1][-1][0]:.1f} s, 2 workers {runs[2][-1][0]:.1f} s (load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    env = dict(os.environ, PYTHONPATH=tree, RAPKIT_FSYNC="0")
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe", str(world.root)],
        capture_output=True, text=True, env=env, cwd=tree, check=True,
    )  # fmt: skip
    p = json.loads(out.stdout.strip().splitlines()[-1])
    n = p["images"]
    med = statistics.median
    start_cpu = med(c for _, c in start)
    serial = (p["loop_cpu"] - p["nogil_cpu"]) / n
    s_tot = start_cpu + p["startup_cpu"] + serial * n
    t1 = s_tot + p["nogil_cpu"]
    amdahl = {k: t1 / (s_tot + p["nogil_cpu"] / k) for k in (2, 8, 16)}
    ratios = [a[0] / b[0] for a, b in zip(runs[1], runs[2])]
    rows = []
    for wk in (1, 2):
        rows.append(
            {
                "work": f"evaluate --sweep 5x5x5 + baseline, {n} images",
                "workers": wk,
                "wall_s": med(x[0] for x in runs[wk]),
                "cpu_s": med(x[1] for x in runs[wk]),
                "peak_mb": max(x[2] for x in runs[wk]),
                "startup_s": med(w for w, _ in start),
                "serial_ms_per_image": 1e3 * serial,
                "serial_share": serial * n / p["loop_cpu"],
                "amdahl_2": amdahl[2],
                "amdahl_8": amdahl[8],
                "amdahl_16": amdahl[16],
                "note": f"peak {max(x[2] for x in runs[wk]):.0f} MB"
                + (f"; 1->2 paired {med(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if wk == 2 else ""),
            }
        )
    return rows


def print_rows(rows: list[dict]) -> None:
    print(
        "| work | workers | wall s | CPU s | peak MB | start-up s | serial ms/img (share) | Amdahl 2 / 8 / 16 | note |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['work']} | {r['workers']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['startup_s']:.2f} | {r['serial_ms_per_image']:.3f} ({100 * r['serial_share']:.0f}%) | "
            f"{r['amdahl_2']:.2f}x / {r['amdahl_8']:.2f}x / {r['amdahl_16']:.2f}x | {r['note']} |"
        )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        print(json.dumps(probe(sys.argv[2])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/rapkit-scaling", help="where inputs are made once")
    ap.add_argument("--world", default=None, help="an existing synthetic world (rapkit synth)")
    ap.add_argument("--n-images", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    print_rows(measure(ap.parse_args()))


if __name__ == "__main__":
    main()
