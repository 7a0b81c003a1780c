"""The numpy twin of :func:`rapkit.io.png.read_pair_keys`: a GT and a prediction PNG counted
into their (GT id, predicted id) pixel pairs without numba, for jobs too small to pay for
importing it (:mod:`rapkit.pipeline.evaluate_small`).

It follows the fast path step by step, with the same checks in the same order and so the same
:class:`~rapkit.errors.InputError` for a missing file, a folder, two sizes that differ or a
size other than ``shape``: both files are read and their chunks parsed
(:func:`~rapkit.io.png.parse_png`), the image data of an 8-bit RGB/RGBA PNG is unfiltered by
Pillow's PNG decoder instead of the numba kernel (the same bytes: chunks after the image
data are ignored by both), ids are ``R + 256 G + 65536 B``, and the pairs are counted with
``np.unique``. Every other PNG, and image data Pillow cannot unfilter, goes the way the fast
path sends it too: :func:`~rapkit.io.png.read_pair_keys` with PIL reading the file, which
names the problem. ``tests/io/test_png_numpy.py`` checks the two agree, arrays and errors.

>>> keys, counts, shape = read_pair_keys_numpy("gt/1.png", "pred/1.png", image_id=1)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError
from .panoptic.read import rgb2id
from .png import PngData, _check_shape, _read_bytes, parse_png, read_pair_keys

__all__ = ["read_pair_keys_numpy"]


def _unfilter_ids(png: PngData) -> np.ndarray | None:
    """The (H, W) uint32 ids of an 8-bit RGB/RGBA PNG's image data (Pillow's zlib + PNG
    unfilter); None when Pillow cannot decode it (the caller lets PIL name the problem)."""
    mode = "RGBA" if png.color_type == 6 else "RGB"
    try:
        im = Image.frombytes(mode, (png.width, png.height), bytes(png.idat), "zip", mode, 0)
    except (ValueError, OSError, MemoryError):
        return None
    return rgb2id(np.asarray(im))


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
        gm = _unfilter_ids(g)
        pm = _unfilter_ids(p) if gm is not None else None
        if gm is not None and pm is not None:
            key = gm.astype(np.uint64).ravel() * np.uint64(1 << 24) + pm.astype(np.uint64).ravel()
            keys, counts = np.unique(key, return_counts=True)
            return keys, counts.astype(np.int64), (g.height, g.width)
    return read_pair_keys(gt_path, pred_path, image_id=image_id, shape=shape, fast=False)
