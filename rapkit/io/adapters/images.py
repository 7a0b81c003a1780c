"""The image list (``--image-info``) and categories: writing them, and reading them from
the forms the writers accept (dicts, :class:`~rapkit.types.ImageInfo` / ``Category``
objects, tuples, files).

>>> write_image_info("images.json", [(139, "000000000139.jpg", 426, 640)], force=True)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ...errors import ConfigError, InputError
from ...types import Category, ImageInfo
from .._atomic import write_bytes_atomic
from ..jsonio import dumps
from ..panoptic import load_categories, parse_categories, parse_images


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


__all__ = ["write_image_info"]
