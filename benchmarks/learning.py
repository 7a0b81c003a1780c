"""The learned loop on the default synthetic world: does a relation head trained on CPU
from a randomly initialised ResNet-18-FPN reach the world's category ceiling, and does it
fuse as well as the simulated relation values?

A measurement script (not a timed test). It runs, and prints, these commands:

1. ``rapkit synth`` a training world and a held-out world (default world settings:
   480x640, ``--depth-noise 0.6``; other seeds); ``truth.json`` gives each one's
   ``category_ceiling`` (a perfect per-category ranking; same-category pairs a coin flip);
2. ``rapkit extract-relations`` on both;
3. a randomly initialised ``resnet18_fpn`` Mask R-CNN checkpoint (nothing downloaded: the
   stand-in for a user's checkpoint);
4. ``rapkit train`` once per RoI scheme (``--rois detector`` and ``--rois gt-jitter``) at
   480x640 with the short-CPU-run options below (the best iteration is chosen on the
   training world's own held-out 10%, never on the held-out world);
5. the held-out pair accuracy of each head on the held-out world's GT boxes
   (``rapkit.model.train.evaluate_pairs``, in-process: the training's yardstick);
6. ``rapkit predict --proposals`` on the held-out world's simulated detections (the head
   replaces their simulated ``relation`` values), ``rapkit fuse --strategy rap``, then one
   ``rapkit evaluate --gt ... --pred ... --relations ...`` per row: PQ, PQ^Th, fusion
   accuracy (Table 4 "a"), pair accuracy on the detections, score-order accuracy; plus the
   heuristic (``--strategy heuristic``) and RAP with the simulated values;
7. ``rapkit evaluate --relations ... --by-category`` (paper Fig. 3) for the learned values
   of each scheme and for the simulated values.

It prints one table (scheme, held-out pair accuracy with its 95% interval, ceiling,
distance to the ceiling, fusion accuracy with its 95% interval, PQ, PQ^Th, seconds) and the
by-category tables. Everything lives under ``--work`` (default /tmp/learn/bench); with
``--reuse`` existing worlds, relations and checkpoint are kept (training always reruns).

    .venv/bin/python benchmarks/learning.py                 # about 20-30 min on 2 cores
    .venv/bin/python benchmarks/learning.py --train-images 120 --test-images 40 --iterations 60   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

RAPKIT = [sys.executable, "-m", "rapkit"]


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], *, capture: bool = True) -> tuple[str, float]:
    """Run one command (printed first, as a shell line); returns (stdout, wall seconds)."""
    shown = " ".join(shlex.quote(c) for c in (["rapkit", *cmd[3:]] if cmd[:3] == RAPKIT else cmd))
    log(f"$ {shown}")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"command failed (exit {p.returncode}): {shown}")
    log(f"  ({dt:.1f} s, load {load()})")
    return p.stdout or "", dt


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n trials."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


def make_world(path: Path, n: int, seed: int, reuse: bool) -> None:
    if reuse and (path / "truth.json").is_file():
        log(f"# reusing {path}")
        return
    run([*RAPKIT, "synth", "-o", str(path), "-n", str(n), "--seed", str(seed), "--force", "-q"])


def extract(world: Path, out: Path, reuse: bool) -> None:
    if reuse and out.is_file():
        log(f"# reusing {out}")
        return
    run(
        [
            *RAPKIT,
            "extract-relations",
            "--instances",
            str(world / "instances.json"),
            "--panoptic",
            str(world / "panoptic.json"),
            "-o",
            str(out),
            "--force",
            "-q",
        ]
    )


def merged_inputs(test: Path, out: Path) -> int:
    """The held-out world's simulated detections followed by one entry per GT instance
    (its box and category, marked ``gt_ann_id``): one ``predict --proposals`` pass scores
    both, so the GT-box pair accuracy costs no second backbone pass. Returns the number of
    detection entries (they come first)."""
    dets = json.loads((test / "proposals.json").read_text())
    inst = json.loads((test / "instances.json").read_text())
    gts = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 1.0,
            "gt_ann_id": a["id"],
        }
        for a in inst["annotations"]
        if not a.get("iscrowd")
    ]
    out.write_text(json.dumps(dets + gts))
    log(f"# {out.name}: {len(dets)} detections of {test / 'proposals.json'} + {len(gts)} GT boxes (marked gt_ann_id)")
    return len(dets)


def split_scored(scored: Path, n_dets: int, dets_out: Path) -> dict[int, float]:
    """Write the detections' part of a scored merged file; return {GT annotation id: relation value}."""
    entries = json.loads(scored.read_text())
    dets_out.write_text(json.dumps(entries[:n_dets]))
    return {int(e["gt_ann_id"]): float(e["relation"]) for e in entries[n_dets:]}


def gt_pair_accuracy(values: dict[int, float], rel: Path) -> tuple[int, int]:
    """(correct, total) over the relations JSON's known pairs: front's value < back's (a tie counts wrong)."""
    correct = total = 0
    for im in json.loads(rel.read_text())["images"]:
        for r in im["relations"]:
            total += 1
            correct += int(values[int(r["front"])] < values[int(r["back"])])
    return correct, total


def evaluate_row(test: Path, rel: Path, proposals: Path, fused: Path) -> dict:
    out, _ = run(
        [
            *RAPKIT,
            "evaluate",
            "--gt",
            str(test / "panoptic.json"),
            "--pred",
            str(fused / "panoptic.json"),
            "--relations",
            str(rel),
            "--proposals",
            str(proposals),
            "--instances",
            str(test / "instances.json"),
            "--format",
            "json",
            "-q",
        ]
    )
    return json.loads(out)


def fuse(test: Path, proposals: Path, out: Path, strategy: str) -> None:
    run(
        [
            *RAPKIT,
            "fuse",
            "--proposals",
            str(proposals),
            "--image-info",
            str(test / "panoptic.json"),
            "--categories",
            str(test / "categories.json"),
            "--semantic",
            str(test / "semantic"),
            "-o",
            str(out),
            "--strategy",
            strategy,
            "--force",
            "-q",
        ]
    )


def by_category(test: Path, rel: Path, proposals: Path, train: Path, train_rel: Path, out: Path) -> list[dict]:
    run(
        [
            *RAPKIT,
            "evaluate",
            "--relations",
            str(rel),
            "--proposals",
            str(proposals),
            "--instances",
            str(test / "instances.json"),
            "--by-category",
            "--train-relations",
            str(train_rel),
            "--train-instances",
            str(train / "instances.json"),
            "-o",
            str(out),
            "--force",
            "--format",
            "json",
            "-q",
        ]
    )
    return json.loads(out.read_text())


def pq_of(ev: dict) -> tuple[float, float]:
    pq = ev["pq"] if "pq" in ev else ev
    return float(pq["All"]["pq"]), float(pq["Things"]["pq"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/learn/bench"), help="working folder")
    ap.add_argument("--train-images", type=int, default=200, help="images of the training world")
    ap.add_argument("--test-images", type=int, default=200, help="images of the held-out world")
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--test-seed", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rois-per-image", type=int, default=8)
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--bn-recalibrate", type=int, default=32)
    ap.add_argument("--schemes", default="detector,gt-jitter", help="comma list of --rois values")
    ap.add_argument("--train-extra", default="", help="more rapkit train options (one string)")
    ap.add_argument("--reuse", action="store_true", help="keep existing worlds, relations and checkpoint")
    a = ap.parse_args(argv)

    t_all = time.perf_counter()
    h, w = 480, 640
    work: Path = a.work
    work.mkdir(parents=True, exist_ok=True)
    train, test = work / "train", work / "test"
    train_rel, test_rel = work / "train_rel.json", work / "test_rel.json"
    det = work / "det.pth"
    log(f"# rapkit learned loop: {os.cpu_count()} CPU(s), load {load()}, torch threads default")

    make_world(train, a.train_images, a.train_seed, a.reuse)
    make_world(test, a.test_images, a.test_seed, a.reuse)
    extract(train, train_rel, a.reuse)
    extract(test, test_rel, a.reuse)
    ceiling = {
        k: json.loads((p / "truth.json").read_text())["category_ceiling"] for k, p in (("train", train), ("test", test))
    }
    if not (a.reuse and det.is_file()):
        code = (
            "import torch; from rapkit.model.detector import build_detector, save_detector_checkpoint; "
            f"torch.manual_seed(0); save_detector_checkpoint(build_detector('resnet18_fpn', 91, min_size={h}, "
            f"max_size={w}), {str(det)!r}, force=True)"
        )
        run([sys.executable, "-c", code])
    else:
        log(f"# reusing {det}")

    merged = work / "heldout_dets_and_gt.json"
    n_dets = merged_inputs(test, merged)
    rows: list[dict] = []
    cats: dict[str, list[dict]] = {}
    for scheme in [s for s in a.schemes.split(",") if s]:
        tag = scheme.replace("-", "_")
        head = work / f"head_{tag}.pt"
        cmd = [
            *RAPKIT,
            "train",
            "--detector",
            str(det),
            "--arch",
            "resnet18_fpn",
            "--images",
            str(train / "images"),
            "--instances",
            str(train / "instances.json"),
            "--relations",
            str(train_rel),
            "-o",
            str(head),
            "--min-size",
            str(h),
            "--max-size",
            str(w),
            "--rois",
            scheme,
            "--rois-per-image",
            str(a.rois_per_image),
            "--draws",
            str(a.draws),
            "--optimizer",
            "adam",
            "--lr",
            str(a.lr),
            "--iterations",
            str(a.iterations),
            "--batch-size",
            str(a.batch_size),
            "--lr-drop",
            "0.75",
            "--eval-every",
            "25",
            "--bn-recalibrate",
            str(a.bn_recalibrate),
            *shlex.split(a.train_extra),
            "--force",
            "--format",
            "json",
            "-q",
        ]
        out, t_train = run(cmd)
        tr = json.loads(out)
        tr = tr.get("train", tr)
        scored = work / f"scored_{tag}.json"
        learned = work / f"learned_{tag}.json"
        _, t_pred = run(
            [
                *RAPKIT,
                "predict",
                "--detector",
                str(det),
                "--head",
                str(head),
                "--images",
                str(test / "images"),
                "--image-info",
                str(test / "instances.json"),
                "--proposals",
                str(merged),
                "-o",
                str(scored),
                "--force",
                "-q",
            ]
        )
        c, t = gt_pair_accuracy(split_scored(scored, n_dets, learned), test_rel)
        fused = work / f"fused_{tag}"
        fuse(test, learned, fused, "rap")
        ev = evaluate_row(test, test_rel, learned, fused)
        cats[f"learned ({scheme})"] = by_category(test, test_rel, learned, train, train_rel, work / f"bycat_{tag}.json")
        rows.append({"row": f"learned, --rois {scheme}", "pair": (c, t), "ev": ev, "train": tr, "s": t_train + t_pred})

    for name, strategy in (("simulated values", "rap"), ("heuristic", "heuristic")):
        fused = work / f"fused_{strategy}_sim"
        fuse(test, test / "proposals.json", fused, strategy)
        ev = evaluate_row(test, test_rel, test / "proposals.json", fused)
        rows.append({"row": name, "pair": None, "ev": ev, "train": None, "s": None})
    cats["simulated"] = by_category(test, test_rel, test / "proposals.json", train, train_rel, work / "bycat_sim.json")

    log("")
    log(
        f"held-out world: {a.test_images} images, seed {a.test_seed}, category ceiling {ceiling['test']:.4f}; "
        f"training world: {a.train_images} images, seed {a.train_seed}, ceiling {ceiling['train']:.4f}"
    )
    hdr = (
        f"{'row':26} {'pair acc (GT boxes) [95% CI]':32} {'ceiling':>7} {'to ceil':>8} "
        f"{'fusion acc (a) [95% CI]':30} {'pair acc det':>12} {'score-order':>11} {'PQ':>6} {'PQ^Th':>6} {'sel it':>6} {'s':>6}"
    )
    log(hdr)
    log("-" * len(hdr))
    for r in rows:
        ra = r["ev"]["relation_accuracy"]
        pq, pq_th = pq_of(r["ev"])
        fk, fn = int(ra["fusion_correct"]), int(ra["fusion_pairs"])
        flo, fhi = wilson(fk, fn)
        fus = f"{100 * fk / max(fn, 1):.2f} [{100 * flo:.1f}, {100 * fhi:.1f}] n={fn}"
        pair_det = f"{ra['pair_accuracy']:.2f}"
        if r["row"] == "heuristic":  # paints in score order: relation values play no part
            fus, pair_det = "- (score order)", "-"
        if r["pair"] is not None:
            c, t = r["pair"]
            lo, hi = wilson(c, t)
            pair = f"{100 * c / t:.2f} [{100 * lo:.1f}, {100 * hi:.1f}] n={t}"
            dist = f"{100 * (ceiling['test'] - c / t):+.2f}"
        else:
            pair, dist = "-", "-"
        sel = str(r["train"].get("selected_iteration", "-")) if r["train"] else "-"
        secs = f"{r['s']:.0f}" if r["s"] is not None else "-"
        log(
            f"{r['row']:26} {pair:32} {100 * ceiling['test']:7.2f} {dist:>8} {fus:30} "
            f"{pair_det:>12} {ra['fusion_score_order_accuracy']:11.2f} {pq:6.2f} {pq_th:6.2f} {sel:>6} {secs:>6}"
        )
    log(
        "(pair acc on GT boxes: the held-out world's known pairs, each instance's GT box; 'to ceil' = ceiling - it, points;"
    )
    log(
        " fusion acc, pair acc det, score-order, PQ, PQ^Th: one `rapkit evaluate` per row on the held-out world; s = train + predict)"
    )
    for name, table in cats.items():
        log(f"\nby category, {name} (top rows of rapkit evaluate --by-category; mean gap = v_back - v_front):")
        rows_ = table if isinstance(table, list) else table.get("rows", table.get("by_category", []))
        keys = list(rows_[0].keys()) if rows_ else []
        log("  " + " | ".join(keys))
        for rr in rows_[:10]:
            log("  " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in rr.values()))
    log(f"\ntotal {time.perf_counter() - t_all:.0f} s, load {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
