"""Reading COCO panoptic JSON + PNG folders, categories and image lists.

``id = R + 256 * G + 256**2 * B``; 0 is VOID. The PNG folder defaults to the JSON's path
without ``.json``. Three readers of a panoptic JSON, all checked by the rules of
:mod:`.check` (same accepted files, same messages):

* :func:`load_panoptic_arrays`: the segments as int64 arrays (:class:`SegmentArrays`), what
  PQ needs (``rapkit evaluate`` with either decoder, ``--sweep``/``--ablation``); one pass
  over plain JSON, checked in numpy;
* :func:`load_panoptic`: every ``segments_info`` entry as a :class:`~rapkit.types.Segment`
  (bbox, score and relation included: relation extraction, pictures, Python users);
* :func:`scan_panoptic`: lenient, every problem collected instead of raised (``rapkit check``).

>>> rgb2id(np.array([[[1, 2, 0]]], dtype=np.uint8))
array([[513]], dtype=uint32)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...errors import InputError
from ...types import Category, ImageInfo, PanopticImage
from ..jsonio import file_size, load_json, require_list
from .check import (
    AnnotationEntry,
    Issue,
    parse_categories,
    parse_images,
    plain_segments_pass,
    png_file_name,
    scan_annotations,
    segment_entry,
    segment_tuple,
    shape_mismatch,
)


def rgb2id(color: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint32 ids."""
    c = np.asarray(color)
    if c.ndim != 3 or c.shape[2] < 3:
        raise ValueError(f"rgb2id expects an (H, W, 3) array, got shape {c.shape}")
    c = c[..., :3].astype(np.uint32)
    return c[..., 0] + (c[..., 1] << np.uint32(8)) + (c[..., 2] << np.uint32(16))


def load_categories(path: str | os.PathLike) -> dict[int, Category]:
    """Categories from a categories list file or from any COCO JSON with ``categories``."""
    raw = load_json(path, "categories")
    if isinstance(raw, dict):
        if "categories" not in raw:
            raise InputError("no 'categories' in this JSON", file=path)
        raw = raw["categories"]
    return parse_categories(raw, file=path)


def load_images(path: str | os.PathLike) -> dict[int, ImageInfo]:
    """``{image_id: ImageInfo}`` from any COCO JSON with an ``images`` list."""
    return parse_images(load_json(path, "images"), file=path)


def default_png_dir(json_path: str | os.PathLike) -> Path:
    p = Path(json_path)
    return p.with_suffix("") if p.suffix == ".json" else Path(str(p) + "_png")


def _open(json_path: Any, png_dir: Any) -> tuple[list, dict[int, ImageInfo], dict[int, Category], Path]:
    # what every strict reader does first: the annotations list, images, categories, PNG folder
    data = load_json(json_path, "panoptic")
    anns_raw = require_list(data, "annotations", json_path, "panoptic")
    images = parse_images(data, json_path) if "images" in data else {}
    cats = parse_categories(data["categories"], json_path) if "categories" in data else {}
    return anns_raw, images, cats, Path(png_dir) if png_dir is not None else default_png_dir(json_path)


#: a panoptic JSON at least this large is decoded by msgspec first (:mod:`.typed`); below
#: it the orjson path is as quick and msgspec is not imported
TYPED_BYTES = 256 * 1024


def _large_file(json_path: Any) -> bytes | None:
    # the bytes of a file of TYPED_BYTES or more (the typed fast path's input), or None: the
    # usual reader then reads it (and words any error, a file that cannot be read included)
    size = file_size(json_path)
    if size is None or size < TYPED_BYTES:
        return None
    try:
        return Path(json_path).read_bytes()
    except OSError:
        return None


# --------------------------------------------------------------------------- Segment objects


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


def load_panoptic(
    json_path: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    *,
    check_categories: bool = True,
) -> PanopticDataset:
    """Load a COCO panoptic JSON with every segment a :class:`~rapkit.types.Segment` (PNGs
    are read per image with :func:`read_id_map`).

    Checks (:func:`~rapkit.io.panoptic.check.scan_annotations`, stopping at the first
    error): the JSON is panoptic COCO, segment ids are unique and non-zero within an image,
    categories are known (when the JSON lists categories and ``check_categories``), each
    entry's area, bbox, iscrowd, score and relation are numbers. A file of
    :data:`TYPED_BYTES` or more is first decoded by msgspec
    (:func:`rapkit.io.panoptic.typed.typed_panoptic`, which declines anything unusual or
    wrong to the reading above). PQ reads the same files with :func:`load_panoptic_arrays`.
    """
    png_path = Path(png_dir) if png_dir is not None else default_png_dir(json_path)
    data = _large_file(json_path)
    if data is not None:
        from .typed import typed_panoptic  # msgspec: only for large files

        typed = typed_panoptic(data, json_path, check_categories)
        if typed is not None:
            return PanopticDataset(Path(json_path), png_path, *typed)
    anns_raw, images, cats, png = _open(json_path, png_dir)
    anns: dict[int, PanopticImage] = {}
    for e in scan_annotations(anns_raw, json_path, images, cats if check_categories else None):
        iid = e.image_id
        segs = [segment_entry(s, sid, cid, json_path, iid) for sid, cid, s in e.segments]
        info = images.get(iid)
        anns[iid] = PanopticImage(iid, e.file_name, segs, info.height if info else None, info.width if info else None)
    return PanopticDataset(Path(json_path), png, images, cats, anns)


# --------------------------------------------------------------------------- arrays (PQ)

#: areas from this magnitude on are not put in :class:`SegmentArrays`' arrays (int64 sums in
#: the matching kernel stay exact and convert exactly to float below it): see ``exact``
MAX_AREA = 1 << 52
_I64 = 1 << 63


@dataclass
class SegmentArrays:
    """The segments of a panoptic JSON as flat int64 arrays, image by image (what PQ needs).

    Image ``k`` (``image_ids[k]``, PNG ``file_names[k]``, JSON order) owns the entries
    ``offsets[k]:offsets[k + 1]`` of ``id``, ``category_id``, ``area`` (0 where the JSON has
    none) and ``iscrowd``, in the order of its ``segments_info``. An image with a value the
    arrays cannot carry exactly (beyond int64, or an area of magnitude :data:`MAX_AREA` or
    more) owns no entries: its segments are in ``exact[k]`` as Python ints instead (PQ then
    matches it with :func:`rapkit.core.pq.pq_stats`). :meth:`segments` gives either as tuples.
    """

    image_ids: list[int]
    file_names: list[str]
    offsets: np.ndarray
    id: np.ndarray
    category_id: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    exact: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)

    def row_of(self) -> dict[int, int]:
        """``{image_id: k}``."""
        return {iid: k for k, iid in enumerate(self.image_ids)}

    def segments(self, k: int) -> list[tuple[int, int, int, int]]:
        """Image ``k``'s segments as ``(id, category_id, area, iscrowd)`` tuples (Python ints)."""
        if k in self.exact:
            return list(self.exact[k])
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        cols = (self.id, self.category_id, self.area, self.iscrowd)
        return list(zip(*(c[a:b].tolist() for c in cols)))


@dataclass
class PanopticArrays:
    """A panoptic JSON read by :func:`load_panoptic_arrays`: images, categories (may be
    empty), PNG folder, and the segments as :class:`SegmentArrays`."""

    json_path: Path
    png_dir: Path
    images: dict[int, ImageInfo]
    categories: dict[int, Category]
    segments: SegmentArrays


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
            if type(iid) not in (int, str) or not iid and type(iid) is str or type(segs) is not list:
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


def _plain_arrays(
    anns_raw: list, images: dict[int, ImageInfo], categories: dict[int, Category] | None, full: bool
) -> SegmentArrays | None:
    # Plain JSON (integer ids, categories, areas; dict entries) is read in one pass and
    # checked with numpy (plain_segments_pass). Anything else, and any error -> None: the
    # caller then goes through scan_annotations, which accepts the same inputs and words the
    # errors. Without ``full`` area and iscrowd are not read (0).
    got = _segment_rows(anns_raw, images, full)
    if got is None:
        return None
    iids, names, lens, rows = got
    n = len(rows)
    ncol = 4 if full else 2
    try:  # int() of every value, as scan_annotations and segment_tuple take them
        arr = np.fromiter(chain.from_iterable(rows), np.int64, n * ncol).reshape(n, ncol)
    except (TypeError, ValueError, OverflowError):
        return None
    zeros = np.zeros(n, np.int64)
    cols = [np.ascontiguousarray(arr[:, k]) for k in range(ncol)] + ([] if full else [zeros, zeros])
    return _checked_columns(iids, names, lens, cols, categories)


def _checked_columns(
    iids: list, names: list[str], lens: list[int], cols: list[np.ndarray], categories: dict[int, Category] | None
) -> SegmentArrays | None:
    # The plain paths' last step: the segments' (id, category_id, area, iscrowd) columns
    # checked (areas below MAX_AREA, plain_segments_pass) into SegmentArrays; None: the
    # caller reads the file through scan_annotations
    sid, cid, area, _crowd = cols
    if sid.shape[0] and ((area >= MAX_AREA) | (area <= -MAX_AREA)).any():
        return None
    if not plain_segments_pass(iids, lens, sid, cid, categories):
        return None
    offsets = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    return SegmentArrays(iids, names, offsets, *cols)


def _fits(t: tuple[int, int, int, int]) -> bool:
    sid, cid, area, crowd = t
    return -_I64 <= sid < _I64 and -_I64 <= cid < _I64 and -MAX_AREA < area < MAX_AREA and -_I64 <= crowd < _I64


def _checked_arrays(
    anns_raw: list, file: Any, images: dict[int, ImageInfo], categories: dict[int, Category] | None, full: bool
) -> SegmentArrays:
    # Any JSON: scan_annotations raises the first error, segment_tuple takes the values;
    # an image with a value the arrays cannot hold keeps its tuples (SegmentArrays.exact).
    iids: list[int] = []
    names: list[str] = []
    lens: list[int] = []
    flat: list[tuple[int, int, int, int]] = []
    exact: dict[int, list[tuple[int, int, int, int]]] = {}
    for k, e in enumerate(scan_annotations(anns_raw, file, images, categories)):
        segs = [segment_tuple(s, sid, cid, file, e.image_id) for sid, cid, s in e.segments]
        if not full:
            segs = [(sid, cid, 0, 0) for sid, cid, _, _ in segs]
        iids.append(e.image_id)
        names.append(e.file_name)
        if all(map(_fits, segs)):
            flat += segs
            lens.append(len(segs))
        else:
            exact[k] = segs
            lens.append(0)
    arr = np.array(flat, np.int64).reshape(len(flat), 4)
    offsets = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    return SegmentArrays(iids, names, offsets, *(np.ascontiguousarray(arr[:, k]) for k in range(4)), exact=exact)


def _typed_arrays(json_path: Any, check_categories: bool, areas: bool) -> tuple | None:
    # the typed fast path of load_panoptic_arrays, or None
    data = _large_file(json_path)
    if data is None:
        return None
    from .typed import typed_columns  # msgspec: only for large files

    got = typed_columns(data, json_path, areas)
    if got is None:
        return None
    iids, names, lens, cols, images, cats = got
    arrays = _checked_columns(iids, names, lens, cols, cats if check_categories else None)
    return None if arrays is None else (arrays, images, cats)


def load_panoptic_arrays(
    json_path: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    *,
    check_categories: bool = True,
    areas: bool = True,
) -> PanopticArrays:
    """Read a COCO panoptic JSON for PQ: the segments as :class:`SegmentArrays`.

    The checks and errors of :func:`load_panoptic` (file, image id, segment id), except
    that only ``area`` and ``iscrowd`` of an entry are read (bbox, score and relation are
    not needed). A file of :data:`TYPED_BYTES` or more is first decoded by msgspec into the
    fields PQ reads (:mod:`rapkit.io.panoptic.typed`, a fast path that declines anything it
    is not sure of); plain JSON otherwise takes a fast path (one pass, checks in numpy,
    :func:`~rapkit.io.panoptic.check.plain_segments_pass`); anything else goes through
    :func:`~rapkit.io.panoptic.check.scan_annotations`, which raises the first error. Without
    ``areas`` the ``area`` and ``iscrowd`` arrays are 0 (a prediction's are not needed).

    >>> gt = load_panoptic_arrays("panoptic_val2017.json")                  # doctest: +SKIP
    >>> gt.segments.segments(0)[:1]                                         # doctest: +SKIP
    [(3226956, 1, 31083, 0)]
    """
    typed = _typed_arrays(json_path, check_categories, areas)
    if typed is not None:
        arrays, images, cats = typed
        png = Path(png_dir) if png_dir is not None else default_png_dir(json_path)
        return PanopticArrays(Path(json_path), png, images, cats, arrays)
    anns_raw, images, cats, png = _open(json_path, png_dir)
    known = cats if check_categories else None
    arrays = _plain_arrays(anns_raw, images, known, areas)
    if arrays is None:
        arrays = _checked_arrays(anns_raw, json_path, images, known, areas)
    return PanopticArrays(Path(json_path), png, images, cats, arrays)


# --------------------------------------------------------------------------- lenient (rapkit check)


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


# --------------------------------------------------------------------------- PNG


def read_id_map(
    path: str | os.PathLike,
    *,
    image_id: Any = None,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read a panoptic PNG as an (H, W) uint32 id map (PIL); errors name file and image."""

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


__all__ = [
    "MAX_AREA",
    "PanopticArrays",
    "PanopticDataset",
    "PanopticScan",
    "SegmentArrays",
    "default_png_dir",
    "load_categories",
    "load_images",
    "load_panoptic",
    "load_panoptic_arrays",
    "read_id_map",
    "rgb2id",
    "scan_panoptic",
]
