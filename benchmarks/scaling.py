"""How rapkit's hot paths scale with ``--workers``: for ``fuse``, ``evaluate`` (against
hotcoco), ``extract-relations`` and the sweep, the whole-process time at 1 and 2 workers, the
start-up, the serial (GIL-held) CPU per image, and the Amdahl projection for 8 and 16 cores;
optionally an older tree (``--before``) measured in the same rounds. Each section is its own
module (this file's fuse section; ``_scaling_evaluate.py``, ``_scaling_extract.py``,
``_scaling_sweep.py``, ``_scaling_startup.py``, each runnable alone); a summary table of
every section's rows ends the run.

    python benchmarks/scaling.py --world /tmp/w5000                # every section, 5 rounds
    python benchmarks/scaling.py --only fuse --before /tmp/base    # fuse, also an older tree
    python benchmarks/scaling.py --n-images 300 --dense 40 --repeat 1 --only fuse,sweep   # a quick look

The evaluate section reads benchmarks/evaluate.py's COCO-like bench (``--evaluate-data``,
default ``/tmp/evcoco``; ``python benchmarks/evaluate.py --data /tmp/evcoco --n 2000`` makes
it). What follows is the fuse section; the other modules' docstrings say what they measure.

Inputs (made once, kept under ``--data``, default ``/tmp/rapkit-scaling``): the synthetic
world ``rapkit synth -n N --seed 0 --no-render`` (``--world`` takes an existing one), a dense
detector dump of ``--dense`` images (100 proposals per 640x480 image: benchmarks/fusion.py's
writer) and a one-image world for the start-up.

Measured, per tree:

* **whole process**: ``python -m rapkit fuse --strategy rap`` as a user runs it, fresh each
  time, ``RAPKIT_FSYNC=0`` (the flush to disk is the disk's time, not rapkit's), at 1 and 2
  workers, on the world and on the dense dump; all trees and worker counts interleaved in
  each of ``--repeat`` rounds. Wall and CPU seconds (user + sys of the child) are medians;
  "1->2" is the median over rounds of the paired ratio (1-worker wall / 2-worker wall of the
  same round), "after/before" likewise. The load average is printed per round: on a shared
  machine the wall-clock figures follow it, the CPU seconds much less.
* **start-up**: the whole process on the one-image world (wall and CPU, medians).
* **serial per image**: benchmarks/_gil_probe.py runs ``fuse`` in one process with one
  worker and times, in thread CPU, everything inside the numba kernels (``nogil=True``), the
  libdeflate inflate and the file reads and writes; the rest of the per-image CPU holds the
  GIL: threads cannot share it. It also reports the calling thread's CPU in a 2-worker run
  (what the parent serialises: handing out images, merging results, the JSON).
* **projection** (Amdahl): with ``S`` the start-up CPU (the one-image process, plus reading
  and checking the world's inputs as the probe times it) plus the serial CPU of all images and
  ``P`` the rest of the per-image CPU, ``T(n) = S + P / n``; printed as ``T(1) / T(n)`` for
  n = 2, 8, 16. It assumes the cores are free and the GIL is handed over without loss: an
  upper bound.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parent


def run(cmd: list[str], tree: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout) of one fresh process with ``tree`` on PYTHONPATH."""
    import resource

    env = dict(os.environ, PYTHONPATH=str(tree), RAPKIT_FSYNC="0", RAPKIT_PROGRESS="off")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # cwd = the tree: ``python -m`` puts the working directory first on sys.path, before PYTHONPATH
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(tree))
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), r.stdout


def fuse_cmd(world: dict[str, Path], out: Path, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rapkit",
        "fuse",
        "--proposals",
        str(world["proposals"]),
        "--image-info",
        str(world["images"]),
        "--categories",
        str(world["categories"]),
        "--semantic",
        str(world["semantic"]),
        "-o",
        str(out),
        "--workers",
        str(workers),
        "--quiet",
        "--format",
        "json",
    ]


def synth_world(root: Path, n: int) -> dict[str, Path]:
    if not (root / "proposals.json").exists():
        env = dict(os.environ, PYTHONPATH=str(TREE))
        cmd = [sys.executable, "-m", "rapkit", "synth", "-o", str(root), "-n", str(n), "--seed", "0", "--no-render"]
        subprocess.run([*cmd, "--quiet"], check=True, env=env, capture_output=True)
    return as_paths(root, "panoptic.json")


def as_paths(root: Path, images: str) -> dict[str, Path]:
    return {
        "root": root,
        "proposals": root / "proposals.json",
        "images": root / images,
        "categories": root / "categories.json",
        "semantic": root / "semantic",
    }


def dense_world(root: Path, n: int) -> dict[str, Path]:
    if not (root / "proposals.json").exists():
        spec = importlib.util.spec_from_file_location("bench_fusion", HERE / "fusion.py")
        m = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(m)  # type: ignore[union-attr]
        shutil.rmtree(root, ignore_errors=True)
        m.write_dataset(root, n, 100, dense=True)
    return as_paths(root, "images.json")


def probe(tree: Path, warm: dict[str, Path], world: dict[str, Path]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), RAPKIT_FSYNC="0")
    cmd = [sys.executable, str(HERE / "_gil_probe.py"), str(warm["root"]), str(world["root"])]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"probe failed: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def med(xs: list[float]) -> float:
    return statistics.median(xs)


SECTIONS = ("fuse", "evaluate", "extract", "sweep", "startup")


def _section(name: str):
    spec = importlib.util.spec_from_file_location(f"_scaling_{name}", HERE / f"_scaling_{name}.py")
    m = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(m)  # type: ignore[union-attr]
    return m


def _fmt(v, spec: str = ".2f") -> str:
    return "" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections, comma-separated (default all: {','.join(SECTIONS)})"
    )
    ap.add_argument("--data", default="/tmp/rapkit-scaling", help="where the inputs are made once")
    ap.add_argument("--world", default=None, help="an existing synthetic world (rapkit synth) to use instead")
    ap.add_argument("--n-images", type=int, default=5000, help="images of the synthetic world (default 5000)")
    ap.add_argument("--dense", type=int, default=200, help="images of the dense dump (0: none; default 200)")
    ap.add_argument(
        "--evaluate-data", default="/tmp/evcoco", help="benchmarks/evaluate.py's bench (default /tmp/evcoco)"
    )
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--before", default=None, help="also measure this rapkit source tree (an older commit)")
    args = ap.parse_args()
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    rows: list[dict] = []
    if "fuse" in only:
        rows += fuse_section(args)
    world = args.world or str(Path(args.data) / f"w{args.n_images}")
    if "evaluate" in only:
        ns = argparse.Namespace(
            data=Path(args.evaluate_data), repeat=args.repeat, before=args.before, workers=[1, 2], verbose=True
        )
        print("\n== evaluate (benchmarks/_scaling_evaluate.py)", flush=True)
        rows += _section("evaluate").measure(ns)
    if "extract" in only:
        ns = argparse.Namespace(
            world=world, data=args.data, n_images=args.n_images, repeat=args.repeat, before=args.before
        )
        print("\n== extract-relations (benchmarks/_scaling_extract.py)", flush=True)
        rows += _section("extract").measure(ns)
    if "sweep" in only:
        ns = argparse.Namespace(world=world, data=args.data, n_images=args.n_images, repeat=args.repeat)
        print("\n== sweep (benchmarks/_scaling_sweep.py)", flush=True)
        rows += _section("sweep").measure(ns)
    if "startup" in only:
        ns = argparse.Namespace(repeat=args.repeat, data=str(Path(args.data) / "startup"))
        print("\n== start-up (benchmarks/_scaling_startup.py)", flush=True)
        rows += _section("startup").measure(ns)
    print("\nsummary (medians; serial = GIL-held CPU per image; Amdahl = T(1)/T(n), an upper bound):")
    print("| work | workers | wall s | CPU s | start-up s | serial ms/img | Amdahl 8 | Amdahl 16 | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['work']} | {r['workers']} | {_fmt(r.get('wall_s'))} | {_fmt(r.get('cpu_s'))} | "
            f"{_fmt(r.get('startup_s'), '.3f')} | {_fmt(r.get('serial_ms_per_image'), '.3f')} | "
            f"{_fmt(r.get('amdahl_8'))} | {_fmt(r.get('amdahl_16'))} | {r.get('note', '')} |"
        )
    print(f"load at end {load()}")


def fuse_section(args) -> list[dict]:
    """The fuse rows (module docstring), printed as they come and returned for the summary."""
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    cases = {
        "world": as_paths(Path(args.world), "panoptic.json")
        if args.world
        else synth_world(data / f"w{args.n_images}", args.n_images)
    }
    if args.dense:
        cases["dense"] = dense_world(data / f"dense{args.dense}", args.dense)
    one = synth_world(data / "w1", 1)
    trees = {"after": TREE}
    if args.before:
        trees = {"before": Path(args.before).resolve(), "after": TREE}
    n_img = {"world": len(json.loads(cases["world"]["images"].read_text())["images"])}
    if "dense" in cases:
        n_img["dense"] = args.dense
    out = data / "out"
    print(f"rapkit fuse --strategy rap, whole process; trees: {', '.join(f'{k}={v}' for k, v in trees.items())}")
    print(
        f"cases: {', '.join(f'{c} ({n_img[c]} images)' for c in cases)}; {args.repeat} rounds; load at start {load()}"
    )
    for tree in trees.values():  # warm the kernel caches of each tree once
        run(fuse_cmd(one, out, 1), tree)
        shutil.rmtree(out, ignore_errors=True)

    wall: dict[tuple, list[float]] = {}
    cpu: dict[tuple, list[float]] = {}
    for r in range(args.repeat):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        loads = [load()]
        for case in cases:
            for name in order:
                for j in (1, 2) if r % 2 == 0 else (2, 1):
                    shutil.rmtree(out, ignore_errors=True)
                    w, c, _ = run(fuse_cmd(cases[case], out, j), trees[name])
                    wall.setdefault((case, name, j), []).append(w)
                    cpu.setdefault((case, name, j), []).append(c)
        for name in order:
            shutil.rmtree(out, ignore_errors=True)
            w, c, _ = run(fuse_cmd(one, out, 1), trees[name])
            wall.setdefault(("startup", name, 1), []).append(w)
            cpu.setdefault(("startup", name, 1), []).append(c)
        loads.append(load())
        print(f"round {r + 1}: load {loads[0]} -> {loads[1]}")
    shutil.rmtree(out, ignore_errors=True)

    print("\nwhole process (medians; wall s, CPU s in brackets; 1->2 = paired wall ratio):")
    print("| case | tree | 1 worker | 2 workers | 1->2 | 1->2 range |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        for name in trees:
            w1, w2 = wall[(case, name, 1)], wall[(case, name, 2)]
            ratios = [a / b for a, b in zip(w1, w2)]
            print(
                f"| {case} | {name} | {med(w1):.2f} ({med(cpu[(case, name, 1)]):.2f}) | "
                f"{med(w2):.2f} ({med(cpu[(case, name, 2)]):.2f}) | {med(ratios):.2f}x | "
                f"{min(ratios):.2f}-{max(ratios):.2f} |"
            )
    if "before" in trees:
        print("\nafter against before (paired wall ratio before/after, > 1: after faster; CPU likewise):")
        for case in cases:
            for j in (1, 2):
                rw = [a / b for a, b in zip(wall[(case, "before", j)], wall[(case, "after", j)])]
                rc = [a / b for a, b in zip(cpu[(case, "before", j)], cpu[(case, "after", j)])]
                print(f"  {case}, {j} worker(s): wall {med(rw):.2f}x, CPU {med(rc):.2f}x")
    print("\nstart-up (one-image world, whole process, medians):")
    for name in trees:
        print(f"  {name}: wall {med(wall[('startup', name, 1)]):.3f} s, CPU {med(cpu[('startup', name, 1)]):.3f} s")

    print("\nserial (GIL-held) CPU and the Amdahl projection (benchmarks/_gil_probe.py, world):")
    print(
        "| tree | start-up CPU s (process + inputs) | per image CPU ms | GIL-held ms/img: images + JSON "
        "| share | parent CPU s (2 workers) | 2 | 8 | 16 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    n = n_img["world"]
    start_cpu = {name: med(cpu[("startup", name, 1)]) for name in trees}
    rows: list[dict] = []
    for name, tree in trees.items():
        p = probe(tree, one, cases["world"])
        per = p["loop_cpu"] / n
        serial = (p["loop_cpu"] - p["nogil_cpu"]) / n
        in_images = (p["images_cpu"] - p["images_nogil_cpu"]) / n
        s_tot = start_cpu[name] + p["startup_cpu"] + serial * n
        par = p["nogil_cpu"]
        t1 = s_tot + par
        proj = [t1 / (s_tot + par / k) for k in (2, 8, 16)]
        print(
            f"| {name} | {start_cpu[name]:.2f} + {p['startup_cpu']:.2f} | {1e3 * per:.3f} | "
            f"{1e3 * in_images:.3f} + {1e3 * (serial - in_images):.3f} | "
            f"{100 * serial / per:.0f}% | {p['main_cpu_2_workers']:.2f} | "
            + " | ".join(f"{x:.2f}x" for x in proj)
            + " |"
        )
        for case in cases:
            w1, w2 = wall[(case, name, 1)], wall[(case, name, 2)]
            ratios = [a / b for a, b in zip(w1, w2)]
            for j in (1, 2):
                rows.append(
                    {
                        "work": f"fuse --strategy rap, {case} ({n_img[case]} images)"
                        + ("" if name == "after" else f" [{name}]"),
                        "workers": j,
                        "wall_s": med(wall[(case, name, j)]),
                        "cpu_s": med(cpu[(case, name, j)]),
                        "startup_s": med(wall[("startup", name, 1)]),
                        "serial_ms_per_image": 1e3 * serial if case == "world" else None,
                        "amdahl_8": proj[1] if case == "world" else None,
                        "amdahl_16": proj[2] if case == "world" else None,
                        "note": f"1->2 paired {med(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
                        if j == 2
                        else "",
                    }
                )
    print(f"load at end {load()}")
    return rows


if __name__ == "__main__":
    main()
