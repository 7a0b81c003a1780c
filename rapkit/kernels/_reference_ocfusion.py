"""Plain-numpy twin of :mod:`rapkit.kernels.ocfusion`: OCFusion's fusion on full-image masks.

Same arguments and results as :func:`rapkit.kernels.ocfusion.fuse_ocfusion`. Each variant
follows its source line by line (full masks, ``np.unique`` of the owners met, the pair
check, the reclaim, the drop check), with the checks of :mod:`rapkit.kernels.decisions`:

* ``original=False``: the RAP authors' ``combine_to_panoptic_ocfusion``
  (``panoptic_benchmark/engine/combine_methods.py``);
* ``original=True``: OCFusion's own fusion (``maskrcnn_benchmark/data/datasets/evaluation/
  coco/coco_eval.py``, ``PanopticFromSemanticSegmentation``, with the pair selection of
  ``modeling/roi_heads/order_head/order_head.py``). No numba here.
"""

from __future__ import annotations

import numpy as np

from . import decisions as decide
from ._reference_fusion import full_masks_from_runs
from .decisions import OCF_THETA
from .status import CANVAS, EMPTY, KEPT, UNSEEN

__all__ = ["ref_fuse_atoms_ocfusion", "ref_fuse_ocfusion"]


def ref_fuse_ocfusion(
    boxes,
    areas,
    col_offsets,
    col_ptr,
    run_y0,
    run_y1,
    labels,
    order,
    width,
    height,
    logits,
    *,
    tau,
    original,
    record_events=False,
):
    """Twin of :func:`rapkit.kernels.ocfusion.fuse_ocfusion`."""
    n = boxes.shape[0]
    fm = full_masks_from_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, height, width)
    used = np.zeros((height, width), np.int64)  # proposal index + 1, 0 = free
    status = np.full(n, UNSEEN, np.int8)
    kept: list[int] = []
    events: list[tuple[int, int]] = []
    for i in (int(v) for v in order):
        I = fm[i]
        area = int(I.sum())
        if area == 0:
            status[i] = EMPTY
            continue
        intersect_mask = (used > 0) & I
        if original:
            # OCFusion: the placed proposals of another class whose full masks cover θ of I_i
            # (float32, as its intersection matrix), asked in ascending index; in front on
            # the raw logit > 0.5
            intersect = int(intersect_mask.sum())
            final = I.copy()
            if intersect != 0:
                final = (used == 0) & I
                for j in sorted(kept):
                    if labels[i] == labels[j]:
                        continue
                    if not decide.ocf_pair_met_original(int((I & fm[j]).sum()), area, OCF_THETA):
                        continue
                    claimed = (used == j + 1) & I
                    if record_events and claimed.any():
                        events.append((i, j))
                    if decide.ocf_in_front(logits[i, j], True):
                        intersect -= int(claimed.sum())
                        final |= claimed
                if decide.occupancy_drop(intersect, area, tau):
                    status[i] = CANVAS
                    continue
            mask = final
        else:
            # the RAP authors: the segments I_i meets, a pair when either share reaches θ,
            # in front on logit > 0 (sigmoid > 0.5); kept share <= tau drops
            mask = I.copy()
            if intersect_mask.any():
                mask = (used == 0) & I
                for owner in np.unique(used[intersect_mask]).tolist():
                    id_area = int((used == owner).sum())
                    id_mask = (used == owner) & intersect_mask
                    if decide.ocf_pair_met_reference(int(id_mask.sum()), area, id_area, OCF_THETA):
                        if record_events:
                            events.append((i, owner - 1))
                        if decide.ocf_in_front(logits[i, owner - 1], False):
                            mask[id_mask] = True
                if decide.canvas_drop(int(mask.sum()), area, tau):
                    status[i] = CANVAS
                    continue
        used[mask] = i + 1
        status[i] = KEPT
        kept.append(i)
    visible = np.bincount(used.ravel(), minlength=n + 1)[1:].astype(np.int64)
    decide.mark_emptied(status, visible, kept, len(kept))
    ev = np.array(events, np.int64).reshape(-1, 2)
    return used.astype(np.int32), status, visible, ev


def ref_fuse_atoms_ocfusion(weight, ptr, idx, areas, labels, order, overlaps, logits, *, tau, original):
    """Twin of :func:`rapkit.kernels.ocfusion.fuse_atoms_ocfusion` (whole-array numpy per
    proposal, the steps of :func:`ref_fuse_ocfusion` with pixel counts as atom weights)."""
    n = areas.shape[0]
    owner = np.full(weight.shape[0], -1, np.int64)
    status = np.full(n, UNSEEN, np.int8)
    kept: list[int] = []
    for i in (int(v) for v in order):
        area = int(areas[i])
        if area == 0:
            status[i] = EMPTY
            continue
        at = idx[ptr[i] : ptr[i + 1]]
        own, w = owner[at], weight[at]
        reclaim = np.zeros(at.shape[0], bool)
        visible = np.bincount(owner[owner >= 0], weights=weight[owner >= 0], minlength=n).astype(np.int64)
        for j in np.unique(own[own >= 0]).tolist():
            o_vis = int(w[own == j].sum())
            if original:
                met = labels[i] != labels[j] and decide.ocf_pair_met_original(int(overlaps[i, j]), area, OCF_THETA)
            else:
                met = decide.ocf_pair_met_reference(o_vis, area, int(visible[j]), OCF_THETA)
            if met and decide.ocf_in_front(logits[i, j], original):
                reclaim |= own == j
        if (own >= 0).any():
            n_free, n_take = int(w[own < 0].sum()), int(w[reclaim].sum())
            if (
                decide.occupancy_drop(area - n_free - n_take, area, tau)
                if original
                else decide.canvas_drop(n_free + n_take, area, tau)
            ):
                status[i] = CANVAS
                continue
        owner[at[(own < 0) | reclaim]] = i
        status[i] = KEPT
        kept.append(i)
    visible = np.bincount(owner[owner >= 0], weights=weight[owner >= 0], minlength=n).astype(np.int64)
    decide.mark_emptied(status, visible, kept, len(kept))
    return owner, status, visible
