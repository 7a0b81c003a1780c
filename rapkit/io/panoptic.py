"""COCO panoptic JSON + PNG folder, categories and image lists; the fused output folder.

``id = R + 256 * G + 256**2 * B``; 0 is VOID. The PNG folder defaults to the JSON's path
without ``.json``. A fused output (``rapkit fuse``) is written through
:func:`panoptic_output`: ``OUTDIR/panoptic.json`` + ``OUTDIR/panoptic/<image stem>.png``,
in a temporary sibling renamed onto ``OUTDIR`` when complete.

>>> rgb2id(np.array([[[1, 2, 0]]], dtype=np.uint8))
array([[513]], dtype=uint32)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import Category, ImageInfo, PanopticImage, Segment
from .jsonio import dumps, load_json, require_list


def rgb2id(color: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint32 ids."""
    c = np.asarray(color)
    if c.ndim != 3 or c.shape[2] < 3:
        raise ValueError(f"rgb2id expects an (H, W, 3) array, got shape {c.shape}")
    c = c[..., :3].astype(np.uint32)
    return c[..., 0] + (c[..., 1] << np.uint32(8)) + (c[..., 2] << np.uint32(16))


def id2rgb(id_map: np.ndarray) -> np.ndarray:
    """(H, W) integer ids -> (H, W, 3) uint8 RGB."""
    ids = np.asarray(id_map)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"id2rgb expects integer ids, got dtype {ids.dtype}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= 1 << 24):
        raise ValueError("panoptic ids must lie in [0, 2**24)")
    ids = ids.astype(np.uint32, copy=False)
    out = np.empty(ids.shape + (3,), dtype=np.uint8)
    out[..., 0] = ids & 0xFF
    out[..., 1] = (ids >> 8) & 0xFF
    out[..., 2] = (ids >> 16) & 0xFF
    return out


# --------------------------------------------------------------------------- categories


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


def load_categories(path: str | os.PathLike) -> dict[int, Category]:
    """Categories from a categories list file or from any COCO JSON with ``categories``."""
    raw = load_json(path, "categories")
    if isinstance(raw, dict):
        if "categories" not in raw:
            raise InputError("no 'categories' in this JSON", file=path)
        raw = raw["categories"]
    return parse_categories(raw, file=path)


# --------------------------------------------------------------------------- images

#: the largest image (height x width) rapkit accepts: 2**31 pixels
MAX_PIXELS = 1 << 31


def parse_images(data: Any, file: Any = None) -> dict[int, ImageInfo]:
    """The ``images`` list of a COCO JSON -> ``{id: ImageInfo}`` (order kept)."""
    raw = require_list(data, "images", file, "images")
    out: dict[int, ImageInfo] = {}
    for k, im in enumerate(raw):
        try:
            info = ImageInfo(int(im["id"]), str(im.get("file_name", "")), int(im["height"]), int(im["width"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InputError(f"images entry #{k} needs integer id, height and width", file=file) from None
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


def load_images(path: str | os.PathLike) -> dict[int, ImageInfo]:
    """``{image_id: ImageInfo}`` from any COCO JSON with an ``images`` list."""
    return parse_images(load_json(path, "images"), file=path)


# --------------------------------------------------------------------------- panoptic JSON


@dataclass
class PanopticDataset:
    """A loaded panoptic JSON: images, categories (may be empty), annotations, PNG folder."""

    json_path: Path
    png_dir: Path
    images: dict[int, ImageInfo]
    categories: dict[int, Category]
    annotations: dict[int, PanopticImage]

    def png_path(self, image_id: int) -> Path:
        return self.png_dir / self.annotations[image_id].file_name


def default_png_dir(json_path: str | os.PathLike) -> Path:
    p = Path(json_path)
    return p.with_suffix("") if p.suffix == ".json" else Path(str(p) + "_png")


# --------------------------------------------------------------------------- validation


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


def png_file_name(ann: dict, image_id: int, images: dict[int, ImageInfo]) -> str:
    """The PNG of an annotation: its ``file_name``, else the image's file name with ``.png``,
    else the 12-digit image id."""
    fname = ann.get("file_name")
    if not fname:
        info = images.get(image_id)
        fname = (Path(info.file_name).with_suffix(".png").name) if info else f"{image_id:012d}.png"
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
            iid = int(a["image_id"])
        except (TypeError, ValueError, OverflowError):
            found("annotation", f"annotation #{k} has a non-integer image_id {a['image_id']!r}")
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


@dataclass
class PanopticScan:
    """A panoptic JSON read leniently by :func:`scan_panoptic`: what could be used, and
    every problem found."""

    json_path: Path
    png_dir: Path
    images: dict[int, ImageInfo]
    categories: dict[int, Category] | None
    annotations: list[AnnotationEntry]
    issues: list[Issue]


def scan_panoptic(
    json_path: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    *,
    categories: dict[int, Category] | None = None,
    gt: bool = True,
) -> PanopticScan:
    """Read a panoptic JSON and collect its problems instead of raising (``rapkit check``).

    Only an unreadable file or one that is not a COCO panoptic JSON (no ``annotations``
    list) raises :class:`InputError`. Segments are checked against ``categories``, else
    against the JSON's own; a GT (``gt``) must have categories and ``area`` fields.
    Same checks and messages as :func:`load_panoptic`, which stops at the first error.

    >>> scan = scan_panoptic("panoptic_val2017.json")   # doctest: +SKIP
    >>> [i.kind for i in scan.issues]                    # doctest: +SKIP
    """
    data = load_json(json_path, "panoptic")
    anns_raw = require_list(data, "annotations", json_path, "panoptic")
    issues: list[Issue] = []
    try:
        images = parse_images(data, json_path) if "images" in data else {}
    except InputError as e:
        issues.append(Issue("error", "images", e.image_id, None, e.message))
        images = {}
    cats = categories
    if cats is None and "categories" in data:
        try:
            cats = parse_categories(data["categories"], json_path)
        except InputError as e:
            issues.append(Issue("error", "categories", None, None, e.message))
    if gt and not cats:
        issues.append(Issue("error", "categories", None, None, "no categories: PQ needs the GT 'categories' list"))
    entries = list(scan_annotations(anns_raw, json_path, images, cats, issues=issues, gt=gt))
    return PanopticScan(
        json_path=Path(json_path),
        png_dir=Path(png_dir) if png_dir is not None else default_png_dir(json_path),
        images=images,
        categories=cats,
        annotations=entries,
        issues=issues,
    )


def _segment(s: dict, sid: int, cid: int, file: Any, image_id: int) -> Segment:
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


def _segment_compact(s: dict, sid: int, cid: int, file: Any, image_id: int) -> tuple[int, int, int, int]:
    try:
        return sid, cid, int(s.get("area", 0)), int(s.get("iscrowd", 0))
    except (TypeError, ValueError, OverflowError):
        raise InputError(
            "segments_info entry has a malformed area or iscrowd", file=file, image_id=image_id, segment_id=sid
        ) from None


def load_panoptic(
    json_path: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    *,
    check_categories: bool = True,
    compact: bool = False,
) -> PanopticDataset:
    """Load a COCO panoptic JSON (segments only; PNGs are read per image with :func:`read_id_map`).

    Checks (:func:`scan_annotations`, stopping at the first error): the JSON is panoptic
    COCO, segment ids are unique and non-zero within an image, categories are known (when
    the JSON lists categories and ``check_categories``). With ``compact`` each segment is
    the tuple ``(id, category_id, area, iscrowd)`` instead of a :class:`Segment` (what PQ
    needs, several times cheaper to build).
    """
    data = load_json(json_path, "panoptic")
    anns_raw = require_list(data, "annotations", json_path, "panoptic")
    images = parse_images(data, json_path) if "images" in data else {}
    cats = parse_categories(data["categories"], json_path) if "categories" in data else {}
    make = _segment_compact if compact else _segment
    anns: dict[int, PanopticImage] = {}
    for e in scan_annotations(anns_raw, json_path, images, cats if check_categories else None):
        iid = e.image_id
        segs = [make(s, sid, cid, json_path, iid) for sid, cid, s in e.segments]
        info = images.get(iid)
        anns[iid] = PanopticImage(iid, e.file_name, segs, info.height if info else None, info.width if info else None)
    return PanopticDataset(
        json_path=Path(json_path),
        png_dir=Path(png_dir) if png_dir is not None else default_png_dir(json_path),
        images=images,
        categories=cats,
        annotations=anns,
    )


@dataclass
class SegmentArrays:
    """The segments of a panoptic JSON as flat int64 arrays, image by image (what PQ needs).

    Image ``k`` (``image_ids[k]``, PNG ``file_names[k]``, JSON order) owns the entries
    ``offsets[k]:offsets[k + 1]`` of ``id``, ``category_id``, ``area`` (0 where the JSON has
    none) and ``iscrowd``, in the order of its ``segments_info``.
    """

    image_ids: list[int]
    file_names: list[str]
    offsets: np.ndarray
    id: np.ndarray
    category_id: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray

    def row_of(self) -> dict[int, int]:
        """``{image_id: k}``."""
        return {iid: k for k, iid in enumerate(self.image_ids)}


#: areas from this magnitude on are left to the Python path of PQ (int64 sums in the matching
#: kernel stay exact and convert exactly to float below it)
MAX_AREA = 1 << 52


def _segment_rows(anns_raw: list, images: dict[int, ImageInfo], full: bool) -> tuple | None:
    # One pass over plain JSON: (image ids, PNG names, segments per image, rows of (id,
    # category_id[, area, iscrowd])); None at the first unusual entry.
    iids: list[int] = []
    names: list[str] = []
    lens: list[int] = []
    rows: list[tuple] = []
    get = itemgetter("id", "category_id", "area", "iscrowd") if full else itemgetter("id", "category_id")
    try:
        for a in anns_raw:
            iid = a["image_id"]
            segs = a["segments_info"]
            if type(iid) is not int or type(segs) is not list:
                return None
            fname = a.get("file_name")
            iids.append(iid)
            names.append(fname if type(fname) is str and fname else png_file_name(a, iid, images))
            lens.append(len(segs))
            try:
                part = list(map(get, segs))
            except KeyError:
                if not full:
                    return None
                part = [(s["id"], s["category_id"], s.get("area", 0), s.get("iscrowd", 0)) for s in segs]
            rows += part
    except (KeyError, TypeError, AttributeError):
        return None
    return iids, names, lens, rows


def _fast_segment_arrays(
    anns_raw: list, images: dict[int, ImageInfo], categories: dict[int, Category] | None, full: bool = True
) -> SegmentArrays | None:
    # Plain JSON (integer ids, categories, areas; dict entries) is read in one pass and
    # checked with numpy. Anything else (and any error) -> None: the caller then goes through
    # scan_annotations, which accepts the same inputs and words the errors. Without ``full``
    # area and iscrowd are not read (0).
    got = _segment_rows(anns_raw, images, full)
    if got is None:
        return None
    iids, names, lens, rows = got
    if len(set(iids)) != len(iids):
        return None
    n = len(rows)
    ncol = 4 if full else 2
    try:  # int() of every value, as scan_annotations and _segment_compact take them
        arr = np.fromiter(chain.from_iterable(rows), np.int64, n * ncol).reshape(n, ncol)
    except (TypeError, ValueError, OverflowError):
        return None
    if not full:
        arr = np.concatenate([arr, np.zeros((n, 2), np.int64)], axis=1)
    elif n and np.abs(arr[:, 2]).max() >= MAX_AREA:
        return None
    sid, cat = arr[:, 0], arr[:, 1]
    if n and not sid.all():
        return None  # id 0
    offsets = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    if n > 1:
        img = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        if sid.min() >= 0 and sid.max() < 1 << 40 and len(lens) < 1 << 22:
            key = np.sort((img << 40) | sid)
            dup = bool((key[1:] == key[:-1]).any())
        else:
            o = np.lexsort((sid, img))
            dup = bool(((img[o][1:] == img[o][:-1]) & (sid[o][1:] == sid[o][:-1])).any())
        if dup:
            return None  # a duplicate segment id
    if categories and n and not np.isin(cat, np.fromiter(categories, np.int64, len(categories))).all():
        return None
    return SegmentArrays(
        iids,
        names,
        offsets,
        np.ascontiguousarray(sid),
        np.ascontiguousarray(cat),
        np.ascontiguousarray(arr[:, 2]),
        np.ascontiguousarray(arr[:, 3]),
    )


def load_panoptic_arrays(
    json_path: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    *,
    check_categories: bool = True,
    areas: bool = True,
) -> tuple[PanopticDataset, SegmentArrays | None]:
    """:func:`load_panoptic` for PQ: the same checks and errors, but the segments come as
    :class:`SegmentArrays` (the dataset's ``annotations`` is then empty).

    Plain JSON takes a fast path (one pass, checks in numpy); otherwise the file goes
    through :func:`load_panoptic` (``compact=True``): its error is raised, or its segments
    are turned into arrays. ``None`` instead of arrays when a value does not fit int64 or an
    area reaches :data:`MAX_AREA` (the caller then uses the dataset's ``annotations``, which
    are filled in that case). Without
    ``areas`` the ``area`` and ``iscrowd`` arrays are 0 (a prediction's are not needed).
    """
    data = load_json(json_path, "panoptic")
    anns_raw = require_list(data, "annotations", json_path, "panoptic")
    images = parse_images(data, json_path) if "images" in data else {}
    cats = parse_categories(data["categories"], json_path) if "categories" in data else {}
    root = Path(json_path)
    png = Path(png_dir) if png_dir is not None else default_png_dir(json_path)
    arrays = _fast_segment_arrays(anns_raw, images, cats if check_categories else None, areas)
    if arrays is not None:
        return PanopticDataset(root, png, images, cats, {}), arrays
    anns: dict[int, PanopticImage] = {}
    for e in scan_annotations(anns_raw, json_path, images, cats if check_categories else None):
        segs = [_segment_compact(s, sid, cid, json_path, e.image_id) for sid, cid, s in e.segments]
        info = images.get(e.image_id)
        anns[e.image_id] = PanopticImage(
            e.image_id, e.file_name, segs, info.height if info else None, info.width if info else None
        )
    ds = PanopticDataset(root, png, images, cats, anns)
    flat = [s for a in anns.values() for s in a.segments]
    try:
        arr = np.array(flat, np.int64).reshape(len(flat), 4)
    except OverflowError:
        return ds, None
    if areas and flat and np.abs(arr[:, 2]).max() >= MAX_AREA:
        return ds, None
    offsets = np.zeros(len(anns) + 1, np.int64)
    np.cumsum([len(a.segments) for a in anns.values()], out=offsets[1:])
    arrays = SegmentArrays(
        list(anns),
        [a.file_name for a in anns.values()],
        offsets,
        *(np.ascontiguousarray(arr[:, k]) for k in range(4)),
    )
    return PanopticDataset(root, png, images, cats, {}), arrays


# --------------------------------------------------------------------------- PNG


def read_id_map(
    path: str | os.PathLike,
    *,
    image_id: Any = None,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read a panoptic PNG as an (H, W) uint32 id map (PIL); errors name file and image."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            if im.mode not in ("RGB", "RGBA"):
                im = im.convert("RGB")
            arr = np.asarray(im)
    except FileNotFoundError:
        raise InputError("panoptic PNG not found", file=p, image_id=image_id) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        raise InputError(f"cannot decode PNG: {e}", file=p, image_id=image_id) from None
    ids = rgb2id(arr)
    bad = shape_mismatch(ids.shape, shape)
    if bad:
        raise InputError(bad, file=p, image_id=image_id)
    return ids


def shape_mismatch(ids_shape: tuple[int, ...], shape: tuple[int, int] | None) -> str | None:
    """The message when a PNG of ``ids_shape`` (H, W) is not the ``shape`` its image entry
    gives (None when it is, or when ``shape`` is None).

    >>> shape_mismatch((2, 3), (2, 4))
    'PNG is 3x2 but the image entry says 4x2'
    """
    if shape is None or tuple(ids_shape) == tuple(shape):
        return None
    return f"PNG is {ids_shape[1]}x{ids_shape[0]} but the image entry says {shape[1]}x{shape[0]}"


def segment_stats(id_map: np.ndarray) -> dict[int, tuple[int, tuple[int, int, int, int]]]:
    """``{segment id: (area, (x, y, w, h))}`` for every non-zero id of an id map."""
    ids = np.asarray(id_map)
    flat = ids.ravel()
    uniq, inv, counts = np.unique(flat, return_inverse=True, return_counts=True)
    h, w = ids.shape
    ys = np.arange(flat.size) // w
    xs = np.arange(flat.size) % w
    n = uniq.size
    x0 = np.full(n, w, np.int64)
    y0 = np.full(n, h, np.int64)
    x1 = np.full(n, -1, np.int64)
    y1 = np.full(n, -1, np.int64)
    np.minimum.at(x0, inv, xs)
    np.minimum.at(y0, inv, ys)
    np.maximum.at(x1, inv, xs)
    np.maximum.at(y1, inv, ys)
    out = {}
    for k, u in enumerate(uniq.tolist()):
        if u == 0:
            continue
        out[int(u)] = (int(counts[k]), (int(x0[k]), int(y0[k]), int(x1[k] - x0[k] + 1), int(y1[k] - y0[k] + 1)))
    return out


# --------------------------------------------------------------------------- fused output

PANOPTIC_JSON = "panoptic.json"
PANOPTIC_DIR = "panoptic"


def png_name(info: ImageInfo) -> str:
    """Output PNG name of an image: its file name's stem + ``.png`` (or the 12-digit id).

    >>> png_name(ImageInfo(139, "000000000139.jpg", 426, 640)), png_name(ImageInfo(7, "", 2, 2))
    ('000000000139.png', '000000000007.png')
    """
    stem = Path(info.file_name).stem if info.file_name else ""
    return (stem or f"{info.id:012d}") + ".png"


def panoptic_document(
    images: Iterable[ImageInfo], annotations: list[dict], categories: Iterable[Category]
) -> dict[str, Any]:
    """The COCO panoptic JSON of a fused output as a Python object (field order is part of
    the format: ``images``, ``annotations``, ``categories``).

    >>> panoptic_document([ImageInfo(1, "a.jpg", 2, 3)], [], [])["images"]
    [{'id': 1, 'file_name': 'a.jpg', 'height': 2, 'width': 3}]
    """
    return {
        "images": [{"id": i.id, "file_name": i.file_name, "height": i.height, "width": i.width} for i in images],
        "annotations": annotations,
        "categories": [c.to_json() for c in categories],
    }


class PanopticOutput:
    """A panoptic output folder being written (see :func:`panoptic_output`): PNGs go to
    :meth:`png_path` (any process may write them, e.g. with
    :func:`rapkit.io.png_write.write_id_map_png_fast`), the JSON through :meth:`write_json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.png_dir = self.root / PANOPTIC_DIR

    def png_path(self, name: str) -> Path:
        """Where the PNG ``name`` of this output goes."""
        return self.png_dir / name

    def write_json(self, images: Iterable[ImageInfo], annotations: list[dict], categories: Iterable[Category]) -> Path:
        """Write ``panoptic.json`` (:func:`panoptic_document`; compact, deterministic bytes)."""
        p = self.root / PANOPTIC_JSON
        p.write_bytes(dumps(panoptic_document(images, annotations, categories)))
        return p


@contextlib.contextmanager
def panoptic_output(out_dir: str | os.PathLike, force: bool = False) -> Iterator[PanopticOutput]:
    """Write a COCO panoptic folder atomically: yields a :class:`PanopticOutput` in a
    temporary sibling of ``out_dir`` (its PNG folder created), renamed onto ``out_dir`` when
    the block ends without error; on any error (or Ctrl-C) nothing is left behind. An
    existing ``out_dir`` is replaced only with ``force``.

    >>> with panoptic_output("fused/") as out:                       # doctest: +SKIP
    ...     write_id_map_png_fast(out.png_path("1.png"), id_map)
    ...     out.write_json(images.values(), annotations, cats.values())
    """
    from ._atomic import atomic_path  # not imported by readers (hashlib and more)

    with atomic_path(out_dir, force, directory=True) as tmp:
        out = PanopticOutput(tmp)
        out.png_dir.mkdir()
        yield out
