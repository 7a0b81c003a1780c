"""Files of ``rapkit show``: reading the photographs and result tables, writing picture PNGs.

* :func:`image_file` / :func:`read_image`: an image of ``--images DIR`` (by its
  ``file_name``), optionally downscaled with Pillow (Lanczos);
* :func:`write_png`: an (H, W, 3) uint8 array as an RGB PNG (deterministic bytes);
* :func:`read_table`: a result table (.csv, .json with ``rows``, .parquet) as a pandas
  DataFrame plus its declared unit (``"percent"``/``"fraction"`` or None).

>>> write_png("out.png", np.zeros((4, 4, 3), np.uint8))     # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ConfigError, InputError
from ..types import ImageInfo
from .images import IMAGE_SUFFIXES, read_rgb
from .jsonio import load_json


def image_file(images_dir: str | os.PathLike | None, info: ImageInfo) -> Path | None:
    """The image file of ``info`` under ``images_dir`` (its ``file_name``; without a
    suffix match, the same stem with another image suffix), or None when there is none."""
    if images_dir is None or not info.file_name:
        return None
    d = Path(images_dir)
    p = d / info.file_name
    if p.is_file():
        return p

    stem = Path(info.file_name).stem
    for suf in IMAGE_SUFFIXES:
        q = d / (stem + suf)
        if q.is_file():
            return q
    return None


def read_image(
    path: str | os.PathLike,
    *,
    image_id: Any = None,
    size: tuple[int, int] | None = None,
    expect: tuple[int, int] | None = None,
) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB. ``expect`` ``(h, w)``: the size the image must
    have (InputError otherwise, naming file and image); ``size`` ``(h, w)``: resize to it
    (Lanczos), after the check."""
    arr = read_rgb(path, image_id=image_id)
    if expect is not None and arr.shape[:2] != tuple(expect):
        raise InputError(
            f"image is {arr.shape[1]}x{arr.shape[0]} but the panoptic entry says {expect[1]}x{expect[0]}",
            file=path,
            image_id=image_id,
        )
    if size is not None and arr.shape[:2] != tuple(size):
        arr = resize_rgb(arr, size)
    return arr


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, 3) uint8 picture to ``size`` ``(h, w)`` with Pillow (Lanczos)."""
    im = Image.fromarray(np.ascontiguousarray(rgb, np.uint8), mode="RGB")
    return np.asarray(im.resize((int(size[1]), int(size[0])), Image.Resampling.LANCZOS)).copy()


def encode_png(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 array (same array -> same bytes); zlib level 1: the
    pictures are photographs, which compress little at any level, and level 6 took most of
    the drawing time."""
    a = np.ascontiguousarray(rgb, np.uint8)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) picture, got shape {a.shape}")
    buf = io.BytesIO()
    Image.fromarray(a, mode="RGB").save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def picture_folder(path: str | os.PathLike) -> Path:
    """Create the folder that holds several ``rapkit show`` outputs (e.g. the demo's
    ``pictures/``; plain mkdir: call it inside an atomic output folder)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write a picture as an RGB PNG at ``path`` (plain write: call it inside an atomic
    output folder, see :func:`rapkit.io._atomic.atomic_path`)."""
    p = Path(path)
    p.write_bytes(encode_png(rgb))
    return p


TABLE_SUFFIXES = (".csv", ".json", ".parquet")


def read_table(path: str | os.PathLike) -> tuple[Any, str | None]:
    """A result table of ``rapkit evaluate --sweep/--ablation --output`` (or any table of
    the same shape) by extension: ``.csv``, ``.json`` (``{"rows": [...], "unit": ...}`` or a
    plain list of records), ``.parquet`` (needs pyarrow). Returns ``(DataFrame, unit)``;
    ``unit`` is the JSON's declared ``unit`` or None."""
    import pandas as pd

    p = Path(path)
    suf = p.suffix.lower()
    if suf not in TABLE_SUFFIXES:
        raise InputError(f"unknown table format {p.suffix!r}; use .csv, .json or .parquet", file=p)
    if not p.is_file():
        raise InputError("table file not found", file=p)
    unit = None
    try:
        if suf == ".csv":
            df = pd.read_csv(p)
        elif suf == ".json":
            data = load_json(p, "table")
            rows = data.get("rows") if isinstance(data, dict) else data
            if not isinstance(rows, list):
                raise InputError("table JSON needs a 'rows' list (or is a list of records)", file=p)
            if isinstance(data, dict) and data.get("unit") in ("percent", "fraction"):
                unit = data["unit"]
            df = pd.DataFrame.from_records(rows)
        else:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ConfigError(f"{p}: reading Parquet needs pyarrow (pip install pyarrow)") from None
            df = pd.read_parquet(p)
    except (InputError, ConfigError):
        raise
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise InputError(f"cannot read table: {e}", file=p) from None
    if df.empty:
        raise InputError("table has no rows", file=p)
    return df, unit


__all__ = ["image_file", "read_image", "resize_rgb", "encode_png", "write_png", "read_table", "TABLE_SUFFIXES"]
