"""Relation accuracy (RAP paper, Table 4), as mergeable per-image counts.

Proposals are matched to ground-truth instances one-to-one: same category, mask IoU > 0.5,
greedily by IoU (descending; ties by proposal index, then instance id). Crowd instances are
not matched. Two accuracies, each with its counts:

* **(a) fusion accuracy**: every time Algorithm 1's pair loop (lines 9-16) meets an overlap
  between the new proposal ``i`` and a kept proposal ``j`` whose matched GT instances have a
  known relation, count whether the smaller relation value belongs to the GT front instance.
  Beside it, the **score order** accuracy: whether the earlier placed proposal ``j`` (higher
  score, what the heuristic implicitly assumes to be on top) is the GT front. Depends on the
  fusion parameters (which proposals are met).
* **(b) pair accuracy**: over all GT relation pairs whose two instances are both matched,
  whether the front instance's proposal has the smaller relation value (and, beside it,
  the higher score); independent of the thresholds.

Equal relation values (or a missing value) count as wrong and are also reported as ``ties``.

>>> a = RelationAccStats(fusion_pairs=2, fusion_correct=1)
>>> summarize(a + a)["fusion_accuracy"]
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable, Sequence

import numpy as np

from ..types import FusionParams, InstanceMask, Proposals
from .fusion import Scene, decode_scene, fuse_scene


@dataclass
class RelationAccStats:
    """Sufficient statistics of relation accuracy; sum them over images with ``+``."""

    images: int = 0
    proposals: int = 0
    instances: int = 0  # non-crowd GT instances
    matched: int = 0  # proposals matched to an instance (one-to-one)
    events: int = 0  # overlapping (new, kept) pairs Algorithm 1 met
    fusion_pairs: int = 0  # ... of which both are matched to instances with a known relation
    fusion_correct: int = 0  # smaller relation value on the GT front
    fusion_ties: int = 0  # equal (or missing) relation values
    fusion_score_correct: int = 0  # the earlier placed (higher score) proposal is the GT front
    gt_pairs: int = 0  # GT relation pairs
    pairs: int = 0  # ... whose two instances are matched
    pair_correct: int = 0
    pair_ties: int = 0
    pair_score_correct: int = 0

    def __add__(self, other: "RelationAccStats") -> "RelationAccStats":
        if not isinstance(other, RelationAccStats):
            return NotImplemented
        return RelationAccStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def summarize(stats: RelationAccStats) -> dict[str, Any]:
    """Accuracies (fractions; NaN when nothing was counted) plus all counts.

    >>> summarize(RelationAccStats(pairs=4, pair_correct=3))["pair_accuracy"]
    0.75
    """
    out: dict[str, Any] = {
        "fusion_accuracy": _ratio(stats.fusion_correct, stats.fusion_pairs),
        "fusion_score_order_accuracy": _ratio(stats.fusion_score_correct, stats.fusion_pairs),
        "pair_accuracy": _ratio(stats.pair_correct, stats.pairs),
        "pair_score_order_accuracy": _ratio(stats.pair_score_correct, stats.pairs),
    }
    out.update(stats.to_dict())
    return out


def match_proposals(scene: Scene, instances: Sequence[InstanceMask], iou_threshold: float = 0.5) -> np.ndarray:
    """Instance id matched to each proposal (-1 = none): same category, IoU > threshold,
    one-to-one, greedy by IoU. Crowd instances are skipped.

    >>> from rapkit.types import Proposals
    >>> s = decode_scene(Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]),
    ...                            [{"size": [2, 2], "counts": "04"}]))
    >>> match_proposals(s, [InstanceMask(7, 1, 0, 0, 0, np.ones((2, 2), bool))]).tolist()
    [7]
    """
    n = len(scene)
    cand: list[tuple[float, int, int]] = []
    for g in instances:
        if g.iscrowd:
            continue
        gh, gw = g.mask.shape
        if gh == 0 or gw == 0:
            continue
        gx0, gy0 = g.x0, g.y0
        garea = int(g.area) if g.area >= 0 else int(g.mask.sum())
        gt_t = g.mask.T  # x-major like the proposal crops
        for k in np.nonzero(scene.labels == g.category_id)[0].tolist():
            x0, x1, y0, y1 = (int(v) for v in scene.boxes[k])
            ax0, ax1 = max(x0, gx0), min(x1, gx0 + gw)
            ay0, ay1 = max(y0, gy0), min(y1, gy0 + gh)
            if ax0 >= ax1 or ay0 >= ay1:
                continue
            crop = scene.masks[scene.offsets[k]:scene.offsets[k + 1]].reshape(x1 - x0, y1 - y0)
            inter = int(np.count_nonzero(crop[ax0 - x0:ax1 - x0, ay0 - y0:ay1 - y0].astype(bool)
                                         & gt_t[ax0 - gx0:ax1 - gx0, ay0 - gy0:ay1 - gy0]))
            union = int(scene.areas[k]) + garea - inter
            iou = inter / union if union else 0.0
            if iou > iou_threshold:
                cand.append((-iou, k, g.id))
    match = np.full(n, -1, np.int64)
    used: set[int] = set()
    for _, k, gid in sorted(cand):
        if match[k] < 0 and gid not in used:
            match[k] = gid
            used.add(gid)
    return match


def image_relation_stats(
    scene: Scene,
    match: np.ndarray,
    relations: Iterable[tuple[int, int]],
    events: np.ndarray,
    n_instances: int = 0,
) -> RelationAccStats:
    """Counts for one image from a matching, the GT ``(front, back)`` pairs and the fusion
    events (``(new, kept)`` proposal pairs, see :class:`~rapkit.core.fusion.FusionResult`)."""
    rel = scene.relations
    front_of: dict[tuple[int, int], int] = {}
    rel_list = list(relations)
    for f, b in rel_list:
        front_of[(f, b)] = f
        front_of[(b, f)] = f
    st = RelationAccStats(images=1, proposals=len(scene), instances=int(n_instances),
                          matched=int((match >= 0).sum()), events=int(events.shape[0]), gt_pairs=len(rel_list))
    for i, j in events.tolist():
        a, b = int(match[i]), int(match[j])
        if a < 0 or b < 0 or a == b:
            continue
        f = front_of.get((a, b))
        if f is None:
            continue
        st.fusion_pairs += 1
        pf, pb = (i, j) if f == a else (j, i)
        if rel[pf] < rel[pb]:
            st.fusion_correct += 1
        elif not rel[pf] > rel[pb]:
            st.fusion_ties += 1
        if f == b:  # j, placed earlier, is in front
            st.fusion_score_correct += 1
    prop_of = {int(g): k for k, g in enumerate(match.tolist()) if g >= 0}
    pos = np.empty(len(scene), np.int64)
    pos[scene.order] = np.arange(len(scene))
    for f, b in rel_list:
        pf, pb = prop_of.get(f), prop_of.get(b)
        if pf is None or pb is None:
            continue
        st.pairs += 1
        if rel[pf] < rel[pb]:
            st.pair_correct += 1
        elif not rel[pf] > rel[pb]:
            st.pair_ties += 1
        if pos[pf] < pos[pb]:
            st.pair_score_correct += 1
    return st


def relation_accuracy_image(
    proposals: Proposals,
    instances: Sequence[InstanceMask],
    relations: Iterable[tuple[int, int]],
    params: FusionParams,
    iou_threshold: float = 0.5,
) -> RelationAccStats:
    """Relation accuracy counts of one image: fuse (recording the pairs met), match, count.

    >>> from rapkit.types import Proposals
    >>> p = Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
    >>> relation_accuracy_image(p, [], [], FusionParams()).proposals
    1
    """
    scene = decode_scene(proposals)
    res = fuse_scene(scene, None, params, np.zeros(256, bool), record_events=True)
    match = match_proposals(scene, instances, iou_threshold)
    n_inst = sum(1 for g in instances if not g.iscrowd)
    return image_relation_stats(scene, match, relations, res.events, n_inst)
