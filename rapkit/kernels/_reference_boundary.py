"""Plain-numpy twin of :mod:`rapkit.kernels.boundary` (Boundary PQ's bands and pair keys).

The band is written as its definition: a pixel is interior when every pixel of the
(2d+1) x (2d+1) window around it is inside the image and has its id (the window compared
shift by shift, rows then columns); the band is the rest.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ref_band", "ref_band_pair_keys"]


def ref_band(ids: np.ndarray, d: int) -> np.ndarray:
    """(H, W) bool: the pixels on the boundary band of their own id at dilation ``d``.

    >>> ref_band(np.ones((3, 3), np.uint32), 1).sum()
    np.int64(8)
    """
    a = np.asarray(ids).astype(np.int64)
    h, w = a.shape
    pad = np.full((h + 2 * d, w + 2 * d), -1, np.int64)  # outside the image: no id
    pad[d : d + h, d : d + w] = a
    rows = np.ones((h + 2 * d, w), bool)  # row window all equal to the centre (rows of pad)
    for dx in range(-d, d + 1):
        rows &= pad[:, d + dx : d + dx + w] == pad[:, d : d + w]
    inner = np.ones((h, w), bool)
    for dy in range(-d, d + 1):
        inner &= rows[d + dy : d + dy + h] & (pad[d + dy : d + dy + h, d : d + w] == a)
    return ~inner


def ref_band_pair_keys(gt_map: np.ndarray, pred_map: np.ndarray, dilation: int) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.boundary.band_pair_keys`."""
    key = np.asarray(gt_map).astype(np.uint64).ravel() << np.uint64(24)
    key |= np.asarray(pred_map).astype(np.uint64).ravel()
    key |= ref_band(gt_map, dilation).ravel().astype(np.uint64) << np.uint64(48)
    key |= ref_band(pred_map, dilation).ravel().astype(np.uint64) << np.uint64(49)
    k, c = np.unique(key, return_counts=True)
    return k, c.astype(np.int64)
