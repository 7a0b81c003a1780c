"""Importing this module loads the compiled kernels of ``rapkit extract-relations``.

It is the forkserver preload of the relations pool (see
:func:`rapkit.core.parallel.imap_ordered`): the forkserver imports it once and every worker
forked from it starts with numba and the kernels (RLE crop decoding, PNG decoding, relation
histograms and pair visibility) loaded from numba's on-disk cache.

>>> from rapkit.kernels.warm_relations import warm_up
>>> warm_up()
"""

from __future__ import annotations

import numpy as np

from .png import decode_ids
from .relations import image_histograms, pair_visibility
from .rle import decode_rles


def warm_up() -> None:
    """Call every kernel the relations pipeline uses once on a tiny input."""
    decode_rles([b"0"], 1, 1)
    raw = np.zeros(2 * (1 + 2 * 3), np.uint8)
    decode_ids(raw, 2, 2, 3)
    ids = np.zeros((2, 2), np.uint32)
    boxes = np.array([[0, 0, 1, 1]], np.int64)
    offsets = np.array([0, 1], np.int64)
    masks = np.ones(1, np.uint8)
    image_histograms(ids, np.zeros(0, np.int64), boxes, offsets, masks)
    pair_visibility(ids, boxes, offsets, masks, np.full(1, -1, np.int64))


warm_up()
