"""Benchmark: ``rapkit evaluate --sweep`` whole process (time, CPU seconds, peak RSS), and
against the naive loop.

Whole process (the default): ``rapkit evaluate --sweep rho tau gamma`` with a GRIDxGRIDxGRID
grid (+ the baseline) run as a user runs it, at 1 and 2 workers, in interleaved rounds; with
``--before TREE`` the same commands from another source tree (e.g. ``git worktree add
/tmp/sweep-base dc6ff8f``) in the same rounds, paired. Per run: wall seconds, CPU seconds
(user + system of the child) and peak RSS (the child's ``ru_maxrss``, which the machine's load
does not change); the load average is printed with every round. The JSON rows of every run
must equal the first run's byte for byte but the ``seconds`` line (checked, printed).

    python benchmarks/sweep.py --keep /tmp/w5000 --images 5000 --before /tmp/sweep-base
    python benchmarks/sweep.py --images 200 --grid 3 --rounds 1        # quicker

``--naive`` instead times the sweep in process against what a researcher does without it
(for every setting, ``rapkit fuse`` to disk + ``rapkit evaluate``) on a subset of images and
settings, extrapolated linearly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def sweep_cmd(world, vals: list[float], workers: int) -> list[str]:
    v = ",".join(f"{x:g}" for x in vals)
    return [
        sys.executable,
        "-m",
        "rapkit",
        "evaluate",
        "--sweep",
        "rho",
        "tau",
        "gamma",
        "--gt",
        str(world.panoptic),
        "--proposals",
        str(world.proposals),
        "--semantic",
        str(world.semantic),
        "--rho",
        v,
        "--tau",
        v,
        "--gamma",
        v,
        "--workers",
        str(workers),
        "--format",
        "json",
        "--quiet",
    ]


def run_child(cmd: list[str], tree: str) -> tuple[float, float, float, bytes]:
    """``(wall s, CPU s, peak RSS MB, stdout)`` of one whole process (``tree`` on PYTHONPATH)."""
    env = dict(os.environ, PYTHONPATH=tree, RAPKIT_FSYNC="0")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        # cwd = the tree: ``python -m`` puts the working directory first on sys.path, so a run
        # started from another checkout would import that checkout, whatever PYTHONPATH says
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=tree)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err.read().decode()}")
        return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out.read()


def _rows(stdout: bytes) -> bytes:
    """The JSON report but the timing line (``"seconds": ...``)."""
    return b"\n".join(line for line in stdout.splitlines() if not line.lstrip().startswith(b'"seconds"'))


def whole_process(args, world) -> None:
    import numpy as np

    vals = [round(float(v), 3) for v in np.linspace(0.4, 0.8, args.grid)]
    after = str(Path(__file__).resolve().parents[1])
    trees = {"after": after}
    if args.before:
        trees = {"before": str(Path(args.before).resolve()), "after": after}
    workers = [int(w) for w in args.workers_list.split(",")]
    print(f"grid {args.grid}x{args.grid}x{args.grid} + baseline ({vals}); workers {workers}; {args.rounds} rounds")
    from rapkit.synth import SynthConfig, make_world

    small = tempfile.mkdtemp(prefix="rapkit-bench-sweep-warm-")
    try:  # the numba cache of each tree, outside the timings
        w = make_world(Path(small) / "w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
        for tree in trees.values():
            run_child(sweep_cmd(w, vals[:2], 1), tree)
    finally:
        shutil.rmtree(small, ignore_errors=True)
    runs: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    ref = None
    same = True
    for rnd in range(args.rounds):
        names = list(trees) if rnd % 2 == 0 else list(trees)[::-1]  # alternate who goes first
        print(f"round {rnd + 1}: load average {_load()}", flush=True)
        for wk in workers:
            for name in names:
                wall, cpu, rss, out = run_child(sweep_cmd(world, vals, wk), trees[name])
                runs.setdefault((name, wk), []).append((wall, cpu, rss))
                rows = _rows(out)
                ref = rows if ref is None else ref
                same = same and rows == ref
                print(f"  {name:6s} {wk} worker(s): {wall:6.1f} s wall {cpu:6.1f} s CPU {rss:7.0f} MB peak", flush=True)
    print(f"load average at the end {_load()}")
    print()
    print("| tree | workers | wall (median) | CPU s (median) | peak RSS (max) | wall after/before (paired median) |")
    print("|---|---|---|---|---|---|")
    for (name, wk), r in runs.items():
        ratio = ""
        if name == "after" and ("before", wk) in runs:
            b = runs[("before", wk)]
            ratio = f"{statistics.median(a[0] / x[0] for a, x in zip(r, b)):.2f}x"
            ratio += f" (CPU {statistics.median(a[1] / x[1] for a, x in zip(r, b)):.2f}x)"
        print(
            f"| {name} | {wk} | {statistics.median(x[0] for x in r):.1f} s | {statistics.median(x[1] for x in r):.1f} s "
            f"| {max(x[2] for x in r):.0f} MB | {ratio} |"
        )
    print()
    print(f"rows of every run equal (JSON byte for byte but the seconds line): {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


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
    ap.add_argument("--before", default=None, help="also run this source tree (an older commit), same rounds")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the whole-process part")
    ap.add_argument("--workers-list", default="1,2", help="worker counts of the whole-process part")
    ap.add_argument("--naive", action="store_true", help="in-process sweep vs the naive fuse + evaluate loop")
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
        if not args.naive:
            whole_process(args, world)
            return
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
