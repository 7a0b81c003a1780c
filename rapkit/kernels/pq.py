"""numba kernels for PQ: an open-addressing uint64 hash table that folds runs of identical
(GT id, predicted id) pixel pairs, and the pair histogram of two in-memory id maps (used
when a prediction is made in memory, e.g. by a threshold sweep).

Twins: :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> k, c = pair_keys_maps(np.array([[1, 1]], np.uint32), np.array([[2, 2]], np.uint32))
>>> (int(k[0]) >> 24, int(k[0]) & 0xFFFFFF, int(c[0]))
(1, 2, 2)
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True, inline="always")
def _slot(key: np.uint64, mask: np.uint64) -> np.uint64:
    return ((key * _HASH_MUL) >> np.uint64(40)) & mask


@njit(cache=True, nogil=True)
def _rehash(keys: np.ndarray, counts: np.ndarray) -> tuple:
    cap = keys.shape[0] * 2
    nk = np.full(cap, EMPTY_KEY, np.uint64)
    nc = np.zeros(cap, np.int64)
    mask = np.uint64(cap - 1)
    for i in range(keys.shape[0]):
        k = keys[i]
        if k != EMPTY_KEY:
            s = _slot(k, mask)
            while nk[s] != EMPTY_KEY:
                s = (s + np.uint64(1)) & mask
            nk[s] = k
            nc[s] = counts[i]
    return nk, nc


@njit(cache=True, nogil=True, inline="always")
def _insert(keys: np.ndarray, counts: np.ndarray, key: np.uint64, n: np.int64) -> bool:
    """Add ``n`` to ``key``; returns True when a new slot was taken."""
    mask = np.uint64(keys.shape[0] - 1)
    s = _slot(key, mask)
    while True:
        k = keys[s]
        if k == key:
            counts[s] += n
            return False
        if k == EMPTY_KEY:
            keys[s] = key
            counts[s] = n
            return True
        s = (s + np.uint64(1)) & mask


@njit(cache=True, nogil=True, inline="always")
def _key(g: np.uint32, p: np.uint32) -> np.uint64:
    return (np.uint64(g) << np.uint64(24)) | np.uint64(p)


@njit(cache=True, nogil=True)
def _fold_ids(gi: np.ndarray, pi: np.ndarray, keys: np.ndarray, counts: np.ndarray, run_g: np.uint32, run_p: np.uint32, run_n: np.int64) -> tuple:
    """Fold one row of GT ids ``gi`` and predicted ids ``pi`` into the table: runs of equal
    (gt, pred) pairs are counted and inserted once. The open run is carried to the next
    row (returned). The caller guarantees room for ``len(gi)`` new keys."""
    new = np.int64(0)
    for x in range(gi.shape[0]):
        g = gi[x]
        p = pi[x]
        if g == run_g and p == run_p:
            run_n += 1
        else:
            if run_n > 0:
                new += _insert(keys, counts, _key(run_g, run_p), run_n)
            run_g = g
            run_p = p
            run_n = 1
    return run_g, run_p, run_n, new


@njit(cache=True, nogil=True)
def _ensure_room(keys: np.ndarray, counts: np.ndarray, used: np.int64, more: np.int64) -> tuple:
    """Grow the table (doubling) until ``used + more`` keys keep it at most half full."""
    while (used + more) * 2 > keys.shape[0]:
        keys, counts = _rehash(keys, counts)
    return keys, counts


@njit(cache=True, nogil=True)
def _pair_maps_kernel(g: np.ndarray, p: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> tuple:
    h, w = g.shape
    used = np.int64(0)
    run_g = np.uint32(0)
    run_p = np.uint32(0)
    run_n = np.int64(0)
    for y in range(h):
        keys, counts = _ensure_room(keys, counts, used, w + 1)
        run_g, run_p, run_n, new = _fold_ids(g[y], p[y], keys, counts, run_g, run_p, run_n)
        used += new
    if run_n > 0:
        used += _insert(keys, counts, _key(run_g, run_p), run_n)
    return keys, counts, used


def _table(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    cap = 1 << max(4, int(capacity - 1).bit_length())
    return np.full(cap, EMPTY_KEY, np.uint64), np.zeros(cap, np.int64)


def _compact(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sel = keys != EMPTY_KEY
    k = keys[sel]
    c = counts[sel]
    order = np.argsort(k)
    return k[order], c[order]


def pair_keys_maps(gt_map: np.ndarray, pred_map: np.ndarray, capacity: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys ``gt * 2**24 + pred`` and counts of two (H, W) uint32 id maps."""
    for name, a in (("gt_map", gt_map), ("pred_map", pred_map)):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint32 or a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D uint32 array")
    if gt_map.shape != pred_map.shape:
        raise ValueError(f"id maps differ in shape: {gt_map.shape} vs {pred_map.shape}")
    if gt_map.size and max(int(gt_map.max()), int(pred_map.max())) >= 1 << 24:
        raise ValueError("ids must be < 2**24")
    keys, counts = _table(capacity)
    keys, counts, _ = _pair_maps_kernel(np.ascontiguousarray(gt_map), np.ascontiguousarray(pred_map), keys, counts)
    return _compact(keys, counts)


__all__ = ["pair_keys_maps"]
