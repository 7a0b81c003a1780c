"""Benchmark: what loading the kernel beside the JSON parse saves (``rapkit._runtime.pool.alongside``
in ``rapkit evaluate`` and ``rapkit fuse``).

The same whole command, run as a fresh process two ways, interleaved round by round:

* **preload** (as shipped): ``python -c "... main()"`` with the default ``PRELOAD_BYTES``;
* **no preload**: the same with ``PRELOAD_BYTES`` raised above the input's size, so numba
  and the kernel load after the JSON, in the calling thread.

Prints the medians and the median of the paired differences (wall, whole process).

    python benchmarks/preload.py --evaluate /tmp/evcoco --fuse /tmp/w5000 --rounds 11
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]


def run(module: str, argv: list[str], preload: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(TREE), RAPKIT_FSYNC="0")
    off = "" if preload else f"import rapkit.pipeline.{module} as m; m.PRELOAD_BYTES = 1 << 60\n"
    code = f"import sys\n{off}sys.argv = ['rapkit', *{argv!r}]\nfrom rapkit.cli import main\nmain()"
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, cwd="/")  # cwd: not a checkout
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}):\n{r.stderr.decode()}")
    return dt


def compare(name: str, module: str, argv: list[str], rounds: int) -> None:
    run(module, argv, True), run(module, argv, False)  # kernel cache and bytecode written
    on, off = [], []
    for r in range(rounds):
        pair = (True, on), (False, off)
        for flag, out in pair if r % 2 == 0 else pair[::-1]:
            out.append(run(module, argv, flag))
    med = statistics.median
    d = [b - a for a, b in zip(on, off)]
    print(f"{name}: preload {1e3 * med(on):.0f} ms, without {1e3 * med(off):.0f} ms; "
          f"saved {1e3 * med(d):.1f} ms (median of {rounds} paired differences; load {os.getloadavg()[0]:.1f})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evaluate", help="benchmarks/evaluate.py's bench folder (gt.json, pred.json, PNGs)")
    ap.add_argument("--fuse", help="a synthetic world (rapkit synth)")
    ap.add_argument("--workers", default="2")
    ap.add_argument("--rounds", type=int, default=11)
    a = ap.parse_args()
    if a.evaluate:
        d = a.evaluate
        argv = ["evaluate", "--gt", f"{d}/gt.json", "--pred", f"{d}/pred.json", "--workers", a.workers, "-q", "--format", "json"]  # fmt: skip
        compare(f"evaluate {d}, {a.workers} workers", "evaluate", argv, a.rounds)
    if a.fuse:
        w = a.fuse
        out = tempfile.mkdtemp(prefix="rapkit-preload-")
        argv = ["fuse", "--proposals", f"{w}/proposals.json", "--image-info", f"{w}/panoptic.json", "--categories",
                f"{w}/categories.json", "--semantic", f"{w}/semantic", "-o", f"{out}/o", "--force", "--workers",
                a.workers, "-q", "--format", "json"]  # fmt: skip
        compare(f"fuse {w}, {a.workers} workers", "fuse", argv, a.rounds)


if __name__ == "__main__":
    main()
