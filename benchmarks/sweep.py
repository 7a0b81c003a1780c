"""Benchmark: ``rapkit evaluate --sweep`` (decode once, fuse atoms in memory) vs the naive loop.

The naive loop is what a researcher does without rapkit's sweep: for every setting, fuse
to disk (``rapkit fuse``) and evaluate (``rapkit evaluate``). It is timed in the same run
on a subset of images and settings and extrapolated linearly.

    python benchmarks/sweep.py                       # 1000 images, 5x5x5 grid, 2 workers
    python benchmarks/sweep.py --images 200 --grid 3  # quicker

Prints seconds, ms per (image, setting), the speed-up over the naive loop, and the
extrapolated time of a 5x5x5 sweep over 5000 images.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--grid", type=int, default=5, help="values per parameter (grid^3 settings)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--naive-images", type=int, default=100)
    ap.add_argument("--naive-settings", type=int, default=3)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument(
        "--false-per-image",
        type=float,
        default=0.5,
        help="simulated false detections per image (e.g. 40 for a dense, COCO-dump-like 50 per image)",
    )
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the world in this folder")
    args = ap.parse_args()

    import numpy as np

    from rapkit.core.sweep import make_grid
    from rapkit.pipeline.evaluate import evaluate_pq
    from rapkit.pipeline.fuse import fuse
    from rapkit.pipeline.sweep import run_sweep
    from rapkit.synth import SynthConfig, WorldPaths, make_world

    tmp = Path(tempfile.mkdtemp(prefix="rapkit-bench-sweep-"))
    try:
        root = args.keep or tmp / "world"
        cfg = SynthConfig(
            n_images=args.images,
            height=args.height,
            width=args.width,
            seed=0,
            render_images=False,
            false_per_image=args.false_per_image,
        )
        if args.keep and (root / "panoptic.json").exists():
            world = WorldPaths.under(root)
            print(f"reusing world {root}")
        else:
            t0 = time.perf_counter()
            world = make_world(root, cfg, workers=args.workers, force=True)
            print(f"world: {args.images} images {args.width}x{args.height} in {time.perf_counter() - t0:.1f} s")
        n_props = len(json.loads(world.proposals.read_text()))
        print(f"{n_props / args.images:.1f} proposals per image")
        vals = [round(float(v), 3) for v in np.linspace(0.4, 0.8, args.grid)]
        grid = make_grid(["rho", "tau", "gamma"], rho=vals, tau=vals, gamma=vals)
        n_set = len(grid) + 1  # + baseline

        # warm up numba (compile/cache) outside the timings
        run_sweep(world.panoptic, world.proposals, grid[:2], semantic=world.semantic, workers=1)

        t0 = time.perf_counter()
        res = run_sweep(
            world.panoptic,
            world.proposals,
            grid,
            semantic=world.semantic,
            workers=args.workers,
            swept=["rho", "tau", "gamma"],
        )
        t_sweep = time.perf_counter() - t0
        per = t_sweep / (args.images * n_set)
        print(
            f"rapkit sweep: {args.images} images x {n_set} settings in {t_sweep:.1f} s "
            f"({1000 * per:.3f} ms per image-setting, {args.workers} workers)"
        )

        # naive loop on a subset

        sub = tmp / "subset"
        sub.mkdir()
        pan = json.loads(world.panoptic.read_text())
        keep = {a["image_id"] for a in pan["annotations"][: args.naive_images]}
        pan["annotations"] = [a for a in pan["annotations"] if a["image_id"] in keep]
        pan["images"] = [i for i in pan["images"] if i["id"] in keep]
        (sub / "gt.json").write_text(json.dumps(pan))
        props = [p for p in json.loads(world.proposals.read_text()) if p["image_id"] in keep]
        (sub / "proposals.json").write_text(json.dumps(props))
        picks = [grid[int(k)] for k in np.linspace(0, len(grid) - 1, args.naive_settings)]
        t0 = time.perf_counter()
        for k, p in enumerate(picks):
            out = sub / f"fused{k}"
            fuse(
                sub / "proposals.json",
                sub / "gt.json",
                world.categories,
                out,
                p,
                semantic=world.semantic,
                workers=args.workers,
                force=True,
            )
            evaluate_pq(sub / "gt.json", out / "panoptic.json", gt_dir=world.panoptic_dir, workers=args.workers)
            shutil.rmtree(out)
        t_naive = time.perf_counter() - t0
        per_naive = t_naive / (len(keep) * len(picks))
        naive_full = per_naive * args.images * n_set
        print(
            f"naive fuse+evaluate: {len(keep)} images x {len(picks)} settings in {t_naive:.1f} s "
            f"({1000 * per_naive:.2f} ms per image-setting) -> {naive_full:.0f} s extrapolated to the full sweep"
        )
        print(f"speed-up of the sweep over the naive loop: {per_naive / per:.1f}x (target >= 50x)")
        est = per * 5000 * 126
        print(f"extrapolated 5x5x5 (+ baseline) over 5000 images: {est:.0f} s = {est / 60:.1f} min (target < 10 min)")
        best = res.table.iloc[res.best()]
        print(f"best: {best['row']} PQ {100 * best['PQ']:.2f} ({100 * best['dPQ']:+.2f} vs baseline)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
