"""Exact PQ in memory: :class:`PanopticEvaluator` (``update`` image after image or batch by
batch, ``compute``, ``state`` / ``merge``), panopticapi's numbers without writing a file;
Boundary PQ and PQ† too (``metrics=``), as ``rapkit evaluate --metric`` computes them.

Each image becomes a GT and a predicted id map with their segments (the input layouts below),
the numba kernel :func:`rapkit.kernels.pq.pair_keys_maps` counts its (GT id, predicted id)
pixel pairs (loaded on the first ``update``, not on import), then
:func:`rapkit.core.pq.pq_stats` matches them exactly as panopticapi's single-core loop and :func:`rapkit.core.pq.summarize` sums them: the result ``==`` ``pq_compute`` run on the
same data written as COCO panoptic PNGs and JSON (docs/evaluation.md, "In memory").

**Metrics.** ``PanopticEvaluator(categories, metrics=("pq", "boundary", "pq-dagger"))``
computes every metric asked for from the same id maps in one pass per image: with
``"boundary"`` the band kernel :func:`rapkit.kernels.boundary.band_pair_keys` counts the
pixel pairs with their band flags, which folded give PQ's pair histogram
(:func:`rapkit.core.boundary.band_counts`), as ``rapkit evaluate`` does; PQ† is
:func:`rapkit.core.pq_dagger.pq_dagger_stats` of that histogram. ``compute()`` returns a
:class:`PQEvaluation` for the default ``metrics=("pq",)``, else an
:class:`~rapkit.core.pq_evaluation.Evaluation` (one PQEvaluation per metric): each ``==``
``rapkit evaluate --metric <m>`` on the same data written as files.

Input layouts, the same for prediction and GT (each side chooses its own):

* **COCO**: an integer id map ``(H, W)`` (0 = VOID, ids < 2**24 as a PNG holds them) and its
  ``segments_info`` (dicts with ``id``, ``category_id``, optional ``iscrowd`` and ``area``;
  or :class:`~rapkit.types.Segment`). A GT segment without ``area`` gets its pixel count.
  detectron2's model output ``(panoptic_seg, segments_info)`` is this layout.
* **(category, instance)**, torchmetrics' layout: ``(H, W, 2)``, segments ``None``. Each
  distinct (category, instance) pair is a segment (instance ignored for stuff); category -1
  is VOID, and so is a GT category not in ``categories`` (torchmetrics' rule for targets);
  segment ids are 1, 2, ... in (category, instance) order.
* **label_divisor**, detectron2's encoding: ``(H, W)`` labels ``category * label_divisor +
  instance``, -1 = VOID, segments ``None`` and ``label_divisor=`` given. Each distinct label
  is a segment with id ``label + 1``, as detectron2's ``COCOPanopticEvaluator`` writes it.

A batch is a list of maps (and a list of segment lists), or an array with one more leading
axis. torch tensors are taken as they are (``.detach().cpu().numpy()``; torch is not imported).

**Summation order.** panopticapi adds each class's IoUs image after image in the order of
the GT ``annotations``. The evaluator adds them in ascending image id (``image_ids`` of
``update``; by default 0, 1, 2, ... in the order seen), or in the order of ``image_order``
when given (the GT JSON's order: what the detectron2 adapter passes). So the result does not
depend on the order of the updates, nor on how images were split among evaluators merged.

>>> import numpy as np
>>> ev = PanopticEvaluator([{"id": 1, "name": "a", "isthing": 1}])
>>> ids = np.array([[1, 1], [0, 2]])
>>> segs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 1}]
>>> ev.update(ids, segs, ids, segs)
>>> ev.compute().result.all.pq
1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import Category, PQStats, Segment, merge_stats
from .boundary import DILATION_RATIO, band_counts, dilation_pixels
from .pq import PairHistogram, pq_stats, summarize
from .pq_dagger import pq_dagger_stats
from .pq_evaluation import METRICS, Evaluation, PQEvaluation

MAX_ID = 1 << 24  # a panoptic PNG holds ids < 2**24 (three 8-bit channels)
#: 2: the statistics of every metric per image, with ``metrics`` and ``dilation_ratio`` (1: PQ only)
STATE_VERSION = 2


def as_metrics(metrics: Any) -> tuple[str, ...]:
    """``("pq", "boundary")`` or ``"pq,boundary"`` -> the metric names, duplicates dropped,
    order kept; ValueError naming an unknown one.

    >>> as_metrics("pq-dagger, pq")
    ('pq-dagger', 'pq')
    """
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = tuple(dict.fromkeys(str(m).strip() for m in items if str(m).strip()))
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        what = f"unknown metric {bad[0]!r}" if bad else "no metric given"
        raise ValueError(f"metrics: {what}; choose among {', '.join(METRICS)}")
    return names


def as_categories(categories: Any) -> dict[int, Category]:
    """``{id: Category}`` in the given order, from Category objects, COCO category dicts or a
    mapping of either.

    >>> list(as_categories([{"id": 3, "name": "car", "isthing": 1}]).values())[0].name
    'car'
    """
    items = categories.values() if isinstance(categories, Mapping) else categories
    out: dict[int, Category] = {}
    for k, c in enumerate(items):
        if isinstance(c, Category):
            cat = c
        elif isinstance(c, Mapping) and "id" in c and "isthing" in c:
            cat = Category(int(c["id"]), str(c.get("name", c["id"])), c["isthing"] in (1, True))
        else:
            raise TypeError(f"categories[{k}] must be a Category or a dict with 'id' and 'isthing', got {c!r}")
        if cat.id in out:
            raise ValueError(f"categories: category id {cat.id} appears twice")
        out[cat.id] = cat
    if not out:
        raise ValueError("categories is empty (PQ needs each class's id and isthing)")
    return out


def _array(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{what} must hold integers, got dtype {a.dtype}")
    return a


def _segment(s: Any, k: int, what: str) -> tuple[int, int, Any, int]:
    if isinstance(s, Segment):
        return int(s.id), int(s.category_id), s.area, int(s.iscrowd)
    if isinstance(s, Mapping) and "id" in s and "category_id" in s:
        return int(s["id"]), int(s["category_id"]), s.get("area"), int(s.get("iscrowd", 0))
    raise TypeError(f"{what}[{k}] must be a dict with 'id' and 'category_id' (or a Segment), got {s!r}")


def _coco(ids: np.ndarray, segments: Any, what: str) -> tuple[np.ndarray, list]:
    """COCO layout: the id map checked and made uint32, segments as ``(id, category_id, area,
    iscrowd)`` (area None when not given; :func:`_check_ids` fills it from the histogram)."""
    if ids.ndim != 2:
        raise ValueError(f"{what}: an id map with segments must be (H, W), got shape {ids.shape}")
    if not isinstance(segments, Sequence) or isinstance(segments, (str, bytes)):
        raise TypeError(f"{what}: segments must be a list of segments_info entries, got {type(segments).__name__}")
    if ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= MAX_ID:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{what}: id {bad} in the map is out of range (0 = VOID, ids < 2**24 as a PNG holds them)")
    segs = [_segment(s, k, f"{what} segments") for k, s in enumerate(segments)]
    return ids.astype(np.uint32, copy=False), segs


def _areas(ids: np.ndarray, count: np.ndarray) -> dict[int, int]:
    """Pixel count of every id of one side of a pair histogram."""
    order = np.argsort(ids, kind="stable")
    u, start = np.unique(ids[order], return_index=True)
    return dict(zip(u.tolist(), np.add.reduceat(count[order], start).tolist())) if u.size else {}


def _check_ids(area_of: dict[int, int], segs: list, gt: bool, image_id: Any) -> list:
    """The map's ids against the segments (precise errors); a GT segment without ``area``
    gets its pixel count."""
    side = "GT" if gt else "predicted"
    known = {s[0] for s in segs}
    stray = [i for i in area_of if i and i not in known]
    if stray:
        raise InputError(f"id {stray[0]} is in the {side} map but in none of its segments", image_id=image_id)
    if gt:
        return [(i, c, area_of.get(i, 0) if a is None else a, cr) for i, c, a, cr in segs]
    absent = [i for i, _, _, _ in segs if i not in area_of]
    if absent:  # panopticapi stops on a predicted segment without a pixel
        raise InputError("predicted segment has no pixel in the predicted map", image_id=image_id, segment_id=absent[0])
    return segs


def _pairs(a: np.ndarray, cats: dict[int, Category], gt: bool, what: str, image_id: Any) -> tuple[np.ndarray, list]:
    """(category, instance) layout -> id map and segments (ids 1, 2, ... in pair order)."""
    cat = a[..., 0].astype(np.int64)
    inst = a[..., 1].astype(np.int64)
    known = np.fromiter(cats, np.int64, len(cats))
    is_known = np.isin(cat, known)
    void = cat == -1
    if gt:
        void |= ~is_known
    else:
        bad = ~(is_known | void)
        if bad.any():
            c = int(cat[bad][0])
            raise InputError(f"predicted category {c} is not in categories (-1 marks VOID)", image_id=image_id)
    if (inst[~void] < 0).any():
        raise ValueError(f"{what}: instance ids must be >= 0")
    thing_ids = np.array([c.id for c in cats.values() if c.isthing], np.int64)
    inst = np.where(np.isin(cat, thing_ids), inst, 0)  # stuff: one segment per category
    key = np.where(void, -1, cat * (int(inst.max(initial=0)) + 1) + inst)
    u, inv = np.unique(key, return_inverse=True)
    first = 1 if u.size and u[0] == -1 else 0
    if u.size - first >= MAX_ID:
        raise ValueError(f"{what}: more than 2**24 - 1 segments")
    new = np.arange(u.size, dtype=np.int64) + (1 - first)
    ids = new[inv.reshape(key.shape)].astype(np.uint32)
    flat_cat, flat_key = cat.ravel(), key.ravel()
    counts = np.bincount(inv.ravel(), minlength=u.size)
    pos = np.zeros(u.size, np.int64)
    pos[inv.ravel()] = np.arange(flat_key.size)  # any pixel of each segment
    segs = [(int(new[j]), int(flat_cat[pos[j]]), int(counts[j]), 0) for j in range(first, u.size)]
    return ids, segs


def _divisor(a: np.ndarray, div: int, what: str) -> tuple[np.ndarray, list]:
    """detectron2's ``category * label_divisor + instance`` (-1 = VOID) -> ids ``label + 1``."""
    if a.ndim != 2:
        raise ValueError(f"{what}: label_divisor labels must be (H, W), got shape {a.shape}")
    a = a.astype(np.int64)
    if a.size and (int(a.min()) < -1 or int(a.max()) >= MAX_ID - 1):
        bad = int(a.min()) if int(a.min()) < -1 else int(a.max())
        raise ValueError(f"{what}: label {bad} is out of range (-1 = VOID; label + 1 must be < 2**24)")
    labels, counts = np.unique(a, return_counts=True)
    segs = [(lab + 1, lab // div, n, 0) for lab, n in zip(labels.tolist(), counts.tolist()) if lab != -1]
    return (a + 1).astype(np.uint32), segs


class PanopticEvaluator:
    """PQ / SQ / RQ of predictions against GT given as arrays, ``==`` panopticapi's
    ``pq_compute`` (one process) on the same data written as files. No file is written.

    ``categories``: the GT's categories (Category objects or COCO dicts with ``id``,
    ``name``, ``isthing``), in the order panopticapi would read them (it fixes the means).
    ``image_order``: optional image ids in the GT JSON's order (the IoU summation order;
    default: ascending image id). ``metrics``: any of ``"pq"``, ``"boundary"`` (Boundary PQ,
    bands ``dilation_ratio`` of the image diagonal wide) and ``"pq-dagger"`` (PQ†). The input
    layouts and the merge rules are in the module docstring and docs/evaluation.md.

    >>> import numpy as np
    >>> ev = PanopticEvaluator([{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "sky", "isthing": 0}])
    >>> gt = np.stack([np.array([[1, 1, 2, 2]]), np.array([[0, 0, 0, 7]])], -1)   # (category, instance)
    >>> pred = np.stack([np.array([[1, 1, 2, 2]]), np.array([[3, 3, 0, 0]])], -1)
    >>> ev.update(pred, None, gt, None, image_ids=[5])
    >>> ev.compute().result.all.pq, ev.n_images
    (1.0, 1)
    >>> ev = PanopticEvaluator([{"id": 1, "name": "person", "isthing": 1}], metrics=("pq", "boundary"))
    >>> ids = np.zeros((20, 20), np.uint32); ids[4:16, 4:16] = 1
    >>> segs = [{"id": 1, "category_id": 1}]
    >>> ev.update(ids, segs, ids, segs)
    >>> res = ev.compute()                                   # an Evaluation: one result per metric
    >>> res.metrics, res["boundary"].result.all.pq
    (('pq', 'boundary'), 1.0)
    """

    def __init__(
        self,
        categories: Any,
        *,
        image_order: Iterable[Any] | None = None,
        metrics: Any = ("pq",),
        dilation_ratio: float = DILATION_RATIO,
    ) -> None:
        self.categories = as_categories(categories)
        self.metrics = as_metrics(metrics)
        dilation_pixels(1, 1, dilation_ratio)  # checks the ratio (> 0)
        self.dilation_ratio = float(dilation_ratio)
        self.image_order = None if image_order is None else list(image_order)
        self._position = None if self.image_order is None else {i: k for k, i in enumerate(self.image_order)}
        if self._position is not None and len(self._position) != len(self.image_order):
            raise ValueError("image_order lists an image id twice")
        self._known = frozenset(self.categories)
        self._images: dict[Any, dict[str, PQStats]] = {}  # image id -> metric -> statistics
        self._next = 0

    @property
    def n_images(self) -> int:
        return len(self._images)

    def reset(self) -> None:
        """Forget every image seen."""
        self._images.clear()
        self._next = 0

    # ------------------------------------------------------------------ update

    def update(
        self,
        pred_ids: Any,
        pred_segments: Any,
        gt_ids: Any,
        gt_segments: Any,
        *,
        image_ids: Sequence[Any] | None = None,
        label_divisor: int | None = None,
    ) -> None:
        """Add one image or a batch (prediction first, as torchmetrics has it).

        Each side is an id map with its ``segments_info`` list, a ``(H, W, 2)`` (category,
        instance) array with ``None``, or, with ``label_divisor``, ``(H, W)`` detectron2
        labels with ``None``. A batch: lists, or arrays with a leading batch axis.
        ``image_ids``: one per image (default: 0, 1, 2, ... in the order seen). Raises
        TypeError / ValueError for a malformed argument, :class:`~rapkit.errors.InputError`
        (image and segment named) for data panopticapi would reject; nothing is added then.
        """
        if label_divisor is not None and (
            isinstance(label_divisor, bool) or int(label_divisor) != label_divisor or label_divisor < 1
        ):
            raise ValueError(f"label_divisor must be a positive integer, got {label_divisor!r}")
        preds = self._batch(pred_ids, pred_segments, label_divisor, "pred")
        gts = self._batch(gt_ids, gt_segments, label_divisor, "gt")
        if len(preds) != len(gts):
            raise ValueError(f"{len(preds)} predicted image(s) but {len(gts)} GT image(s)")
        if image_ids is None:
            image_ids = list(range(self._next, self._next + len(gts)))
        else:
            # numpy scalars and 0-d tensors become Python values (hashable, comparable, JSON-able)
            image_ids = [i.item() if hasattr(i, "item") and not isinstance(i, (str, bytes)) else i for i in image_ids]
            if len(image_ids) != len(gts):
                raise ValueError(f"{len(image_ids)} image_ids for {len(gts)} image(s)")
        if len(set(image_ids)) != len(image_ids):
            raise ValueError("image_ids lists an image twice")
        for i in image_ids:
            if i in self._images:
                raise ValueError(f"image {i!r} was already added (give each image its own id)")
            if self._position is not None and i not in self._position:
                raise ValueError(f"image {i!r} is not in image_order")
        boundary = "boundary" in self.metrics
        if boundary:
            from ..kernels.boundary import band_pair_keys  # numba: loaded when Boundary PQ runs
        else:
            from ..kernels.pq import pair_keys_maps  # numba: loaded when PQ runs, not on import

        new = {}
        for (p, ps), (g, gs), iid in zip(preds, gts, image_ids):
            p_ids, p_segs = self._side(p, ps, label_divisor, False, "pred", iid)
            g_ids, g_segs = self._side(g, gs, label_divisor, True, "gt", iid)
            if p_ids.shape != g_ids.shape:
                raise ValueError(f"image {iid!r}: prediction {p_ids.shape} and GT {g_ids.shape} differ in shape")
            band = None
            if boundary:  # the band pair keys; their flags folded are PQ's pair histogram
                d = dilation_pixels(g_ids.shape[0], g_ids.shape[1], self.dilation_ratio)
                hist, band = band_counts(*band_pair_keys(np.ascontiguousarray(g_ids), np.ascontiguousarray(p_ids), d))
            else:
                keys, counts = pair_keys_maps(g_ids, p_ids)  # numba: the (GT id, predicted id) pixel counts
                hist = PairHistogram.from_keys(keys, counts, g_ids.shape)
            g_segs = _check_ids(_areas(hist.gt, hist.count), g_segs, True, iid)
            p_segs = _check_ids(_areas(hist.pred, hist.count), p_segs, False, iid)
            new[iid] = {m: self._metric_stats(m, hist, band, g_segs, p_segs, iid) for m in self.metrics}
        self._images.update(new)
        ints = [i for i in image_ids if isinstance(i, int)]
        self._next = max([self._next, *(i + 1 for i in ints)])

    def _metric_stats(self, m: str, hist: PairHistogram, band: Any, g_segs: list, p_segs: list, iid: Any) -> PQStats:
        if m == "pq-dagger":
            return pq_dagger_stats(hist, g_segs, p_segs, self.categories, image_id=iid)
        return pq_stats(hist, g_segs, p_segs, self._known, image_id=iid, band=band if m == "boundary" else None)

    def _batch(self, ids: Any, segs: Any, div: int | None, what: str) -> list[tuple[Any, Any]]:
        single_ndim = 3 if segs is None and div is None else 2
        if isinstance(ids, (list, tuple)):
            maps = list(ids)
            seg_list = [None] * len(maps) if segs is None else segs
        else:
            a = _array(ids, f"{what}_ids")
            if a.ndim == single_ndim:
                return [(a, segs)]
            if single_ndim == 3 and a.ndim == 2:
                raise ValueError(
                    f"{what}_ids: without segments the map must be (H, W, 2) (category, instance), "
                    f"or (H, W) with label_divisor; got shape {a.shape}"
                )
            if a.ndim != single_ndim + 1:
                layout = "(H, W, 2) (category, instance)" if single_ndim == 3 else "(H, W)"
                raise ValueError(f"{what}_ids must be {layout} or a batch of them, got shape {a.shape}")
            maps = list(a)
            seg_list = [None] * len(maps) if segs is None else segs
        if not isinstance(seg_list, Sequence) or len(seg_list) != len(maps):
            raise ValueError(f"a batch of {len(maps)} {what} map(s) needs one segments list per map")
        return list(zip(maps, seg_list))

    def _side(self, ids: Any, segs: Any, div: int | None, gt: bool, what: str, iid: Any) -> tuple[np.ndarray, list]:
        a = _array(ids, f"{what}_ids")
        if segs is not None:
            return _coco(a, segs, f"image {iid!r} {what}")
        if div is not None:
            return _divisor(a, int(div), f"image {iid!r} {what}")
        if a.ndim != 3 or a.shape[-1] != 2:
            raise ValueError(
                f"image {iid!r} {what}: without segments the map must be (H, W, 2) (category, instance), "
                f"or (H, W) with label_divisor; got shape {a.shape}"
            )
        return _pairs(a, self.categories, gt, f"image {iid!r} {what}", iid)

    # ------------------------------------------------------------------ results

    def _key(self, iid: Any) -> Any:
        if self._position is not None:
            return self._position[iid]
        return (isinstance(iid, str), iid)

    def stats(self, metric: str | None = None) -> tuple[PQStats, list[PQStats]]:
        """``(merged statistics, one per image)`` of ``metric`` (default: the first of
        ``metrics``), images in summation order."""
        metric = self.metrics[0] if metric is None else metric
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} is not among this evaluator's metrics {self.metrics}")
        singles = []
        for k, iid in enumerate(sorted(self._images, key=self._key)):
            st = self._images[iid][metric]
            n = st.iou.size
            singles.append(
                PQStats(st.tp, st.fp, st.fn, np.full(n, k, np.int64), st.rank, st.category, st.iou,
                        np.array([k], np.int64), [iid])
            )  # fmt: skip
        return merge_stats(singles), singles

    def compute(self) -> PQEvaluation | Evaluation:
        """All / Things / Stuff, per class, per image (fractions): a :class:`PQEvaluation`
        (``.to_frame()``, ``.class_frame()``, ``.image_frame()``, ``.to_dict()``) for the
        default ``metrics=("pq",)``; else an :class:`~rapkit.core.pq_evaluation.Evaluation`
        holding one per metric (``res["boundary"]``; ``.to_frame()`` side by side)."""
        out = {}
        for m in self.metrics:
            stats, singles = self.stats(m)
            out[m] = PQEvaluation(
                summarize(stats, self.categories), stats, self.categories, stats.n_images, per_image=singles, metric=m
            )
        return out["pq"] if self.metrics == ("pq",) else Evaluation(out)

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """The sufficient statistics as plain JSON-friendly data (exact: IoUs are floats)."""
        return {
            "version": STATE_VERSION,
            "categories": [c.to_json() for c in self.categories.values()],
            "image_order": self.image_order,
            "metrics": list(self.metrics),
            "dilation_ratio": self.dilation_ratio,
            "images": [[iid, {m: st.to_dict() for m, st in by.items()}] for iid, by in self._images.items()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> PanopticEvaluator:
        """An evaluator holding what :meth:`state` saved (its metrics too)."""
        _check_version(state)
        ev = cls(
            state["categories"],
            image_order=state.get("image_order"),
            metrics=state["metrics"],
            dilation_ratio=state["dilation_ratio"],
        )
        ev.merge(state)
        return ev

    def merge(self, other: PanopticEvaluator | Mapping[str, Any]) -> PanopticEvaluator:
        """Add the images of another evaluator (or of a :meth:`state`); returns self. Both
        must have the same categories, image_order, metrics and dilation_ratio, and no image
        in common. The result is the same, bit for bit, whatever the order of the merges."""
        if isinstance(other, PanopticEvaluator):
            cats, order, images = other.categories, other.image_order, list(other._images.items())
            metrics, ratio = other.metrics, other.dilation_ratio
        else:
            _check_version(other)
            cats = as_categories(other["categories"])
            order = other.get("image_order")
            metrics, ratio = tuple(other["metrics"]), float(other["dilation_ratio"])
            images = [
                (iid if not isinstance(iid, list) else tuple(iid), {m: PQStats.from_dict(d) for m, d in by.items()})
                for iid, by in other["images"]
            ]
        if metrics != self.metrics:
            raise ValueError(f"cannot merge evaluators of different metrics: {metrics} and {self.metrics}")
        if "boundary" in metrics and ratio != self.dilation_ratio:
            raise ValueError(f"cannot merge evaluators of different dilation_ratio: {ratio} and {self.dilation_ratio}")
        if [(c.id, c.isthing) for c in cats.values()] != [(c.id, c.isthing) for c in self.categories.values()]:
            raise ValueError("cannot merge evaluators of different categories")
        if (None if order is None else list(order)) != self.image_order:
            raise ValueError("cannot merge evaluators of different image_order")
        twice = [iid for iid, _ in images if iid in self._images]
        if twice:
            raise ValueError(f"image {twice[0]!r} is in both evaluators (give each image its own id)")
        self._images.update(images)
        ints = [i for i, _ in images if isinstance(i, int)]
        self._next = max([self._next, *(i + 1 for i in ints)])
        return self


def _check_version(state: Mapping[str, Any]) -> None:
    v = state.get("version")
    if v != STATE_VERSION:
        why = "from an older rapkit (PQ only)" if v == 1 else "unknown"
        raise ValueError(
            f"evaluator state version {v!r} is {why}; this rapkit reads version {STATE_VERSION}: "
            "compute the state again with this version"
        )


__all__ = ["PanopticEvaluator", "as_categories", "as_metrics"]
