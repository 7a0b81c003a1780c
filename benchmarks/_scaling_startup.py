"""Start-up rows for benchmarks/scaling.py: what a fresh ``rapkit evaluate`` and ``rapkit
fuse`` cost on one image, whole process, beside the floors measured in the same rounds.

``measure(args) -> list[dict]`` (keys: work, workers, wall_s, cpu_s, startup_s,
serial_ms_per_image, amdahl_8, amdahl_16, note), one row per:

* ``python -c pass`` and ``python -c "import numpy"`` (the floors), hotcoco's 1-image
  ``pq_compute`` (when hotcoco is installed);
* ``rapkit evaluate`` of the 1-image pair (its default numpy path for a small job) and with
  ``RAPKIT_EVALUATE_PATH=kernels`` (the numba path a large job takes: numba's import and the
  cached-kernel loads included);
* ``rapkit fuse`` of a 1-image synthetic world.

Each is a fresh process with one worker, the rows interleaved in each of ``args.repeat``
rounds (default 5) after one warm-up run each; wall and CPU (user + sys of the child) are
medians. ``startup_s`` is the row's wall (the whole process is start-up: one image);
``serial_ms_per_image`` and the Amdahl columns do not apply to a one-image run (None).
``args`` may carry ``gt``, ``pred`` (default ``/tmp/one``), ``data`` (the fuse world's
folder, default ``/tmp/rapkit-startup``) and ``repeat``; benchmarks/startup.py has the
breakdown of where the time goes.

    python benchmarks/_scaling_startup.py --repeat 5
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _startup_module():
    spec = importlib.util.spec_from_file_location("_bench_startup", HERE / "startup.py")
    m = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(m)  # type: ignore[union-attr]
    return m


def measure(args: argparse.Namespace) -> list[dict]:
    m = _startup_module()
    ns = argparse.Namespace(
        gt=getattr(args, "gt", None) or "/tmp/one/gt.json",
        pred=getattr(args, "pred", None) or "/tmp/one/pred.json",
    )
    data = Path(getattr(args, "data", None) or "/tmp/rapkit-startup")
    data.mkdir(parents=True, exist_ok=True)
    rows = m.rows_for(ns, {"rapkit": m.TREE}, data)
    res = m.measure_rows(rows, int(getattr(args, "repeat", 5) or 5))
    notes = {
        "python -c pass": "floor: the interpreter and site",
        "python -c 'import numpy'": "floor: numpy",
        "hotcoco pq_compute, 1 image": "hotcoco, 1 image",
        "rapkit: evaluate, 1 image": "small job: numpy path, no numba",
        "rapkit: evaluate, 1 image, kernel path": "RAPKIT_EVALUATE_PATH=kernels: numba import + cached kernel loads",
        "rapkit: fuse, 1 image": "1-image synthetic world",
    }
    out = []
    for name, v in res.items():
        if name not in notes:
            continue
        out.append(
            {
                "work": f"start-up: {name.removeprefix('rapkit: ')}",
                "workers": 1,
                "wall_s": round(v["wall_s"], 4),
                "cpu_s": round(v["cpu_s"], 4),
                "startup_s": round(v["wall_s"], 4),
                "serial_ms_per_image": None,
                "amdahl_8": None,
                "amdahl_16": None,
                "note": notes[name],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gt", default="/tmp/one/gt.json")
    ap.add_argument("--pred", default="/tmp/one/pred.json")
    ap.add_argument("--data", default="/tmp/rapkit-startup")
    ap.add_argument("--repeat", type=int, default=5)
    rows = measure(ap.parse_args())
    print(f"{'work':46s} {'wall s':>8s} {'CPU s':>7s}  note")
    for r in rows:
        print(f"{r['work']:46s} {r['wall_s']:8.3f} {r['cpu_s']:7.3f}  {r['note']}")


if __name__ == "__main__":
    main()
