"""Label maps: a model's labels -> dataset category ids, for every writer of
:mod:`rapkit.io.adapters` (``label_map=``), and the label checks they share.

A ``label_map`` is one of:

==========================  =============================================================
``None``                    labels are the category ids themselves
a list / tuple / array      ``label_map[label]``; an entry ``None`` (or negative) is no category
a dict                      ``{label: category_id}``; ``None`` values are no category
``"coco80"``                contiguous 0..79 -> the 80 COCO thing ids (1, 2, ..., 90):
                            detectron2's and mmdetection's COCO models
``"coco91"``                torchvision's 91-index COCO space: the label *is* the COCO
                            category id; 0 (background) and the 10 unused indices
                            (12, 26, 29, 30, 45, 66, 68, 69, 71, 83) are not in the map
:func:`contiguous_label_map` label ``start + i`` -> the ``i``-th smallest id of your categories;
                            ``start=1`` is ``rapkit train --labels contiguous`` (label 0 =
                            background), ``start=0`` detectron2/mmdetection on a custom dataset
==========================  =============================================================

``rapkit train --labels coco`` corresponds to ``None``/``"coco91"``, ``--labels contiguous``
to ``contiguous_label_map(thing_ids, start=1)``. For semantic maps a map entry may be ``0``
(void) too, e.g. detectron2's Panoptic FPN class 0 ("things"), and the semantic map of
``"coco80"``/``"coco91"`` is the same as for proposals.

>>> resolve_label_map("coco80")[0], contiguous_label_map([7, 3], start=1)
(1, {1: 3, 2: 7})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import ConfigError, InputError

#: COCO's 80 thing category ids in contiguous order (detectron2 / mmdetection label i -> COCO80[i])
COCO80: tuple[int, ...] = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    27,
    28,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
    40,
    41,
    42,
    43,
    44,
    46,
    47,
    48,
    49,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    60,
    61,
    62,
    63,
    64,
    65,
    67,
    70,
    72,
    73,
    74,
    75,
    76,
    77,
    78,
    79,
    80,
    81,
    82,
    84,
    85,
    86,
    87,
    88,
    89,
    90,
)

BUILTIN_LABEL_MAPS = ("coco80", "coco91")

LabelMapLike = Sequence[Any] | Mapping[int, Any] | np.ndarray | str | None


def contiguous_label_map(category_ids: Iterable[int], start: int = 0) -> dict[int, int]:
    """Label ``start + i`` -> the ``i``-th smallest of ``category_ids`` (duplicates once).

    ``start=1`` is ``rapkit train --labels contiguous`` (torchvision: 0 = background);
    ``start=0`` is detectron2's and mmdetection's convention.

    >>> contiguous_label_map([7, 3, 11], start=1)
    {1: 3, 2: 7, 3: 11}
    """
    ids = sorted({int(c) for c in category_ids})
    return {start + i: c for i, c in enumerate(ids)}


def resolve_label_map(label_map: LabelMapLike) -> dict[int, int] | None:
    """Any accepted ``label_map`` form -> ``{label: category_id}`` (0 = void, only meaningful
    for semantic maps) or ``None`` for the identity. ConfigError for an unknown name or a
    malformed map.

    >>> resolve_label_map("coco80")[79], resolve_label_map([None, 5])
    (90, {1: 5})
    >>> 12 in resolve_label_map("coco91")
    False
    """
    if label_map is None:
        return None
    if isinstance(label_map, str):
        name = label_map.lower()
        if name == "coco80":
            return {i: c for i, c in enumerate(COCO80)}
        if name == "coco91":
            return {c: c for c in COCO80}
        raise ConfigError(
            f"unknown label map {label_map!r}; built-in maps: {', '.join(BUILTIN_LABEL_MAPS)} "
            "(or pass a list indexed by label, or a dict)"
        )
    if isinstance(label_map, Mapping):
        items = list(label_map.items())
    elif isinstance(label_map, (Sequence, np.ndarray)) and not isinstance(label_map, (bytes, bytearray)):
        items = list(
            enumerate(np.asarray(label_map, dtype=object).tolist() if isinstance(label_map, np.ndarray) else label_map)
        )
    else:
        raise ConfigError(
            f"label_map must be None, a list, a dict or one of {', '.join(BUILTIN_LABEL_MAPS)}, "
            f"got {type(label_map).__name__}"
        )
    out: dict[int, int] = {}
    for k, v in items:
        if not _is_int(k):
            raise ConfigError(f"label_map: label {k!r} is not an integer")
        if v is None:
            continue
        if not _is_int(v):
            raise ConfigError(f"label_map: label {k} maps to {v!r}, not an integer category id")
        if int(v) < 0:
            continue
        out[int(k)] = int(v)
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _describe(label_map: LabelMapLike) -> str:
    if label_map is None:
        return "labels are category ids"
    if isinstance(label_map, str):
        return f"label map {label_map}"
    return "the label map"


def _first(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


def map_labels(
    labels: np.ndarray,
    lmap: dict[int, int] | None,
    *,
    what: str = "labels",
    iid: Any = None,
    file: Any = None,
    describe: str = "the label map",
    allow_void: bool = False,
) -> np.ndarray:
    """``labels`` (any shape, integer values) -> category ids (int64) through ``lmap``
    (:func:`resolve_label_map`; ``None`` = identity); an InputError names the first label
    not in the map (``what[index]``), a NaN or a non-integer value.

    >>> map_labels(np.array([0, 79]), resolve_label_map("coco80")).tolist()
    [1, 90]
    """
    a = np.asarray(labels)
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        if nan.any():
            raise InputError(f"{what}{_index(a, nan)} is NaN", file=file, image_id=iid)
        frac = a != np.round(a)
        if frac.any():
            k = _first(frac.ravel())
            raise InputError(
                f"{what}{_index(a, frac)} = {float(a.ravel()[k])!r} is not an integer label", file=file, image_id=iid
            )
        a = a.astype(np.int64)
    elif a.dtype.kind == "b" or a.dtype.kind not in "iu":
        raise InputError(f"{what} must be integers, got dtype {a.dtype}", file=file, image_id=iid)
    a = a.astype(np.int64, copy=False)
    if lmap is None:
        return a.copy()
    if not a.size:
        return a.copy()
    lo, hi = int(a.min()), int(a.max())
    keys = np.fromiter(lmap.keys(), np.int64, len(lmap)) if lmap else np.zeros(0, np.int64)
    if lo >= 0 and hi < (1 << 20):  # a lookup table (label maps of semantic logits are images)
        lut = np.full(hi + 1, -1, np.int64)
        ok = keys[(keys >= 0) & (keys <= hi)]
        lut[ok] = [lmap[int(k)] for k in ok]
        out = lut[a]
    else:
        out = np.array([lmap.get(int(v), -1) for v in a.ravel()], np.int64).reshape(a.shape)
    bad = out < 0
    if not allow_void:
        bad |= out == 0
    if bad.any():
        k = _first(bad.ravel())
        raise InputError(f"{what}{_index(a, bad)} = {int(a.ravel()[k])} is not in {describe}", file=file, image_id=iid)
    return out


def _index(a: np.ndarray, bad: np.ndarray) -> str:
    """``[i]`` or ``[y, x]`` of the first true element of ``bad``."""
    idx = np.unravel_index(_first(bad.ravel()), a.shape) if a.ndim else ()
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


__all__ = ["BUILTIN_LABEL_MAPS", "COCO80", "LabelMapLike", "contiguous_label_map", "map_labels", "resolve_label_map"]
