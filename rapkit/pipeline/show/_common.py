"""What the ``rapkit show`` kinds share: the result, the image selection, picture names,
image files, categories and the run (a thread pool into an output folder that appears only
when complete)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._runtime.pool import imap_ordered, resolve_workers
from ...errors import ConfigError, InputError, RapkitError
from ...io._atomic import atomic_path
from ...io.panoptic import load_categories
from ...io.pictures import image_file, read_image
from ...types import Category, ImageInfo
from ...viz.draw import grey_image

Notify = Callable[[str], None]


@dataclass
class ShowResult:
    """What a show run wrote: one entry per picture (``image_id``, ``path`` and per-kind
    extras such as ``pq_a``/``pq_b``/``dpq`` for ``compare --top``), and how many images
    were drawn on a grey background because their file was missing."""

    kind: str
    output: str
    pictures: list[dict[str, Any]] = field(default_factory=list)
    missing_images: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The pictures written (with their per-kind extras), as plain data."""
        return {
            "picture": self.kind,
            "output": self.output,
            "pictures": self.pictures,
            "missing_images": self.missing_images,
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------- selection


def select_images(
    available: Sequence[int], ids: Sequence[int] | None = None, first: int | None = None, *, file: Any = None
) -> list[int]:
    """The images to draw: ``ids`` (in the order given; each must be in ``available``),
    else every available image, then cut to the ``first`` ones.

    >>> select_images([1, 2, 3], first=2), select_images([1, 2, 3], ids=[3, 1])
    ([1, 2], [3, 1])
    """
    avail = list(available)
    if ids is not None:
        known = set(avail)
        for i in ids:
            if i not in known:
                raise InputError("image id given with --ids is not in this file", file=file, image_id=i)
        chosen = list(dict.fromkeys(ids))
    else:
        chosen = avail
    if first is not None:
        chosen = chosen[:first]
    return chosen


def picture_name(info: ImageInfo) -> str:
    stem = Path(info.file_name).stem if info.file_name else ""
    return (stem or (info.id if isinstance(info.id, str) else f"{info.id:012d}")) + ".png"


def unique_names(infos: Sequence[ImageInfo], file: Any) -> list[str]:
    names = [picture_name(i) for i in infos]
    seen: dict[str, int] = {}
    for info, n in zip(infos, names):
        if n in seen:
            raise InputError(
                f"images {seen[n]} and {info.id} map to the same picture name {n}", file=file, image_id=info.id
            )
        seen[n] = info.id
    return names


def image_sources(images_dir: Any, infos: Sequence[ImageInfo], notify: Notify | None) -> tuple[list[str | None], int]:
    """The image file of each image (None = draw on grey); says once how many are missing."""
    if images_dir is not None and not Path(images_dir).is_dir():
        raise InputError("image folder not found (--images)", file=images_dir)
    paths = [image_file(images_dir, i) for i in infos]
    missing = [i for i, p in zip(infos, paths) if p is None]
    if missing and notify is not None:
        if images_dir is None:
            notify("no --images folder: pictures are drawn on a grey background")
        else:
            ex = missing[0].file_name or f"image {missing[0].id}"
            notify(
                f"{len(missing)} of {len(infos)} images not found under {images_dir} (e.g. {ex}): "
                "drawn on a grey background"
            )
    return [str(p) if p is not None else None for p in paths], len(missing)


def base_image(path: str | None, shape: tuple[int, int], size: tuple[int, int], image_id: int) -> np.ndarray:
    if path is None:
        return grey_image(size)
    return read_image(path, image_id=image_id, size=size, expect=shape)


def pick_categories(explicit: str | os.PathLike | None, *fallbacks: Mapping[int, Category]) -> dict[int, Category]:
    if explicit is not None:
        return load_categories(explicit)
    for f in fallbacks:
        if f:
            return dict(f)
    raise InputError("no categories: the panoptic JSON has no 'categories'; pass --categories C.json")


def image_infos(ds: Any) -> dict[int, ImageInfo]:
    """ImageInfo of every annotated image (from ``images`` where listed; else the PNG name,
    size read from the PNG)."""
    out = {}
    for iid, ann in ds.annotations.items():
        info = ds.images.get(iid)
        out[iid] = info if info is not None else ImageInfo(iid, ann.file_name, 0, 0)
    return out


def segments_of(ann: Any) -> dict[int, int]:
    return {int(s.id): int(s.category_id) for s in ann.segments}


def check_png_dir(ds: Any) -> None:
    if not ds.png_dir.is_dir():
        raise InputError(
            "panoptic PNG folder not found (default: the JSON's name without .json; pass --panoptic-dir)",
            file=ds.png_dir,
        )


def run_tasks(
    kind: str,
    output: Any,
    force: bool,
    tasks: list[tuple],
    fn: Callable,
    workers: int,
    progress: Callable[[int], None] | None,
    missing: int,
    t0: float,
    file: Any,
) -> ShowResult:
    workers = min(resolve_workers(workers), max(1, len(tasks)))
    res = ShowResult(kind, str(output), missing_images=missing)
    with atomic_path(output, force, directory=True) as tmp:
        full = [(*t, str(tmp)) for t in tasks]
        try:
            for rec in imap_ordered(fn, full, workers, on_result=(lambda r: progress(1)) if progress else None):
                rec["path"] = str(Path(output) / rec.pop("name"))
                res.pictures.append(rec)
        except RapkitError as e:
            raise e.with_context(file=file)
    res.seconds = time.perf_counter() - t0
    return res


def check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha}")


__all__ = ["ShowResult", "select_images", "Notify"]
