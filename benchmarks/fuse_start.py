"""The serial start and tail of ``rapkit fuse`` in a fresh process, this tree against an
older one (``--before``), alternating in each of ``--repeat`` rounds: milliseconds from the
process start (the launcher's first line) to the first image's worker call (imports, reading
and checking the inputs, the kernel load), and from the last image's end to the process end
(the JSON, the commit, the report). fsync on, 2 workers by default, each run from ``/``.

    python benchmarks/fuse_start.py --world /tmp/w5000 --before /work/base --repeat 5

Printed: the medians per tree and the median of the paired differences (after - before).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent

PROBE = r"""
import sys, time
T0 = time.perf_counter()
import json, os
import rapkit.pipeline.fuse as fu
name = "_fuse_batch_packed"
inner = getattr(fu, name)
marks = []
def batch(args):
    t = time.perf_counter()
    try:
        return inner(args)
    finally:
        marks.append((t, time.perf_counter()))
setattr(fu, name, batch)
from rapkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
end = time.perf_counter()
first = min(m[0] for m in marks)
last = max(m[1] for m in marks)
os.write(int(os.environ["FUSE_START_FD"]), json.dumps({"start_ms": 1000 * (first - T0), "tail_ms": 1000 * (end - last)}).encode())
"""


def run(tree: Path, world: Path, out: Path, workers: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "RAPKIT_FSYNC")}
    env.update(PYTHONPATH=str(tree), RAPKIT_PROGRESS="0")
    args = ["fuse", "--proposals", f"{world}/proposals.json", "--image-info", f"{world}/panoptic.json"]
    args += ["--categories", f"{world}/categories.json", "--semantic", f"{world}/semantic", "-o", str(out)]
    args += ["--strategy", "rap", "--workers", str(workers), "--quiet"]
    r, w = os.pipe()
    env["FUSE_START_FD"] = str(w)
    p = subprocess.Popen(
        [sys.executable, "-c", PROBE, *args], env=env, cwd="/", pass_fds=(w,), stdout=subprocess.DEVNULL
    )
    os.close(w)
    try:
        data = os.read(r, 4096)
        if p.wait() != 0 or not data:
            raise SystemExit(f"run failed in {tree}")
    finally:
        os.close(r)
        shutil.rmtree(out, ignore_errors=True)
    return json.loads(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="/tmp/w5000", help="a synthetic world (rapkit synth --no-render)")
    ap.add_argument("--before", required=True, help="an older rapkit source tree")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    world = Path(a.world)
    trees = {"before": Path(a.before), "after": TREE}
    out = Path(f"{world}-fuse-start-{os.getpid()}")
    for tree in trees.values():  # warm: kernels cached per tree
        run(tree, world, out, a.workers)
    res: dict[str, list[dict]] = {k: [] for k in trees}
    for i in range(a.repeat):
        for k, tree in trees.items():
            res[k].append(run(tree, world, out, a.workers))
        print(f"round {i + 1}: load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    for key in ("start_ms", "tail_ms"):
        b = [x[key] for x in res["before"]]
        f = [x[key] for x in res["after"]]
        diff = statistics.median(y - x for x, y in zip(b, f))
        print(
            f"{key}: before {statistics.median(b):.0f}, after {statistics.median(f):.0f}, paired after-before {diff:+.0f}"
        )


if __name__ == "__main__":
    main()
