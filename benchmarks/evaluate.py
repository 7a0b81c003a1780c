"""Benchmark: PQ evaluation of panoptic pairs, rapkit vs hotcoco (and panopticapi for parity).

Cases (``--case``):

* ``coco`` (default): the files users have. GT and prediction PNGs are built from the two
  real COCO panoptic PNGs in ``tests/data/panopticapi_sample`` (random crops, nearest-
  neighbour rescaled to 640x480, one crop or two side by side, random flips; things get
  fresh ids per crop, stuff of one category is one segment per image), about 24 segments
  per image (COCO val: about 26). Ids are made as panopticapi's ``IdGenerator`` makes them (the
  category colour, jittered by up to 30 per channel for things). The prediction perturbs
  the GT (dropped, shifted, relabelled and invented segments). Both are saved by Pillow
  with its default settings, i.e. adaptive filtering: each row picks Sub, Up or Paeth.
  The filter mix is read back from the files and printed.
* ``synthetic``: drawn polygons and ellipses (the earlier default), also saved by Pillow.

Each tool runs as a fresh process, interleaved round by round (rapkit, hotcoco, rapkit,
...), at every worker count (hotcoco with ``RAYON_NUM_THREADS`` = the same count):

* whole process: the ``rapkit evaluate --format json`` command vs a ``python -c`` script
  that imports hotcoco and calls ``hotcoco.panoptic.pq_compute``: wall time from outside,
  interpreter start-up, imports, JSON and kernel cache loading included;
* in-process: the time of the ``evaluate_pq`` / ``pq_compute`` call alone (rapkit first
  evaluates one other image so its compiled kernels are loaded; that is reported apart).

``--base TREE`` also times the whole ``rapkit evaluate`` command of another checkout of
rapkit (``PYTHONPATH=TREE``; this tree's runs get ``PYTHONPATH`` = this tree), in the same
rounds, and prints base / this tree per worker count (the median of the per-round paired
ratios beside the ratio of the medians); with more than one worker the base is also timed
with ``RAPKIT_FORK_CALL=0``, for bases that read their JSON files in a forked child.

Each round also measures the read + inflate floor (:func:`inflate_floor`: every PNG of the
bench read, its chunks parsed and its image data inflated by libdeflate, one thread, in this
process) and rapkit's per-image time is printed as a multiple of it.

Each round also times both tools on a one-image dataset (start-up CPU: interpreter, imports,
kernel cache). Medians over ``--repeat`` rounds (default 3), the ratios of the medians and
the medians of the per-round paired ratios are printed with the load average; ``--profile``
adds a CPU profile of rapkit's 1-worker evaluation (top functions, share of the total). rapkit's numbers are checked ``==`` panopticapi's ``pq_compute`` with one
process on every PQ/SQ/RQ/N, All/Things/Stuff and per class (``--no-parity`` skips that).

    .venv/bin/python benchmarks/evaluate.py                     # coco case, 2000 images
    .venv/bin/python benchmarks/evaluate.py --n 200 --repeat 1  # a quick run
    .venv/bin/python benchmarks/evaluate.py --data /tmp/evcoco  # keep and reuse the files
    .venv/bin/python benchmarks/evaluate.py --case synthetic
    .venv/bin/python benchmarks/evaluate.py --data /tmp/evcoco --base ../base --modes whole --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import struct
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
        d.line(
            [(x, y), (x + rng.integers(-200, 200), y + rng.integers(-100, 100))],
            fill=(0, 0, 0),
            width=int(rng.integers(1, 6)),
        )
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
        pd.line(
            [(x, y), (x + rng.integers(-300, 300), y + rng.integers(-200, 200))],
            fill=color(int(rng.choice(list(pcat)))),
            width=int(rng.integers(1, 4)),
        )
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


def generate_synthetic(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
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


REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "panopticapi_sample"


def _coco_sources(sample: Path) -> tuple[list, list[dict]]:
    from PIL import Image

    d = json.loads((sample / "panoptic_examples.json").read_text())
    cats = json.loads((sample / "panoptic_coco_categories.json").read_text())
    out = []
    for a in d["annotations"]:
        rgb = np.asarray(Image.open(sample / "panoptic_examples" / a["file_name"]).convert("RGB")).astype(np.uint32)
        ids = rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)
        out.append((ids, {s["id"]: s for s in a["segments_info"]}))
    return out, cats


class _IdGen:
    """panopticapi's IdGenerator: stuff takes its category colour, things a jittered one."""

    def __init__(self, rng: np.random.Generator, cats: dict[int, dict]):
        self.rng, self.cats, self.taken = rng, cats, {0}

    def __call__(self, cat: int) -> int:
        c = self.cats[cat]
        base = np.array(c["color"], np.int64)
        while True:
            col = (
                base
                if not c["isthing"] and tuple(base) not in self.taken
                else np.clip(base + self.rng.integers(-30, 31, 3), 0, 255)
            )
            i = int(col[0] + 256 * col[1] + 65536 * col[2])
            if i not in self.taken:
                self.taken.add(i)
                return i


def _segments_info(ids: np.ndarray, cat_of: dict[int, tuple[int, int]]) -> list[dict]:
    u, inv, cnt = np.unique(ids.ravel(), return_inverse=True, return_counts=True)
    order = np.argsort(inv.ravel(), kind="stable")
    ys, xs = np.divmod(order, ids.shape[1])
    starts = np.r_[0, np.cumsum(cnt)[:-1]]
    x0, x1 = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts)
    y0, y1 = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    out = []
    for k, i in enumerate(u.tolist()):
        if i == 0:
            continue
        cat, crowd = cat_of[i]
        out.append(
            {
                "id": i,
                "category_id": cat,
                "iscrowd": crowd,
                "area": int(cnt[k]),
                "bbox": [int(x0[k]), int(y0[k]), int(x1[k] - x0[k] + 1), int(y1[k] - y0[k] + 1)],
            }
        )
    return out


def _coco_pair(rng: np.random.Generator, src: list, cats: dict[int, dict]):
    gen = _IdGen(rng, cats)
    gt = np.zeros((H, W), np.uint32)
    cat_of: dict[int, tuple[int, int]] = {}
    stuff_id: dict[int, int] = {}
    k = 1 if rng.random() < 0.5 else 2
    for j in range(k):
        ids, info = src[int(rng.integers(len(src)))]
        s = rng.uniform(1.0, 1.4)
        wk = W // k
        oh, ow = min(int(H / s), ids.shape[0]), int(wk / s)
        y0, x0 = int(rng.integers(0, ids.shape[0] - oh + 1)), int(rng.integers(0, ids.shape[1] - ow + 1))
        crop = ids[(y0 + np.arange(H) * oh // H)[:, None], (x0 + np.arange(wk) * ow // wk)[None, :]]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        u, inv = np.unique(crop, return_inverse=True)
        new = np.zeros(len(u), np.uint32)
        for t, i in enumerate(u.tolist()):
            if i == 0:
                continue
            cat, crowd = info[i]["category_id"], info[i]["iscrowd"]
            if not cats[cat]["isthing"]:
                if cat not in stuff_id:
                    stuff_id[cat] = gen(cat)
                new[t] = stuff_id[cat]
            else:
                new[t] = gen(cat)
            cat_of[int(new[t])] = (cat, crowd)
        gt[:, j * wk : (j + 1) * wk] = new[inv.reshape(crop.shape)]
    # prediction: drop, shift, relabel, invent; fresh ids as a predictor would make them
    pred = np.zeros_like(gt)
    pcat: dict[int, tuple[int, int]] = {}
    pgen = _IdGen(rng, cats)
    things = sorted({c for c, _ in cat_of.values() if cats[c]["isthing"]}) or [1]
    for i, (cat, _crowd) in cat_of.items():
        m = gt == i
        r = rng.random()
        if r < 0.08:
            continue
        if r < 0.16:
            cat = int(rng.choice(things)) if cats[cat]["isthing"] else cat
        pid = pgen(cat)
        pcat[pid] = (cat, 0)
        if cats[cat]["isthing"] and rng.random() < 0.3:
            m = np.roll(np.roll(m, int(rng.integers(-6, 7)), 0), int(rng.integers(-6, 7)), 1)
            pred[m & (pred == 0)] = pid
        else:
            pred[m] = pid
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(int(rng.integers(1, 5))):
        cat = int(rng.choice(things))
        pid = pgen(cat)
        pcat[pid] = (cat, 0)
        cx, cy, rx, ry = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(8, 60), rng.uniform(8, 60)
        pred[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = pid
    present = set(np.unique(pred).tolist())
    pcat = {i: v for i, v in pcat.items() if i in present}
    return gt, cat_of, pred, pcat


def generate_coco(root: Path, n: int, seed: int = 0, sample: Path = SAMPLE) -> tuple[Path, Path]:
    from PIL import Image

    from rapkit.io.panoptic import id2rgb

    src, cat_list = _coco_sources(sample)
    cats = {c["id"]: c for c in cat_list}
    rng = np.random.default_rng(seed)
    (root / "gt").mkdir(parents=True)
    (root / "pred").mkdir()
    images, gt_anns, pred_anns = [], [], []
    for i in range(n):
        iid = 200000 + i
        gt, gcat, pred, pcat = _coco_pair(rng, src, cats)
        fn = f"{iid:012d}.png"
        Image.fromarray(id2rgb(gt), "RGB").save(root / "gt" / fn)  # Pillow defaults: adaptive filters
        Image.fromarray(id2rgb(pred), "RGB").save(root / "pred" / fn)
        images.append({"id": iid, "file_name": f"{iid:012d}.jpg", "height": H, "width": W})
        gt_anns.append({"image_id": iid, "file_name": fn, "segments_info": _segments_info(gt, gcat)})
        pred_anns.append({"image_id": iid, "file_name": fn, "segments_info": _segments_info(pred, pcat)})
    gj, pj = root / "gt.json", root / "pred.json"
    gj.write_text(json.dumps({"images": images, "annotations": gt_anns, "categories": cat_list}))
    pj.write_text(json.dumps({"images": images, "annotations": pred_anns, "categories": cat_list}))
    return gj, pj


def filter_mix(folder: Path, limit: int = 200) -> np.ndarray:
    """Fractions of rows filtered None, Sub, Up, Average, Paeth in the first ``limit`` PNGs."""
    import zlib

    counts = np.zeros(5, np.int64)
    for f in sorted(folder.glob("*.png"))[:limit]:
        b = f.read_bytes()
        pos, idat, w, h, bpp = 8, [], 0, 0, 3
        while pos < len(b):
            n, t = int.from_bytes(b[pos : pos + 4], "big"), b[pos + 4 : pos + 8]
            if t == b"IHDR":
                w, h = int.from_bytes(b[pos + 8 : pos + 12], "big"), int.from_bytes(b[pos + 12 : pos + 16], "big")
                bpp = {2: 3, 6: 4, 0: 1}[b[pos + 17]]
            elif t == b"IDAT":
                idat.append(b[pos + 8 : pos + 8 + n])
            pos += 12 + n
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
        counts += np.bincount(raw[:: 1 + w * bpp][:h], minlength=5)[:5]
    return counts / max(1, counts.sum())


RUNNERS = {
    "rapkit": """
import json, sys, time
t0 = time.perf_counter()
from rapkit.pipeline.evaluate import evaluate_pq
gt, pred, workers, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t = time.perf_counter(); evaluate_pq(warm + "/gt.json", warm + "/pred.json", workers=1); w = time.perf_counter() - t
t = time.perf_counter()
ev = evaluate_pq(gt, pred, workers=workers)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "warmup": w, "result": ev.result.to_panopticapi()}, default=float))
""",
    "profile": """
import cProfile, io, json, pstats, sys, time
from rapkit.pipeline.evaluate import evaluate_pq
gt, pred, workers, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
evaluate_pq(warm + "/gt.json", warm + "/pred.json", workers=1)
pr = cProfile.Profile(time.process_time)
pr.enable()
evaluate_pq(gt, pred, workers=1)
pr.disable()
st = pstats.Stats(pr, stream=io.StringIO())
total = sum(v[2] for v in st.stats.values())
rows = sorted(((v[2], v[3], f"{k[0].rsplit('/', 1)[-1]}:{k[1]}({k[2]})") for k, v in st.stats.items()), reverse=True)
print(json.dumps({"total": total, "rows": rows[:14]}))
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


def _env(workers: int, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["RAYON_NUM_THREADS"] = str(workers)
    env.update(extra or {})
    return env


def run(tool: str, gt: Path, pred: Path, workers: int, warm: Path) -> dict:
    """In-process timing: the tool's evaluation call in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", RUNNERS[tool], str(gt), str(pred), str(workers), str(warm)],
        capture_output=True,
        text=True,
        env=_env(workers, {"PYTHONPATH": str(REPO)} if tool in ("rapkit", "profile") else None),
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def whole(
    tool: str, gt: Path, pred: Path, workers: int, extra_env: dict | None = None, tree: Path = REPO
) -> tuple[float, float]:
    """Whole-process wall time: ``rapkit evaluate`` (of the checkout ``tree``) or a hotcoco
    script, start-up included (``extra_env``: more environment variables for the command)."""
    if tool == "rapkit":
        extra_env = {"PYTHONPATH": str(tree), **(extra_env or {})}
        cmd = [
            sys.executable,
            "-m",
            "rapkit",
            "evaluate",
            "--gt",
            str(gt),
            "--pred",
            str(pred),
            "--workers",
            str(workers),
            "--format",
            "json",
            "--quiet",
        ]
    else:
        cmd = [
            sys.executable,
            "-c",
            "import sys\nfrom hotcoco.panoptic import pq_compute\n"
            "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            "    pq_compute(sys.argv[1], sys.argv[2])",
            str(gt),
            str(pred),
        ]
    import resource

    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # cwd: ``python -m`` puts the working directory first on sys.path, before PYTHONPATH
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(workers, extra_env), check=False, cwd="/")
    dt = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{tool} (whole process) failed:\n{out.stderr[-3000:]}")
    return dt, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)


def inflate_floor(data: Path) -> float:
    """ms per image pair: every GT and prediction PNG of ``data`` read, its chunks parsed and
    its IDAT data inflated by libdeflate, in this thread (the read + inflate floor)."""
    import deflate

    files = []
    for side in ("gt", "pred"):
        files += [data / side / a["file_name"] for a in json.loads((data / f"{side}.json").read_text())["annotations"]]
    t = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            b = fh.read()
        pos, idat, size = 8, [], 0
        while pos + 8 <= len(b):
            n, kind = struct.unpack_from(">I4s", b, pos)
            if kind == b"IHDR":
                w, h, _, ct = struct.unpack_from(">IIBB", b, pos + 8)
                size = h * (1 + w * (4 if ct == 6 else 3))
            elif kind == b"IDAT":
                idat.append(b[pos + 8 : pos + 8 + n])
            elif kind == b"IEND":
                break
            pos += 12 + n
        deflate.zlib_decompress(idat[0] if len(idat) == 1 else b"".join(idat), size)
    return 1000 * (time.perf_counter() - t) / (len(files) / 2)


def _med_ratio(times: dict, mode: str, w: int) -> float:
    """Median over rounds of the paired ratio hotcoco / rapkit (same round, same workers)."""
    return float(np.median(np.array(times[(mode, "hotcoco", w)]) / np.array(times[(mode, "rapkit", w)])))


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["coco", "synthetic"], default="coco", help="input files (default coco)")
    ap.add_argument("--n", "--images", dest="n", type=int, default=2000, help="number of image pairs (default 2000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time (default 1 2)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    ap.add_argument(
        "--modes",
        nargs="+",
        default=["whole", "inproc"],
        choices=["whole", "inproc"],
        help="whole-process and/or in-process timings (default both)",
    )
    ap.add_argument("--no-parity", action="store_true", help="skip the panopticapi parity check")
    ap.add_argument(
        "--profile", action="store_true", help="also print a CPU profile (cProfile) of rapkit's 1-worker evaluation"
    )
    ap.add_argument(
        "--data", type=Path, default=None, help="keep the generated pairs in this folder and reuse them on later runs"
    )
    ap.add_argument("--sample", type=Path, default=SAMPLE, help="the COCO sample folder (coco case)")
    ap.add_argument(
        "--base", type=Path, default=None, help="also time the rapkit command of this checkout (whole process)"
    )
    args = ap.parse_args()
    gen_fn = (
        (lambda root, n, seed=0: generate_coco(root, n, seed, args.sample))
        if args.case == "coco"
        else generate_synthetic
    )
    with tempfile.TemporaryDirectory(prefix="rapkit-bench-") as tmp:
        root = Path(tmp)
        data = args.data if args.data is not None else root / "data"
        t = time.perf_counter()
        if args.data is not None and (data / "gt.json").exists():
            gj, pj = data / "gt.json", data / "pred.json"
            if len(json.loads(gj.read_text())["annotations"]) != args.n:
                raise SystemExit(f"{data} holds another number of images; remove it or pass a new --data")
        else:
            gj, pj = gen_fn(data, args.n)
        gen = time.perf_counter() - t
        warm_gj, _ = gen_fn(root / "warm", 1, seed=1)
        anns = json.loads(gj.read_text())["annotations"]
        nseg = np.mean([len(a["segments_info"]) for a in anns])
        ncrowd = sum(s["iscrowd"] for a in anns for s in a["segments_info"])
        print(
            f"case {args.case}: {args.n} pairs {W}x{H}, {nseg:.1f} GT segments per image, {ncrowd} crowd "
            f"(generated in {gen:.1f} s)"
        )
        for side in ("gt", "pred"):
            mix = filter_mix(data / side)
            print(
                f"  {side:4s} PNG row filters (first 200 files): "
                + ", ".join(f"{n} {100 * f:.1f}%" for n, f in zip(("None", "Sub", "Up", "Avg", "Paeth"), mix))
            )
        times: dict = {}
        results = {}
        for rnd in range(args.repeat):
            if "whole" in args.modes:  # start-up: the whole process on a one-image dataset
                for tool in ("rapkit", "hotcoco"):
                    dt, cpu = whole(tool, warm_gj, warm_gj.with_name("pred.json"), 1)
                    times.setdefault(("startup", tool, 1), []).append(cpu)
                    print(
                        f"  round {rnd + 1}: start-up      {tool:8s} (1 image): {dt:6.2f} s wall, {cpu:6.2f} s CPU",
                        flush=True,
                    )
            for w in args.workers:
                if "whole" in args.modes and args.base is not None:  # the base checkout, same round
                    variants = [("base", {})] + (
                        [("base, RAPKIT_FORK_CALL=0", {"RAPKIT_FORK_CALL": "0"})] if w > 1 else []
                    )
                    for name, env in variants:
                        dt, cpu = whole("rapkit", gj, pj, w, env, tree=args.base)
                        times.setdefault(("whole", name, w), []).append(dt)
                        times.setdefault(("cpu", name, w), []).append(cpu)
                        print(
                            f"  round {rnd + 1}: whole process {name} workers={w}: {dt:6.2f} s wall, "
                            f"{cpu:6.2f} s CPU  (load {_load()})",
                            flush=True,
                        )
                for tool in ("rapkit", "hotcoco"):
                    if "whole" in args.modes:
                        dt, cpu = whole(tool, gj, pj, w)
                        times.setdefault(("whole", tool, w), []).append(dt)
                        times.setdefault(("cpu", tool, w), []).append(cpu)
                        print(
                            f"  round {rnd + 1}: whole process {tool:8s} workers={w}: {dt:6.2f} s wall, "
                            f"{cpu:6.2f} s CPU  (load {_load()})",
                            flush=True,
                        )
                    if "inproc" in args.modes:
                        r = run(tool, gj, pj, w, root / "warm")
                        times.setdefault(("inproc", tool, w), []).append(r["seconds"])
                        results[(tool, w)] = r["result"]
                        extra = f"  (kernel cache warm-up {r['warmup']:.2f} s, not counted)" if "warmup" in r else ""
                        if "cpu" in r:
                            extra = f"  (CPU/wall = {r['cpu'] / r['seconds']:.2f} cores)"
                        print(
                            f"  round {rnd + 1}: in-process    {tool:8s} workers={w}: {r['seconds']:6.2f} s{extra}",
                            flush=True,
                        )
            times.setdefault("floor", []).append(inflate_floor(data))
        print(
            "(whole, CPU s: user + system seconds of the process and its workers; less sensitive to a "
            "loaded machine than wall time)"
        )
        print(
            f"\nmedians of {args.repeat} interleaved round(s), {args.n} images, os.cpu_count() = {os.cpu_count()}, "
            f"load average now {_load()}"
        )
        print(
            f"{'mode':14s} {'workers':>7s} {'hotcoco s':>10s} {'rapkit s':>9s} {'rapkit ms/img':>14s} "
            f"{'speed vs hotcoco':>17s} {'median paired ratio':>20s}"
        )
        names = {"whole": "whole process", "cpu": "whole, CPU s", "inproc": "in-process", "startup": "start-up, CPU"}
        for mode in ("whole", "cpu", "inproc", "startup"):
            for w in args.workers:
                if (mode, "rapkit", w) not in times:
                    continue
                r = float(np.median(times[(mode, "rapkit", w)]))
                h = float(np.median(times[(mode, "hotcoco", w)]))
                per = "" if mode == "startup" else f"{1000 * r / args.n:14.2f}"
                print(
                    f"{names[mode]:14s} {w:7d} {h:10.2f} {r:9.2f} {per:>14s} {h / r:16.2f}x "
                    f"{_med_ratio(times, mode, w):19.2f}x"
                )
        print(
            "(speed vs hotcoco: ratio of the medians; median paired ratio: the median of each round's "
            "hotcoco/rapkit ratio; start-up: one-image dataset, interpreter and imports included)"
        )
        floor = float(np.median(times["floor"]))
        print(
            f"\nread + inflate floor (every GT and prediction PNG read and its image data inflated by libdeflate, "
            f"one thread, this process): {floor:.3f} ms per image pair"
        )
        for mode in ("whole", "inproc"):
            for w in args.workers:
                if (mode, "rapkit", w) in times:
                    r = float(np.median(times[(mode, "rapkit", w)]))
                    if mode == "whole" and ("startup", "rapkit", 1) in times:
                        r -= float(np.median(times[("startup", "rapkit", 1)]))  # CPU of the 1-image run
                    per = 1000 * r / args.n
                    print(
                        f"  rapkit {names[mode]:13s} workers={w}: {per:.3f} ms per image = {per / floor:.1f}x the floor"
                    )
        if "whole" in args.modes:
            print("  (whole process: the one-image run's start-up CPU taken off)")
        if args.base is not None and "whole" in args.modes:
            print(f"\nthis tree ({REPO}) against the base ({args.base}), whole process:")
            print(
                f"{'base':28s} {'mode':12s} {'workers':>7s} {'base s':>8s} {'this s':>8s} {'base/this':>10s} {'paired':>8s}"
            )
            for name in ("base", "base, RAPKIT_FORK_CALL=0"):
                for mode in ("whole", "cpu"):
                    for w in args.workers:
                        if (mode, name, w) not in times:
                            continue
                        b, r = np.array(times[(mode, name, w)]), np.array(times[(mode, "rapkit", w)])
                        print(
                            f"{name:28s} {names[mode]:12s} {w:7d} {np.median(b):8.2f} {np.median(r):8.2f} "
                            f"{np.median(b) / np.median(r):9.3f}x {np.median(b / r):7.3f}x"
                        )
            print("(base/this > 1: this tree is faster; paired: the median of each round's base/this ratio)")
        if args.profile:
            prof = run("profile", gj, pj, 1, root / "warm")
            print(f"\nprofile of rapkit's in-process evaluation, 1 worker ({prof['total']:.2f} s CPU under cProfile):")
            for tot, cum, name in prof["rows"]:
                print(f"  {100 * tot / prof['total']:5.1f}% own  {100 * cum / prof['total']:5.1f}% cumulative  {name}")
        if not args.no_parity and "inproc" in args.modes:
            ref = run("panopticapi", gj, pj, 1, root / "warm")["result"]
            for w in args.workers:
                got = results[("rapkit", w)]
                same = (
                    all(got[k] == ref[k] for k in ("All", "Things", "Stuff")) and got["per_class"] == ref["per_class"]
                )
                print(f"rapkit workers={w} == panopticapi (1 process) on every value: {same}")
            for w in args.workers:
                h = results[("hotcoco", w)]
                diff = max(abs(h[k][m] - ref[k][m]) for k in ("All", "Things", "Stuff") for m in ("pq", "sq", "rq"))
                print(f"hotcoco threads={w}: largest difference from panopticapi {diff:.2e}")


if __name__ == "__main__":
    main()
