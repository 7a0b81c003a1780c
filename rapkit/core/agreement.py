"""Where two panoptic results agree, pixel by pixel: pure functions on numpy id maps.

* :func:`segment_categories`: the category map of an id map (segment id -> category id);
* :func:`corresponding_pixels`: the pixels whose A segment and B segment are each other's
  largest overlap;
* :func:`agree_mask` / :func:`differ_mask`: same category and corresponding segments, or not.

``rapkit show compare`` counts and colours these pixels (``differing_pixels``,
``a_right_pixels``, ``b_right_pixels``); they are measurements of two partitions, not
drawing, so they live here and :mod:`rapkit.viz` draws them.

>>> a = np.array([[1, 1, 2]]); b = np.array([[7, 7, 7]])
>>> differ_mask(a, segment_categories(a, {1: 3, 2: 3}), b, segment_categories(b, {7: 3})).tolist()
[[False, False, True]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError


def segment_categories(id_map: np.ndarray, segments: Mapping[int, int], *, image_id: Any = None) -> np.ndarray:
    """The category map of an id map: ``segments`` maps segment id -> category id; VOID
    stays 0. An id in the map but not in ``segments`` is an :class:`InputError`.

    >>> segment_categories(np.array([[0, 5]], np.uint32), {5: 3}).tolist()
    [[0, 3]]
    """
    ids = np.asarray(id_map)
    uniq, inv = np.unique(ids, return_inverse=True)
    cats = np.zeros(uniq.size, np.int64)
    for k, u in enumerate(uniq.tolist()):
        if u == 0:
            continue
        if u not in segments:
            raise InputError("id in the PNG but not in the JSON's segments_info", image_id=image_id, segment_id=int(u))
        cats[k] = int(segments[u])
    return cats[inv.reshape(ids.shape)]


def corresponding_pixels(id_a: np.ndarray, id_b: np.ndarray) -> np.ndarray:
    """Pixels whose A segment and B segment correspond: each is the other's largest overlap
    (in pixels; ties go to the smaller id). VOID (0) takes part as a segment of its own, so
    VOID in both corresponds and VOID against a segment does not.

    >>> a = np.array([[1, 1, 1, 1]]); b = np.array([[5, 5, 5, 6]])
    >>> corresponding_pixels(a, b).tolist()
    [[True, True, True, False]]
    """
    a = np.asarray(id_a).astype(np.uint64).ravel()
    b = np.asarray(id_b).astype(np.uint64).ravel()
    if np.asarray(id_a).shape != np.asarray(id_b).shape:
        raise ValueError("id maps must have the same shape")
    keys, inv, counts = np.unique(a * np.uint64(1 << 24) + b, return_inverse=True, return_counts=True)
    pa = keys >> np.uint64(24)
    pb = keys & np.uint64((1 << 24) - 1)
    # best partner of each A id: largest count, then smallest B id
    order = np.lexsort((pb, -counts, pa))
    first = np.ones(order.size, bool)
    first[1:] = pa[order][1:] != pa[order][:-1]
    best_a = set(zip(pa[order][first].tolist(), pb[order][first].tolist()))
    order = np.lexsort((pa, -counts, pb))
    first = np.ones(order.size, bool)
    first[1:] = pb[order][1:] != pb[order][:-1]
    best_b = set(zip(pa[order][first].tolist(), pb[order][first].tolist()))
    mutual = np.array([(x, y) in best_a and (x, y) in best_b for x, y in zip(pa.tolist(), pb.tolist())], bool)
    return mutual[inv].reshape(np.asarray(id_a).shape)


def agree_mask(id_a: np.ndarray, cat_a: np.ndarray, id_b: np.ndarray, cat_b: np.ndarray) -> np.ndarray:
    """Pixels where A and B agree: same category (VOID = 0) and corresponding segments
    (:func:`corresponding_pixels`)."""
    return (np.asarray(cat_a) == np.asarray(cat_b)) & corresponding_pixels(id_a, id_b)


def differ_mask(id_a: np.ndarray, cat_a: np.ndarray, id_b: np.ndarray, cat_b: np.ndarray) -> np.ndarray:
    """Pixels whose segment differs between two panoptic results: the category differs
    (VOID counts as a category) or the segment partition differs there, i.e. the pixel's A
    segment and B segment are not each other's largest overlap. Renumbering segments marks
    nothing; a shifted boundary marks the pixels that changed hands; a split marks the
    smaller part.

    >>> a = np.array([[1, 1, 2, 2, 2]]); ca = np.array([[3, 3, 4, 4, 4]])
    >>> b = np.array([[8, 8, 8, 9, 9]]); cb = np.array([[3, 3, 3, 4, 4]])
    >>> differ_mask(a, ca, b, cb).tolist()
    [[False, False, True, False, False]]
    """
    return ~agree_mask(id_a, cat_a, id_b, cat_b)


__all__ = ["segment_categories", "corresponding_pixels", "agree_mask", "differ_mask"]
