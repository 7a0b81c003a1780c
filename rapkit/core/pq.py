"""Panoptic quality with panopticapi's exact semantics, as mergeable per-image statistics.

The pipeline is ``pair histogram -> pq_stats -> (merge) -> summarize``:

* a :class:`PairHistogram` counts the pixels of every (GT id, predicted id) pair of one image;
* :func:`pq_stats` matches segments exactly as ``panopticapi.evaluation.pq_compute_single_core``
  does (IoU > 0.5 within a category, VOID removed from the union, crowd = the last crowd segment
  of a category, unmatched predictions ignored when VOID + crowd cover more than half of them,
  GT area from the JSON, predicted area from the PNG) and returns a :class:`PQStats`;
* :class:`PQStats` add up (``a + b``, :meth:`PQStats.merge`) in any order;
* :func:`summarize` gives All / Things / Stuff and per-class PQ, SQ, RQ.

The data classes (:class:`PQStats`, :class:`PQResult` and its parts) and :func:`merge_stats`
live in :mod:`rapkit.types` with the other shared data and are re-exported here;
:mod:`rapkit.core.pq_arrays` runs the same matching over many images as arrays.

Bit-identical results: panopticapi sums the IoUs of the matched pairs into one float per
category, image after image (in the order of the GT ``annotations``), and within an image in
increasing (GT id, predicted id) order. :class:`PQStats` keeps every IoU with its image
position and its rank inside the image; :func:`summarize` replays that sum in that order, so
the result ``==`` panopticapi run with one process, whatever the sharding.

Documented differences where panopticapi crashes: a split (Things or Stuff) with no class
present gives ``n = 0`` and NaN for PQ/SQ/RQ (panopticapi: ZeroDivisionError); bad predictions
raise :class:`~rapkit.errors.InputError` naming the image and segment (panopticapi: KeyError).

>>> import numpy as np
>>> from rapkit.types import Category, Segment
>>> cats = {1: Category(1, "person", True)}
>>> gt = np.array([[1, 1], [1, 0]], np.uint32)
>>> seg = [Segment(1, 1, 3, (0, 0, 2, 2))]
>>> s = pq_stats(gt, seg, [Segment(1, 1, 0, (0, 0, 2, 2))], cats, pred_map=gt)
>>> summarize(s, cats).all.pq
1.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import (
    Category,
    ClassResult,
    PQResult,
    PQStats,
    Segment,
    SplitResult,
    merge_stats,
)

OFFSET = 1 << 24  # ids are < 2**24 (three 8-bit channels)
VOID = 0


# --------------------------------------------------------------------------- histogram


@dataclass
class PairHistogram:
    """Pixel counts of the (GT id, predicted id) pairs of one image, sorted by (gt, pred).

    ``gt`` and ``pred`` are uint32, ``count`` int64, all of the same length, without
    duplicates and without zero counts.
    """

    gt: np.ndarray
    pred: np.ndarray
    count: np.ndarray
    shape: tuple[int, int] | None = None

    @classmethod
    def from_keys(cls, keys: np.ndarray, counts: np.ndarray, shape: tuple[int, int] | None = None) -> PairHistogram:
        """From combined keys ``gt * 2**24 + pred`` (any order, unique) and their counts."""
        keys = np.asarray(keys, dtype=np.uint64)
        counts = np.asarray(counts, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        return cls(
            (keys >> np.uint64(24)).astype(np.uint32),
            (keys & np.uint64(OFFSET - 1)).astype(np.uint32),
            counts[order],
            shape,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PairHistogram):
            return NotImplemented
        return (
            np.array_equal(self.gt, other.gt)
            and np.array_equal(self.pred, other.pred)
            and np.array_equal(self.count, other.count)
        )

    @property
    def n_pixels(self) -> int:
        return int(self.count.sum())


def pair_histogram(gt_map: np.ndarray, pred_map: np.ndarray) -> PairHistogram:
    """Pair histogram of two (H, W) id maps with ``np.unique`` (the readable reference path).

    >>> h = pair_histogram(np.array([[1, 1]], np.uint32), np.array([[2, 0]], np.uint32))
    >>> h.gt.tolist(), h.pred.tolist(), h.count.tolist()
    ([1, 1], [0, 2], [1, 1])
    """
    g = np.asarray(gt_map)
    p = np.asarray(pred_map)
    if g.shape != p.shape or g.ndim != 2:
        raise ValueError(f"id maps must be 2-D of the same shape, got {g.shape} and {p.shape}")
    key = g.astype(np.uint64).ravel() * np.uint64(OFFSET) + p.astype(np.uint64).ravel()
    keys, counts = np.unique(key, return_counts=True)
    return PairHistogram.from_keys(keys, counts, (int(g.shape[0]), int(g.shape[1])))


def _seg_fields(s: Any) -> tuple[int, int, Any, int]:
    if type(s) is tuple:  # (id, category_id, area, iscrowd): SegmentArrays.segments(k)
        return s
    if isinstance(s, Segment):
        return s.id, s.category_id, s.area, s.iscrowd
    return int(s["id"]), int(s["category_id"]), s.get("area", 0), int(s.get("iscrowd", 0))


def _category_ids(categories: Any) -> Any:
    if isinstance(categories, Mapping):
        return categories
    return {(c.id if isinstance(c, Category) else int(c["id"])): c for c in categories}


def pq_stats(
    gt: np.ndarray | PairHistogram,
    gt_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    pred_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    categories: Mapping[int, Any] | Iterable[Any] | frozenset[int],
    pred_map: np.ndarray | None = None,
    *,
    image_id: Any = None,
    order: int = 0,
    band: Any = None,
) -> PQStats:
    """PQ statistics of one image, exactly as panopticapi's single-core loop computes them.

    ``gt`` is either a :class:`PairHistogram` or the GT id map (then ``pred_map`` is the
    predicted id map). ``categories`` may also be a set of category ids (only membership
    is needed here). ``order`` is the image's position in the GT annotations (it fixes the
    summation order of the IoUs; give each image of a dataset its own). Segments are
    :class:`Segment` objects, dicts with ``id, category_id, area, iscrowd``, or tuples
    ``(id, category_id, area, iscrowd)``. Raises
    :class:`InputError` for a predicted id in the map but not in ``pred_segments``, a
    predicted segment absent from the map, an unknown predicted category, duplicate
    segment ids, or maps of different shapes.

    ``band`` (a :class:`rapkit.core.boundary.BandCounts`) makes it Boundary PQ: a pair's IoU
    is ``min(mask IoU, band.iou(g, p))``, as boundary-iou-api's ``coco_panoptic_api``
    (:func:`rapkit.core.boundary.boundary_stats`).

    >>> import numpy as np
    >>> m = np.array([[1, 2]], np.uint32)
    >>> segs = [Segment(1, 1, 1, (0, 0, 1, 1)), Segment(2, 1, 1, (1, 0, 1, 1))]
    >>> pq_stats(m, segs, segs, {1: Category(1, "a", True)}, pred_map=m).tp
    {1: 2}
    """
    if isinstance(gt, PairHistogram):
        if pred_map is not None:
            raise ValueError("give either a PairHistogram or two id maps, not both")
        hist = gt
    else:
        if pred_map is None:
            raise ValueError("pred_map is required when gt is an id map")
        g = np.asarray(gt)
        p = np.asarray(pred_map)
        if g.shape != p.shape:
            raise InputError(
                f"GT and prediction differ in size: GT {g.shape[-1]}x{g.shape[0]}, prediction {p.shape[-1]}x{p.shape[0]}",
                image_id=image_id,
            )
        hist = pair_histogram(g, p)
    cats = categories if isinstance(categories, (set, frozenset)) else _category_ids(categories)

    gt_segms: dict[int, tuple[int, Any, int]] = {}
    for s in gt_segments:
        sid, cid, area, crowd = _seg_fields(s)
        if sid in gt_segms:
            raise InputError("duplicate segment id in the GT", image_id=image_id, segment_id=sid)
        gt_segms[sid] = (cid, area, crowd)
    pred_cat: dict[int, int] = {}
    for s in pred_segments:
        sid, cid, _, _ = _seg_fields(s)
        if sid in pred_cat:
            raise InputError("duplicate segment id in the prediction", image_id=image_id, segment_id=sid)
        pred_cat[sid] = cid

    hg = hist.gt.tolist()
    hp = hist.pred.tolist()
    hc = hist.count.tolist()

    # predicted areas from the map + the sanity checks of panopticapi (same order of checks)
    pred_area: dict[int, int] = {}
    for p_id, c in zip(hp, hc):
        pred_area[p_id] = pred_area.get(p_id, 0) + c
    for p_id in sorted(pred_area):
        if p_id not in pred_cat:
            if p_id == VOID:
                continue
            raise InputError("id in the prediction PNG but not in its JSON", image_id=image_id, segment_id=p_id)
        if pred_cat[p_id] not in cats:
            raise InputError(
                f"predicted segment has unknown category_id {pred_cat[p_id]}", image_id=image_id, segment_id=p_id
            )
    missing = [sid for sid in pred_cat if sid not in pred_area]
    if missing:
        raise InputError(
            f"predicted segment(s) {missing} in the JSON but not in the prediction PNG",
            image_id=image_id,
            segment_id=missing[0],
        )
    void_inter: dict[int, int] = {}
    for g_id, p_id, c in zip(hg, hp, hc):
        if g_id != VOID:
            break
        void_inter[p_id] = c

    tp: dict[int, int] = {}
    fp: dict[int, int] = {}
    fn: dict[int, int] = {}
    m_cat: list[int] = []
    m_iou: list[float] = []
    gt_matched: set[int] = set()
    pred_matched: set[int] = set()
    for g_id, p_id, inter in zip(hg, hp, hc):
        gs = gt_segms.get(g_id)
        if gs is None:
            continue
        pc = pred_cat.get(p_id)
        if pc is None:
            continue
        gcat, garea, gcrowd = gs
        if gcrowd == 1:
            continue
        if gcat != pc:
            continue
        union = pred_area[p_id] + garea - inter - void_inter.get(p_id, 0)
        if union == 0:
            iou = math.inf  # numpy's int64 division in panopticapi (an inconsistent GT area)
        else:
            iou = inter / union
        if band is not None:
            iou = min(iou, band.iou(g_id, p_id))
        if iou > 0.5:
            tp[gcat] = tp.get(gcat, 0) + 1
            m_cat.append(gcat)
            m_iou.append(iou)
            gt_matched.add(g_id)
            pred_matched.add(p_id)

    crowd_of: dict[int, int] = {}
    for g_id, (gcat, _, gcrowd) in gt_segms.items():
        if g_id in gt_matched:
            continue
        if gcrowd == 1:
            crowd_of[gcat] = g_id
            continue
        fn[gcat] = fn.get(gcat, 0) + 1

    if pred_cat.keys() - pred_matched:
        crowd_inter: dict[tuple[int, int], int] = {}
        crowd_ids = set(crowd_of.values())
        if crowd_ids:
            for g_id, p_id, c in zip(hg, hp, hc):
                if g_id in crowd_ids:
                    crowd_inter[(g_id, p_id)] = c
        for p_id, pcat in pred_cat.items():
            if p_id in pred_matched:
                continue
            inter = void_inter.get(p_id, 0)
            if pcat in crowd_of:
                inter += crowd_inter.get((crowd_of[pcat], p_id), 0)
            if inter / pred_area[p_id] > 0.5:
                continue
            fp[pcat] = fp.get(pcat, 0) + 1

    n = len(m_iou)
    return PQStats(
        tp=tp,
        fp=fp,
        fn=fn,
        order=np.full(n, order, np.int64),
        rank=np.arange(n, dtype=np.int64),
        category=np.asarray(m_cat, np.int64).reshape(n),
        iou=np.asarray(m_iou, np.float64).reshape(n),
        orders=np.array([order], np.int64),
        image_ids=[image_id],
    )


def _isthing(c: Any) -> bool:
    if isinstance(c, Category):
        return bool(c.isthing)
    return c.get("isthing") == 1


def _name(c: Any, cid: int) -> str:
    if isinstance(c, Category):
        return c.name
    return str(c.get("name", cid))


def _iou_sums(stats: PQStats) -> dict[int, float]:
    """Per category, the sum of its IoUs added left to right in (image position, rank) order,
    as panopticapi's ``+=`` adds them (``np.cumsum`` adds sequentially, one after the other).

    >>> _iou_sums(PQStats(order=np.array([1, 0]), rank=np.array([0, 0]), category=np.array([5, 5]),
    ...                   iou=np.array([0.1, 0.7]), orders=np.array([0, 1])))
    {5: 0.7999999999999999}
    """
    idx = np.lexsort((stats.rank, stats.order))
    cat = stats.category[idx]
    by_cat = np.argsort(cat, kind="stable")  # each category's IoUs keep their order
    cat = cat[by_cat]
    iou = stats.iou[idx][by_cat]
    starts = np.flatnonzero(np.r_[True, cat[1:] != cat[:-1]]) if cat.size else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], cat.size].astype(np.int64)
    return {int(cat[a]): float(np.cumsum(iou[a:b])[-1]) for a, b in zip(starts.tolist(), ends.tolist())}


def summarize(stats: PQStats, categories: Mapping[int, Any] | Iterable[Any]) -> PQResult:
    """All / Things / Stuff and per-class PQ, SQ, RQ from merged statistics.

    ``categories`` (``{id: Category}`` or COCO category dicts) fixes the class order; classes
    with no TP, FP and FN are 0 in ``per_class`` and left out of ``n``. A split without any
    class present has ``n = 0`` and NaN scores.

    >>> summarize(PQStats(), {1: Category(1, "a", True)}).all.n
    0
    """
    cats = _category_ids(categories)
    iou_sum = _iou_sums(stats)

    per_class: dict[int, ClassResult] = {}
    splits: dict[str, SplitResult] = {}
    for split, want in (("all", None), ("things", True), ("stuff", False)):
        pq = sq = rq = 0
        n = 0
        for cid, c in cats.items():
            isthing = _isthing(c)
            if want is not None and want != isthing:
                continue
            iou = iou_sum.get(cid, 0.0)
            tp = stats.tp.get(cid, 0)
            fp = stats.fp.get(cid, 0)
            fn = stats.fn.get(cid, 0)
            if tp + fp + fn == 0:
                if want is None:
                    per_class[cid] = ClassResult(cid, _name(c, cid), isthing, 0.0, 0.0, 0.0, 0, 0, 0, 0.0)
                continue
            n += 1
            pq_class = iou / (tp + 0.5 * fp + 0.5 * fn)
            sq_class = iou / tp if tp != 0 else 0.0
            rq_class = tp / (tp + 0.5 * fp + 0.5 * fn)
            if want is None:
                per_class[cid] = ClassResult(cid, _name(c, cid), isthing, pq_class, sq_class, rq_class, tp, fp, fn, iou)
            pq += pq_class
            sq += sq_class
            rq += rq_class
        if n == 0:
            splits[split] = SplitResult(math.nan, math.nan, math.nan, 0)
        else:
            splits[split] = SplitResult(pq / n, sq / n, rq / n, n)
    return PQResult(splits["all"], splits["things"], splits["stuff"], per_class, stats.n_images)


__all__ = [
    "PairHistogram",
    "pair_histogram",
    "PQStats",
    "pq_stats",
    "merge_stats",
    "summarize",
    "PQResult",
    "SplitResult",
    "ClassResult",
]
