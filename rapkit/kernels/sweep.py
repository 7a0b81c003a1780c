"""Kernels of the threshold sweep: fusion on *atoms* instead of pixels.

An atom is a maximal set of pixels that share everything fusion and PQ can see: the same
set of covering proposal masks, the same GT segment and the same semantic label. Every
quantity of Algorithm 1 and of the heuristic (mask areas, overlaps with the canvas, with
one label, with a kept proposal's visible pixels) is a sum of atom weights, and pixels of
one atom always share their fate, so fusing atoms gives exactly the pixel result while a
parameter setting costs microseconds instead of a full-image pass.

Layouts follow :mod:`rapkit.kernels.rle`: proposal masks are column runs
(:func:`rapkit.kernels.rle.decode_rle_runs`; ``boxes[k] = (x0, x1, y0, y1)``); per-pixel
arrays are x-major flat (``p = x * H + y``), so a run is one contiguous slice of them.
Proposal status codes are those of :mod:`rapkit.kernels.status`; the checks of Algorithm 1
are those of :mod:`rapkit.kernels.decisions`, compiled into this kernel and into the run
kernel of :mod:`rapkit.kernels.fusion` alike.
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit
from . import decisions_jit as decide
from .status import CANVAS, CATEGORY, EMPTY, KEPT, OVERLAP, UNSEEN


@njit
def _initial_atoms(keys):
    """Dense ids of the distinct uint64 ``keys`` (first-seen order) via open addressing."""
    n = keys.shape[0]
    cap = 1 << 12
    while True:
        slots = np.full(cap, -1, np.int64)
        skeys = np.zeros(cap, np.uint64)
        uniq = np.empty(cap // 2, np.uint64)
        atom = np.empty(n, np.int32)
        nu = 0
        mask = np.uint64(cap - 1)
        ok = True
        last_k = np.uint64(0)
        last_a = np.int32(-1)
        for p in range(n):
            k = keys[p]
            if last_a >= 0 and k == last_k:  # runs of equal keys: no hashing
                atom[p] = last_a
                continue
            last_k = k
            h = (k * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20)
            s = np.int64(h & mask)
            while True:
                if slots[s] < 0:
                    if nu == cap // 2:
                        ok = False
                        break
                    slots[s] = nu
                    skeys[s] = k
                    uniq[nu] = k
                    atom[p] = nu
                    last_a = np.int32(nu)
                    nu += 1
                    break
                if skeys[s] == k:
                    atom[p] = slots[s]
                    last_a = np.int32(slots[s])
                    break
                s = (s + 1) & (cap - 1)
            if not ok:
                break
        if ok:
            return atom, uniq[:nu].copy()
        cap *= 2


@njit
def _grow_i32(a):
    """``a`` at twice the length, the new half -1 (an element loop: a slice assignment would
    compile numba's shape-mismatch error formatting, seconds of a cold start)."""
    b = np.empty(2 * a.shape[0], np.int32)
    for i in range(a.shape[0]):
        b[i] = a[i]
    for i in range(a.shape[0], b.shape[0]):
        b[i] = -1
    return b


@njit
def _build_atoms(keys, height, boxes, col_offs, col_ptr, run_y0, run_y1):
    atom, base_keys = _initial_atoms(keys)
    n0 = base_keys.shape[0]
    n = boxes.shape[0]
    cap = max(1024, 2 * n0)
    base_of = np.full(cap, -1, np.int32)
    for a in range(n0):
        base_of[a] = a
    remap = np.full(cap, -1, np.int32)
    touched = np.empty(cap, np.int32)
    n_atoms = n0
    # partition refinement: each mask splits the atoms it touches
    for k in range(n):
        x0 = boxes[k, 0]
        bk = col_offs[k] - x0  # col_ptr[bk + x]: the runs of column x
        # a mask creates at most one new atom per atom it touches: grow before the pixel loop
        need = n_atoms + min(np.int64(boxes[k, 1] - x0) * (boxes[k, 3] - boxes[k, 2]), np.int64(n_atoms))
        while need > base_of.shape[0]:
            base_of = _grow_i32(base_of)
            remap = _grow_i32(remap)
            touched = _grow_i32(touched)
        nt = 0
        prev_a = -1
        prev_r = -1
        for x in range(x0, boxes[k, 1]):
            for q in range(col_ptr[bk + x], col_ptr[bk + x + 1]):
                arow = atom[x * height + run_y0[q] : x * height + run_y1[q]]
                for t in range(arow.shape[0]):
                    a = arow[t]
                    if a == prev_a:  # runs of one atom: same new id
                        arow[t] = prev_r
                        continue
                    r = remap[a]
                    if r < 0:
                        r = n_atoms
                        n_atoms += 1
                        remap[a] = r
                        base_of[r] = base_of[a]
                        touched[nt] = a
                        nt += 1
                    arow[t] = r
                    prev_a = a
                    prev_r = r
        for q in range(nt):
            remap[touched[q]] = -1
    # compaction (old id order) and weights
    weight_all = np.zeros(n_atoms, np.int64)
    for p in range(atom.shape[0]):
        weight_all[atom[p]] += 1
    newid = np.full(n_atoms, -1, np.int32)
    m = 0
    for a in range(n_atoms):
        if weight_all[a] > 0:
            newid[a] = m
            m += 1
    weight = np.empty(m, np.int64)
    base = np.empty(m, np.int32)
    for a in range(n_atoms):
        if newid[a] >= 0:
            weight[newid[a]] = weight_all[a]
            base[newid[a]] = base_of[a]
    # per-proposal atom lists (CSR), first in pixel order, with how many proposals cover each atom
    ptr = np.zeros(n + 1, np.int64)
    idx = np.empty(max(16, 4 * m), np.int32)
    last = np.full(m, -1, np.int64)
    deg = np.zeros(m + 1, np.int64)
    ni = 0
    for k in range(n):
        x0 = boxes[k, 0]
        bk = col_offs[k] - x0
        while ni + min(np.int64(boxes[k, 1] - x0) * (boxes[k, 3] - boxes[k, 2]), np.int64(m)) > idx.shape[0]:
            idx = _grow_i32(idx)
        prev = -1
        for x in range(x0, boxes[k, 1]):
            for q in range(col_ptr[bk + x], col_ptr[bk + x + 1]):
                arow = atom[x * height + run_y0[q] : x * height + run_y1[q]]
                for t in range(arow.shape[0]):
                    if arow[t] == prev:
                        continue
                    prev = arow[t]
                    a = newid[prev]
                    if last[a] != k:
                        last[a] = k
                        idx[ni] = a
                        deg[a + 1] += 1
                        ni += 1
        ptr[k + 1] = ni
    # ascending atom ids per proposal: a counting sort through the atom -> proposals lists
    # (linear, and no sort routine to compile)
    for a in range(m):
        deg[a + 1] += deg[a]
    by_atom = np.empty(ni, np.int32)
    for k in range(n):
        for u in range(ptr[k], ptr[k + 1]):
            a = idx[u]
            by_atom[deg[a]] = k
            deg[a] += 1
    fill = ptr[:n].copy()
    v = 0
    for a in range(m):
        for _ in range(v, deg[a]):
            k = by_atom[v]
            idx[fill[k]] = a
            fill[k] += 1
            v += 1
    return weight, base, base_keys, ptr, idx[:ni].copy()


@njit
def _xmajor_keys(gt, sem):
    h, w = gt.shape
    keys = np.empty(h * w, np.uint64)
    tile = 32
    for xs in range(0, w, tile):
        xe = min(xs + tile, w)
        for y in range(h):
            grow = gt[y]
            srow = sem[y]
            for x in range(xs, xe):
                keys[x * h + y] = (np.uint64(grow[x]) << np.uint64(8)) | np.uint64(srow[x])
    return keys


def xmajor_keys(gt: np.ndarray, sem: np.ndarray) -> np.ndarray:
    """Per-pixel atom keys ``gt << 8 | sem`` in x-major order (``p = x * H + y``)."""
    if gt.ndim != 2 or gt.shape != sem.shape:
        raise ValueError("gt and sem must be 2-D arrays of the same shape")
    if gt.dtype != np.uint32 or sem.dtype != np.uint8:
        raise ValueError("gt must be uint32 and sem uint8")
    return _xmajor_keys(np.ascontiguousarray(gt), np.ascontiguousarray(sem))


def build_atoms(
    keys: np.ndarray,
    height: int,
    boxes: np.ndarray,
    col_offsets: np.ndarray,
    col_ptr: np.ndarray,
    run_y0: np.ndarray,
    run_y1: np.ndarray,
):
    """Atoms of one image.

    ``keys``: (W*H,) uint64 x-major per-pixel key of everything besides the proposals
    (the sweep uses ``gt_id << 8 | semantic``); the masks are column runs
    (:func:`rapkit.kernels.rle.decode_rle_runs`, every non-empty mask with its runs).
    Returns ``(weight, base, base_keys, ptr, idx)``: atom pixel counts, the index into
    ``base_keys`` of each atom's key, the distinct keys, and the CSR lists
    (``idx[ptr[k]:ptr[k+1]]``, ascending) of the atoms inside proposal ``k``.
    """
    keys = np.ascontiguousarray(keys)
    if keys.dtype != np.uint64 or keys.ndim != 1:
        raise ValueError("keys must be a 1-D uint64 array")
    if boxes.dtype != np.int64 or boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError("boxes must be (N, 4) int64")
    n = boxes.shape[0]
    if col_offsets.dtype != np.int64 or col_offsets.shape != (n + 1,):
        raise ValueError("col_offsets must be (N + 1,) int64")
    if np.any(col_offsets[1:] - col_offsets[:-1] != boxes[:, 1] - boxes[:, 0] + 1):
        raise ValueError("every mask needs its runs (one column list per box column)")
    for name, a in (("col_ptr", col_ptr), ("run_y0", run_y0), ("run_y1", run_y1)):
        if a.dtype != np.int64 or a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D int64 array")
    if height <= 0 or keys.shape[0] % height:
        raise ValueError("keys length must be a multiple of height")
    c = np.ascontiguousarray
    return _build_atoms(keys, int(height), c(boxes), c(col_offsets), c(col_ptr), c(run_y0), c(run_y1))


@njit
def _fuse_atoms(weight, ptr, idx, areas, boxes, labels, rel, order, overlaps, tau, gamma, ra, ca, eo, reference):
    m = weight.shape[0]
    n = areas.shape[0]
    owner = np.full(m, -1, np.int32)
    status = np.full(n, UNSEEN, np.int8)
    visible = np.zeros(n, np.int64)
    kept = np.empty(n, np.int64)
    _fuse_atoms_into(
        owner,
        status,
        visible,
        kept,
        weight,
        ptr,
        idx,
        areas,
        boxes,
        labels,
        rel,
        order,
        overlaps,
        tau,
        gamma,
        ra,
        ca,
        eo,
        reference,
    )
    return owner, status, visible


@njit
def _fuse_atoms_into(
    owner,
    status,
    visible,
    kept,
    weight,
    ptr,
    idx,
    areas,
    boxes,
    labels,
    rel,
    order,
    overlaps,
    tau,
    gamma,
    ra,
    ca,
    eo,
    reference,
):
    """The body of :func:`_fuse_atoms` on arrays the caller made (owner -1, status UNSEEN,
    visible 0): one setting of the sweep's grid."""
    nk = 0
    for i in order:
        area = areas[i]
        if area == 0:
            status[i] = EMPTY
            continue
        li = labels[i]
        ri = rel[i]
        n_same = 0
        n_occ = 0
        n_vis = 0
        for u in range(ptr[i], ptr[i + 1]):
            a = idx[u]
            c = owner[a]
            w = weight[a]
            if c < 0:
                n_vis += w
            else:
                n_occ += w
                if labels[c] == li:
                    n_same += w
                if decide.takes_over(rel[c], ri):
                    n_vis += w
        if ca and decide.category_drop(n_same, area, tau, reference):
            status[i] = CATEGORY
            continue
        drop_eo = False
        if eo:
            x0 = boxes[i, 0]
            x1 = boxes[i, 1]
            y0 = boxes[i, 2]
            y1 = boxes[i, 3]
            for kk in range(nk):
                j = kept[kk]
                if boxes[j, 0] >= x1 or boxes[j, 1] <= x0 or boxes[j, 2] >= y1 or boxes[j, 3] <= y0:
                    continue
                o = overlaps[i, j]
                if o == 0:
                    continue
                if reference:  # against j's visible segment
                    ov = 0
                    if visible[j] > 0:
                        for u in range(ptr[i], ptr[i + 1]):
                            a = idx[u]
                            if owner[a] == j:
                                ov += weight[a]
                    drop_eo = decide.excessive_overlap(ov, area, visible[j], gamma)
                else:
                    drop_eo = decide.excessive_overlap(o, area, areas[j], gamma)
                if drop_eo:
                    break
        drop_canvas = decide.canvas_drop(n_vis, area, tau) if ra else decide.occupancy_drop(n_occ, area, tau)
        if drop_eo or drop_canvas:
            status[i] = OVERLAP if drop_eo else CANVAS
            continue
        for u in range(ptr[i], ptr[i + 1]):
            a = idx[u]
            c = owner[a]
            if c < 0:
                owner[a] = i
                visible[i] += weight[a]
            elif ra and decide.takes_over(rel[c], ri):
                visible[c] -= weight[a]
                owner[a] = i
                visible[i] += weight[a]
        status[i] = KEPT
        kept[nk] = i
        nk += 1
    decide.mark_emptied(status, visible, kept, nk)


@njit
def _fuse_atoms_grid(
    weight, ptr, idx, areas, boxes, labels, rel, scores, order, overlaps, rho, tau, gamma, switches, stuff
):
    m = weight.shape[0]
    n = areas.shape[0]
    n_set = rho.shape[0]
    owner = np.full((n_set, m), -1, np.int32)
    status = np.full((n_set, n), UNSEEN, np.int8)
    visible = np.zeros(n, np.int64)
    kept = np.empty(n, np.int64)
    cand = np.empty(order.shape[0], np.int64)
    group = np.empty(n_set, np.int64)
    reps = np.empty(n_set, np.int64)
    n_rep = 0
    for s in range(n_set):
        nc = 0
        for i in order:
            if scores[i] >= rho[s]:
                cand[nc] = i
                nc += 1
        visible[:] = 0
        _fuse_atoms_into(
            owner[s],
            status[s],
            visible,
            kept,
            weight,
            ptr,
            idx,
            areas,
            boxes,
            labels,
            rel,
            cand[:nc],
            overlaps,
            tau[s],
            gamma[s],
            switches[s, 0],
            switches[s, 1],
            switches[s, 2],
            switches[s, 3],
        )
        g = -1
        for r in range(n_rep):  # the first earlier setting with the same outcome
            t = reps[r]
            if stuff[t] != stuff[s]:
                continue
            same = True
            for a in range(m):
                if owner[t, a] != owner[s, a]:
                    same = False
                    break
            if same:
                for i in range(n):
                    if status[t, i] != status[s, i]:
                        same = False
                        break
            if same:
                g = r
                break
        if g < 0:
            reps[n_rep] = s
            g = n_rep
            n_rep += 1
        group[s] = g
    return owner, status, group, reps[:n_rep].copy()


def fuse_atoms_grid(
    weight, ptr, idx, areas, boxes, labels, rel, scores, order, overlaps, rho, tau, gamma, switches, stuff
):
    """:func:`fuse_atoms` for every setting of a grid in one call (the sweep's atoms: Python
    sees an image, not a setting). Setting ``s`` fuses the proposals of ``order`` whose
    score is at least ``rho[s]`` with ``tau[s]``, ``gamma[s]`` and ``switches[s] = (ra, ca,
    eo, reference)``; ``stuff[s]`` is its stuff area (only compared).

    Returns ``(owner, status, group, reps)``: ``owner`` (S, atoms) and ``status`` (S, N) as
    :func:`fuse_atoms` gives them per setting, ``group[s]`` the index into ``reps`` of the
    first setting with the same owners, statuses and stuff area (settings of one group
    predict the same segments), ``reps`` those first settings in grid order.
    """
    n = areas.shape[0]
    if overlaps.shape != (n, n) or overlaps.dtype != np.int64:
        raise ValueError("overlaps must be (N, N) int64")
    if order.dtype != np.int64 or labels.dtype != np.int64 or rel.dtype != np.float64:
        raise ValueError("order/labels must be int64 and rel float64")
    k = np.asarray(rho, np.float64).shape[0]
    switches = np.ascontiguousarray(switches, np.bool_)
    if switches.shape != (k, 4):
        raise ValueError("switches must be (S, 4): ra, ca, eo, reference per setting")
    c = np.ascontiguousarray
    return _fuse_atoms_grid(
        weight,
        ptr,
        idx,
        areas,
        boxes,
        labels,
        rel,
        c(scores, np.float64),
        c(order),
        overlaps,
        c(rho, np.float64),
        c(tau, np.float64).reshape(k),
        c(gamma, np.float64).reshape(k),
        switches,
        c(stuff, np.int64).reshape(k),
    )


@njit
def _add_grid(
    tp, fp, fn, iou, has, members_ptr, members, cnt_ptr, cnt_cat, cnt_tp, cnt_fp, cnt_fn, pair_ptr, pair_cat, pair_iou
):
    for d in range(members_ptr.shape[0] - 1):
        for u in range(members_ptr[d], members_ptr[d + 1]):
            s = members[u]
            for e in range(cnt_ptr[d], cnt_ptr[d + 1]):
                c = cnt_cat[e]
                tp[s, c] += cnt_tp[e]
                fp[s, c] += cnt_fp[e]
                fn[s, c] += cnt_fn[e]
            for e in range(pair_ptr[d], pair_ptr[d + 1]):
                c = pair_cat[e]
                if has[s, c]:
                    iou[s, c] += pair_iou[e]
                else:
                    iou[s, c] = pair_iou[e]
                    has[s, c] = True


def add_grid(
    tp, fp, fn, iou, has, members_ptr, members, cnt_ptr, cnt_cat, cnt_tp, cnt_fp, cnt_fn, pair_ptr, pair_cat, pair_iou
):
    """Fold one image's statistics into the running totals of every setting, in place.

    Outcome ``d`` is shared by the settings ``members[members_ptr[d]:members_ptr[d+1]]``; its
    TP/FP/FN per category index are entries ``cnt_ptr[d]:cnt_ptr[d+1]`` and its matched IoUs
    (in the order panopticapi adds them) entries ``pair_ptr[d]:pair_ptr[d+1]``. Each IoU is
    added to ``iou[s, c]`` one at a time (the first one of a category is stored), the same
    float operations as :class:`rapkit.core.sweep_totals.StatsTotals`.
    """
    _add_grid(
        tp,
        fp,
        fn,
        iou,
        has,
        members_ptr,
        members,
        cnt_ptr,
        cnt_cat,
        cnt_tp,
        cnt_fp,
        cnt_fn,
        pair_ptr,
        pair_cat,
        pair_iou,
    )


def fuse_atoms(
    weight,
    ptr,
    idx,
    areas,
    boxes,
    labels,
    rel,
    order,
    overlaps,
    *,
    tau: float,
    gamma: float,
    ra: bool,
    ca: bool,
    eo: bool,
    reference: bool,
):
    """Algorithm 1 / the heuristic on atoms: ``(owner per atom, status, visible)``.

    Same decisions as :func:`rapkit.kernels.fusion.fuse_runs` on the pixels.
    """
    n = areas.shape[0]
    if overlaps.shape != (n, n) or overlaps.dtype != np.int64:
        raise ValueError("overlaps must be (N, N) int64")
    if order.dtype != np.int64 or labels.dtype != np.int64 or rel.dtype != np.float64:
        raise ValueError("order/labels must be int64 and rel float64")
    return _fuse_atoms(
        weight,
        ptr,
        idx,
        areas,
        boxes,
        labels,
        rel,
        np.ascontiguousarray(order),
        overlaps,
        float(tau),
        float(gamma),
        bool(ra),
        bool(ca),
        bool(eo),
        bool(reference),
    )


@njit
def _pred_ids(owner, weight, atom_sem, lut, is_stuff, stuff_area, n_things):
    """Per-atom predicted segment id (things via ``lut``, then the stuff fill), stuff classes."""
    m = owner.shape[0]
    counts = np.zeros(256, np.int64)
    for a in range(m):
        if owner[a] < 0:
            counts[atom_sem[a]] += weight[a]
    seg_of = np.zeros(256, np.int64)
    classes = np.empty(256, np.int64)
    ns = decide.number_stuff_segments(counts, is_stuff, stuff_area, n_things, seg_of, classes)
    pred = np.empty(m, np.int64)
    for a in range(m):
        o = owner[a]
        if o >= 0:
            pred[a] = lut[o]
        else:
            pred[a] = seg_of[atom_sem[a]]
    return pred, classes[:ns].copy()


@njit
def _pair_counts(gt, pred, weight):
    """(gt, pred) pair pixel counts over atoms, sorted by ``gt * 2**24 + pred``.

    The distinct pairs (a few dozen per image) are kept sorted as they come: a binary search
    per atom, an insertion per new pair (no sort routine to compile)."""
    m = gt.shape[0]
    out_k = np.empty(m, np.uint64)
    out_c = np.empty(m, np.int64)
    nk = 0
    last = 0
    for a in range(m):
        k = (np.uint64(gt[a]) << np.uint64(24)) | np.uint64(pred[a])
        if nk > 0 and out_k[last] == k:  # runs of one pair
            out_c[last] += weight[a]
            continue
        lo = 0
        hi = nk
        while lo < hi:
            mid = (lo + hi) >> 1
            if out_k[mid] < k:
                lo = mid + 1
            else:
                hi = mid
        if lo < nk and out_k[lo] == k:
            out_c[lo] += weight[a]
        else:
            for q in range(nk, lo, -1):
                out_k[q] = out_k[q - 1]
                out_c[q] = out_c[q - 1]
            out_k[lo] = k
            out_c[lo] = weight[a]
            nk += 1
        last = lo
    return out_k[:nk].copy(), out_c[:nk].copy()


def pred_ids(owner, weight, atom_sem, lut, is_stuff, stuff_area: int, n_things: int):
    """Predicted segment id of every atom after the stuff fill, and the stuff classes used."""
    return _pred_ids(owner, weight, atom_sem, lut, is_stuff, int(stuff_area), int(n_things))


def pair_counts(gt: np.ndarray, pred: np.ndarray, weight: np.ndarray):
    """``(keys, counts)``: pixel counts of each (gt, pred) pair, keys ``gt << 24 | pred`` ascending."""
    return _pair_counts(np.ascontiguousarray(gt, np.int64), np.ascontiguousarray(pred, np.int64), weight)
