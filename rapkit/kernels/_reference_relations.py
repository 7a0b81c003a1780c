"""Plain-numpy twins of :mod:`rapkit.kernels.relations` (same arguments, same results)."""

from __future__ import annotations

import numpy as np


def _crops(boxes: np.ndarray, offsets: np.ndarray, masks: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(boxes.shape[0]):
        x0, y0, x1, y1 = (int(v) for v in boxes[k])
        out.append(masks[offsets[k] : offsets[k + 1]].reshape(y1 - y0, x1 - x0).astype(bool))
    return out


def ref_image_histograms(id_map, seg_ids, boxes, offsets, masks) -> tuple[int, np.ndarray, np.ndarray]:
    """Twin of ``image_histograms``: full-map lookup with ``np.searchsorted``."""
    seg_ids = np.asarray(seg_ids, np.int64)
    n_lab = seg_ids.size + 1
    n = boxes.shape[0]
    flat = id_map.astype(np.int64).ravel()
    pos = np.searchsorted(seg_ids, flat)
    known = (
        (pos < seg_ids.size) & (seg_ids[np.minimum(pos, max(seg_ids.size - 1, 0))] == flat)
        if seg_ids.size
        else np.zeros(flat.size, bool)
    )
    bad = ~known & (flat != 0)
    hist = np.zeros((n, n_lab), np.int64)
    labels = np.where(flat == 0, 0, pos + 1)
    if bad.any():
        areas = np.bincount(labels[~bad], minlength=n_lab).astype(np.int64)
        return int(flat[np.argmax(bad)]), areas, hist
    areas = np.bincount(labels, minlength=n_lab).astype(np.int64)
    lab = labels.reshape(id_map.shape)
    for k, m in enumerate(_crops(boxes, offsets, masks)):
        x0, y0, x1, y1 = (int(v) for v in boxes[k])
        hist[k] = np.bincount(lab[y0:y1, x0:x1][m], minlength=n_lab)
    return -1, areas, hist


def ref_pair_visibility(id_map, boxes, offsets, masks, own) -> tuple[np.ndarray, np.ndarray]:
    """Twin of ``pair_visibility``: full-image masks, one pair at a time."""
    h, w = id_map.shape
    n = boxes.shape[0]
    full = []
    for k, m in enumerate(_crops(boxes, offsets, masks)):
        f = np.zeros((h, w), bool)
        x0, y0, x1, y1 = (int(v) for v in boxes[k])
        f[y0:y1, x0:x1] = m
        full.append(f)
    ov = np.zeros((n, n), np.int64)
    vis = np.zeros((n, n), np.int64)
    ids = id_map.astype(np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            o = full[i] & full[j]
            ov[i, j] = ov[j, i] = int(o.sum())
            vis[i, j] = int((ids[o] == own[i]).sum())
            vis[j, i] = int((ids[o] == own[j]).sum())
    return ov, vis


def ref_match_weights(hist, areas, seg_areas, inst_cat, seg_cat, seg_crowd):
    """Twin of ``match_weights``: broadcast numpy."""
    same = (inst_cat[:, None] == seg_cat[None, :]) & ~seg_crowd[None, :]
    inter = np.where(same, hist[:, 1:], 0).astype(np.float64)
    union = areas[:, None] + seg_areas[None, 1:] - inter
    n_cat = (inst_cat[:, None] == inst_cat[None, :]).sum(axis=1)
    wts = inter + (0.5 / (n_cat[:, None] + 1)) * np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    pos = wts > 0
    rc, cc = pos.sum(axis=1), pos.sum(axis=0)
    single = pos & (rc == 1)[:, None] & (cc == 1)[None, :]
    sr, sc = np.nonzero(single)
    rest_r = np.flatnonzero((rc > 0) & ~single.any(axis=1))
    rest_c = np.flatnonzero((cc > 0) & ~single.any(axis=0))
    return wts, sr.astype(np.int64), sc.astype(np.int64), rest_r.astype(np.int64), rest_c.astype(np.int64)


__all__ = ["ref_image_histograms", "ref_match_weights", "ref_pair_visibility"]
