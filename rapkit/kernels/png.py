"""numba kernels for PNG rows: unfiltering (None/Sub/Up/Average/Paeth) of 8-bit RGB/RGBA
images into pixels or id maps, and of 8-bit grayscale label maps with their value histogram.

Inputs are the *inflated* IDAT bytes (``h`` rows of ``1 + w * bpp`` bytes, the first byte of
each row being the filter type). The row filters here (``_sub3`` ... ``_unfilter_row``) also
serve PQ's pair kernel, :mod:`rapkit.kernels.pq`, which unfilters a GT and a prediction PNG
together. Twins: :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> raw = np.array([0, 1, 2, 3], np.uint8)          # one RGB pixel, filter None
>>> unfilter(raw, 1, 1, 3).tolist()
[[1, 2, 3]]
"""

from __future__ import annotations

import numpy as np

from .._runtime.ccall import borrow
from .._runtime.jit import njit


@njit
def _paeth(a: np.int32, b: np.int32, c: np.int32) -> np.int32:
    # stb_image's branch-light form; equal to the PNG specification's predictor for all inputs.
    thresh = c * 3 - (a + b)
    lo = min(a, b)
    hi = max(a, b)
    t0 = lo if hi <= thresh else c
    return hi if thresh <= lo else t0


# One loop per (filter, bytes per pixel): the left (a) and upper-left (c) bytes of every
# channel stay in registers so the channels interleave. Paeth takes a shortcut where the
# upper and upper-left pixels are equal (flat regions, most of a panoptic map): there the
# predictor is exactly the left byte (p = a + b - c = a, so |p - a| = 0 wins). These serve
# ``unfilter``/``decode_ids`` and PQ's pair kernel (:mod:`rapkit.kernels.pq`).


@njit
def _sub3(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    n = src.shape[0] // 3
    a0 = a1 = a2 = np.int32(0)
    for x in range(n):
        j = 3 * x
        a0 = (np.int32(src[j]) + a0) & 255
        a1 = (np.int32(src[j + 1]) + a1) & 255
        a2 = (np.int32(src[j + 2]) + a2) & 255
        cur[j] = a0
        cur[j + 1] = a1
        cur[j + 2] = a2


@njit
def _sub4(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    n = src.shape[0] // 4
    a0 = a1 = a2 = a3 = np.int32(0)
    for x in range(n):
        j = 4 * x
        a0 = (np.int32(src[j]) + a0) & 255
        a1 = (np.int32(src[j + 1]) + a1) & 255
        a2 = (np.int32(src[j + 2]) + a2) & 255
        a3 = (np.int32(src[j + 3]) + a3) & 255
        cur[j] = a0
        cur[j + 1] = a1
        cur[j + 2] = a2
        cur[j + 3] = a3


@njit
def _avg3(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    n = src.shape[0] // 3
    a0 = a1 = a2 = np.int32(0)
    for x in range(n):
        j = 3 * x
        a0 = (np.int32(src[j]) + ((a0 + np.int32(prev[j])) >> 1)) & 255
        a1 = (np.int32(src[j + 1]) + ((a1 + np.int32(prev[j + 1])) >> 1)) & 255
        a2 = (np.int32(src[j + 2]) + ((a2 + np.int32(prev[j + 2])) >> 1)) & 255
        cur[j] = a0
        cur[j + 1] = a1
        cur[j + 2] = a2


@njit
def _avg4(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    n = src.shape[0] // 4
    a0 = a1 = a2 = a3 = np.int32(0)
    for x in range(n):
        j = 4 * x
        a0 = (np.int32(src[j]) + ((a0 + np.int32(prev[j])) >> 1)) & 255
        a1 = (np.int32(src[j + 1]) + ((a1 + np.int32(prev[j + 1])) >> 1)) & 255
        a2 = (np.int32(src[j + 2]) + ((a2 + np.int32(prev[j + 2])) >> 1)) & 255
        a3 = (np.int32(src[j + 3]) + ((a3 + np.int32(prev[j + 3])) >> 1)) & 255
        cur[j] = a0
        cur[j + 1] = a1
        cur[j + 2] = a2
        cur[j + 3] = a3


@njit
def _paeth3(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    n = src.shape[0] // 3
    a0 = a1 = a2 = np.int32(0)
    c0 = c1 = c2 = np.int32(0)
    for x in range(n):
        j = 3 * x
        b0 = np.int32(prev[j])
        b1 = np.int32(prev[j + 1])
        b2 = np.int32(prev[j + 2])
        if b0 == c0 and b1 == c1 and b2 == c2:
            # up == up-left: the predictor is the left byte (exactly), a 2-cycle chain
            a0 = (np.int32(src[j]) + a0) & 255
            a1 = (np.int32(src[j + 1]) + a1) & 255
            a2 = (np.int32(src[j + 2]) + a2) & 255
        else:
            a0 = (np.int32(src[j]) + _paeth(a0, b0, c0)) & 255
            a1 = (np.int32(src[j + 1]) + _paeth(a1, b1, c1)) & 255
            a2 = (np.int32(src[j + 2]) + _paeth(a2, b2, c2)) & 255
        c0 = b0
        c1 = b1
        c2 = b2
        cur[j] = a0
        cur[j + 1] = a1
        cur[j + 2] = a2


@njit
def _paeth4(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    n = src.shape[0] // 4
    a0 = a1 = a2 = a3 = np.int32(0)
    c0 = c1 = c2 = c3 = np.int32(0)
    for x in range(n):
        j = 4 * x
        b0 = np.int32(prev[j])
        b1 = np.int32(prev[j + 1])
        b2 = np.int32(prev[j + 2])
        b3 = np.int32(prev[j + 3])
        if b0 == c0 and b1 == c1 and b2 == c2 and b3 == c3:
            # up == up-left: the predictor is the left byte (exactly), a 2-cycle chain
            a0 = (np.int32(src[j]) + a0) & 255
            a1 = (np.int32(src[j + 1]) + a1) & 255
            a2 = (np.int32(src[j + 2]) + a2) & 255
            a3 = (np.int32(src[j + 3]) + a3) & 255
        else:
            a0 = (np.int32(src[j]) + _paeth(a0, b0, c0)) & 255
            a1 = (np.int32(src[j + 1]) + _paeth(a1, b1, c1)) & 255
            a2 = (np.int32(src[j + 2]) + _paeth(a2, b2, c2)) & 255
            a3 = (np.int32(src[j + 3]) + _paeth(a3, b3, c3)) & 255
        c0 = b0
        c1 = b1
        c2 = b2
        c3 = b3
        cur[j] = a0
        cur[j + 1] = a1
        cur[j + 2] = a2
        cur[j + 3] = a3


@njit
def _unfilter_row(ftype: np.int64, src: np.ndarray, prev: np.ndarray, cur: np.ndarray, bpp: np.int64) -> bool:
    """Unfilter one row ``src`` (without its filter byte) into ``cur`` given the previous
    unfiltered row ``prev``; ``bpp`` is 3 or 4. Returns False for an unknown filter type."""
    if ftype == 0:
        for i in range(src.shape[0]):
            cur[i] = src[i]
    elif ftype == 2:
        for i in range(src.shape[0]):
            cur[i] = src[i] + prev[i]  # uint8 arithmetic wraps modulo 256
    elif ftype == 1:
        if bpp == 3:
            _sub3(src, prev, cur)
        else:
            _sub4(src, prev, cur)
    elif ftype == 3:
        if bpp == 3:
            _avg3(src, prev, cur)
        else:
            _avg4(src, prev, cur)
    elif ftype == 4:
        if bpp == 3:
            _paeth3(src, prev, cur)
        else:
            _paeth4(src, prev, cur)
    else:
        return False
    return True


@njit
def _ids3(cur: np.ndarray, ids: np.ndarray) -> None:
    for x in range(ids.shape[0]):
        j = 3 * x
        ids[x] = np.uint32(cur[j]) | (np.uint32(cur[j + 1]) << 8) | (np.uint32(cur[j + 2]) << 16)


@njit
def _ids4(cur: np.ndarray, ids: np.ndarray) -> None:
    for x in range(ids.shape[0]):
        j = 4 * x
        ids[x] = np.uint32(cur[j]) | (np.uint32(cur[j + 1]) << 8) | (np.uint32(cur[j + 2]) << 16)


@njit
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
    return _readonly(raw)


def _readonly(raw: np.ndarray) -> np.ndarray:
    """``raw`` as a C-contiguous read-only array. numba compiles a kernel once per argument
    type, and read-only is part of the type: the inflated bytes from ``io/png.py`` are
    read-only, so every caller (tests, warm-up) hands the kernels read-only arrays and one
    specialization serves them all."""
    raw = np.ascontiguousarray(raw)
    if raw.flags.writeable:
        raw = raw.view()
        raw.flags.writeable = False
    return raw


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


@njit
def _ids_kernel(raw: np.ndarray, h: np.int64, w: np.int64, bpp: np.int64, out: np.ndarray) -> np.int64:
    stride = w * bpp
    rows = np.zeros((2, stride), np.uint8)
    # unowned views (rapkit._runtime.ccall.borrow): the slices of every row below skip
    # numba's atomic reference count; raw and out are the caller's, rows is used at the end
    raw, out = borrow(raw), borrow(out)
    a, b = borrow(rows[0]), borrow(rows[1])
    for y in range(h):
        off = y * (stride + 1)
        src = raw[off + 1 : off + 1 + stride]
        if y % 2 == 0:
            cur, prev = a, b
        else:
            cur, prev = b, a
        if not _unfilter_row(np.int64(raw[off]), src, prev, cur, bpp):
            return y
        if bpp == 3:
            _ids3(cur, out[y])
        else:
            _ids4(cur, out[y])
    return -1 + 0 * rows.shape[0]  # rows alive until here


def decode_ids(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Inflated PNG data of an RGB/RGBA 8-bit image -> (h, w) uint32 ids ``R + 256 G + 65536 B``."""
    raw = _check_raw(raw, h, w, bpp)
    out = np.empty((h, w), np.uint32)
    bad = _ids_kernel(raw, np.int64(h), np.int64(w), np.int64(bpp), out)
    if bad >= 0:
        raise ValueError(f"row {bad}: unknown PNG filter type {int(raw[bad * (1 + w * bpp)])}")
    return out


@njit
def _unfilter_row1(ftype: np.int64, src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> bool:
    """:func:`_unfilter_row` for one byte per pixel (8-bit grayscale): the left byte ``a``
    and the upper-left byte ``c`` stay in registers. False for an unknown filter type."""
    n = src.shape[0]
    if ftype == 0:
        for i in range(n):
            cur[i] = src[i]
    elif ftype == 2:
        for i in range(n):
            cur[i] = src[i] + prev[i]  # uint8 arithmetic wraps modulo 256
    elif ftype == 1:
        a = np.int32(0)
        for i in range(n):
            a = (np.int32(src[i]) + a) & 255
            cur[i] = a
    elif ftype == 3:
        a = np.int32(0)
        for i in range(n):
            a = (np.int32(src[i]) + ((a + np.int32(prev[i])) >> 1)) & 255
            cur[i] = a
    elif ftype == 4:
        a = np.int32(0)
        c = np.int32(0)
        for i in range(n):
            b = np.int32(prev[i])
            if b == c:  # up == up-left: the predictor is the left byte (exactly)
                a = (np.int32(src[i]) + a) & 255
            else:
                a = (np.int32(src[i]) + _paeth(a, b, c)) & 255
            c = b
            cur[i] = a
    else:
        return False
    return True


@njit
def _gray_kernel(raw: np.ndarray, h: np.int64, w: np.int64, out: np.ndarray, hist: np.ndarray) -> np.int64:
    # Unfilter row by row into ``out`` and count the pixel values: runs of equal values are
    # counted first, then added to ``hist`` once (label maps are mostly long runs).
    zero = np.zeros(w, np.uint8)
    for y in range(h):
        off = y * (w + 1)
        src = raw[off + 1 : off + 1 + w]
        prev = out[y - 1] if y > 0 else zero
        cur = out[y]
        if not _unfilter_row1(np.int64(raw[off]), src, prev, cur):
            return y
        v = cur[0]
        run = np.int64(0)
        for x in range(w):
            u = cur[x]
            if u == v:
                run += 1
            else:
                hist[v] += run
                v = u
                run = 1
        hist[v] += run
    return -1


def decode_gray(raw: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Inflated PNG data of an 8-bit grayscale image -> its (h, w) uint8 pixels and the
    (256,) int64 histogram of their values. Raises ValueError on an unknown filter type.

    >>> raw = np.array([1, 7, 2, 2, 0, 3], np.uint8)     # 2x2, rows filtered Sub and Up
    >>> px, hist = decode_gray(raw, 2, 2)
    >>> px.tolist(), int(hist[7]), int(hist[9]), int(hist[12]), int(hist.sum())
    ([[7, 9], [7, 12]], 2, 1, 1, 4)
    """
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError("raw must be a 1-D uint8 array")
    if h <= 0 or w <= 0:
        raise ValueError(f"bad size {w}x{h}")
    if raw.shape[0] != h * (1 + w):
        raise ValueError(f"raw has {raw.shape[0]} bytes, expected {h * (1 + w)} for {w}x{h}x1")
    raw = _readonly(raw)
    out = np.empty((h, w), np.uint8)
    hist = np.zeros(256, np.int64)
    bad = _gray_kernel(raw, np.int64(h), np.int64(w), out, hist)
    if bad >= 0:
        raise ValueError(f"row {bad}: unknown PNG filter type {int(raw[bad * (1 + w)])}")
    return out, hist


__all__ = ["decode_gray", "decode_ids", "unfilter"]
