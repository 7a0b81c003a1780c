"""Panoptic fusion of instance proposals and a semantic map (pure numpy + kernels).

Two layers:

* :func:`decode_scene` turns one image's :class:`~rapkit.types.Proposals` into a
  :class:`Scene`: every mask as column runs (:func:`rapkit.kernels.rle.decode_rle_runs`),
  the stable score order, lazily the pairwise overlaps. A scene is reused across parameter
  settings (the sweep decodes each image once); one decoded for a single fusion at a score
  threshold ``rho`` keeps only the runs of the proposals it can paint.
* :func:`fuse_scene` runs Algorithm 1 (``strategy="rap"``), the heuristic rule or OCFusion's
  pairwise decisions (``strategy="ocfusion"``, :mod:`rapkit.kernels.ocfusion`) on a scene,
  then the stuff fill, and returns a :class:`FusionResult` (id map, segments, per-proposal
  status, the pairs Algorithm 1 met). :func:`fuse_image` is the one-call convenience.

Segment ids are deterministic: kept things get 1, 2, ... in painting (score) order, then the
stuff segments follow in ascending category id. Semantics: ``docs/fusion.md``.

>>> from rapkit.types import FusionParams, Proposals, Category
>>> import numpy as np
>>> p = Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
>>> id_map, segs = fuse_image(p, None, FusionParams(), {1: Category(1, "person", True)})
>>> id_map.tolist(), segs[0].area
([[1, 1], [1, 1]], 4)
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..kernels.status import KEPT, STATUS_NAMES, reported
from ..types import Category, FusionParams, Proposals, Segment

__all__ = [
    "STATUS_NAMES",
    "FusionResult",
    "Scene",
    "decode_scene",
    "fuse_image",
    "fuse_packed_image",
    "packed_inputs",
    "fuse_scene",
    "stuff_table",
]


@functools.cache
def load_kernels():
    """The fusion and RLE kernel modules, imported on first use (numba is heavy:
    ``import rapkit.core`` loads none of it); cached, since every image asks (an ``import``
    statement costs microseconds of GIL-held time even when the module is loaded)."""
    from ..kernels import fusion, rle

    return fusion, rle


@functools.cache
def load_fuse_image():
    """The one-call-per-image kernel module (:mod:`rapkit.kernels.fuse_image`), imported on
    first use and cached (as :func:`load_kernels`)."""
    from ..kernels import fuse_image

    return fuse_image


def load_ocfusion():
    """OCFusion's kernel module (:mod:`rapkit.kernels.ocfusion`), imported on first use."""
    from ..kernels import ocfusion

    return ocfusion


@dataclass
class Scene:
    """One image's proposals, decoded once into column runs.

    Mask ``k`` (box ``boxes[k] = (x0, x1, y0, y1)``, half-open) holds, in column ``x``, the
    pixels ``run_y0[r] <= y < run_y1[r]`` for ``col_ptr[c] <= r < col_ptr[c + 1]``,
    ``c = col_offsets[k] + x - x0`` (see :func:`rapkit.kernels.rle.decode_rle_runs`).
    Proposals scored below ``rho`` (the threshold the scene was decoded for) keep their box
    and area but no runs. ``order`` is the stable descending-score order of all proposals.
    """

    image_id: int
    height: int
    width: int
    rho: float
    scores: np.ndarray
    labels: np.ndarray
    relations: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    col_offsets: np.ndarray
    col_ptr: np.ndarray
    run_y0: np.ndarray
    run_y1: np.ndarray
    order: np.ndarray
    _overlaps: np.ndarray | None = field(default=None, repr=False)
    #: the pair head's logits (:class:`~rapkit.types.Proposals` ``pair_i``, ``pair_j``,
    #: ``pair_logit``) when the proposals carry them, for ``strategy="ocfusion"``
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def candidates(self, rho: float) -> np.ndarray:
        """Proposal indices with score >= rho, in painting order (rho must not be below the decoded one)."""
        if rho < self.rho:
            raise ValueError(f"scene decoded for rho >= {self.rho}, asked for {rho}")
        return np.ascontiguousarray(self.order[self.scores[self.order] >= rho])

    def overlaps(self) -> np.ndarray:
        """(N, N) |I_i ∩ I_j| pixel counts, merged from the runs once and cached (every mask
        needs its runs: a scene decoded with ``rho=0``)."""
        if self._overlaps is None:
            fusion, _ = load_kernels()
            self._overlaps = fusion.pairwise_overlaps(
                self.boxes, self.col_offsets, self.col_ptr, self.run_y0, self.run_y1
            )
        return self._overlaps

    def runs(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y0, y1)`` of every run of mask ``k``: column, first row, row past the end."""
        c0 = int(self.col_offsets[k])
        ptr = self.col_ptr[c0 : int(self.col_offsets[k + 1])]
        if ptr.size - 1 != self.boxes[k, 1] - self.boxes[k, 0]:
            raise ValueError(f"proposal #{k} has no runs (scored below the scene's rho {self.rho})")
        xs = self.boxes[k, 0] + np.repeat(np.arange(ptr.size - 1), np.diff(ptr))
        return xs, self.run_y0[ptr[0] : ptr[-1]], self.run_y1[ptr[0] : ptr[-1]]

    def crop(self, k: int) -> np.ndarray:
        """Mask ``k`` on its box, x-major: a ``(x1 - x0, y1 - y0)`` bool array."""
        x0, x1, y0, y1 = (int(v) for v in self.boxes[k])
        xs, ya, yb = self.runs(k)
        bh = y1 - y0
        out = np.zeros((x1 - x0) * bh, bool)
        lens = yb - ya
        if lens.size:  # the flat index of every pixel: its run's first one, then consecutive
            ends = np.cumsum(lens)
            out[np.repeat((xs - x0) * bh + (ya - y0) - (ends - lens), lens) + np.arange(ends[-1])] = True
        return out.reshape(x1 - x0, bh)

    def mask(self, k: int) -> np.ndarray:
        """Full (H, W) bool mask of proposal ``k`` (for tests and small jobs)."""
        out = np.zeros((self.height, self.width), bool)
        x0, x1, y0, y1 = (int(v) for v in self.boxes[k])
        if x1 > x0:
            out[y0:y1, x0:x1] = self.crop(k).T
        return out


def _counts_of(proposals: Proposals) -> list:
    counts = []
    for k, r in enumerate(proposals.rles):
        c = r.get("counts") if isinstance(r, dict) else None
        if not isinstance(c, (str, bytes)):
            raise InputError(f"proposal #{k}: segmentation must be a compressed RLE", image_id=proposals.image_id)
        counts.append(c)
    return counts


def _raise_bad_rle(status: np.ndarray, proposals: Proposals) -> None:
    bad = np.nonzero(status)[0]
    if bad.size:
        k = int(bad[0])
        why = (
            "malformed RLE counts"
            if status[k] == 1
            else f"RLE runs do not cover the {proposals.width}x{proposals.height} image"
        )
        raise InputError(f"proposal #{k}: {why}", image_id=proposals.image_id)


def decode_scene(proposals: Proposals, rho: float = 0.0) -> Scene:
    """Decode an image's proposals (compressed RLE) into a :class:`Scene` of column runs.

    Every RLE is parsed and checked (a malformed one is an error whatever its score), but
    only the masks scored ``>= rho`` keep their runs: ``rho=0`` (the default) for a scene
    reused across settings, matched or overlapped; the fusion's own ``rho`` for one fusion.

    >>> s = decode_scene(Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]),
    ...                            [{"size": [2, 2], "counts": "04"}]))
    >>> s.boxes.tolist(), s.areas.tolist(), s.run_y1.tolist()
    ([[0, 2, 0, 2]], [4], [2, 2])
    """
    _, rle = load_kernels()
    h, w = int(proposals.height), int(proposals.width)
    scores = np.ascontiguousarray(proposals.scores, dtype=np.float64)
    boxes, areas, col_offs, col_ptr, y0, y1, status = rle.decode_rle_runs(_counts_of(proposals), h, w, scores >= rho)
    _raise_bad_rle(status, proposals)
    return Scene(
        image_id=int(proposals.image_id),
        height=h,
        width=w,
        rho=float(rho),
        scores=scores,
        labels=np.ascontiguousarray(proposals.category_ids, dtype=np.int64),
        relations=np.ascontiguousarray(proposals.relations, dtype=np.float64),
        boxes=boxes,
        areas=areas,
        col_offsets=col_offs,
        col_ptr=col_ptr,
        run_y0=y0,
        run_y1=y1,
        order=np.argsort(-scores, kind="stable").astype(np.int64),
        pairs=None if proposals.pair_i is None else (proposals.pair_i, proposals.pair_j, proposals.pair_logit),  # type: ignore[arg-type]
    )


@dataclass
class FusionResult:
    """The outcome of fusing one image.

    ``status[k]`` indexes :data:`STATUS_NAMES` (:mod:`rapkit.kernels.status`) for proposal
    ``k`` (input order; never ``unseen``: see :func:`rapkit.kernels.status.reported`);
    ``segment_of[k]`` is its final segment id (0 = not in the output); ``events`` holds the
    (new, kept) proposal pairs whose masks overlap, as met by the pair loop of Algorithm 1
    (OCFusion: the pairs whose decision was asked for).
    """

    image_id: int
    id_map: np.ndarray
    segments: list[Segment]
    status: np.ndarray
    segment_of: np.ndarray
    events: np.ndarray
    n_stuff: int
    void_pixels: int
    #: ``(row_ptr, run_x, run_v)``: the id map's runs along its rows (see
    #: :func:`rapkit.kernels.fusion.compose`), for :func:`rapkit.io.png_write.write_id_runs_png`
    row_runs: tuple | None = field(default=None, repr=False)

    def counts(self) -> dict[str, int]:
        """Per-status proposal counts plus ``stuff`` segments and ``void_pixels``."""
        bc = np.bincount(self.status.astype(np.int64), minlength=len(STATUS_NAMES))
        out = {name: int(bc[k]) for k, name in enumerate(STATUS_NAMES)}
        out["proposals"] = int(self.status.shape[0])
        out["stuff"] = int(self.n_stuff)
        out["void_pixels"] = int(self.void_pixels)
        out["pixels"] = int(self.id_map.size)
        return out


def stuff_table(categories: Mapping[int, Category] | Iterable[Category]) -> np.ndarray:
    """(256,) bool: which semantic label values are stuff classes (0 and 255 are void)."""
    cats = categories.values() if isinstance(categories, Mapping) else categories
    table = np.zeros(256, bool)
    for c in cats:
        if not c.isthing and 0 < int(c.id) < 255:
            table[int(c.id)] = True
    return table


def fuse_scene(
    scene: Scene,
    semantic: np.ndarray | None,
    params: FusionParams,
    categories: Mapping[int, Category] | Iterable[Category] | np.ndarray,
    *,
    record_events: bool = False,
    timings: dict[str, float] | None = None,
) -> FusionResult:
    """Fuse a decoded scene: Algorithm 1 or the heuristic (:func:`rapkit.kernels.fusion.fuse_runs`),
    or OCFusion (:func:`rapkit.kernels.ocfusion.fuse_ocfusion`, with the scene's pair logits:
    a scene without them has no pair in front), then stuff.

    ``semantic`` is an (H, W) uint8 label map (category ids; 0/255 void, thing ids ignored)
    or None. ``categories`` may also be a precomputed :func:`stuff_table`.
    ``params.rho`` must not be below the scene's (:meth:`Scene.candidates`).
    ``record_events`` fills :attr:`FusionResult.events`.
    ``timings``, when given, gets ``"fusion_kernel"`` added: the seconds spent in the
    instance kernel (Algorithm 1 / the heuristic); the rest of the call is stuff/compose.

    >>> s = decode_scene(Proposals(1, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]),
    ...                            [{"size": [2, 2], "counts": "04"}]))
    >>> fuse_scene(s, None, FusionParams(rho=0.95), np.zeros(256, bool)).counts()["score"]
    1
    """
    fusion, _ = load_kernels()
    h, w, n = scene.height, scene.width, len(scene)
    is_stuff = categories if isinstance(categories, np.ndarray) else stuff_table(categories)
    ra, ca, eo, reference = params.switches()
    order = scene.candidates(params.rho)
    if ra and order.size and np.isnan(scene.relations[order]).any():
        k = int(order[np.isnan(scene.relations[order])][0])
        raise InputError(f"proposal #{k} has no relation value (needed by strategy rap)", image_id=scene.image_id)
    t_kernel = time.perf_counter() if timings is not None else 0.0
    if params.strategy == "ocfusion":
        ocf = load_ocfusion()
        canvas, status, visible, events = ocf.fuse_ocfusion(
            scene.boxes,
            scene.areas,
            scene.col_offsets,
            scene.col_ptr,
            scene.run_y0,
            scene.run_y1,
            scene.labels,
            order,
            w,
            h,
            ocf.pair_matrix(n, *(scene.pairs or (None, None, None))),
            tau=params.tau,
            original=params.variant == "original",
            record_events=record_events,
        )
    else:
        canvas, status, visible, events = fusion.fuse_runs(
            scene.boxes,
            scene.areas,
            scene.col_offsets,
            scene.col_ptr,
            scene.run_y0,
            scene.run_y1,
            scene.labels,
            scene.relations,
            order,
            w,
            h,
            tau=params.tau,
            gamma=params.gamma,
            ra=ra,
            ca=ca,
            eo=eo,
            reference=reference,
            record_events=record_events,
        )
    if timings is not None:
        timings["fusion_kernel"] = timings.get("fusion_kernel", 0.0) + (time.perf_counter() - t_kernel)
    status = reported(status)  # not a candidate: dropped by score
    # final ids: kept things in painting order, then stuff
    lut = np.zeros(n + 1, np.uint32)
    segment_of = np.zeros(n, np.int64)
    kept = order[status[order] == KEPT]
    thing_ids = kept.tolist()
    lut[kept + 1] = np.arange(1, kept.size + 1, dtype=np.uint32)
    segment_of[kept] = np.arange(1, kept.size + 1)
    sem = None
    if semantic is not None:
        sem = np.asarray(semantic)
        if sem.shape != (h, w):
            raise InputError(
                f"semantic map is {sem.shape[1]}x{sem.shape[0]}, image is {w}x{h}", image_id=scene.image_id
            )
        if sem.dtype != np.uint8:
            raise InputError(f"semantic map must be uint8 labels, got {sem.dtype}", image_id=scene.image_id)
        sem = np.ascontiguousarray(sem)
    id_map, classes, area, bbox, *runs = fusion.compose(
        canvas, sem, is_stuff, int(params.stuff_area), lut, len(thing_ids), row_runs=True, check=False
    )
    segments: list[Segment] = []
    areas, boxes = area.tolist(), [tuple(b) for b in bbox.tolist()]
    labels, scores, rels = scene.labels[kept].tolist(), scene.scores[kept].tolist(), scene.relations[kept].tolist()
    for sid, (lab, sc, r) in enumerate(zip(labels, scores, rels), start=1):
        segments.append(Segment(sid, lab, areas[sid], boxes[sid], 0, score=sc, relation=None if math.isnan(r) else r))
    for s, c in enumerate(classes.tolist()):
        sid = len(thing_ids) + 1 + s
        segments.append(Segment(sid, c, areas[sid], boxes[sid], 0))
    return FusionResult(
        scene.image_id,
        id_map,
        segments,
        status,
        segment_of,
        events,
        int(classes.shape[0]),
        int(area[0]),
        tuple(runs),
    )


def fuse_image(
    proposals: Proposals,
    semantic: np.ndarray | None,
    params: FusionParams,
    categories: Mapping[int, Category] | Iterable[Category],
) -> tuple[np.ndarray, list[Segment]]:
    """Fuse one image: ``(id_map (H, W) uint32, segments)``.

    >>> p = Proposals(7, 2, 2, np.array([0.3]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
    >>> fuse_image(p, None, FusionParams(), [])[1]
    []
    """
    res = fuse_scene(decode_scene(proposals, params.rho), semantic, params, categories)
    return res.id_map, res.segments


def packed_inputs(
    chars: np.ndarray,
    char_offsets: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    relations: np.ndarray,
    params: FusionParams,
    is_stuff: np.ndarray,
    known: np.ndarray | None = None,
):
    """A run's proposals (the arrays of :class:`rapkit.io.proposals.PackedProposals`), fusion
    parameters, stuff table and known semantic labels, checked once for
    :func:`fuse_packed_image` (:func:`rapkit.kernels.fuse_image.fuse_inputs`).

    >>> inp = packed_inputs(np.frombuffer(b"04", np.uint8), np.array([0, 2]), np.array([0.9]), np.array([1]),
    ...     np.array([0.5]), FusionParams(), np.zeros(256, bool))
    >>> inp.prm.tolist()
    [0.6, 0.6, 0.5, 1.0, 1.0, 1.0, 0.0, 4096.0]
    """
    if params.strategy == "ocfusion":
        raise ValueError("fuse_packed_image runs Algorithm 1 or the heuristic; OCFusion needs fuse_scene")
    fi = load_fuse_image()
    ra, ca, eo, reference = params.switches()
    prm = fi.settings(params.rho, params.tau, params.gamma, ra, ca, eo, reference, params.stuff_area)
    return fi.fuse_inputs(chars, char_offsets, scores, labels, relations, prm, is_stuff, known)


def fuse_packed_image(
    image_id: int,
    inputs,
    a: int,
    b: int,
    height: int,
    width: int,
    *,
    semantic: np.ndarray | None = None,
    semantic_png: np.ndarray | None = None,
) -> tuple | None:
    """:func:`fuse_image` in one compiled call (:func:`rapkit.kernels.fuse_image.fuse_packed`:
    RLE decode, Algorithm 1 or the heuristic, stuff, and the PNG's zlib stream) of the
    proposals ``a <= k < b`` of the :func:`packed_inputs` ``inputs``. The semantic map is
    ``semantic`` ((H, W) uint8), or ``semantic_png`` (an 8-bit grayscale PNG's inflated rows,
    decoded in the same call; every label must be known), or none. Returns ``(status, kept,
    classes, area, bbox, idat, tally)`` (see ``fuse_packed``): thing segment ``j + 1`` is
    proposal ``a + kept[j]``, stuff segment ``len(kept) + 1 + s`` the class ``classes[s]``;
    the segments, ids and bytes are those of :func:`fuse_scene`. Returns None when
    ``semantic_png`` cannot be decoded or holds an unknown label (the caller then reads the
    map the slow way, which says what is wrong). Bad RLEs and missing relation values raise
    the InputError that :func:`decode_scene` / :func:`fuse_scene` raise.

    >>> inp = packed_inputs(np.frombuffer(b"04", np.uint8), np.array([0, 2]), np.array([0.9]), np.array([1]),
    ...     np.array([0.5]), FusionParams(), np.zeros(256, bool))
    >>> out = fuse_packed_image(1, inp, 0, 1, 2, 2)
    >>> out[1].tolist(), out[3].tolist()
    ([0], [0, 4])
    """
    fi = load_fuse_image()
    out = fi.fuse_packed(inputs, a, b, height, width, semantic=semantic, semantic_png=semantic_png)
    err = out[0]
    if err[0]:
        k = int(err[1])
        if err[0] == fi.ERR_SEMANTIC:
            return None
        if err[0] == 1:
            why = f"proposal #{k}: malformed RLE counts"
        elif err[0] == 2:
            why = f"proposal #{k}: RLE runs do not cover the {width}x{height} image"
        else:
            why = f"proposal #{k} has no relation value (needed by strategy rap)"
        raise InputError(why, image_id=image_id)
    return out[1:]
