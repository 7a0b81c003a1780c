"""Cold start: the first ``rapkit demo`` after install (empty numba cache) against a warm one.

A new user's first run compiles every numba kernel the commands meet; later runs load them
from numba's on-disk cache. This script runs ``rapkit demo`` with a fresh, empty
``NUMBA_CACHE_DIR`` (cold), then again with the same directory (warm), interleaved over
``--repeat`` rounds (each round gets a new empty cache directory for its cold run), and
prints the medians, their ratio and the load average. The issue's target: cold <= 1.5x warm.

    .venv/bin/python benchmarks/cold_start.py                 # -n 100, 2 rounds
    .venv/bin/python benchmarks/cold_start.py -n 20 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def run_demo(out: Path, cache: Path, n: int, workers: int) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its children, stderr) of one ``rapkit demo``."""
    import resource

    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache)
    cmd = [
        sys.executable,
        "-m",
        "rapkit",
        "demo",
        "-o",
        str(out),
        "-n",
        str(n),
        "--workers",
        str(workers),
        "--no-render",
        "--force",
        "--format",
        "json",
    ]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    dt = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"rapkit demo failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return dt, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime), r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--num-images", type=int, default=100, help="images in the demo world (default 100)")
    ap.add_argument("--workers", type=int, default=1, help="demo --workers (default 1)")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved cold/warm rounds (default 2)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rapkit-cold-"))
    cold, warm = [], []
    try:
        for rnd in range(args.repeat):
            cache = tmp / f"cache{rnd}"
            cache.mkdir()
            c = run_demo(tmp / "out", cache, args.num_images, args.workers)
            w = run_demo(tmp / "out", cache, args.num_images, args.workers)
            cold.append(c)
            warm.append(w)
            print(
                f"  round {rnd + 1}: cold {c[0]:6.1f} s wall ({c[1]:6.1f} s CPU), warm {w[0]:6.1f} s wall "
                f"({w[1]:6.1f} s CPU)  load {_load()}",
                flush=True,
            )
            first = [ln for ln in c[2].splitlines() if "compil" in ln.lower()]
            if first and rnd == 0:
                print(f"  cold run's stderr about compiling: {first[0]}")
        cw, cc = np.median([c[0] for c in cold]), np.median([c[1] for c in cold])
        ww, wc = np.median([w[0] for w in warm]), np.median([w[1] for w in warm])
        print(
            f"\nrapkit demo -n {args.num_images} --workers {args.workers}, medians of {args.repeat}; "
            f"load average {_load()}"
        )
        print(f"  cold (empty NUMBA_CACHE_DIR): {cw:6.1f} s wall ({cc:6.1f} s CPU)")
        print(f"  warm:                         {ww:6.1f} s wall ({wc:6.1f} s CPU)")
        print(
            f"  cold / warm: wall {cw / ww:.2f}x, CPU {cc / wc:.2f}x  (target <= 1.5x: "
            f"{'met' if cw / ww <= 1.5 else 'NOT met'})"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
