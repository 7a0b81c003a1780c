"""Fusion benchmark: rapkit's kernels and ``rapkit fuse`` against a straightforward numpy
implementation of panopticapi's rule, measured in the same run.

    .venv/bin/python benchmarks/fusion.py                   # dense dumps, 200 images, 3 rounds
    .venv/bin/python benchmarks/fusion.py --case scenes     # the earlier COCO-like scenes
    .venv/bin/python benchmarks/fusion.py --kernels         # also part 1 (kernel table)
    .venv/bin/python benchmarks/fusion.py --quick           # smaller, for a smoke test
    .venv/bin/python benchmarks/fusion.py --before /tmp/old # also an older rapkit tree, same rounds

``--before DIR`` runs ``rapkit fuse`` (rap, 1 worker) from another source tree as well (for
example ``git worktree add /tmp/old <commit>``), interleaved with the others: a before/after
comparison in the same conditions.

Cases (``--case``) for the whole-process comparison:

* ``dense`` (default): dense detector-like dumps, what a Mask R-CNN style model writes with
  100 detections per image: 100 proposals per 640x480 image, elliptical masks of mean area
  about 17k pixels (together about 5.5 times the image), uniform random centres, scores and
  categories, no near-duplicates. The mean mask area and coverage are printed.
* ``scenes``: the earlier COCO-like scenes (log-normal ellipse sizes, 30% near-duplicates,
  mean area about 9k pixels).

Parts:
1. (``--kernels``) ms per image on 640x480 scenes with N = 20, 100, 300 proposals, from RLE
   to id map: rapkit RAP, heuristic and OCFusion (``decode_scene`` + ``fuse_scene``; OCFusion
   with a pair logit for every overlapping pair, :func:`add_occludes`) vs the numpy
   baseline (pycocotools full-image decode, per-instance loop over full-image masks, as in
   panopticapi's ``combine_semantic_and_instance_predictions``).
2./3. The whole ``rapkit fuse`` process on ``--n-images`` images (default 200; reading JSON,
   decoding, fusing, writing PNGs and JSON) vs the same numpy pipeline as a script (json,
   pycocotools, numpy, PIL PNGs), both as fresh processes, interleaved over ``--repeat``
   rounds (default 3); medians and the ratio of the medians, with the load average; also
   ``rapkit fuse --strategy ocfusion`` (on a copy of the dumps that carries ``occludes`` for
   every overlapping pair; the other rows read the dumps without it) with its per-round ratios to the heuristic and to RAP measured in the same rounds. The
   stage times ``rapkit fuse`` reports (ms per image: decode, kernel, stuff/compose, PNG
   write) are printed as medians over the rounds. One more row runs ``rapkit fuse`` with
   ``RAPKIT_FSYNC=0``: rapkit flushes its output to disk before renaming it into place
   (durability), the numpy pipeline does not; that row shows what the flush costs.
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
    return [{"id": c, "name": f"thing{c}", "isthing": 1, "color": [c, 0, 0]} for c in THINGS] + [
        {"id": c, "name": f"stuff{c}", "isthing": 0, "color": [0, c, 0]} for c in STUFF
    ]


def make_scene(rng: np.random.Generator, n: int, dense: bool = False) -> tuple[list[dict], np.ndarray]:
    """N proposals (COCO results dicts without image_id) and a semantic map. COCO-like:
    ellipses of log-normal size, many overlapping, with near-duplicates; ``dense``: a detector's
    dump, ellipses of mean area about 17k pixels (log-normal radii), no near-duplicates."""
    from pycocotools import mask as cm

    props = []
    yy, xx = np.mgrid[0:H, 0:W]
    for k in range(n):
        if dense:
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            rx = float(np.clip(rng.lognormal(np.log(63), 0.45), 6, 400))
            ry = rx * rng.uniform(0.6, 1.6)
        elif k > 0 and rng.random() < 0.3:  # a near-duplicate of an earlier proposal
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
        props.append(
            {
                "category_id": int(rng.choice(THINGS)),
                "score": round(float(rng.uniform(0.05, 1.0)), 4),
                "segmentation": {"size": [H, W], "counts": r["counts"].decode()},
                "relation": round(float(rng.normal(0, 1)), 4),
                "_geom": (cx, cy, rx, ry),
            }
        )
    for p in props:
        p.pop("_geom")
    sem = np.zeros((H, W), np.uint8)
    cuts = np.sort(rng.integers(0, H, 3))
    for c, (a, b) in zip(STUFF, zip(np.r_[0, cuts], np.r_[cuts, H])):
        sem[a:b] = c
    sem[:, : W // 10] = 0
    return props, sem


def add_occludes(props: list[dict], seed: int) -> None:
    """Give every pair of overlapping proposals a pair logit in both orders, as a pair head
    would dump it (``occludes``, docs/fusion.md): the relation order plus noise, from its own
    generator (the scenes' draws are unchanged)."""
    from pycocotools import mask as cm

    rng = np.random.default_rng(seed)
    rles = [{"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()} for p in props]
    iou = np.asarray(cm.iou(rles, rles, [0] * len(rles))) if rles else np.zeros((0, 0))
    rel = np.array([p["relation"] for p in props])
    for a, p in enumerate(props):
        occ = []
        for b in np.nonzero(iou[a] > 0)[0].tolist():
            if b != a:
                occ.append([b, round(float(2.0 * (rel[b] - rel[a]) + rng.normal(0, 0.5)), 3)])
        if occ:
            p["occludes"] = occ


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


BASELINE_SCRIPT = r"""
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
"""


# ----------------------------------------------------------------------------- parts


def part_kernels(sizes, n_scenes: int, reps: int = 5) -> list[list]:
    from rapkit.core.fusion import decode_scene, fuse_scene, stuff_table
    from rapkit.types import Category, FusionParams, Proposals

    table = stuff_table([Category(c["id"], c["name"], bool(c["isthing"])) for c in categories()])
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        scenes = [make_scene(rng, n) for _ in range(n_scenes)]
        pobjs = [
            Proposals(
                k,
                H,
                W,
                np.array([p["score"] for p in ps]),
                np.array([p["category_id"] for p in ps]),
                np.array([p["relation"] for p in ps]),
                [p["segmentation"] for p in ps],
            )
            for k, (ps, _) in enumerate(scenes)
        ]
        for k, (ps, _) in enumerate(scenes):  # the pair logits, for OCFusion (the others ignore them)
            add_occludes(ps, k)
            pi = [(a, b, v) for a, p in enumerate(ps) for b, v in p.get("occludes", [])]
            pobjs[k].pair_i = np.array([t[0] for t in pi], np.int64)
            pobjs[k].pair_j = np.array([t[1] for t in pi], np.int64)
            pobjs[k].pair_logit = np.array([t[2] for t in pi], np.float64)
        decoded = [decode_scene(p) for p in pobjs]
        rap, heu, ocf = FusionParams(), FusionParams.heuristic(), FusionParams.of("ocfusion")

        fns = {
            "base": lambda k: numpy_fuse(scenes[k][0], scenes[k][1]),
            "dec": lambda k: decode_scene(pobjs[k]),
            "rap_f": lambda k: fuse_scene(decoded[k], scenes[k][1], rap, table),
            "heu_f": lambda k: fuse_scene(decoded[k], scenes[k][1], heu, table),
            "ocf_f": lambda k: fuse_scene(decoded[k], scenes[k][1], ocf, table),
            "rap": lambda k: fuse_scene(decode_scene(pobjs[k]), scenes[k][1], rap, table),
            "heu": lambda k: fuse_scene(decode_scene(pobjs[k]), scenes[k][1], heu, table),
            "ocf": lambda k: fuse_scene(decode_scene(pobjs[k]), scenes[k][1], ocf, table),
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
        t_base, t_dec, t_rap_f, t_heu_f, t_ocf_f, t_rap, t_heu, t_ocf = (
            float(best[x].mean()) for x in ("base", "dec", "rap_f", "heu_f", "ocf_f", "rap", "heu", "ocf")
        )
        # the heuristic must agree with the baseline pixel for pixel (category map)
        for k in range(min(3, n_scenes)):
            res = fuse_scene(decoded[k], scenes[k][1], heu, table)
            pan, segs = numpy_fuse(scenes[k][0], scenes[k][1])
            cat_r = np.array([0] + [s.category_id for s in res.segments])[res.id_map]
            cat_b = np.array([0] + [s["category_id"] for s in segs])[pan]
            assert np.array_equal(cat_r, cat_b), "heuristic differs from the numpy baseline"
        rows.append(
            [
                n,
                t_base * 1e3,
                t_rap * 1e3,
                t_heu * 1e3,
                t_ocf * 1e3,
                t_dec * 1e3,
                t_rap_f * 1e3,
                t_heu_f * 1e3,
                t_ocf_f * 1e3,
                t_base / t_rap,
                t_base / t_heu,
                t_base / t_ocf,
                t_ocf / t_heu,
            ]
        )
    return rows


def write_dataset(root: Path, n_images: int, n: int, dense: bool = False) -> dict[str, Path]:
    from PIL import Image

    rng = np.random.default_rng(1234)
    root.mkdir(parents=True)
    (root / "semantic").mkdir()
    props, pair_props, images = [], [], []
    for k in range(n_images):
        iid = k + 1
        ps, sem = make_scene(rng, n, dense)
        for p in ps:
            p["image_id"] = iid
        props.extend(dict(p) for p in ps)
        add_occludes(ps, iid)
        pair_props.extend(ps)
        name = f"{iid:012d}"
        images.append({"id": iid, "file_name": name + ".jpg", "height": H, "width": W})
        Image.fromarray(sem).save(root / "semantic" / (name + ".png"))
    paths = {
        "proposals": root / "proposals.json",
        "pair_proposals": root / "proposals_occludes.json",
        "images": root / "images.json",
        "categories": root / "categories.json",
        "semantic": root / "semantic",
    }
    paths["proposals"].write_text(json.dumps(props))
    paths["pair_proposals"].write_text(json.dumps(pair_props))
    paths["images"].write_text(json.dumps({"images": images}))
    paths["categories"].write_text(json.dumps(categories()))
    return paths


def mask_stats(paths: dict[str, Path], n_images: int) -> tuple[float, float]:
    """(mean mask area in pixels, total mask area / image area) of the written proposals."""
    from pycocotools import mask as cm

    props = json.loads(paths["proposals"].read_text())
    areas = [
        float(cm.area({"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()}))
        for p in props
    ]
    return float(np.mean(areas)), float(np.sum(areas)) / (n_images * H * W)


def run_cmd(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds: user + sys of the child processes, stdout) of one run."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return dt, cpu, r.stdout


def rapkit_cmd(paths, out: Path, workers: int, strategy: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rapkit",
        "fuse",
        "--proposals",
        str(paths["pair_proposals" if strategy == "ocfusion" else "proposals"]),
        "--image-info",
        str(paths["images"]),
        "--categories",
        str(paths["categories"]),
        "--semantic",
        str(paths["semantic"]),
        "-o",
        str(out),
        "--strategy",
        strategy,
        "--workers",
        str(workers),
        "-q",
        "--format",
        "json",
    ]


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["dense", "scenes"], default="dense", help="proposal dumps (default dense)")
    ap.add_argument("--n-images", type=int, default=None, help="images for the whole-process part (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians reported (default 3)")
    ap.add_argument("--kernels", action="store_true", help="also run part 1 (in-process kernel table)")
    ap.add_argument("--quick", action="store_true", help="fewer scenes and images (smoke test)")
    ap.add_argument("--before", default=None, help="also time rapkit fuse from this source tree (an older commit)")
    args = ap.parse_args()
    n_scenes = 4 if args.quick else 12
    n_images = args.n_images or (40 if args.quick else 200)
    dense = args.case == "dense"
    print(f"machine: {os.cpu_count()} CPUs; 640x480 scenes; times are wall clock; load average {_load()}\n")

    if args.kernels:
        rows = part_kernels([20, 100, 300], n_scenes)
        print(
            "1. ms per image, RLE in -> id map + segments (stuff included), one process; "
            "per scene the best of 5 repetitions, mean over scenes"
        )
        hdr = [
            "N",
            "numpy baseline",
            "rapkit RAP",
            "rapkit heuristic",
            "rapkit OCFusion",
            "(decode)",
            "(RAP fuse)",
            "(heur fuse)",
            "(OCF fuse)",
            "RAP speedup",
            "heur speedup",
            "OCF speedup",
            "OCF / heur",
        ]
        print("  " + " | ".join(f"{h:>15}" for h in hdr))
        for r in rows:
            print("  " + " | ".join(f"{v:>15.2f}" if isinstance(v, float) else f"{v:>15}" for v in r))
        print()

    tmp = Path(tempfile.mkdtemp(prefix="rapkit-bench-"))
    try:
        t = time.perf_counter()
        paths = write_dataset(tmp / "data", n_images, 100, dense)
        area, cover = mask_stats(paths, n_images)
        print(
            f"case {args.case}: {n_images} images, 100 proposals each, mean mask area {area:.0f} px, "
            f"masks cover {cover:.1f}x the image (written in {time.perf_counter() - t:.1f} s)"
        )
        run_cmd(rapkit_cmd(paths, tmp / "warm", 1, "rap"))  # numba cache warm-up, page cache
        outs = iter(range(1000))

        def fresh(name):
            return tmp / f"{name}{next(outs)}"

        script = tmp / "baseline.py"
        script.write_text(BASELINE_SCRIPT)
        bench_file = str(Path(__file__).resolve())
        runs: dict[str, list] = {}
        stages: dict[str, list] = {}
        labels = {
            "base": "numpy pipeline (json, pycocotools, numpy, PIL), 1 process",
            "heu1": "rapkit fuse --strategy heuristic, 1 worker",
            "rap1": "rapkit fuse --strategy rap, 1 worker",
            "ocf1": "rapkit fuse --strategy ocfusion, 1 worker",
            "rap2": "rapkit fuse --strategy rap, 2 workers",
            "nofs": "rapkit fuse --strategy rap, 1 worker, RAPKIT_FSYNC=0",
            "before": f"before: rapkit fuse (rap, 1 worker) from {args.before}",
        }
        keys = ["base", "rap1", "heu1", "ocf1", "rap2", "nofs"] + (["before"] if args.before else [])
        env_plain = dict(os.environ)
        # the older tree runs from its own folder: `python -m` puts the working folder first on sys.path
        before = str(Path(args.before).resolve()) if args.before else None
        env_before = dict(os.environ, PYTHONPATH=before) if before else None
        if env_before is not None:
            run_cmd(rapkit_cmd(paths, tmp / "warm-before", 1, "rap"), env_before, before)  # its numba cache
        for rnd in range(args.repeat):
            for key in keys:
                env = env_plain
                if key == "base":
                    cmd = [
                        sys.executable,
                        str(script),
                        bench_file,
                        str(paths["proposals"]),
                        str(paths["images"]),
                        str(paths["semantic"]),
                        str(fresh("base")),
                    ]
                else:
                    strategy = {"heu": "heuristic", "ocf": "ocfusion"}.get(key[:3], "rap")
                    cmd = rapkit_cmd(paths, fresh(strategy), 2 if key == "rap2" else 1, strategy)
                    if key == "nofs":
                        env = dict(os.environ, RAPKIT_FSYNC="0")
                    elif key == "before":
                        env = env_before
                r = run_cmd(cmd, env, before if key == "before" else None)
                runs.setdefault(key, []).append(r[:2])
                if key != "base":
                    ms = json.loads(r[2]).get("ms_per_image")
                    if ms:
                        stages.setdefault(key, []).append(ms)
                print(
                    f"  round {rnd + 1}: {labels[key]:<57}{r[0]:7.2f} s ({r[1]:6.2f} CPU s)  load {_load()}", flush=True
                )
        med = {k: (float(np.median([r[0] for r in v])), float(np.median([r[1] for r in v]))) for k, v in runs.items()}
        tb = med["base"]
        print(
            f"\n2./3. whole process on {n_images} images ({args.case}, N = 100; JSON in, PNGs + JSON out); "
            f"medians of {args.repeat} interleaved rounds; wall s (CPU s); load average {_load()}"
        )
        print(f"  {labels['base']:<57}{tb[0]:7.2f} ({tb[1]:6.2f})  {n_images / tb[0]:7.1f} img/s")
        for key in keys[1:]:
            t_ = med[key]
            print(
                f"  {labels[key]:<57}{t_[0]:7.2f} ({t_[1]:6.2f})  {n_images / t_[0]:7.1f} img/s"
                f"  speedup wall {tb[0] / t_[0]:5.1f}x, CPU {tb[1] / t_[1]:5.1f}x"
            )
        print("  (--workers N runs N threads of the one process: its CPU seconds count them all)")
        per = [b[0] / r[0] for b, r in zip(runs["base"], runs["rap1"])]
        per_cpu = [b[1] / r[1] for b, r in zip(runs["base"], runs["rap1"])]
        print(f"  single-round ratios (rap, 1 worker): wall {', '.join(f'{x:.1f}x' for x in per)}", end="")
        print(f"; CPU {', '.join(f'{x:.1f}x' for x in per_cpu)}")
        for other in ("heu1", "rap1"):
            ratio = [o[0] / r[0] for o, r in zip(runs["ocf1"], runs[other])]
            cpu = [o[1] / r[1] for o, r in zip(runs["ocf1"], runs[other])]
            print(
                f"  ocfusion / {other[:3]} (1 worker), per round: wall {', '.join(f'{x:.2f}x' for x in ratio)}; "
                f"CPU {', '.join(f'{x:.2f}x' for x in cpu)}"
            )
        if args.before:
            after = [r[0] / b[0] for b, r in zip(runs["rap1"], runs["before"])]
            after_cpu = [r[1] / b[1] for b, r in zip(runs["rap1"], runs["before"])]
            print(
                f"  after vs before (rap, 1 worker), per round: wall {', '.join(f'{x:.2f}x' for x in after)}; "
                f"CPU {', '.join(f'{x:.2f}x' for x in after_cpu)} (> 1: faster now)"
            )
        print("\n  stage ms per image as rapkit fuse reports them (medians over rounds; wall clock in the worker):")
        cols = ["decode", "fusion_kernel", "stuff_compose", "png_write", "other", "total", "wall"]
        print("  " + f"{'':<24}" + "".join(f"{c:>15}" for c in cols))
        for key in keys[1:]:
            if key in stages:
                vals = [float(np.median([m[c] for m in stages[key]])) for c in cols]
                print("  " + f"{key:<24}" + "".join(f"{v:>15.2f}" for v in vals))
        print(
            f"  target: whole rapkit fuse (rap, 1 worker) >= 10x the numpy pipeline: wall {tb[0] / med['rap1'][0]:.1f}x"
            f" -> {'met' if tb[0] / med['rap1'][0] >= 10 else 'NOT met'}; CPU {tb[1] / med['rap1'][1]:.1f}x"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
