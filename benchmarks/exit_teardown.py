"""Benchmark: what ending the process without the interpreter's teardown saves
(``rapkit.cli.entry`` -> ``rapkit._runtime.process.end_process``).

The same command, a 1-image ``rapkit evaluate`` on the kernel path (numba and the cached
chunk kernel loaded, as every large job has them), run as a fresh process two ways,
interleaved round by round:

* **entry**: ``python -m rapkit evaluate ...`` (the ``rapkit`` script's way: atexit handlers,
  flushed streams, then ``os._exit``);
* **ordinary exit**: ``python -c "...; from rapkit.cli import main; main()"`` (``main`` raises
  ``SystemExit``; the interpreter tears every module and object down).

Prints the medians and the median of the paired differences (wall, whole process).

    python benchmarks/exit_teardown.py --gt /tmp/one/gt.json --pred /tmp/one/pred.json --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]


def run(cmd: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(TREE), RAPKIT_EVALUATE_PATH="kernels")
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, env=env, cwd="/")  # cwd: not a checkout
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--pred", required=True)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    args = ["evaluate", "--gt", a.gt, "--pred", a.pred, "--format", "json", "--quiet"]
    entry = [sys.executable, "-m", "rapkit", *args]
    ordinary = [
        sys.executable,
        "-c",
        f"import sys; sys.argv = ['rapkit', *{args!r}]; from rapkit.cli import main; main()",
    ]
    run(entry), run(ordinary)  # kernel cache and bytecode written
    e, o = [], []
    for r in range(a.rounds):
        pair = (entry, e), (ordinary, o)
        for cmd, out in pair if r % 2 == 0 else pair[::-1]:
            out.append(run(cmd))
    med = statistics.median
    diffs = [y - x for x, y in zip(e, o)]
    print(f"{a.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    print(f"  entry (no teardown):  {1e3 * med(e):7.1f} ms")
    print(f"  ordinary exit:        {1e3 * med(o):7.1f} ms")
    print(
        f"  saved: {1e3 * med(diffs):.1f} ms per command (median of paired differences; ordinary/entry {med(o) / med(e):.3f}x)"
    )


if __name__ == "__main__":
    main()
