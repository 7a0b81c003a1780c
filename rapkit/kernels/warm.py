"""Importing this module loads the compiled PQ kernels (numba's on-disk cache).

It is the forkserver preload of ``rapkit evaluate``'s process pool: the forkserver imports
it once, and every worker forked from it starts with the kernels ready instead of each
importing numba and loading the cache itself.

>>> from rapkit.kernels.warm import warm_up
>>> warm_up()
"""

from __future__ import annotations

import numpy as np

from .png import decode_ids, pair_keys_png
from .pq import pair_keys_maps


def warm_up() -> None:
    """Call every PQ kernel once on a tiny input (compiles or loads them)."""
    for bpp in (3, 4):
        raw = np.zeros(2 * (1 + 2 * bpp), np.uint8)
        for ft in range(5):
            raw[0] = ft
            raw[1 + 2 * bpp] = ft
            decode_ids(raw, 2, 2, bpp)
            pair_keys_png(raw, bpp, raw, bpp, 2, 2)
    z = np.zeros((2, 2), np.uint32)
    pair_keys_maps(z, z)


warm_up()
