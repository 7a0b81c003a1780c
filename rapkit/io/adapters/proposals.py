"""Proposals from arrays: :class:`ProposalWriter` streams one image's masks, scores,
labels and relation values at a time into the COCO results JSON that ``rapkit fuse`` and
``rapkit predict --proposals`` read (RLE masks, pycocotools).

>>> with ProposalWriter("proposals.json", label_map="coco80") as w:          # doctest: +SKIP
...     w.add(139, masks, scores, labels, relations=values)                 # masks: (N, H, W) bool
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from ...errors import ConfigError, InputError
from .._atomic import atomic_path
from ..jsonio import dumps
from .images import _categories, _images
from .labels import LabelMapLike, _describe, _first, _is_int, map_labels, resolve_label_map


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


class ProposalWriter:
    """Stream one image's proposals at a time into a COCO results JSON (RLE masks).

    ``label_map`` turns the model's labels into category ids (:mod:`rapkit.io.adapters.labels`);
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


__all__ = ["ProposalWriter"]
