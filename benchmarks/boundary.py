"""Benchmark: Boundary PQ (``rapkit evaluate --metric boundary``) against plain PQ and against
the oracle that follows boundary-iou-api's ``coco_panoptic_api``, in the same run.

The data are ``benchmarks/evaluate.py``'s COCO-like pairs (640x480, Pillow's adaptive row
filters, about 24 segments per image, crowd regions, VOID). Each round runs, as fresh
processes, interleaved: ``rapkit evaluate`` (PQ) and ``rapkit evaluate --metric boundary``,
whole process (interpreter start-up, imports, JSON, kernel cache loading included), at
``--workers`` 1. The oracle (``tests/core/test_boundary.py``'s ``boundary_oracle``: cv2
erosion per segment, ``np.unique`` pair maps, the reference loop, one process) runs once, as
a fresh process too, and its result is checked ``==`` rapkit's on every PQ/SQ/RQ/N of All /
Things / Stuff and per class (``--no-oracle`` skips it).

Printed: the medians over ``--repeat`` rounds, the paired ratio boundary / PQ (median of each
round's ratio; the target is <= 2), and oracle / boundary, with the load average.

    python benchmarks/boundary.py                       # 200 pairs, 3 rounds
    python benchmarks/boundary.py --n 50 --repeat 1     # a quick look
    python benchmarks/boundary.py --data /tmp/bpq       # keep and reuse the files
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

ORACLE = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("oracle", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
t = time.perf_counter()
res = mod.boundary_oracle(*sys.argv[2:6])
print(json.dumps({"seconds": time.perf_counter() - t, "result": res}, default=float))
"""


def _bench_module():
    spec = importlib.util.spec_from_file_location("rapkit_bench_evaluate", REPO / "benchmarks" / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def whole(gt: Path, pred: Path, metric: str, workers: int) -> tuple[float, float, dict]:
    """Wall time and CPU seconds of one ``rapkit evaluate`` process, and its JSON report."""
    cmd = [sys.executable, "-m", "rapkit", "evaluate", "--gt", str(gt), "--pred", str(pred)]
    cmd += ["--metric", metric, "--workers", str(workers), "--per-class", "--format", "json", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    dt = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"rapkit evaluate --metric {metric} failed:\n{out.stderr[-3000:]}")
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return dt, cpu, json.loads(out.stdout)


def oracle(gt: Path, pred: Path) -> tuple[float, float, dict]:
    """(whole-process wall time, in-process time, result) of the oracle."""
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", ORACLE, str(REPO / "tests/core/test_boundary.py"), str(gt), str(pred),
         str(gt.parent / "gt"), str(pred.parent / "pred")],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), check=False,
    )  # fmt: skip
    dt = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"the oracle failed:\n{out.stderr[-3000:]}")
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return dt, d["seconds"], d["result"]


def parity(ours: dict, ref: dict) -> list[str]:
    """Differences between rapkit's JSON report (percent) and the oracle's dict (fractions)."""
    bad = []
    for name in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq", "n"):
            want = ref[name][key] if key == "n" else 100 * ref[name][key]
            if ours[name][key] != want:
                bad.append(f"{name} {key}: {ours[name][key]} != {want}")
    for cid, row in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            if ours["per_class"][str(cid)][key] != 100 * row[key]:
                bad.append(f"class {cid} {key}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="image pairs (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the two rapkit runs (default 3)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--data", type=Path, default=None, help="keep the data here (reused when present)")
    ap.add_argument("--no-oracle", action="store_true", help="skip the oracle (its time and the parity check)")
    args = ap.parse_args()
    tmp = None
    root = args.data
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name) / "bench"
    gt, pred = root / "gt.json", root / "pred.json"
    if not gt.exists():
        t = time.perf_counter()
        _bench_module().generate_coco(root, args.n)
        print(f"wrote {args.n} COCO-like pairs to {root} in {time.perf_counter() - t:.1f} s")
    n = len(json.loads(gt.read_text())["annotations"])
    whole(gt, pred, "pq", 1)  # kernels compiled / cache warm before timing
    whole(gt, pred, "boundary", 1)
    times: dict[str, list[float]] = {"pq": [], "boundary": []}
    cpus: dict[str, list[float]] = {"pq": [], "boundary": []}
    report = {}
    for _ in range(args.repeat):
        for metric in ("pq", "boundary"):
            dt, cpu, report[metric] = whole(gt, pred, metric, args.workers)
            times[metric].append(dt)
            cpus[metric].append(cpu)
    med = {k: float(np.median(v)) for k, v in times.items()}
    cmed = {k: float(np.median(v)) for k, v in cpus.items()}
    paired = float(np.median(np.array(times["boundary"]) / np.array(times["pq"])))
    cpaired = float(np.median(np.array(cpus["boundary"]) / np.array(cpus["pq"])))
    print(f"{n} images, --workers {args.workers}, {args.repeat} round(s), load average {os.getloadavg()[0]:.2f}")
    print(f"rapkit evaluate (PQ), whole process:              {med['pq']:.2f} s wall, {cmed['pq']:.2f} s CPU (medians)")
    print(
        f"rapkit evaluate --metric boundary, whole process: {med['boundary']:.2f} s wall, "
        f"{cmed['boundary']:.2f} s CPU (medians)"
    )
    print(
        f"boundary / PQ, wall: {paired:.2f} (median of paired ratios; target <= 2), ratio of medians "
        f"{med['boundary'] / med['pq']:.2f}; CPU: {cpaired:.2f} paired, {cmed['boundary'] / cmed['pq']:.2f} of medians"
    )
    print(f"Boundary PQ {report['boundary']['All']['pq']:.3f}, PQ {report['pq']['All']['pq']:.3f} (All, x100)")
    if not args.no_oracle:
        wall, inproc, ref = oracle(gt, pred)
        print(
            f"oracle (boundary-iou-api's loop, cv2, one process): {wall:.2f} s whole process ({inproc:.2f} s in its loop)"
        )
        print(f"oracle / rapkit --metric boundary: {wall / med['boundary']:.1f}x (whole process)")
        bad = parity(report["boundary"], ref)
        print("parity with the oracle: " + ("equal on every value" if not bad else f"DIFFERENT: {bad[:5]}"))
        if bad:
            raise SystemExit(1)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
