"""Python twins of :mod:`rapkit.kernels.png_encode` (numpy and the standard library only).

``ref_png_idat`` emits the same deflate symbols as the kernel, one by one, and packs them
into bits in Python; ``ref_png_up_rows`` filters with whole-array numpy.

>>> import zlib
>>> ids = np.array([[1, 1], [1, 2]], np.uint32)
>>> zlib.decompress(ref_png_idat(ids).tobytes()) == ref_png_up_rows(ids).tobytes()
True
"""

from __future__ import annotations

import zlib

import numpy as np

from .deflate import FIXED_TABLES

__all__ = ["ref_png_idat", "ref_png_idat_runs", "ref_png_up_rows", "ref_runs_to_ids"]


def ref_png_up_rows(ids: np.ndarray) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png_encode.png_up_rows`."""
    h, w = ids.shape
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], -1).astype(np.uint8).reshape(h, 3 * w)
    res = rgb.copy()
    res[1:] = rgb[1:] - rgb[:-1]  # uint8 arithmetic wraps mod 256
    return np.concatenate([np.full((h, 1), 2, np.uint8), res], axis=1)


def ref_png_idat(ids: np.ndarray) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png_encode.png_idat` (same symbols, same bytes), in Python."""
    codes, lens, lsym, lext, lval = (t.tolist() for t in FIXED_TABLES)
    bits: list[tuple[int, int]] = [(3, 3)]  # BFINAL, fixed Huffman

    def lit(v: int) -> None:
        bits.append((codes[v], lens[v]))

    def repeat(n: int, dist_bits: int) -> None:
        while n > 0:
            m = min(n, 258)
            if n - m in (1, 2):
                m = n - 3
            bits.append((codes[lsym[m]], lens[lsym[m]]))
            if lext[m]:
                bits.append((lval[m], lext[m]))
            bits.append((dist_bits, 5))
            n -= m

    h, w = ids.shape
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], -1).astype(np.int64)
    res = rgb.copy()
    res[1:] = (rgb[1:] - rgb[:-1]) % 256
    last = -1
    for y in range(h):
        lit(2)
        last = 2
        trip = [tuple(int(v) for v in res[y, x]) for x in range(w)]
        x = 0
        while x < w:
            d = trip[x]
            k = 1
            while x + k < w and trip[x + k] == d:
                k += 1
            if d == (0, 0, 0) and last == 0:
                repeat(3 * k, 0)
            else:
                for v in d:
                    lit(v)
                if k > 1:
                    repeat(3 * (k - 1), 8)
            last = d[2]
            x += k
    bits.append((0, 7))
    acc = nb = 0
    out = bytearray(b"\x78\x01")
    for value, n in bits:
        acc |= value << nb
        nb += n
        while nb >= 8:
            out.append(acc & 255)
            acc >>= 8
            nb -= 8
    if nb:
        out.append(acc & 255)
    raw = ref_png_up_rows(ids.astype(np.uint32)).tobytes()
    out += zlib.adler32(raw).to_bytes(4, "big")
    return np.frombuffer(bytes(out), np.uint8)


def ref_runs_to_ids(row_ptr: np.ndarray, run_x: np.ndarray, run_v: np.ndarray, width: int) -> np.ndarray:
    """The (H, W) id map of runs along rows (``(row_ptr, run_x, run_v)``)."""
    h = row_ptr.shape[0] - 1
    ids = np.zeros((h, width), np.uint32)
    for y in range(h):
        lo, hi = int(row_ptr[y]), int(row_ptr[y + 1])
        ends = list(run_x[lo + 1 : hi]) + [width]
        for r, e in zip(range(lo, hi), ends):
            ids[y, run_x[r] : e] = run_v[r]
    return ids


def ref_png_idat_runs(row_ptr: np.ndarray, run_x: np.ndarray, run_v: np.ndarray, width: int) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png_encode.png_idat_runs`: the runs' id map, encoded."""
    return ref_png_idat(ref_runs_to_ids(row_ptr, run_x, run_v, width))
