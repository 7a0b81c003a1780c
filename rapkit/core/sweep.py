"""Threshold sweeps (paper Table 1) and ablations (Table 2), in memory.

Each image is prepared once (:func:`prepare_image`): its proposals decoded, the pairwise
overlaps counted, and the image cut into *atoms* (pixels sharing covering masks, GT
segment and semantic label; see :mod:`rapkit.kernels.sweep`). Every parameter setting then
fuses atoms instead of pixels and feeds the (GT, prediction) pair counts straight into
:func:`rapkit.core.pq.pq_stats`, so a setting costs microseconds and no PNG is written.
The result equals ``rapkit fuse`` + ``rapkit evaluate`` for that setting, bit for bit.
OCFusion (``strategy="ocfusion"``) fuses the same atoms with its own atom kernel
(:func:`rapkit.kernels.ocfusion.fuse_atoms_ocfusion`, the image's pair logits kept in
:attr:`SweepImage.logits`).

>>> g = make_grid(["rho"], rho=[0.5, 0.6])
>>> [(p.rho, p.tau) for p in g]
[(0.5, 0.6), (0.6, 0.6)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from ..kernels.status import KEPT, reported
from ..types import Category, FusionParams, PQStats, Segment
from .fusion import Scene, stuff_table
from .pq import PairHistogram, pq_stats
from .sweep_totals import GridImage

SWEEPABLE = ("rho", "tau", "gamma")
#: the default value lists cover the paper's Table 1 (rho 0.5/0.6, tau 0.5/0.6, gamma 0.5/0.6)
DEFAULT_VALUES: dict[str, list[float]] = {
    "rho": [0.4, 0.5, 0.6, 0.7],
    "tau": [0.4, 0.5, 0.6, 0.7],
    "gamma": [0.4, 0.5, 0.6, 0.7],
}
BASELINE = FusionParams(strategy="heuristic", rho=0.5, tau=0.5)
#: Table 2 rows: (name, switches)
ABLATION_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("heuristic", {"strategy": "heuristic"}),
    ("RA", {"strategy": "rap", "ra": True, "ca": False, "eo": False}),
    ("RA+CA", {"strategy": "rap", "ra": True, "ca": True, "eo": False}),
    ("RA+CA+EO", {"strategy": "rap", "ra": True, "ca": True, "eo": True}),
]


#: Table 2's counterpart for OCFusion (``--ablation --strategy ocfusion``): the heuristic (no
#: pair decision), then OCFusion in each variant, at the same rho and tau
OCFUSION_ABLATION_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("heuristic", {"strategy": "heuristic", "variant": "paper"}),
    ("OCFusion reference", {"strategy": "ocfusion", "variant": "reference"}),
    ("OCFusion original", {"strategy": "ocfusion", "variant": "original"}),
]


def make_grid(
    sweep: Sequence[str],
    base: FusionParams | None = None,
    **values: Sequence[float] | None,
) -> list[FusionParams]:
    """All combinations of the swept parameters (others fixed at ``base``), rho slowest.

    Raises :class:`ConfigError` for an unknown name, an empty list or a value outside [0, 1].
    """
    base = base or FusionParams()
    names = list(dict.fromkeys(sweep))
    for name in names:
        if name not in SWEEPABLE:
            raise ConfigError(f"cannot sweep {name!r}; sweepable parameters: {', '.join(SWEEPABLE)}")
    if base.strategy == "ocfusion" and ("gamma" in names or values.get("gamma") is not None):
        raise ConfigError("strategy ocfusion has no gamma (its pair threshold is fixed at 0.2): sweep rho and tau")
    for name, vals in values.items():
        if name not in SWEEPABLE:
            raise ConfigError(f"unknown parameter {name!r}; known: {', '.join(SWEEPABLE)}")
        if vals is not None and name not in names and len(vals) != 1:
            raise ConfigError(f"{name} has {len(vals)} values but is not swept; add it to --sweep or give one value")
    lists = []
    fixed: dict[str, float] = {}
    for name in SWEEPABLE:
        vals = values.get(name)
        if name in names:
            vals = list(vals) if vals is not None else list(DEFAULT_VALUES[name])
            if not vals:
                raise ConfigError(f"empty value list for {name}")
            for v in vals:
                if not isinstance(v, (int, float)) or math.isnan(v) or not 0.0 <= v <= 1.0:
                    raise ConfigError(f"{name} values must lie in [0, 1], got {v!r}")
            lists.append([(name, float(v)) for v in dict.fromkeys(vals)])
        elif vals:
            fixed[name] = float(vals[0])
    base = replace(base, **fixed)
    return [replace(base, **dict(combo)) for combo in itertools.product(*lists)]


def ablation_grid(base: FusionParams | None = None) -> list[tuple[str, FusionParams]]:
    """Table 2's rows at ``base``'s thresholds (the heuristic row keeps rho and tau); for an
    OCFusion ``base``, :data:`OCFUSION_ABLATION_ROWS`.

    >>> [name for name, _ in ablation_grid(FusionParams.of("ocfusion"))]
    ['heuristic', 'OCFusion reference', 'OCFusion original']
    """
    base = base or FusionParams()
    rows = OCFUSION_ABLATION_ROWS if base.strategy == "ocfusion" else ABLATION_ROWS
    return [(name, replace(base, **sw)) for name, sw in rows]


@dataclass
class SweepImage:
    """One image prepared for many fusion settings (picklable, no pixels kept)."""

    image_id: int
    position: int
    scores: np.ndarray
    labels: np.ndarray
    relations: np.ndarray
    areas: np.ndarray
    boxes: np.ndarray
    order: np.ndarray
    overlaps: np.ndarray
    weight: np.ndarray
    atom_gt: np.ndarray
    atom_sem: np.ndarray
    ptr: np.ndarray
    idx: np.ndarray
    gt_segments: list[dict]
    #: the pair head's (N, N) logits (:func:`rapkit.kernels.ocfusion.pair_matrix`) when the
    #: proposals carry them; ``None``: no pair is in front
    logits: np.ndarray | None = None

    def candidates(self, rho: float) -> np.ndarray:
        return np.ascontiguousarray(self.order[self.scores[self.order] >= rho])


def prepare_image(
    scene: Scene,
    semantic: np.ndarray | None,
    gt_map: np.ndarray,
    gt_segments: Sequence[Segment | Mapping[str, Any]],
    position: int,
) -> SweepImage:
    """Decode-once preparation of one image for :func:`image_stats` (``scene`` decoded with
    ``rho=0``: every mask with its runs)."""
    from ..kernels import sweep as k

    h, w = scene.height, scene.width
    g = np.asarray(gt_map)
    if g.shape != (h, w):
        raise InputError(f"GT map is {g.shape[1]}x{g.shape[0]} but the proposals are {w}x{h}", image_id=scene.image_id)
    if semantic is None:
        sem = np.zeros((h, w), np.uint8)
    else:
        sem = np.asarray(semantic)
        if sem.shape != (h, w) or sem.dtype != np.uint8:
            raise InputError(f"semantic map must be {w}x{h} uint8", image_id=scene.image_id)
    if g.dtype != np.uint32:
        g = g.astype(np.uint32)
    keys = k.xmajor_keys(g, sem)
    weight, base, base_keys, ptr, idx = k.build_atoms(
        keys, h, scene.boxes, scene.col_offsets, scene.col_ptr, scene.run_y0, scene.run_y1
    )
    atom_key = base_keys[base]
    segs = []
    for s in gt_segments:
        if isinstance(s, Segment):
            segs.append({"id": s.id, "category_id": s.category_id, "area": s.area, "iscrowd": s.iscrowd})
        else:
            segs.append(
                {
                    "id": int(s["id"]),
                    "category_id": int(s["category_id"]),
                    "area": s.get("area", 0),
                    "iscrowd": int(s.get("iscrowd", 0)),
                }
            )
    return SweepImage(
        image_id=scene.image_id,
        position=int(position),
        scores=scene.scores,
        labels=scene.labels,
        relations=scene.relations,
        areas=scene.areas,
        boxes=scene.boxes,
        order=scene.order,
        overlaps=scene.overlaps(),
        weight=weight,
        atom_gt=(atom_key >> np.uint64(8)).astype(np.int64),
        atom_sem=(atom_key & np.uint64(0xFF)).astype(np.uint8),
        ptr=ptr,
        idx=idx,
        gt_segments=segs,
        logits=None if scene.pairs is None else _pair_matrix(len(scene), scene.pairs),
    )


def _pair_matrix(n: int, pairs) -> np.ndarray:
    from ..kernels.ocfusion import pair_matrix

    return pair_matrix(n, *(pairs or (None, None, None)))


def fuse_prepared(img: SweepImage, params: FusionParams, is_stuff: np.ndarray):
    """Fuse a prepared image: ``(pred id per atom, pred segments as dicts, status)``.

    Segment ids and statuses follow :func:`rapkit.core.fusion.fuse_scene`: kept things 1.. in
    painting order, then stuff classes in ascending id; proposals below rho are ``score``.
    """
    order, owner, status = _owners(img, params)
    return _prediction(img, params, is_stuff, order, owner, status)


def _owners(img: SweepImage, params: FusionParams):
    """``(candidates, owner per atom, raw status)``: the fusion decisions of ``params``.

    With ``stuff_area``, ``owner`` and ``status`` fix the prediction: the kept proposals are
    the candidates in painting order whose status is kept, whatever rho was."""
    from ..kernels import sweep as k

    ra, ca, eo, reference = params.switches()
    order = img.candidates(params.rho)
    if params.strategy == "ocfusion":
        from ..kernels.ocfusion import fuse_atoms_ocfusion

        logits = img.logits if img.logits is not None else _pair_matrix(img.areas.shape[0], None)
        owner, status, _ = fuse_atoms_ocfusion(
            img.weight,
            img.ptr,
            img.idx,
            img.areas,
            img.labels,
            order,
            img.overlaps,
            logits,
            tau=params.tau,
            original=params.variant == "original",
        )
        return order, owner, status
    if ra and order.size and np.isnan(img.relations[order]).any():
        bad = int(order[np.isnan(img.relations[order])][0])
        raise InputError(f"proposal #{bad} has no relation value (needed by strategy rap)", image_id=img.image_id)
    owner, status, visible = k.fuse_atoms(
        img.weight,
        img.ptr,
        img.idx,
        img.areas,
        img.boxes,
        img.labels,
        img.relations,
        order,
        img.overlaps,
        tau=params.tau,
        gamma=params.gamma,
        ra=ra,
        ca=ca,
        eo=eo,
        reference=reference,
    )
    return order, owner, status


def _prediction(img: SweepImage, params: FusionParams, is_stuff: np.ndarray, order, owner, status):
    """``(pred id per atom, pred segments, status)`` from the atoms' owners."""
    from ..kernels import sweep as k

    status = reported(status)  # not a candidate: dropped by score
    n = img.areas.shape[0]
    lut = np.zeros(max(n, 1), np.int64)
    segs: list[dict] = []
    sid = 0
    for i in order.tolist():
        if status[i] == KEPT:
            sid += 1
            lut[i] = sid
            segs.append({"id": sid, "category_id": int(img.labels[i])})
    pred, classes = k.pred_ids(owner, img.weight, img.atom_sem, lut, is_stuff, int(params.stuff_area), sid)
    for s, c in enumerate(classes.tolist()):
        segs.append({"id": sid + 1 + s, "category_id": int(c)})
    return pred, segs, status


def image_stats(
    img: SweepImage, params: FusionParams, categories: Mapping[int, Category], is_stuff: np.ndarray | None = None
):
    """PQ statistics of one prepared image fused with ``params`` (no pixels touched)."""

    if is_stuff is None:
        is_stuff = stuff_table(categories)
    pred, segs, _ = fuse_prepared(img, params, is_stuff)
    return _stats(img, pred, segs, categories)


def _stats(img: SweepImage, pred: np.ndarray, segs: list[dict], categories) -> PQStats:
    from ..kernels import sweep as k

    keys, counts = k.pair_counts(img.atom_gt, pred, img.weight)
    hist = PairHistogram(
        (keys >> np.uint64(24)).astype(np.uint32), (keys & np.uint64((1 << 24) - 1)).astype(np.uint32), counts
    )
    return pq_stats(hist, img.gt_segments, segs, categories, image_id=img.image_id, order=img.position)


def image_stats_grid(
    img: SweepImage,
    grid: Sequence[FusionParams],
    categories: Mapping[int, Category],
    is_stuff: np.ndarray | None = None,
) -> list[PQStats]:
    """:func:`image_stats` of one prepared image for every setting of ``grid``, the matching
    done once per distinct outcome: settings that leave the same atom owners and statuses
    (and the same ``stuff_area``) predict the same segments, so they share one (equal)
    statistics object.

    >>> from rapkit.synth import SynthConfig, categories, generate_image
    >>> from rapkit.core.fusion import decode_scene
    >>> im = generate_image(SynthConfig(n_images=1, height=48, width=64, render_images=False), 0)
    >>> prep = prepare_image(decode_scene(im.proposals), im.semantic, im.id_map, im.segments, 0)
    >>> cats = {c.id: c for c in categories()}
    >>> grid = make_grid(["gamma"], gamma=[0.5, 0.6])
    >>> image_stats_grid(prep, grid, cats) == [image_stats(prep, p, cats) for p in grid]
    True
    """
    if is_stuff is None:
        is_stuff = stuff_table(categories)
    group, preds = grid_outcomes(img, grid, is_stuff)
    shared = [_stats(img, pred, segs, categories) for pred, segs in preds]
    return [shared[g] for g in group]


def grid_outcomes(img: SweepImage, grid: Sequence[FusionParams], is_stuff: np.ndarray) -> tuple[list[int], list]:
    """``(group, outcomes)``: the distinct predictions of an image over ``grid``, each
    ``(pred id per atom, pred segments)``, and ``group[s]`` the outcome of setting ``s``
    (settings that leave the same atom owners, statuses and ``stuff_area`` share one).
    Algorithm 1 and the heuristic run every setting in one kernel call
    (:func:`rapkit.kernels.sweep.fuse_atoms_grid`); OCFusion settings one call each."""
    group: list[int] = [-1] * len(grid)
    preds: list = []
    batch = [s for s, p in enumerate(grid) if p.strategy != "ocfusion"]
    if batch:
        from ..kernels import sweep as k

        ps = [grid[s] for s in batch]
        if np.isnan(img.relations[img.order]).any():
            for p in ps:  # the error the first setting that meets a missing value gives
                if p.switches()[0]:
                    _owners(img, p)
        owner, status, g, reps = k.fuse_atoms_grid(
            img.weight,
            img.ptr,
            img.idx,
            img.areas,
            img.boxes,
            img.labels,
            img.relations,
            img.scores,
            img.order,
            img.overlaps,
            [p.rho for p in ps],
            [p.tau for p in ps],
            [p.gamma for p in ps],
            [p.switches() for p in ps],
            [int(p.stuff_area) for p in ps],
        )
        for r in reps.tolist():
            pred, segs, _ = _prediction(img, ps[r], is_stuff, img.candidates(ps[r].rho), owner[r], status[r])
            preds.append((pred, segs))
        for s, gs in zip(batch, g.tolist()):
            group[s] = gs
    seen: dict[tuple, int] = {}
    for s, p in enumerate(grid):
        if group[s] >= 0:
            continue
        order, owner_s, status_s = _owners(img, p)
        key = (owner_s.tobytes(), status_s.tobytes(), int(p.stuff_area))
        if key not in seen:
            pred, segs, _ = _prediction(img, p, is_stuff, order, owner_s, status_s)
            seen[key] = len(preds)
            preds.append((pred, segs))
        group[s] = seen[key]
    return group, preds


@dataclass
class GTArrays:
    """One image's GT segments as :func:`rapkit.kernels.pq_match.match_image` takes them
    (categories as indices into ``cat_ids``, sorted; ``known[c]``: a category of the list),
    for :func:`image_grid_counts`."""

    cat_ids: np.ndarray
    known: np.ndarray
    g_id: np.ndarray
    g_cat: np.ndarray
    g_area: np.ndarray
    g_crowd: np.ndarray


def image_grid_counts(
    img: SweepImage,
    grid: Sequence[FusionParams],
    gt: GTArrays,
    categories: Mapping[int, Category],
    is_stuff: np.ndarray,
) -> GridImage:
    """:func:`image_stats_grid` as arrays, each outcome matched by the kernel of ``rapkit
    evaluate`` (:func:`rapkit.kernels.pq_match.match_image`) instead of
    :func:`rapkit.core.pq.pq_stats`; an outcome the kernel declines (a GT problem
    panopticapi would crash on) goes to ``pq_stats``, which names it, as
    :mod:`rapkit.core.pq_arrays` does."""
    from ..kernels import sweep as k
    from ..kernels.pq_match import match_image

    group, preds = grid_outcomes(img, grid, is_stuff)
    ncat = gt.cat_ids.size
    nd = len(preds)
    tp, fp, fn = (np.zeros((nd, ncat), np.int64) for _ in range(3))
    crowd_of = np.full(ncat, -1, np.int64)
    pair_ptr = np.zeros(nd + 1, np.int64)
    cats_out: list[np.ndarray] = []
    ious_out: list[np.ndarray] = []
    for d, (pred, segs) in enumerate(preds):
        keys, counts = k.pair_counts(img.atom_gt, pred, img.weight)
        seg_cats = np.fromiter((s["category_id"] for s in segs), np.int64, len(segs))
        p_cat = np.searchsorted(gt.cat_ids, seg_cats)
        ok = bool(np.all(p_cat < ncat)) and bool(np.array_equal(gt.cat_ids[np.minimum(p_cat, ncat - 1)], seg_cats))
        mc = np.empty(keys.size, np.int64)
        mi = np.empty(keys.size, np.float64)
        status, nm = (1, 0)
        if ok:
            p_id = np.arange(1, len(segs) + 1, dtype=np.int64)
            args = (keys, counts, gt.g_id, gt.g_cat, gt.g_area, gt.g_crowd, p_id, p_cat, gt.known)
            status, nm = match_image(*args, tp[d], fp[d], fn[d], crowd_of, mc, mi)
        if status != 0:  # the readable matcher names the problem, or counts the outcome
            tp[d] = fp[d] = fn[d] = 0
            st = _stats(img, pred, segs, categories)
            for src, dst in ((st.tp, tp[d]), (st.fp, fp[d]), (st.fn, fn[d])):
                for c, v in src.items():
                    dst[int(np.searchsorted(gt.cat_ids, c))] += v
            mc = np.searchsorted(gt.cat_ids, st.category)
            mi = st.iou
            nm = mi.size
        cats_out.append(mc[:nm])
        ious_out.append(mi[:nm])
        pair_ptr[d + 1] = pair_ptr[d] + nm
    return GridImage(
        img.position,
        img.image_id,
        np.asarray(group, np.int64),
        tp,
        fp,
        fn,
        pair_ptr,
        np.concatenate(cats_out) if nd else np.zeros(0, np.int64),
        np.concatenate(ious_out) if nd else np.zeros(0, np.float64),
    )


# --------------------------------------------------------------------------- tables

PARAM_COLUMNS = ["strategy", "rho", "tau", "gamma", "ra", "ca", "eo", "variant"]


def result_row(result: Any) -> dict[str, float]:
    """Metrics of a :class:`~rapkit.core.pq.PQResult` as fractions: ``PQ``, ``SQ``, ``RQ`` and
    the same with ``_th`` (things) and ``_st`` (stuff)."""
    out = {}
    for split, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
        s = result.split(split)
        out["PQ" + suffix] = s.pq
        out["SQ" + suffix] = s.sq
        out["RQ" + suffix] = s.rq
    return out


def build_table(labels: Sequence[str], grid: Sequence[FusionParams], results: Sequence[Any], baseline: Any):
    """One row per setting: parameters, metrics (fractions), ΔPQ and ΔPQ_th vs the baseline."""
    import pandas as pd

    base = result_row(baseline)
    rows = []
    for label, p, r in zip(labels, grid, results):
        row: dict[str, Any] = {"row": label}
        row.update({c: getattr(p, c) for c in PARAM_COLUMNS})
        row.update(result_row(r))
        row["dPQ"] = row["PQ"] - base["PQ"]
        row["dPQ_th"] = row["PQ_th"] - base["PQ_th"]
        rows.append(row)
    return pd.DataFrame(rows)


def pivot_table1(df: Any, value: str = "dPQ"):
    """Table 1's layout: rows rho, columns (tau, gamma), cells ``value`` (RAP rows only)."""
    rap = df[df["strategy"] == "rap"]
    return rap.pivot_table(index="rho", columns=["tau", "gamma"], values=value, aggfunc="first")
