"""PQ of many images from their segments as arrays and their pair histograms.

What ``rapkit evaluate`` runs per image, whichever decoder read the PNGs: a
:class:`PairTable` holds the GT and predicted segments of the images to evaluate (from
:class:`~rapkit.io.panoptic.SegmentArrays`, both in GT order, categories numbered), and a
:class:`ChunkStats` matches one image after the other from its pair histogram with the
numba kernel :func:`rapkit.kernels.pq_match.match_image`, gathering one
:class:`~rapkit.types.PQStats` per chunk of images (and one per image when asked).

**The one fallback.** :func:`rapkit.core.pq.pq_stats` (the readable Python matcher, equal
to the kernel on every image: ``tests/kernels/test_pq_match.py``) takes an image over when

1. the kernel declines it: the image has a problem panopticapi would crash on (a predicted
   id missing from the JSON or from the PNG, an unknown predicted category, duplicate
   segment ids); ``pq_stats`` words the precise error (image id, segment id);
2. its segments hold a value the int64 arrays cannot carry exactly (an id beyond int64, an
   area of magnitude 2**52 or more: ``SegmentArrays.exact``); Python's integers can.

Either way the statistics are the same as the kernel's would be; :func:`_python_image` is
the only place this happens.

>>> import numpy as np
>>> from rapkit.io.panoptic import SegmentArrays
>>> one = lambda *v: np.array(v, np.int64)
>>> seg = SegmentArrays([7], ["7.png"], one(0, 1), one(5), one(1), one(4), one(0))
>>> table = PairTable.build(seg, seg, one(0), {1: None})
>>> acc = ChunkStats(table, keep=False)
>>> acc.add(0, 0, 7, np.array([(5 << 24) | 5], np.uint64), one(4))
>>> acc.result()[0].tp
{1: 1}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..types import PQStats, merge_stats
from .pq import PairHistogram, pq_stats


@dataclass
class PairTable:
    """GT and predicted segments of the images to evaluate, image ``j`` of both at the same
    index (GT order), as flat arrays with offsets; categories numbered ``0..C-1``
    (``cat_ids``, sorted; ``known[c]``: a category of the GT's list). ``python[j]``: the
    ``(GT, predicted)`` segment tuples of an image whose values the arrays do not hold
    (see the module docstring)."""

    cat_ids: np.ndarray
    known: np.ndarray
    g_off: np.ndarray
    g_id: np.ndarray
    g_cat: np.ndarray
    g_area: np.ndarray
    g_crowd: np.ndarray
    p_off: np.ndarray
    p_id: np.ndarray
    p_cat: np.ndarray
    python: dict[int, tuple[list, list]] = field(default_factory=dict)

    @classmethod
    def build(cls, g: Any, p: Any, p_rows: np.ndarray, categories: Mapping[int, Any]) -> PairTable:
        """From the GT's and the prediction's :class:`~rapkit.io.panoptic.SegmentArrays`:
        every GT image in order, with the prediction's image ``p_rows[k]`` beside GT image ``k``."""
        known_ids = np.fromiter(categories, np.int64, len(categories))
        g_off, gi = _gather(g.offsets, np.arange(len(g.image_ids), dtype=np.int64))
        p_off, pi = _gather(p.offsets, p_rows)
        p_cat = p.category_id[pi]
        every = np.sort(np.concatenate([known_ids, g.category_id, p_cat]))
        cat_ids = every[np.r_[True, every[1:] != every[:-1]]]  # np.unique, without importing numpy.ma
        python = {}
        if g.exact or p.exact:
            for k, r in enumerate(p_rows.tolist()):
                if k in g.exact or r in p.exact:
                    python[k] = (g.segments(k), p.segments(r))
        return cls(
            cat_ids,
            np.isin(cat_ids, known_ids),
            g_off,
            g.id[gi],
            np.searchsorted(cat_ids, g.category_id[gi]),
            g.area[gi],
            g.iscrowd[gi],
            p_off,
            p.id[pi],
            np.searchsorted(cat_ids, p_cat),
            python,
        )

    def chunk(self, k0: int, k1: int) -> PairTable:
        """Images ``k0:k1`` (views; offsets and image indices from 0)."""
        g0, g1, p0, p1 = self.g_off[k0], self.g_off[k1], self.p_off[k0], self.p_off[k1]
        return PairTable(
            self.cat_ids,
            self.known,
            self.g_off[k0 : k1 + 1] - g0,
            self.g_id[g0:g1],
            self.g_cat[g0:g1],
            self.g_area[g0:g1],
            self.g_crowd[g0:g1],
            self.p_off[k0 : k1 + 1] - p0,
            self.p_id[p0:p1],
            self.p_cat[p0:p1],
            {k - k0: v for k, v in self.python.items() if k0 <= k < k1},
        )

    def segments(self, j: int) -> tuple[list, list]:
        """Image ``j``'s GT and predicted segments as ``(id, category_id, area, iscrowd)`` tuples."""
        if j in self.python:
            return self.python[j]
        g0, g1, p0, p1 = self.g_off[j], self.g_off[j + 1], self.p_off[j], self.p_off[j + 1]
        cats = self.cat_ids
        g = zip(
            self.g_id[g0:g1].tolist(),
            cats[self.g_cat[g0:g1]].tolist(),
            self.g_area[g0:g1].tolist(),
            self.g_crowd[g0:g1].tolist(),
        )
        return list(g), [(i, c, 0, 0) for i, c in zip(self.p_id[p0:p1].tolist(), cats[self.p_cat[p0:p1]].tolist())]


def _gather(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and entry index of the images ``rows`` (of arrays with ``offsets``), in that order."""
    lens = offsets[rows + 1] - offsets[rows]
    off = np.zeros(rows.size + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    idx = np.repeat(offsets[rows] - off[:-1], lens) + np.arange(off[-1], dtype=np.int64)
    return off, idx


class ChunkStats:
    """The PQ statistics of a chunk of a :class:`PairTable`'s images, added one image at a
    time (:meth:`add`); :meth:`result` gives their :class:`~rapkit.types.PQStats` and, with
    ``keep``, one per image (in the order added)."""

    def __init__(self, table: PairTable, keep: bool) -> None:
        from ..kernels.pq_match import match_image  # numba: loaded when PQ runs, not on import

        self._match = match_image
        self.t = table
        self.keep = keep
        ncat = table.cat_ids.size
        self._crowd_of = np.full(ncat, -1, np.int64)
        self._tp, self._fp, self._fn = (np.zeros(ncat, np.int64) for _ in range(3))
        self._orders: list[int] = []
        self._ids: list[Any] = []
        self._n_matched: list[int] = []
        self._m_cat: list[np.ndarray] = []
        self._m_iou: list[np.ndarray] = []
        self._python: list[PQStats] = []  # images pq_stats took over
        self._singles: list[PQStats] = []

    def add(self, j: int, order: int, image_id: Any, keys: np.ndarray, counts: np.ndarray) -> None:
        """Image ``j`` of the table, at position ``order`` of the GT, from its pair histogram
        (``keys = gt * 2**24 + pred``, sorted and unique, and their pixel counts). Raises
        :class:`~rapkit.errors.InputError` (image and segment named) for a problem
        panopticapi would crash on."""
        t = self.t
        if j in t.python:
            self._python_image(j, order, image_id, keys, counts)
            return
        ncat = t.cat_ids.size
        mc = np.empty(keys.size, np.int64)
        mi = np.empty(keys.size, np.float64)
        g0, g1, p0, p1 = t.g_off[j], t.g_off[j + 1], t.p_off[j], t.p_off[j + 1]
        own = (np.zeros(ncat, np.int64), np.zeros(ncat, np.int64), np.zeros(ncat, np.int64))
        a = own if self.keep else (self._tp, self._fp, self._fn)
        status, nm = self._match(
            keys,
            counts,
            t.g_id[g0:g1],
            t.g_cat[g0:g1],
            t.g_area[g0:g1],
            t.g_crowd[g0:g1],
            t.p_id[p0:p1],
            t.p_cat[p0:p1],
            t.known,
            a[0],
            a[1],
            a[2],
            self._crowd_of,
            mc,
            mi,
        )
        if status != 0:  # nothing was added
            self._python_image(j, order, image_id, keys, counts)
            return
        if self.keep:
            self._singles.append(_stats(t.cat_ids, *own, [order], [image_id], [nm], [mc[:nm]], [mi[:nm]]))
            return
        self._orders.append(order)
        self._ids.append(image_id)
        self._n_matched.append(nm)
        self._m_cat.append(mc[:nm])
        self._m_iou.append(mi[:nm])

    def _python_image(self, j: int, order: int, image_id: Any, keys: np.ndarray, counts: np.ndarray) -> None:
        # The one fallback (module docstring): the kernel declined the image, or its values
        # are beyond the arrays. pq_stats raises the precise error, or counts the image.
        gseg, pseg = self.t.segments(j)
        known = frozenset(self.t.cat_ids[self.t.known].tolist())
        st = pq_stats(PairHistogram.from_keys(keys, counts), gseg, pseg, known, image_id=image_id, order=order)
        (self._singles if self.keep else self._python).append(st)

    def result(self) -> tuple[PQStats, list[PQStats] | None]:
        """``(statistics of every image added, the per-image statistics or None)``."""
        if self.keep:
            return merge_stats(self._singles), self._singles
        main = _stats(
            self.t.cat_ids,
            self._tp,
            self._fp,
            self._fn,
            self._orders,
            self._ids,
            self._n_matched,
            self._m_cat,
            self._m_iou,
        )
        return (merge_stats([main, *self._python]) if self._python else main), None


def png_chunk_stats(
    table: PairTable, buf: np.ndarray, offs: np.ndarray, orders: list[int], image_ids: list
) -> tuple[PQStats, list[int]] | None:
    """The PQ statistics of all the images of ``table`` at once, from their PNG bytes
    (:func:`rapkit.io.png.read_pair_bytes`; ``orders``/``image_ids`` per image), by one
    call of the chunk kernel :func:`rapkit.kernels.pq_chunk.pq_png_chunk`:
    ``(statistics of the images it counted, the indices of the images it left)``. A left
    image (a PNG the kernel does not read, a problem to word, values beyond the arrays) is
    for :class:`ChunkStats`; merged, the two equal :class:`ChunkStats` over every image.
    None when the kernel cannot run here (libdeflate not callable)."""
    from ..kernels.pq_chunk import pq_png_chunk  # numba: loaded when PQ runs, not on import

    t = table
    ncat = t.cat_ids.size
    status = np.zeros(len(orders), np.int64)
    if t.python:
        status[list(t.python)] = 1
    tp, fp, fn = (np.zeros(ncat, np.int64) for _ in range(3))
    out = pq_png_chunk(buf, offs, t, status, tp, fp, fn, np.full(ncat, -1, np.int64))
    if out is None:
        return None
    n_matched, m_cat, m_iou = out
    done = np.flatnonzero(status == 0)
    left = np.flatnonzero(status).tolist()
    nm = n_matched[done]
    st = _stats(
        t.cat_ids,
        tp,
        fp,
        fn,
        [orders[j] for j in done.tolist()],
        [image_ids[j] for j in done.tolist()],
        nm,
        [m_cat],
        [m_iou],
    )
    return st, left


def _stats(
    cat_ids: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    orders: list[int],
    image_ids: list,
    n_matched: list[int],
    m_cat: list[np.ndarray],
    m_iou: list[np.ndarray],
) -> PQStats:
    """:class:`~rapkit.types.PQStats` from the kernel's outputs: counts per category index,
    and per image (in ``orders``) its matched pairs' category indices and IoUs in rank order."""

    def counts(a: np.ndarray) -> dict[int, int]:
        nz = np.flatnonzero(a)
        return dict(zip(cat_ids[nz].tolist(), a[nz].tolist()))

    nm = np.asarray(n_matched, np.int64)
    total = int(nm.sum())
    starts = np.zeros(nm.size, np.int64)
    np.cumsum(nm[:-1], out=starts[1:])
    return PQStats(
        tp=counts(tp),
        fp=counts(fp),
        fn=counts(fn),
        order=np.repeat(np.asarray(orders, np.int64), nm),
        rank=np.arange(total, dtype=np.int64) - np.repeat(starts, nm),
        category=cat_ids[np.concatenate(m_cat)] if total else np.zeros(0, np.int64),
        iou=np.concatenate(m_iou) if total else np.zeros(0, np.float64),
        orders=np.asarray(orders, np.int64),
        image_ids=list(image_ids),
    )


__all__ = ["ChunkStats", "PairTable", "png_chunk_stats"]
