"""``rapkit fuse`` as a user runs it, fsync on: this tree against an older one (``--before``),
at 1 and 2 workers, and this tree with several counts of background fsync threads
(``rapkit.io._atomic.BEHIND_THREADS``, ``--threads``; 0 = every PNG fsynced at the commit,
as before). All variants are interleaved in each of ``--repeat`` rounds; each run is a fresh
process started from ``/``, writing a fresh output folder on the same disk as the inputs.

    python benchmarks/fuse_tail.py --world /tmp/w5000 --before /work/base --repeat 3
    python benchmarks/fuse_tail.py --world /tmp/w5000 --workers 2 --threads 0,1,2,4,8,16 --repeat 2

Printed per variant: median wall and CPU seconds (user + sys of the child), the median over
rounds of the paired ratio against the first variant of the same worker count, and the
1-worker / 2-worker wall ratio of each tree (paired per round). On a shared machine the wall
figures follow the load; CPU seconds and paired ratios much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent

LAUNCH = (
    "import sys; import rapkit.io._atomic as A; A.BEHIND_THREADS = int(sys.argv.pop(1)); "
    "from rapkit.cli import entry; entry()"
)


def fuse_args(world: Path, out: Path, workers: int) -> list[str]:
    return [
        "fuse",
        "--proposals",
        str(world / "proposals.json"),
        "--image-info",
        str(world / "panoptic.json"),
        "--categories",
        str(world / "categories.json"),
        "--semantic",
        str(world / "semantic"),
        "-o",
        str(out),
        "--strategy",
        "rap",
        "--workers",
        str(workers),
        "--quiet",
    ]


def run(tree: Path, threads: int | None, args: list[str]) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "RAPKIT_FSYNC")}
    env.update(PYTHONPATH=str(tree), RAPKIT_PROGRESS="0")
    head = [sys.executable, "-m", "rapkit"] if threads is None else [sys.executable, "-c", LAUNCH, str(threads)]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([*head, *args], capture_output=True, text=True, env=env, cwd="/")
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {r.stderr}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="/tmp/w5000", help="a synthetic world (rapkit synth --no-render)")
    ap.add_argument("--before", default=None, help="an older rapkit source tree, measured in the same rounds")
    ap.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    ap.add_argument("--threads", default="", help="BEHIND_THREADS values of this tree (default: its own)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--out", default=None, help="scratch folder (default: beside the world)")
    a = ap.parse_args()
    world = Path(a.world)
    scratch = Path(a.out or f"{world}-fuse-tail-{os.getpid()}")
    scratch.mkdir(exist_ok=True)
    variants: list[tuple[str, Path, int | None]] = []
    if a.before:
        variants.append(("before", Path(a.before), None))
    if a.threads:
        variants += [(f"threads={n}", TREE, int(n)) for n in a.threads.split(",")]
    else:
        variants.append(("this tree", TREE, None))
    workers = [int(w) for w in a.workers.split(",")]
    try:
        for _name, tree, threads in variants:  # warm: kernels compiled and cached per tree
            run(tree, threads, fuse_args(world, scratch / "warm", 2))
            shutil.rmtree(scratch / "warm")
        res: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for r in range(a.repeat):
            for w in workers:
                for name, tree, threads in variants:
                    out = scratch / f"o{r}{w}{len(res)}"
                    res.setdefault((name, w), []).append(run(tree, threads, fuse_args(world, out, w)))
                    shutil.rmtree(out)
            print(f"round {r + 1}: load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    first = variants[0][0]
    print(f"{'variant':14s} {'workers':>7s} {'wall s':>7s} {'CPU s':>6s} {'wall/' + first:>14s} {'CPU/' + first:>14s}")
    for w in workers:
        for name, _t, _n in variants:
            xs = res[(name, w)]
            base = res[(first, w)]
            wr = statistics.median(x[0] / b[0] for x, b in zip(xs, base))
            cr = statistics.median(x[1] / b[1] for x, b in zip(xs, base))
            wall = statistics.median(x[0] for x in xs)
            cpu = statistics.median(x[1] for x in xs)
            print(f"{name:14s} {w:7d} {wall:7.2f} {cpu:6.2f} {wr:14.3f} {cr:14.3f}")
    if 1 in workers and 2 in workers:
        for name, _t, _n in variants:
            ratio = statistics.median(x[0] / y[0] for x, y in zip(res[(name, 1)], res[(name, 2)]))
            print(f"{name}: 1-worker wall / 2-worker wall (paired) {ratio:.3f}")


if __name__ == "__main__":
    main()
