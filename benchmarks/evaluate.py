"""Benchmark: PQ evaluation of COCO-like panoptic pairs, rapkit vs panopticapi vs hotcoco.

Generates N GT/prediction pairs (640x480, about 25 segments each: stuff regions, thing
ellipses and polygons, crowd regions, VOID gaps; the prediction perturbs the GT: shifted
and eroded boundaries, dropped, merged, relabelled and invented segments), written by PIL
like panopticapi's converters, into a temporary folder. Then each tool evaluates them in a
fresh subprocess (the timer covers the evaluation call only; rapkit first evaluates one
image to load its compiled kernels, reported separately):

* rapkit ``evaluate_pq`` with 1 and 2 worker processes,
* panopticapi ``pq_compute`` with 1 and 2 processes (its pool size is ``cpu_count()``,
  patched per run),
* hotcoco ``hotcoco.panoptic.pq_compute`` with ``RAYON_NUM_THREADS`` = 1 and 2.

Prints seconds per 1000 images and ratios, and checks that rapkit's numbers ``==``
panopticapi's with one process.

    .venv/bin/python benchmarks/evaluate.py              # 1000 images
    .venv/bin/python benchmarks/evaluate.py --images 100 # a quick run
    .venv/bin/python benchmarks/evaluate.py --data /tmp/pairs1000 --repeat 3  # keep and reuse the pairs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CATEGORIES = [{"id": i, "name": f"thing{i}", "isthing": 1} for i in range(1, 81)] + [
    {"id": i, "name": f"stuff{i}", "isthing": 0} for i in range(92, 145)
]
THINGS = [c["id"] for c in CATEGORIES if c["isthing"]]
STUFF = [c["id"] for c in CATEGORIES if not c["isthing"]]
H, W = 480, 640


def _draw_image(rng: np.random.Generator, image_id: int):
    from PIL import Image, ImageDraw

    from rapkit.io.panoptic import id2rgb, rgb2id

    img = Image.new("RGB", (W, H), (0, 0, 0))
    d = ImageDraw.Draw(img)
    segs = []
    next_id = [int(rng.integers(1, 1 << 20))]

    def new_id():
        next_id[0] += int(rng.integers(1, 5000))
        return next_id[0]

    def color(i):
        return (i & 255, (i >> 8) & 255, (i >> 16) & 255)

    # stuff: horizontal bands with wavy polygon borders
    n_stuff = int(rng.integers(5, 9))
    cuts = np.sort(rng.integers(0, H, size=n_stuff - 1))
    bounds = [0, *cuts.tolist(), H]
    for k in range(n_stuff):
        sid = new_id()
        cat = int(rng.choice(STUFF))
        top, bot = bounds[k], bounds[k + 1] + 20
        xs = np.linspace(0, W, 9)
        poly = [(float(x), float(top + rng.integers(-15, 15))) for x in xs] + [
            (float(x), float(bot + rng.integers(-15, 15))) for x in xs[::-1]
        ]
        d.polygon(poly, fill=color(sid))
        segs.append({"id": sid, "category_id": cat, "iscrowd": 0})
    # things: ellipses and polygons painted over the stuff, a few crowd regions
    for _ in range(int(rng.integers(14, 20))):
        sid = new_id()
        cat = int(rng.choice(THINGS[:20]))
        cx, cy = rng.integers(0, W), rng.integers(0, H)
        rx, ry = rng.integers(5, 90), rng.integers(5, 90)
        if rng.random() < 0.5:
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=color(sid))
        else:
            ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
            poly = [(float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))) for a in ang]
            d.polygon(poly, fill=color(sid))
        segs.append({"id": sid, "category_id": cat, "iscrowd": int(rng.random() < 0.06)})
    # VOID gaps (outlines and blobs)
    for _ in range(int(rng.integers(3, 8))):
        x, y = rng.integers(0, W), rng.integers(0, H)
        d.line([(x, y), (x + rng.integers(-200, 200), y + rng.integers(-100, 100))], fill=(0, 0, 0), width=int(rng.integers(1, 6)))
    gt = rgb2id(np.asarray(img))
    present = set(np.unique(gt).tolist())
    segs = [s for s in segs if s["id"] in present]

    # prediction: shift, erode, drop, merge, relabel, invent
    pred = gt.copy()
    pcat = {s["id"]: s["category_id"] for s in segs}
    for s in segs:
        r = rng.random()
        m = gt == s["id"]
        if r < 0.10:
            pred[m] = 0
        elif r < 0.25:
            dx, dy = int(rng.integers(-12, 13)), int(rng.integers(-8, 9))
            pred[m] = 0
            sh = np.roll(np.roll(m, dy, 0), dx, 1)
            pred[sh] = s["id"]
        elif r < 0.32:
            pcat[s["id"]] = int(rng.choice(THINGS[:20] if s["category_id"] in THINGS else STUFF))
    pimg = Image.fromarray(id2rgb(pred), "RGB")
    pd = ImageDraw.Draw(pimg)
    for _ in range(int(rng.integers(2, 6))):
        sid = new_id()
        cx, cy, r_ = rng.integers(0, W), rng.integers(0, H), rng.integers(4, 50)
        pd.ellipse([cx - r_, cy - r_, cx + r_, cy + r_], fill=color(sid))
        pcat[sid] = int(rng.choice(THINGS[:20]))
    for _ in range(int(rng.integers(3, 8))):  # ragged boundaries
        x, y = rng.integers(0, W), rng.integers(0, H)
        pd.line([(x, y), (x + rng.integers(-300, 300), y + rng.integers(-200, 200))], fill=color(int(rng.choice(list(pcat)))), width=int(rng.integers(1, 4)))
    pred = rgb2id(np.asarray(pimg))
    ppresent = set(np.unique(pred).tolist()) - {0}
    psegs = [{"id": i, "category_id": pcat[i], "iscrowd": 0} for i in sorted(ppresent)]
    return gt, segs, pred, psegs


def _stats(ids: np.ndarray, segs: list[dict]) -> list[dict]:
    uniq, cnt = np.unique(ids, return_counts=True)
    area = dict(zip(uniq.tolist(), cnt.tolist()))
    out = []
    for s in segs:
        ys, xs = np.nonzero(ids == s["id"])
        bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        out.append({**s, "area": int(area[s["id"]]), "bbox": bbox})
    return out


def generate(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    from PIL import Image

    from rapkit.io.panoptic import id2rgb

    rng = np.random.default_rng(seed)
    (root / "gt").mkdir(parents=True)
    (root / "pred").mkdir()
    images, gt_anns, pred_anns = [], [], []
    for i in range(n):
        iid = 100000 + i
        gt, gsegs, pred, psegs = _draw_image(rng, iid)
        fn = f"{iid:012d}.png"
        Image.fromarray(id2rgb(gt), "RGB").save(root / "gt" / fn)
        Image.fromarray(id2rgb(pred), "RGB").save(root / "pred" / fn)
        images.append({"id": iid, "file_name": f"{iid:012d}.jpg", "height": H, "width": W})
        gt_anns.append({"image_id": iid, "file_name": fn, "segments_info": _stats(gt, gsegs)})
        pred_anns.append({"image_id": iid, "file_name": fn, "segments_info": _stats(pred, psegs)})
    gj, pj = root / "gt.json", root / "pred.json"
    gj.write_text(json.dumps({"images": images, "annotations": gt_anns, "categories": CATEGORIES}))
    pj.write_text(json.dumps({"images": images, "annotations": pred_anns, "categories": CATEGORIES}))
    return gj, pj


RUNNERS = {
    "rapkit": """
import json, sys, time
from rapkit.pipeline.evaluate import evaluate_pq
gt, pred, workers, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t = time.perf_counter(); evaluate_pq(warm + "/gt.json", warm + "/pred.json", workers=1); w = time.perf_counter() - t
t = time.perf_counter()
ev, _ = evaluate_pq(gt, pred, workers=workers)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "warmup": w, "result": ev.result.to_panopticapi()}, default=float))
""",
    "panopticapi": """
import contextlib, io, json, sys, time, multiprocessing
import panopticapi.evaluation as E
gt, pred, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
E.multiprocessing.cpu_count = lambda: workers
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    res = E.pq_compute(gt, pred)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "result": res}, default=float))
""",
    "hotcoco": """
import contextlib, io, json, sys, time, resource
from hotcoco.panoptic import pq_compute
gt, pred = sys.argv[1], sys.argv[2]
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = time.perf_counter(); c = cpu()
with contextlib.redirect_stdout(io.StringIO()):
    res = pq_compute(gt, pred)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "cpu": cpu() - c, "result": {k: res[k] for k in ("All", "Things", "Stuff")}}, default=float))
""",
}


def run(tool: str, gt: Path, pred: Path, workers: int, warm: Path) -> dict:
    env = dict(os.environ)
    env["RAYON_NUM_THREADS"] = str(workers)
    out = subprocess.run(
        [sys.executable, "-c", RUNNERS[tool], str(gt), str(pred), str(workers), str(warm)],
        capture_output=True, text=True, env=env, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1000, help="number of image pairs (default 1000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time (default 1 2)")
    ap.add_argument("--skip", nargs="*", default=[], choices=list(RUNNERS), help="tools to leave out")
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds over all tools (interleaved); the best time of each is kept (default 2)")
    ap.add_argument("--data", type=Path, default=None,
                    help="keep the generated pairs in this folder and reuse them on later runs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rapkit-bench-") as tmp:
        root = Path(tmp)
        data = args.data if args.data is not None else root / "data"
        t = time.perf_counter()
        if args.data is not None and (data / "gt.json").exists():
            gj, pj = data / "gt.json", data / "pred.json"
            if len(json.loads(gj.read_text())["annotations"]) != args.images:
                raise SystemExit(f"{data} holds another number of images; remove it or pass a new --data")
        else:
            gj, pj = generate(data, args.images)
        gen = time.perf_counter() - t
        warm_gj, _ = generate(root / "warm", 1, seed=1)
        anns = json.loads(gj.read_text())["annotations"]
        nseg = np.mean([len(a["segments_info"]) for a in anns])
        ncrowd = sum(s["iscrowd"] for a in anns for s in a["segments_info"])
        print(f"{args.images} pairs {W}x{H}, {nseg:.1f} GT segments per image, {ncrowd} crowd (generated in {gen:.1f} s)")
        rows: dict = {}
        results = {}
        for rnd in range(args.repeat):
            for tool in RUNNERS:
                if tool in args.skip:
                    continue
                for w in args.workers:
                    r = run(tool, gj, pj, w, root / "warm")
                    sec = r["seconds"] * 1000.0 / args.images
                    rows[(tool, w)] = min(rows.get((tool, w), sec), sec)
                    results[(tool, w)] = r["result"]
                    extra = f"  (kernel cache warm-up {r['warmup']:.2f} s, not counted)" if "warmup" in r else ""
                    if "cpu" in r:
                        extra = f"  (CPU time / wall time = {r['cpu'] / r['seconds']:.2f} cores)"
                    print(f"  round {rnd + 1}: {tool:12s} workers={w}: {r['seconds']:.2f} s{extra}", flush=True)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"\nbest of {args.repeat} round(s), os.cpu_count() = {os.cpu_count()}, load average now {load} "
              f"(on a shared machine, compare ratios taken in the same run)")
        print(f"{'tool':12s} {'workers':>7s} {'s/1000 img':>11s} {'ms/img':>7s} {'vs panopticapi(1)':>18s} {'vs same-count panopticapi':>26s} {'vs same-count hotcoco':>22s}")
        for (tool, w), s in rows.items():
            base1 = rows.get(("panopticapi", 1))
            basew = rows.get(("panopticapi", w))
            hot = rows.get(("hotcoco", w))
            f = lambda b: f"{b / s:.2f}x" if b else "-"  # noqa: E731
            print(f"{tool:12s} {w:7d} {s:11.2f} {s:7.2f} {f(base1):>18s} {f(basew):>26s} {f(hot):>22s}")
        if ("panopticapi", 1) in results:
            want = results[("panopticapi", 1)]
            for w in args.workers:
                if ("rapkit", w) in results:
                    got = results[("rapkit", w)]
                    same = all(got[k] == want[k] for k in ("All", "Things", "Stuff")) and got["per_class"] == want["per_class"]
                    print(f"rapkit workers={w} == panopticapi (1 process) on every value: {same}")
            for w in args.workers:
                if ("hotcoco", w) in results:
                    h = results[("hotcoco", w)]
                    diff = max(abs(h[k][m] - want[k][m]) for k in ("All", "Things", "Stuff") for m in ("pq", "sq", "rq"))
                    print(f"hotcoco threads={w}: largest difference from panopticapi {diff:.2e}")


if __name__ == "__main__":
    main()
