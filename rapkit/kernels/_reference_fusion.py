"""Plain-numpy twins of the RLE and fusion kernels (full-image masks, per-proposal loops).

Same arguments and results as :mod:`rapkit.kernels.rle` and :mod:`rapkit.kernels.fusion`:
the masks come in as the kernels take them (column runs, or box crops for ``decode_rles``)
and are turned into full (H, W) masks first; the twins are the executable specification the
kernels are tested against. The checks of Algorithm 1 are the functions of
:mod:`rapkit.kernels.decisions`, the very ones the kernels compile. No numba here.
"""

from __future__ import annotations

import numpy as np

from . import decisions as decide
from .status import CANVAS, CATEGORY, EMPTY, KEPT, OVERLAP, UNSEEN

__all__ = [
    "crops_from_full",
    "full_masks",
    "full_masks_from_runs",
    "ref_compose",
    "ref_decode_rle_runs",
    "ref_decode_rles",
    "ref_full_mask",
    "ref_fuse_runs",
    "ref_overlaps_with_crops",
    "ref_pairwise_overlaps",
    "ref_rle_counts",
    "runs_from_full",
]

# ----------------------------------------------------------------------------- RLE


def ref_rle_counts(counts: bytes | str) -> list[int]:
    """pycocotools ``rleFrString`` in Python: compressed string -> run lengths."""
    s = counts.encode("ascii") if isinstance(counts, str) else counts
    cnts: list[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            if p >= len(s):
                raise ValueError("truncated RLE string")
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return cnts


def ref_full_mask(counts: bytes | str, height: int, width: int) -> np.ndarray | None:
    """(H, W) bool mask of one compressed RLE, or None when malformed / wrong total."""
    try:
        runs = ref_rle_counts(counts)
    except ValueError:
        return None
    if any(r < 0 for r in runs) or sum(runs) != height * width:
        return None
    vals = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(vals, runs)
    return flat.reshape(width, height).T.copy()


def crops_from_full(full: list[np.ndarray | None], height: int, width: int):
    """Full (H, W) masks -> (boxes, areas, offsets, flat) in the kernels' x-major crop layout."""
    n = len(full)
    boxes = np.zeros((n, 4), np.int64)
    areas = np.zeros(n, np.int64)
    parts = []
    for k, m in enumerate(full):
        if m is None or not m.any():
            parts.append(np.zeros(0, np.uint8))
            continue
        ys, xs = np.nonzero(m)
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        boxes[k] = (x0, x1, y0, y1)
        areas[k] = int(m.sum())
        parts.append(np.ascontiguousarray(m[y0:y1, x0:x1].T).astype(np.uint8).ravel())
    offs = np.zeros(n + 1, np.int64)
    offs[1:] = np.cumsum([p.size for p in parts]) if parts else []
    flat = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return boxes, areas, offs, flat


def ref_decode_rles(counts_list: list, height: int, width: int):
    """Twin of :func:`rapkit.kernels.rle.decode_rles`."""
    full = [ref_full_mask(c, height, width) for c in counts_list]
    status = np.zeros(len(full), np.int64)
    for k, c in enumerate(counts_list):
        if full[k] is None:
            try:
                runs = ref_rle_counts(c)
                status[k] = 1 if any(r < 0 for r in runs) else 2
            except ValueError:
                status[k] = 1
    boxes, areas, offs, flat = crops_from_full(full, height, width)
    return boxes, areas, offs, flat, status


def runs_from_full(full: list[np.ndarray | None], height: int, width: int, need=None):
    """Full (H, W) masks -> ``(boxes, areas, col_offsets, col_ptr, run_y0, run_y1)`` in the
    layout of :func:`rapkit.kernels.rle.decode_rle_runs` (maximal runs per box column; masks
    that are None, empty or have ``need[k]`` False get no runs)."""
    n = len(full)
    boxes, areas, _, _ = crops_from_full(full, height, width)
    need = np.ones(n, bool) if need is None else np.asarray(need, bool)
    col_offs = np.zeros(n + 1, np.int64)
    ptr: list[int] = []
    y0s: list[int] = []
    y1s: list[int] = []
    for k, m in enumerate(full):
        x0, x1 = int(boxes[k, 0]), int(boxes[k, 1])
        if areas[k] == 0 or not need[k]:
            col_offs[k + 1] = col_offs[k] + 1
            ptr.append(len(y0s))
            continue
        for x in range(x0, x1):
            ptr.append(len(y0s))
            col = np.concatenate([[False], m[:, x], [False]]).astype(np.int8)
            d = np.diff(col)
            y0s.extend(np.nonzero(d == 1)[0].tolist())
            y1s.extend(np.nonzero(d == -1)[0].tolist())
        ptr.append(len(y0s))
        col_offs[k + 1] = col_offs[k] + (x1 - x0) + 1
    as64 = lambda v: np.array(v, np.int64)  # noqa: E731
    return boxes, areas, col_offs, as64(ptr), as64(y0s), as64(y1s)


def ref_decode_rle_runs(counts_list: list, height: int, width: int, need=None):
    """Twin of :func:`rapkit.kernels.rle.decode_rle_runs` (maximal runs per column, as a
    minimal RLE such as pycocotools writes gives them)."""
    status = ref_decode_rles(counts_list, height, width)[4]
    full = [ref_full_mask(c, height, width) for c in counts_list]
    return (*runs_from_full(full, height, width, need), status)


def full_masks_from_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, height: int, width: int) -> np.ndarray:
    """Column runs -> (N, H, W) bool full-image masks."""
    n = boxes.shape[0]
    out = np.zeros((n, height, width), bool)
    for k in range(n):
        x0 = int(boxes[k, 0])
        for x in range(x0, x0 + int(col_offsets[k + 1] - col_offsets[k]) - 1):
            c = int(col_offsets[k]) + x - x0
            for r in range(int(col_ptr[c]), int(col_ptr[c + 1])):
                out[k, run_y0[r] : run_y1[r], x] = True
    return out


def full_masks(boxes, offsets, masks, height: int, width: int) -> np.ndarray:
    """Box crops -> (N, H, W) bool full-image masks."""
    n = boxes.shape[0]
    out = np.zeros((n, height, width), bool)
    for k in range(n):
        x0, x1, y0, y1 = (int(v) for v in boxes[k])
        if x1 > x0 and y1 > y0:
            crop = masks[offsets[k] : offsets[k + 1]].reshape(x1 - x0, y1 - y0).T
            out[k, y0:y1, x0:x1] = crop.astype(bool)
    return out


# ----------------------------------------------------------------------------- fusion


def ref_pairwise_overlaps(boxes, col_offsets, col_ptr, run_y0, run_y1) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.fusion.pairwise_overlaps`."""
    n = boxes.shape[0]
    if n == 0:
        return np.zeros((0, 0), np.int64)
    h = int(boxes[:, 3].max())
    w = int(boxes[:, 1].max())
    fm = full_masks_from_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, max(h, 1), max(w, 1))
    fm = fm.reshape(n, -1).astype(np.int64)
    out = fm @ fm.T
    np.fill_diagonal(out, 0)
    return out


def ref_overlaps_with_crops(boxes, col_offsets, col_ptr, run_y0, run_y1, crop_boxes, crop_offsets, crops, pairs):
    """Twin of :func:`rapkit.kernels.fusion.overlaps_with_crops`."""
    h = int(max(boxes[:, 3].max(initial=0), crop_boxes[:, 3].max(initial=0), 1))
    w = int(max(boxes[:, 1].max(initial=0), crop_boxes[:, 1].max(initial=0), 1))
    fm = full_masks_from_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, h, w)
    out = np.zeros(pairs.shape[0], np.int64)
    for q, (k, g) in enumerate(pairs.tolist()):
        x0, x1, y0, y1 = (int(v) for v in crop_boxes[g])
        other = np.zeros((h, w), bool)
        other[y0:y1, x0:x1] = crops[crop_offsets[g] : crop_offsets[g + 1]].reshape(y1 - y0, x1 - x0) != 0
        out[q] = int((fm[k] & other).sum())
    return out


def ref_fuse_runs(
    boxes,
    areas,
    col_offsets,
    col_ptr,
    run_y0,
    run_y1,
    labels,
    relations,
    order,
    width,
    height,
    *,
    tau,
    gamma,
    ra,
    ca,
    eo,
    reference,
    record_events=False,
):
    """Twin of :func:`rapkit.kernels.fusion.fuse_runs`: Algorithm 1 on full-image masks."""
    n = boxes.shape[0]
    fm = full_masks_from_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, height, width)
    seg = np.zeros((height, width), np.int64)  # proposal index + 1, 0 = free
    P = np.zeros((height, width), np.int64)  # label canvas, -1 = empty
    P[:] = -1
    V = np.full((height, width), np.inf)
    status = np.full(n, UNSEEN, np.int8)
    kept: list[int] = []
    events: list[tuple[int, int]] = []
    labels = np.asarray(labels)
    rel = np.asarray(relations)
    for i in (int(v) for v in order):
        I = fm[i]
        area = int(I.sum())
        if area == 0:
            status[i] = EMPTY
            continue
        if ca and decide.category_drop(int((I & (P == labels[i])).sum()), area, tau, reference):
            status[i] = CATEGORY
            continue
        drop = False
        for j in kept:
            o = int((I & fm[j]).sum())
            if o == 0:
                continue
            if record_events:
                events.append((i, j))
            if eo and not drop:
                if reference:  # against j's visible segment
                    vis_j = seg == j + 1
                    drop = decide.excessive_overlap(int((I & vis_j).sum()), area, int(vis_j.sum()), gamma)
                else:
                    drop = decide.excessive_overlap(o, area, int(fm[j].sum()), gamma)
        if drop:
            status[i] = OVERLAP
            continue
        if ra:
            C = I & decide.takes_over(V, rel[i])
            if decide.canvas_drop(int(C.sum()), area, tau):
                status[i] = CANVAS
                continue
        else:
            if decide.occupancy_drop(int((I & (seg > 0)).sum()), area, tau):
                status[i] = CANVAS
                continue
            C = I & (seg == 0)
        P[C] = labels[i]
        V[C] = rel[i]
        seg[C] = i + 1
        status[i] = KEPT
        kept.append(i)
    visible = np.bincount(seg.ravel(), minlength=n + 1)[1:].astype(np.int64)
    decide.mark_emptied(status, visible, kept, len(kept))
    ev = np.array(events, np.int64).reshape(-1, 2)
    return seg.astype(np.int32), status, visible, ev


def ref_compose(canvas, semantic, is_stuff, stuff_area, thing_lut, n_things):
    """Twin of :func:`rapkit.kernels.fusion.compose`."""
    img = canvas
    out = thing_lut[img].astype(np.uint32)
    classes = np.zeros(0, np.int64)
    if semantic is not None:
        free = img == 0
        seg_of = np.zeros(256, np.int64)
        cls = np.zeros(256, np.int64)
        counts = np.bincount(semantic[free].astype(np.int64), minlength=256)
        classes = cls[: decide.number_stuff_segments(counts, is_stuff, stuff_area, n_things, seg_of, cls)].copy()
        stuff = free & (seg_of[semantic] > 0)
        out[stuff] = seg_of[semantic][stuff]
    n_ids = n_things + classes.shape[0]
    area = np.bincount(out.ravel(), minlength=n_ids + 1).astype(np.int64)
    bbox = np.zeros((n_ids + 1, 4), np.int64)
    for v in range(n_ids + 1):
        if area[v]:
            ys, xs = np.nonzero(out == v)
            bbox[v] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    return np.ascontiguousarray(out), classes, area, bbox
