"""How ``rapkit evaluate`` scales with ``--workers``, against hotcoco and the inflate floor
(rows for benchmarks/scaling.py).

    python benchmarks/_scaling_evaluate.py                          # /tmp/evcoco, 5 rounds
    python benchmarks/_scaling_evaluate.py --data D --repeat 3 --before /work/main

``--data`` is a folder of benchmarks/evaluate.py's COCO-like bench (gt.json, gt/, pred.json,
pred/: Pillow-written 640x480 pairs; ``benchmarks/evaluate.py --data D --n 2000`` makes one).
:func:`measure` returns one row per tool (and tree) and worker count, and one for the floor
(keys: work, workers, wall_s, cpu_s, startup_s, serial_ms_per_image, amdahl_8, amdahl_16,
note). Measured, all in the same ``--repeat`` interleaved rounds:

* **whole process**: ``python -m rapkit evaluate --gt D/gt.json --pred D/pred.json
  --workers W --format json --quiet`` as a user runs it, and hotcoco's
  ``pq_compute`` in a fresh ``python -c`` (``RAYON_NUM_THREADS=W``), at 1 and 2 workers
  (benchmarks/evaluate.py's ``whole``); wall and CPU (user + sys) are medians; the note gives
  the per-image time and, against hotcoco, the median over rounds of the paired ratio (and
  its smallest round).
* **start-up** (``startup_s``): the same command on a one-image slice of the bench (wall, median).
* **serial per image** (rapkit): the probe runs :func:`rapkit.pipeline.evaluate.evaluate_pq`
  in one process with one worker and times, in thread CPU, everything inside rapkit's numba
  kernels (all ``nogil=True``: the chunk kernel parses, inflates, unfilters, counts and
  matches), libdeflate's inflate and the file system calls; the rest of the per-image CPU
  holds the GIL. It also gives the CPU from the call to the first image (the JSON files
  read and checked), and, in a second run with two workers, the calling thread's CPU from
  the first image on (handing out chunks, merging) and the CPU of all threads.
* **serial share** (hotcoco): from its own 1- and 2-thread times with its start-up taken off,
  ``T2 = T1 (s + (1 - s) / 2)``, so ``s = 2 T2 / T1 - 1``.
* **projection** (Amdahl): ``T(n) = S + P / n`` with ``S`` = start-up + the serial part and
  ``P`` the rest of the 1-worker time; given as ``T(1) / T(n)`` for n = 8 and 16: an upper
  bound (free cores, the GIL handed over without loss).
* **the floor** (benchmarks/evaluate.py's ``inflate_floor``): in this process, one thread, every GT and prediction PNG of the bench read
  (``open``/``read``), its chunks parsed and its image data inflated by libdeflate
  (``deflate.zlib_decompress``, the same library rapkit calls); ms per image pair, median of
  the rounds. rapkit's 1-worker per-image time is given as a multiple of it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _nogil_timer import thread_cpu_timer, wrap_kernels

HERE = Path(__file__).resolve().parent
TREE = HERE.parent


def _bench_module():
    spec = importlib.util.spec_from_file_location("_evaluate_bench", HERE / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def one_image_slice(data: Path, root: Path) -> Path:
    """A one-image copy of the bench ``data`` under ``root`` (the start-up's dataset)."""
    for side in ("gt", "pred"):
        d = json.loads((data / f"{side}.json").read_text())
        ann = d["annotations"][0]
        d["annotations"] = [ann]
        d["images"] = [i for i in d["images"] if i["id"] == ann["image_id"]]
        (root / side).mkdir(parents=True, exist_ok=True)
        (root / side / ann["file_name"]).write_bytes((data / side / ann["file_name"]).read_bytes())
        (root / f"{side}.json").write_text(json.dumps(d))
    return root


def probe(warm: str, data: str) -> dict:
    """In this process (the tree on ``sys.path``): the CPU split of one 1-worker evaluation
    (module docstring); the kernels are loaded on ``warm`` (a one-image slice) first."""

    import deflate

    from rapkit._runtime import process
    from rapkit.pipeline.evaluate import evaluate_pq

    process.tune_allocator()  # the command line's process settings
    process.command_gc()

    def go(d: str, **kw):
        return evaluate_pq(f"{d}/gt.json", f"{d}/pred.json", **kw)

    go(warm)
    acc, timed = thread_cpu_timer()
    clock = time.thread_time
    wrap_kernels(timed)
    deflate.zlib_decompress = timed(deflate.zlib_decompress)
    for name in ("open", "read", "fstat", "close"):  # file system calls (the GIL is released in them)
        setattr(os, name, timed(getattr(os, name)))
    marks: dict = {}

    def on_start(n: int) -> None:
        marks["start"] = clock()
        acc[0] = 0.0

    t0 = clock()
    ev = go(data, workers=1, on_start=on_start)
    t1 = clock()
    out = {
        "startup_cpu": marks["start"] - t0,
        "images_cpu": t1 - marks["start"],
        "images_nogil_cpu": acc[0],
        "images": ev.n_images,
    }
    p0 = time.process_time()
    go(data, workers=2, on_start=on_start)
    out["main_cpu_2_workers"] = clock() - marks["start"]  # what the calling thread serialises
    out["process_cpu_2_workers"] = time.process_time() - p0  # all threads, the input read included
    return out


def _probe(tree: Path, warm: Path, data: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(HERE / "_scaling_evaluate.py"), "--probe", str(warm), str(data)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _amdahl(t1: float, serial: float) -> tuple[float, float]:
    par = max(0.0, t1 - serial)
    return t1 / (serial + par / 8), t1 / (serial + par / 16)


def measure(args: argparse.Namespace) -> list[dict]:
    """The rows (module docstring). ``args``: ``data``, ``repeat``, ``before`` (a tree or None),
    ``workers`` (default ``[1, 2]``), ``verbose``."""
    bench = _bench_module()
    data = Path(getattr(args, "data", "/tmp/evcoco"))
    repeat = int(getattr(args, "repeat", 5))
    workers = list(getattr(args, "workers", None) or [1, 2])
    trees = [("rapkit", TREE)] + ([("rapkit before", Path(args.before))] if getattr(args, "before", None) else [])
    verbose = bool(getattr(args, "verbose", True))
    gj, pj = data / "gt.json", data / "pred.json"
    n = len(json.loads(gj.read_text())["annotations"])
    wall: dict = {}
    cpu: dict = {}
    with tempfile.TemporaryDirectory(prefix="rapkit-scaling-evaluate-") as tmp:
        one = one_image_slice(data, Path(tmp) / "one")
        og, op = one / "gt.json", one / "pred.json"
        for rnd in range(repeat):
            for name, tree in trees:
                dt, _ = bench.whole("rapkit", og, op, 1, tree=tree)
                wall.setdefault((name, "startup"), []).append(dt)
            dt, _ = bench.whole("hotcoco", og, op, 1)
            wall.setdefault(("hotcoco", "startup"), []).append(dt)
            for w in workers:
                for name, tree in trees:
                    dt, c = bench.whole("rapkit", gj, pj, w, tree=tree)
                    wall.setdefault((name, w), []).append(dt)
                    cpu.setdefault((name, w), []).append(c)
                dt, c = bench.whole("hotcoco", gj, pj, w)
                wall.setdefault(("hotcoco", w), []).append(dt)
                cpu.setdefault(("hotcoco", w), []).append(c)
            wall.setdefault(("floor", 1), []).append(bench.inflate_floor(data))
            if verbose:
                got = "  ".join(f"{k[0]} {k[1]}: {v[-1]:.2f}" for k, v in wall.items())
                print(f"round {rnd + 1}: {got}  (load {_load()})", flush=True)
        probes = {name: _probe(tree, one, data) for name, tree in trees}
    med = {k: statistics.median(v) for k, v in wall.items()}
    floor = med[("floor", 1)]
    rows = []
    for name, _ in trees:
        pr = probes[name]
        serial_ms = 1000 * (pr["images_cpu"] - pr["images_nogil_cpu"]) / pr["images"]
        start = med[(name, "startup")]
        for w in workers:
            t = med[(name, w)]
            t1 = med[(name, workers[0])]
            a8, a16 = _amdahl(t1, start + pr["startup_cpu"] + serial_ms * n / 1000)
            per_ms = 1000 * (t - start) / n
            paired = [h / r for h, r in zip(wall[("hotcoco", w)], wall[(name, w)])]
            note = (
                f"{per_ms:.3f} ms/image after start-up; vs hotcoco x{statistics.median(paired):.2f} "
                f"(paired median; smallest round x{min(paired):.2f})"
            )
            if w == workers[0]:
                note += f"; per image {per_ms / floor:.1f}x the read+inflate floor"
            else:
                r12 = statistics.median(a / b for a, b in zip(wall[(name, workers[0])], wall[(name, w)]))
                note += f"; 1->{w} x{r12:.2f} (paired median)"
            note += f"; input read {pr['startup_cpu']:.2f} s CPU"
            if w != workers[0]:
                note += (
                    f"; probe, 2 workers: calling thread {pr['main_cpu_2_workers']:.3f} s CPU, all threads "
                    f"{pr['process_cpu_2_workers']:.2f} s (1 worker: {pr['startup_cpu'] + pr['images_cpu']:.2f} s)"
                )
            rows.append(
                {
                    "work": f"evaluate ({name})",
                    "workers": w,
                    "wall_s": round(t, 3),
                    "cpu_s": round(statistics.median(cpu[(name, w)]), 3),
                    "startup_s": round(start, 3),
                    "serial_ms_per_image": round(serial_ms, 4),
                    "amdahl_8": round(a8, 2),
                    "amdahl_16": round(a16, 2),
                    "note": note,
                }
            )
    h0 = med[("hotcoco", "startup")]
    q1 = med[("hotcoco", workers[0])] - h0
    q2 = med[("hotcoco", workers[-1])] - h0
    share = min(1.0, max(0.0, 2 * q2 / q1 - 1)) if len(workers) > 1 and q1 > 0 else 0.0
    for w in workers:
        t1 = med[("hotcoco", workers[0])]
        a8, a16 = _amdahl(t1, h0 + share * q1)
        rows.append(
            {
                "work": "evaluate (hotcoco)",
                "workers": w,
                "wall_s": round(med[("hotcoco", w)], 3),
                "cpu_s": round(statistics.median(cpu[("hotcoco", w)]), 3),
                "startup_s": round(h0, 3),
                "serial_ms_per_image": round(1000 * share * q1 / n, 4),
                "amdahl_8": round(a8, 2),
                "amdahl_16": round(a16, 2),
                "note": f"{1000 * (med[('hotcoco', w)] - h0) / n:.3f} ms/image after start-up; serial share "
                f"{share:.2f} (from its 1- and 2-thread times)",
            }
        )
    rows.append(
        {
            "work": "evaluate floor (read + libdeflate inflate, 1 thread)",
            "workers": 1,
            "wall_s": round(floor * n / 1000, 3),
            "cpu_s": None,
            "startup_s": None,
            "serial_ms_per_image": round(floor, 4),
            "amdahl_8": None,
            "amdahl_16": None,
            "note": f"{floor:.3f} ms per image pair (GT + prediction PNG), median of {repeat} rounds",
        }
    )
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        print(json.dumps(probe(sys.argv[2], sys.argv[3])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/evcoco"), help="the bench folder (default /tmp/evcoco)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds; medians (default 5)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    ap.add_argument("--before", type=Path, default=None, help="also time this rapkit tree in the same rounds")
    args = ap.parse_args()
    args.verbose = True
    rows = measure(args)
    keys = ["work", "workers", "wall_s", "cpu_s", "startup_s", "serial_ms_per_image", "amdahl_8", "amdahl_16"]
    print("\n" + " | ".join(keys) + " | note")
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys) + " | " + r["note"])


if __name__ == "__main__":
    main()
