"""numba kernels for PNG rows: unfiltering (None/Sub/Up/Average/Paeth) of 8-bit RGB/RGBA
images, id maps, 8-bit grayscale label maps with their value histogram, and the fused GT + prediction pass that folds runs of identical
(GT id, predicted id) pixel pairs into the hash table of :mod:`rapkit.kernels.hashtable`.

Inputs are the *inflated* IDAT bytes (``h`` rows of ``1 + w * bpp`` bytes, the first byte of
each row being the filter type). Twins: :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> raw = np.array([0, 1, 2, 3], np.uint8)          # one RGB pixel, filter None
>>> unfilter(raw, 1, 1, 3).tolist()
[[1, 2, 3]]
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit, trailing_zeros
from .hashtable import EMPTY_KEY, compact, ensure_room, fold_pair_row, insert, new_table, pair_key, slot


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
# ``unfilter``/``decode_ids`` and the pair kernel for mixed RGB/RGBA pairs.
# Unsigned indices in the pair kernel: no wrap-around handling of negative indices.
U1 = np.uint64(1)
U2 = np.uint64(2)
U3 = np.uint64(3)


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
        if bpp == 3:
            _ids3(cur, out[y])
        else:
            _ids4(cur, out[y])
    return -1


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


@njit
def _pair_png_kernel(
    raw_g: np.ndarray,
    bpp_g: np.int64,
    raw_p: np.ndarray,
    bpp_p: np.int64,
    h: np.int64,
    w: np.int64,
    keys: np.ndarray,
    counts: np.ndarray,
) -> tuple:
    # GT and prediction with different pixel sizes (RGB and RGBA; rare): row by row, unfilter
    # both rows, turn them into id rows, fold the runs of equal (gt, pred) pairs into the hash
    # table. Only a few rows live in memory. Equal pixel sizes go to :func:`_pair_rows_kernel`.
    sg = w * bpp_g
    sp = w * bpp_p
    ga = np.zeros(sg, np.uint8)
    gb = np.zeros(sg, np.uint8)
    pa = np.zeros(sp, np.uint8)
    pb = np.zeros(sp, np.uint8)
    gi = np.zeros(w, np.uint32)
    pi = np.zeros(w, np.uint32)
    used = np.int64(0)
    run_g = np.uint32(0)
    run_p = np.uint32(0)
    run_n = np.int64(0)
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
        keys, counts = ensure_room(keys, counts, used, w + 1)
        if bpp_g == 3:
            _ids3(gcur, gi)
        else:
            _ids4(gcur, gi)
        if bpp_p == 3:
            _ids3(pcur, pi)
        else:
            _ids4(pcur, pi)
        run_g, run_p, run_n, new = fold_pair_row(gi, pi, keys, counts, run_g, run_p, run_n)
        used += new
    if run_n > 0:
        used += insert(keys, counts, pair_key(run_g, run_p), run_n)
    return keys, counts, used, -1, 0


# --------------------------------------------------------------------------- the pair kernel
# GT and prediction PNGs with the same pixel size, row by row (docs/evaluation.md, "The PNG
# pair kernel"). Every row is unfiltered into a buffer of uint64 words (viewed as bytes), and
# its *horizontal difference* ``d[j] = row[j] ^ row[j - bpp]`` (``d[j] = row[j]`` for the first
# pixel) is kept:
#
# * Up rows are one vectorised loop; an Up row with zero residuals repeats the row above and
#   is neither unfiltered nor differenced.
# * Paeth rows are computed only at their *events*: pixels whose residual is not zero or
#   whose upper pixel differs from the upper-left one (``d`` of the row above is not zero
#   there). Everywhere else the predictor is exactly the left pixel
#   (p = a + b - c = a when b == c) and the residual is zero, so the row repeats the last
#   computed pixel: a Paeth row starts as a copy of the row above and only the stretches
#   where that pixel differs from the row above are filled (pixel by pixel). Sub and Average rows (a few
#   percent in Pillow's files) use the per-pixel loops above.
# * The runs of equal (gt, pred) pixels start where ``d`` of either row is not zero; they are
#   found word by word (a bitmap of the non-zero words, then the bytes of each word).
# * The runs are added to the hash table; a run whose key equals the previous row's run at the
#   same index reuses that run's slot (no hashing), and a streak of rows repeated in both PNGs
#   adds the last runs again through their slots.
U0 = np.uint64(0)
U8 = np.uint64(8)
U16 = np.uint64(16)
U24 = np.uint64(24)
U255 = np.uint64(255)


@njit
def _all_zero(src: np.ndarray) -> bool:
    acc = np.uint8(0)
    for i in range(src.shape[0]):
        acc |= src[i]
    return acc == 0


# The simple loops take their rows as arguments (slices made by the caller): so LLVM
# vectorises them (a slice taken inside the same function kept it from doing so).
@njit
def _add_rows(src: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> None:
    for i in range(src.shape[0]):
        cur[i] = src[i] + prev[i]  # uint8 arithmetic wraps modulo 256


@njit
def _copy_row(src: np.ndarray, cur: np.ndarray) -> None:
    for i in range(src.shape[0]):
        cur[i] = src[i]


@njit
def _or_rows(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.shape[0]):
        out[i] = a[i] | b[i]


@njit
def _xor_rows(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.shape[0]):
        out[i] = a[i] ^ b[i]


@njit
def _row_diff(cur: np.ndarray, d: np.ndarray, bpp: np.int64) -> None:
    """``d[j] = cur[j] ^ cur[j - bpp]``, ``d[j] = cur[j]`` for the first pixel."""
    n = cur.shape[0] - bpp
    for j in range(bpp):
        d[j] = cur[j]
    _xor_rows(cur[bpp:], cur[:n], d[bpp : bpp + n])


@njit
def _word_bitmap(a: np.ndarray, b: np.ndarray, bm: np.ndarray) -> None:
    """Bit t of ``bm[k]``: word ``64 k + t`` of ``a | b`` is not zero."""
    for k in range(bm.shape[0]):
        m = U0
        for t in range(64):
            i = 64 * k + t
            m |= np.uint64((a[i] | b[i]) != 0) << np.uint64(t)
        bm[k] = m


@njit
def _pixel_of(j: np.uint64, bpp: np.int64) -> np.uint64:
    return j // U3 if bpp == 3 else j >> U2


@njit
def _past_pixel(word: np.uint64, x: np.uint64, i: np.uint64, bpp: np.int64) -> np.uint64:
    """``word`` (word i of a row) without its bytes up to the end of pixel x."""
    end = (x + U1) * np.uint64(bpp) - i * U8
    if end >= U8:
        return U0
    sh = end * U8
    return (word >> sh) << sh


@njit
def _pixel_value(b8: np.ndarray, j: np.uint64, bpp: np.int64) -> np.uint64:
    v = np.uint64(b8[j]) | (np.uint64(b8[j + U1]) << U8) | (np.uint64(b8[j + U2]) << U16)
    if bpp == 4:
        v |= np.uint64(b8[j + U3]) << U24
    return v


@njit
def _fill(cur8: np.ndarray, x0: np.uint64, x1: np.uint64, v: np.uint64, bpp: np.int64) -> None:
    """Pixels [x0, x1) of the row := pixel ``v``."""
    ub = np.uint64(bpp)
    v0 = np.uint8(v & U255)
    v1 = np.uint8((v >> U8) & U255)
    v2 = np.uint8((v >> U16) & U255)
    v3 = np.uint8((v >> U24) & U255)
    for x in range(x0, x1):
        j = x * ub
        cur8[j] = v0
        cur8[j + U1] = v1
        cur8[j + U2] = v2
        if bpp == 4:
            cur8[j + U3] = v3


@njit
def _paeth_row(
    src: np.ndarray,
    e8: np.ndarray,
    e64: np.ndarray,
    bm: np.ndarray,
    prev8: np.ndarray,
    dprev8: np.ndarray,
    cur8: np.ndarray,
    w: np.int64,
    bpp: np.int64,
) -> None:
    """A Paeth row, computed at its events only (see above)."""
    s = w * bpp
    _or_rows(src, dprev8[:s], e8[:s])
    _copy_row(prev8[:s], cur8[:s])
    _word_bitmap(e64, e64, bm)
    ub = np.uint64(bpp)
    pos = U0  # the next pixel to write
    v = U0  # the last pixel written (0 left of the row)
    for k in range(bm.shape[0]):
        m = bm[k]
        while m != U0:
            i = np.uint64(64 * k) + np.uint64(trailing_zeros(m))
            m &= m - U1
            word = e64[i]
            while word != U0:
                x = _pixel_of(i * U8 + (np.uint64(trailing_zeros(word)) >> U3), bpp)
                word = _past_pixel(word, x, i, bpp)
                if x < pos:
                    continue  # a pixel that straddles two words, done
                if x > pos and v != _pixel_value(prev8, pos * ub, bpp):
                    _fill(cur8, pos, x, v, bpp)
                jx = x * ub
                a0 = np.int32(v & U255)
                a1 = np.int32((v >> U8) & U255)
                a2 = np.int32((v >> U16) & U255)
                a3 = np.int32((v >> U24) & U255)
                if x > U0:
                    c0 = np.int32(prev8[jx - ub])
                    c1 = np.int32(prev8[jx - ub + U1])
                    c2 = np.int32(prev8[jx - ub + U2])
                    c3 = np.int32(prev8[jx - U1])
                else:
                    c0 = c1 = c2 = c3 = np.int32(0)
                a0 = _paeth(a0, np.int32(prev8[jx]), c0)
                a1 = _paeth(a1, np.int32(prev8[jx + U1]), c1)
                a2 = _paeth(a2, np.int32(prev8[jx + U2]), c2)
                if bpp == 4:
                    a3 = _paeth(a3, np.int32(prev8[jx + U3]), c3)
                a0 = (np.int32(src[jx]) + a0) & 255
                a1 = (np.int32(src[jx + U1]) + a1) & 255
                a2 = (np.int32(src[jx + U2]) + a2) & 255
                cur8[jx] = a0
                cur8[jx + U1] = a1
                cur8[jx + U2] = a2
                v = np.uint64(a0) | (np.uint64(a1) << U8) | (np.uint64(a2) << U16)
                if bpp == 4:
                    a3 = (np.int32(src[jx + U3]) + a3) & 255
                    cur8[jx + U3] = a3
                    v |= np.uint64(a3) << U24
                pos = x + U1
    if pos < np.uint64(w) and v != _pixel_value(prev8, pos * ub, bpp):
        _fill(cur8, pos, np.uint64(w), v, bpp)


@njit
def _row(
    ft: np.int64,
    src: np.ndarray,
    w: np.int64,
    bpp: np.int64,
    e8: np.ndarray,
    e64: np.ndarray,
    bm: np.ndarray,
    prev8: np.ndarray,
    dprev8: np.ndarray,
    cur8: np.ndarray,
    dcur8: np.ndarray,
) -> bool:
    """Unfilter one row into ``cur`` and its horizontal difference into ``dcur`` (the row
    above: ``prev``, ``dprev``). False for an unknown filter type."""
    s = w * bpp
    if ft == 2:
        _add_rows(src, prev8[:s], cur8[:s])
    elif ft == 4:
        _paeth_row(src, e8, e64, bm, prev8, dprev8, cur8, w, bpp)
    elif ft == 0:
        _copy_row(src, cur8[:s])
    elif ft == 1:
        if bpp == 3:
            _sub3(src, prev8[:s], cur8[:s])
        else:
            _sub4(src, prev8[:s], cur8[:s])
    elif ft == 3:
        if bpp == 3:
            _avg3(src, prev8[:s], cur8[:s])
        else:
            _avg4(src, prev8[:s], cur8[:s])
    else:
        return False
    _row_diff(cur8[:s], dcur8, bpp)
    return True


@njit
def _key_at(g8: np.ndarray, p8: np.ndarray, j: np.uint64) -> np.uint64:
    gi = np.uint64(g8[j]) | (np.uint64(g8[j + U1]) << U8) | (np.uint64(g8[j + U2]) << U16)
    pi = np.uint64(p8[j]) | (np.uint64(p8[j + U1]) << U8) | (np.uint64(p8[j + U2]) << U16)
    return (gi << U24) | pi


@njit
def _row_runs(
    g8: np.ndarray,
    p8: np.ndarray,
    dg64: np.ndarray,
    dp64: np.ndarray,
    bm: np.ndarray,
    w: np.int64,
    bpp: np.int64,
    rk: np.ndarray,
    rc: np.ndarray,
) -> np.int64:
    """The runs of equal (gt, pred) pixels of one pair of rows: keys ``rk[:n]``, lengths
    ``rc[:n]``; returns n. A run starts where either row's difference is not zero (with
    RGBA a change of alpha alone also starts one: two runs of one key, the same counts)."""
    _word_bitmap(dg64, dp64, bm)
    ub = np.uint64(bpp)
    start = U0
    key = _key_at(g8, p8, U0)
    n = 0
    for k in range(bm.shape[0]):
        m = bm[k]
        while m != U0:
            i = np.uint64(64 * k) + np.uint64(trailing_zeros(m))
            m &= m - U1
            word = dg64[i] | dp64[i]
            while word != U0:
                x = _pixel_of(i * U8 + (np.uint64(trailing_zeros(word)) >> U3), bpp)
                word = _past_pixel(word, x, i, bpp)
                if x > start:
                    rk[n] = key
                    rc[n] = np.int64(x - start)
                    n += 1
                    start = x
                    key = _key_at(g8, p8, x * ub)
    rk[n] = key
    rc[n] = np.int64(np.uint64(w) - start)
    return n + 1


@njit
def _add_runs(
    keys: np.ndarray,
    counts: np.ndarray,
    rk: np.ndarray,
    rc: np.ndarray,
    n: np.int64,
    slots: np.ndarray,
    prk: np.ndarray,
    pslots: np.ndarray,
    pn: np.int64,
) -> np.int64:
    """Add n runs to the table, their slots to ``slots``. A run with the key of the previous
    row's run at the same index (``prk``, ``pslots``, ``pn`` of them) reuses its slot.
    Returns the number of new keys."""
    mask = np.uint64(keys.shape[0] - 1)
    new = 0
    for r in range(n):
        key = rk[r]
        if r < pn and prk[r] == key:
            s = pslots[r]
            counts[s] += rc[r]
        else:
            s = slot(key, mask)
            while True:
                k = keys[s]
                if k == key:
                    counts[s] += rc[r]
                    break
                if k == EMPTY_KEY:
                    keys[s] = key
                    counts[s] = rc[r]
                    new += 1
                    break
                s = (s + U1) & mask
        slots[r] = s
    return new


@njit
def _readd_runs(counts: np.ndarray, slots: np.ndarray, rc: np.ndarray, n: np.int64, rep: np.int64) -> None:
    """The last folded row repeated ``rep`` more times: add its runs again through their slots."""
    for r in range(n):
        counts[slots[r]] += rc[r] * rep


@njit
def _pair_rows_kernel(
    raw_g: np.ndarray,
    raw_p: np.ndarray,
    h: np.int64,
    w: np.int64,
    bpp: np.int64,
    keys: np.ndarray,
    counts: np.ndarray,
) -> tuple:
    # Row buffers: uint64 words (rounded up to whole 64-word bitmap blocks) viewed as bytes;
    # the bytes past the row stay zero. B[side, k[side]] is the side's last row (side 0: GT,
    # 1: prediction), B[side, 1 - k[side]] receives its next one; D holds their differences.
    # One call site per helper keeps the compiled code (and the compile time) small.
    s = w * bpp
    nw = 64 * ((s + 511) // 512)
    B = np.zeros((2, 2, nw), np.uint64)
    D = np.zeros((2, 2, nw), np.uint64)
    B8 = B.view(np.uint8)
    D8 = D.view(np.uint8)
    E = np.zeros(nw, np.uint64)
    E8 = E.view(np.uint8)
    bm = np.zeros(nw // 64, np.uint64)
    RK = np.zeros((2, w + 1), np.uint64)  # [q]: the runs of the last folded row, [1 - q]: the next
    RC = np.zeros((2, w + 1), np.int64)
    SL = np.zeros((2, w + 1), np.uint64)
    k = np.zeros(2, np.int64)
    q = 0
    n = 0
    rep = 0
    used = 0
    for y in range(h + 1):
        off = y * (s + 1)
        zg = zp = False  # the row repeats the row above (Up, zero residuals)
        if y < h:
            zg = y > 0 and raw_g[off] == 2 and _all_zero(raw_g[off + 1 : off + 1 + s])
            zp = y > 0 and raw_p[off] == 2 and _all_zero(raw_p[off + 1 : off + 1 + s])
            if zg and zp:
                rep += 1
                continue
        if rep > 0:
            _readd_runs(counts, SL[q], RC[q], n, rep)
            rep = 0
        if y == h:
            break
        for side in range(2):
            if zg if side == 0 else zp:
                continue
            raw = raw_g if side == 0 else raw_p
            c = k[side]
            ok = _row(
                np.int64(raw[off]),
                raw[off + 1 : off + 1 + s],
                w,
                bpp,
                E8,
                E,
                bm,
                B8[side, c],
                D8[side, c],
                B8[side, 1 - c],
                D8[side, 1 - c],
            )
            if not ok:
                return keys, counts, used, y, side
            k[side] = 1 - c
        q1 = 1 - q
        n1 = _row_runs(B8[0, k[0]], B8[1, k[1]], D[0, k[0]], D[1, k[1]], bm, w, bpp, RK[q1], RC[q1])
        cap = keys.shape[0]
        keys, counts = ensure_room(keys, counts, used, n1)
        pn = n if keys.shape[0] == cap else 0  # a grown table moved the slots
        used += _add_runs(keys, counts, RK[q1], RC[q1], n1, SL[q1], RK[q], SL[q], pn)
        q = q1
        n = n1
    return keys, counts, used, -1, 0


def pair_keys_png(
    raw_gt: np.ndarray, bpp_gt: int, raw_pred: np.ndarray, bpp_pred: int, h: int, w: int, capacity: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Fused pass over two inflated PNGs of the same size: sorted unique keys
    ``gt_id * 2**24 + pred_id`` (uint64) and their pixel counts (int64).

    Raises ValueError naming ``gt``/``pred`` and the row on an unknown filter type.
    """
    raw_gt = _check_raw(raw_gt, h, w, bpp_gt)
    raw_pred = _check_raw(raw_pred, h, w, bpp_pred)
    keys, counts = new_table(capacity)
    if bpp_gt == bpp_pred:  # the usual case
        keys, counts, _, bad_row, which = _pair_rows_kernel(
            raw_gt, raw_pred, np.int64(h), np.int64(w), np.int64(bpp_gt), keys, counts
        )
    else:
        keys, counts, _, bad_row, which = _pair_png_kernel(
            raw_gt, np.int64(bpp_gt), raw_pred, np.int64(bpp_pred), np.int64(h), np.int64(w), keys, counts
        )
    if bad_row >= 0:
        side = "prediction" if which else "GT"
        raise ValueError(f"{side} PNG row {bad_row}: unknown filter type")
    return compact(keys, counts)


__all__ = ["decode_gray", "decode_ids", "pair_keys_png", "unfilter"]
