"""Plain scene builders shared by tests that need them at import time (module-level scenes
and parametrize lists, where fixtures cannot reach). Not a test module: pytest finds it
through ``pythonpath = ["tests"]``; tests/conftest.py offers the same builders as fixtures.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as cm

from rapkit.types import InstanceMask, Proposals


def rect(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """An h x w boolean mask, True on rows y0:y1 and columns x0:x1."""
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def props(masks, scores, labels, rels, image_id: int = 1) -> Proposals:
    """Proposals of one image from full-image boolean masks (RLE-encoded as a detector dumps them)."""
    h, w = masks[0].shape
    rles = []
    for m in masks:
        r = cm.encode(np.asfortranarray(m.astype(np.uint8)))
        rles.append({"size": [h, w], "counts": r["counts"].decode()})
    return Proposals(
        image_id, h, w, np.asarray(scores, float), np.asarray(labels, np.int64), np.asarray(rels, float), rles
    )


def inst(iid: int, cid: int, m: np.ndarray, crowd: int = 0) -> InstanceMask:
    """A GT instance (annotation id, category id) from a full-image boolean mask, cropped to its box."""
    ys, xs = np.nonzero(m)
    y0, x0 = ys.min(), xs.min()
    return InstanceMask(
        iid, cid, crowd, int(x0), int(y0), np.ascontiguousarray(m[y0 : ys.max() + 1, x0 : xs.max() + 1])
    )
