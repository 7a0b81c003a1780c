"""The rules a panoptic JSON is checked by, one message each (no file is read here).

* :func:`parse_categories`, :func:`parse_images`: the ``categories`` and ``images`` lists;
* :func:`scan_annotations`: the ``annotations`` (image ids, ``segments_info`` entries), raising
  the first error (the readers of :mod:`.read`) or collecting every finding as an
  :class:`Issue` (``rapkit check``, :func:`rapkit.io.panoptic.scan_panoptic`);
* :func:`segment_entry`, :func:`segment_tuple`: the values of one ``segments_info`` entry;
* :func:`plain_segments_pass`: the checks of :func:`scan_annotations` on segments already
  in arrays, in numpy (the fast path of :func:`rapkit.io.panoptic.load_panoptic_arrays`);
* :func:`shape_mismatch`: a PNG's size against its image entry.

So every reader of panoptic JSON accepts the same files and words a problem the same way
(file, image id, segment id).

>>> shape_mismatch((2, 3), (2, 3)) is None
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...types import Category, ImageInfo, Segment
from ..jsonio import require_list

# --------------------------------------------------------------------------- categories and images


def parse_categories(raw: Any, file: Any = None) -> dict[int, Category]:
    """A list of COCO panoptic category dicts -> ``{id: Category}``."""
    if not isinstance(raw, list):
        raise InputError("categories must be a list of {id, name, isthing}", file=file)
    cats: dict[int, Category] = {}
    for k, c in enumerate(raw):
        if not isinstance(c, dict) or "id" not in c:
            raise InputError(f"category #{k} has no 'id'", file=file)
        try:
            cid = int(c["id"])
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"category #{k} has a non-integer id {c['id']!r}", file=file) from None
        if cid in cats:
            raise InputError(f"category id {cid} appears twice", file=file)
        color = c.get("color")
        try:
            rgb = tuple(int(v) for v in color[:3]) if isinstance(color, (list, tuple)) and len(color) >= 3 else None
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"category {cid}: color must be three numbers, got {color!r}", file=file) from None
        cats[cid] = Category(
            id=cid,
            name=str(c.get("name", cid)),
            isthing=bool(c.get("isthing", 1)),
            color=rgb,
            supercategory=c.get("supercategory"),
        )
    return cats


#: the largest image (height x width) rapkit accepts: 2**31 pixels
MAX_PIXELS = 1 << 31


def image_key(v: Any) -> int | str:
    """An image id as the JSON gives it: an integer (``int()`` of it, as COCO), or a non-empty
    string as is (Cityscapes' ``"frankfurt_000000_000294"``); TypeError/ValueError otherwise.

    >>> image_key(139), image_key(7.0), image_key("aachen_000000_000019")
    (139, 7, 'aachen_000000_000019')
    """
    if type(v) is str:
        if not v:
            raise ValueError("empty image id")
        return v
    return int(v)


def parse_images(data: Any, file: Any = None) -> dict[int, ImageInfo]:
    """The ``images`` list of a COCO JSON -> ``{id: ImageInfo}`` (order kept)."""
    raw = require_list(data, "images", file, "images")
    out: dict[int, ImageInfo] = {}
    for k, im in enumerate(raw):
        try:
            info = ImageInfo(image_key(im["id"]), str(im.get("file_name", "")), int(im["height"]), int(im["width"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InputError(
                f"images entry #{k} needs integer id, height and width (or a string id, as Cityscapes)", file=file
            ) from None
        if info.height <= 0 or info.width <= 0:
            raise InputError(f"non-positive size {info.width}x{info.height}", file=file, image_id=info.id)
        if info.height * info.width > MAX_PIXELS:  # canvases of this size would exhaust memory
            raise InputError(
                f"image size {info.width}x{info.height} is too large (over {MAX_PIXELS} pixels)",
                file=file,
                image_id=info.id,
            )
        if info.id in out:
            raise InputError("image id appears twice in 'images'", file=file, image_id=info.id)
        out[info.id] = info
    return out


# --------------------------------------------------------------------------- annotations


@dataclass(frozen=True)
class Issue:
    """One problem of a panoptic JSON (or of its PNGs, see ``rapkit check``). ``level`` is
    ``error`` (PQ wrong or a crash) or ``warning``; ``kind`` a short key (``duplicate_segment_id``...)."""

    level: str
    kind: str
    image_id: Any
    segment_id: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "kind": self.kind,
            "image_id": self.image_id,
            "segment_id": self.segment_id,
            "message": self.message,
        }


@dataclass
class AnnotationEntry:
    """An annotation of a panoptic JSON that passed :func:`scan_annotations`: its image id,
    PNG name, ``(id, category_id, raw entry)`` of each valid segment, and how many entries
    its ``segments_info`` had (valid or not)."""

    image_id: int
    file_name: str
    segments: list[tuple[int, int, dict]]
    n_entries: int


def _id_stem(image_id: Any) -> str:
    return image_id if isinstance(image_id, str) else f"{image_id:012d}"


def png_file_name(ann: dict, image_id: int, images: dict[int, ImageInfo]) -> str:
    """The PNG of an annotation: its ``file_name``, else the image's file name with ``.png``,
    else the 12-digit image id."""
    fname = ann.get("file_name")
    if not fname:
        info = images.get(image_id)
        fname = (Path(info.file_name).with_suffix(".png").name) if info else _id_stem(image_id) + ".png"
    return str(fname)


def scan_annotations(
    anns_raw: list,
    file: Any,
    images: dict[int, ImageInfo],
    categories: dict[int, Category] | None,
    *,
    issues: list[Issue] | None = None,
    gt: bool = False,
) -> Iterator[AnnotationEntry]:
    """Validate the ``annotations`` of a panoptic JSON, yielding each usable annotation.

    The checks, one :class:`Issue` kind each: an annotation needs an integer ``image_id``
    and a ``segments_info`` list (``annotation``), one per image (``duplicate_image``); a
    segment needs integer ``id`` and ``category_id`` (``segment``), unique (``duplicate_segment_id``)
    and non-zero (``segment_id_zero``) ids, a category of ``categories`` when given
    (``unknown_category``), an ``area`` when ``gt`` (``no_area``); ``iscrowd`` other than 0/1
    is a warning. With ``issues=None`` the first error raises :class:`InputError` (warnings
    are ignored); with a list, every finding is appended and the annotation or segment at
    fault is skipped (a zero id or an unknown category is kept).
    """
    strict = issues is None

    def found(kind: str, message: str, image_id: Any = None, segment_id: Any = None, level: str = "error") -> None:
        if issues is not None:
            issues.append(Issue(level, kind, image_id, segment_id, message))
        elif level == "error":
            raise InputError(message, file=file, image_id=image_id, segment_id=segment_id)

    seen_images: set[int] = set()
    for k, a in enumerate(anns_raw):
        if not isinstance(a, dict) or "image_id" not in a or not isinstance(a.get("segments_info"), list):
            found(
                "annotation", f"annotation #{k} is not a panoptic annotation (needs image_id and a segments_info list)"
            )
            continue
        try:
            iid = image_key(a["image_id"])
        except (TypeError, ValueError, OverflowError):
            found(
                "annotation",
                f"annotation #{k} has a non-integer image_id {a['image_id']!r} (or a non-empty string, as Cityscapes)",
            )
            continue
        if iid in seen_images:
            found("duplicate_image", "two annotations for the same image", iid)
            continue
        seen_images.add(iid)
        segs: list[tuple[int, int, dict]] = []
        ids_seen: set[int] = set()
        for s in a["segments_info"]:
            try:
                sid, cid = int(s["id"]), int(s["category_id"])
            except (KeyError, TypeError, ValueError, OverflowError):
                found("segment", "segments_info entry needs integer 'id' and 'category_id'", iid)
                continue
            if sid in ids_seen:
                found("duplicate_segment_id", "duplicate segment id", iid, sid)
                continue
            ids_seen.add(sid)
            if sid == 0:
                found("segment_id_zero", "segment id 0 is reserved for VOID", iid, 0)
            if categories and cid not in categories:
                found("unknown_category", f"unknown category_id {cid}", iid, sid)
            if gt and "area" not in s:
                found("no_area", "GT segment without 'area' (panopticapi needs it)", iid, sid)
            if not strict and s.get("iscrowd", 0) not in (0, 1):
                found("iscrowd", f"iscrowd is {s.get('iscrowd')!r} (only 1 counts as crowd)", iid, sid, level="warning")
            segs.append((sid, cid, s))
        yield AnnotationEntry(iid, png_file_name(a, iid, images), segs, len(a["segments_info"]))


# --------------------------------------------------------------------------- segment values


def segment_entry(s: dict, sid: int, cid: int, file: Any, image_id: int) -> Segment:
    """A ``segments_info`` entry (id and category already checked) as a :class:`Segment`."""
    try:
        bbox = s.get("bbox") or (0, 0, 0, 0)
        return Segment(
            id=sid,
            category_id=cid,
            area=int(s.get("area", 0)),
            bbox=tuple(map(round, map(float, bbox))),  # type: ignore[arg-type]  (round(float) -> int)
            iscrowd=int(s.get("iscrowd", 0)),
            score=float(s["score"]) if s.get("score") is not None else None,
            relation=float(s["relation"]) if s.get("relation") is not None else None,
        )
    except (TypeError, ValueError, OverflowError):
        raise InputError(
            "segments_info entry has a malformed area, bbox, iscrowd, score or relation",
            file=file,
            image_id=image_id,
            segment_id=sid,
        ) from None


def segment_tuple(s: dict, sid: int, cid: int, file: Any, image_id: int) -> tuple[int, int, int, int]:
    """A ``segments_info`` entry as ``(id, category_id, area, iscrowd)`` (what PQ needs)."""
    try:
        return sid, cid, int(s.get("area", 0)), int(s.get("iscrowd", 0))
    except (TypeError, ValueError, OverflowError):
        raise InputError(
            "segments_info entry has a malformed area or iscrowd", file=file, image_id=image_id, segment_id=sid
        ) from None


def plain_segments_pass(
    image_ids: list[int],
    lens: list[int],
    sid: np.ndarray,
    cat: np.ndarray,
    categories: dict[int, Category] | None,
) -> bool:
    """The errors :func:`scan_annotations` looks for, on segments already in int64 arrays:
    True when there is none (one annotation per image, per image non-zero unique segment
    ids, categories of ``categories`` when given). ``lens[k]`` entries of ``sid``/``cat``
    belong to image ``image_ids[k]``. Where it says False, :func:`scan_annotations` finds and
    words the first error.

    >>> ids = np.array([1, 2, 1], np.int64)
    >>> plain_segments_pass([5, 6], [2, 1], ids, ids, None), plain_segments_pass([5], [3], ids, ids, None)
    (True, False)
    """
    if len(set(image_ids)) != len(image_ids):
        return False  # two annotations for one image
    n = sid.shape[0]
    if n and not sid.all():
        return False  # id 0
    if n > 1:
        img = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        if sid.min() >= 0 and sid.max() < 1 << 40 and len(lens) < 1 << 22:
            key = np.sort((img << 40) | sid)
            dup = bool((key[1:] == key[:-1]).any())
        else:
            o = np.lexsort((sid, img))
            dup = bool(((img[o][1:] == img[o][:-1]) & (sid[o][1:] == sid[o][:-1])).any())
        if dup:
            return False  # a duplicate segment id
    if categories and n and not np.isin(cat, np.fromiter(categories, np.int64, len(categories))).all():
        return False  # an unknown category
    return True


# --------------------------------------------------------------------------- PNG size


def shape_mismatch(ids_shape: tuple[int, ...], shape: tuple[int, int] | None) -> str | None:
    """The message when a PNG of ``ids_shape`` (H, W) is not the ``shape`` its image entry
    gives (None when it is, or when ``shape`` is None).

    >>> shape_mismatch((2, 3), (2, 4))
    'PNG is 3x2 but the image entry says 4x2'
    """
    if shape is None or tuple(ids_shape) == tuple(shape):
        return None
    return f"PNG is {ids_shape[1]}x{ids_shape[0]} but the image entry says {shape[1]}x{shape[0]}"


__all__ = [
    "MAX_PIXELS",
    "AnnotationEntry",
    "Issue",
    "parse_categories",
    "parse_images",
    "plain_segments_pass",
    "png_file_name",
    "scan_annotations",
    "segment_entry",
    "segment_tuple",
    "shape_mismatch",
]
