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

Two protocols for (a) (``protocol=``, ``rapkit evaluate --protocol``; docs/relations.md has
the table of differences):

* ``"rapkit"`` (default): the matching above; every kept proposal whose *full mask*
  overlaps the new one is met, including after an excessive-overlap hit.
* ``"authors"``: the accuracy procedure of the authors' released code
  (``combine_to_panoptic_for_acc``): each proposal is matched to the non-crowd instance with
  the largest *box* IoU, any category, no threshold, not one-to-one
  (:func:`match_proposals_by_box`); only kept proposals whose *visible* canvas segment
  overlaps the new one are met; counting for a new proposal stops at its first
  excessive-overlap hit, the hit pair not counted (:func:`authors_events`); a score exactly
  at rho takes no part (:func:`authors_params`). The authors' code also drops each image's
  first GT instance (``if idx > 0``): a bug, not reproduced.

(b) pair accuracy and the per-category table (:func:`category_pair_stats`, paper Fig. 3)
use the rapkit matching under both protocols (the authors' code has neither).

With ``params.strategy == "ocfusion"`` (a) counts OCFusion's pair decisions instead of
relation values: an event is a pair whose decision the fusion asked for (``rapkit``: the
pair check met while ``j`` holds pixels of ``I_i``, :attr:`FusionResult.events`;
``authors``: every earlier segment whose visible pixels ``I_i`` meets, as the RAP authors'
``combine_to_panoptic_for_ocfusion_acc`` counts, :func:`ocfusion_authors_events`); it is
correct when the head's decision (``i`` in front or not, :func:`ocfusion_decisions`)
orders the two as the GT does; a pair without a logit counts as a tie (wrong). The score
order beside it is unchanged. (b) still compares relation values.

>>> a = RelationAccStats(fusion_pairs=2, fusion_correct=1)
>>> summarize(a + a)["fusion_accuracy"]
0.5
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError
from ..kernels.decisions import (
    OCF_THETA,
    canvas_drop,
    excessive_overlap,
    occupancy_drop,
    ocf_in_front,
    ocf_pair_met_original,
    ocf_pair_met_reference,
)
from ..kernels.status import CATEGORY, EMPTIED, EMPTY, KEPT, OVERLAP
from ..types import FusionParams, InstanceMask, Proposals
from .fusion import FusionResult, Scene, decode_scene, fuse_scene

#: the accuracy protocols of (a): rapkit's own and the authors' released code's
PROTOCOLS = ("rapkit", "authors")
Protocol = Literal["rapkit", "authors"]


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
    box_matched: int = 0  # protocol "authors": proposals matched to an instance by box IoU (0 otherwise)

    def __add__(self, other: RelationAccStats) -> RelationAccStats:
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
    one-to-one, greedy by IoU. Crowd instances are skipped. The intersections are counted
    from the proposals' runs (:func:`rapkit.kernels.fusion.overlaps_with_crops`; the scene
    needs the runs of every proposal: decoded with ``rho=0``).

    >>> from rapkit.types import Proposals
    >>> s = decode_scene(Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]),
    ...                            [{"size": [2, 2], "counts": "04"}]))
    >>> match_proposals(s, [InstanceMask(7, 1, 0, 0, 0, np.ones((2, 2), bool))]).tolist()
    [7]
    """
    from ..kernels.fusion import overlaps_with_crops

    n = len(scene)
    gts = [g for g in instances if not g.iscrowd and g.mask.shape[0] and g.mask.shape[1]]
    cand: list[tuple[float, int, int]] = []
    if gts and n:
        # pairs to measure: same category, boxes that meet ((x0, x1, y0, y1), half-open)
        gb = np.array([(g.x0, g.x0 + g.mask.shape[1], g.y0, g.y0 + g.mask.shape[0]) for g in gts], np.int64)
        pb = scene.boxes
        meet = scene.labels[:, None] == np.array([g.category_id for g in gts], np.int64)[None, :]
        for lo, hi in ((0, 1), (2, 3)):
            meet &= np.maximum(pb[:, None, lo], gb[None, :, lo]) < np.minimum(pb[:, None, hi], gb[None, :, hi])
        pairs = np.ascontiguousarray(np.argwhere(meet), dtype=np.int64)
        offs = np.zeros(len(gts) + 1, np.int64)
        offs[1:] = np.cumsum([g.mask.size for g in gts])
        crops = np.concatenate([np.asarray(g.mask, bool).ravel() for g in gts]).view(np.uint8)
        inter = overlaps_with_crops(
            scene.boxes, scene.col_offsets, scene.col_ptr, scene.run_y0, scene.run_y1, gb, offs, crops, pairs
        )
        areas = scene.areas.tolist()
        for (k, gi), o in zip(pairs.tolist(), inter.tolist()):
            g = gts[gi]
            union = areas[k] + (int(g.area) if g.area >= 0 else int(g.mask.sum())) - o
            iou = o / union if union else 0.0
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
    *,
    pair_match: np.ndarray | None = None,
    decisions: np.ndarray | None = None,
) -> RelationAccStats:
    """Counts for one image from a matching, the GT ``(front, back)`` pairs and the fusion
    events (``(new, kept)`` proposal pairs, see :class:`~rapkit.core.fusion.FusionResult`).

    ``match`` serves (a); ``pair_match`` (default: ``match``; one-to-one) serves (b) and
    ``matched``. The ``authors`` protocol passes its box matching as ``match`` and the
    rapkit matching as ``pair_match``. ``decisions`` (OCFusion, :func:`ocfusion_decisions`:
    per event +1 = the new proposal in front, -1 = the kept one, 0 = no decision) replaces
    the relation values in (a)."""
    rel = scene.relations
    front_of: dict[tuple[int, int], int] = {}
    rel_list = list(relations)
    for f, b in rel_list:
        front_of[(f, b)] = f
        front_of[(b, f)] = f
    pm = match if pair_match is None else pair_match
    st = RelationAccStats(
        images=1,
        proposals=len(scene),
        instances=int(n_instances),
        matched=int((pm >= 0).sum()),
        events=int(events.shape[0]),
        gt_pairs=len(rel_list),
    )
    for e, (i, j) in enumerate(events.tolist()):
        a, b = int(match[i]), int(match[j])
        if a < 0 or b < 0 or a == b:
            continue
        f = front_of.get((a, b))
        if f is None:
            continue
        st.fusion_pairs += 1
        pf, pb = (i, j) if f == a else (j, i)
        if decisions is not None:
            d = int(decisions[e])
            if d == 0:
                st.fusion_ties += 1
            elif (d > 0) == (f == a):
                st.fusion_correct += 1
        elif rel[pf] < rel[pb]:
            st.fusion_correct += 1
        elif not rel[pf] > rel[pb]:
            st.fusion_ties += 1
        if f == b:  # j, placed earlier, is in front
            st.fusion_score_correct += 1
    prop_of = {int(g): k for k, g in enumerate(pm.tolist()) if g >= 0}
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
    *,
    protocol: Protocol = "rapkit",
) -> RelationAccStats:
    """Relation accuracy counts of one image: fuse (recording the pairs met), match, count.

    >>> from rapkit.types import Proposals
    >>> p = Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
    >>> relation_accuracy_image(p, [], [], FusionParams()).proposals
    1
    """
    return relation_accuracy_parts(proposals, instances, relations, params, iou_threshold, protocol=protocol)[0]


def relation_accuracy_parts(
    proposals: Proposals,
    instances: Sequence[InstanceMask],
    relations: Iterable[tuple[int, int]],
    params: FusionParams,
    iou_threshold: float = 0.5,
    *,
    protocol: Protocol = "rapkit",
    by_category: bool = False,
) -> tuple[RelationAccStats, CategoryPairStats | None]:
    """:func:`relation_accuracy_image` plus, with ``by_category``, the image's
    :class:`CategoryPairStats` (one decode, one fusion, one matching).

    >>> from rapkit.types import Proposals
    >>> p = Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
    >>> relation_accuracy_parts(p, [], [], FusionParams(), by_category=True)[1].cells
    {}
    """
    check_protocol(protocol)
    rel_list = list(relations)
    scene = decode_scene(proposals)
    if protocol == "authors":
        params = authors_params(params)
    res = fuse_scene(scene, None, params, np.zeros(256, bool), record_events=protocol == "rapkit")
    match = match_proposals(scene, instances, iou_threshold)
    n_inst = sum(1 for g in instances if not g.iscrowd)
    ocf = params.strategy == "ocfusion"
    if protocol == "authors":
        box_match = match_proposals_by_box(scene, instances)
        events = ocfusion_authors_events(scene, res, params) if ocf else authors_events(scene, res, params)
        dec = ocfusion_decisions(scene, events, params) if ocf else None
        st = image_relation_stats(scene, box_match, rel_list, events, n_inst, pair_match=match, decisions=dec)
        st.box_matched = int((box_match >= 0).sum())
    else:
        dec = ocfusion_decisions(scene, res.events, params) if ocf else None
        st = image_relation_stats(scene, match, rel_list, res.events, n_inst, decisions=dec)
    cats = None
    if by_category:
        cats = category_pair_stats(scene, match, rel_list, {g.id: g.category_id for g in instances})
    return st, cats


def check_protocol(protocol: str) -> None:
    """:class:`ConfigError` unless ``protocol`` is one of :data:`PROTOCOLS`."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol: unknown protocol {protocol!r}; choose {' or '.join(PROTOCOLS)}")


# --------------------------------------------------------------------------- the authors' protocol


def authors_params(params: FusionParams) -> FusionParams:
    """The fusion parameters of the authors' accuracy run: their loader keeps proposals with
    score *above* rho (``scores > CONFIDENCE_THR``) before the fusion, so a score exactly at
    rho takes no part (rho = 1 is left as it is: nothing would).

    >>> authors_params(FusionParams(rho=0.6)).rho > 0.6
    True
    """
    if params.rho >= 1.0:
        return params
    return dataclasses.replace(params, rho=float(np.nextafter(params.rho, 2.0)))


def _tight_box(m: np.ndarray, x0: int, y0: int) -> tuple[int, int, int, int] | None:
    """``(x0, x1, y0, y1)`` of the set pixels of a crop at ``(x0, y0)``; None when empty."""
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return x0 + int(cols[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[0]), y0 + int(rows[-1]) + 1


def match_proposals_by_box(scene: Scene, instances: Sequence[InstanceMask]) -> np.ndarray:
    """The authors' matching: each proposal gets the non-crowd instance whose box has the
    largest IoU with the proposal's box, whatever the categories, with no threshold and not
    one-to-one (several proposals may get one instance); -1 when every box IoU is 0 (the
    authors' ``argmax`` would give the first instance there, see docs/relations.md). Boxes
    are the masks' bounding boxes; ties go to the first instance in the given order
    (``torch.max`` / ``np.argmax``).

    >>> from rapkit.types import Proposals
    >>> s = decode_scene(Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]),
    ...                            [{"size": [2, 2], "counts": "04"}]))
    >>> match_proposals_by_box(s, [InstanceMask(7, 2, 0, 1, 0, np.ones((2, 1), bool))]).tolist()
    [7]
    """
    n = len(scene)
    gts = []
    for g in instances:
        if g.iscrowd:
            continue
        b = _tight_box(g.mask, g.x0, g.y0) if g.mask.size else None
        if b is not None:
            gts.append((g.id, b))
    out = np.full(n, -1, np.int64)
    if not gts or n == 0:
        return out
    gb = np.array([b for _, b in gts], np.float64)  # (G, 4) x0 x1 y0 y1
    ids = np.array([i for i, _ in gts], np.int64)
    pb = scene.boxes.astype(np.float64)  # (N, 4) x0 x1 y0 y1
    iw = np.clip(np.minimum(pb[:, None, 1], gb[None, :, 1]) - np.maximum(pb[:, None, 0], gb[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(pb[:, None, 3], gb[None, :, 3]) - np.maximum(pb[:, None, 2], gb[None, :, 2]), 0, None)
    inter = iw * ih
    pa = (pb[:, 1] - pb[:, 0]) * (pb[:, 3] - pb[:, 2])
    ga = (gb[:, 1] - gb[:, 0]) * (gb[:, 3] - gb[:, 2])
    union = pa[:, None] + ga[None, :] - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    best = np.argmax(iou, axis=1)
    hit = iou[np.arange(n), best] > 0
    out[hit] = ids[best[hit]]
    return out


def _canvas_ids(seg: np.ndarray, segment_of: np.ndarray) -> np.ndarray:
    """The id map of a replayed canvas: canvas value k + 1 -> segment id of proposal k, 0
    (free) -> 0. A lookup table of n + 1 entries, so that an image without proposals (n = 0)
    maps its free pixels without indexing an empty array."""
    lut = np.zeros(len(segment_of) + 1, np.int64)
    lut[1:] = segment_of
    return lut[seg]


def authors_events(scene: Scene, result: FusionResult, params: FusionParams) -> np.ndarray:
    """The ``(new, kept)`` pairs the authors' accuracy loop counts, replaying the fusion
    ``result`` (its keep/drop decisions) on a canvas of proposal indices.

    For each proposal that reaches the pair loop (not dropped by score, emptiness or the
    category check), the kept proposals are visited in painting order; the visit stops at
    the first one that fails the excessive-overlap check (as ``params`` ran it: full masks,
    or visible segments with ``variant="reference"``), that pair not counted; a visited
    proposal counts when its *visible* canvas segment overlaps the new mask. The replayed
    canvas must equal the fusion's (checked; ``RuntimeError`` otherwise).

    >>> from rapkit.types import Proposals
    >>> p = Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
    >>> s = decode_scene(p)
    >>> authors_events(s, fuse_scene(s, None, FusionParams(), np.zeros(256, bool)), FusionParams()).shape
    (0, 2)
    """
    ra, _ca, eo, reference = params.switches()
    n, h, w = len(scene), scene.height, scene.width
    status = result.status
    seg = np.zeros((h, w), np.int64)  # proposal index + 1; 0 = free
    val = np.full((h, w), np.inf)
    overlaps = scene.overlaps() if n else np.zeros((0, 0), np.int64)
    painted: list[int] = []
    out: list[tuple[int, int]] = []
    for i in scene.candidates(params.rho).tolist():
        st = int(status[i])
        if st in (EMPTY, CATEGORY):
            continue
        x0, x1, y0, y1 = (int(v) for v in scene.boxes[i])
        mask = scene.crop(i).T  # the mask on its box; seg_i, val_i: the canvases there (views)
        seg_i, val_i = seg[y0:y1, x0:x1], val[y0:y1, x0:x1]
        area = int(scene.areas[i])
        under = np.bincount(seg_i[mask], minlength=n + 1)
        seg_area = np.bincount(seg.ravel(), minlength=n + 1) if (eo and reference) else None
        hit = False
        for j in painted:
            if overlaps[i, j] == 0:
                continue
            if eo:
                if reference:
                    hit = excessive_overlap(int(under[j + 1]), area, int(seg_area[j + 1]), params.gamma)
                else:
                    hit = excessive_overlap(int(overlaps[i, j]), area, int(scene.areas[j]), params.gamma)
                if hit:
                    break
            if under[j + 1] > 0:
                out.append((i, j))
        if hit != (st == OVERLAP):
            raise RuntimeError(
                f"image {scene.image_id}: replay of proposal #{i} disagrees with the fusion "
                f"(excessive-overlap hit {hit}, status {st})"
            )
        if st in (KEPT, EMPTIED):
            take = mask & (val_i > scene.relations[i]) if ra else mask & (seg_i == 0)
            seg_i[take] = i + 1
            val_i[take] = scene.relations[i]
            painted.append(i)
    final = _canvas_ids(seg, result.segment_of)
    if not np.array_equal(final, result.id_map):
        raise RuntimeError(f"image {scene.image_id}: the replayed canvas differs from the fusion's")
    return np.array(out, np.int64).reshape(-1, 2)


# --------------------------------------------------------------------------- OCFusion's decisions


def _logits(scene: Scene) -> np.ndarray:
    """The scene's (N, N) pair logits, NaN where the file has none."""
    n = len(scene)
    out = np.full((n, n), np.nan)
    if scene.pairs is not None and len(scene.pairs[0]):
        out[scene.pairs[0], scene.pairs[1]] = scene.pairs[2]
    return out


def ocfusion_decisions(scene: Scene, events: np.ndarray, params: FusionParams) -> np.ndarray:
    """Per ``(new i, kept j)`` event, the head's decision as OCFusion's variant takes it:
    ``+1`` ``i`` in front, ``-1`` ``j`` in front, ``0`` no logit for the pair.

    >>> from rapkit.types import Proposals
    >>> p = Proposals(1, 1, 2, np.array([0.9, 0.8]), np.array([1, 1]), np.full(2, np.nan),
    ...               [{"size": [1, 2], "counts": "02"}] * 2, pair_i=np.array([1]), pair_j=np.array([0]),
    ...               pair_logit=np.array([0.3]))
    >>> s, ev = decode_scene(p), np.array([[1, 0], [0, 1]])
    >>> ocfusion_decisions(s, ev, FusionParams.of("ocfusion")).tolist()
    [1, 0]
    >>> ocfusion_decisions(s, ev, FusionParams.of("ocfusion", variant="original")).tolist()
    [-1, 0]
    """
    lg = _logits(scene)
    original = params.variant == "original"
    out = np.zeros(events.shape[0], np.int64)
    for e, (i, j) in enumerate(events.tolist()):
        v = lg[i, j]
        if not np.isnan(v):
            out[e] = 1 if ocf_in_front(v, original) else -1
    return out


def ocfusion_authors_events(scene: Scene, result: FusionResult, params: FusionParams) -> np.ndarray:
    """The ``(new, kept)`` pairs the RAP authors' ``combine_to_panoptic_for_ocfusion_acc``
    counts: for each proposal that meets the canvas, every earlier segment holding some of
    its pixels (ascending index, no θ check), replaying OCFusion's fusion on a canvas of
    proposal indices; the replayed keep/drop decisions and canvas must equal ``result``'s
    (``RuntimeError`` otherwise)."""
    n, h, w = len(scene), scene.height, scene.width
    lg = _logits(scene)
    original = params.variant == "original"
    seg = np.zeros((h, w), np.int64)  # proposal index + 1; 0 = free
    out: list[tuple[int, int]] = []
    overlaps = scene.overlaps() if n else np.zeros((0, 0), np.int64)
    for i in scene.candidates(params.rho).tolist():
        area = int(scene.areas[i])
        if area == 0:
            continue
        mask = scene.mask(i)
        under = np.bincount(seg[mask], minlength=n + 1)
        seg_area = np.bincount(seg.ravel(), minlength=n + 1)
        owners = np.nonzero(under[1:])[0].tolist()
        take = mask & (seg == 0)
        for j in owners:
            out.append((i, j))
            if original:
                met = scene.labels[i] != scene.labels[j] and ocf_pair_met_original(int(overlaps[i, j]), area, OCF_THETA)
            else:
                met = ocf_pair_met_reference(int(under[j + 1]), area, int(seg_area[j + 1]), OCF_THETA)
            if met and ocf_in_front(lg[i, j], original):
                take |= mask & (seg == j + 1)
        n_take = int(take.sum())
        if owners:
            drop = (
                occupancy_drop(area - n_take, area, params.tau) if original else canvas_drop(n_take, area, params.tau)
            )
        else:
            drop = False
        if drop != (result.status[i] not in (KEPT, EMPTIED)):
            raise RuntimeError(f"image {scene.image_id}: replay of proposal #{i} disagrees with the fusion")
        if not drop:
            seg[take] = i + 1
    final = _canvas_ids(seg, result.segment_of)
    if not np.array_equal(final, result.id_map):
        raise RuntimeError(f"image {scene.image_id}: the replayed canvas differs from the fusion's")
    return np.array(out, np.int64).reshape(-1, 2)


# --------------------------------------------------------------------------- per category (Fig. 3)


@dataclass
class CategoryPairStats:
    """Per ordered category pair ``(front category, back category)`` of the matched GT
    pairs (those of the pair accuracy (b)): ``[pairs, correct, ties, sum of v_back - v_front]``.
    Sum images with ``+`` (in image order for a reproducible float sum).

    >>> a = CategoryPairStats({(1, 2): [2, 1, 0, 0.5]})
    >>> (a + a).cells[(1, 2)]
    [4, 2, 0, 1.0]
    """

    cells: dict[tuple[int, int], list] = field(default_factory=dict)

    def __add__(self, other: CategoryPairStats) -> CategoryPairStats:
        if not isinstance(other, CategoryPairStats):
            return NotImplemented
        out = {k: list(v) for k, v in self.cells.items()}
        for k, v in other.cells.items():
            cur = out.get(k)
            out[k] = list(v) if cur is None else [cur[0] + v[0], cur[1] + v[1], cur[2] + v[2], cur[3] + v[3]]
        return CategoryPairStats(out)

    def add(self, front_cat: int, back_cat: int, gap: float) -> None:
        """Count one pair whose relation values differ by ``gap = v_back - v_front``."""
        c = self.cells.setdefault((int(front_cat), int(back_cat)), [0, 0, 0, 0.0])
        c[0] += 1
        if gap > 0:
            c[1] += 1
        elif not gap < 0:
            c[2] += 1
        c[3] += float(gap)


def category_pair_stats(
    scene: Scene,
    match: np.ndarray,
    relations: Iterable[tuple[int, int]],
    instance_category: Mapping[int, int],
) -> CategoryPairStats:
    """Per-category-pair counts of one image over the GT ``(front, back)`` pairs whose two
    instances are matched (``match``: one-to-one, from :func:`match_proposals`);
    ``instance_category`` maps instance id -> category id.

    >>> s = decode_scene(Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]),
    ...                            [{"size": [2, 2], "counts": "04"}]))
    >>> category_pair_stats(s, np.array([7]), [(7, 8)], {7: 1, 8: 2}).cells
    {}
    """
    prop_of = {int(g): k for k, g in enumerate(match.tolist()) if g >= 0}
    out = CategoryPairStats()
    for f, b in relations:
        pf, pb = prop_of.get(f), prop_of.get(b)
        if pf is None or pb is None:
            continue
        out.add(instance_category[f], instance_category[b], float(scene.relations[pb] - scene.relations[pf]))
    return out


def category_pair_table(
    stats: CategoryPairStats,
    names: Mapping[int, str] | None = None,
    train_counts: Mapping[tuple[int, int], int] | None = None,
):
    """The per-category-pair table (paper Fig. 3) as a pandas DataFrame, one row per ordered
    pair ``(front, back)``: ``mean_gap`` (mean ``v_back - v_front``: positive where the
    order is right), ``accuracy`` (share ordered right, a fraction), ``pairs``, ``ties``
    and, with ``train_counts``, ``train_count`` (how often that ordered pair is a relation
    in the training file). Rows sorted by ``train_count`` (when given), else by ``pairs``,
    descending; then by the category ids.

    >>> category_pair_table(CategoryPairStats({(1, 2): [2, 1, 0, 0.5]}))[["front_id", "mean_gap", "accuracy"]].values.tolist()
    [[1.0, 0.25, 0.5]]
    """
    import pandas as pd

    names = names or {}
    rows = []
    for (fc, bc), (n, correct, ties, gap) in stats.cells.items():
        row: dict[str, Any] = {
            "front": names.get(fc, str(fc)),
            "back": names.get(bc, str(bc)),
            "front_id": fc,
            "back_id": bc,
            "mean_gap": gap / n if n else float("nan"),
            "accuracy": correct / n if n else float("nan"),
            "pairs": int(n),
            "ties": int(ties),
        }
        if train_counts is not None:
            row["train_count"] = int(train_counts.get((fc, bc), 0))
        rows.append(row)
    cols = ["front", "back", "front_id", "back_id", "mean_gap", "accuracy", "pairs", "ties"]
    if train_counts is not None:
        cols.append("train_count")
    df = pd.DataFrame(rows, columns=cols)
    key = "train_count" if train_counts is not None else "pairs"
    if len(df):
        df = df.sort_values(
            [key, "pairs", "front_id", "back_id"], ascending=[False, False, True, True], kind="stable"
        ).reset_index(drop=True)
    return df
