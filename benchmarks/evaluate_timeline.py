"""Diagnostic: where a fresh ``rapkit evaluate`` process spends its time before and after
its image loop, with and without the forked JSON reader (``RAPKIT_FORK_CALL``).

Each run is a fresh interpreter that runs the ``rapkit evaluate`` command in process with
marks (ms since the interpreter started its ``-c`` code) at: rapkit's CLI imported, the
evaluation called, numba and the kernels imported, the two JSON files read (in the forked
child when there is one), the segment table built, the
first chunk of images started and finished, the report built. The marks wrap private
functions of :mod:`rapkit.pipeline.evaluate`; the runs alternate (fork, no fork) and the
medians of ``--repeat`` runs are printed, with the whole run's ratio (no fork / fork) in
the same run.

    .venv/bin/python benchmarks/evaluate_timeline.py --data /tmp/evcoco      # pairs of benchmarks/evaluate.py
    .venv/bin/python benchmarks/evaluate_timeline.py --data /tmp/evcoco --workers 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, threading, time
T0 = time.perf_counter()
marks = {}
def mark(name):
    marks.setdefault(name, 1000 * (time.perf_counter() - T0))
import rapkit.cli
mark("cli imported")
from rapkit.pipeline import evaluate as E
def wrap(name, before, after):
    f = getattr(E, name)
    def g(*a, **k):
        if before: mark(before)
        r = f(*a, **k)
        if after: mark(after)
        return r
    setattr(E, name, g)
wrap("evaluate_pq", "evaluate_pq called", None)
wrap("_import_kernels", None, "numba and the kernels imported")
wrap("_pair_table", None, "segment table built")
wrap("pq_report", None, "report built")
first = []
lock = threading.Lock()
chunk = E._array_chunk
def timed_chunk(job):
    with lock:
        is_first = not first
        first.append(1)
    if is_first: mark("first chunk started")
    r = chunk(job)
    if is_first: mark("first chunk done")
    return r
E._array_chunk = timed_chunk
load = E._load_arrays_nogc
def timed_load(*a):
    r = load(*a)
    mark("JSON read (this process)")
    return r
E._load_arrays_nogc = timed_load
import rapkit.core.parallel as P
real = P.ForkCall.result
def timed_result(self):
    r = real(self)
    mark("JSON arrays received from the child" if self.forked else "JSON read (this process)")
    return r
P.ForkCall.result = timed_result
gt, pred, workers = sys.argv[1], sys.argv[2], sys.argv[3]
code = rapkit.cli._run(rapkit.cli.cli, ["evaluate", "--gt", gt, "--pred", pred, "--workers", workers,
                                        "--format", "json", "--quiet"], "rapkit", {})
mark("done")
print(json.dumps({"code": code, "marks": marks}), file=sys.stderr)
"""


def one_run(gt: Path, pred: Path, workers: int, fork: bool) -> dict:
    env = dict(os.environ, RAPKIT_FORK_CALL="1" if fork else "0")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(gt), str(pred), str(workers)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    try:
        res = json.loads(last)
    except ValueError:
        raise SystemExit(f"the run failed:\n{out.stderr[-3000:]}") from None
    if res["code"] != 0:
        raise SystemExit(f"rapkit evaluate exited {res['code']}:\n{out.stderr[-3000:]}")
    return res["marks"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a folder with gt.json, pred.json, gt/, pred/")
    ap.add_argument("--workers", type=int, default=2, help="rapkit evaluate --workers (default 2)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each variant, alternating (default 5)")
    args = ap.parse_args()
    gt, pred = args.data / "gt.json", args.data / "pred.json"
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(args.repeat):
        for fork in (True, False):
            runs[fork].append(one_run(gt, pred, args.workers, fork))
    print(
        f"rapkit evaluate --workers {args.workers}, {args.repeat} fresh processes each, load {os.getloadavg()[0]:.1f}"
    )
    print("median ms since the interpreter ran rapkit's code:")
    for fork in (True, False):
        names = list(runs[fork][0])
        print(f"  {'forked JSON reader' if fork else 'RAPKIT_FORK_CALL=0'}:")
        for name in names:
            vals = [r[name] for r in runs[fork] if name in r]
            print(f"    {np.median(vals):8.0f}  {name}")
    done = {fork: np.array([r["done"] for r in runs[fork]]) for fork in (True, False)}
    print(
        f"whole run: {np.median(done[False]):.0f} ms without the child, {np.median(done[True]):.0f} ms with it: "
        f"{np.median(done[False]) / np.median(done[True]):.2f}x (same run)"
    )


if __name__ == "__main__":
    main()
