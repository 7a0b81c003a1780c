"""One image of ``rapkit fuse`` in one compiled call: RLE decode, fusion, compose, PNG stream.

:func:`fuse_packed` chains the kernels that :func:`rapkit.core.fusion.decode_scene` and
:func:`rapkit.core.fusion.fuse_scene` call one by one from Python (RLE -> column runs,
:func:`rapkit.kernels.fusion.fuse_runs`, :func:`rapkit.kernels.fusion.compose`,
:func:`rapkit.kernels.png_encode.png_idat_runs`) inside one ``nogil`` kernel, so that a worker
thread holds the GIL for one dispatch per image instead of a dozen calls and the numpy glue
between them: the GIL-held time per image is what keeps ``--workers`` from scaling. The
results are those of the separate calls (same arrays, same PNG bytes); the numpy twin
:func:`rapkit.kernels._reference_fuse_image.ref_fuse_packed` chains the separate twins.

Algorithm 1 / the heuristic only (OCFusion keeps its own path).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._runtime.jit import njit
from .deflate import FIXED_TABLES
from .fusion import _compose, _fuse_runs
from .png import _gray_kernel
from .png_encode import _png_idat_runs
from .rle import _decode_runs
from .status import KEPT, SCORE, UNSEEN

__all__ = [
    "ERR_NO_RELATION",
    "ERR_SEMANTIC",
    "FuseInputs",
    "fuse_inputs",
    "fuse_packed",
    "load_fuse_kernel",
    "settings",
]

#: ``err[0]`` codes of :func:`fuse_packed`: 0 fine; 1 a malformed RLE; 2 an RLE whose runs do
#: not cover the image (both as ``decode_rle_runs``'s status); 3 a candidate without a
#: relation value while ``ra`` is on (``err[1]``: the proposal, its index within the image);
#: 4 the semantic PNG data has an unknown filter type or a label outside ``known``: the caller
#: reads it the slow way, which reports the problem precisely.
ERR_NO_RELATION = 3
ERR_SEMANTIC = 4

_CODES, _LENS, _LSYM, _LEXT, _LVAL = FIXED_TABLES  # constants of the compiled kernel
_NO_RAW = np.zeros(1, np.uint8)  # writable, as rapkit.io.png inflates PNG data
_NO_SEM = np.zeros((1, 1), np.uint8)


def settings(
    rho: float, tau: float, gamma: float, ra: bool, ca: bool, eo: bool, reference: bool, stuff_area: int
) -> np.ndarray:
    """The fusion settings as :func:`fuse_packed` takes them: one float64 array (one argument
    to hand over per image instead of eight).

    >>> settings(0.6, 0.6, 0.5, True, True, True, False, 4096).tolist()
    [0.6, 0.6, 0.5, 1.0, 1.0, 1.0, 0.0, 4096.0]
    """
    if not 0 <= int(stuff_area) < 2**53:
        raise ValueError(f"stuff_area must be in [0, 2**53), got {stuff_area}")
    return np.array([rho, tau, gamma, ra, ca, eo, reference, int(stuff_area)], np.float64)


@njit
def _failed(err, n):
    """What :func:`_fuse_packed` returns on an error: ``err`` and empty arrays of the right types."""
    z = np.zeros(0, np.int64)
    e = np.zeros(0, np.uint8)
    return (
        err,
        np.zeros(n, np.int8),
        z,
        z.copy(),
        np.zeros(1, np.int64),
        np.zeros((1, 4), np.int64),
        e,
        np.zeros(8, np.int64),
    )


@njit
def _fuse_packed(
    chars_all, offs_all, scores_all, labels_all, rels_all, a, b, height, width, prm, sem, raw, sem_mode, known, is_stuff
):
    n = b - a
    err = np.zeros(2, np.int64)
    rho, tau, gamma = prm[0], prm[1], prm[2]
    ra, ca, eo, reference = prm[3] != 0, prm[4] != 0, prm[5] != 0, prm[6] != 0
    stuff_area = np.int64(prm[7])
    # the semantic map: decoded here from the inflated PNG rows (mode 2), given (1) or none (0)
    has_sem = sem_mode != 0
    if sem_mode == 2:
        sem = np.empty((height, width), np.uint8)
        hist = np.zeros(256, np.int64)
        if raw.shape[0] != height * (width + 1) or _gray_kernel(raw, height, width, sem, hist) >= 0:
            err[0] = ERR_SEMANTIC
        for v in range(256):
            if hist[v] > 0 and not known[v]:
                err[0] = ERR_SEMANTIC
        if err[0] != 0:
            return _failed(err, n)
    # this image's proposals (copies: small, and contiguous for the kernels)
    scores = scores_all[a:b].copy()
    labels = labels_all[a:b].copy()
    relations = rels_all[a:b].copy()
    base = offs_all[a]
    chars = chars_all[base : offs_all[b]].copy()
    char_offs = np.empty(n + 1, np.int64)
    for k in range(n + 1):
        char_offs[k] = offs_all[a + k] - base
    need = np.empty(n, np.bool_)
    for k in range(n):
        need[k] = scores[k] >= rho
    boxes, areas, col_offs, col_ptr, run_y0, run_y1, rle_status = _decode_runs(chars, char_offs, height, width, need)
    for k in range(n):
        if rle_status[k] != 0:
            err[0] = rle_status[k]
            err[1] = k
            break
    # the stable descending-score order of the candidates (score >= rho)
    neg = np.empty(n, np.float64)
    for k in range(n):
        neg[k] = -scores[k]
    order_all = np.argsort(neg, kind="mergesort")
    nc = 0
    for k in range(n):
        if need[k]:
            nc += 1
    order = np.empty(nc, np.int64)
    j = 0
    for k in order_all:
        if need[k]:
            order[j] = k
            j += 1
    if err[0] == 0 and ra:
        for k in order:
            if np.isnan(relations[k]):
                err[0] = ERR_NO_RELATION
                err[1] = k
                break
    if err[0] != 0:
        return _failed(err, n)
    canvas, status, _visible, _ev = _fuse_runs(
        boxes,
        areas,
        col_offs,
        col_ptr,
        run_y0,
        run_y1,
        labels,
        relations,
        order,
        width,
        height,
        tau,
        gamma,
        ra,
        ca,
        eo,
        reference,
        False,
    )
    for k in range(n):
        if status[k] == UNSEEN:  # not a candidate: dropped by score (status.reported)
            status[k] = SCORE
    nk = 0
    for k in order:
        if status[k] == KEPT:
            nk += 1
    kept = np.empty(nk, np.int64)
    lut = np.zeros(n + 1, np.uint32)
    j = 0
    for k in order:
        if status[k] == KEPT:
            kept[j] = k
            lut[k + 1] = j + 1
            j += 1
    _ids, classes, area, bbox, row_ptr, run_x, run_v = _compose(
        canvas, sem, has_sem, is_stuff, stuff_area, lut, np.int64(nk)
    )
    idat = _png_idat_runs(row_ptr, run_x, run_v, width, _CODES, _LENS, _LSYM, _LEXT, _LVAL)
    tally = np.zeros(8, np.int64)
    for k in range(n):
        tally[status[k]] += 1
    return err, status, kept, classes, area, bbox, idat, tally


def _need(name: str, a: np.ndarray, dtype, ndim: int) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous {ndim}-D {np.dtype(dtype).name} array")


class FuseInputs(NamedTuple):
    """The inputs of :func:`fuse_packed` that stay the same for a whole run, checked once by
    :func:`fuse_inputs` (so that each image's call checks only its own arguments)."""

    chars: np.ndarray
    char_offsets: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    relations: np.ndarray
    prm: np.ndarray
    is_stuff: np.ndarray
    known: np.ndarray


def fuse_inputs(
    chars: np.ndarray,
    char_offsets: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    relations: np.ndarray,
    prm: np.ndarray,
    is_stuff: np.ndarray,
    known: np.ndarray | None = None,
) -> FuseInputs:
    """Check and bundle a run's proposals and settings: the compressed RLE ``counts`` of
    proposal ``k`` is ``chars[char_offsets[k]:char_offsets[k + 1]]`` (uint8; int64 offsets,
    ascending), its score (float64), category (int64) and relation value (float64, NaN =
    none) are ``scores[k]``, ``labels[k]``, ``relations[k]``; ``prm`` the :func:`settings`;
    ``is_stuff`` as for :func:`rapkit.kernels.fusion.compose`; ``known`` ((256,) bool) the
    labels a semantic PNG may hold (default: ``is_stuff``).

    >>> fi = fuse_inputs(np.frombuffer(b"04", np.uint8), np.array([0, 2]), np.array([0.9]), np.array([1]),
    ...     np.array([0.5]), settings(0.5, 0.6, 0.5, True, True, True, False, 4096), np.zeros(256, bool))
    >>> len(fi.scores)
    1
    """
    _need("chars", chars, np.uint8, 1)
    _need("char_offsets", char_offsets, np.int64, 1)
    _need("scores", scores, np.float64, 1)
    _need("labels", labels, np.int64, 1)
    _need("relations", relations, np.float64, 1)
    _need("prm", prm, np.float64, 1)
    _need("is_stuff", is_stuff, np.bool_, 1)
    known = is_stuff if known is None else known
    _need("known", known, np.bool_, 1)
    n = scores.shape[0]
    if char_offsets.shape[0] != n + 1 or labels.shape[0] != n or relations.shape[0] != n or prm.shape[0] != 8:
        raise ValueError("char_offsets (N + 1), scores, labels, relations must describe N proposals; prm 8 settings")
    if is_stuff.shape[0] != 256 or known.shape[0] != 256:
        raise ValueError("is_stuff and known must have 256 entries")
    if char_offsets[0] < 0 or char_offsets[n] > chars.shape[0] or np.any(np.diff(char_offsets) < 0):
        raise ValueError("char_offsets must ascend within chars")
    return FuseInputs(chars, char_offsets, scores, labels, relations, prm, is_stuff, known)


def fuse_packed(
    inputs: FuseInputs,
    a: int,
    b: int,
    height: int,
    width: int,
    *,
    semantic: np.ndarray | None = None,
    semantic_png: np.ndarray | None = None,
):
    """Fuse one image of size ``height`` x ``width``: proposals ``a <= k < b`` of ``inputs``
    (:func:`fuse_inputs`), with its settings: Algorithm 1 with switches, or the heuristic
    (``ra=ca=eo=False``), then the stuff of the semantic map: ``semantic`` ((H, W) uint8), or
    ``semantic_png``, the inflated rows of an 8-bit grayscale PNG of the image's size (uint8,
    as ``rapkit.io.png`` inflates them), unfiltered here, whose labels must all be
    ``inputs.known``; or none.

    Returns ``(err, status, kept, classes, area, bbox, idat, tally)``: ``err`` (2,) int64 (see
    :data:`ERR_NO_RELATION`; when ``err[0] != 0`` the rest is empty), ``status`` (N,) int8 as
    reported (:func:`rapkit.kernels.status.reported`), ``kept`` the kept proposals in painting
    order (indices from ``a``; thing segment ``j + 1`` is ``kept[j]``), ``classes`` the stuff
    classes (segments ``len(kept) + 1 + s``), ``area`` and ``bbox`` per segment id (0 = void)
    as ``compose`` returns them, ``idat`` the PNG's zlib stream of the id map
    (:func:`rapkit.kernels.png_encode.png_idat`), ``tally`` (8,) int64 the proposals per status.

    >>> fi = fuse_inputs(np.frombuffer(b"04", np.uint8), np.array([0, 2]), np.array([0.9]), np.array([1]),
    ...     np.array([0.5]), settings(0.5, 0.6, 0.5, True, True, True, False, 4096), np.zeros(256, bool))
    >>> out = fuse_packed(fi, 0, 1, 2, 2)
    >>> out[0].tolist(), out[2].tolist(), out[4].tolist()
    ([0, 0], [0], [0, 4])
    """
    if not 0 <= a <= b <= inputs.scores.shape[0]:
        raise ValueError(f"proposals {a}..{b} are not within the {inputs.scores.shape[0]} of the inputs")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    sem, raw, mode = _NO_SEM, _NO_RAW, 0
    if semantic is not None:
        _need("semantic", semantic, np.uint8, 2)
        if semantic.shape != (height, width):
            raise ValueError(f"semantic map {semantic.shape} does not match the image ({height}, {width})")
        sem, mode = (semantic if semantic.flags.writeable else semantic.copy()), 1
    elif semantic_png is not None:
        _need("semantic_png", semantic_png, np.uint8, 1)
        raw, mode = (semantic_png if semantic_png.flags.writeable else semantic_png.copy()), 2
    return _fuse_packed(
        inputs.chars,
        inputs.char_offsets,
        inputs.scores,
        inputs.labels,
        inputs.relations,
        np.int64(a),
        np.int64(b),
        np.int64(height),
        np.int64(width),
        inputs.prm,
        sem,
        raw,
        np.int64(mode),
        inputs.known,
        inputs.is_stuff,
    )


def load_fuse_kernel() -> None:
    """Load (or compile) the kernel for the argument types ``rapkit fuse`` passes, by fusing
    one proposal on a 2x2 image: ``rapkit fuse`` does this in a thread while the calling
    thread reads the proposals (numba's import and the cached kernel's load overlap the
    parse where either releases the GIL).

    >>> load_fuse_kernel()
    """
    fi = fuse_inputs(np.frombuffer(b"04", np.uint8), np.array([0, 2]), np.array([0.9]), np.array([1]),
                     np.array([0.5]), settings(0.5, 0.6, 0.5, True, True, True, False, 4096), np.zeros(256, bool))  # fmt: skip
    fuse_packed(fi, 0, 1, 2, 2)
