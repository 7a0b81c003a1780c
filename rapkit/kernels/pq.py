"""numba kernel for PQ: the pair histogram of two in-memory id maps (used when a prediction is
made in memory, e.g. by a threshold sweep). Runs of identical (GT id, predicted id) pixel
pairs are folded into the hash table of :mod:`rapkit.kernels.hashtable`.

Twins: :mod:`rapkit.kernels._reference_pq`.

>>> import numpy as np
>>> k, c = pair_keys_maps(np.array([[1, 1]], np.uint32), np.array([[2, 2]], np.uint32))
>>> (int(k[0]) >> 24, int(k[0]) & 0xFFFFFF, int(c[0]))
(1, 2, 2)
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit
from .hashtable import compact, ensure_room, fold_pair_row, insert, new_table, pair_key


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


__all__ = ["pair_keys_maps"]
