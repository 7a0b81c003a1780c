"""An open-addressing hash table of uint64 keys with int64 counts (numba), for pair counting.

PQ's pair kernels (:mod:`rapkit.kernels.pq`, on inflated PNG rows and on in-memory id
maps) fold runs of identical (GT id, predicted id) pixel pairs into it. A table
is two arrays of a power-of-two capacity: ``keys`` (``EMPTY_KEY`` = free slot) and
``counts``; linear probing, kept at most half full by :func:`ensure_room` (doubling).
Its twin is the ``np.unique`` count of :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> keys, counts = new_table(4)
>>> bool(insert(keys, counts, pair_key(np.uint32(1), np.uint32(2)), 5))
True
>>> k, c = compact(keys, counts)
>>> (int(k[0]) >> 24, int(k[0]) & 0xFFFFFF, int(c[0]))
(1, 2, 5)
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit

EMPTY_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)
HASH_MUL = np.uint64(0x9E3779B97F4A7C15)

__all__ = [
    "EMPTY_KEY",
    "HASH_MUL",
    "compact",
    "ensure_room",
    "fold_pair_row",
    "insert",
    "new_table",
    "pair_key",
    "rehash",
    "slot",
]


@njit(inline="always")
def slot(key: np.uint64, mask: np.uint64) -> np.uint64:
    """The home slot of ``key`` in a table of ``mask + 1`` slots (Fibonacci hashing)."""
    return ((key * HASH_MUL) >> np.uint64(40)) & mask


@njit
def rehash(keys: np.ndarray, counts: np.ndarray) -> tuple:
    """A table of twice the capacity holding the same keys and counts."""
    cap = keys.shape[0] * 2
    nk = np.full(cap, EMPTY_KEY, np.uint64)
    nc = np.zeros(cap, np.int64)
    mask = np.uint64(cap - 1)
    for i in range(keys.shape[0]):
        k = keys[i]
        if k != EMPTY_KEY:
            s = slot(k, mask)
            while nk[s] != EMPTY_KEY:
                s = (s + np.uint64(1)) & mask
            nk[s] = k
            nc[s] = counts[i]
    return nk, nc


@njit(inline="always")
def insert(keys: np.ndarray, counts: np.ndarray, key: np.uint64, n: np.int64) -> bool:
    """Add ``n`` to ``key``; returns True when a new slot was taken."""
    mask = np.uint64(keys.shape[0] - 1)
    s = slot(key, mask)
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


@njit(inline="always")
def pair_key(g: np.uint32, p: np.uint32) -> np.uint64:
    """The key of a (GT id, predicted id) pair: ``g * 2**24 + p``."""
    return (np.uint64(g) << np.uint64(24)) | np.uint64(p)


@njit
def fold_pair_row(
    gi: np.ndarray,
    pi: np.ndarray,
    keys: np.ndarray,
    counts: np.ndarray,
    run_g: np.uint32,
    run_p: np.uint32,
    run_n: np.int64,
) -> tuple:
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
                new += insert(keys, counts, pair_key(run_g, run_p), run_n)
            run_g = g
            run_p = p
            run_n = 1
    return run_g, run_p, run_n, new


@njit
def ensure_room(keys: np.ndarray, counts: np.ndarray, used: np.int64, more: np.int64) -> tuple:
    """Grow the table (doubling) until ``used + more`` keys keep it at most half full."""
    while (used + more) * 2 > keys.shape[0]:
        keys, counts = rehash(keys, counts)
    return keys, counts


def new_table(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """An empty table of at least ``capacity`` (and 16) slots, a power of two."""
    cap = 1 << max(4, int(capacity - 1).bit_length())
    return np.full(cap, EMPTY_KEY, np.uint64), np.zeros(cap, np.int64)


def compact(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The table's keys in ascending order and their counts."""
    sel = keys != EMPTY_KEY
    k = keys[sel]
    c = counts[sel]
    order = np.argsort(k)
    return k[order], c[order]
