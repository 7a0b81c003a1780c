"""The demo's evaluate step with and without Boundary PQ: ``rapkit demo`` scores each
whole-world fusion (heuristic, RAP) with PQ and Boundary PQ from one read of each PNG pair
(``evaluate_metrics(..., metrics=("pq", "boundary"))``); before, it ran ``evaluate_pq``
(PQ alone, the matching kernel). Both are timed here on the demo's own world (100 images,
480x640, seed 0, as ``rapkit demo`` makes it; no JPEGs) and two fusions of it (the
heuristic, and RAP at the paper's setting, the sweep's starting point), interleaved, in the
same run; the PQ of both paths is checked equal.

It prints the medians per fusion, the paired ratio (median of each round's own ratio) and
the seconds Boundary PQ adds to the demo (two evaluations).

    python benchmarks/demo_evaluate.py --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rapkit.pipeline.demo import HEURISTIC, RAP
from rapkit.pipeline.evaluate import evaluate_metrics, evaluate_pq
from rapkit.pipeline.fuse import fuse
from rapkit.synth import SynthConfig, make_world


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="demo_eval_"))
    cfg = SynthConfig(n_images=a.images, height=480, width=640, seed=0, render_images=False)
    world = make_world(tmp / "world", cfg)
    preds = {}
    for name, params in (("heuristic", HEURISTIC), ("rap", RAP)):
        fuse(world.proposals, world.panoptic, world.categories, tmp / name, params, semantic=world.semantic)
        preds[name] = tmp / name / "panoptic.json"
    # warm: the numba kernels loaded once
    for p in preds.values():
        evaluate_pq(world.panoptic, p)
        evaluate_metrics(world.panoptic, p, metrics=("pq", "boundary"))
    before: list[float] = []
    after: list[float] = []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        old = {n: evaluate_pq(world.panoptic, p) for n, p in preds.items()}
        t1 = time.perf_counter()
        new = {n: evaluate_metrics(world.panoptic, p, metrics=("pq", "boundary")) for n, p in preds.items()}
        t2 = time.perf_counter()
        before.append(t1 - t0)
        after.append(t2 - t1)
        for n in preds:
            assert new[n]["pq"].stats == old[n].stats and new[n]["pq"].result == old[n].result, n
    ratio = statistics.median(b / a_ for a_, b in zip(before, after))
    mb, ma = statistics.median(before), statistics.median(after)
    print(f"{a.images} images 480x640, 2 fusions, 1 worker, {a.rounds} rounds (interleaved)")
    print(f"  before (evaluate_pq, PQ):            {mb:.3f} s")
    print(f"  after  (PQ + Boundary PQ, one read): {ma:.3f} s")
    print(f"  ratio after/before: {ratio:.2f}x; Boundary PQ adds {ma - mb:+.3f} s to the demo")
    print("  PQ of both paths: equal (stats and result)")


if __name__ == "__main__":
    main()
