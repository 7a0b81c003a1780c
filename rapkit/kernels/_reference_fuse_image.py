"""Plain-numpy twin of :mod:`rapkit.kernels.fuse_image` (one image in one call): the chain of
the separate twins (RLE decode, Algorithm 1 / the heuristic, compose, the PNG stream, the gray
PNG unfilter). No numba here.
"""

from __future__ import annotations

import numpy as np

from ._reference_fusion import ref_compose, ref_decode_rle_runs, ref_fuse_runs
from ._reference_png_encode import ref_png_idat
from ._reference_pq import ref_decode_gray
from .status import KEPT, SCORE, UNSEEN

__all__ = ["ref_fuse_packed"]


def _failed(code: int, k: int, n: int):
    z = np.zeros(0, np.int64)
    err = np.array([code, k], np.int64)
    empty = (np.zeros(1, np.int64), np.zeros((1, 4), np.int64), np.zeros(0, np.uint8), np.zeros(8, np.int64))
    return (err, np.zeros(n, np.int8), z, z.copy(), *empty)


def ref_fuse_packed(inputs, a, b, height, width, *, semantic=None, semantic_png=None):
    """Twin of :func:`rapkit.kernels.fuse_image.fuse_packed` (``inputs``: a ``FuseInputs``)."""
    chars, offs, prm, is_stuff, known = inputs.chars, inputs.char_offsets, inputs.prm, inputs.is_stuff, inputs.known
    scores, labels, relations = inputs.scores[a:b], inputs.labels[a:b], inputs.relations[a:b]
    n = b - a
    rho, tau, gamma = (float(v) for v in prm[:3])
    ra, ca, eo, reference = (bool(v) for v in prm[3:7])
    stuff_area = int(prm[7])
    sem = semantic
    if semantic_png is not None:
        size = height * (width + 1)
        if semantic_png.shape[0] != size or np.any(semantic_png[:: width + 1][:height] > 4):
            return _failed(4, 0, n)
        sem, hist = ref_decode_gray(semantic_png, height, width)
        if np.any((hist > 0) & ~known):
            return _failed(4, 0, n)
    counts = [bytes(chars[offs[k] : offs[k + 1]]) for k in range(a, b)]
    need = scores >= rho
    boxes, areas, col_offs, col_ptr, y0, y1, status_rle = ref_decode_rle_runs(counts, height, width, need)
    bad = np.nonzero(status_rle)[0]
    if bad.size:
        return _failed(int(status_rle[bad[0]]), int(bad[0]), n)
    order = np.argsort(-scores, kind="stable")
    order = order[need[order]].astype(np.int64)
    if ra and order.size and np.isnan(relations[order]).any():
        return _failed(3, int(order[np.isnan(relations[order])][0]), n)
    canvas, status, _vis, _ev = ref_fuse_runs(
        boxes,
        areas,
        col_offs,
        col_ptr,
        y0,
        y1,
        labels,
        relations,
        order,
        width,
        height,
        tau=tau,
        gamma=gamma,
        ra=ra,
        ca=ca,
        eo=eo,
        reference=reference,
    )
    status = status.copy()
    status[status == UNSEEN] = SCORE
    kept = order[status[order] == KEPT]
    lut = np.zeros(n + 1, np.uint32)
    lut[kept + 1] = np.arange(1, kept.size + 1, dtype=np.uint32)
    ids, classes, area, bbox = ref_compose(canvas, sem, is_stuff, stuff_area, lut, kept.size)
    tally = np.bincount(status.astype(np.int64), minlength=8)
    return np.zeros(2, np.int64), status, kept, classes, area, bbox, ref_png_idat(ids), tally
