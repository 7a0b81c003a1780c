"""The PNG encoder of fused id maps (numba): Up-filtered scanlines and their zlib stream.

``png_up_rows`` builds the PNG scanlines (filter byte 2 = Up, then the RGB residuals) of an
(H, W) uint32 id map; ``png_idat`` writes their zlib stream straight from the id map: one
fixed-Huffman deflate block (RFC 1951) whose matches repeat the previous residual pixel
(distance 3) or the previous zero byte (distance 1). Pixels equal to the one above are zero
residuals, so a panoptic map becomes a few symbols per row: several times faster than a
general encoder. ``png_idat_runs`` writes the same bytes from the id map's runs along its rows
(as :func:`rapkit.kernels.fusion.compose` returns them), in time proportional to the runs, not
the pixels. Used by :mod:`rapkit.io.png_write`; Python twins:
:mod:`rapkit.kernels._reference_png_encode`.
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit
from .deflate import ADLER_MOD, FIXED_TABLES

__all__ = ["png_idat", "png_idat_runs", "png_up_rows", "row_runs"]


def _check_ids(ids: np.ndarray) -> None:
    if not isinstance(ids, np.ndarray) or ids.dtype != np.uint32 or ids.ndim != 2 or not ids.flags.c_contiguous:
        raise ValueError("ids must be a C-contiguous 2-D uint32 array")


@njit
def _png_up_rows(ids):
    h, w = ids.shape
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    for y in range(h):
        r = rows[y]
        cur = ids[y]
        r[0] = 2
        if y == 0:
            for x in range(w):
                v = cur[x]
                r[1 + 3 * x] = v & 255
                r[2 + 3 * x] = (v >> 8) & 255
                r[3 + 3 * x] = (v >> 16) & 255
        else:
            prev = ids[y - 1]
            for x in range(w):
                v = cur[x]
                u = prev[x]
                r[1 + 3 * x] = ((v & 255) - (u & 255)) & 255
                r[2 + 3 * x] = (((v >> 8) & 255) - ((u >> 8) & 255)) & 255
                r[3 + 3 * x] = (((v >> 16) & 255) - ((u >> 16) & 255)) & 255
    return rows


def png_up_rows(ids: np.ndarray) -> np.ndarray:
    """PNG scanlines (filter byte 2 = Up, then RGB residuals) of an (H, W) uint32 id map.

    >>> png_up_rows(np.array([[1], [3]], np.uint32)).tolist()
    [[2, 1, 0, 0], [2, 2, 0, 0]]
    """
    _check_ids(ids)
    return _png_up_rows(ids)


@njit(inline="always")
def _bits(out, st, value, n):
    # st: [byte position, bit count, accumulator]
    st[2] |= value << st[1]
    st[1] += n
    while st[1] >= 8:
        out[st[0]] = st[2] & 255
        st[0] += 1
        st[2] >>= 8
        st[1] -= 8


@njit(inline="always")
def _lit(out, st, ad, codes, lens, v):
    _bits(out, st, codes[v], lens[v])
    ad[0] = (ad[0] + v) % ADLER_MOD
    ad[1] = (ad[1] + ad[0]) % ADLER_MOD


@njit(inline="always")
def _repeat(out, st, ad, codes, lens, lsym, lext, lval, t0, t1, t2, n, dist_bits):
    """n (a multiple of 3) more bytes repeating (t0, t1, t2), as matches of <= 258 bytes."""
    k = n // 3
    w0 = (k * n - 3 * (k * (k - 1) // 2)) % ADLER_MOD
    w1 = (w0 - k) % ADLER_MOD
    w2 = (w0 - 2 * k) % ADLER_MOD
    ad[1] = (ad[1] + (n % ADLER_MOD) * ad[0] + t0 * w0 + t1 * w1 + t2 * w2) % ADLER_MOD
    ad[0] = (ad[0] + k * (t0 + t1 + t2)) % ADLER_MOD
    while n > 0:
        m = n if n < 258 else 258
        if n - m == 1 or n - m == 2:
            m = n - 3
        s = lsym[m]
        _bits(out, st, codes[s], lens[s])
        if lext[m] > 0:
            _bits(out, st, lval[m], lext[m])
        _bits(out, st, dist_bits, 5)
        n -= m


@njit(inline="always")
def _bytediff(v, u):
    """Byte-wise (v - u) mod 256 of the three low bytes of two uint32 ids, packed."""
    v = np.uint32(v)
    u = np.uint32(u)
    r = ((v | np.uint32(0x80808080)) - (u & np.uint32(0x7F7F7F7F))) ^ ((v ^ ~u) & np.uint32(0x80808080))
    return r & np.uint32(0xFFFFFF)


@njit
def _png_idat(ids, codes, lens, lsym, lext, lval):
    h, w = ids.shape
    out = np.empty((h * (1 + 3 * w) * 9) // 8 + 64, np.uint8)
    st = np.zeros(3, np.int64)
    ad = np.zeros(2, np.int64)
    ad[0] = 1
    out[0] = 0x78
    out[1] = 0x01
    st[0] = 2
    _bits(out, st, 3, 3)  # BFINAL = 1, BTYPE = 01 (fixed Huffman)
    last = -1
    for y in range(h):
        cur = ids[y]
        prev = ids[y - 1] if y > 0 else ids[y]
        _lit(out, st, ad, codes, lens, 2)  # filter type Up
        last = 2
        x = 0
        while x < w:
            d = _bytediff(cur[x], prev[x]) if y > 0 else cur[x] & np.uint32(0xFFFFFF)
            k = 1
            if y > 0 and d == 0:  # the common case: pixels equal to the ones above
                while x + k < w and cur[x + k] == prev[x + k]:
                    k += 1
            elif y > 0:
                while x + k < w and _bytediff(cur[x + k], prev[x + k]) == d:
                    k += 1
            else:
                while x + k < w and (cur[x + k] & np.uint32(0xFFFFFF)) == d:
                    k += 1
            t0 = np.int64(d & 255)
            t1 = np.int64((d >> 8) & 255)
            t2 = np.int64((d >> 16) & 255)
            if t0 == 0 and t1 == 0 and t2 == 0 and last == 0:
                _repeat(out, st, ad, codes, lens, lsym, lext, lval, 0, 0, 0, 3 * k, 0)  # distance 1
            else:
                _lit(out, st, ad, codes, lens, t0)
                _lit(out, st, ad, codes, lens, t1)
                _lit(out, st, ad, codes, lens, t2)
                if k > 1:
                    _repeat(out, st, ad, codes, lens, lsym, lext, lval, t0, t1, t2, 3 * (k - 1), 8)  # distance 3
            last = t2
            x += k
    _bits(out, st, 0, 7)  # end of block (symbol 256)
    if st[1] > 0:
        _bits(out, st, 0, 8 - st[1])
    p = st[0]
    adler = (ad[1] << 16) | ad[0]
    out[p] = (adler >> 24) & 255
    out[p + 1] = (adler >> 16) & 255
    out[p + 2] = (adler >> 8) & 255
    out[p + 3] = adler & 255
    return out[: p + 4].copy()


def png_idat(ids: np.ndarray) -> np.ndarray:
    """The zlib-compressed, Up-filtered PNG image data of an (H, W) uint32 id map (RGB, 8 bit).

    ``zlib.decompress`` of the result equals ``png_up_rows(ids).tobytes()``.

    >>> import zlib
    >>> ids = np.array([[1, 1, 1], [1, 1, 2]], np.uint32)
    >>> zlib.decompress(png_idat(ids).tobytes()) == png_up_rows(ids).tobytes()
    True
    """
    _check_ids(ids)
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError("id map must not be empty")
    return _png_idat(ids, *FIXED_TABLES)


@njit
def _png_idat_runs(row_ptr, run_x, run_v, w, codes, lens, lsym, lext, lval):
    h = row_ptr.shape[0] - 1
    out = np.empty((h * (1 + 3 * w) * 9) // 8 + 64, np.uint8)
    st = np.zeros(3, np.int64)
    ad = np.zeros(2, np.int64)
    ad[0] = 1
    out[0] = 0x78
    out[1] = 0x01
    st[0] = 2
    _bits(out, st, 3, 3)  # BFINAL = 1, BTYPE = 01 (fixed Huffman)
    last = -1
    mask = np.uint32(0xFFFFFF)
    for y in range(h):
        _lit(out, st, ad, codes, lens, 2)  # filter type Up
        last = 2
        # a: the run of this row holding x; b: the run of the row above holding x
        a = row_ptr[y]
        a_stop = row_ptr[y + 1]
        b = row_ptr[y - 1] if y > 0 else a
        b_stop = row_ptr[y] if y > 0 else a_stop
        x = 0
        while x < w:
            ea = run_x[a + 1] if a + 1 < a_stop else w
            eb = run_x[b + 1] if b + 1 < b_stop else w
            d = _bytediff(run_v[a], run_v[b]) if y > 0 else run_v[a] & mask
            e = min(ea, eb)
            while e < w:  # the residual stays d across run boundaries: one segment
                if ea == e:
                    a += 1
                    ea = run_x[a + 1] if a + 1 < a_stop else w
                if eb == e:
                    b += 1
                    eb = run_x[b + 1] if b + 1 < b_stop else w
                d2 = _bytediff(run_v[a], run_v[b]) if y > 0 else run_v[a] & mask
                if d2 != d:
                    break
                e = min(ea, eb)
            k = e - x
            t0 = np.int64(d & 255)
            t1 = np.int64((d >> 8) & 255)
            t2 = np.int64((d >> 16) & 255)
            if t0 == 0 and t1 == 0 and t2 == 0 and last == 0:
                _repeat(out, st, ad, codes, lens, lsym, lext, lval, 0, 0, 0, 3 * k, 0)  # distance 1
            else:
                _lit(out, st, ad, codes, lens, t0)
                _lit(out, st, ad, codes, lens, t1)
                _lit(out, st, ad, codes, lens, t2)
                if k > 1:
                    _repeat(out, st, ad, codes, lens, lsym, lext, lval, t0, t1, t2, 3 * (k - 1), 8)  # distance 3
            last = t2
            x = e
    _bits(out, st, 0, 7)  # end of block (symbol 256)
    if st[1] > 0:
        _bits(out, st, 0, 8 - st[1])
    p = st[0]
    adler = (ad[1] << 16) | ad[0]
    out[p] = (adler >> 24) & 255
    out[p + 1] = (adler >> 16) & 255
    out[p + 2] = (adler >> 8) & 255
    out[p + 3] = adler & 255
    return out[: p + 4].copy()


def row_runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row_ptr, run_x, run_v)``: the maximal runs of equal ids along each row of an (H, W)
    id map (numpy; the fusion kernel's compose returns them directly).

    >>> [a.tolist() for a in row_runs(np.array([[1, 1, 2], [3, 3, 3]], np.uint32))]
    [[0, 2, 3], [0, 2, 0], [1, 2, 3]]
    """
    _check_ids(ids)
    h, w = ids.shape
    start = np.ones((h, w), bool)
    start[:, 1:] = ids[:, 1:] != ids[:, :-1]
    ys, xs = np.nonzero(start)
    row_ptr = np.zeros(h + 1, np.int64)
    row_ptr[1:] = np.cumsum(start.sum(axis=1))
    return row_ptr, xs.astype(np.int64), ids[ys, xs].astype(np.uint32)


def png_idat_runs(
    row_ptr: np.ndarray, run_x: np.ndarray, run_v: np.ndarray, width: int, *, check: bool = True
) -> np.ndarray:
    """:func:`png_idat` of the id map given as runs along its rows (see :func:`row_runs`):
    the same bytes. Each row's runs must start at column 0, ascend, and stay below ``width``;
    ids must be below 2**24. ``check=False`` skips the scans of the runs that check this (for
    runs a kernel made, :func:`rapkit.kernels.fusion.compose`: the dtypes are still checked).

    >>> ids = np.array([[1, 1, 2], [1, 3, 3]], np.uint32)
    >>> bool(np.array_equal(png_idat_runs(*row_runs(ids), 3), png_idat(ids)))
    True
    """
    if row_ptr.dtype != np.int64 or row_ptr.ndim != 1 or row_ptr.shape[0] < 2:
        raise ValueError("row_ptr must be a 1-D int64 array with H + 1 entries (H > 0)")
    if run_x.dtype != np.int64 or run_v.dtype != np.uint32 or run_x.shape != run_v.shape or run_x.ndim != 1:
        raise ValueError("run_x (int64) and run_v (uint32) must be 1-D arrays of one length")
    if width <= 0:
        raise ValueError("width must be positive")
    n = run_x.shape[0]
    if not check:
        pass
    elif row_ptr[0] != 0 or row_ptr[-1] != n or np.any(np.diff(row_ptr) <= 0):
        raise ValueError("row_ptr must rise from 0 to the number of runs, each row with a run")
    elif run_x[row_ptr[:-1]].any():
        raise ValueError("each row's first run must start at column 0")
    else:
        step = np.diff(run_x)
        step[row_ptr[1:-1] - 1] = 1  # row boundaries
        if np.any(step <= 0) or int(run_x.max()) >= width:
            raise ValueError("runs must ascend within a row and start below width")
        if n and int(run_v.max()) >= 1 << 24:
            raise ValueError("panoptic ids must lie in [0, 2**24)")
    return _png_idat_runs(
        np.ascontiguousarray(row_ptr),
        np.ascontiguousarray(run_x),
        np.ascontiguousarray(run_v),
        np.int64(width),
        *FIXED_TABLES,
    )
