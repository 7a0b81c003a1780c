"""Reading the RGB images a detector runs on (JPEG/PNG/... via Pillow).

>>> img = read_rgb("images/000000000139.jpg")     # doctest: +SKIP
>>> img.shape, img.dtype                          # doctest: +SKIP
((426, 640, 3), dtype('uint8'))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_rgb(path: str | os.PathLike, image_id: int | None = None) -> np.ndarray:
    """An image file as a C-contiguous uint8 (H, W, 3) RGB array; InputError when missing or unreadable."""
    p = Path(path)
    try:
        with Image.open(p) as im:
            arr = np.array(im.convert("RGB"))
    except FileNotFoundError:
        raise InputError("image file not found", file=p, image_id=image_id) from None
    except IsADirectoryError:
        raise InputError("expected an image file, found a folder", file=p, image_id=image_id) from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"cannot read image: {e}", file=p, image_id=image_id) from None
    return np.ascontiguousarray(arr)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files of ``folder`` (not recursive), sorted by name; InputError when the folder is missing."""
    d = Path(folder)
    if not d.is_dir():
        raise InputError("image folder not found", file=d)
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def missing_files(folder: str | os.PathLike, names: list[str]) -> list[str]:
    """The names in ``names`` that are not files under ``folder``."""
    d = Path(folder)
    return [n for n in names if not (d / n).is_file()]


__all__ = ["read_rgb", "list_images", "missing_files", "IMAGE_SUFFIXES"]
