"""A proposals JSON straight into :class:`~rapkit.io.proposals.PackedProposals`, typed.

``rapkit fuse`` reads the whole detector dump before any image is fused. A typed decoder
(msgspec: one small struct per entry, only the fields fuse uses, the rest skipped) builds it
in about a quarter of the time of parsing every entry into dicts, and the checks of
:func:`~rapkit.io.proposals.parse_proposals_packed` run on whole arrays (numpy) instead of
entry by entry. The result is equal, array for array, to the standard reader's.

It is a fast path for the plainly valid file only. Whatever it is not sure of sends the
whole file the standard way (:func:`rapkit.io.proposals.load_proposals_packed`), which then
accepts it or raises its error, worded as always: text that is not strict UTF-8, a
top-level object, an entry with a field missing or of another JSON type (a bool or float
where an integer is expected, uncompressed RLE ``counts``, a size that is not two
integers), a value out of range (an unknown or stuff category, a score outside [0, 1], a
size other than its image's, an image not in the list, non-ASCII RLE counts, a missing
relation where one is required), an ``occludes`` or ``relation_val`` field.

>>> from rapkit.types import Category, ImageInfo
>>> e = b'{"image_id": 2, "category_id": 1, "score": 0.9, "segmentation": {"size": [2, 2], "counts": "04"}}'
>>> images = {1: ImageInfo(1, "a.jpg", 2, 2), 2: ImageInfo(2, "b.jpg", 2, 2)}
>>> pk = decode_packed(b"[" + e + b"]", images, {1: Category(1, "person", True)}, require_relation=False)
>>> pk.start.tolist(), pk.scores.tolist(), pk.relations.tolist()
([0, 0, 1], [0.9], [nan])
>>> decode_packed(b"[" + e.replace(b"0.9", b"true") + b"]", images, {1: Category(1, "person", True)}) is None
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from ..types import Category, ImageInfo
from .jsonio import is_utf8
from .proposals import PackedProposals, load_proposals_packed

__all__ = ["decode_packed", "load_proposals_packed_fast"]


class _Segmentation(msgspec.Struct, gc=False):
    size: tuple[int, int]
    counts: str


class _Entry(msgspec.Struct, gc=False):
    image_id: int
    category_id: int
    score: float
    segmentation: _Segmentation
    relation: float | None | msgspec.UnsetType = msgspec.UNSET
    # present: the standard reader decides (an alias of relation; the pair head's logits)
    relation_val: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    occludes: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_DECODE = msgspec.json.Decoder(list[_Entry]).decode
_UNSET = msgspec.UNSET
_get = {name: attrgetter(name) for name in _Entry.__struct_fields__}
_seg_size = attrgetter("size")
_seg_counts = attrgetter("counts")


def decode_packed(
    data: bytes,
    images: Mapping[Any, ImageInfo],
    categories: Mapping[Any, Category],
    *,
    require_relation: bool = False,
) -> PackedProposals | None:
    """The :class:`PackedProposals` of proposals JSON ``data``, equal to the standard
    reader's, or None where this path is not sure (the module's docstring): the caller then
    reads the file the standard way."""
    if not is_utf8(data):  # the skipped fields' text is not checked by the decoder
        return None
    try:
        entries = _DECODE(data)
    except Exception:  # noqa: BLE001 - any doubt: the standard reader decides and words the error
        return None
    try:
        return _pack(entries, images, categories, require_relation)
    except (KeyError, OverflowError, TypeError, ValueError):  # an id not listed, a huge integer
        return None


def _pack(
    entries: list[_Entry], images: Mapping[Any, ImageInfo], categories: Mapping[Any, Category], require_relation: bool
) -> PackedProposals | None:
    n = len(entries)
    if n and (
        list(map(_get["occludes"], entries)).count(_UNSET) != n
        or list(map(_get["relation_val"], entries)).count(_UNSET) != n
    ):
        return None
    position = {iid: i for i, iid in enumerate(images)}
    # KeyError: an image that is not in the list (or a huge id)
    img = np.fromiter(map(position.__getitem__, map(_get["image_id"], entries)), np.int64, n)
    cids = np.fromiter(map(_get["category_id"], entries), np.int64, n)  # OverflowError: huge
    things = np.array([c for c, cat in categories.items() if type(c) is int and cat.isthing], np.int64)
    if not np.isin(cids, things).all():
        return None
    scores = np.fromiter(map(_get["score"], entries), np.float64, n)
    if not ((scores >= 0.0) & (scores <= 1.0)).all():
        return None
    segs = list(map(_get["segmentation"], entries))
    size = np.array(list(map(_seg_size, segs)), np.int64).reshape(n, 2)
    hw = np.array([(info.height, info.width) for info in images.values()], np.int64).reshape(len(images), 2)
    if not (size == hw[img]).all():
        return None
    rel_list = list(map(_get["relation"], entries))
    if rel_list.count(_UNSET):  # no relation field: as null
        rel_list = [None if r is _UNSET else r for r in rel_list]
    rels = np.array(rel_list, np.float64).reshape(n)  # None -> NaN
    if np.isinf(rels).any() or (require_relation and np.isnan(rels).any()):
        return None
    start = np.zeros(len(images) + 1, np.int64)
    np.cumsum(np.bincount(img, minlength=len(images)), out=start[1:])
    counts = list(map(_seg_counts, segs))
    if (img[1:] >= img[:-1]).all():  # already grouped by image, in the list's order (the usual file)
        perm = np.arange(n, dtype=np.int64)
        ordered = counts
    else:
        perm = np.argsort(img, kind="stable").astype(np.int64, copy=False)
        ordered = [counts[k] for k in perm.tolist()]
    if not all(map(str.isascii, ordered)):
        return None
    return PackedProposals.of(list(images), start, scores, cids, rels, ordered, perm)


def load_proposals_packed_fast(
    path: str | os.PathLike,
    images: Mapping[Any, ImageInfo],
    categories: Mapping[Any, Category],
    *,
    require_relation: bool = False,
) -> PackedProposals:
    """:func:`rapkit.io.proposals.load_proposals_packed`, with the same result and errors:
    the typed decoder first, the standard reader whenever it declines.

    >>> pk = load_proposals_packed_fast("proposals.json", images, categories)  # doctest: +SKIP
    """
    try:
        data = Path(path).read_bytes()
    except (OSError, TypeError, ValueError):
        data = None
    if data is not None:
        pk = decode_packed(data, images, categories, require_relation=require_relation)
        if pk is not None:
            return pk
    return load_proposals_packed(path, images, categories, require_relation=require_relation)
