"""The in-memory evaluator (``rapkit.PanopticEvaluator``) against what a training loop runs
without it: detectron2's ``COCOPanopticEvaluator`` path, i.e. PNG-encode every prediction,
write the files, and run panopticapi on them (here its single-core loop, so that the
numbers are the same bits). ``rapkit.evaluate_pq`` on the same files is timed too.

Data: the COCO-like bench of ``benchmarks/evaluate.py`` (Pillow-written pairs, crowd and
VOID), decoded once into id maps: a model hands the evaluator arrays, not files. Each round
times, interleaved:

* ``evaluator``: ``update`` image by image on the id maps + ``compute``;
* ``d2-files``: for every prediction ``id2rgb`` + PNG encode + write, the prediction JSON,
  then panopticapi's single-core loop (which reads and decodes both PNGs of every image);
* ``evaluate_pq``: ``rapkit.evaluate_pq`` on the files (1 worker).

It prints the medians, the paired ratios (median of each round's own ratio) and checks that
the three results are equal on every value.

    python benchmarks/evaluator.py --n 100 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def _bench_module():
    spec = importlib.util.spec_from_file_location("_bench_evaluate", HERE / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _arrays(gt_json: Path, pred_json: Path):
    from rapkit.io.panoptic import read_id_map

    gt = json.loads(gt_json.read_text())
    pred = {a["image_id"]: a for a in json.loads(pred_json.read_text())["annotations"]}
    out = []
    for a in gt["annotations"]:
        p = pred[a["image_id"]]
        out.append(
            (
                a["image_id"],
                read_id_map(pred_json.with_suffix("") / p["file_name"]),
                p["segments_info"],
                read_id_map(gt_json.with_suffix("") / a["file_name"]),
                a["segments_info"],
            )
        )
    return gt, out


def run_evaluator(cats, images):
    from rapkit import PanopticEvaluator

    ev = PanopticEvaluator(cats)
    for iid, p, ps, g, gs in images:
        ev.update(p, ps, g, gs, image_ids=[iid])
    return ev.compute().result.to_panopticapi()


def run_d2_files(gt, gt_json: Path, images, tmp: Path):
    from panopticapi.evaluation import PQStat, pq_compute_single_core
    from panopticapi.utils import id2rgb

    pred_dir = Path(tempfile.mkdtemp(dir=tmp))
    anns = []
    for iid, p, ps, _, _ in images:
        fn = f"{iid}.png"
        with io.BytesIO() as buf:
            Image.fromarray(id2rgb(p)).save(buf, format="PNG")
            (pred_dir / fn).write_bytes(buf.getvalue())
        # copies: panopticapi writes the PNG's areas (numpy ints) into the segments it is given
        anns.append({"image_id": iid, "file_name": fn, "segments_info": [dict(s) for s in ps]})
    (pred_dir / "predictions.json").write_text(json.dumps({**gt, "annotations": anns}))
    cats = {c["id"]: c for c in gt["categories"]}
    by_id = {a["image_id"]: a for a in anns}
    matched = [(a, by_id[a["image_id"]]) for a in gt["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        part = pq_compute_single_core(0, matched, str(gt_json.with_suffix("")), str(pred_dir), cats)
    total = PQStat()
    total += part
    res = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        res[name], per_class = total.pq_average(cats, isthing=isthing)
        if name == "All":
            res["per_class"] = per_class
    return res


def run_evaluate_pq(gt_json: Path, pred_json: Path):
    import rapkit

    return rapkit.evaluate_pq(gt_json, pred_json, workers=1).result.to_panopticapi()


def _same(a: dict, b: dict) -> bool:
    keys = ("pq", "sq", "rq", "n")
    return all(a[s][k] == b[s][k] for s in ("All", "Things", "Stuff") for k in keys) and all(
        a["per_class"][c][k] == v[k] for c, v in b["per_class"].items() for k in ("pq", "sq", "rq")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="image pairs (default 100)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    args = ap.parse_args()

    bench = _bench_module()
    bench.H, bench.W = args.height, args.width
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        gt_json, pred_json = bench.generate_coco(tmp / "data", args.n)
        gt, images = _arrays(gt_json, pred_json)
        cats = gt["categories"]
        run_evaluate_pq(gt_json, pred_json)  # warm: numba's cached kernels loaded once
        times: dict[str, list[float]] = {"evaluator": [], "d2-files": [], "evaluate_pq": []}
        results = {}
        for _ in range(args.rounds):
            for name, fn in (
                ("evaluator", lambda: run_evaluator(cats, images)),
                ("d2-files", lambda: run_d2_files(gt, gt_json, images, tmp)),
                ("evaluate_pq", lambda: run_evaluate_pq(gt_json, pred_json)),
            ):
                t = time.perf_counter()
                results[name] = fn()
                times[name].append(time.perf_counter() - t)
    print(f"{args.n} pairs {args.height}x{args.width}, {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    for name, ts in times.items():
        print(
            f"  {name:12s} median {statistics.median(ts):7.3f} s  ({statistics.median(ts) / args.n * 1e3:.2f} ms/image)"
        )
    ev = np.array(times["evaluator"])
    for name in ("d2-files", "evaluate_pq"):
        ratio = statistics.median((np.array(times[name]) / ev).tolist())
        print(f"  {name} / evaluator (paired median): {ratio:.2f}x")
    ok = _same(results["evaluator"], results["d2-files"]) and _same(results["evaluator"], results["evaluate_pq"])
    print(f"  parity (evaluator == panopticapi == evaluate_pq, every value): {ok}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
