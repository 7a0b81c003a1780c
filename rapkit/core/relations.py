"""Ground-truth occlusion relations of one image (paper section 3.1), pure numpy.

For the non-crowd instances ``I_k`` of an image (amodal masks from the instances JSON) and
the image's panoptic id map:

1. **Matching.** Each instance is matched to a panoptic segment of the same category: the
   one-to-one assignment with the largest total pixel intersection (per category; a maximum
   weight bipartite matching, so a small object in front of a big one of the same category
   keeps its own segment; among equal totals the better IoU wins). Crowd instances and crowd segments take no part. An instance
   with no overlapping segment left is *unmatched*: it owns no pixel of the panoptic map.
2. **Candidate pairs.** For instances i, j with ``O = I_i ∩ I_j``, ``R_i = |O|/|I_i|`` and
   ``R_j = |O|/|I_j|``: the pair is a candidate when ``R_i > theta`` or ``R_j > theta``
   (a ratio exactly at theta does not count).
3. **Front.** ``rule="paper"``: count the pixels of ``O`` that the panoptic map gives to i
   and to j; the majority is in front. Equal counts give no relation (a *tie*; when both
   counts are 0 the pair is *hidden*). ``rule="deficit"`` (the authors' code): the instance
   that lost fewer of its own pixels, ``|I_k| - |seg_k|``, is in front; equal -> tie.

>>> import numpy as np
>>> from rapkit.types import InstanceMask, Segment
>>> a = InstanceMask(1, 1, 0, 0, 0, np.ones((2, 4), bool))
>>> b = InstanceMask(2, 1, 0, 2, 0, np.ones((2, 2), bool))
>>> id_map = np.array([[10, 10, 20, 20], [10, 10, 20, 20]], np.uint32)
>>> segs = [Segment(10, 1, 4, (0, 0, 2, 2)), Segment(20, 1, 4, (2, 0, 2, 2))]
>>> r = extract_relations([a, b], id_map, segs, theta=0.2)
>>> [(x.front, x.back) for x in r.relations]
[(2, 1)]
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from ..errors import ConfigError, InputError
from ..types import ImageRelations, InstanceMask, Relation, Segment

RULES = ("paper", "deficit")


# --------------------------------------------------------------------------- id map labels


def label_map(id_map: np.ndarray, segment_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map panoptic ids to labels ``1..n`` (position in sorted ``segment_ids`` + 1), 0 = VOID.

    Returns ``(labels (H, W) int32, sorted segment ids, pixel count per label)``. An id that
    is neither 0 nor a segment id raises :class:`InputError` with that id as ``segment_id``.
    Runs of equal ids are folded first, so the cost is one pass over the map.

    >>> lab, ids, areas = label_map(np.array([[0, 7, 7, 3]], np.uint32), np.array([7, 3]))
    >>> lab.tolist(), ids.tolist(), areas.tolist()
    ([[0, 2, 2, 1]], [3, 7], [1, 1, 2])
    """
    ids = np.asarray(id_map)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"id_map must be a 2-D integer array, got {ids.dtype} {ids.shape}")
    seg_sorted = np.unique(np.asarray(segment_ids, dtype=np.int64))
    flat = ids.reshape(-1)
    n = flat.size
    if n == 0:
        return np.zeros(ids.shape, np.int32), seg_sorted, np.zeros(seg_sorted.size + 1, np.int64)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], change))
    run_vals = flat[starts].astype(np.int64)
    run_lens = np.diff(np.concatenate((starts, [n])))
    pos = np.searchsorted(seg_sorted, run_vals)
    pos_c = np.minimum(pos, max(seg_sorted.size - 1, 0))
    known = (seg_sorted.size > 0) & (seg_sorted[pos_c] == run_vals) if seg_sorted.size else np.zeros(run_vals.size, bool)
    void = run_vals == 0
    bad = ~(known | void)
    if bad.any():
        raise InputError("id in the panoptic PNG but not in segments_info", segment_id=int(run_vals[np.argmax(bad)]))
    run_labels = np.where(void, 0, pos_c + 1).astype(np.int32)
    areas = np.bincount(run_labels, weights=run_lens, minlength=seg_sorted.size + 1).astype(np.int64)
    labels = np.repeat(run_labels, run_lens).reshape(ids.shape)
    return labels, seg_sorted, areas


# --------------------------------------------------------------------------- matching


def max_weight_matching(weights: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one assignment of rows to columns maximising the total of positive weights.

    Returns ``(row, col)`` pairs with positive weight, sorted by row. Deterministic (the
    Hungarian algorithm on the negated matrix, rows in order).

    >>> max_weight_matching(np.array([[5, 5], [5, 0]]))
    [(0, 1), (1, 0)]
    """
    w0 = np.asarray(weights)
    w = w0.astype(np.float64)
    if w.ndim != 2:
        raise ValueError("weights must be 2-D")
    n_r, n_c = w.shape
    if n_r == 0 or n_c == 0:
        return []
    transposed = n_r > n_c
    if transposed:
        w = w.T
        n_r, n_c = n_c, n_r
    cost = -w
    # Hungarian algorithm with potentials (rows <= cols), 1-based internal indices.
    inf = float("inf")
    u = [0.0] * (n_r + 1)
    v = [0.0] * (n_c + 1)
    p = [0] * (n_c + 1)
    way = [0] * (n_c + 1)
    c = cost.tolist()
    for i in range(1, n_r + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (n_c + 1)
        used = [False] * (n_c + 1)
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = inf
            j1 = 0
            row = c[i0 - 1]
            ui0 = u[i0]
            for j in range(1, n_c + 1):
                if not used[j]:
                    cur = row[j - 1] - ui0 - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n_c + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    pairs = []
    for j in range(1, n_c + 1):
        if p[j]:
            r, col = p[j] - 1, j - 1
            if transposed:
                r, col = col, r
            if w0[r, col] > 0:
                pairs.append((int(r), int(col)))
    pairs.sort()
    return pairs


def _components(w: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connected components (rows, cols) of the bipartite graph of positive entries."""
    n_r, n_c = w.shape
    seen_r = np.zeros(n_r, bool)
    seen_c = np.zeros(n_c, bool)
    pos = w > 0
    out = []
    for r0 in range(n_r):
        if seen_r[r0] or not pos[r0].any():
            continue
        rows, cols = {r0}, set()
        stack = [("r", r0)]
        seen_r[r0] = True
        while stack:
            kind, k = stack.pop()
            if kind == "r":
                for cc in np.flatnonzero(pos[k] & ~seen_c).tolist():
                    seen_c[cc] = True
                    cols.add(cc)
                    stack.append(("c", cc))
            else:
                for rr in np.flatnonzero(pos[:, k] & ~seen_r).tolist():
                    seen_r[rr] = True
                    rows.add(rr)
                    stack.append(("r", rr))
        out.append((np.array(sorted(rows)), np.array(sorted(cols))))
    return out


def match_instances(weights: np.ndarray) -> list[tuple[int, int]]:
    """:func:`max_weight_matching`, solved per connected component (fast on sparse overlaps)."""
    w = np.asarray(weights)
    pairs: list[tuple[int, int]] = []
    for rows, cols in _components(w):
        if rows.size == 1 and cols.size == 1:
            pairs.append((int(rows[0]), int(cols[0])))
            continue
        if rows.size == 1:
            pairs.append((int(rows[0]), int(cols[np.argmax(w[rows[0], cols])])))
            continue
        if cols.size == 1:
            pairs.append((int(rows[np.argmax(w[rows, cols[0]])]), int(cols[0])))
            continue
        sub = w[np.ix_(rows, cols)]
        pairs.extend((int(rows[r]), int(cols[c])) for r, c in max_weight_matching(sub))
    pairs.sort()
    return pairs


# --------------------------------------------------------------------------- relations


def _check_args(theta: float, rule: str) -> None:
    if rule not in RULES:
        raise ConfigError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not (0.0 <= float(theta) <= 1.0):
        raise ConfigError(f"theta must be a number in [0, 1], got {theta!r}")


def extract_relations(
    instance_masks: Sequence[InstanceMask],
    id_map: np.ndarray,
    segments: Sequence[Segment],
    theta: float = 0.2,
    rule: Literal["paper", "deficit"] = "paper",
    *,
    image_id: int = 0,
) -> ImageRelations:
    """Occlusion relations of one image (see the module docstring for the method).

    ``instance_masks``: the image's instance annotations (crowd ones are skipped);
    ``id_map``: (H, W) panoptic ids; ``segments``: the image's ``segments_info``.
    Every non-zero id of ``id_map`` must be a segment id (else :class:`InputError`).
    Relations are listed in pair order (i < j in input order).

    >>> extract_relations([], np.zeros((2, 2), np.uint32), [], image_id=5).relations
    []
    """
    _check_args(theta, rule)
    theta = float(theta)
    ids = np.asarray(id_map)
    if ids.ndim != 2:
        raise ValueError(f"id_map must be 2-D, got shape {ids.shape}")
    height, width = ids.shape
    insts = [m for m in instance_masks if not m.iscrowd]
    out = ImageRelations(image_id=int(image_id), n_instances=len(insts), n_crowd=len(instance_masks) - len(insts))
    for m in instance_masks:
        h, w = m.mask.shape
        if m.mask.dtype != np.bool_ or m.mask.ndim != 2:
            raise ValueError(f"instance {m.id}: mask must be a 2-D bool array")
        if h and w and (m.x0 < 0 or m.y0 < 0 or m.x0 + w > width or m.y0 + h > height):
            raise InputError(f"instance {m.id}: mask crop {m.bbox} lies outside the {width}x{height} image", image_id=image_id)

    seg_ids = np.array([s.id for s in segments], dtype=np.int64)
    labels, seg_sorted, seg_areas = label_map(ids, seg_ids)
    if not insts:
        return out
    n_lab = seg_sorted.size + 1
    seg_by_label = {int(k) + 1: s for k, s in enumerate(sorted(segments, key=lambda s: s.id))}

    # --- per-instance label histograms -> intersections with candidate segments
    hist = np.zeros((len(insts), n_lab), dtype=np.int64)
    for k, m in enumerate(insts):
        h, w = m.mask.shape
        if m.area == 0 or h == 0 or w == 0:
            continue
        crop = labels[m.y0 : m.y0 + h, m.x0 : m.x0 + w]
        hist[k] = np.bincount(crop[m.mask], minlength=n_lab)

    # --- one-to-one matching, per category
    areas = np.array([m.area for m in insts], dtype=np.int64)
    match_label = np.zeros(len(insts), dtype=np.int64)  # 0 = unmatched
    cats = sorted({m.category_id for m in insts})
    for cat in cats:
        rows = [k for k, m in enumerate(insts) if m.category_id == cat]
        cols = [lab for lab, s in seg_by_label.items() if s.category_id == cat and not s.iscrowd]
        if not cols:
            continue
        inter = hist[np.ix_(rows, cols)].astype(np.float64)
        union = areas[rows][:, None] + seg_areas[cols][None, :] - inter
        # Ties in total intersection go to the better fitting pairs (IoU, weighted so that
        # it never outweighs a single pixel of intersection).
        wts = inter + (0.5 / (len(rows) + 1)) * np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        for r, c in match_instances(wts):
            match_label[rows[r]] = cols[c]
    for k, m in enumerate(insts):
        if match_label[k]:
            out.matches[m.id] = seg_by_label[int(match_label[k])].id
        else:
            out.unmatched.append(m.id)

    # --- candidate pairs
    deficit = areas - np.where(match_label > 0, seg_areas[match_label], 0)
    boxes = np.array([[m.x0, m.y0, m.x0 + m.mask.shape[1], m.y0 + m.mask.shape[0]] for m in insts], dtype=np.int64)
    n = len(insts)
    for i in range(n):
        if areas[i] == 0:
            continue
        bi = boxes[i]
        for j in range(i + 1, n):
            if areas[j] == 0:
                continue
            bj = boxes[j]
            x0, y0 = max(bi[0], bj[0]), max(bi[1], bj[1])
            x1, y1 = min(bi[2], bj[2]), min(bi[3], bj[3])
            if x0 >= x1 or y0 >= y1:
                continue
            mi = insts[i].mask[y0 - bi[1] : y1 - bi[1], x0 - bi[0] : x1 - bi[0]]
            mj = insts[j].mask[y0 - bj[1] : y1 - bj[1], x0 - bj[0] : x1 - bj[0]]
            o = mi & mj
            ov = int(np.count_nonzero(o))
            if ov == 0:
                continue
            ri, rj = ov / int(areas[i]), ov / int(areas[j])
            if not (ri > theta or rj > theta):
                continue
            out.candidate_pairs += 1
            lab_o = labels[y0:y1, x0:x1][o]
            li, lj = int(match_label[i]), int(match_label[j])
            ci = int(np.count_nonzero(lab_o == li)) if li else 0
            cj = int(np.count_nonzero(lab_o == lj)) if lj else 0
            if rule == "paper":
                si, sj = ci, cj  # more visible pixels = in front
            else:
                si, sj = -int(deficit[i]), -int(deficit[j])  # fewer lost pixels = in front
            pair = (insts[i].id, insts[j].id)
            if si == sj:
                if rule == "paper" and ci == 0:
                    out.hidden.append(pair)
                else:
                    out.ties.append(pair)
                continue
            if si > sj:
                f, b, rf, rb, cf, cb = i, j, ri, rj, ci, cj
            else:
                f, b, rf, rb, cf, cb = j, i, rj, ri, cj, ci
            out.relations.append(
                Relation(
                    image_id=int(image_id),
                    front=insts[f].id,
                    back=insts[b].id,
                    overlap=ov,
                    ratio_front=rf,
                    ratio_back=rb,
                    front_pixels=cf,
                    back_pixels=cb,
                )
            )
    return out


__all__ = ["RULES", "extract_relations", "label_map", "max_weight_matching", "match_instances"]
