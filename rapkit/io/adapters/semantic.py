"""Semantic maps from arrays: :func:`write_semantic_png` turns an H x W label map or
C x H x W logits (argmax) into the 8-bit PNG of category ids (0 = void) that
``rapkit fuse --semantic DIR`` reads.

>>> write_semantic_png("semantic/000000000139.png", logits, label_map=stuff_ids)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from .._atomic import write_bytes_atomic
from ..semantic import known_labels
from ..world import encode_png_labels
from .images import _categories
from .labels import LabelMapLike, _describe, _first, _index, map_labels, resolve_label_map


def write_semantic_png(
    path: str | os.PathLike,
    label_map_or_logits: Any,
    label_map: LabelMapLike = None,
    *,
    categories: Any = None,
    height: int | None = None,
    width: int | None = None,
    image_id: Any = None,
    force: bool = False,
) -> Path:
    """Write one image's semantic map as an 8-bit PNG of category ids (0 = void), the format
    of ``rapkit fuse --semantic DIR`` (name it like the image with ``.png``:
    :func:`semantic_png_name`).

    ``label_map_or_logits``: an (H, W) integer label map, or (C, H, W) scores/logits (the
    argmax over C is taken; ties go to the lower class). ``label_map`` maps the labels (or
    class indices) to category ids (:mod:`rapkit.io.adapters.labels`; an entry 0 = void); ``None``: the values
    are category ids already, 0 and 255 void. ``categories`` checks every id against the
    categories (thing ids are allowed, fusion ignores them); ``height``/``width`` against the
    map. ``image_id`` names the image in errors (default: the file's stem).

    >>> write_semantic_png("semantic/000000000139.png", np.full((4, 6), 187, np.uint8), force=True)   # doctest: +SKIP
    """
    p = Path(path)
    iid = image_id if image_id is not None else p.stem
    a = np.asarray(label_map_or_logits)
    if a.ndim == 3:
        if a.dtype.kind not in "biuf" or a.shape[0] == 0:
            raise InputError(
                f"logits must be C x H x W numbers with C >= 1, got {a.dtype} {a.shape}", file=p, image_id=iid
            )
        if a.dtype.kind == "f":
            nan = np.isnan(a)
            if nan.any():
                raise InputError(f"logits{_index(a, nan)} is NaN", file=p, image_id=iid)
        labels = np.argmax(a, axis=0)
        what = "argmax class"
    elif a.ndim == 2:
        labels = a
        what = "labels"
    else:
        raise InputError(
            f"a semantic map must be H x W labels or C x H x W logits, got shape {a.shape}", file=p, image_id=iid
        )
    h, w = labels.shape
    if h == 0 or w == 0:
        raise InputError("the semantic map has no pixels", file=p, image_id=iid)
    if height is not None and int(height) != h or width is not None and int(width) != w:
        raise InputError(
            f"the semantic map is {w}x{h} but height x width is given as {width}x{height}", file=p, image_id=iid
        )
    lmap = resolve_label_map(label_map)
    if lmap is None:
        ids = map_labels(labels, None, what=what, iid=iid, file=p)
        out = (ids < 0) | (ids > 255)
        if out.any():
            raise InputError(
                f"{what}{_index(ids, out)} = {int(ids.ravel()[_first(out.ravel())])} is not a category id "
                "that fits an 8-bit PNG (1..254; 0 and 255 are void)",
                file=p,
                image_id=iid,
            )
    else:
        ids = map_labels(labels, lmap, what=what, iid=iid, file=p, describe=_describe(label_map), allow_void=True)
        big = ids > 254
        if big.any():
            raise InputError(
                f"{what}{_index(ids, big)} maps to category {int(ids.ravel()[_first(big.ravel())])}, "
                "which does not fit an 8-bit PNG (ids 1..254)",
                file=p,
                image_id=iid,
            )
    ids8 = ids.astype(np.uint8)
    cats = _categories(categories)
    if cats is not None:
        known = known_labels(cats)
        bad = ~known[ids8]
        if bad.any():
            raise InputError(
                f"{what}{_index(ids8, bad)} gives category {int(ids8.ravel()[_first(bad.ravel())])}, "
                "which is not in the categories",
                file=p,
                image_id=iid,
            )
    return write_bytes_atomic(p, encode_png_labels(ids8), force)


def semantic_png_name(file_name: str) -> str:
    """The semantic PNG name ``rapkit fuse --semantic DIR`` looks for: the image's stem + ``.png``.

    >>> semantic_png_name("000000000139.jpg")
    '000000000139.png'
    """
    return Path(file_name).stem + ".png"


__all__ = ["semantic_png_name", "write_semantic_png"]
