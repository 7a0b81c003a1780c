"""Give a synthetic world's proposals exact pair decisions: the ``occludes`` field that
``rapkit fuse --strategy ocfusion`` reads, taken from the world's true depth order.

    python tools/exact_occludes.py WORLD OUT.json [--logit 8] [--min-overlap 1]

``WORLD`` is a folder ``rapkit synth`` wrote (``proposals.json``, ``truth.json``). For every
two proposals of an image that come from different instances (``truth.json``'s
``proposal_instance``; false detections have none) and whose masks share at least
``--min-overlap`` pixels, both orders are listed: ``[k, +logit]`` on the proposal whose
instance is nearer (smaller depth) and ``[k, -logit]`` on the other; equal depths, duplicates
of one instance and false detections get no pair (an unqueried pair). ``k`` is the other's
index among the image's entries in file order, as the input contract has it
(docs/fusion.md, "OCFusion").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils


def exact_occludes(proposals: list[dict], truth: dict, logit: float = 8.0, min_overlap: int = 1) -> list[dict]:
    """The proposals with ``occludes`` from the true depth order (new dicts; the input is
    left as it is)."""
    depth = {(t["image_id"], i["id"]): i["depth"] for t in truth["images"] for i in t["instances"]}
    inst_of = {t["image_id"]: t["proposal_instance"] for t in truth["images"]}
    per: dict[int, list[int]] = defaultdict(list)
    for k, p in enumerate(proposals):
        per[p["image_id"]].append(k)
    out = [dict(p) for p in proposals]
    for iid, ks in per.items():
        insts = inst_of[iid]
        rles = [dict(proposals[k]["segmentation"]) for k in ks]
        for r in rles:
            if isinstance(r["counts"], str):
                r["counts"] = r["counts"].encode("ascii")
        masks = np.stack([mask_utils.decode(r).astype(np.int64).ravel() for r in rles]) if rles else None
        if masks is None:
            continue
        shared = masks @ masks.T
        for a in range(len(ks)):
            occ = []
            for b in range(len(ks)):
                ia, ib = insts[a], insts[b]
                if a == b or ia < 0 or ib < 0 or ia == ib or shared[a, b] < min_overlap:
                    continue
                da, db = depth[(iid, ia)], depth[(iid, ib)]
                if da != db:
                    occ.append([b, logit if da < db else -logit])
            if occ:
                out[ks[a]]["occludes"] = occ
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("world", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--logit", type=float, default=8.0)
    ap.add_argument("--min-overlap", type=int, default=1)
    a = ap.parse_args(argv)
    proposals = json.loads((a.world / "proposals.json").read_text())
    truth = json.loads((a.world / "truth.json").read_text())
    out = exact_occludes(proposals, truth, a.logit, a.min_overlap)
    a.out.write_text(json.dumps(out))
    n = sum(len(p.get("occludes", [])) for p in out)
    print(f"{a.out}: {len(out)} proposals, {n} ordered pairs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
