"""numba kernel of PQ over a chunk of images: PNG bytes in, PQ counts and matched pairs out.

:func:`pq_png_chunk` takes the bytes of a chunk's GT and prediction PNGs (one buffer, read
by :func:`rapkit.io.png.read_pair_bytes`) and, image after image and without the GIL:

1. parses the PNG chunks (signature, IHDR, the CRC of every chunk before the image data,
   IDAT gathered, IEND) as :func:`rapkit.io.png.parse_png` does;
2. inflates the image data with libdeflate's ``libdeflate_zlib_decompress``, the function
   the ``deflate`` package calls, through its address (:func:`rapkit._runtime.ccall.call_int32`);
3. unfilters both PNGs' rows and counts their (GT id, predicted id) pixel pairs
   (the fused kernel of :mod:`rapkit.kernels.pq`);
4. matches the segments and adds the image's TP/FP/FN (:func:`rapkit.kernels.pq_match.match_image`).

An image any step declines (a PNG the fast path does not read: another pixel format, a
broken file, undecodable data, a bad filter byte, two sizes; an RGB PNG beside an RGBA one,
rare, which the per-image kernel reads; or a matching problem
panopticapi would crash on) gets status 1 and adds nothing: the caller reads it the
per-image way, which decodes it with PIL or words the precise error. Python sees the chunk,
not the image.

Twin: :func:`rapkit.kernels._reference_pq_chunk.ref_pq_png_chunk`.

>>> import numpy as np
>>> libdeflate_zlib_decompress() is None or libdeflate_zlib_decompress()[0] > 0
True
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any

import numpy as np
from deflate import _deflate

from .._runtime.ccall import call_int32
from .._runtime.jit import njit
from .hashtable import EMPTY_KEY
from .pq import _pair_rows_kernel
from .pq_match import _argsort_stable, match_image

#: the PNG signature
_SIG = (137, 80, 78, 71, 13, 10, 26, 10)
# chunk types as big-endian 32-bit numbers
_IHDR = 0x49484452
_IDAT = 0x49444154
_IEND = 0x49454E44


@cache
def libdeflate_zlib_decompress() -> tuple[int, Any, Any] | None:
    """``(address of libdeflate_zlib_decompress, alloc_decompressor, free_decompressor)`` of
    the libdeflate inside the ``deflate`` package (the inflate ``rapkit.io.png`` uses), or
    None when that build does not export them (the per-image path then runs)."""
    try:
        lib = ctypes.CDLL(_deflate.__file__)
        alloc, free = lib.libdeflate_alloc_decompressor, lib.libdeflate_free_decompressor
        fn = lib.libdeflate_zlib_decompress
    except (OSError, AttributeError):
        return None
    alloc.restype, alloc.argtypes = ctypes.c_void_p, []
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0), alloc, free


@njit
def _be32(b: np.ndarray, i: np.int64) -> np.int64:
    return (np.int64(b[i]) << 24) | (np.int64(b[i + 1]) << 16) | (np.int64(b[i + 2]) << 8) | np.int64(b[i + 3])


@njit
def _crc32(b: np.ndarray, lo: np.int64, hi: np.int64) -> np.int64:
    """zlib's CRC-32 of ``b[lo:hi]`` (bit by bit: only the few small chunks before IDAT)."""
    c = np.int64(0xFFFFFFFF)
    for i in range(lo, hi):
        c ^= np.int64(b[i])
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ 0xEDB88320
            else:
                c >>= 1
    return c ^ 0xFFFFFFFF


@njit
def _parse(b: np.ndarray, lo: np.int64, hi: np.int64, hdr: np.ndarray) -> bool:
    """Parse the PNG ``b[lo:hi]`` as :func:`rapkit.io.png.parse_png`; False where that
    returns None. ``hdr``: width, height, bit depth, colour type, interlace, number of IDAT
    chunks, the first one's start (in ``b``) and the IDAT bytes in all."""
    n = hi - lo
    if n < 8:
        return False
    for k in range(8):
        if b[lo + k] != _SIG[k]:
            return False
    pos = np.int64(8)
    have = False
    n_idat = 0
    first = 0
    total = 0
    w = h = depth = ctype = comp = filt = inter = 0
    while pos + 8 <= n:
        length = _be32(b, lo + pos)
        kind = _be32(b, lo + pos + 4)
        start = pos + 8
        end = start + length
        if end + 4 > n:
            return False
        if kind == _IDAT:
            if n_idat == 0:
                first = lo + start
            n_idat += 1
            total += length
        elif n_idat == 0 and _crc32(b, lo + pos + 4, lo + end) != _be32(b, lo + end):
            return False
        elif kind == _IHDR:
            if length != 13:
                return False
            s = lo + start
            w = _be32(b, s)
            h = _be32(b, s + 4)
            depth, ctype, comp, filt, inter = b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12]
            have = True
        elif kind == _IEND:
            break
        pos = end + 4
    if not have or n_idat == 0 or comp != 0 or filt != 0 or w == 0 or h == 0:
        return False
    hdr[0], hdr[1], hdr[2], hdr[3], hdr[4] = w, h, depth, ctype, inter
    hdr[5], hdr[6], hdr[7] = n_idat, first, total
    return True


@njit
def _gather_idat(b: np.ndarray, lo: np.int64, hi: np.int64, out: np.ndarray) -> None:
    """The IDAT chunks of the (parsed) PNG ``b[lo:hi]`` one after the other into ``out``."""
    pos = np.int64(8)
    at = 0
    while pos + 8 <= hi - lo:
        length = _be32(b, lo + pos)
        kind = _be32(b, lo + pos + 4)
        start = lo + pos + 8
        if kind == _IDAT:
            out[at : at + length] = b[start : start + length]
            at += length
        elif kind == _IEND:
            break
        pos += 12 + length


@njit
def _inflate(
    b: np.ndarray, lo: np.int64, hi: np.int64, hdr: np.ndarray, fn: np.int64, dec: np.int64, out: np.ndarray, tmp: Any
) -> tuple:
    """Inflate the parsed PNG's image data into ``out[:size]`` (``size``: rows with their
    filter bytes); ``(ok, out, tmp)``, the two scratch buffers grown as needed."""
    bpp = 4 if hdr[3] == 6 else 3
    size = hdr[1] * (1 + hdr[0] * bpp)
    if out.shape[0] < size:
        out = np.empty(size, np.uint8)
    if hdr[5] == 1:
        src = b[hdr[6] : hdr[6] + hdr[7]]
    else:
        if tmp.shape[0] < hdr[7]:
            tmp = np.empty(hdr[7], np.uint8)
        _gather_idat(b, lo, hi, tmp)
        src = tmp[: hdr[7]]
    got = np.zeros(1, np.uint64)
    r = call_int32(fn, (dec, src.ctypes.data, np.int64(hdr[7]), out.ctypes.data, size, got.ctypes.data))
    return r == 0 and got[0] == size, out, tmp


@njit
def _compact(keys: np.ndarray, counts: np.ndarray) -> tuple:
    """The table's keys in ascending order and their counts (keys < 2**48: sorted as int64
    by the matcher's merge sort, one sort routine in the kernel)."""
    sel = keys != EMPTY_KEY
    order, k = _argsort_stable(keys[sel].view(np.int64))
    return k.view(np.uint64), counts[sel][order]


@njit
def _chunk_kernel(
    buf: np.ndarray,
    offs: np.ndarray,
    fn: np.int64,
    dec: np.int64,
    g_off: np.ndarray,
    g_id: np.ndarray,
    g_cat: np.ndarray,
    g_area: np.ndarray,
    g_crowd: np.ndarray,
    p_off: np.ndarray,
    p_id: np.ndarray,
    p_cat: np.ndarray,
    known: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn_: np.ndarray,
    crowd_of: np.ndarray,
    status: np.ndarray,
    n_matched: np.ndarray,
) -> tuple:
    n = status.shape[0]
    hg = np.zeros(8, np.int64)
    hp = np.zeros(8, np.int64)
    rg = np.empty(0, np.uint8)
    rp = np.empty(0, np.uint8)
    tmp = np.empty(0, np.uint8)
    m_cat = np.empty(64, np.int64)
    m_iou = np.empty(64, np.float64)
    used = 0
    for j in range(n):
        n_matched[j] = 0
        if status[j] != 0:  # left to the caller
            continue
        status[j] = 1
        a, m, z = offs[2 * j], offs[2 * j + 1], offs[2 * j + 2]
        if not (_parse(buf, a, m, hg) and _parse(buf, m, z, hp)):
            continue
        if hg[2] != 8 or hp[2] != 8 or hg[4] != 0 or hp[4] != 0:
            continue
        if not ((hg[3] == 2 or hg[3] == 6) and (hp[3] == 2 or hp[3] == 6)):
            continue
        if hg[0] != hp[0] or hg[1] != hp[1] or hg[3] != hp[3]:
            continue  # two sizes (an error to word), or RGB beside RGBA (rare: the per-image kernel)
        ok, rg, tmp = _inflate(buf, a, m, hg, fn, dec, rg, tmp)
        if not ok:
            continue
        ok, rp, tmp = _inflate(buf, m, z, hp, fn, dec, rp, tmp)
        if not ok:
            continue
        w, h = hg[0], hg[1]
        bpp = 4 if hg[3] == 6 else 3
        keys = np.full(256, EMPTY_KEY, np.uint64)
        counts = np.zeros(256, np.int64)
        size = h * (1 + w * bpp)
        keys, counts, _, bad_row, _ = _pair_rows_kernel(rg[:size], rp[:size], h, w, np.int64(bpp), keys, counts)
        if bad_row >= 0:
            continue
        keys, counts = _compact(keys, counts)
        if m_cat.shape[0] < used + keys.shape[0]:
            cap = max(2 * m_cat.shape[0], used + keys.shape[0])
            mc = np.empty(cap, np.int64)
            mi = np.empty(cap, np.float64)
            mc[:used] = m_cat[:used]
            mi[:used] = m_iou[:used]
            m_cat, m_iou = mc, mi
        g0, g1, p0, p1 = g_off[j], g_off[j + 1], p_off[j], p_off[j + 1]
        st, nm = match_image(
            keys,
            counts,
            g_id[g0:g1],
            g_cat[g0:g1],
            g_area[g0:g1],
            g_crowd[g0:g1],
            p_id[p0:p1],
            p_cat[p0:p1],
            known,
            tp,
            fp,
            fn_,
            crowd_of,
            m_cat[used:],
            m_iou[used:],
        )
        if st != 0:
            continue
        status[j] = 0
        n_matched[j] = nm
        used += nm
    return m_cat[:used], m_iou[:used]


def pq_png_chunk(
    buf: np.ndarray,
    offs: np.ndarray,
    table: Any,
    status: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    crowd_of: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """PQ of a chunk of images from their PNG bytes: image ``j``'s GT PNG is
    ``buf[offs[2j]:offs[2j+1]]``, its prediction ``buf[offs[2j+1]:offs[2j+2]]``; its segments
    are image ``j`` of ``table`` (a :class:`rapkit.core.pq_arrays.PairTable`).

    ``status`` (int64, one per image) holds 0 for an image to count here and 1 for one to
    leave (its values are beyond the arrays); on return, 0 for each image counted and 1 for
    each image left (nothing added: read it the per-image way). TP/FP/FN are added to ``tp``/``fp``/``fn`` per category index (``crowd_of``: -1 scratch,
    as :func:`rapkit.kernels.pq_match.match_image`). Returns ``(n_matched, m_cat, m_iou)``:
    per image its number of matched pairs, and the matched pairs' category indices and IoUs, image
    after image in (GT id, predicted id) order. None when libdeflate cannot be called.
    """
    lib = libdeflate_zlib_decompress()
    if lib is None or lib[0] == 0:
        return None
    addr, alloc, free = lib
    n_matched = np.zeros(status.shape[0], np.int64)
    dec = alloc()
    if not dec:
        return None
    try:
        m_cat, m_iou = _chunk_kernel(
            buf,
            offs,
            np.int64(addr),
            np.int64(dec),
            table.g_off,
            table.g_id,
            table.g_cat,
            table.g_area,
            table.g_crowd,
            table.p_off,
            table.p_id,
            table.p_cat,
            table.known,
            tp,
            fp,
            fn,
            crowd_of,
            status,
            n_matched,
        )
    finally:
        free(dec)
    return n_matched, m_cat, m_iou


def load_chunk_kernel() -> None:
    """Load (or compile) the chunk kernel for the argument types :func:`pq_png_chunk`
    passes, by calling it on a chunk of no images: ``rapkit evaluate`` does this in a thread
    while the calling thread reads the JSON files (numba's import and the cached kernel's
    load overlap the parse where either releases the GIL).

    >>> load_chunk_kernel()
    """
    z = np.zeros(0, np.int64)
    buf = np.frombuffer(b"", np.uint8)  # read-only, as read_pair_bytes' buffer
    _chunk_kernel(buf, np.zeros(1, np.int64), np.int64(0), np.int64(0), np.zeros(1, np.int64), z, z, z, z,
                  np.zeros(1, np.int64), z, z, np.zeros(0, np.bool_), z, z, z, z, z, z)  # fmt: skip


__all__ = ["libdeflate_zlib_decompress", "load_chunk_kernel", "pq_png_chunk"]
