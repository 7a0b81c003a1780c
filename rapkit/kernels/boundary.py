"""numba kernel of Boundary PQ (Cheng et al., *Boundary IoU*, CVPR 2021): the boundary band
of every segment of a GT and a predicted id map, and their pixel pairs counted, in one call.

A segment's boundary band at dilation ``d`` (pixels) is what boundary-iou-api's
``mask_to_boundary`` computes with cv2: the segment minus its erosion by ``d`` iterations of
a 3x3 square on the mask padded with one row and column of zeros. That is the pixels of the
segment that have, within Chebyshev distance ``d``, a pixel of another id or a position
outside the image. Every id of a map gets its band in one pass (runs of equal ids along the
rows, then vertical runs of row-interior pixels of the same id).

:func:`band_pair_keys` counts every pixel under the key
``gt * 2**24 + pred | gt_band << 48 | pred_band << 49`` (bit 48: the pixel is on its GT
segment's band, bit 49: on its predicted segment's band); summed over the two flags the
counts are PQ's pair histogram (:func:`rapkit.kernels.pq.pair_keys_maps`), and the flags give
every band area and band intersection Boundary PQ needs
(:func:`rapkit.core.boundary.band_counts`). :func:`band_pair_keys_png` does the same from
the two PNGs' inflated rows, decoding them in the same call (PQ's row filters; the ids and
the row flags written run by run). Twins: :mod:`rapkit.kernels._reference_boundary` (with
``ref_decode_ids`` of :mod:`rapkit.kernels._reference_pq` for the PNGs).

>>> import numpy as np
>>> g = np.ones((3, 3), np.uint32)
>>> k, c = band_pair_keys(g, g, 1)   # a 3x3 segment: its centre is 1 pixel from the border
>>> [(int(x) >> 48, int(n)) for x, n in zip(k, c)]
[(0, 1), (3, 8)]
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit, trailing_zeros
from .hashtable import compact, ensure_room, insert, new_table
from .png import _check_raw
from .pq import _all_zero, _past_pixel, _pixel_of, _row

GT_BAND = np.uint64(1) << np.uint64(48)
PRED_BAND = np.uint64(1) << np.uint64(49)

__all__ = ["GT_BAND", "PRED_BAND", "band_pair_keys", "band_pair_keys_png"]


@njit(inline="always")
def _next_change(words: np.ndarray, s: np.int64) -> np.int64:
    """The first index >= ``s`` whose byte in ``words`` (a uint64 view of one byte per
    pixel, a non-zero byte at the row's end) is not zero: eight pixels per step."""
    i = s >> 3
    word = words[i] & (np.uint64(0xFFFFFFFFFFFFFFFF) << np.uint64(8 * (s & 7)))
    while word == 0:
        i += 1
        word = words[i]
    return i * 8 + (np.int64(trailing_zeros(word)) >> 3)


@njit
def _row_flags(row: np.ndarray, d: np.int64, r: np.ndarray, chg: np.ndarray, words: np.ndarray) -> None:
    """``r[x] = 1`` where the row window ``x - d .. x + d`` lies inside the row and holds
    only ``row[x]``, else 0 (``chg``/``words``: a scratch byte row and its uint64 view,
    1 at index 0 and past the row)."""
    w = row.shape[0]
    for x in range(w):
        r[x] = 0
    for x in range(1, w):
        chg[x] = np.uint8(row[x] != row[x - 1])
    s = np.int64(0)
    while s < w:  # runs [s, e) of one id
        e = _next_change(words, s + 1)
        for c in range(s + d, e - d):
            r[c] = 1
        s = e


@njit
def _vertical(ids: np.ndarray, d: np.int64, out: np.ndarray) -> None:
    """``out`` holds the row flags of every row (:func:`_row_flags`); it becomes
    ``out[y, x] = 1`` where the (2d+1) x (2d+1) window around (y, x) lies inside the image
    and holds only ``ids[y, x]``, else 0: vertical runs of row-interior pixels of one id."""
    h, w = ids.shape
    cnt = np.zeros(w, np.int32)
    span = np.int32(2 * d + 1)
    for y in range(h):
        r = out[y]
        if y == 0:
            for x in range(w):
                cnt[x] = np.int32(r[x])
        else:
            row = ids[y]
            up = ids[y - 1]
            for x in range(w):  # branch-free: vectorised
                cnt[x] = np.int32(r[x]) * (cnt[x] * np.int32(up[x] == row[x]) + np.int32(1))
        if y >= 2 * d:  # row y - d has been read: it takes its result
            o = out[y - d]
            for x in range(w):
                o[x] = np.uint8(cnt[x] >= span)
    for y in range(h):  # within d of the top or bottom edge: never interior
        if y < d or y >= h - d:
            o = out[y]
            for x in range(w):
                o[x] = 0


@njit
def _histogram(
    g: np.ndarray, p: np.ndarray, gin: np.ndarray, pin: np.ndarray, keys: np.ndarray, counts: np.ndarray
) -> tuple:
    """Every pixel counted under ``gt << 24 | pred | gt_band << 48 | pred_band << 49``
    (band = not interior), runs of one key along a row inserted once."""
    h, w = g.shape
    chg = np.ones(((w + 8) // 8) * 8, np.uint8)
    words = chg.view(np.uint64)
    used = np.int64(0)
    for y in range(h):
        keys, counts = ensure_room(keys, counts, used, w + 1)
        gr = g[y]
        pr = p[y]
        gi = gin[y]
        pi = pin[y]
        for x in range(1, w):
            chg[x] = np.uint8((gr[x] != gr[x - 1]) | (pr[x] != pr[x - 1]) | (gi[x] != gi[x - 1]) | (pi[x] != pi[x - 1]))
        s = np.int64(0)
        while s < w:
            e = _next_change(words, s + 1)
            k = (np.uint64(gr[s]) << np.uint64(24)) | np.uint64(pr[s])
            if gi[s] == 0:
                k |= GT_BAND
            if pi[s] == 0:
                k |= PRED_BAND
            used += insert(keys, counts, k, e - s)
            s = e
    return keys, counts, used


@njit
def _band_keys_kernel(g: np.ndarray, p: np.ndarray, d: np.int64, keys: np.ndarray, counts: np.ndarray) -> tuple:
    h, w = g.shape
    flags = np.empty((2, h, w), np.uint8)
    chg = np.ones(((w + 8) // 8) * 8, np.uint8)
    words = chg.view(np.uint64)
    for side in range(2):
        ids = g if side == 0 else p
        f = flags[side]
        for y in range(h):
            _row_flags(ids[y], d, f[y], chg, words)
        _vertical(ids, d, f)
    return _histogram(g, p, flags[0], flags[1], keys, counts)


def band_pair_keys(
    gt_map: np.ndarray, pred_map: np.ndarray, dilation: int, capacity: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys ``gt * 2**24 + pred | gt_band << 48 | pred_band << 49`` of two
    (H, W) uint32 id maps and their pixel counts; bands at ``dilation`` (>= 1) pixels."""
    for name, a in (("gt_map", gt_map), ("pred_map", pred_map)):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint32 or a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D uint32 array")
    if gt_map.shape != pred_map.shape:
        raise ValueError(f"id maps differ in shape: {gt_map.shape} vs {pred_map.shape}")
    if gt_map.size and max(int(gt_map.max()), int(pred_map.max())) >= 1 << 24:
        raise ValueError("ids must be < 2**24")
    if int(dilation) < 1:
        raise ValueError(f"dilation must be >= 1 pixel, got {dilation}")
    keys, counts = new_table(capacity)
    keys, counts, _ = _band_keys_kernel(
        np.ascontiguousarray(gt_map), np.ascontiguousarray(pred_map), np.int64(dilation), keys, counts
    )
    return compact(keys, counts)


# --------------------------------------------------------------------------- from PNG rows


@njit
def _decode_flags(
    raw: np.ndarray, h: np.int64, w: np.int64, bpp: np.int64, d: np.int64, ids: np.ndarray, flags: np.ndarray
) -> np.int64:
    """One PNG's rows into its ids and row flags (:func:`_row_flags`) at once: PQ's row
    filters (kernels/pq.py; Paeth computed at its events only) into a row buffer, then the
    ids and flags written run by run, a run starting where the row's horizontal byte
    difference is not zero (found word by word) and the id changes. An Up row with all
    residuals zero repeats the row above. Returns the row of an unknown filter type, or -1."""
    s = w * bpp
    nw = 64 * ((s + 511) // 512)
    B = np.zeros((2, nw), np.uint64)
    D = np.zeros((2, nw), np.uint64)
    B8 = B.view(np.uint8)
    D8 = D.view(np.uint8)
    E = np.zeros(nw, np.uint64)
    E8 = E.view(np.uint8)
    bm = np.zeros(nw // 64, np.uint64)
    nwd = (s + 7) // 8
    c = 0
    for y in range(h):
        off = y * (s + 1)
        row = ids[y]
        r = flags[y]
        if y > 0 and raw[off] == 2 and _all_zero(raw[off + 1 : off + 1 + s]):
            up = ids[y - 1]
            rup = flags[y - 1]
            for x in range(w):
                row[x] = up[x]
            for x in range(w):
                r[x] = rup[x]
            continue
        if not _row(
            np.int64(raw[off]), raw[off + 1 : off + 1 + s], w, bpp, E8, E, bm, B8[c], D8[c], B8[1 - c], D8[1 - c]
        ):
            return y
        c = 1 - c
        cur = B8[c]
        dw = D[c]
        for x in range(w):
            r[x] = 0
        v = np.uint32(cur[0]) | (np.uint32(cur[1]) << 8) | (np.uint32(cur[2]) << 16)
        start = np.int64(0)
        for i in range(nwd):
            word = dw[i]
            if i == 0:
                word = _past_pixel(word, np.uint64(0), np.uint64(0), bpp)
            while word != np.uint64(0):
                px = _pixel_of(np.uint64(i * 8) + (np.uint64(trailing_zeros(word)) >> np.uint64(3)), bpp)
                word = _past_pixel(word, px, np.uint64(i), bpp)
                x = np.int64(px)
                if x <= start:
                    continue  # a pixel that straddles two words, done
                j = x * bpp
                nv = np.uint32(cur[j]) | (np.uint32(cur[j + 1]) << 8) | (np.uint32(cur[j + 2]) << 16)
                if nv == v:
                    continue  # only the alpha byte changed
                for t in range(start, x):
                    row[t] = v
                for t in range(start + d, x - d):
                    r[t] = 1
                start = x
                v = nv
        for t in range(start, w):
            row[t] = v
        for t in range(start + d, w - d):
            r[t] = 1
    return -1


@njit
def _band_png_kernel(
    raw_g: np.ndarray,
    bpp_g: np.int64,
    raw_p: np.ndarray,
    bpp_p: np.int64,
    h: np.int64,
    w: np.int64,
    d: np.int64,
    keys: np.ndarray,
    counts: np.ndarray,
) -> tuple:
    maps = np.empty((2, h, w), np.uint32)
    flags = np.empty((2, h, w), np.uint8)
    for side in range(2):
        raw = raw_g if side == 0 else raw_p
        bpp = bpp_g if side == 0 else bpp_p
        bad = _decode_flags(raw, h, w, bpp, d, maps[side], flags[side])
        if bad >= 0:
            return keys, counts, np.int64(0), bad, side
        _vertical(maps[side], d, flags[side])
    keys, counts, used = _histogram(maps[0], maps[1], flags[0], flags[1], keys, counts)
    return keys, counts, used, np.int64(-1), 0


def band_pair_keys_png(
    raw_gt: np.ndarray,
    bpp_gt: int,
    raw_pred: np.ndarray,
    bpp_pred: int,
    h: int,
    w: int,
    dilation: int,
    capacity: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`band_pair_keys` of a GT and a prediction PNG of the same size from their
    inflated rows (8-bit RGB or RGBA, ``bpp`` 3 or 4), decoded in the same call (the row
    flags of the bands come from the decoder's runs). ValueError for an unknown filter type.
    Twin: ``ref_band_pair_keys`` of ``ref_decode_ids`` of each."""
    raw_gt = _check_raw(raw_gt, h, w, bpp_gt)
    raw_pred = _check_raw(raw_pred, h, w, bpp_pred)
    if int(dilation) < 1:
        raise ValueError(f"dilation must be >= 1 pixel, got {dilation}")
    keys, counts = new_table(capacity)
    keys, counts, _, bad, side = _band_png_kernel(
        raw_gt,
        np.int64(bpp_gt),
        raw_pred,
        np.int64(bpp_pred),
        np.int64(h),
        np.int64(w),
        np.int64(dilation),
        keys,
        counts,
    )
    if bad >= 0:
        raw, bpp = (raw_gt, bpp_gt) if side == 0 else (raw_pred, bpp_pred)
        raise ValueError(f"row {bad}: unknown PNG filter type {int(raw[bad * (1 + w * bpp)])}")
    return compact(keys, counts)
