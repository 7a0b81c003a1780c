"""The typed fast path of :func:`rapkit.io.panoptic.read.load_panoptic_arrays`: a large
panoptic JSON decoded by msgspec straight into what PQ reads.

orjson turns a panoptic JSON into a dict per segment (about 60 ms for COCO-like 5 MB) and
then a Python pass takes each segment's ids (about 35 ms), all holding the GIL while the
kernels load. Here msgspec decodes the ``annotations`` into slotted, untracked structs with
only the fields PQ reads (``image_id``, ``file_name``, ``segments_info``' ``id``,
``category_id`` and, for a GT, ``area`` and ``iscrowd``), skipping the rest (bbox, score,
relation) without building it: about 10 ms for a prediction, 30 ms for a GT.

It is a fast path, not a second reader: :func:`typed_columns` returns None whenever it is
not sure to give what the orjson path gives (the document is not strict JSON, a value is not
a plain integer, an id does not fit int64...), and so does the reader's own check of the
columns (an area reaching ``MAX_AREA``, a failed
:func:`~rapkit.io.panoptic.check.plain_segments_pass`); the file is then read the usual
way, which gives the same result or words the error. ``images`` and
``categories`` are decoded as plain JSON values and parsed by the same functions as there.
The two agree on every document the tests build (tests/io/test_panoptic_typed.py).

>>> typed_columns(b'{"annotations": [{"image_id": 7, "segments_info": [{"id": 1, "category_id": 2}]}]}', "p.json", True)[:3]
([7], ['000000000007.png'], [1])
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import numpy as np

from ...types import Category, ImageInfo, PanopticImage, Segment
from ..jsonio import exact_ints, is_utf8
from .check import parse_categories, parse_images, png_file_name

#: an integer the typed path takes: int64 (orjson reads integers outside [-2**63, 2**64) as
#: floats, msgspec as exact ints; the typed path declines every integer beyond int64)
_Int = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]


class _Segment(msgspec.Struct, gc=False):
    id: _Int
    category_id: _Int
    area: _Int = 0
    iscrowd: _Int = 0


class _SegmentIds(msgspec.Struct, gc=False):  # a prediction's: area and iscrowd are not read
    id: _Int
    category_id: _Int


class _Annotation(msgspec.Struct, gc=False):
    image_id: _Int
    segments_info: list[_Segment]
    file_name: str = ""


class _AnnotationIds(msgspec.Struct, gc=False):
    image_id: _Int
    segments_info: list[_SegmentIds]
    file_name: str = ""


class _SegmentFull(msgspec.Struct, gc=False):  # load_panoptic: every field a Segment keeps
    id: _Int
    category_id: _Int
    area: _Int = 0
    bbox: list[float] | None = None
    iscrowd: _Int = 0
    score: float | None = None
    relation: float | None = None


class _AnnotationFull(msgspec.Struct, gc=False):
    image_id: _Int
    segments_info: list[_SegmentFull]
    file_name: str = ""


class _DocumentFull(msgspec.Struct, gc=False):
    annotations: list[_AnnotationFull]
    images: Any = msgspec.UNSET
    categories: Any = msgspec.UNSET


class _Document(msgspec.Struct, gc=False):
    annotations: list[_Annotation]
    images: Any = msgspec.UNSET
    categories: Any = msgspec.UNSET


class _DocumentIds(msgspec.Struct, gc=False):
    annotations: list[_AnnotationIds]
    images: Any = msgspec.UNSET
    categories: Any = msgspec.UNSET


_DECODERS: dict[Any, Any] = {}


def _decoder(kind: Any) -> Any:
    dec = _DECODERS.get(kind)
    if dec is None:
        dec = _DECODERS[kind] = msgspec.json.Decoder(kind)
    return dec


def _decode(kind: Any, data: bytes, file: Any) -> tuple[Any, dict[int, ImageInfo], dict[int, Category]] | None:
    """``data`` decoded as the struct ``kind``, with its images and categories parsed (and
    their errors raised) as the usual reader parses them; None where msgspec declines."""
    if not is_utf8(data):  # msgspec skips the fields it is not asked for without checking their text
        return None
    try:
        doc = _decoder(kind).decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not (exact_ints(doc.images) and exact_ints(doc.categories)):
        return None
    images = parse_images({"images": doc.images}, file) if doc.images is not msgspec.UNSET else {}
    cats = parse_categories(doc.categories, file) if doc.categories is not msgspec.UNSET else {}
    return doc, images, cats


def typed_columns(
    data: bytes, file: Any, full: bool
) -> tuple[list[int], list[str], list[int], list[np.ndarray], dict[int, ImageInfo], dict[int, Category]] | None:
    """The panoptic JSON bytes ``data`` as ``(image_ids, png_names, segments_per_image,
    [id, category_id, area, iscrowd] int64 columns, images, categories)``, or None (read it
    the usual way). ``full``: read ``area`` and ``iscrowd`` (else 0). ``images`` and
    ``categories`` are parsed (and their errors raised) as the usual reader does."""
    got = _decode(_Document if full else _DocumentIds, data, file)
    if got is None:
        return None
    doc, images, cats = got
    anns = doc.annotations
    iids = [a.image_id for a in anns]
    lens = [len(a.segments_info) for a in anns]
    names = [a.file_name or png_file_name({}, a.image_id, images) for a in anns]
    segs = [s for a in anns for s in a.segments_info]
    n = len(segs)
    # every integer is int64 (_Int): the columns take them as they are
    cols = [np.fromiter((s.id for s in segs), np.int64, n), np.fromiter((s.category_id for s in segs), np.int64, n)]
    if full:
        cols += [np.fromiter((s.area for s in segs), np.int64, n), np.fromiter((s.iscrowd for s in segs), np.int64, n)]
    else:
        cols += [np.zeros(n, np.int64), np.zeros(n, np.int64)]
    return iids, names, lens, cols, images, cats


def typed_panoptic(
    data: bytes, file: Any, check_categories: bool
) -> tuple[dict[int, ImageInfo], dict[int, Category], dict[int, PanopticImage]] | None:
    """The panoptic JSON bytes ``data`` as :func:`rapkit.io.panoptic.read.load_panoptic`
    reads it: ``(images, categories, {image_id: PanopticImage})`` with every segment a
    :class:`~rapkit.types.Segment`, or None (read it the usual way: a value that is not a
    plain number, or anything :func:`~rapkit.io.panoptic.check.scan_annotations` would
    stop at: one image twice, a segment id twice or 0, an unknown category)."""
    got = _decode(_DocumentFull, data, file)
    if got is None:
        return None
    doc, images, cats = got
    known = cats if check_categories and cats else None
    out: dict[int, PanopticImage] = {}
    for a in doc.annotations:
        iid = a.image_id
        if iid in out:
            return None
        segs = []
        seen: set[int] = set()
        for s in a.segments_info:
            sid = s.id
            if sid in seen or sid == 0 or (known is not None and s.category_id not in known):
                return None
            seen.add(sid)
            bbox = s.bbox
            segs.append(
                Segment(
                    sid,
                    s.category_id,
                    s.area,
                    tuple(map(round, bbox)) if bbox else (0, 0, 0, 0),
                    s.iscrowd,
                    s.score,
                    s.relation,
                )  # fmt: skip
            )
        info = images.get(iid)
        name = a.file_name or png_file_name({}, iid, images)
        out[iid] = PanopticImage(iid, name, segs, info.height if info else None, info.width if info else None)
    return images, cats, out


__all__ = ["typed_columns", "typed_panoptic"]
