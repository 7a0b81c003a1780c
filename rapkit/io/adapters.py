"""Write rapkit's inputs from arrays: proposals JSON, semantic PNGs and the image list.

For models run outside rapkit (detectron2, mmdetection, torchvision, your own): per image,
pass the arrays the model returns and get the files ``rapkit fuse``, ``rapkit evaluate``
and ``rapkit predict --proposals`` read. The arrays are checked as strictly as the readers
(:mod:`rapkit.io.proposals`, :mod:`rapkit.io.semantic`) check the files, and earlier: a
bad array raises :class:`~rapkit.errors.InputError` naming the image and the index, and
nothing of it is written. Outputs go through :mod:`rapkit.io._atomic` (a temporary sibling
renamed when complete; no overwrite without ``force``).

* :class:`ProposalWriter` — one image at a time (``add``): masks N x H x W (bool, or uint8
  holding 0/1), scores, labels, optional relation values -> RLE (pycocotools), streamed to a
  COCO results JSON ``[{image_id, category_id, bbox, score, segmentation, relation?}]``.
* :func:`write_semantic_png` — an H x W label map or C x H x W logits (argmax) -> an 8-bit
  PNG of category ids (0 = void).
* :func:`write_image_info` — the ``images`` list (``--image-info``), optionally with
  ``categories`` (then also usable as ``--categories``).

**Label maps** (``label_map=``) turn a model's labels into dataset category ids:

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

>>> with ProposalWriter("proposals.json", label_map="coco80") as w:          # doctest: +SKIP
...     w.add(139, masks, scores, labels, relations=values)                 # masks: (N, H, W) bool
>>> write_semantic_png("semantic/000000000139.png", logits, label_map=stuff_ids)  # doctest: +SKIP
>>> write_image_info("images.json", [{"id": 139, "file_name": "000000000139.jpg", "height": 426, "width": 640}])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from ..types import Category, ImageInfo
from ._atomic import atomic_path, write_bytes_atomic
from .jsonio import dumps
from .panoptic import load_categories, parse_categories, parse_images
from .semantic import known_labels

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


def _categories(categories: Any) -> dict[int, Category] | None:
    if categories is None:
        return None
    if isinstance(categories, (str, os.PathLike)):
        return load_categories(categories)
    if isinstance(categories, Mapping):
        if all(isinstance(v, Category) for v in categories.values()):
            return {int(k): v for k, v in categories.items()}
        raise ConfigError("categories must map id -> Category, or be a list of COCO category dicts or a file")
    items = list(categories)
    if all(isinstance(c, Category) for c in items):
        return {c.id: c for c in items}
    return parse_categories(items)


def _images(images: Any) -> dict[int, ImageInfo] | None:
    if images is None:
        return None
    if isinstance(images, Mapping) and all(isinstance(v, ImageInfo) for v in images.values()):
        return dict(images)
    items = list(images.values()) if isinstance(images, Mapping) else list(images)
    return parse_images({"images": [_image_dict(i) for i in items]})


def _image_dict(i: Any) -> Any:
    if isinstance(i, ImageInfo):
        return {"id": i.id, "file_name": i.file_name, "height": i.height, "width": i.width}
    if isinstance(i, (tuple, list)) and len(i) == 4:
        return {"id": i[0], "file_name": i[1], "height": i[2], "width": i[3]}
    return i


def _vector(x: Any, n: int, name: str, iid: Any, file: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 0 or a.ndim > 1 and not (a.ndim == 2 and a.shape[1] == 1):
        raise InputError(
            f"{name} must be a vector of {n} values (one per mask), got shape {a.shape}", file=file, image_id=iid
        )
    a = a.reshape(-1)
    if a.shape[0] != n:
        raise InputError(f"{name} has {a.shape[0]} values but there are {n} masks", file=file, image_id=iid)
    if a.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numbers, got dtype {a.dtype}", file=file, image_id=iid)
    return a


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


# --------------------------------------------------------------------------- proposals


class ProposalWriter:
    """Stream one image's proposals at a time into a COCO results JSON (RLE masks).

    ``label_map`` turns the model's labels into category ids (module docstring);
    ``categories`` (``{id: Category}``, a list of COCO category dicts or a categories/COCO
    JSON path) makes every mapped id be checked as a known *thing* category, as ``rapkit
    fuse`` will; ``images`` (``{id: ImageInfo}`` or a list of COCO image dicts) checks each
    image's id and size against the image list. The file appears at ``path`` when the writer
    is closed (``with`` block or :meth:`close`); an exception inside the ``with`` block, or
    :meth:`abort`, leaves nothing (and an existing file as it was).

    A failing :meth:`add` raises :class:`InputError` naming the image and the index and
    writes nothing of that image; outside a ``with`` block the writer stays usable.

    >>> import numpy as np
    >>> with ProposalWriter("props.json", force=True) as w:                    # doctest: +SKIP
    ...     w.add(1, np.ones((1, 4, 4), bool), [0.9], [1], relations=[0.3])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        label_map: LabelMapLike = None,
        force: bool = False,
        *,
        categories: Any = None,
        images: Any = None,
    ) -> None:
        self.path = Path(path)
        self.label_map = label_map
        self._lmap = resolve_label_map(label_map)
        self._cats = _categories(categories)
        self._images = _images(images)
        self._seen: set[int] = set()
        self.n_images = 0
        self.n_proposals = 0
        self._cm = atomic_path(self.path, force)
        self._tmp = self._cm.__enter__()
        try:
            self._f = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
            self._f.write(b"[")
        except BaseException as e:
            self._cm.__exit__(type(e), e, e.__traceback__)
            raise
        self._open = True

    # -- context manager
    def __enter__(self) -> ProposalWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort(exc_type, exc, tb)

    @property
    def closed(self) -> bool:
        return not self._open

    def add(
        self,
        image_id: int,
        masks: Any,
        scores: Any,
        labels: Any,
        relations: Any = None,
        height: int | None = None,
        width: int | None = None,
    ) -> int:
        """Validate and append one image's proposals; returns how many were written.

        ``masks``: (N, H, W) bool, or uint8 holding 0/1 (convert torch tensors with
        ``.cpu().numpy()``; torchvision's (N, 1, H, W) probabilities: ``masks[:, 0] > 0.5``);
        ``scores``: N numbers in [0, 1]; ``labels``: N integer labels (mapped through
        ``label_map``); ``relations``: N finite relation values or ``None``. ``height`` and
        ``width`` are checked against the masks (and give the size when N = 0 and ``masks``
        is empty). An image may be added once.
        """
        if not self._open:
            raise ConfigError(f"{self.path}: the ProposalWriter is closed")
        file = self.path
        if not _is_int(image_id):
            raise InputError(f"image_id must be an integer, got {image_id!r}", file=file)
        iid = int(image_id)
        if iid in self._seen:
            raise InputError("image added twice to the ProposalWriter", file=file, image_id=iid)
        info = None
        if self._images is not None:
            info = self._images.get(iid)
            if info is None:
                raise InputError("image is not in the image list", file=file, image_id=iid)
        m = np.asarray(masks)
        if m.ndim != 3:
            hint = (
                " (torchvision's N x 1 x H x W mask probabilities: pass masks[:, 0] > 0.5)"
                if m.ndim == 4 and m.shape[1] == 1
                else ""
            )
            raise InputError(f"masks must be N x H x W, got shape {m.shape}{hint}", file=file, image_id=iid)
        n, h, w = (int(v) for v in m.shape)
        if n == 0 and (h == 0 or w == 0):
            h = int(height) if height is not None else (info.height if info else 0)
            w = int(width) if width is not None else (info.width if info else 0)
        if height is not None and int(height) != h or width is not None and int(width) != w:
            raise InputError(
                f"masks are {w}x{h} but height x width is given as {width}x{height}", file=file, image_id=iid
            )
        if info is not None and (h, w) != (info.height, info.width):
            raise InputError(
                f"masks are {w}x{h} but the image is {info.width}x{info.height} in the image list",
                file=file,
                image_id=iid,
            )
        if h <= 0 or w <= 0:
            raise InputError(
                f"masks have no pixels ({w}x{h}); give height and width for an image without proposals",
                file=file,
                image_id=iid,
            )
        if m.dtype == np.uint8:
            bad = (m > 1).reshape(n, -1).any(axis=1)
            if bad.any():
                raise InputError(
                    f"masks[{_first(bad)}] holds values other than 0 and 1 (uint8 masks are 0/1; "
                    "threshold probabilities first, e.g. masks > 0.5)",
                    file=file,
                    image_id=iid,
                )
        elif m.dtype != np.bool_:
            raise InputError(
                f"masks must be bool or uint8 (0/1), got {m.dtype}; threshold probabilities first, e.g. masks > 0.5",
                file=file,
                image_id=iid,
            )
        s = _vector(scores, n, "scores", iid, file).astype(np.float64)
        nan = np.isnan(s)
        if nan.any():
            raise InputError(f"scores[{_first(nan)}] is NaN", file=file, image_id=iid)
        out = (s < 0.0) | (s > 1.0)
        if out.any():
            k = _first(out)
            raise InputError(f"scores[{k}] = {float(s[k])!r} is outside [0, 1]", file=file, image_id=iid)
        lab = _vector(labels, n, "labels", iid, file)
        cids = map_labels(lab, self._lmap, iid=iid, file=file, describe=_describe(self.label_map))
        if self._cats is not None:
            for k, c in enumerate(cids.tolist()):
                cat = self._cats.get(c)
                if cat is None:
                    raise InputError(
                        f"labels[{k}] = {int(lab[k])} maps to category {c}, which is not in the categories",
                        file=file,
                        image_id=iid,
                    )
                if not cat.isthing:
                    raise InputError(
                        f"labels[{k}] = {int(lab[k])} maps to category {c} ({cat.name}), a stuff category, not a thing",
                        file=file,
                        image_id=iid,
                    )
        rel = None
        if relations is not None:
            rel = _vector(relations, n, "relations", iid, file).astype(np.float64)
            bad = ~np.isfinite(rel)
            if bad.any():
                k = _first(bad)
                raise InputError(
                    f"relations[{k}] = {float(rel[k])!r} is not a finite number (pass relations=None for none)",
                    file=file,
                    image_id=iid,
                )
        # everything checked: encode and write this image
        from pycocotools import mask as mask_utils

        parts = []
        if n:
            rles = mask_utils.encode(np.asfortranarray(m.transpose(1, 2, 0).astype(np.uint8, copy=False)))
            boxes = mask_utils.toBbox(rles)
            for k in range(n):
                d: dict[str, Any] = {
                    "image_id": iid,
                    "category_id": int(cids[k]),
                    "bbox": [float(v) for v in boxes[k]],
                    "score": float(s[k]),
                    "segmentation": {"size": [h, w], "counts": rles[k]["counts"].decode("ascii")},
                }
                if rel is not None:
                    d["relation"] = float(rel[k])
                parts.append(dumps(d))
        if parts:
            sep = b",\n" if self.n_proposals else b"\n"
            self._f.write(sep + b",\n".join(parts))
        self._seen.add(iid)
        self.n_images += 1
        self.n_proposals += n
        return n

    def close(self) -> Path:
        """Finish the JSON and put it in place (idempotent); returns the path."""
        if not self._open:
            return self.path
        self._open = False
        try:
            self._f.write(b"\n]\n" if self.n_proposals else b"]\n")
            self._f.close()
        except BaseException as e:
            self._f.close()
            self._cm.__exit__(type(e), e, e.__traceback__)
            raise
        self._cm.__exit__(None, None, None)
        return self.path

    def __del__(self) -> None:  # never closed (no ``with``, no close()): leave nothing behind
        if getattr(self, "_open", False):
            with contextlib.suppress(Exception):
                self.abort()

    def abort(self) -> None:
        """Drop everything written (no file at ``path``; an old one stays as it was)."""
        err = RuntimeError("ProposalWriter aborted")
        self._abort(RuntimeError, err, None)

    def _abort(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._open:
            return
        self._open = False
        self._f.close()
        try:
            self._cm.__exit__(exc_type, exc, tb)
        except BaseException as e:  # the context manager re-raises what it was given
            if e is not exc:
                raise


# --------------------------------------------------------------------------- semantic


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
    class indices) to category ids (module docstring; an entry 0 = void); ``None``: the values
    are category ids already, 0 and 255 void. ``categories`` checks every id against the
    categories (thing ids are allowed, fusion ignores them); ``height``/``width`` against the
    map. ``image_id`` names the image in errors (default: the file's stem).

    >>> write_semantic_png("semantic/000000000139.png", np.full((4, 6), 187, np.uint8), force=True)   # doctest: +SKIP
    """
    from .world import encode_png_labels

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


# --------------------------------------------------------------------------- image list


def write_image_info(
    path: str | os.PathLike, images: Iterable[Any], *, categories: Any = None, force: bool = False
) -> Path:
    """Write the image list (``--image-info``): ``{"images": [{id, file_name, height, width}]}``,
    plus ``categories`` (COCO panoptic category dicts, ``Category`` objects or a file) when
    given, so the same file also serves as ``--categories``.

    ``images``: dicts, :class:`~rapkit.types.ImageInfo` or ``(id, file_name, height, width)``
    tuples; checked as ``rapkit fuse`` reads them (integer ids, positive sizes, no id twice),
    and file names must be unique (they name the output PNGs).

    >>> write_image_info("images.json", [(139, "000000000139.jpg", 426, 640)], force=True)   # doctest: +SKIP
    """
    entries = [_image_dict(i) for i in images]
    parsed = parse_images({"images": entries}, file=path)
    seen: dict[str, int] = {}
    for info in parsed.values():
        if not info.file_name:
            raise InputError("image has no file_name", file=path, image_id=info.id)
        stem = Path(info.file_name).stem
        if stem in seen:
            raise InputError(
                f"file name {info.file_name!r} has the stem of image {seen[stem]}'s (the PNGs would clash)",
                file=path,
                image_id=info.id,
            )
        seen[stem] = info.id
    doc: dict[str, Any] = {
        "images": [
            {"id": i.id, "file_name": i.file_name, "height": i.height, "width": i.width} for i in parsed.values()
        ]
    }
    cats = _categories(categories)
    if cats is not None:
        doc["categories"] = [c.to_json() for c in cats.values()]
    return write_bytes_atomic(path, dumps(doc, indent=1), force)


__all__ = [
    "BUILTIN_LABEL_MAPS",
    "COCO80",
    "ProposalWriter",
    "contiguous_label_map",
    "map_labels",
    "resolve_label_map",
    "semantic_png_name",
    "write_image_info",
    "write_semantic_png",
]
