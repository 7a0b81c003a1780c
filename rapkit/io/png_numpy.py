"""The numpy twin of :func:`rapkit.io.png.read_pair_keys`: a GT and a prediction PNG counted
into their (GT id, predicted id) pixel pairs without numba, for jobs too small to pay for
importing it (:mod:`rapkit.pipeline.evaluate_small`).

It follows the fast path step by step, with the same checks in the same order and so the same
:class:`~rapkit.errors.InputError` for a missing file, a folder, two sizes that differ or a
size other than ``shape``: both files are read and their chunks parsed
(:func:`~rapkit.io.png.parse_png`), the image data of an 8-bit RGB/RGBA PNG is unfiltered by
Pillow's PNG decoder instead of the numba kernel (the same bytes: chunks after the image
data are ignored by both), ids are ``R + 256 G + 65536 B``, and the pairs are counted by
:func:`pair_counts` (numpy). Every other PNG, and image data Pillow cannot unfilter, goes
the way the fast path sends it too: :func:`~rapkit.io.png.read_pair_keys` with PIL reading
the file, which names the problem. ``tests/io/test_png_numpy.py`` checks the two agree, arrays and errors.

>>> keys, counts, shape = read_pair_keys_numpy("gt/1.png", "pred/1.png", image_id=1)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError
from .png import PngData, _check_shape, _read_bytes, parse_png, read_pair_keys

__all__ = ["pair_counts", "read_pair_keys_numpy"]


def _unfilter_rgb(png: PngData) -> np.ndarray | None:
    """The (H, W, 3 or 4) uint8 pixels of an 8-bit RGB/RGBA PNG's image data (Pillow's zlib
    + PNG unfilter); None when Pillow cannot decode it (the caller lets PIL name the problem)."""
    mode = "RGBA" if png.color_type == 6 else "RGB"
    try:
        im = Image.frombytes(mode, (png.width, png.height), bytes(png.idat), "zip", mode, 0)
    except (ValueError, OSError, MemoryError):
        return None
    return np.asarray(im)


def _changes(rgb: np.ndarray) -> np.ndarray:
    # per pixel but the first: whether its RGB differs from the pixel before (row-major)
    c = rgb.shape[-1]
    flat = np.ascontiguousarray(rgb).reshape(-1)
    d = (flat[c:] != flat[:-c]).reshape(-1, c)
    return d[:, 0] | d[:, 1] | d[:, 2]


def _ids(rgb: np.ndarray, at: np.ndarray) -> np.ndarray:
    px = rgb.reshape(-1, rgb.shape[-1])[at, :3].astype(np.uint64)
    return px[:, 0] | (px[:, 1] << np.uint64(8)) | (px[:, 2] << np.uint64(16))


def pair_counts(gt_rgb: np.ndarray, pred_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (GT id, predicted id) pairs of two (H, W, >= 3) uint8 RGB(A) images of the same
    size, counted: ``(keys, counts)``, ``keys = gt * 2**24 + pred`` (ids ``R + 256 G +
    65536 B``) sorted and unique, as uint64, ``counts`` int64.

    Pixels come in runs of equal pairs along a row: the runs are found first (where either
    image's bytes change), and only their keys are made and sorted (a panoptic map has a
    few thousand runs for a few hundred thousand pixels).

    >>> g = np.zeros((1, 3, 3), np.uint8); g[0, 2, 0] = 7
    >>> keys, counts = pair_counts(g, np.ones((1, 3, 3), np.uint8))
    >>> [(int(k) >> 24, int(k) & 0xFFFFFF) for k in keys], counts.tolist()
    ([(0, 65793), (7, 65793)], [2, 1])
    """
    n = gt_rgb.shape[0] * gt_rgb.shape[1]
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, _changes(gt_rgb) | _changes(pred_rgb)])
    run_keys = (_ids(gt_rgb, starts) << np.uint64(24)) | _ids(pred_rgb, starts)
    run_len = np.diff(np.r_[starts, n])
    order = np.argsort(run_keys, kind="stable")
    sk = run_keys[order]
    first = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    return sk[first], np.add.reduceat(run_len[order], first).astype(np.int64)


def read_pair_keys_numpy(
    gt_path: str | os.PathLike,
    pred_path: str | os.PathLike,
    *,
    image_id: Any = None,
    shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``(keys, counts, (H, W))`` as :func:`rapkit.io.png.read_pair_keys` (``fast=True``)
    gives them, with no numba: ``keys = gt * 2**24 + pred`` (uint64, sorted, unique),
    ``counts`` (int64) their pixel counts."""
    g = parse_png(_read_bytes(gt_path, image_id))
    p = parse_png(_read_bytes(pred_path, image_id))
    if g is not None and p is not None and g.fast and p.fast:
        if (g.height, g.width) != (p.height, p.width):
            raise InputError(
                f"GT PNG is {g.width}x{g.height} but the prediction PNG is {p.width}x{p.height}",
                file=Path(pred_path),
                image_id=image_id,
            )
        if shape is not None:
            _check_shape((g.height, g.width), shape, Path(gt_path), image_id)
        gm = _unfilter_rgb(g)
        pm = _unfilter_rgb(p) if gm is not None else None
        if gm is not None and pm is not None:
            keys, counts = pair_counts(gm, pm)
            return keys, counts, (g.height, g.width)
    return read_pair_keys(gt_path, pred_path, image_id=image_id, shape=shape, fast=False)
