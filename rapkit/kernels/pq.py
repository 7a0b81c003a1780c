"""numba kernels of PQ's pair histogram: the pixels of a GT and a prediction counted by
(GT id, predicted id) pair, as sorted unique keys ``gt * 2**24 + pred`` and their counts.

* :func:`pair_keys_png`: from the two PNGs' inflated rows, in one fused pass (the rows are
  unfiltered together with the row filters of :mod:`rapkit.kernels.png`; no full-image
  array is made);
* :func:`pair_keys_maps`: from two in-memory id maps (a prediction made in memory).

Runs of identical (GT id, predicted id) pixel pairs are folded into the hash table of
:mod:`rapkit.kernels.hashtable`; :func:`rapkit.kernels.pq_match.match_image` matches the
segments from the result. Twins: :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> k, c = pair_keys_maps(np.array([[1, 1]], np.uint32), np.array([[2, 2]], np.uint32))
>>> (int(k[0]) >> 24, int(k[0]) & 0xFFFFFF, int(c[0]))
(1, 2, 2)
"""

from __future__ import annotations

import numpy as np

from .._runtime.ccall import borrow
from .._runtime.jit import njit, trailing_zeros
from .hashtable import EMPTY_KEY, compact, ensure_room, fold_pair_row, insert, new_table, pair_key, slot
from .png import _avg3, _avg4, _check_raw, _ids3, _ids4, _paeth, _sub3, _sub4, _unfilter_row

# Unsigned indices in the pair kernel: no wrap-around handling of negative indices.
U0 = np.uint64(0)
U1 = np.uint64(1)
U2 = np.uint64(2)
U3 = np.uint64(3)
U8 = np.uint64(8)
U16 = np.uint64(16)
U24 = np.uint64(24)
U255 = np.uint64(255)

# --------------------------------------------------------------------------- in-memory id maps


@njit
def _pair_maps_kernel(g: np.ndarray, p: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> tuple:
    h, w = g.shape
    used = np.int64(0)
    run_g = np.uint32(0)
    run_p = np.uint32(0)
    run_n = np.int64(0)
    for y in range(h):
        keys, counts = ensure_room(keys, counts, used, w + 1)
        run_g, run_p, run_n, new = fold_pair_row(g[y], p[y], keys, counts, run_g, run_p, run_n)
        used += new
    if run_n > 0:
        used += insert(keys, counts, pair_key(run_g, run_p), run_n)
    return keys, counts, used


def pair_keys_maps(gt_map: np.ndarray, pred_map: np.ndarray, capacity: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys ``gt * 2**24 + pred`` and counts of two (H, W) uint32 id maps."""
    for name, a in (("gt_map", gt_map), ("pred_map", pred_map)):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint32 or a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D uint32 array")
    if gt_map.shape != pred_map.shape:
        raise ValueError(f"id maps differ in shape: {gt_map.shape} vs {pred_map.shape}")
    if gt_map.size and max(int(gt_map.max()), int(pred_map.max())) >= 1 << 24:
        raise ValueError("ids must be < 2**24")
    keys, counts = new_table(capacity)
    keys, counts, _ = _pair_maps_kernel(np.ascontiguousarray(gt_map), np.ascontiguousarray(pred_map), keys, counts)
    return compact(keys, counts)


# --------------------------------------------------------------------------- PNG rows, mixed pixel sizes


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
#   where that pixel differs from the row above are filled (pixel by pixel). Sub and Average
#   rows (a few percent in Pillow's files) use the per-pixel loops of :mod:`rapkit.kernels.png`.
# * The runs of equal (gt, pred) pixels start where ``d`` of either row is not zero; they are
#   found word by word (a bitmap of the non-zero words, then the bytes of each word).
# * The runs are added to the hash table; a run whose key equals the previous row's run at the
#   same index reuses that run's slot (no hashing), and a streak of rows repeated in both PNGs
#   adds the last runs again through their slots.


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
def _alive(*arrays: np.ndarray) -> None:
    """Nothing: called after the last use of the borrowed views of ``arrays``, so that numba
    keeps the arrays (which own the memory) alive until then."""


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
    # The loop works on unowned views (ccall.borrow): its many slices per row then cost no
    # reference counting; the arrays themselves are kept alive by _alive below.
    rg, rp = borrow(raw_g), borrow(raw_p)
    b8, d8, d64, e8, e64, bmv = borrow(B8), borrow(D8), borrow(D), borrow(E8), borrow(E), borrow(bm)
    rk, rc, sl = borrow(RK), borrow(RC), borrow(SL)
    q = 0
    n = 0
    rep = 0
    used = 0
    for y in range(h + 1):
        off = y * (s + 1)
        zg = zp = False  # the row repeats the row above (Up, zero residuals)
        if y < h:
            zg = y > 0 and rg[off] == 2 and _all_zero(rg[off + 1 : off + 1 + s])
            zp = y > 0 and rp[off] == 2 and _all_zero(rp[off + 1 : off + 1 + s])
            if zg and zp:
                rep += 1
                continue
        if rep > 0:
            _readd_runs(counts, sl[q], rc[q], n, rep)
            rep = 0
        if y == h:
            break
        for side in range(2):
            if zg if side == 0 else zp:
                continue
            raw = rg if side == 0 else rp
            c = k[side]
            ok = _row(
                np.int64(raw[off]),
                raw[off + 1 : off + 1 + s],
                w,
                bpp,
                e8,
                e64,
                bmv,
                b8[side, c],
                d8[side, c],
                b8[side, 1 - c],
                d8[side, 1 - c],
            )
            if not ok:
                _alive(raw_g, raw_p, B8, D8, D, E8, E, bm, RK, RC, SL)
                return keys, counts, used, y, side
            k[side] = 1 - c
        q1 = 1 - q
        n1 = _row_runs(b8[0, k[0]], b8[1, k[1]], d64[0, k[0]], d64[1, k[1]], bmv, w, bpp, rk[q1], rc[q1])
        cap = keys.shape[0]
        keys, counts = ensure_room(keys, counts, used, n1)
        pn = n if keys.shape[0] == cap else 0  # a grown table moved the slots
        used += _add_runs(keys, counts, rk[q1], rc[q1], n1, sl[q1], rk[q], sl[q], pn)
        q = q1
        n = n1
    _alive(raw_g, raw_p, B8, D8, D, E8, E, bm, RK, RC, SL)
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


__all__ = ["pair_keys_maps", "pair_keys_png"]
