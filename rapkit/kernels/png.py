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
from numba import njit

from .hashtable import compact, ensure_room, fold_pair_row, insert, new_table, pair_key


@njit(cache=True, nogil=True, inline="always")
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
# predictor is exactly the left byte (p = a + b - c = a, so |p - a| = 0 wins).
# Unsigned indices for the row fold: no wrap-around handling of negative indices.
U1 = np.uint64(1)
U2 = np.uint64(2)
U3 = np.uint64(3)


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _ids3(cur: np.ndarray, ids: np.ndarray) -> None:
    for x in range(ids.shape[0]):
        j = 3 * x
        ids[x] = np.uint32(cur[j]) | (np.uint32(cur[j + 1]) << 8) | (np.uint32(cur[j + 2]) << 16)


@njit(cache=True, nogil=True)
def _ids4(cur: np.ndarray, ids: np.ndarray) -> None:
    for x in range(ids.shape[0]):
        j = 4 * x
        ids[x] = np.uint32(cur[j]) | (np.uint32(cur[j + 1]) << 8) | (np.uint32(cur[j + 2]) << 16)


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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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
    raw = np.ascontiguousarray(raw)
    out = np.empty((h, w), np.uint8)
    hist = np.zeros(256, np.int64)
    bad = _gray_kernel(raw, np.int64(h), np.int64(w), out, hist)
    if bad >= 0:
        raise ValueError(f"row {bad}: unknown PNG filter type {int(raw[bad * (1 + w)])}")
    return out, hist


@njit(cache=True, nogil=True)
def _fold_rgb_rows(
    g: np.ndarray,
    p: np.ndarray,
    keys: np.ndarray,
    counts: np.ndarray,
    run_g: np.uint32,
    run_p: np.uint32,
    run_n: np.int64,
) -> tuple:
    """:func:`rapkit.kernels.hashtable.fold_pair_row` for two unfiltered RGB rows, ids built inline."""
    new = np.int64(0)
    for x in range(g.shape[0] // 3):
        j = 3 * x
        gi = np.uint32(g[j]) | (np.uint32(g[j + 1]) << 8) | (np.uint32(g[j + 2]) << 16)
        pi = np.uint32(p[j]) | (np.uint32(p[j + 1]) << 8) | (np.uint32(p[j + 2]) << 16)
        if gi == run_g and pi == run_p:
            run_n += 1
        else:
            if run_n > 0:
                new += insert(keys, counts, pair_key(run_g, run_p), run_n)
            run_g = gi
            run_p = pi
            run_n = 1
    return run_g, run_p, run_n, new


@njit(cache=True, nogil=True)
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
    # Row by row: unfilter the GT and the prediction row, turn both into id rows, fold the
    # runs of equal (gt, pred) pairs into the hash table. Only a few rows live in memory.
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
        if bpp_g == 3 and bpp_p == 3:  # the usual case: ids built inline, constant strides
            run_g, run_p, run_n, new = _fold_rgb_rows(gcur, pcur, keys, counts, run_g, run_p, run_n)
        else:
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


@njit(cache=True, nogil=True)
def _zero_up_row(ftype: np.int64, src: np.ndarray) -> bool:
    """True when the row is Up-filtered with all residuals zero: it repeats the row above."""
    if ftype != 2:
        return False
    acc = np.uint8(0)
    for i in range(src.shape[0]):
        acc |= src[i]
    return acc == 0


@njit(cache=True, nogil=True)
def _fold_rgb_row(
    g: np.ndarray, p: np.ndarray, keys: np.ndarray, counts: np.ndarray, rk: np.ndarray, rc: np.ndarray
) -> tuple:
    """Fold one pair of unfiltered RGB rows into the table; the row's runs (keys, counts) are
    also written to ``rk``/``rc`` so that a repeated row can add them again. Runs end at the
    row's end. Returns (number of runs, number of new keys)."""
    n = np.uint64(g.shape[0] // 3)
    run_g = np.uint32(g[0]) | (np.uint32(g[1]) << 8) | (np.uint32(g[2]) << 16)
    run_p = np.uint32(p[0]) | (np.uint32(p[1]) << 8) | (np.uint32(p[2]) << 16)
    run_n = np.int64(1)
    nr = np.int64(0)
    new = np.int64(0)
    for x in range(U1, n):
        j = x * U3
        gi = np.uint32(g[j]) | (np.uint32(g[j + U1]) << 8) | (np.uint32(g[j + U2]) << 16)
        pi = np.uint32(p[j]) | (np.uint32(p[j + U1]) << 8) | (np.uint32(p[j + U2]) << 16)
        if gi == run_g and pi == run_p:
            run_n += 1
        else:
            key = pair_key(run_g, run_p)
            new += insert(keys, counts, key, run_n)
            rk[nr] = key
            rc[nr] = run_n
            nr += 1
            run_g = gi
            run_p = pi
            run_n = 1
    key = pair_key(run_g, run_p)
    new += insert(keys, counts, key, run_n)
    rk[nr] = key
    rc[nr] = run_n
    nr += 1
    return nr, new


@njit(cache=True, nogil=True)
def _pair_rgb_kernel(
    raw_g: np.ndarray, raw_p: np.ndarray, h: np.int64, w: np.int64, keys: np.ndarray, counts: np.ndarray
) -> tuple:
    # :func:`_pair_png_kernel` for two RGB PNGs. A row that is Up-filtered with zero residuals
    # in both PNGs repeats the previous pair of rows: it is neither unfiltered nor folded, its
    # runs (kept from the last folded row) are added again, once per streak of repeats.
    s = w * 3
    gbuf = np.zeros((2, s), np.uint8)
    pbuf = np.zeros((2, s), np.uint8)
    gk = 0
    pk = 0
    rk = np.zeros(w, np.uint64)
    rc = np.zeros(w, np.int64)
    nr = np.int64(0)
    rep = np.int64(0)
    used = np.int64(0)
    for y in range(h):
        og = y * (s + 1)
        fg = np.int64(raw_g[og])
        fp = np.int64(raw_p[og])
        src_g = raw_g[og + 1 : og + 1 + s]
        src_p = raw_p[og + 1 : og + 1 + s]
        g_same = y > 0 and _zero_up_row(fg, src_g)
        p_same = y > 0 and _zero_up_row(fp, src_p)
        if g_same and p_same:
            rep += 1
            continue
        if rep > 0:
            for i in range(nr):
                insert(keys, counts, rk[i], rc[i] * rep)  # keys already in the table
            rep = 0
        if not g_same:
            if not _unfilter_row(fg, src_g, gbuf[gk], gbuf[1 - gk], np.int64(3)):
                return keys, counts, used, y, 0
            gk = 1 - gk
        if not p_same:
            if not _unfilter_row(fp, src_p, pbuf[pk], pbuf[1 - pk], np.int64(3)):
                return keys, counts, used, y, 1
            pk = 1 - pk
        keys, counts = ensure_room(keys, counts, used, w + 1)
        nr, new = _fold_rgb_row(gbuf[gk], pbuf[pk], keys, counts, rk, rc)
        used += new
    if rep > 0:
        for i in range(nr):
            insert(keys, counts, rk[i], rc[i] * rep)
    return keys, counts, used, -1, 0


def pair_keys_png(
    raw_gt: np.ndarray, bpp_gt: int, raw_pred: np.ndarray, bpp_pred: int, h: int, w: int, capacity: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Fused pass over two inflated PNGs of the same size: sorted unique keys
    ``gt_id * 2**24 + pred_id`` (uint64) and their pixel counts (int64).

    Raises ValueError naming ``gt``/``pred`` and the row on an unknown filter type.
    """
    raw_gt = _check_raw(raw_gt, h, w, bpp_gt)
    raw_pred = _check_raw(raw_pred, h, w, bpp_pred)
    keys, counts = new_table(capacity)
    if bpp_gt == 3 and bpp_pred == 3:  # the usual case
        keys, counts, _, bad_row, which = _pair_rgb_kernel(raw_gt, raw_pred, np.int64(h), np.int64(w), keys, counts)
    else:
        keys, counts, _, bad_row, which = _pair_png_kernel(
            raw_gt, np.int64(bpp_gt), raw_pred, np.int64(bpp_pred), np.int64(h), np.int64(w), keys, counts
        )
    if bad_row >= 0:
        side = "prediction" if which else "GT"
        raise ValueError(f"{side} PNG row {bad_row}: unknown filter type")
    return compact(keys, counts)


__all__ = ["decode_gray", "decode_ids", "pair_keys_png", "unfilter"]
