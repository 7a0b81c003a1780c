"""Ground-truth occlusion relations of one image (paper section 3.1): a pure function (no
files); the pixel work runs in :mod:`rapkit.kernels.relations` (numba, loaded on first use)
or, with ``kernels="numpy"``, in its plain-numpy twins.

For the non-crowd instances ``I_k`` of an image (amodal masks from the instances JSON) and
the image's panoptic id map:

1. **Matching.** Each instance is matched to a panoptic segment of the same category: the
   one-to-one assignment with the largest total pixel intersection (per category; a maximum
   weight bipartite matching, so a small object in front of a big one of the same category
   keeps its own segment; among equal totals the better IoU wins). Crowd instances and
   crowd segments take no part. An instance with no overlapping segment left is
   *unmatched*: it owns no pixel of the panoptic map. ``matching="bbox"`` instead follows
   the authors' ``retrieve_relation.py`` exactly (:func:`match_by_bbox`): every thing
   segment, in ``segments_info`` order, claims the annotation (crowd ones included, any
   category) whose COCO ``[x, y, w, h]`` box is nearest by Euclidean distance, below 9999;
   a second claimant of an annotation deletes the first mapping and is not mapped itself,
   a third claimant is accepted (and so on, alternately); unmatched segments and instances
   take no further part, nor does a pair whose instance or segment is a crowd; a
   segment's pixels are counted inside its ``segments_info`` box only.
2. **Candidate pairs.** For instances i, j with ``O = I_i ∩ I_j``, ``R_i = |O|/|I_i|`` and
   ``R_j = |O|/|I_j|``: the pair is a candidate when ``R_i > theta`` or ``R_j > theta``
   (a ratio exactly at theta does not count).
3. **Front.** ``rule="paper"`` (the two-way plurality): count the pixels of ``O`` that the
   panoptic map gives to i and to j; the larger count is in front (the rest of ``O`` may
   belong to other segments or VOID). Equal counts give no relation (a *tie*; when both
   counts are 0 the pair is *hidden*). ``rule="majority"`` (a strict reading of "the
   majority of the overlap"): the instance given more than half of ``O`` (``2 * count >
   |O|``) is in front; when neither is, no relation (a *tie*, or *hidden* when both counts
   are 0). ``rule="deficit"`` (the authors' code): the instance that lost fewer of its own
   pixels, ``|I_k| - |seg_k|``, is in front; equal -> tie.

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

from collections.abc import Collection, Sequence
from functools import partial
from typing import Literal

import numpy as np

from ..errors import ConfigError, InputError
from ..types import ImageRelations, InstanceMask, Relation, Segment

RULES = ("paper", "majority", "deficit")
#: how instances are matched to panoptic segments: rapkit's by pixels, the authors' by box
MATCHINGS = ("pixels", "bbox")
#: the authors' distance bound: a segment whose nearest annotation box is this far or
#: farther claims nothing
BBOX_MAX_DISTANCE = 9999


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
        sub = w[rows][:, cols]
        pairs.extend((int(rows[r]), int(cols[c])) for r, c in max_weight_matching(sub))
    pairs.sort()
    return pairs


def match_by_bbox(
    segment_boxes: Sequence[Sequence[float]], instance_boxes: Sequence[Sequence[float]]
) -> list[tuple[int, int]]:
    """The authors' matching (``retrieve_relation.py``): ``(segment, instance)`` index pairs.

    Segments claim in the given order; each claims the instance whose COCO ``[x, y, w, h]``
    box is nearest (Euclidean distance of the four numbers, ``sqrt(sum((b - b') ** 2))``;
    the first of equal distances), when that distance is below :data:`BBOX_MAX_DISTANCE`.
    No category, IoU or crowd test. When the claimed instance is already mapped, the
    earlier mapping is deleted and the claimant is not mapped either; the next claimant of
    that instance is then accepted. A segment with no box within the bound claims nothing
    (the authors' script maps it to ``None`` and then fails its own ``assert``). Returns
    the kept pairs sorted by instance index.

    >>> match_by_bbox([[0, 0, 4, 4], [1, 0, 4, 4], [0, 1, 4, 4]], [[0, 0, 4, 4], [50, 50, 9, 9]])
    [(2, 0)]
    """
    n_s, n_i = len(segment_boxes), len(instance_boxes)
    if n_s == 0 or n_i == 0:
        return []
    sb = np.asarray(segment_boxes, np.float64).reshape(n_s, 4)
    ib = np.asarray(instance_boxes, np.float64).reshape(n_i, 4)
    dist = np.sqrt(np.sum((sb[:, None, :] - ib[None, :, :]) ** 2, axis=2))
    dist[np.isnan(dist)] = np.inf  # a NaN distance never passes their "<"
    seg_of: dict[int, int] = {}  # instance index -> segment index
    for s in range(n_s):
        k = int(np.argmin(dist[s]))  # the first of equal distances, as their strict "<" scan
        if not dist[s, k] < BBOX_MAX_DISTANCE:
            continue
        if k in seg_of:
            del seg_of[k]
        else:
            seg_of[k] = s
    return sorted(((s, k) for k, s in seg_of.items()), key=lambda p: p[1])


# --------------------------------------------------------------------------- relations


def _check_args(theta: float, rule: str, matching: str = "pixels") -> None:
    if rule not in RULES:
        raise ConfigError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if matching not in MATCHINGS:
        raise ConfigError(f"unknown matching {matching!r}; choose one of {', '.join(MATCHINGS)}")
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not (0.0 <= float(theta) <= 1.0):
        raise ConfigError(f"theta must be a number in [0, 1], got {theta!r}")


def pack_masks(masks: Sequence[InstanceMask]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack crops for the kernels: ``boxes`` (N, 4) int64 ``[x0, y0, x1, y1)``, ``offsets``
    (N + 1,) int64, ``flat`` uint8 (row-major crops, concatenated).

    >>> b, o, f = pack_masks([InstanceMask(1, 1, 0, 2, 3, np.ones((1, 2), bool))])
    >>> b.tolist(), o.tolist(), f.tolist()
    ([[2, 3, 4, 4]], [0, 2], [1, 1])
    """
    n = len(masks)
    boxes = np.zeros((n, 4), np.int64)
    offsets = np.zeros(n + 1, np.int64)
    for k, m in enumerate(masks):
        h, w = m.mask.shape
        boxes[k] = (m.x0, m.y0, m.x0 + w, m.y0 + h)
        offsets[k + 1] = offsets[k] + h * w
    flat = np.concatenate([m.mask.reshape(-1).view(np.uint8) for m in masks]) if n else np.zeros(0, np.uint8)
    return boxes, offsets, np.ascontiguousarray(flat, dtype=np.uint8)


def _kernels(kind: str):
    if kind == "numba":
        from ..kernels import relations as k

        # the arrays are packed here (pack_masks) and the id map checked: no second check
        return partial(k.image_histograms, check=False), partial(k.pair_visibility, check=False), k.match_weights
    if kind == "numpy":
        from ..kernels import _reference_relations as r

        return r.ref_image_histograms, r.ref_pair_visibility, r.ref_match_weights
    raise ConfigError(f"unknown kernels {kind!r}; choose numba or numpy")


def extract_relations(
    instance_masks: Sequence[InstanceMask],
    id_map: np.ndarray,
    segments: Sequence[Segment],
    theta: float = 0.2,
    rule: Literal["paper", "majority", "deficit"] = "paper",
    *,
    image_id: int = 0,
    kernels: Literal["numba", "numpy"] = "numba",
    matching: Literal["pixels", "bbox"] = "pixels",
    instance_boxes: Sequence[Sequence[float]] | None = None,
    things: Collection[int] | None = None,
) -> ImageRelations:
    """Occlusion relations of one image (see the module docstring for the method).

    ``instance_masks``: the image's instance annotations (crowd ones are skipped);
    ``id_map``: (H, W) panoptic ids; ``segments``: the image's ``segments_info``.
    Every non-zero id of ``id_map`` must be a segment id (else :class:`InputError`).
    Relations are listed in pair order (i < j in input order). ``kernels="numpy"`` runs the
    plain-numpy twins of the numba kernels (same result, slower).

    ``matching="bbox"``: the authors' matching (:func:`match_by_bbox`), where every
    annotation, crowd ones included, is a candidate; ``instance_boxes`` gives each mask's
    COCO ``[x, y, w, h]`` box as the annotation states it (default: the mask's crop box),
    ``things`` the category ids whose segments take part (default: every segment's). The
    authors filled polygons with OpenCV, coordinates truncated to int: decode the masks so
    (``rapkit.io.coco.decode_instances(..., polygon_fill="opencv")``).

    >>> extract_relations([], np.zeros((2, 2), np.uint32), [], image_id=5).relations
    []
    """
    _check_args(theta, rule, matching)
    theta = float(theta)
    ids = _as_ids(id_map)
    height, width = ids.shape
    insts = [m for m in instance_masks if not m.iscrowd]
    out = ImageRelations(image_id=int(image_id), n_instances=len(insts), n_crowd=len(instance_masks) - len(insts))
    for m in instance_masks:
        h, w = m.mask.shape
        if m.mask.dtype != np.bool_ or m.mask.ndim != 2:
            raise ValueError(f"instance {m.id}: mask must be a 2-D bool array")
        if h and w and (m.x0 < 0 or m.y0 < 0 or m.x0 + w > width or m.y0 + h > height):
            raise InputError(
                f"instance {m.id}: mask crop {m.bbox} lies outside the {width}x{height} image", image_id=image_id
            )
    histograms, visibility, weights = _kernels(kernels)
    seg_sorted, seg_ids = _sorted_segments(segments, image_id)
    boxes, offsets, flat = pack_masks(insts)
    bad, seg_areas, hist = histograms(ids, seg_ids, boxes, offsets, flat)
    if bad >= 0:
        raise InputError("id in the panoptic PNG but not in segments_info", image_id=image_id, segment_id=int(bad))
    if not insts:
        return out
    if matching == "bbox":
        insts, own, seg_area = _bbox_matches(instance_masks, ids, segments, instance_boxes, things, out)
        boxes, offsets, flat = pack_masks(insts)
        areas = np.array([m.area for m in insts], dtype=np.int64)
        inst_ids = [m.id for m in insts]
        return _pairs(inst_ids, areas, ids, boxes, offsets, flat, own, areas - seg_area, theta, rule, visibility, out)
    areas = np.array([m.area for m in insts], dtype=np.int64)
    inst_cat = np.array([m.category_id for m in insts], dtype=np.int64)
    return _match_and_pair(
        [m.id for m in insts], inst_cat, areas, ids, seg_sorted, seg_ids, seg_areas, hist,
        boxes, offsets, flat, theta, rule, visibility, weights, out,
    )  # fmt: skip


def relations_of_packed(
    id_map: np.ndarray,
    segments: Sequence[Segment],
    inst_ids: Sequence[int],
    inst_cats: np.ndarray,
    areas: np.ndarray,
    boxes: np.ndarray,
    offsets: np.ndarray,
    flat: np.ndarray,
    theta: float = 0.2,
    rule: Literal["paper", "majority", "deficit"] = "paper",
    *,
    image_id: int = 0,
    n_crowd: int = 0,
) -> ImageRelations:
    """:func:`extract_relations` (pixel matching, numba kernels) of non-crowd instances
    already packed as :func:`pack_masks` packs them (``boxes`` ``[x0, y0, x1, y1)`` inside the
    map, ``offsets``, ``flat`` uint8 row-major crops; ``inst_cats``, ``areas`` int64), for
    callers that decode straight into that layout (``rapkit extract-relations``). Same result as :func:`extract_relations` of the same
    masks, ``n_crowd`` crowd ones skipped.

    >>> m = [InstanceMask(1, 1, 0, 0, 0, np.ones((2, 4), bool)), InstanceMask(2, 1, 0, 2, 0, np.ones((2, 2), bool))]
    >>> id_map = np.array([[10, 10, 20, 20], [10, 10, 20, 20]], np.uint32)
    >>> segs = [Segment(10, 1, 4, (0, 0, 2, 2)), Segment(20, 1, 4, (2, 0, 2, 2))]
    >>> r = relations_of_packed(id_map, segs, [1, 2], np.array([1, 1]), np.array([8, 4]), *pack_masks(m))
    >>> [(x.front, x.back) for x in r.relations]
    [(2, 1)]
    """
    _check_args(theta, rule)
    id_map = _as_ids(id_map)
    out = ImageRelations(image_id=int(image_id), n_instances=len(inst_ids), n_crowd=int(n_crowd))
    histograms, visibility, weights = _kernels("numba")
    seg_sorted, seg_ids = _sorted_segments(segments, image_id)
    bad, seg_areas, hist = histograms(id_map, seg_ids, boxes, offsets, flat)
    if bad >= 0:
        raise InputError("id in the panoptic PNG but not in segments_info", image_id=image_id, segment_id=int(bad))
    if not len(inst_ids):
        return out
    return _match_and_pair(
        list(inst_ids), np.asarray(inst_cats, np.int64), np.asarray(areas, np.int64), id_map, seg_sorted, seg_ids,
        seg_areas, hist, boxes, offsets, flat, float(theta), rule, visibility, weights, out,
    )  # fmt: skip


def _as_ids(id_map: np.ndarray) -> np.ndarray:
    """The id map as a C-contiguous uint32 array (integer ids in [0, 2**32) only)."""
    ids = np.asarray(id_map)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"id_map must be a 2-D integer array, got {ids.dtype} {ids.shape}")
    if ids.dtype != np.uint32:
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= 1 << 32):
            raise ValueError("panoptic ids must lie in [0, 2**32)")
        ids = ids.astype(np.uint32)
    return np.ascontiguousarray(ids)


def _sorted_segments(segments: Sequence[Segment], image_id: int) -> tuple[list[Segment], np.ndarray]:
    seg_sorted = sorted(segments, key=lambda s: s.id)
    seg_ids = np.array([s.id for s in seg_sorted], dtype=np.int64)
    if seg_ids.size > 1 and not (np.diff(seg_ids) > 0).all():
        dup = int(seg_ids[np.flatnonzero(np.diff(seg_ids) == 0)[0]])
        raise InputError("duplicate segment id in segments_info", image_id=image_id, segment_id=dup)
    return seg_sorted, seg_ids


def _match_and_pair(
    inst_ids, inst_cat, areas, ids, seg_sorted, seg_ids, seg_areas, hist, boxes, offsets, flat, theta, rule,
    visibility, weights, out,
) -> ImageRelations:  # fmt: skip
    """The pixel matching (module docstring, step 1), then :func:`_pairs`: one weight matrix
    over every (instance, segment) pair of the same category (crowd segments take no part;
    ties in total intersection go to the better fitting pairs: IoU, weighted so that it never
    outweighs a single pixel), so that a category is a set of connected components; the
    components of one instance and one segment are paired at once
    (:func:`rapkit.kernels.relations.match_weights`), the rest by :func:`match_instances`."""
    seg_cat = np.array([s.category_id for s in seg_sorted], dtype=np.int64)
    seg_crowd = np.array([bool(s.iscrowd) for s in seg_sorted], dtype=bool)
    wts, single_r, single_c, rest_r, rest_c = weights(hist, areas, seg_areas, inst_cat, seg_cat, seg_crowd)
    match_label = np.zeros(len(inst_ids), dtype=np.int64)  # 0 = unmatched
    match_label[single_r] = single_c + 1
    if rest_r.size:
        for r, c in match_instances(wts[rest_r][:, rest_c]):
            match_label[rest_r[r]] = rest_c[c] + 1
    own = np.where(match_label > 0, seg_ids[np.maximum(match_label - 1, 0)] if seg_ids.size else -1, -1)
    for k, iid in enumerate(inst_ids):
        if match_label[k]:
            out.matches[iid] = int(own[k])
        else:
            out.unmatched.append(iid)
    deficit = areas - np.where(match_label > 0, seg_areas[match_label], 0)
    return _pairs(inst_ids, areas, ids, boxes, offsets, flat, own, deficit, theta, rule, visibility, out)


def _bbox_matches(
    instance_masks: Sequence[InstanceMask],
    ids: np.ndarray,
    segments: Sequence[Segment],
    instance_boxes: Sequence[Sequence[float]] | None,
    things: Collection[int] | None,
    out: ImageRelations,
) -> tuple[list[InstanceMask], np.ndarray, np.ndarray]:
    """The authors' matching on one image (:func:`match_by_bbox`): the kept non-crowd
    instances (input order), their segment ids, and each segment's pixel count inside its
    ``segments_info`` box (clipped to the image); fills ``out.matches``/``out.unmatched``."""
    if instance_boxes is None:
        instance_boxes = [m.bbox for m in instance_masks]
    if len(instance_boxes) != len(instance_masks):
        raise ValueError("instance_boxes must give one box per instance mask")
    for m, b in zip(instance_masks, instance_boxes):
        if not isinstance(b, (list, tuple, np.ndarray)) or len(b) != 4:
            raise InputError(
                f"annotation {m.id}: bbox must be [x, y, w, h] (needed by the bbox matching), got {b!r:.60}",
                image_id=out.image_id,
            )
    cand = [s for s in segments if things is None or s.category_id in things]
    pairs = match_by_bbox([s.bbox for s in cand], instance_boxes)
    kept = [(instance_masks[k], cand[s]) for s, k in pairs if not instance_masks[k].iscrowd and not cand[s].iscrowd]
    height, width = ids.shape
    seg_area = np.zeros(len(kept), np.int64)
    for n, (m, seg) in enumerate(kept):
        x, y, w, h = (int(v) for v in seg.bbox)
        win = ids[max(y, 0) : max(min(y + h, height), 0), max(x, 0) : max(min(x + w, width), 0)]
        seg_area[n] = int(np.count_nonzero(win == seg.id))
        out.matches[m.id] = int(seg.id)
    out.unmatched.extend(m.id for m in instance_masks if not m.iscrowd and m.id not in out.matches)
    own = np.array([seg.id for _, seg in kept], np.int64)
    return [m for m, _ in kept], own, seg_area


def _pairs(inst_ids, areas, ids, boxes, offsets, flat, own, deficit, theta, rule, visibility, out) -> ImageRelations:
    """Candidate pairs of the matched instances (``inst_ids``, ``areas``; ``own``: each one's
    segment id, -1 = none) and their front (module docstring, steps 2-3)."""
    image_id = out.image_id
    ov, vis = visibility(ids, boxes, offsets, flat, own)
    ii, jj = np.nonzero(np.triu(ov, 1))
    o_all = ov[ii, jj]
    # float64 division of exact integers: the same value as Python's int / int
    r_i, r_j = o_all / areas[ii], o_all / areas[jj]
    cand = np.flatnonzero((r_i > theta) | (r_j > theta))
    out.candidate_pairs += int(cand.size)
    for k in cand.tolist():
        i, j, o = int(ii[k]), int(jj[k]), int(o_all[k])
        ri, rj = float(r_i[k]), float(r_j[k])
        ci, cj = int(vis[i, j]), int(vis[j, i])
        if rule == "paper":
            si, sj = ci, cj  # more visible overlap pixels = in front
        elif rule == "majority":
            si, sj = int(2 * ci > o), int(2 * cj > o)  # more than half of O = in front
        else:
            si, sj = -int(deficit[i]), -int(deficit[j])  # fewer lost pixels = in front
        pair = (inst_ids[i], inst_ids[j])
        if si == sj:
            (out.hidden if rule != "deficit" and ci == 0 and cj == 0 else out.ties).append(pair)
            continue
        f, b, rf, rb, cf, cb = (i, j, ri, rj, ci, cj) if si > sj else (j, i, rj, ri, cj, ci)
        out.relations.append(Relation(int(image_id), inst_ids[f], inst_ids[b], o, rf, rb, cf, cb))
    return out


__all__ = [
    "RULES",
    "MATCHINGS",
    "BBOX_MAX_DISTANCE",
    "extract_relations",
    "relations_of_packed",
    "match_by_bbox",
    "pack_masks",
    "max_weight_matching",
    "match_instances",
]
