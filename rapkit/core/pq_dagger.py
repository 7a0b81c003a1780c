"""PQ† (Porzi et al., *Seamless Scene Segmentation*, CVPR 2019), per image, as torchmetrics'
``ModifiedPanopticQuality`` defines it: things are scored as in PQ; a stuff class is scored
by its IoU, with no 0.5 matching.

Per image and stuff class ``c`` with a (non-crowd) GT segment: the GT segments of ``c`` form
one region, the predicted segments of ``c`` another; the class gets one "TP" and, when the
two overlap, their IoU (the union leaves out predicted pixels on GT VOID, as PQ's). Stuff
counts no FP and no FN. Over the dataset a stuff class's PQ† is the mean of its IoUs over the
images whose GT has it (SQ = that mean, RQ = 1); things keep PQ's matching, counts and IoUs
(:func:`rapkit.core.pq.pq_stats`: crowd, VOID, panopticapi's rules). PQ† of All / Things /
Stuff is the unweighted mean over the classes present, as PQ's.

:func:`pq_dagger_stats` returns a :class:`~rapkit.types.PQStats` in which the stuff classes
carry those counts: it merges and :func:`~rapkit.core.pq.summarize`\\ s like PQ's.

Where it differs from torchmetrics (on data torchmetrics cannot express): crowd GT segments
(torchmetrics has no crowd: rapkit applies panopticapi's crowd rules to things and leaves
crowd stuff segments out); predicted VOID (torchmetrics leaves GT pixels predicted as VOID
out of the union and does not count a GT thing more than half predicted as VOID as an FN;
rapkit, as panopticapi, does both); the GT area of a segment is its JSON ``area``, as in PQ.
On data without crowd and without predicted VOID the two agree (to float rounding: 1e-12).

>>> import numpy as np
>>> from rapkit.core.pq import summarize
>>> from rapkit.types import Category
>>> cats = {1: Category(1, "car", True), 2: Category(2, "sky", False)}
>>> gt = np.array([[2, 2, 2, 2], [2, 2, 1, 1]], np.uint32)
>>> pred = np.array([[2, 2, 2, 1], [2, 2, 1, 1]], np.uint32)
>>> segs = [(1, 1, 2, 0), (2, 2, 6, 0)]
>>> st = pq_dagger_stats(gt, segs, segs, cats, pred_map=pred)
>>> r = summarize(st, cats)
>>> r.stuff.pq, round(r.things.pq, 4), r.all.pq == (5 / 6 + 2 / 3) / 2   # sky IoU 5/6; car matched, IoU 2/3
(0.8333333333333334, 0.6667, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..types import Category, PQStats, Segment
from .pq import PairHistogram, _category_ids, _isthing, _seg_fields, pair_histogram, pq_stats

__all__ = ["pq_dagger_stats"]


def pq_dagger_stats(
    gt: np.ndarray | PairHistogram,
    gt_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    pred_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    categories: Mapping[int, Category | Mapping[str, Any]] | Iterable[Any],
    pred_map: np.ndarray | None = None,
    *,
    image_id: Any = None,
    order: int = 0,
) -> PQStats:
    """PQ† statistics of one image. Arguments as :func:`rapkit.core.pq.pq_stats` (which
    raises the same errors), but ``categories`` must say which are things: ``{id:
    Category}`` or COCO category dicts with ``isthing``."""
    cats = _category_ids(categories)
    if not isinstance(gt, PairHistogram):
        if pred_map is None:
            raise ValueError("pred_map is required when gt is an id map")
        if np.shape(gt) == np.shape(pred_map):
            gt = pair_histogram(np.asarray(gt), np.asarray(pred_map))
            pred_map = None
    st = pq_stats(gt, gt_segments, pred_segments, cats, pred_map, image_id=image_id, order=order)
    hist = gt
    stuff = {cid for cid, c in cats.items() if not _isthing(c)}
    if not stuff:
        return st
    keep = ~np.isin(st.category, np.fromiter(stuff, np.int64, len(stuff)))
    tp = {c: n for c, n in st.tp.items() if c not in stuff}
    fp = {c: n for c, n in st.fp.items() if c not in stuff}
    fn = {c: n for c, n in st.fn.items() if c not in stuff}
    cat = st.category[keep].tolist()
    iou = st.iou[keep].tolist()

    g_cat: dict[int, int] = {}
    g_area: dict[int, int] = {}
    for s in gt_segments:
        sid, cid, area, crowd = _seg_fields(s)
        if cid in stuff and crowd != 1:
            g_cat[sid] = cid
            g_area[cid] = g_area.get(cid, 0) + int(area)
    p_cat = {sid: cid for sid, cid, _, _ in map(_seg_fields, pred_segments) if cid in stuff}
    inter: dict[int, int] = {}
    p_area: dict[int, int] = {}
    p_void: dict[int, int] = {}
    for g_id, p_id, n in zip(hist.gt.tolist(), hist.pred.tolist(), hist.count.tolist()):
        pc = p_cat.get(p_id)
        if pc is None:
            continue
        p_area[pc] = p_area.get(pc, 0) + n
        if g_id == 0:
            p_void[pc] = p_void.get(pc, 0) + n
        elif g_cat.get(g_id) == pc:
            inter[pc] = inter.get(pc, 0) + n
    for c in sorted(g_area):
        tp[c] = tp.get(c, 0) + 1
        i = inter.get(c, 0)
        if i > 0:
            cat.append(c)
            iou.append(i / (p_area[c] + g_area[c] - i - p_void.get(c, 0)))
    n = len(iou)
    return PQStats(
        tp=tp,
        fp=fp,
        fn=fn,
        order=np.full(n, order, np.int64),
        rank=np.arange(n, dtype=np.int64),
        category=np.asarray(cat, np.int64).reshape(n),
        iou=np.asarray(iou, np.float64).reshape(n),
        orders=np.array([order], np.int64),
        image_ids=[image_id],
    )
