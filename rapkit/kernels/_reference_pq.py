"""Plain-numpy twins of :mod:`rapkit.kernels.png` and :mod:`rapkit.kernels.pq`.

They follow the PNG specification literally (the Paeth predictor in its specification form)
and count pairs with ``np.unique``; slow, for tests and as the executable specification.

>>> import numpy as np
>>> ref_unfilter(np.array([1, 5, 6, 7, 1, 1, 1], np.uint8), 1, 2, 3).tolist()   # Sub
[[5, 6, 7, 6, 7, 8]]
"""

from __future__ import annotations

import numpy as np


def ref_paeth(a: int, b: int, c: int) -> int:
    """The PNG specification's Paeth predictor."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def ref_unfilter(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png.unfilter`."""
    stride = w * bpp
    raw = np.asarray(raw, np.uint8)
    if raw.shape != (h * (stride + 1),):
        raise ValueError("raw has the wrong size")
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        off = y * (stride + 1)
        ft = int(raw[off])
        src = raw[off + 1 : off + 1 + stride].astype(np.int64)
        cur = np.zeros(stride, np.int64)
        if ft == 0:
            cur[:] = src
        elif ft == 2:
            cur[:] = (src + prev) & 0xFF
        elif ft in (1, 3, 4):
            for i in range(stride):
                a = int(cur[i - bpp]) if i >= bpp else 0
                b = int(prev[i])
                c = int(prev[i - bpp]) if i >= bpp else 0
                if ft == 1:
                    pred = a
                elif ft == 3:
                    pred = (a + b) >> 1
                else:
                    pred = ref_paeth(a, b, c)
                cur[i] = (int(src[i]) + pred) & 0xFF
        else:
            raise ValueError(f"row {y}: unknown PNG filter type {ft}")
        out[y] = cur
        prev = cur
    return out


def ref_decode_ids(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png.decode_ids`."""
    px = ref_unfilter(raw, h, w, bpp).reshape(h, w, bpp).astype(np.uint32)
    return px[..., 0] + (px[..., 1] << 8) + (px[..., 2] << 16)


def ref_decode_gray(raw: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.png.decode_gray`."""
    px = ref_unfilter(raw, h, w, 1)
    return px, np.bincount(px.ravel(), minlength=256).astype(np.int64)


def ref_pair_keys_maps(gt_map: np.ndarray, pred_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.pq.pair_keys_maps`."""
    key = np.asarray(gt_map).astype(np.uint64).ravel() << np.uint64(24)
    key |= np.asarray(pred_map).astype(np.uint64).ravel()
    k, c = np.unique(key, return_counts=True)
    return k, c.astype(np.int64)


def ref_pair_keys_png(
    raw_gt: np.ndarray, bpp_gt: int, raw_pred: np.ndarray, bpp_pred: int, h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.png.pair_keys_png`."""
    return ref_pair_keys_maps(ref_decode_ids(raw_gt, h, w, bpp_gt), ref_decode_ids(raw_pred, h, w, bpp_pred))


__all__ = ["ref_paeth", "ref_unfilter", "ref_decode_ids", "ref_decode_gray", "ref_pair_keys_maps", "ref_pair_keys_png"]
