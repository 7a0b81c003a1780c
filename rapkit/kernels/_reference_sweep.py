"""Plain-numpy twins of :mod:`rapkit.kernels.sweep` (the checks of Algorithm 1 are those of
:mod:`rapkit.kernels.decisions`, as in every fusion path). No numba here."""

from __future__ import annotations

import numpy as np

from . import decisions as decide
from ._reference_fusion import full_masks_from_runs
from .status import CANVAS, CATEGORY, EMPTY, KEPT, OVERLAP, UNSEEN

__all__ = ["canonical_atoms", "ref_build_atoms", "ref_fuse_atoms", "ref_pair_counts", "ref_pred_ids", "ref_xmajor_keys"]


def ref_xmajor_keys(gt, sem):
    """Twin of :func:`rapkit.kernels.sweep.xmajor_keys`."""
    return ((np.asarray(gt).T.astype(np.uint64) << np.uint64(8)) | np.asarray(sem).T.astype(np.uint64)).ravel()


def ref_build_atoms(keys, height, boxes, col_offsets, col_ptr, run_y0, run_y1):
    """Twin of :func:`rapkit.kernels.sweep.build_atoms` via ``np.unique`` on pixel signatures.

    Atom numbering may differ from the kernel's; compare canonical forms
    (:func:`canonical_atoms`).
    """
    n = boxes.shape[0]
    width = keys.shape[0] // height
    fm = full_masks_from_runs(boxes, col_offsets, col_ptr, run_y0, run_y1, height, width)  # (N, H, W)
    cover = np.ascontiguousarray(fm.transpose(0, 2, 1).reshape(n, -1).T)  # (W*H, N) x-major
    base_keys, base = np.unique(keys, return_inverse=True)
    sig = np.concatenate([base[:, None].astype(np.int64), cover.astype(np.int64)], axis=1)
    uniq, inv, weight = np.unique(sig, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    atom_base = uniq[:, 0].astype(np.int32)
    ptr = np.zeros(n + 1, np.int64)
    lists = []
    for k in range(n):
        lists.append(np.nonzero(uniq[:, 1 + k])[0].astype(np.int32))
        ptr[k + 1] = ptr[k] + lists[-1].size
    idx = np.concatenate(lists) if lists else np.zeros(0, np.int32)
    return weight.astype(np.int64), atom_base, base_keys.astype(np.uint64), ptr, idx


def canonical_atoms(weight, base, base_keys, ptr, idx):
    """``{(key, frozenset(proposals)): weight}``: atoms independent of their numbering."""
    n = ptr.shape[0] - 1
    cover = [set() for _ in range(weight.shape[0])]
    for k in range(n):
        for a in idx[ptr[k] : ptr[k + 1]]:
            cover[int(a)].add(k)
    out = {}
    for a in range(weight.shape[0]):
        key = (int(base_keys[base[a]]), frozenset(cover[a]))
        assert key not in out
        out[key] = int(weight[a])
    return out


def ref_fuse_atoms(weight, ptr, idx, areas, boxes, labels, rel, order, overlaps, *, tau, gamma, ra, ca, eo, reference):
    """Twin of :func:`rapkit.kernels.sweep.fuse_atoms` (whole-array numpy per proposal)."""
    m = weight.shape[0]
    n = areas.shape[0]
    owner = np.full(m, -1, np.int64)
    status = np.full(n, UNSEEN, np.int8)
    visible = np.zeros(n, np.int64)
    kept: list[int] = []
    for i in (int(v) for v in order):
        area = int(areas[i])
        if area == 0:
            status[i] = EMPTY
            continue
        at = idx[ptr[i] : ptr[i + 1]]
        own = owner[at]
        w = weight[at]
        occ = own >= 0
        own_c = np.where(occ, own, 0)
        n_same = int(w[occ & (labels[own_c] == labels[i])].sum())
        n_occ = int(w[occ].sum())
        over = occ & decide.takes_over(rel[own_c], rel[i])
        n_vis = int(w[~occ].sum()) + int(w[over].sum())
        if ca and decide.category_drop(n_same, area, tau, reference):
            status[i] = CATEGORY
            continue
        drop = False
        if eo:
            for j in kept:
                o = int(overlaps[i, j])
                if o == 0:
                    continue
                if reference:  # against j's visible segment
                    drop = decide.excessive_overlap(int(w[own == j].sum()), area, int(visible[j]), gamma)
                else:
                    drop = decide.excessive_overlap(o, area, int(areas[j]), gamma)
                if drop:
                    break
        if drop:
            status[i] = OVERLAP
            continue
        if decide.canvas_drop(n_vis, area, tau) if ra else decide.occupancy_drop(n_occ, area, tau):
            status[i] = CANVAS
            continue
        take = ~occ | over if ra else ~occ
        for a, o_, ww in zip(at[take], own[take], w[take]):
            if o_ >= 0:
                visible[o_] -= ww
            owner[a] = i
            visible[i] += ww
        status[i] = KEPT
        kept.append(i)
    decide.mark_emptied(status, visible, kept, len(kept))
    return owner.astype(np.int32), status, visible


def ref_pred_ids(owner, weight, atom_sem, lut, is_stuff, stuff_area, n_things):
    """Twin of :func:`rapkit.kernels.sweep.pred_ids`."""
    free = owner < 0
    counts = np.bincount(atom_sem[free].astype(np.int64), weights=weight[free], minlength=256).astype(np.int64)
    seg_of = np.zeros(256, np.int64)
    classes = np.zeros(256, np.int64)
    ns = decide.number_stuff_segments(counts, is_stuff, stuff_area, n_things, seg_of, classes)
    pred = np.where(free, seg_of[atom_sem], lut[np.where(free, 0, owner)])
    return pred.astype(np.int64), classes[:ns].copy()


def ref_pair_counts(gt, pred, weight):
    """Twin of :func:`rapkit.kernels.sweep.pair_counts`."""
    key = (np.asarray(gt, np.uint64) << np.uint64(24)) | np.asarray(pred, np.uint64)
    keys, inv = np.unique(key, return_inverse=True)
    counts = np.bincount(inv.ravel(), weights=weight, minlength=keys.size).astype(np.int64)
    return keys, counts


def ref_fuse_atoms_grid(
    weight, ptr, idx, areas, boxes, labels, rel, scores, order, overlaps, rho, tau, gamma, switches, stuff
):
    """Twin of :func:`rapkit.kernels.sweep.fuse_atoms_grid`: one :func:`ref_fuse_atoms` per
    setting, outcomes grouped by their bytes."""
    owners, statuses, group, reps, seen = [], [], [], [], {}
    for s in range(len(rho)):
        cand = order[scores[order] >= rho[s]]
        ra, ca, eo, reference = (bool(v) for v in switches[s])
        owner, status, _ = ref_fuse_atoms(
            weight, ptr, idx, areas, boxes, labels, rel, cand, overlaps,
            tau=tau[s], gamma=gamma[s], ra=ra, ca=ca, eo=eo, reference=reference,
        )  # fmt: skip
        owners.append(owner)
        statuses.append(status)
        key = (owner.tobytes(), status.tobytes(), int(stuff[s]))
        if key not in seen:
            seen[key] = len(reps)
            reps.append(s)
        group.append(seen[key])
    m, n = weight.shape[0], areas.shape[0]
    return (
        np.asarray(owners, np.int32).reshape(len(rho), m),
        np.asarray(statuses, np.int8).reshape(len(rho), n),
        np.asarray(group, np.int64),
        np.asarray(reps, np.int64),
    )


def ref_add_grid(
    tp, fp, fn, iou, has, members_ptr, members, cnt_ptr, cnt_cat, cnt_tp, cnt_fp, cnt_fn, pair_ptr, pair_cat, pair_iou
):
    """Twin of :func:`rapkit.kernels.sweep.add_grid` (in place)."""
    for d in range(len(members_ptr) - 1):
        for s in members[members_ptr[d] : members_ptr[d + 1]]:
            sl = slice(cnt_ptr[d], cnt_ptr[d + 1])
            np.add.at(tp[s], cnt_cat[sl], cnt_tp[sl])
            np.add.at(fp[s], cnt_cat[sl], cnt_fp[sl])
            np.add.at(fn[s], cnt_cat[sl], cnt_fn[sl])
            for e in range(pair_ptr[d], pair_ptr[d + 1]):
                c = pair_cat[e]
                iou[s, c] = iou[s, c] + pair_iou[e] if has[s, c] else pair_iou[e]
                has[s, c] = True
