"""Paper Tables 4 and 5 in one place: heuristic, OCFusion and RAP on the same detections.

Runs ``rapkit demo`` (its synthetic world, its stand-in detector: a randomly initialised
ResNet-18-FPN Mask R-CNN, and its training split; the OCFusion pair head at the demo's width
32, not the authors' 512) and, from the demo's held-out files (``heldout/``), prints:

- **Table 4**: the heuristic, OCFusion (learned pair logits, reference variant, rho = tau =
  0.5) and RAP (learned relation values, the demo's RAP setting) rows, with Acc. under both
  ``--protocol`` values (the heuristic's Acc. is the score order's; OCFusion's scores its
  pairwise decisions met in fusion; RAP's its relation values at the overlaps met in fusion),
  PQ, RQ and PQ^Th of the held-out test split; the category-level row (Bradley-Terry) beside.
- **Table 5**: per test image, relation inference (the RAP head; the pair head batched over
  every overlapping pair and one call per overlap met), network inference (the stand-in
  detector's forward with one mask pass, the head inputs included) and the fusion (each
  strategy re-fused here with one worker: the workers' measured per-image time).

The numbers are the demo's, on CPU unless a GPU is present: they show the shape of the
comparison, not the paper's COCO figures (docs/paper.md, "Tables 4 and 5 in one place").

    python benchmarks/paper_tables.py                     # 100 images, ~1.5 min on 2 cores
    python benchmarks/paper_tables.py -n 40 --height 120 --width 160 --train-iterations 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from rapkit.pipeline.demo import run_demo
from rapkit.pipeline.evaluate import evaluate_pq
from rapkit.pipeline.fuse import fuse
from rapkit.pipeline.relation_acc import evaluate_relations
from rapkit.types import FusionParams

#: Table 4's rows: (the demo's row, label, proposals file under heldout/)
ROWS = [
    ("heuristic", "heuristic (score order)", "proposals_simulated.json"),
    ("category_order", "RAP, category-level (Bradley-Terry)", "proposals_category.json"),
    ("ocfusion_learned", "OCFusion (pair head, width 32)", "proposals_ocfusion.json"),
    ("rap_learned", "RAP (relation head)", "proposals_learned.json"),
]


def table4(out: Path, rows: list[dict[str, Any]], workers: int = 1) -> list[dict[str, Any]]:
    """Table 4 from a demo folder ``out`` and its held-out rows (``DemoResult.heldout["rows"]``):
    Acc. under both protocols, PQ, RQ, PQ^Th (fractions), recomputed from the files."""
    h, world = out / "heldout", out / "world"
    by = {r["fusion"]: r for r in rows}
    table = []
    for name, label, props in ROWS:
        params = FusionParams(**by[name]["params"])
        acc = {}
        for protocol in ("rapkit", "authors"):
            s = evaluate_relations(
                relations=h / "relations.json",
                proposals=h / props,
                instances=h / "instances.json",
                params=params,
                protocol=protocol,
                workers=workers,
            ).summary
            acc[protocol] = s["fusion_score_order_accuracy"] if name == "heuristic" else s["fusion_accuracy"]
        pq = evaluate_pq(
            h / "panoptic.json", h / f"fused_{name}" / "panoptic.json", world / "panoptic", workers=workers
        )
        table.append(
            {
                "row": label,
                "acc_rapkit": acc["rapkit"],
                "acc_authors": acc["authors"],
                "pq": pq.result.all.pq,
                "rq": pq.result.all.rq,
                "pq_th": pq.result.things.pq,
            }
        )
    return table


def table5(out: Path, rows: list[dict[str, Any]], timing: dict[str, float], tmp: Path) -> list[dict[str, Any]]:
    """Table 5 (ms per test image): relation inference and network inference from the demo's
    ``predict`` runs (``timing``), the fusion re-run here with one worker."""
    h, world = out / "heldout", out / "world"
    by = {r["fusion"]: r for r in rows}
    fusion_ms = {}
    for name, _, props in ROWS:
        s = fuse(
            h / props,
            h / "panoptic.json",
            world / "categories.json",
            tmp / f"timed_{name}",
            FusionParams(**by[name]["params"]),
            semantic=world / "semantic",
            workers=1,
        )
        fusion_ms[name] = 1000.0 * s.image_seconds / max(s.images, 1)
    det = timing["detector_ms"]
    return [
        {"row": "heuristic", "relation_ms": 0.0, "network_ms": det, "fusion_ms": fusion_ms["heuristic"]},
        {
            "row": "OCFusion, batched (all overlapping pairs)",
            "relation_ms": timing["pair_head_batched_ms"],
            "network_ms": det,
            "fusion_ms": fusion_ms["ocfusion_learned"],
        },
        {
            "row": "OCFusion, one call per overlap met",
            "relation_ms": timing["pair_head_replay_ms"],
            "network_ms": det,
            "fusion_ms": fusion_ms["ocfusion_learned"],
        },
        {"row": "RAP", "relation_ms": timing["rap_head_ms"], "network_ms": det, "fusion_ms": fusion_ms["rap_learned"]},
    ]


def render(t4: list[dict[str, Any]], t5: list[dict[str, Any]]) -> str:
    """Both tables as markdown (accuracies and PQ in percent, times in ms per image)."""
    lines = [
        "| Table 4 (held-out) | Acc. (rapkit) | Acc. (authors) | PQ | RQ | PQ^Th |",
        "|---|---|---|---|---|---|",
    ]
    for r in t4:
        vals = [100 * r[k] for k in ("acc_rapkit", "acc_authors", "pq", "rq", "pq_th")]
        lines.append(f"| {r['row']} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    lines += ["", "| Table 5 (ms per image) | relation inference | network inference | fusion |", "|---|---|---|---|"]
    for r in t5:
        lines.append(f"| {r['row']} | {r['relation_ms']:.2f} | {r['network_ms']:.1f} | {r['fusion_ms']:.2f} |")
    rap = next(r["relation_ms"] for r in t5 if r["row"] == "RAP")
    for r in t5[1:3]:
        ratio = f"{r['relation_ms'] / rap:.2f}x" if rap > 0 else "n/a"
        lines.append(f"{r['row']}: relation inference {ratio} the RAP head's")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--num-images", type=int, default=100)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--train-iterations", type=int, default=60)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("-o", "--output", default=None, help="the demo's folder (default: a temporary one)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rapkit-paper-") as tmp:
        out = Path(a.output) if a.output else Path(tmp) / "demo"
        res = run_demo(
            out,
            images=a.num_images,
            height=a.height,
            width=a.width,
            workers=a.workers,
            force=True,
            learn={"iterations": a.train_iterations},
            log=lambda s: print(s, file=sys.stderr),
        )
        if not res.heldout:
            print(f"no learning step: {res.learned.get('skipped')}", file=sys.stderr)
            return 1
        rows, timing = res.heldout["rows"], res.heldout["timing"]
        t4 = table4(out, rows, workers=a.workers)
        t5 = table5(out, rows, timing, Path(tmp))
    print(render(t4, t5))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
