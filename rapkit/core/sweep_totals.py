"""Running PQ totals of a sweep's settings, fed one image at a time in GT order
(:class:`StatsTotals` for one setting, :class:`GridTotals` for a whole grid, from the
per-image :class:`GridImage` of :func:`rapkit.core.sweep.image_grid_counts`): a few numbers
per category and setting however many images pass, summing to the same floats as the
merged per-image statistics."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..types import PQStats


@dataclass
class GridImage:
    """One image's PQ statistics for every setting of a grid, as arrays: ``group[s]`` the
    outcome of setting ``s``; per outcome ``d`` the TP/FP/FN per category index (rows of
    ``tp``/``fp``/``fn``) and the matched pairs ``pair_ptr[d]:pair_ptr[d+1]`` of
    ``pair_cat``/``pair_iou`` in the order panopticapi adds them. Fed to
    :meth:`GridTotals.add_image`."""

    position: int
    image_id: Any
    group: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    pair_ptr: np.ndarray
    pair_cat: np.ndarray
    pair_iou: np.ndarray


class StatsTotals:
    """Running PQ statistics of one setting, fed image by image in GT order (positions
    increasing): counts per category and, per category, the IoUs added one after the other
    as panopticapi (and :func:`rapkit.core.pq.summarize`) adds them, so memory stays a few
    numbers per category however many images pass. :meth:`to_stats` gives a
    :class:`PQStats` that :func:`~rapkit.core.pq.summarize` turns into exactly the result of
    the merged per-image statistics (one IoU entry per category: its running sum).

    >>> from rapkit.core.pq import merge_stats, summarize
    >>> from rapkit.types import Category
    >>> a = PQStats(tp={1: 1}, order=np.array([0]), rank=np.array([0]), category=np.array([1]),
    ...             iou=np.array([0.1]), orders=np.array([0]))
    >>> b = PQStats(tp={1: 1}, order=np.array([1]), rank=np.array([0]), category=np.array([1]),
    ...             iou=np.array([0.7]), orders=np.array([1]))
    >>> t = StatsTotals()
    >>> t.add(a); t.add(b)
    >>> cats = {1: Category(1, "a", True)}
    >>> summarize(t.to_stats(), cats) == summarize(merge_stats([a, b]), cats)
    True
    """

    __slots__ = ("tp", "fp", "fn", "iou", "orders", "image_ids", "_last")

    def __init__(self) -> None:
        self.tp: dict[int, int] = {}
        self.fp: dict[int, int] = {}
        self.fn: dict[int, int] = {}
        self.iou: dict[int, float] = {}
        self.orders = array("q")
        self.image_ids: list = []
        self._last = -1

    def add(self, st: PQStats) -> None:
        """Fold in the statistics of the next image(s) (positions above every one so far)."""
        orders = st.orders.tolist()
        if orders and min(orders) <= self._last:
            raise ValueError("StatsTotals takes images in increasing position order")
        for src, dst in ((st.tp, self.tp), (st.fp, self.fp), (st.fn, self.fn)):
            for c, v in src.items():
                dst[c] = dst.get(c, 0) + v
        cat, iou = st.category, st.iou
        if len(orders) > 1:  # several images: their pairs in (position, rank) order
            idx = np.lexsort((st.rank, st.order))
            cat, iou = cat[idx], iou[idx]
        sums = self.iou
        for c, v in zip(cat.tolist(), iou.tolist()):
            sums[c] = sums[c] + v if c in sums else v
        if orders:
            self._last = max(orders)
        self.orders.extend(orders)
        self.image_ids.extend(st.image_ids)

    def to_stats(self) -> PQStats:
        """The totals as :class:`PQStats` (one IoU entry per category, its running sum)."""
        cats = list(self.iou)
        n = len(cats)
        return PQStats(
            tp=dict(self.tp),
            fp=dict(self.fp),
            fn=dict(self.fn),
            order=np.zeros(n, np.int64),
            rank=np.arange(n, dtype=np.int64),
            category=np.asarray(cats, np.int64).reshape(n),
            iou=np.asarray([self.iou[c] for c in cats], np.float64).reshape(n),
            orders=np.frombuffer(self.orders, np.int64).copy() if self.orders else np.zeros(0, np.int64),
            image_ids=list(self.image_ids),
        )


class GridTotals:
    """:class:`StatsTotals` of every setting of a grid at once, fed one image at a time with
    the list :func:`image_stats_grid` returns: settings that share a statistics object are
    folded together in one kernel call (:func:`rapkit.kernels.sweep.add_grid`), with the
    same float additions in the same order as one :class:`StatsTotals` per setting.

    >>> a = PQStats(tp={1: 1}, order=np.array([0]), rank=np.array([0]), category=np.array([1]),
    ...             iou=np.array([0.75]), orders=np.array([0]), image_ids=[7])
    >>> t = GridTotals(2)
    >>> t.add([a, a])
    >>> one = StatsTotals(); one.add(a)
    >>> t.to_stats(1).iou.tolist() == one.to_stats().iou.tolist(), t.to_stats(0).tp
    (True, {1: 1})
    """

    def __init__(self, n_settings: int, cat_ids: Sequence[int] = ()) -> None:
        self.n = int(n_settings)
        self._index: dict[int, int] = {}  # category id -> column
        self._cats: list[int] = []
        self._alloc(max(16, len(cat_ids)))
        for c in cat_ids:  # columns = the category indices of :class:`GTArrays`
            self._col(int(c))
        self.orders = array("q")
        self.image_ids: list = []
        self._last = -1

    def _alloc(self, cols: int) -> None:
        old = getattr(self, "tp", None)
        new = [np.zeros((self.n, cols), np.int64) for _ in range(3)] + [
            np.zeros((self.n, cols), np.float64),
            np.zeros((self.n, cols), np.bool_),
        ]
        if old is not None:
            for a, b in zip(new, (self.tp, self.fp, self.fn, self.iou, self.has)):
                a[:, : b.shape[1]] = b
        self.tp, self.fp, self.fn, self.iou, self.has = new

    def _col(self, c: int) -> int:
        k = self._index.get(c)
        if k is None:
            k = self._index[c] = len(self._cats)
            self._cats.append(c)
            if k >= self.tp.shape[1]:
                self._alloc(2 * self.tp.shape[1])
        return k

    def add(self, stats: Sequence[PQStats]) -> None:
        """Fold in the next image's statistics, one per setting (positions increasing)."""
        from ..kernels.sweep import add_grid

        if len(stats) != self.n:
            raise ValueError(f"{len(stats)} statistics for {self.n} settings")
        groups: dict[int, list[int]] = {}
        distinct: list[PQStats] = []
        for s, st in enumerate(stats):
            members = groups.get(id(st))
            if members is None:
                members = groups[id(st)] = []
                distinct.append(st)
            members.append(s)
        orders = distinct[0].orders.tolist() if distinct else []
        if any(st.orders.tolist() != orders for st in distinct):
            raise ValueError("GridTotals takes one image (or run of images) for every setting at a time")
        if orders and min(orders) <= self._last:
            raise ValueError("GridTotals takes images in increasing position order")
        members_ptr, members = [0], []
        cnt_ptr, cnt_cat, cnt = [0], [], ([], [], [])
        pair_ptr, pair_cat, pair_iou = [0], [], []
        col = self._col
        for st in distinct:
            members += groups[id(st)]
            members_ptr.append(len(members))
            for c in dict.fromkeys([*st.tp, *st.fp, *st.fn]):
                cnt_cat.append(col(c))
                for src, dst in zip((st.tp, st.fp, st.fn), cnt):
                    dst.append(src.get(c, 0))
            cnt_ptr.append(len(cnt_cat))
            cat, iou = st.category, st.iou
            if len(orders) > 1:  # several images: their pairs in (position, rank) order
                o = np.lexsort((st.rank, st.order))
                cat, iou = cat[o], iou[o]
            pair_cat += [col(c) for c in cat.tolist()]
            pair_iou += iou.tolist()
            pair_ptr.append(len(pair_cat))
        i64 = lambda v: np.asarray(v, np.int64)  # noqa: E731
        add_grid(
            self.tp, self.fp, self.fn, self.iou, self.has,
            i64(members_ptr), i64(members), i64(cnt_ptr), i64(cnt_cat), i64(cnt[0]), i64(cnt[1]), i64(cnt[2]),
            i64(pair_ptr), i64(pair_cat), np.asarray(pair_iou, np.float64),
        )  # fmt: skip
        if orders:
            self._last = max(orders)
        self.orders.extend(orders)
        if distinct:
            self.image_ids.extend(distinct[0].image_ids)

    def add_image(self, gi: GridImage) -> None:
        """Fold in the next image given as :class:`GridImage` (category indices = the
        ``cat_ids`` this object was made with)."""
        from ..kernels.sweep import add_grid

        if gi.group.size != self.n:
            raise ValueError(f"{gi.group.size} settings in the image, {self.n} in the totals")
        if gi.position <= self._last:
            raise ValueError("GridTotals takes images in increasing position order")
        nd = gi.tp.shape[0]
        members = np.argsort(gi.group, kind="stable")
        members_ptr = np.zeros(nd + 1, np.int64)
        np.cumsum(np.bincount(gi.group, minlength=nd), out=members_ptr[1:])
        d, c = np.nonzero((gi.tp != 0) | (gi.fp != 0) | (gi.fn != 0))
        cnt_ptr = np.zeros(nd + 1, np.int64)
        np.cumsum(np.bincount(d, minlength=nd), out=cnt_ptr[1:])
        add_grid(
            self.tp, self.fp, self.fn, self.iou, self.has,
            members_ptr, members.astype(np.int64), cnt_ptr, c.astype(np.int64),
            gi.tp[d, c], gi.fp[d, c], gi.fn[d, c], gi.pair_ptr, gi.pair_cat.astype(np.int64), gi.pair_iou,
        )  # fmt: skip
        self._last = gi.position
        self.orders.append(gi.position)
        self.image_ids.append(gi.image_id)

    def to_stats(self, s: int) -> PQStats:
        """Setting ``s``'s totals as :class:`PQStats` (one IoU entry per category, its sum)."""
        cols = range(len(self._cats))
        tp, fp, fn, has = self.tp[s].tolist(), self.fp[s].tolist(), self.fn[s].tolist(), self.has[s]
        cats = [self._cats[k] for k in cols if has[k]]
        n = len(cats)
        return PQStats(
            tp={self._cats[k]: tp[k] for k in cols if tp[k]},
            fp={self._cats[k]: fp[k] for k in cols if fp[k]},
            fn={self._cats[k]: fn[k] for k in cols if fn[k]},
            order=np.zeros(n, np.int64),
            rank=np.arange(n, dtype=np.int64),
            category=np.asarray(cats, np.int64).reshape(n),
            iou=np.asarray([self.iou[s, self._index[c]] for c in cats], np.float64).reshape(n),
            orders=np.frombuffer(self.orders, np.int64).copy() if self.orders else np.zeros(0, np.int64),
            image_ids=list(self.image_ids),
        )
