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


def planted_partitions() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A and B that differ in exactly the returned ``expect`` pixels; B renumbers every
    segment (a renumbering is not a difference)."""
    a = np.zeros((60, 90), np.int64)
    a[:, :30] = 1
    a[:, 30:60] = 2
    a[:, 60:] = 3
    a[50:, :] = 0  # VOID strip
    cat_of_a = {0: 0, 1: 1, 2: 2, 3: 3}
    b = np.vectorize({0: 0, 1: 101, 2: 102, 3: 103}.get)(a)
    cat_of_b = {0: 0, 101: 1, 102: 2, 103: 3, 104: 2}
    expect = np.zeros(a.shape, bool)
    # (1) boundary shift: columns 28-29 of segment 1 given to segment 2 in B
    b[:50, 28:30] = 102
    expect[:50, 28:30] = True
    # (2) split: a 10 x 10 block of segment 2 becomes its own segment (same category)
    b[5:15, 40:50] = 104
    expect[5:15, 40:50] = True
    # (3) category change of a block that stays in its segment: B's segment 103 keeps the
    # block's id, but we give the block a new id with another category
    cat_of_b[105] = 1
    b[30:40, 70:80] = 105
    expect[30:40, 70:80] = True
    # (4) VOID in B where A has a segment
    b[45:50, 0:10] = 0
    expect[45:50, 0:10] = True
    ca = np.vectorize(cat_of_a.get)(a)
    cb = np.vectorize(cat_of_b.get)(b)
    return a, ca, b, cb, expect
