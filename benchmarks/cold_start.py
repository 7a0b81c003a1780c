"""Cold start: the first ``rapkit demo`` after install (empty numba cache) against a warm one.

A new user's first run compiles every numba kernel the commands meet; later runs load them
from numba's on-disk cache. For each demo variant this script runs ``rapkit demo`` with a
fresh, empty ``NUMBA_CACHE_DIR`` (cold), then again with the same folder (warm), interleaved
over ``--repeat`` rounds (each round gets a new empty cache folder for its cold run), and
prints the medians of wall and CPU seconds (the process and its children), their ratio,
the load average, and a per-kernel table from ``RAPKIT_NUMBA_EVENTS`` (see
``rapkit/_runtime/notice.py``): compile seconds of each kernel in the cold run (CPU of the
compiling thread; nested kernels are inside their caller's time) and cache-load
milliseconds in the warm run. The target: cold <= 1.5x warm for the demo as the README runs
it. Each kernel compiles where the demo first meets it.

Variants: ``default`` is ``rapkit demo`` as a user types it (with the learning step when
torch is installed and the demo has one); ``no-train`` adds ``--no-train`` (the pure numba
pipeline; skipped with a note when the demo has no such option).

    .venv/bin/python benchmarks/cold_start.py                      # -n 100, 2 rounds, both variants
    .venv/bin/python benchmarks/cold_start.py -n 20 --repeat 1 --variants no-train --no-render
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _demo_help() -> str:
    r = subprocess.run([sys.executable, "-m", "rapkit", "demo", "--help"], capture_output=True, text=True, check=False)
    return r.stdout


def run_demo(out: Path, cache: Path, events: Path, extra: list[str]) -> dict:
    """One ``rapkit demo``: wall s, CPU s, stderr, and the numba event record."""
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache)
    env["RAPKIT_NUMBA_EVENTS"] = str(events)
    cmd = [sys.executable, "-m", "rapkit", "demo", "-o", str(out), "--force", "--format", "json", *extra]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    dt = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    rec = json.loads(events.read_text()) if events.exists() else {"compiles": [], "loads": []}
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return {"wall": dt, "cpu": cpu, "stderr": r.stderr, "rec": rec}


def _kernel_table(cold: list[dict], warm: list[dict]) -> list[tuple[str, float, float, float]]:
    """(kernel, median compile CPU s, median compile wall s, median cache-load ms) per
    outermost compiled kernel, largest compile first."""
    comp_cpu: dict[str, list[float]] = defaultdict(list)
    comp_wall: dict[str, list[float]] = defaultdict(list)
    loads: dict[str, list[float]] = defaultdict(list)
    for run in cold:
        cpu: dict[str, float] = defaultdict(float)
        wall: dict[str, float] = defaultdict(float)
        for c in run["rec"]["compiles"]:
            if c["inside"] is None:
                cpu[c["kernel"]] += c["cpu_seconds"]
                wall[c["kernel"]] += c["seconds"]
        for k in cpu:
            comp_cpu[k].append(cpu[k])
            comp_wall[k].append(wall[k])
    for run in warm:
        ms: dict[str, float] = defaultdict(float)
        for c in run["rec"]["loads"]:
            ms[c["kernel"]] += 1e3 * c["seconds"]
        for k in ms:
            loads[k].append(ms[k])
    names = set(comp_cpu) | set(loads)
    rows = [
        (
            k,
            float(np.median(comp_cpu[k])) if k in comp_cpu else 0.0,
            float(np.median(comp_wall[k])) if k in comp_wall else 0.0,
            float(np.median(loads[k])) if k in loads else float("nan"),
        )
        for k in names
    ]
    return sorted(rows, key=lambda r: -r[1])


def bench_variant(name: str, extra: list[str], tmp: Path, repeat: int) -> dict:
    cold, warm = [], []
    for rnd in range(repeat):
        cache = tmp / f"cache-{name}-{rnd}"
        cache.mkdir()
        c = run_demo(tmp / "out", cache, tmp / "cold.json", extra)
        w = run_demo(tmp / "out", cache, tmp / "warm.json", extra)
        cold.append(c)
        warm.append(w)
        print(
            f"  [{name}] round {rnd + 1}: cold {c['wall']:6.1f} s wall ({c['cpu']:6.1f} s CPU), "
            f"warm {w['wall']:6.1f} s wall ({w['cpu']:6.1f} s CPU)  load {_load()}",
            flush=True,
        )
        if rnd == 0:
            notice = [ln for ln in c["stderr"].splitlines() if ln.startswith("rapkit: compiled")]
            print(f"    cold run's notice: {notice[0] if notice else '(none)'}")
            wn = [ln for ln in w["stderr"].splitlines() if ln.startswith("rapkit: compiled")]
            print(f"    warm run's notice: {wn[0] if wn else '(none)'}")
    return {"cold": cold, "warm": warm}


def report(name: str, cmd: str, res: dict, repeat: int) -> None:
    cold, warm = res["cold"], res["warm"]
    cw, cc = np.median([c["wall"] for c in cold]), np.median([c["cpu"] for c in cold])
    ww, wc = np.median([w["wall"] for w in warm]), np.median([w["cpu"] for w in warm])
    comp = np.median([sum(c["cpu_seconds"] for c in run["rec"]["compiles"] if c["inside"] is None) for run in cold])
    comp_wall = np.median([sum(c["seconds"] for c in run["rec"]["compiles"] if c["inside"] is None) for run in cold])
    load_s = np.median([sum(c["seconds"] for c in run["rec"]["loads"]) for run in warm])
    print(f"\n== {name}: {cmd}, medians of {repeat}; load average now {_load()}")
    print(f"  cold (empty NUMBA_CACHE_DIR): {cw:6.1f} s wall ({cc:6.1f} s CPU)")
    print(f"  warm:                         {ww:6.1f} s wall ({wc:6.1f} s CPU)")
    print(
        f"  cold / warm: wall {cw / ww:.2f}x, CPU {cc / wc:.2f}x  (target <= 1.5x: "
        f"{'met' if cw / ww <= 1.5 else 'NOT met'} on wall, {'met' if cc / wc <= 1.5 else 'NOT met'} on CPU)"
    )
    print(
        f"  compiling in the cold run: {comp:.1f} s CPU ({comp_wall:.1f} s wall); "
        f"cache loads in the warm run: {load_s:.2f} s"
    )
    rows = _kernel_table(cold, warm)
    print(f"  {'kernel (outermost compile)':52s} {'compile CPU s':>13s} {'wall s':>7s} {'load ms':>8s}")
    for k, cpu, wall, ms in rows:
        print(f"  {k:52s} {cpu:13.2f} {wall:7.2f} {ms:8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--num-images", type=int, default=100, help="images in the demo world (default 100)")
    ap.add_argument("--workers", type=int, default=1, help="demo --workers (default 1, the demo's default)")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved cold/warm rounds per variant (default 2)")
    ap.add_argument("--no-render", action="store_true", help="pass --no-render (no JPEGs; a shorter warm run)")
    ap.add_argument("--variants", default="default,no-train", help="comma-separated: default, no-train (default: both)")
    args = ap.parse_args()
    helptext = _demo_help()
    base = ["-n", str(args.num_images), "--workers", str(args.workers)] + (["--no-render"] if args.no_render else [])
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, torch installed: {has_torch}, "
        f"demo has --no-train: {'--no-train' in helptext}; load average {_load()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="rapkit-cold-"))
    results = []
    try:
        for v in [x.strip() for x in args.variants.split(",") if x.strip()]:
            if v == "default":
                extra = base
            elif v == "no-train":
                if "--no-train" not in helptext:
                    print("  [no-train] skipped: this rapkit demo has no --no-train option (it trains nothing)")
                    continue
                extra = [*base, "--no-train"]
            else:
                raise SystemExit(f"unknown variant {v!r}")
            label = "rapkit demo " + " ".join(extra)
            results.append((v, label, bench_variant(v, extra, tmp, args.repeat)))
        for v, cmd, res in results:
            report(v, cmd, res, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
