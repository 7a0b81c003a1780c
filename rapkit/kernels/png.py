"""numba kernels for PNG rows: unfiltering (None/Sub/Up/Average/Paeth) of 8-bit RGB/RGBA
images, id maps, and the fused GT + prediction pass that folds runs of identical
(GT id, predicted id) pixel pairs into an open-addressing hash table.

Inputs are the *inflated* IDAT bytes (``h`` rows of ``1 + w * bpp`` bytes, the first byte of
each row being the filter type). Twins: :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> raw = np.array([0, 1, 2, 3], np.uint8)          # one RGB pixel, filter None
>>> unfilter(raw, 1, 1, 3).tolist()
[[1, 2, 3]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .pq import EMPTY_KEY, _compact, _insert, _rehash, _table


@njit(cache=True, nogil=True, inline="always")
def _paeth(a: np.int64, b: np.int64, c: np.int64) -> np.int64:
    # stb_image's branch-light form; equal to the PNG specification's predictor for all inputs.
    thresh = c * 3 - (a + b)
    lo = a if a < b else b
    hi = b if a < b else a
    t0 = lo if hi <= thresh else c
    return hi if thresh <= lo else t0


@njit(cache=True, nogil=True)
def _unfilter_row(ftype: np.int64, src: np.ndarray, prev: np.ndarray, cur: np.ndarray, bpp: np.int64) -> bool:
    """Unfilter one row ``src`` (without its filter byte) into ``cur`` given the previous
    unfiltered row ``prev``. Returns False for an unknown filter type."""
    n = np.uint64(src.shape[0])
    ub = np.uint64(bpp)
    if ftype == 0:
        for i in range(n):
            cur[i] = src[i]
    elif ftype == 1:
        for i in range(min(ub, n)):
            cur[i] = src[i]
        for i in range(ub, n):
            cur[i] = (np.int64(src[i]) + np.int64(cur[i - ub])) & 0xFF
    elif ftype == 2:
        for i in range(n):
            cur[i] = (np.int64(src[i]) + np.int64(prev[i])) & 0xFF
    elif ftype == 3:
        for i in range(min(ub, n)):
            cur[i] = (np.int64(src[i]) + (np.int64(prev[i]) >> 1)) & 0xFF
        for i in range(ub, n):
            cur[i] = (np.int64(src[i]) + ((np.int64(cur[i - ub]) + np.int64(prev[i])) >> 1)) & 0xFF
    elif ftype == 4:
        for i in range(min(ub, n)):
            cur[i] = (np.int64(src[i]) + np.int64(prev[i])) & 0xFF  # a = c = 0 -> predictor b
        for i in range(ub, n):
            p = _paeth(np.int64(cur[i - ub]), np.int64(prev[i]), np.int64(prev[i - ub]))
            cur[i] = (np.int64(src[i]) + p) & 0xFF
    else:
        return False
    return True


@njit(cache=True, nogil=True)
def _unfilter_kernel(raw: np.ndarray, h: np.int64, w: np.int64, bpp: np.int64, out: np.ndarray) -> np.int64:
    stride = w * bpp
    zero = np.zeros(stride, np.uint8)
    for y in range(h):
        off = y * (stride + 1)
        src = raw[off + 1 : off + 1 + stride]
        prev = out[y - 1] if y > 0 else zero
        if not _unfilter_row(np.int64(raw[off]), src, prev, out[y], bpp):
            return y
    return -1


def _check_raw(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError("raw must be a 1-D uint8 array")
    if bpp not in (3, 4):
        raise ValueError(f"bpp must be 3 (RGB) or 4 (RGBA), got {bpp}")
    if h <= 0 or w <= 0:
        raise ValueError(f"bad size {w}x{h}")
    need = h * (1 + w * bpp)
    if raw.shape[0] != need:
        raise ValueError(f"raw has {raw.shape[0]} bytes, expected {need} for {w}x{h}x{bpp}")
    return np.ascontiguousarray(raw)


def unfilter(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Unfilter inflated PNG data into an (h, w * bpp) uint8 array.

    Raises ValueError on an unknown filter type.
    """
    raw = _check_raw(raw, h, w, bpp)
    out = np.empty((h, w * bpp), np.uint8)
    bad = _unfilter_kernel(raw, np.int64(h), np.int64(w), np.int64(bpp), out)
    if bad >= 0:
        raise ValueError(f"row {bad}: unknown PNG filter type {int(raw[bad * (1 + w * bpp)])}")
    return out


@njit(cache=True, nogil=True)
def _ids_kernel(raw: np.ndarray, h: np.int64, w: np.int64, bpp: np.int64, out: np.ndarray) -> np.int64:
    stride = w * bpp
    a = np.zeros(stride, np.uint8)
    b = np.zeros(stride, np.uint8)
    for y in range(h):
        off = y * (stride + 1)
        src = raw[off + 1 : off + 1 + stride]
        if y % 2 == 0:
            cur, prev = a, b
        else:
            cur, prev = b, a
        if not _unfilter_row(np.int64(raw[off]), src, prev, cur, bpp):
            return y
        row = out[y]
        for x in range(np.uint64(w)):
            j = x * np.uint64(bpp)
            row[x] = np.uint32(cur[j]) | (np.uint32(cur[j + 1]) << 8) | (np.uint32(cur[j + 2]) << 16)
    return -1


def decode_ids(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Inflated PNG data of an RGB/RGBA 8-bit image -> (h, w) uint32 ids ``R + 256 G + 65536 B``."""
    raw = _check_raw(raw, h, w, bpp)
    out = np.empty((h, w), np.uint32)
    bad = _ids_kernel(raw, np.int64(h), np.int64(w), np.int64(bpp), out)
    if bad >= 0:
        raise ValueError(f"row {bad}: unknown PNG filter type {int(raw[bad * (1 + w * bpp)])}")
    return out


@njit(cache=True, nogil=True)
def _pair_png_kernel(
    raw_g: np.ndarray, bpp_g: np.int64, raw_p: np.ndarray, bpp_p: np.int64, h: np.int64, w: np.int64,
    keys: np.ndarray, counts: np.ndarray,
) -> tuple:
    sg = w * bpp_g
    sp = w * bpp_p
    ga = np.zeros(sg, np.uint8)
    gb = np.zeros(sg, np.uint8)
    pa = np.zeros(sp, np.uint8)
    pb = np.zeros(sp, np.uint8)
    used = np.int64(0)
    run_key = EMPTY_KEY
    run_n = np.int64(0)
    ubg = np.uint64(bpp_g)
    ubp = np.uint64(bpp_p)
    for y in range(h):
        og = y * (sg + 1)
        op = y * (sp + 1)
        if y % 2 == 0:
            gcur, gprev, pcur, pprev = ga, gb, pa, pb
        else:
            gcur, gprev, pcur, pprev = gb, ga, pb, pa
        if not _unfilter_row(np.int64(raw_g[og]), raw_g[og + 1 : og + 1 + sg], gprev, gcur, bpp_g):
            return keys, counts, used, y, 0
        if not _unfilter_row(np.int64(raw_p[op]), raw_p[op + 1 : op + 1 + sp], pprev, pcur, bpp_p):
            return keys, counts, used, y, 1
        for x in range(np.uint64(w)):
            jg = x * ubg
            jp = x * ubp
            gid = np.uint64(gcur[jg]) | (np.uint64(gcur[jg + 1]) << np.uint64(8)) | (np.uint64(gcur[jg + 2]) << np.uint64(16))
            pid = np.uint64(pcur[jp]) | (np.uint64(pcur[jp + 1]) << np.uint64(8)) | (np.uint64(pcur[jp + 2]) << np.uint64(16))
            key = (gid << np.uint64(24)) | pid
            if key == run_key:
                run_n += 1
            else:
                if run_n > 0:
                    if _insert(keys, counts, run_key, run_n):
                        used += 1
                        if used * 2 > keys.shape[0]:
                            keys, counts = _rehash(keys, counts)
                run_key = key
                run_n = 1
    if run_n > 0:
        if _insert(keys, counts, run_key, run_n):
            used += 1
    return keys, counts, used, -1, 0


def pair_keys_png(
    raw_gt: np.ndarray, bpp_gt: int, raw_pred: np.ndarray, bpp_pred: int, h: int, w: int, capacity: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Fused pass over two inflated PNGs of the same size: sorted unique keys
    ``gt_id * 2**24 + pred_id`` (uint64) and their pixel counts (int64).

    Raises ValueError naming ``gt``/``pred`` and the row on an unknown filter type.
    """
    raw_gt = _check_raw(raw_gt, h, w, bpp_gt)
    raw_pred = _check_raw(raw_pred, h, w, bpp_pred)
    keys, counts = _table(capacity)
    keys, counts, _, bad_row, which = _pair_png_kernel(
        raw_gt, np.int64(bpp_gt), raw_pred, np.int64(bpp_pred), np.int64(h), np.int64(w), keys, counts
    )
    if bad_row >= 0:
        side = "prediction" if which else "GT"
        raise ValueError(f"{side} PNG row {bad_row}: unknown filter type")
    return _compact(keys, counts)


__all__ = ["unfilter", "decode_ids", "pair_keys_png"]
