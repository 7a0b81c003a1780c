"""rapkit as a library on plain numpy arrays: no files, no command line.

What it shows:
  1. fuse one image's proposals (masks, scores, labels, relation values) with the classic
     heuristic and with RAP's Algorithm 1 (``rapkit.fuse_image``), where a cup stands in
     front of a person but the person has the higher score: the heuristic paints the
     person over the cup, RAP uses the relation values and keeps the cup in front;
  2. PQ statistics of each result against the ground truth (``rapkit.pq_stats``);
  3. statistics from several shards (say, GPUs or cluster jobs, shipped as JSON with
     ``PQStats.to_dict``) merged in any order (``merge_stats`` or ``+``): the same numbers,
     bit for bit, as one pass;
  4. the summary (``rapkit.summarize``): PQ / SQ / RQ for All, Things, Stuff (fractions).

Run: python examples/api_numpy.py
"""

from __future__ import annotations

import json

import numpy as np
from pycocotools import mask as mask_utils

import rapkit
from rapkit.core.pq import PQStats, merge_stats
from rapkit.types import Category, FusionParams, Proposals, Segment

H, W = 120, 160
CATEGORIES = {
    1: Category(1, "person", True),
    47: Category(47, "cup", True),
    187: Category(187, "sky-other-merged", False),
    190: Category(190, "floor-other-merged", False),
}


def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    y, x = np.mgrid[:H, :W]
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def scene(shift: int, head_wrong: bool = False):
    """One image: GT id map + segments, semantic map, and a detector's proposals."""
    person = ellipse(70 + shift, 60, 28, 45)
    cup = ellipse(85 + shift, 75, 14, 12)  # in front of the person
    semantic = np.where(np.arange(H)[:, None] < H // 2, 187, 190).astype(np.uint8).repeat(W, axis=1)
    gt = np.where(semantic == 187, 1, 2).astype(np.uint32)  # segment ids: 1 sky, 2 floor
    gt[person] = 3
    gt[cup] = 4
    segments = [Segment(i, c, int((gt == i).sum()), (0, 0, 0, 0)) for i, c in ((1, 187), (2, 190), (3, 1), (4, 47))]
    # the detector: full (amodal-ish) masks; the person scores higher; relation value:
    # smaller = closer to the camera (paper 3.3), so the cup gets the smaller value
    masks = np.stack([person, cup])
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    props = Proposals(
        image_id=shift,
        height=H,
        width=W,
        scores=np.array([0.95, 0.90]),
        category_ids=np.array([1, 47]),
        relations=np.array([-1.0, 1.0] if head_wrong else [1.0, -1.0]),
        rles=list(rles),
    )
    return gt, segments, semantic, props


def main() -> None:
    gt, segments, semantic, props = scene(0)
    heuristic = FusionParams(strategy="heuristic", rho=0.5, tau=0.5, stuff_area=100)
    rap = FusionParams(stuff_area=100)  # the paper's best: rho = tau = 0.6, gamma = 0.5
    for name, params in (("heuristic", heuristic), ("RAP", rap)):
        id_map, segs = rapkit.fuse_image(props, semantic, params, CATEGORIES)
        st = rapkit.pq_stats(gt, segments, segs, CATEGORIES, pred_map=id_map, image_id=0)
        res = rapkit.summarize(st, CATEGORIES)
        cup_pixels = sum(s.area for s in segs if s.category_id == 47)
        print(
            f"{name:9s}: cup keeps {cup_pixels:4d} of {int((gt == 4).sum())} pixels; "
            f"PQ {100 * res.all.pq:.1f}, PQ^Th {100 * res.things.pq:.1f}, TP {sum(st.tp.values())}, "
            f"FP {sum(st.fp.values())}, FN {sum(st.fn.values())}"
        )

    # a small dataset fused with RAP (the head orders every third image wrongly), in three shards
    per_image = []
    for order, shift in enumerate(range(-20, 25, 5)):
        gt, segments, semantic, props = scene(shift, head_wrong=order % 3 == 1)
        id_map, segs = rapkit.fuse_image(props, semantic, rap, CATEGORIES)
        # order = the image's position in the dataset: it fixes the summation order of the IoUs
        per_image.append(rapkit.pq_stats(gt, segments, segs, CATEGORIES, pred_map=id_map, image_id=shift, order=order))
    shards = [merge_stats(per_image[k::3]) for k in range(3)]
    shipped = [PQStats.from_dict(json.loads(json.dumps(s.to_dict()))) for s in shards]  # e.g. across processes
    total = shipped[2] + shipped[0] + shipped[1]  # any order
    assert total == merge_stats(per_image)
    result = rapkit.summarize(total, CATEGORIES)
    assert result == rapkit.summarize(merge_stats(per_image), CATEGORIES)  # bit for bit
    print(
        f"{total.n_images} images in 3 shards: PQ {100 * result.all.pq:.2f}  SQ {100 * result.all.sq:.2f}  "
        f"RQ {100 * result.all.rq:.2f}  (Things PQ {100 * result.things.pq:.2f}, Stuff PQ {100 * result.stuff.pq:.2f})"
    )


if __name__ == "__main__":
    main()
