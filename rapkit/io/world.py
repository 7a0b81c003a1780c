"""Writing a synthetic world (``rapkit synth``) to disk: image files and COCO JSONs.

The generator (:mod:`rapkit.synth`) computes everything in memory; this module encodes
the pictures (panoptic PNG, semantic PNG, JPEG) and lays out the folder.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .jsonio import dumps
from .panoptic import id2rgb


def encode_png_rgb_ids(id_map: np.ndarray) -> bytes:
    """A panoptic id map as RGB PNG bytes (id = R + 256 G + 256^2 B)."""
    buf = io.BytesIO()
    Image.fromarray(id2rgb(id_map), "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_png_labels(labels: np.ndarray) -> bytes:
    """A uint8 label map as grayscale PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(labels, np.uint8), "L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """An (H, W, 3) uint8 picture as JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class WorldWriter:
    """Lays out a world folder: ``images/``, ``panoptic/``, ``semantic/`` and the JSON files.

    >>> w = WorldWriter(Path("tmp-world"))                    # doctest: +SKIP
    >>> w.add_image("000000000001", pan_png, sem_png, jpg)     # doctest: +SKIP
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for d in ("images", "panoptic", "semantic"):
            (self.root / d).mkdir(parents=True, exist_ok=True)

    def add_image(self, stem: str, pan_png: bytes, sem_png: bytes, jpg: bytes | None) -> None:
        (self.root / "panoptic" / f"{stem}.png").write_bytes(pan_png)
        (self.root / "semantic" / f"{stem}.png").write_bytes(sem_png)
        if jpg is not None:
            (self.root / "images" / f"{stem}.jpg").write_bytes(jpg)

    def write_json(self, name: str, obj: Any) -> Path:
        p = self.root / name
        p.write_bytes(dumps(obj))
        return p
