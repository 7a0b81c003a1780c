"""COCO instances JSON (polygons, compressed and uncompressed RLE, ``iscrowd``) -> masks.

:func:`load_instances` reads and validates the whole file up front, so bad data fails before
any work starts, with an :class:`~rapkit.errors.InputError` naming the file, the image and the
annotation. :func:`decode_instances` turns one image's annotations into
:class:`~rapkit.types.InstanceMask` crops (pycocotools rasterisation, each mask cropped to its
own bounding box).

>>> ds = load_instances("instances.json")                       # doctest: +SKIP
>>> masks = decode_instances(ds.by_image[139], 426, 640)       # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import InputError
from ..types import Category, ImageInfo, InstanceMask
from .jsonio import load_json, require_list
from .panoptic import parse_categories, parse_images
from .polyfill import fill_polygons_opencv

#: how polygons are rasterised: pycocotools (rapkit's), or OpenCV's fillPoly of the
#: coordinates truncated to int (the authors' relation script; ``--matching bbox``)
POLYGON_FILLS = ("pycocotools", "opencv")


@dataclass
class InstancesDataset:
    """A validated COCO instances JSON.

    ``by_image`` maps every image id of ``images`` (in file order) to its annotation dicts
    (file order; possibly empty). ``raw`` is the parsed JSON, kept for writers that copy it.
    """

    path: Path
    images: dict[int, ImageInfo]
    categories: dict[int, Category]
    by_image: dict[int, list[dict]]
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def n_annotations(self) -> int:
        return sum(len(v) for v in self.by_image.values())


#: polygon coordinates may lie at most this many image sizes outside the image
_POLY_LIMIT = 16


def _is_int(v: Any) -> bool:
    # ``type(v) is int`` first: the JSON case, without the slow abstract-class check
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))


def _plain_polygon(poly: Any, lim: float) -> bool:
    """The JSON case of a valid polygon, checked without numpy: a list of at least 6 (an even
    number of) floats, all finite (their sum is: a NaN or an infinity makes it not) and within
    ``lim`` of the origin. False for anything else: the caller's full check then says why."""
    if type(poly) is not list or len(poly) % 2 or len(poly) < 6 or set(map(type, poly)) != {float}:
        return False
    return math.isfinite(sum(poly)) and max(poly) <= lim and -min(poly) <= lim


def validate_segmentation(
    seg: Any, height: int, width: int, *, file: Any = None, image_id: Any = None, ann_id: Any = None
) -> str:
    """Check one ``segmentation`` value; returns its kind: ``"polygons"``, ``"rle"`` or ``"urle"``.

    >>> validate_segmentation([[0, 0, 4, 0, 4, 4]], 8, 8)
    'polygons'
    """
    where = f"annotation {ann_id}: "

    def bad(msg: str) -> InputError:
        return InputError(where + msg, file=file, image_id=image_id)

    if isinstance(seg, list):
        if not seg:
            raise bad("empty segmentation (no polygon)")
        lim = _POLY_LIMIT * (max(height, width) + 1)
        if all(_plain_polygon(poly, lim) for poly in seg):
            return "polygons"
        for k, poly in enumerate(seg):  # which polygon, and what is wrong with it
            try:
                arr = np.asarray(poly) if isinstance(poly, list) else None
            except (ValueError, TypeError, OverflowError):  # ragged or nested lists
                arr = None
            if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iuf":
                raise bad(f"polygon #{k} is not a list of numbers")
            if len(poly) % 2:
                raise bad(f"polygon #{k} has an odd number of coordinates ({len(poly)})")
            if len(poly) < 6:
                raise bad(f"polygon #{k} has {len(poly) // 2} point(s); a polygon needs at least 3")
            mx, mn = float(arr.max()), float(arr.min())  # NaN and inf show in one or the other
            if arr.dtype.kind == "f" and not (math.isfinite(mx) and math.isfinite(mn)):
                raise bad(f"polygon #{k} has a non-finite coordinate")
            # pycocotools rasterises at 5x in C ints: far-out points overflow it (crash) or
            # make it allocate per unit of perimeter (out of memory)
            far = max(mx, -mn)
            if far > lim:
                raise bad(
                    f"polygon #{k} has a coordinate far outside the {width}x{height} image "
                    f"({far:g}; the limit is {lim})"
                )
        return "polygons"
    if isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) for v in size)):
            raise bad("RLE needs 'size': [height, width]")
        if [int(size[0]), int(size[1])] != [height, width]:
            raise bad(f"RLE size is {size[1]}x{size[0]} but the image is {width}x{height}")
        if isinstance(counts, list):
            plain = all(type(v) is int for v in counts)  # the JSON case, then one min
            if not ((plain and (not counts or min(counts) >= 0)) or all(_is_int(v) and v >= 0 for v in counts)):
                raise bad("uncompressed RLE 'counts' must be non-negative integers")
            total = int(sum(counts))
            if total != height * width:
                raise bad(f"uncompressed RLE covers {total} pixels but the image has {height * width}")
            return "urle"
        if isinstance(counts, (str, bytes)):
            if not counts:
                raise bad("compressed RLE with empty 'counts'")
            return "rle"
        raise bad("RLE 'counts' must be a string (compressed) or a list of integers (uncompressed)")
    raise bad("segmentation must be a list of polygons or an RLE object")


def parse_instances(data: Any, file: Any = None) -> InstancesDataset:
    """Validate a parsed COCO instances JSON (see :func:`load_instances`)."""
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        first = next((a for a in data["annotations"] if isinstance(a, dict)), None)
        if first is not None and "segments_info" in first:
            raise InputError(
                "not a COCO instances JSON: this is a panoptic JSON (annotations carry segments_info)", file=file
            )
    anns = require_list(data, "annotations", file, "instances")
    require_list(data, "images", file, "instances")
    cats_raw = require_list(data, "categories", file, "instances")
    images = parse_images(data, file)
    cats = parse_categories(cats_raw, file)
    by_image: dict[int, list[dict]] = {iid: [] for iid in images}
    seen: set[int] = set()
    for k, a in enumerate(anns):
        if not isinstance(a, dict):
            raise InputError(f"annotation #{k} is not an object", file=file)
        for key in ("id", "image_id", "category_id"):
            if not _is_int(a.get(key)):
                aid = a.get("id", f"#{k}")
                raise InputError(
                    f"annotation {aid}: needs an integer '{key}'",
                    file=file,
                    image_id=a.get("image_id") if _is_int(a.get("image_id")) else None,
                )
        aid, iid, cid = int(a["id"]), int(a["image_id"]), int(a["category_id"])
        if iid not in images:
            raise InputError(f"annotation {aid}: refers to an image that is not in 'images'", file=file, image_id=iid)
        if aid in seen:
            raise InputError(f"annotation {aid}: annotation id appears twice", file=file, image_id=iid)
        seen.add(aid)
        if cid not in cats:
            raise InputError(f"annotation {aid}: unknown category {cid}", file=file, image_id=iid)
        crowd = a.get("iscrowd", 0)
        if crowd not in (0, 1) or isinstance(crowd, float) and not float(crowd).is_integer():
            raise InputError(f"annotation {aid}: iscrowd must be 0 or 1, got {crowd!r}", file=file, image_id=iid)
        if "segmentation" not in a:
            raise InputError(f"annotation {aid}: has no 'segmentation'", file=file, image_id=iid)
        info = images[iid]
        validate_segmentation(a["segmentation"], info.height, info.width, file=file, image_id=iid, ann_id=aid)
        by_image[iid].append(a)
    return InstancesDataset(Path(file) if file is not None else Path(""), images, cats, by_image, data)


def load_instances(path: str | os.PathLike) -> InstancesDataset:
    """Load and validate a COCO instances JSON.

    Errors (exit code 3) name the file, image and annotation: malformed JSON, not COCO, an
    annotation for an unknown image or category, a duplicate annotation id, a polygon with
    fewer than 3 points, an RLE whose size differs from the image.
    """
    return parse_instances(load_json(path, "instances"), file=path)


# --------------------------------------------------------------------------- decoding


def annotation_rle(seg: Any, height: int, width: int, *, polygon_fill: str = "pycocotools") -> dict:
    """One validated ``segmentation`` -> a compressed pycocotools RLE (polygons merged).
    ``polygon_fill="opencv"``: polygons are filled as the authors' relation script filled
    them, ``cv2.fillPoly`` of the coordinates truncated to int
    (:func:`rapkit.io.polyfill.fill_polygons_opencv`); default: pycocotools' rasterisation.

    >>> annotation_rle([[0, 0, 4, 0, 4, 4, 0, 4]], 8, 8)["size"]
    [8, 8]
    >>> int(mask_utils.area(annotation_rle([[0.9, 0.9, 4.9, 0.9, 4.9, 4.9, 0.9, 4.9]], 8, 8, polygon_fill="opencv")))
    25
    """
    if polygon_fill not in POLYGON_FILLS:
        raise ValueError(f"polygon_fill must be one of {POLYGON_FILLS}, got {polygon_fill!r}")
    if isinstance(seg, list):
        if polygon_fill == "opencv":
            mask = fill_polygons_opencv(seg, height, width)
            return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        rles = mask_utils.frPyObjects(seg, height, width)
        return mask_utils.merge(rles) if len(rles) > 1 else rles[0]
    counts = seg["counts"]
    if isinstance(counts, list):
        return mask_utils.frPyObjects(seg, height, width)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [int(seg["size"][0]), int(seg["size"][1])], "counts": counts}


def _plain_polygons(seg: Any) -> bool:
    """A polygon list that pycocotools' ``frPyObjects`` reads as polygons (each an even number,
    at least 6, of coordinates) and that the numba rasteriser takes as is."""
    return type(seg) is list and all(type(p) is list and len(p) >= 6 and not len(p) % 2 for p in seg) and bool(seg)


def crop_decode(rle: dict, bbox: Sequence[float] | None = None) -> tuple[int, int, np.ndarray]:
    """Decode a compressed RLE and crop it to its bounding box: ``(x0, y0, bool mask)``.

    An empty mask gives a ``(0, 0)`` array at ``(0, 0)``.
    """
    if bbox is None:
        bbox = mask_utils.toBbox(rle)
    x, y, w, h = (int(round(float(v))) for v in bbox)
    if w <= 0 or h <= 0:
        return 0, 0, np.zeros((0, 0), dtype=bool)
    full = mask_utils.decode(rle)  # (H, W) uint8, Fortran order
    crop = np.ascontiguousarray(full[y : y + h, x : x + w]).view(bool)
    return x, y, crop


def decode_instances(
    anns: Sequence[dict],
    height: int,
    width: int,
    *,
    file: Any = None,
    image_id: Any = None,
    validate: bool = False,
    fast: bool = True,
    polygon_fill: str = "pycocotools",
) -> list[InstanceMask]:
    """Decode one image's annotation dicts into :class:`InstanceMask` crops (input order).

    ``fast=True``: polygons are rasterised by a numba kernel that follows pycocotools' rule
    bit for bit (:func:`rapkit.kernels.polygon.decode_polygons`), uncompressed RLE is
    converted by pycocotools, and all RLE masks of the image are decoded in one numba pass
    straight into their box crops (:func:`rapkit.kernels.rle.decode_rles`). ``fast=False``
    converts everything with pycocotools (``frPyObjects``, ``merge``), decodes each mask
    full-image and crops it (same result).
    ``validate=True`` re-checks each segmentation (for annotations that did not come through
    :func:`load_instances`). ``polygon_fill="opencv"`` fills polygons as the authors' relation
    script did (:func:`annotation_rle`; ``--matching bbox``).

    >>> ms = decode_instances([{"id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]}], 8, 8)
    >>> (ms[0].x0, ms[0].y0, ms[0].mask.shape)
    (0, 0, (4, 4))
    """
    if fast:
        sets, where = _decode_sets(anns, height, width, file, image_id, validate, polygon_fill)
        out: list[InstanceMask] = []
        for a, (s, k) in zip(anns, where):
            boxes, areas, offs, flat, _ = sets[s]
            x0, x1, y0, y1 = (int(v) for v in boxes[k])
            crop = flat[offs[k] : offs[k + 1]].reshape(x1 - x0, y1 - y0).T
            mask = np.ascontiguousarray(crop).view(bool) if crop.size else np.zeros((0, 0), bool)
            out.append(
                InstanceMask(int(a["id"]), int(a["category_id"]), int(a.get("iscrowd", 0)), x0, y0, mask, int(areas[k]))
            )
        return out
    rles = [_rle_of(a, height, width, file, image_id, validate, polygon_fill) for a in anns]
    out = []
    for a, rle in zip(anns, rles):
        try:
            x0, y0, crop = crop_decode(rle)
            area = int(mask_utils.area(rle))
        except (ValueError, TypeError) as e:
            raise InputError(
                f"annotation {a.get('id')}: cannot decode segmentation: {e}", file=file, image_id=image_id
            ) from None
        if int(np.count_nonzero(crop)) != area:
            raise InputError(f"annotation {a.get('id')}: malformed RLE counts", file=file, image_id=image_id)
        out.append(InstanceMask(int(a["id"]), int(a["category_id"]), int(a.get("iscrowd", 0)), x0, y0, crop, area))
    return out


def _rle_of(a: dict, height: int, width: int, file: Any, image_id: Any, validate: bool, polygon_fill: str) -> dict:
    seg = a["segmentation"]
    if validate:
        validate_segmentation(seg, height, width, file=file, image_id=image_id, ann_id=a.get("id"))
    try:
        return annotation_rle(seg, height, width, polygon_fill=polygon_fill)
    except (ValueError, TypeError, UnicodeEncodeError) as e:
        raise InputError(
            f"annotation {a.get('id')}: cannot decode segmentation: {e}", file=file, image_id=image_id
        ) from None


def _decode_sets(
    anns: Sequence[dict], height: int, width: int, file: Any, image_id: Any, validate: bool, polygon_fill: str
) -> tuple[list[tuple], list[tuple[int, int]]]:
    """Decode one image's annotations in at most two numba calls: the decoded sets (``(boxes
    [x0, x1, y0, y1), areas, offsets, flat x-major, status)``) and, per annotation, ``(set,
    index)``. Polygons (pycocotools' rule) go to :func:`rapkit.kernels.polygon.decode_polygons`,
    everything else through pycocotools' compressed RLE to
    :func:`rapkit.kernels.rle.decode_rles`. Errors name the first bad annotation."""
    from ..kernels.polygon import decode_polygons, pack_polygons
    from ..kernels.rle import decode_rles

    polys: list[list] = []
    counts: list = []
    where: list[tuple[int, int]] = []
    for a in anns:
        seg = a["segmentation"]
        if polygon_fill == "pycocotools" and _plain_polygons(seg):
            if validate:
                validate_segmentation(seg, height, width, file=file, image_id=image_id, ann_id=a.get("id"))
            where.append((0, len(polys)))
            polys.append(seg)
        else:
            where.append((1, len(counts)))
            counts.append(_rle_of(a, height, width, file, image_id, validate, polygon_fill)["counts"])
    empty = (np.zeros((0, 4), np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.uint8),
             np.zeros(0, np.int64))  # fmt: skip
    sets = [empty, empty]
    if polys:
        try:
            sets[0] = decode_polygons(*pack_polygons(polys), height, width, check=False)
        except (ValueError, TypeError) as e:  # unchecked input: pycocotools names the annotation
            for a, (s, _) in zip(anns, where):
                if s == 0:
                    try:
                        one = pack_polygons([a["segmentation"]])
                    except (ValueError, TypeError):
                        one = None  # not numbers: pycocotools names it just below
                    if one is not None:
                        try:  # first: pycocotools would spin for seconds on a NaN (cast to INT_MIN)
                            decode_polygons(*one, height, width, check=False)
                        except ValueError as e2:  # a non-finite or far coordinate (load_instances refuses both)
                            raise InputError(
                                f"annotation {a.get('id')}: cannot decode segmentation: {e2}",
                                file=file,
                                image_id=image_id,
                            ) from None
                    _rle_of(a, height, width, file, image_id, False, polygon_fill)
            raise InputError(f"cannot decode segmentation: {e}", file=file, image_id=image_id) from None
    if counts:
        sets[1] = decode_rles(counts, height, width)
    for a, (s, k) in zip(anns, where):
        st = sets[s][4][k]
        if st != 0:
            why = "malformed RLE counts" if st == 1 else "RLE runs do not cover the image exactly"
            raise InputError(f"annotation {a.get('id')}: {why}", file=file, image_id=image_id)
    return sets, where


def decode_instances_packed(
    anns: Sequence[dict],
    height: int,
    width: int,
    keep: Sequence[bool],
    *,
    file: Any = None,
    image_id: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decode_instances` (fast, pycocotools' polygon rule) of the annotations with
    ``keep`` true, packed as :func:`rapkit.core.relations.pack_masks` packs masks:
    ``(boxes (N, 4) int64 [x0, y0, x1, y1), offsets (N + 1,), flat uint8 row-major crops,
    areas (N,))``. Every annotation is decoded (a bad one raises as there).

    >>> anns = [{"id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]}]
    >>> boxes, offsets, flat, areas = decode_instances_packed(anns, 8, 8, [True])
    >>> boxes.tolist(), areas.tolist()
    ([[0, 0, 4, 4]], [16])
    """
    from ..kernels.polygon import gather_rows

    sets, where = _decode_sets(anns, height, width, file, image_id, False, "pycocotools")
    sel = [w for w, k in zip(where, keep) if k]
    src = np.array([s for s, _ in sel], np.int64)
    idx = np.array([i for _, i in sel], np.int64)
    boxes, offsets, flat = gather_rows(sets[0], sets[1], src, idx, check=False)
    areas = np.array([sets[s][1][i] for s, i in sel], np.int64)
    return boxes, offsets, flat, areas


def full_mask(m: InstanceMask, height: int, width: int) -> np.ndarray:
    """Paste an :class:`InstanceMask` crop into a full ``(height, width)`` bool mask."""
    out = np.zeros((height, width), dtype=bool)
    h, w = m.mask.shape
    out[m.y0 : m.y0 + h, m.x0 : m.x0 + w] = m.mask
    return out


__all__ = [
    "InstancesDataset",
    "load_instances",
    "parse_instances",
    "validate_segmentation",
    "annotation_rle",
    "crop_decode",
    "decode_instances",
    "decode_instances_packed",
    "full_mask",
]
