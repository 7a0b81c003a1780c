"""Semantic predictions for fusion: a folder of PNG label maps or a COCO-stuff results JSON.

* **PNG folder**: one single-channel (L, P, I;16 or I) PNG per image, named like the image
  with ``.png`` (``000000000139.jpg`` -> ``000000000139.png``); pixel = dataset category id,
  0 and 255 = void. Thing ids are allowed (fusion ignores them).
* **COCO-stuff results JSON**: ``[{image_id, category_id, segmentation: RLE}]``, one RLE per
  class per image; painted in file order (a later entry wins where two overlap); pixels no
  entry covers are void (0).

Errors (exit 3) name the file and image: a PNG of the wrong size, a label that is not a
category id (nor 0/255), a missing PNG, an RLE of the wrong size, an unknown category or an
image that is not in the image list.

>>> src = open_semantic("semantic/", images, categories)   # doctest: +SKIP
>>> label_map = read_semantic(src.item(139), images[139], src.known)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_utils

from ..errors import InputError
from ..types import Category, ImageInfo
from .folders import file_stem
from .jsonio import load_json
from .png import _inflate, parse_png, read_gray8_fast


@dataclass
class SemanticSource:
    """Where each image's semantic map comes from; :meth:`item` is small and picklable."""

    path: Path
    kind: str  # "png" or "json"
    known: np.ndarray  # (256,) bool: label values allowed in a map (categories + void)
    rles: dict[int, list[tuple[int, dict]]] | None = None

    def __post_init__(self) -> None:
        self._dir = str(self.path)

    def item(self, info: ImageInfo) -> tuple:
        """A picklable description of one image's map for :func:`read_semantic`."""
        if self.kind == "png":  # str(self.path / (Path(file_name).stem + ".png")), no Path per image
            return ("png", os.path.join(self._dir, file_stem(info.file_name) + ".png"))
        return ("json", str(self.path), (self.rles or {}).get(info.id, []))


def known_labels(categories: Mapping[int, Category]) -> np.ndarray:
    """(256,) bool table of the label values a semantic map may hold.

    >>> known_labels({187: Category(187, "sky", False)})[[0, 187, 255, 1]].tolist()
    [True, True, True, False]
    """
    t = np.zeros(256, bool)
    t[0] = t[255] = True
    for cid in categories:
        if 0 <= int(cid) < 256:
            t[int(cid)] = True
    return t


def open_semantic(
    path: str | os.PathLike, images: Mapping[int, ImageInfo], categories: Mapping[int, Category]
) -> SemanticSource:
    """Open a semantic source (folder of PNGs or COCO-stuff JSON) and validate what can be
    checked up front (for JSON: every entry).

    >>> src = open_semantic("world/semantic", images, categories)   # doctest: +SKIP
    """
    p = Path(path)
    known = known_labels(categories)
    if p.is_dir():
        return SemanticSource(p, "png", known)
    if not p.exists():
        raise InputError("semantic input not found (expected a folder of PNGs or a COCO-stuff JSON)", file=p)
    raw = load_json(p, "semantic")
    if isinstance(raw, dict) and isinstance(raw.get("annotations"), list):
        raw = raw["annotations"]
    if not isinstance(raw, list):
        raise InputError(
            "semantic JSON must be a COCO-stuff results list of {image_id, category_id, segmentation}", file=p
        )
    rles: dict[int, list[tuple[int, dict]]] = {}
    for k, a in enumerate(raw):
        if not isinstance(a, dict):
            raise InputError(f"entry #{k} is not an object", file=p)
        try:
            iid = int(a["image_id"])
            cid = int(a["category_id"])
            seg = a["segmentation"]
            size = [int(v) for v in seg["size"]]
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InputError(f"entry #{k} needs image_id, category_id and an RLE segmentation", file=p) from None
        if iid not in images:
            raise InputError(f"entry #{k} is for an image that is not in the image list", file=p, image_id=iid)
        if not (0 <= cid < 256 and known[cid]) or cid in (0, 255):
            raise InputError(f"entry #{k}: unknown category {cid}", file=p, image_id=iid)
        info = images[iid]
        if size != [info.height, info.width]:
            raise InputError(
                f"entry #{k}: RLE size {size} differs from the image size [{info.height}, {info.width}]",
                file=p,
                image_id=iid,
            )
        rles.setdefault(iid, []).append((cid, {"size": size, "counts": seg["counts"]}))
    return SemanticSource(p, "json", known, rles)


def read_semantic(item: tuple, info: ImageInfo, known: np.ndarray) -> np.ndarray:
    """One image's (H, W) uint8 label map from a :meth:`SemanticSource.item`.

    >>> label_map = read_semantic(src.item(images[139]), images[139], src.known)   # doctest: +SKIP
    """
    if item[0] == "png":
        return _read_png(Path(item[1]), info, known)

    out = np.zeros((info.height, info.width), np.uint8)
    for cid, seg in item[2]:
        rle = seg
        if isinstance(seg["counts"], list):
            rle = mask_utils.frPyObjects(seg, info.height, info.width)
        elif isinstance(seg["counts"], str):
            rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
        try:
            m = mask_utils.decode(rle).astype(bool)
        except Exception as e:  # pycocotools raises bare exceptions
            raise InputError(f"cannot decode the RLE of category {cid}: {e}", file=item[1], image_id=info.id) from None
        out[m] = cid
    return out


def _read_file(path: str) -> bytes:
    """The bytes of a file (its system calls release the GIL; benchmarks/_gil_probe.py times it)."""
    with open(path, "rb") as f:
        return f.read()


def read_semantic_rows(item: tuple, info: ImageInfo) -> np.ndarray | None:
    """The inflated (still filtered) rows of a semantic PNG item when it is an 8-bit
    grayscale PNG of the image's size (read-only uint8, for
    :func:`rapkit.kernels.fuse_image.fuse_packed` to decode and check); None for anything
    else (a JSON item, another format or size, a file that cannot be read or inflated): then
    :func:`read_semantic` reads it and reports any problem precisely.

    >>> rows = read_semantic_rows(src.item(images[139]), images[139])   # doctest: +SKIP
    """
    if item[0] != "png":
        return None
    try:
        data = _read_file(item[1])
    except OSError:
        return None
    png = parse_png(data)
    if png is None or not png.gray8 or png.width != info.width or png.height != info.height:
        return None
    return _inflate(png)


def _read_png(p: Path, info: ImageInfo, known: np.ndarray) -> np.ndarray:
    fast = read_gray8_fast(p)  # 8-bit grayscale (the usual label map): libdeflate + numba
    if fast is not None:
        return _checked(fast[0], fast[1], p, info, known)
    return _read_png_pil(p, info, known)


def _read_png_pil(p: Path, info: ImageInfo, known: np.ndarray) -> np.ndarray:
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            arr = np.asarray(im)
            # 8-bit maps: PIL's C histogram of the pixel values (palette indices for P)
            hist = np.asarray(im.histogram(), np.int64) if mode in ("L", "P") else None
    except FileNotFoundError:
        raise InputError("semantic PNG not found", file=p, image_id=info.id) from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise InputError(f"cannot decode semantic PNG: {e}", file=p, image_id=info.id) from None
    if arr.ndim != 2:
        raise InputError(f"semantic PNG must be a single-channel label map, got mode {mode}", file=p, image_id=info.id)
    if arr.shape != (info.height, info.width):
        raise InputError(
            f"semantic PNG is {arr.shape[1]}x{arr.shape[0]} but the image is {info.width}x{info.height}",
            file=p,
            image_id=info.id,
        )
    if arr.dtype != np.uint8:
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
            bad = int(arr.max()) if int(arr.max()) > 255 else int(arr.min())
            raise InputError(f"semantic PNG holds label {bad}, which is not a category id", file=p, image_id=info.id)
        arr = arr.astype(np.uint8)
    if hist is None or hist.shape[0] != 256:
        hist = np.bincount(arr.ravel(), minlength=256)
    return _checked(arr, hist, p, info, known)


def _checked(arr: np.ndarray, hist: np.ndarray, p: Path, info: ImageInfo, known: np.ndarray) -> np.ndarray:
    """``arr`` (2-D uint8, value histogram ``hist``) after the size and label checks."""
    if arr.shape != (info.height, info.width):
        raise InputError(
            f"semantic PNG is {arr.shape[1]}x{arr.shape[0]} but the image is {info.width}x{info.height}",
            file=p,
            image_id=info.id,
        )
    present = hist > 0
    bad = np.nonzero(present & ~known)[0]
    if bad.size:
        raise InputError(
            f"semantic PNG holds label(s) {', '.join(str(int(v)) for v in bad[:5])}, "
            "not category ids (0 and 255 are void)",
            file=p,
            image_id=info.id,
        )
    return np.ascontiguousarray(arr)
