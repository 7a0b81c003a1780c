"""Plain-numpy twins of :mod:`rapkit.kernels.png`, :mod:`rapkit.kernels.pq` and
:mod:`rapkit.kernels.pq_match`.

They follow the PNG specification literally (the Paeth predictor in its specification form)
and count pairs with ``np.unique``; slow, for tests and as the executable specification.

>>> import numpy as np
>>> ref_unfilter(np.array([1, 5, 6, 7, 1, 1, 1], np.uint8), 1, 2, 3).tolist()   # Sub
[[5, 6, 7, 6, 7, 8]]
"""

from __future__ import annotations

import numpy as np


def ref_paeth(a: int, b: int, c: int) -> int:
    """The PNG specification's Paeth predictor."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def ref_unfilter(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png.unfilter`."""
    stride = w * bpp
    raw = np.asarray(raw, np.uint8)
    if raw.shape != (h * (stride + 1),):
        raise ValueError("raw has the wrong size")
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        off = y * (stride + 1)
        ft = int(raw[off])
        src = raw[off + 1 : off + 1 + stride].astype(np.int64)
        cur = np.zeros(stride, np.int64)
        if ft == 0:
            cur[:] = src
        elif ft == 2:
            cur[:] = (src + prev) & 0xFF
        elif ft in (1, 3, 4):
            for i in range(stride):
                a = int(cur[i - bpp]) if i >= bpp else 0
                b = int(prev[i])
                c = int(prev[i - bpp]) if i >= bpp else 0
                if ft == 1:
                    pred = a
                elif ft == 3:
                    pred = (a + b) >> 1
                else:
                    pred = ref_paeth(a, b, c)
                cur[i] = (int(src[i]) + pred) & 0xFF
        else:
            raise ValueError(f"row {y}: unknown PNG filter type {ft}")
        out[y] = cur
        prev = cur
    return out


def ref_decode_ids(raw: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.png.decode_ids`."""
    px = ref_unfilter(raw, h, w, bpp).reshape(h, w, bpp).astype(np.uint32)
    return px[..., 0] + (px[..., 1] << 8) + (px[..., 2] << 16)


def ref_decode_gray(raw: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.png.decode_gray`."""
    px = ref_unfilter(raw, h, w, 1)
    return px, np.bincount(px.ravel(), minlength=256).astype(np.int64)


def ref_pair_keys_maps(gt_map: np.ndarray, pred_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.pq.pair_keys_maps`."""
    key = np.asarray(gt_map).astype(np.uint64).ravel() << np.uint64(24)
    key |= np.asarray(pred_map).astype(np.uint64).ravel()
    k, c = np.unique(key, return_counts=True)
    return k, c.astype(np.int64)


def ref_pair_keys_png(
    raw_gt: np.ndarray, bpp_gt: int, raw_pred: np.ndarray, bpp_pred: int, h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rapkit.kernels.pq.pair_keys_png`."""
    return ref_pair_keys_maps(ref_decode_ids(raw_gt, h, w, bpp_gt), ref_decode_ids(raw_pred, h, w, bpp_pred))


def ref_match_image(
    keys: np.ndarray,
    counts: np.ndarray,
    g_id: np.ndarray,
    g_cat: np.ndarray,
    g_area: np.ndarray,
    g_crowd: np.ndarray,
    p_id: np.ndarray,
    p_cat: np.ndarray,
    known: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    crowd_of: np.ndarray,
    m_cat: np.ndarray,
    m_iou: np.ndarray,
) -> tuple[int, int]:
    """Twin of :func:`rapkit.kernels.pq_match.match_image`, written with dicts as
    panopticapi's loop is (same arguments, same side effects, same return value)."""
    gids = [int(v) for v in g_id]
    pids = [int(v) for v in p_id]
    if len(set(gids)) != len(gids) or len(set(pids)) != len(pids):
        return 1, 0
    gt = {sid: j for j, sid in enumerate(gids)}
    pr = {sid: j for j, sid in enumerate(pids)}
    hist = [(int(k) >> 24, int(k) & 0xFFFFFF, int(c)) for k, c in zip(keys, counts)]
    p_area: dict[int, int] = {}
    for _, p, c in hist:
        p_area[p] = p_area.get(p, 0) + c
    for p in sorted(p_area):
        if p not in pr:
            if p == 0:
                continue
            return 1, 0
        if not known[p_cat[pr[p]]]:
            return 1, 0
    if any(p not in p_area for p in pids):
        return 1, 0
    void_inter = {p: c for g, p, c in hist if g == 0}
    matched_g: set[int] = set()
    matched_p: set[int] = set()
    n = 0
    for g, p, inter in hist:
        if g not in gt or p not in pr:
            continue
        gi, pi = gt[g], pr[p]
        if int(g_crowd[gi]) == 1 or int(g_cat[gi]) != int(p_cat[pi]):
            continue
        union = p_area[p] + int(g_area[gi]) - inter - void_inter.get(p, 0)
        iou = np.inf if union == 0 else inter / union
        if iou > 0.5:
            c = int(g_cat[gi])
            tp[c] += 1
            m_cat[n] = c
            m_iou[n] = iou
            n += 1
            matched_g.add(g)
            matched_p.add(p)
    crowd: dict[int, int] = {}
    for j, g in enumerate(gids):
        if g in matched_g:
            continue
        if int(g_crowd[j]) == 1:
            crowd[int(g_cat[j])] = g
            continue
        fn[int(g_cat[j])] += 1
    counted = {(g, p): c for g, p, c in hist}
    for j, p in enumerate(pids):
        if p in matched_p:
            continue
        c = int(p_cat[j])
        inter = void_inter.get(p, 0)
        if c in crowd:
            inter += counted.get((crowd[c], p), 0)
        if inter / p_area[p] > 0.5:
            continue
        fp[c] += 1
    return 0, n


__all__ = [
    "ref_match_image",
    "ref_paeth",
    "ref_unfilter",
    "ref_decode_ids",
    "ref_decode_gray",
    "ref_pair_keys_maps",
    "ref_pair_keys_png",
]
