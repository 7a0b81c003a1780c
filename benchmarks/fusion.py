"""Fusion benchmark: rapkit's kernels and ``rapkit fuse`` against a straightforward numpy
implementation of panopticapi's rule, measured in the same run.

    .venv/bin/python benchmarks/fusion.py                 # full run (a few minutes on 2 cores)
    .venv/bin/python benchmarks/fusion.py --quick         # smaller, for a smoke test

Parts:
1. ms per image on 640x480 COCO-like scenes with N = 20, 100, 300 proposals, from RLE to
   id map: rapkit RAP and heuristic (``decode_scene`` + ``fuse_scene``; decode and fuse also
   shown apart) vs the numpy baseline (pycocotools full-image decode, per-instance loop over
   full-image masks, as in panopticapi's ``combine_semantic_and_instance_predictions``).
   Target: RAP at N = 100 >= 20x faster than the baseline, one process.
2. ``rapkit fuse`` throughput with 1 and 2 workers.
3. The whole ``rapkit fuse`` process on 200 images (N = 100; reading JSON, decoding, fusing,
   writing PNGs and JSON) vs the same numpy pipeline as a script (json, pycocotools, numpy,
   PIL PNGs), both as fresh processes. Target: >= 8x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

H, W = 480, 640
THINGS = [1, 44, 46, 47, 62, 67]
STUFF = [187, 190, 193, 199]


def categories() -> list[dict]:
    return ([{"id": c, "name": f"thing{c}", "isthing": 1, "color": [c, 0, 0]} for c in THINGS]
            + [{"id": c, "name": f"stuff{c}", "isthing": 0, "color": [0, c, 0]} for c in STUFF])


def make_scene(rng: np.random.Generator, n: int) -> tuple[list[dict], np.ndarray]:
    """N proposals (COCO results dicts without image_id) and a semantic map, COCO-like:
    ellipses of log-normal size, many overlapping, with near-duplicates."""
    from pycocotools import mask as cm

    props = []
    yy, xx = np.mgrid[0:H, 0:W]
    for k in range(n):
        if k > 0 and rng.random() < 0.3:  # a near-duplicate of an earlier proposal
            src = props[int(rng.integers(0, len(props)))]
            cx, cy, rx, ry = (v * rng.uniform(0.93, 1.07) for v in src["_geom"])
        else:
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            rx = float(np.clip(rng.lognormal(np.log(35), 0.7), 4, 300))
            ry = rx * rng.uniform(0.5, 2.0)
        x0, x1 = max(0, int(cx - rx)), min(W, int(cx + rx) + 1)
        y0, y1 = max(0, int(cy - ry)), min(H, int(cy + ry) + 1)
        m = np.zeros((H, W), np.uint8)
        if x1 > x0 and y1 > y0:
            sub = ((xx[y0:y1, x0:x1] - cx) / rx) ** 2 + ((yy[y0:y1, x0:x1] - cy) / ry) ** 2 <= 1
            m[y0:y1, x0:x1] = sub
        r = cm.encode(np.asfortranarray(m))
        props.append({"category_id": int(rng.choice(THINGS)), "score": round(float(rng.uniform(0.05, 1.0)), 4),
                      "segmentation": {"size": [H, W], "counts": r["counts"].decode()},
                      "relation": round(float(rng.normal(0, 1)), 4), "_geom": (cx, cy, rx, ry)})
    for p in props:
        p.pop("_geom")
    sem = np.zeros((H, W), np.uint8)
    cuts = np.sort(rng.integers(0, H, 3))
    for c, (a, b) in zip(STUFF, zip(np.r_[0, cuts], np.r_[cuts, H])):
        sem[a:b] = c
    sem[:, : W // 10] = 0
    return props, sem


# ----------------------------------------------------------------------------- numpy baseline


def numpy_fuse(props: list[dict], sem: np.ndarray | None, rho=0.5, tau=0.5, stuff_area=4096):
    """panopticapi's rule, straightforwardly: full-image masks, per-instance loop."""
    from pycocotools import mask as cm

    pan = np.zeros((H, W), np.uint32)
    used = np.zeros((H, W), bool)
    segs = []
    nid = 1
    for p in sorted(props, key=lambda a: -a["score"]):
        if p["score"] < rho:
            continue
        mask = cm.decode({"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()}) == 1
        area = mask.sum()
        if area == 0:
            continue
        inter = (mask & used).sum()
        if inter / area > tau:
            continue
        mask = mask & ~used
        used |= mask
        pan[mask] = nid
        segs.append({"id": nid, "category_id": p["category_id"], "area": int(mask.sum())})
        nid += 1
    if sem is not None:
        for c in np.unique(sem):
            if c in (0, 255) or int(c) not in STUFF:
                continue
            m = (sem == c) & ~used
            if m.sum() < stuff_area:
                continue
            used |= m
            pan[m] = nid
            segs.append({"id": nid, "category_id": int(c), "area": int(m.sum())})
            nid += 1
    return pan, segs


BASELINE_SCRIPT = r'''
import json, sys, os
import numpy as np
from PIL import Image
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from fusion import numpy_fuse
proposals, images, semdir, out = sys.argv[2:6]
props = json.load(open(proposals))
imgs = json.load(open(images))["images"]
by = {}
for p in props:
    by.setdefault(p["image_id"], []).append(p)
os.makedirs(os.path.join(out, "panoptic"))
anns = []
for im in imgs:
    stem = os.path.splitext(im["file_name"])[0]
    sem = np.array(Image.open(os.path.join(semdir, stem + ".png")))
    pan, segs = numpy_fuse(by.get(im["id"], []), sem)
    rgb = np.stack([pan & 255, (pan >> 8) & 255, (pan >> 16) & 255], -1).astype(np.uint8)
    Image.fromarray(rgb).save(os.path.join(out, "panoptic", stem + ".png"))
    anns.append({"image_id": im["id"], "file_name": stem + ".png", "segments_info": segs})
json.dump({"annotations": anns}, open(os.path.join(out, "panoptic.json"), "w"))
'''


# ----------------------------------------------------------------------------- parts


def part_kernels(sizes, n_scenes: int, reps: int = 5) -> list[list]:
    from rapkit.core.fusion import decode_scene, fuse_scene, stuff_table
    from rapkit.types import Category, FusionParams, Proposals

    table = stuff_table([Category(c["id"], c["name"], bool(c["isthing"])) for c in categories()])
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        scenes = [make_scene(rng, n) for _ in range(n_scenes)]
        pobjs = [Proposals(k, H, W, np.array([p["score"] for p in ps]), np.array([p["category_id"] for p in ps]),
                           np.array([p["relation"] for p in ps]), [p["segmentation"] for p in ps])
                 for k, (ps, _) in enumerate(scenes)]
        decoded = [decode_scene(p) for p in pobjs]
        rap, heu = FusionParams(), FusionParams.heuristic()

        fns = {
            "base": lambda k: numpy_fuse(scenes[k][0], scenes[k][1]),
            "dec": lambda k: decode_scene(pobjs[k]),
            "rap_f": lambda k: fuse_scene(decoded[k], scenes[k][1], rap, table),
            "heu_f": lambda k: fuse_scene(decoded[k], scenes[k][1], heu, table),
            "rap": lambda k: fuse_scene(decode_scene(pobjs[k]), scenes[k][1], rap, table),
            "heu": lambda k: fuse_scene(decode_scene(pobjs[k]), scenes[k][1], heu, table),
        }
        # per scene, each method runs 1 + reps times in a row (warm, as in a pipeline) and
        # its best repetition counts; the methods take turns scene by scene, so they see
        # about the same machine load
        best = {name: np.full(n_scenes, np.inf) for name in fns}
        for k in range(n_scenes):
            for name, f in fns.items():
                f(k)  # warm-up
                for _ in range(reps):
                    t = time.perf_counter()
                    f(k)
                    best[name][k] = min(best[name][k], time.perf_counter() - t)
        t_base, t_dec, t_rap_f, t_heu_f, t_rap, t_heu = (float(best[x].mean()) for x in
                                                        ("base", "dec", "rap_f", "heu_f", "rap", "heu"))
        # the heuristic must agree with the baseline pixel for pixel (category map)
        for k in range(min(3, n_scenes)):
            res = fuse_scene(decoded[k], scenes[k][1], heu, table)
            pan, segs = numpy_fuse(scenes[k][0], scenes[k][1])
            cat_r = np.array([0] + [s.category_id for s in res.segments])[res.id_map]
            cat_b = np.array([0] + [s["category_id"] for s in segs])[pan]
            assert np.array_equal(cat_r, cat_b), "heuristic differs from the numpy baseline"
        rows.append([n, t_base * 1e3, t_rap * 1e3, t_heu * 1e3, t_dec * 1e3, t_rap_f * 1e3, t_heu_f * 1e3,
                     t_base / t_rap, t_base / t_heu])
    return rows


def write_dataset(root: Path, n_images: int, n: int) -> dict[str, Path]:
    from PIL import Image

    rng = np.random.default_rng(1234)
    root.mkdir(parents=True)
    (root / "semantic").mkdir()
    props, images = [], []
    for k in range(n_images):
        iid = k + 1
        ps, sem = make_scene(rng, n)
        for p in ps:
            p["image_id"] = iid
        props.extend(ps)
        name = f"{iid:012d}"
        images.append({"id": iid, "file_name": name + ".jpg", "height": H, "width": W})
        Image.fromarray(sem).save(root / "semantic" / (name + ".png"))
    paths = {"proposals": root / "proposals.json", "images": root / "images.json",
             "categories": root / "categories.json", "semantic": root / "semantic"}
    paths["proposals"].write_text(json.dumps(props))
    paths["images"].write_text(json.dumps({"images": images}))
    paths["categories"].write_text(json.dumps(categories()))
    return paths


def run_cmd(cmd: list[str], reps: int = 1) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that run: user + sys of the child processes)."""
    import resource

    best = (float("inf"), float("inf"))
    for _ in range(reps):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        best = min(best, (dt, cpu))
    return best


def rapkit_cmd(paths, out: Path, workers: int, strategy: str) -> list[str]:
    return [sys.executable, "-m", "rapkit", "fuse", "--proposals", str(paths["proposals"]), "--images",
            str(paths["images"]), "--categories", str(paths["categories"]), "--semantic", str(paths["semantic"]),
            "-o", str(out), "--strategy", strategy, "--workers", str(workers), "-q", "--format", "json"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer scenes and images (smoke test)")
    args = ap.parse_args()
    n_scenes = 4 if args.quick else 12
    n_images = 40 if args.quick else 200
    print(f"machine: {os.cpu_count()} CPUs; 640x480 scenes; times are wall clock\n")

    rows = part_kernels([20, 100, 300], n_scenes)
    print("1. ms per image, RLE in -> id map + segments (stuff included), one process; "
          "per scene the best of 5 repetitions, mean over scenes")
    hdr = ["N", "numpy baseline", "rapkit RAP", "rapkit heuristic", "(decode)", "(RAP fuse)", "(heur fuse)",
           "RAP speedup", "heur speedup"]
    print("  " + " | ".join(f"{h:>15}" for h in hdr))
    for r in rows:
        print("  " + " | ".join(f"{v:>15.2f}" if isinstance(v, float) else f"{v:>15}" for v in r))
    r100 = next(r for r in rows if r[0] == 100)
    print(f"  target: RAP at N=100 >= 20x the baseline: {r100[7]:.1f}x -> {'met' if r100[7] >= 20 else 'NOT met'}\n")

    tmp = Path(tempfile.mkdtemp(prefix="rapkit-bench-"))
    try:
        paths = write_dataset(tmp / "data", n_images, 100)
        run_cmd(rapkit_cmd(paths, tmp / "warm", 1, "rap"))  # numba cache warm-up, page cache
        reps = 2
        outs = iter(range(100))

        def fresh(name):
            return tmp / f"{name}{next(outs)}"

        def rk(workers, strategy):
            best = (float("inf"), float("inf"))
            for _ in range(reps):
                best = min(best, run_cmd(rapkit_cmd(paths, fresh(strategy), workers, strategy)))
            return best

        t1, t2, th = rk(1, "rap"), rk(2, "rap"), rk(1, "heuristic")
        script = tmp / "baseline.py"
        script.write_text(BASELINE_SCRIPT)
        bench_file = str(Path(__file__).resolve())
        tb = (float("inf"), float("inf"))
        for _ in range(reps):
            tb = min(tb, run_cmd([sys.executable, str(script), bench_file, str(paths["proposals"]),
                                  str(paths["images"]), str(paths["semantic"]), str(fresh("base"))]))
        print(f"2./3. whole process on {n_images} images with N = 100 (JSON in, PNGs + JSON out); "
              f"best of {reps}; wall s (CPU s)")
        print(f"  numpy pipeline (json, pycocotools, numpy, PIL), 1 process: {tb[0]:7.2f} ({tb[1]:6.2f})"
              f"  {n_images / tb[0]:7.1f} img/s")
        for label, t in (("rapkit fuse --strategy heuristic, 1 worker", th), ("rapkit fuse --strategy rap, 1 worker", t1),
                         ("rapkit fuse --strategy rap, 2 workers", t2)):
            print(f"  {label:<57}{t[0]:7.2f} ({t[1]:6.2f})  {n_images / t[0]:7.1f} img/s"
                  f"  speedup wall {tb[0] / t[0]:5.1f}x, CPU {tb[1] / t[1]:5.1f}x")
        print(f"  target: whole rapkit fuse (rap, 1 worker) >= 8x the numpy pipeline: wall {tb[0] / t1[0]:.1f}x -> "
              f"{'met' if tb[0] / t1[0] >= 8 else 'NOT met'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
