"""Writing COCO panoptic data: ids to RGB, a map's segment areas and boxes, the fused output folder.

A fused output (``rapkit fuse``) is written through :func:`panoptic_output`:
``OUTDIR/panoptic.json`` + ``OUTDIR/panoptic/<image stem>.png``, in a temporary sibling
renamed onto ``OUTDIR`` when complete.

>>> id2rgb(np.array([[513]], np.uint32)).tolist()
[[[1, 2, 0]]]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...types import Category, ImageInfo
from .._atomic import FsyncBehind, atomic_path
from ..folders import file_stem
from ..jsonio import dumps


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


def segment_stats(id_map: np.ndarray) -> dict[int, tuple[int, tuple[int, int, int, int]]]:
    """``{segment id: (area, (x, y, w, h))}`` for every non-zero id of an id map (the
    ``area`` and ``bbox`` of its ``segments_info`` entries)."""
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
    stem = file_stem(info.file_name) if info.file_name else ""
    return (stem or (info.id if isinstance(info.id, str) else f"{info.id:012d}")) + ".png"


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

    def __init__(self, root: Path, behind: FsyncBehind | None = None) -> None:
        self.root = Path(root)
        self.png_dir = self.root / PANOPTIC_DIR
        self._png_dir_str = str(self.png_dir)
        self._behind = behind

    def pngs_written(self, names: Iterable[str]) -> None:
        """The PNGs ``names`` are complete (written and closed, not to be written again):
        they are made durable in the background while the run goes on, instead of all at
        the commit (:class:`rapkit.io._atomic.FsyncBehind`; nothing without it)."""
        if self._behind is not None:
            for name in names:
                self._behind.put(os.path.join(self._png_dir_str, name))

    def png_path(self, name: str) -> Path:
        """Where the PNG ``name`` of this output goes."""
        return self.png_dir / name

    def png_file(self, name: str) -> str:
        """:meth:`png_path` as a string, without building a ``Path`` (one call per image)."""
        return os.path.join(self._png_dir_str, name)

    def write_json(self, images: Iterable[ImageInfo], annotations: list[dict], categories: Iterable[Category]) -> Path:
        """Write ``panoptic.json`` (:func:`panoptic_document`; compact, deterministic bytes)."""
        p = self.root / PANOPTIC_JSON
        p.write_bytes(dumps(panoptic_document(images, annotations, categories)))
        return p

    def write_json_parts(self, images: Iterable[ImageInfo], parts: list[bytes], categories: Iterable[Category]) -> Path:
        """:meth:`write_json` with the annotations already encoded, in ``parts``: each the
        :func:`rapkit.io.jsonio.dumps` bytes of a list of annotations without its brackets
        (the workers of ``rapkit fuse`` encode their runs of images). The same bytes as
        :meth:`write_json` with the lists concatenated.

        >>> out.write_json_parts(images, [dumps([ann1, ann2])[1:-1], dumps([ann3])[1:-1]], cats)  # doctest: +SKIP
        """
        doc = dumps(panoptic_document(images, [], categories))
        # the empty list's key is the first '"annotations": []' of the document: any earlier
        # occurrence would be inside a string of "images", where the quotes are escaped
        key = b'"annotations": []'
        i = doc.index(key)
        data = b"".join([doc[:i], b'"annotations": [', b", ".join(parts), b"]", doc[i + len(key) :]])
        p = self.root / PANOPTIC_JSON
        p.write_bytes(data)
        return p


@contextlib.contextmanager
def panoptic_output(out_dir: str | os.PathLike, force: bool = False) -> Iterator[PanopticOutput]:
    """Write a COCO panoptic folder atomically: yields a :class:`PanopticOutput` in a
    temporary sibling of ``out_dir`` (its PNG folder created), renamed onto ``out_dir`` when
    the block ends without error; on any error (or Ctrl-C) nothing is left behind. An
    existing ``out_dir`` is replaced only with ``force``. The PNGs announced through
    :meth:`PanopticOutput.pngs_written` are fsynced while the block runs; the commit fsyncs
    the rest and every folder (the same guarantee: all durable before the rename).

    >>> with panoptic_output("fused/") as out:                       # doctest: +SKIP
    ...     write_id_map_png_fast(out.png_path("1.png"), id_map)
    ...     out.write_json(images.values(), annotations, cats.values())
    """

    behind = FsyncBehind()
    with atomic_path(out_dir, force, directory=True, behind=behind) as tmp:
        out = PanopticOutput(tmp, behind)
        out.png_dir.mkdir()
        yield out


__all__ = [
    "PANOPTIC_DIR",
    "PANOPTIC_JSON",
    "PanopticOutput",
    "id2rgb",
    "panoptic_document",
    "panoptic_output",
    "png_name",
    "segment_stats",
]
