"""Boundary PQ (Cheng et al., *Boundary IoU*, CVPR 2021), per image, as boundary-iou-api's
``coco_panoptic_api`` computes it.

Every segment gets a boundary band: its pixels within ``d`` pixels (Chebyshev distance) of
another id or of the image border, ``d = max(1, round(dilation_ratio * image diagonal))``
(:func:`dilation_pixels`; boundary-iou-api erodes each binary mask ``d`` times with a 3x3
square). A (GT, predicted) pair of one category is matched when
``min(mask IoU, boundary IoU) > 0.5``, and that minimum is the pair's IoU in SQ and PQ.
The boundary IoU is ``|Bg & Bp| / (|Bg| + |Bp| - |Bg & Bp| - |Bp on GT void|)``; everything
else (crowd, void, the unmatched predictions ignored when over half VOID or crowd, GT area
from the JSON) is PQ's, :func:`rapkit.core.pq.pq_stats`. The result is a
:class:`~rapkit.types.PQStats`: it merges and :func:`~rapkit.core.pq.summarize`\\ s like PQ's.

* :func:`boundary_stats` — one image from its two id maps and segments (what an in-memory
  evaluator calls);
* :func:`boundary_stats_keys` — the same from the counted pixel keys of
  :func:`rapkit.kernels.boundary.band_pair_keys` (what ``rapkit evaluate --metric boundary``
  calls);
* :func:`band_counts` — those keys as PQ's pair histogram plus the band areas and
  intersections (:class:`BandCounts`).

One documented difference: boundary-iou-api marks eroded interiors in its boundary maps with
the id ``max category id + 1``; a segment whose own id equals that number gets those marks
counted as its pixels there. rapkit computes every band from the id map as it is.

>>> import numpy as np
>>> from rapkit.types import Category, Segment
>>> from rapkit.core.pq import pq_stats
>>> cats = {1: Category(1, "a", True)}
>>> gt = np.zeros((8, 8), np.uint32); gt[1:7, 1:7] = 1      # a 6x6 square
>>> pred = np.zeros((8, 8), np.uint32); pred[1:7, 2:8] = 1  # the same, one pixel to the right
>>> segs = [Segment(1, 1, 36, (1, 1, 6, 6))]
>>> pq_stats(gt, segs, segs, cats, pred_map=pred).iou        # mask IoU 30 / (36 + 36 - 30 - 6 on VOID)
array([0.83333333])
>>> st = boundary_stats(gt, segs, segs, cats, pred, dilation_ratio=0.1)   # d = 1: bands of 20 px
>>> st.tp, st.fp, st.fn                                      # boundary IoU 10 / (20 + 20 - 10 - 6) < 0.5
({}, {1: 1}, {1: 1})
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import PQStats, Segment
from .pq import PairHistogram, pq_stats

DILATION_RATIO = 0.02
_MASK_INT = (1 << 48) - 1
_GT_BAND_INT = 1 << 48
_PRED_BAND_INT = 1 << 49

__all__ = [
    "DILATION_RATIO",
    "BandCounts",
    "band_counts",
    "boundary_stats",
    "boundary_stats_keys",
    "dilation_pixels",
]


def dilation_pixels(height: int, width: int, dilation_ratio: float = DILATION_RATIO) -> int:
    """The band width in pixels, as boundary-iou-api's ``mask_to_boundary``:
    ``max(1, round(dilation_ratio * sqrt(h**2 + w**2)))`` (round half to even).

    >>> dilation_pixels(480, 640), dilation_pixels(48, 64)
    (16, 2)
    """
    if not dilation_ratio > 0:
        raise ValueError(f"dilation_ratio must be > 0, got {dilation_ratio}")
    d = int(round(dilation_ratio * float(np.sqrt(height**2 + width**2))))
    return max(d, 1)


@dataclass
class BandCounts:
    """The band pixels of one image: band area of every GT id (``gt_area``) and predicted id
    (``pred_area``), band intersection of every (GT id, predicted id) pair (``inter``), and
    band pixels of every predicted id on GT VOID (``void``)."""

    gt_area: dict[int, int]
    pred_area: dict[int, int]
    inter: dict[tuple[int, int], int]
    void: dict[int, int]

    def iou(self, g: int, p: int) -> float:
        """Boundary IoU of GT segment ``g`` and predicted segment ``p`` (as boundary-iou-api:
        predicted band pixels on GT VOID left out of the union)."""
        i = self.inter.get((g, p), 0)
        union = self.pred_area.get(p, 0) + self.gt_area.get(g, 0) - i - self.void.get(p, 0)
        if union == 0:  # numpy's division in the reference (an id absent from its map)
            return math.inf if i else math.nan
        return i / union


def band_counts(keys: np.ndarray, counts: np.ndarray) -> tuple[PairHistogram, BandCounts]:
    """PQ's pair histogram and the :class:`BandCounts` of one image from the keys of
    :func:`rapkit.kernels.boundary.band_pair_keys` (``gt * 2**24 + pred``, bit 48 the GT
    band, bit 49 the predicted band) and their counts (one pass over the few hundred keys
    of an image)."""
    pair: dict[int, int] = {}
    g_area: dict[int, int] = {}
    p_area: dict[int, int] = {}
    inter: dict[tuple[int, int], int] = {}
    void: dict[int, int] = {}
    for k, n in zip(np.asarray(keys, np.uint64).tolist(), np.asarray(counts, np.int64).tolist()):
        m = k & _MASK_INT
        pair[m] = pair.get(m, 0) + n
        g = m >> 24
        if k & _GT_BAND_INT:
            g_area[g] = g_area.get(g, 0) + n
        if k & _PRED_BAND_INT:
            p = m & 0xFFFFFF
            p_area[p] = p_area.get(p, 0) + n
            if k & _GT_BAND_INT:
                inter[(g, p)] = inter.get((g, p), 0) + n
            if g == 0:
                void[p] = void.get(p, 0) + n
    mk = sorted(pair)
    hist = PairHistogram(
        np.array([m >> 24 for m in mk], np.uint32),
        np.array([m & 0xFFFFFF for m in mk], np.uint32),
        np.array([pair[m] for m in mk], np.int64),
    )
    return hist, BandCounts(g_area, p_area, inter, void)


def boundary_stats_keys(
    keys: np.ndarray,
    counts: np.ndarray,
    gt_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    pred_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    categories: Mapping[int, Any] | Iterable[Any] | frozenset[int],
    *,
    image_id: Any = None,
    order: int = 0,
) -> PQStats:
    """Boundary PQ statistics of one image from its band pair keys and counts (see
    :func:`band_counts`); segments, categories, ``image_id`` and ``order`` as in
    :func:`rapkit.core.pq.pq_stats`, which raises the same errors."""
    hist, band = band_counts(keys, counts)
    return pq_stats(hist, gt_segments, pred_segments, categories, image_id=image_id, order=order, band=band)


def boundary_stats(
    gt_map: np.ndarray,
    gt_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    pred_segments: Sequence[Segment | Mapping[str, Any] | tuple],
    categories: Mapping[int, Any] | Iterable[Any] | frozenset[int],
    pred_map: np.ndarray,
    *,
    dilation_ratio: float = DILATION_RATIO,
    image_id: Any = None,
    order: int = 0,
    fast: bool = True,
) -> PQStats:
    """Boundary PQ statistics of one image from its GT and predicted (H, W) id maps and their
    segments (arguments as :func:`rapkit.core.pq.pq_stats`); the bands are counted by the
    numba kernel (``fast``) or its numpy twin. Merge and :func:`~rapkit.core.pq.summarize`
    the results like PQ's.

    >>> from rapkit.core.pq import summarize
    >>> from rapkit.types import Category
    >>> cats = {1: Category(1, "a", True)}
    >>> ids = np.zeros((20, 20), np.uint32); ids[4:16, 4:16] = 7
    >>> segs = [(7, 1, 144, 0)]                   # (id, category_id, area, iscrowd)
    >>> st = boundary_stats(ids, segs, segs, cats, ids, image_id=1)
    >>> summarize(st, cats).all.pq
    1.0
    """
    g = np.ascontiguousarray(gt_map, dtype=np.uint32)
    p = np.ascontiguousarray(pred_map, dtype=np.uint32)
    if g.shape != p.shape or g.ndim != 2:
        raise InputError(f"GT and prediction differ in size: GT {g.shape}, prediction {p.shape}", image_id=image_id)
    d = dilation_pixels(g.shape[0], g.shape[1], dilation_ratio)
    if fast:
        from ..kernels.boundary import band_pair_keys  # numba: loaded when Boundary PQ runs

        keys, counts = band_pair_keys(g, p, d)
    else:
        from ..kernels._reference_boundary import ref_band_pair_keys

        keys, counts = ref_band_pair_keys(g, p, d)
    return boundary_stats_keys(keys, counts, gt_segments, pred_segments, categories, image_id=image_id, order=order)
