"""Benchmark: ``rapkit extract-relations`` on a COCO-like synthetic world.

Writes (or reuses, with ``--world DIR``) a synthetic world of N images (640x480, about 7
things per image, no rendered JPEGs) with ``rapkit.synth``, then times in this process:

* rapkit's dataset pipeline (:func:`rapkit.pipeline.relations.extract_dataset_relations`)
  with 1 and 2 worker threads: loading both JSONs, decoding every image's instances,
  reading every panoptic PNG, extracting the relations (the timer covers all of it,
  including the pool's start; numba kernels are compiled/loaded once before);
* a straightforward implementation, the way the authors' script works: PIL + rgb2id for the
  PNG, full-image pycocotools masks, full-image intersections for the matching (then the
  same assignment rule as rapkit), one full-image numpy overlap per pair. It runs on the first ``--baseline-images`` images and is
  extrapolated to N; its relations are checked against rapkit's on that subset.

Prints images/s and the speed-up over the baseline.

    .venv/bin/python benchmarks/extract_relations.py                  # 2000 images
    .venv/bin/python benchmarks/extract_relations.py --images 200     # a quick run
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_or_reuse_world(root: Path | None, n: int, seed: int, workers: int) -> tuple[Path, bool]:
    from rapkit.synth import SynthConfig, make_world

    cfg = SynthConfig(n_images=n, height=480, width=640, seed=seed, things_per_image=7.0, render_images=False)
    if root is not None and (root / "truth.json").exists():
        got = json.loads((root / "truth.json").read_text())["config"]
        if got.get("n_images") == n and got.get("seed") == seed and got.get("height") == 480:
            return root, False
        raise SystemExit(
            f"{root} holds another world ({got.get('n_images')} images, seed {got.get('seed')}); pick another --world"
        )
    target = root if root is not None else Path(tempfile.mkdtemp(prefix="rapkit-bench-rel-")) / "world"
    t0 = time.perf_counter()
    make_world(target, cfg, workers=workers)
    print(f"wrote a {n}-image world to {target} in {time.perf_counter() - t0:.1f} s")
    return target, root is None


def baseline(instances: Path, panoptic: Path, n_images: int, theta: float) -> tuple[float, set]:
    """Per-pair full-image numpy relations (paper rule), as a straightforward script does it."""
    from PIL import Image
    from pycocotools import mask as mask_utils

    from rapkit.core.relations import match_instances

    t0 = time.perf_counter()
    inst = json.loads(instances.read_text())
    pan = json.loads(panoptic.read_text())
    png_dir = panoptic.with_suffix("")
    by_image: dict[int, list] = {}
    for a in inst["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    pan_by_image = {a["image_id"]: a for a in pan["annotations"]}
    rels = set()
    for im in inst["images"][:n_images]:
        iid, h, w = im["id"], im["height"], im["width"]
        anns = [a for a in by_image.get(iid, []) if not a["iscrowd"]]
        if not anns:
            continue
        rgb = np.asarray(Image.open(png_dir / pan_by_image[iid]["file_name"]).convert("RGB"), dtype=np.uint32)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
        masks = []
        for a in anns:
            seg = a["segmentation"]
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if isinstance(seg, list) else seg
            masks.append(mask_utils.decode(rle).astype(bool))
        segs = [s for s in pan_by_image[iid]["segments_info"] if not s["iscrowd"]]
        seg_masks = {s["id"]: ids == s["id"] for s in segs}
        own = {}
        for cat in sorted({a["category_id"] for a in anns}):  # same matching rule as rapkit
            rows = [k for k, a in enumerate(anns) if a["category_id"] == cat]
            cols = [s["id"] for s in segs if s["category_id"] == cat]
            if not cols:
                continue
            inter = np.array([[float((masks[k] & seg_masks[c]).sum()) for c in cols] for k in rows])
            union = np.array([[float((masks[k] | seg_masks[c]).sum()) for c in cols] for k in rows])
            wts = inter + (0.5 / (len(rows) + 1)) * np.where(union > 0, inter / np.maximum(union, 1), 0.0)
            for r, c in match_instances(wts):
                own[rows[r]] = cols[c]
        for i, j in itertools.combinations(range(len(anns)), 2):
            o = masks[i] & masks[j]
            ov = int(o.sum())
            if ov == 0 or not (ov / masks[i].sum() > theta or ov / masks[j].sum() > theta):
                continue
            ci = int((o & seg_masks[own[i]]).sum()) if i in own else 0
            cj = int((o & seg_masks[own[j]]).sum()) if j in own else 0
            if ci > cj:
                rels.add((iid, anns[i]["id"], anns[j]["id"]))
            elif cj > ci:
                rels.add((iid, anns[j]["id"], anns[i]["id"]))
    return time.perf_counter() - t0, rels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--baseline-images", type=int, default=100)
    ap.add_argument("--theta", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", type=Path, default=None, help="reuse/keep the world in this folder")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per worker count (best is reported)")
    args = ap.parse_args()

    from rapkit.core.relations import extract_relations
    from rapkit.pipeline.relations import extract_dataset_relations

    world, temporary = make_or_reuse_world(args.world, args.images, args.seed, workers=2)
    try:
        instances, panoptic = world / "instances.json", world / "panoptic.json"
        # compile / load the numba kernels once (cache=True) before timing: one image of the world
        from rapkit.io.coco import decode_instances
        from rapkit.io.png import read_id_map_fast
        from rapkit.types import Segment

        first = json.loads(panoptic.read_text())["annotations"][0]
        inst_doc = json.loads(instances.read_text())
        im0 = inst_doc["images"][0]
        anns0 = [a for a in inst_doc["annotations"] if a["image_id"] == im0["id"]]
        masks0 = decode_instances(anns0, im0["height"], im0["width"])
        ids0 = read_id_map_fast(panoptic.with_suffix("") / first["file_name"])
        segs0 = [
            Segment(s["id"], s["category_id"], s["area"], tuple(s["bbox"]), s["iscrowd"])
            for s in first["segments_info"]
        ]
        extract_relations(masks0, ids0, segs0)
        del inst_doc

        results = {}
        cpu_1 = float("inf")
        for workers in (1, 2):
            best = float("inf")
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                run = extract_dataset_relations(instances, panoptic, theta=args.theta, workers=workers)
                best = min(best, time.perf_counter() - t0)
                if workers == 1:
                    cpu_1 = min(cpu_1, time.process_time() - c0)
            results[workers] = (best, run)
        ours = {(r.image_id, x.front, x.back) for r in results[1][1].images for x in r.relations}
        assert ours == {(r.image_id, x.front, x.back) for r in results[2][1].images for x in r.relations}

        nb = min(args.baseline_images, args.images)
        t_base, base_rels = baseline(instances, panoptic, nb, args.theta)
        subset = {r.image_id for r in results[1][1].images[:nb]}
        ours_subset = {t for t in ours if t[0] in subset}
        agree = base_rels == ours_subset
        per_img_base = t_base / nb
        t = results[1][1].totals
        print()
        print(
            f"world: {args.images} images 640x480, {t['instances']} instances, {t['relations']} relations "
            f"(theta={args.theta}), {t['unmatched']} unmatched, {t['ties']} ties, {t['hidden']} hidden"
        )
        print(f"{'implementation':<44}{'seconds':>10}{'images/s':>11}{'speed-up':>10}")
        base_total = per_img_base * args.images
        print(
            f"{'baseline: per-pair full-image numpy (1 core)':<44}{base_total:>10.2f}{args.images / base_total:>11.1f}"
            f"{1.0:>10.2f}   (measured on {nb} images, extrapolated)"
        )
        for workers, (sec, _) in results.items():
            print(
                f"{f'rapkit, {workers} worker(s)':<44}{sec:>10.2f}{args.images / sec:>11.1f}{base_total / sec:>10.2f}"
            )
        print(
            f"baseline relations == rapkit relations on the first {nb} images: {agree}"
            f" ({len(base_rels)} vs {len(ours_subset)})"
        )
        print(
            f"rapkit, 1 worker: {1e3 * cpu_1 / args.images:.2f} ms CPU per image "
            f"({args.images / cpu_1:.0f} images/s per fully available core)"
        )
        print(
            "load average (1, 5, 15 min) at the end: "
            + ", ".join(f"{v:.1f}" for v in os.getloadavg())
            + f" on {os.cpu_count()} cores (other jobs share them: timings scale with it)"
        )
        print("target: >= 200 images/s with 2 workers ->", "met" if args.images / results[2][0] >= 200 else "NOT met")
    finally:
        if temporary:
            shutil.rmtree(world.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
