"""Plain-Python twin of :mod:`rapkit.kernels.pq_chunk`: PQ over a chunk of PNG pairs.

The PNG chunks are parsed with ``struct`` and ``zlib.crc32``, the image data inflated with
``zlib``, the rows unfiltered and counted by :func:`rapkit.kernels._reference_pq.ref_pair_keys_png`
and the segments matched by :func:`rapkit.kernels._reference_pq.ref_match_image`: slow, for
tests and as the executable specification of what the chunk kernel accepts.

>>> ref_parse_png(b"not a png") is None
True
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

from ._reference_pq import ref_match_image, ref_pair_keys_png

_SIG = b"\x89PNG\r\n\x1a\n"


def ref_parse_png(data: bytes) -> tuple[int, int, int, int, int, bytes] | None:
    """``(width, height, bit depth, colour type, interlace, IDAT bytes)`` of a PNG, or None
    where :func:`rapkit.io.png.parse_png` gives None (same rules, written out)."""
    if data[:8] != _SIG:
        return None
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            return None
        if kind == b"IDAT":
            idat.append(data[pos + 8 : end])
        elif not idat and zlib.crc32(data[pos + 4 : end]) != struct.unpack(">I", data[end : end + 4])[0]:
            return None
        elif kind == b"IHDR":
            if length != 13:
                return None
            header = struct.unpack(">IIBBBBB", data[pos + 8 : end])
        elif kind == b"IEND":
            break
        pos = end + 4
    if header is None or not idat:
        return None
    w, h, depth, ctype, comp, filt, inter = header
    if comp != 0 or filt != 0 or w == 0 or h == 0:
        return None
    return w, h, depth, ctype, inter, b"".join(idat)


def ref_inflate(idat: bytes, size: int) -> np.ndarray | None:
    """The zlib stream's ``size`` bytes (bytes after the stream are ignored), or None when
    it is broken or inflates to another size."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(idat, size + 1)
    except zlib.error:
        return None
    if not d.eof or len(out) != size:
        return None
    return np.frombuffer(out, np.uint8)


def _pair(g: bytes, p: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    a, b = ref_parse_png(g), ref_parse_png(p)
    if a is None or b is None:
        return None
    for x in (a, b):
        if x[2] != 8 or x[3] not in (2, 6) or x[4] != 0:
            return None
    if a[:2] != b[:2] or a[3] != b[3]:
        return None
    w, h = a[0], a[1]
    bg, bp = (4 if a[3] == 6 else 3), (4 if b[3] == 6 else 3)
    rg, rp = ref_inflate(a[5], h * (1 + w * bg)), ref_inflate(b[5], h * (1 + w * bp))
    if rg is None or rp is None:
        return None
    try:
        return ref_pair_keys_png(rg, bg, rp, bp, h, w)
    except ValueError:  # a bad filter byte
        return None


def ref_pq_png_chunk(
    buf: np.ndarray,
    offs: np.ndarray,
    table: Any,
    status: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    crowd_of: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.pq_chunk.pq_png_chunk` (same arguments, same side
    effects, same return value)."""
    data = bytes(buf)
    t = table
    n_matched = np.zeros(status.shape[0], np.int64)
    cats: list[np.ndarray] = []
    ious: list[np.ndarray] = []
    for j in range(status.shape[0]):
        if status[j] != 0:
            continue
        status[j] = 1
        hist = _pair(data[offs[2 * j] : offs[2 * j + 1]], data[offs[2 * j + 1] : offs[2 * j + 2]])
        if hist is None:
            continue
        keys, counts = hist
        mc, mi = np.zeros(keys.size, np.int64), np.zeros(keys.size, np.float64)
        g0, g1, p0, p1 = t.g_off[j], t.g_off[j + 1], t.p_off[j], t.p_off[j + 1]
        st, nm = ref_match_image(
            keys,
            counts,
            t.g_id[g0:g1],
            t.g_cat[g0:g1],
            t.g_area[g0:g1],
            t.g_crowd[g0:g1],
            t.p_id[p0:p1],
            t.p_cat[p0:p1],
            t.known,
            tp,
            fp,
            fn,
            crowd_of,
            mc,
            mi,
        )
        if st != 0:
            continue
        status[j] = 0
        n_matched[j] = nm
        cats.append(mc[:nm])
        ious.append(mi[:nm])
    cat = np.concatenate(cats) if cats else np.zeros(0, np.int64)
    iou = np.concatenate(ious) if ious else np.zeros(0, np.float64)
    return n_matched, cat, iou


__all__ = ["ref_inflate", "ref_parse_png", "ref_pq_png_chunk"]
