"""COCO panoptic JSON + PNG folders: read (:mod:`.read`), check (:mod:`.check`), write (:mod:`.write`).

``id = R + 256 * G + 256**2 * B``; 0 is VOID. The PNG folder defaults to the JSON's path
without ``.json``.

* :mod:`.read`: the readers of panoptic JSON (:func:`load_panoptic_arrays`, the segments as
  arrays for PQ; :func:`load_panoptic`, every entry as a ``Segment``; :func:`scan_panoptic`,
  lenient, for ``rapkit check``), categories and image lists, PNGs through PIL
  (:func:`read_id_map`; the fast decoder is :mod:`rapkit.io.png`);
* :mod:`.check`: the rules they share, one message each (:func:`scan_annotations`,
  :class:`Issue`...);
* :mod:`.write`: ids to RGB, a map's segment areas and boxes, the fused output folder
  (:func:`panoptic_output`).

Every public name of the three is importable from here.

>>> import numpy as np
>>> rgb2id(id2rgb(np.array([[513]], np.uint32))).tolist()
[[513]]
"""

from __future__ import annotations

from .check import (
    MAX_PIXELS,
    AnnotationEntry,
    Issue,
    parse_categories,
    parse_images,
    plain_segments_pass,
    png_file_name,
    scan_annotations,
    segment_entry,
    segment_tuple,
    shape_mismatch,
)
from .read import (
    MAX_AREA,
    PanopticArrays,
    PanopticDataset,
    PanopticScan,
    SegmentArrays,
    default_png_dir,
    load_categories,
    load_images,
    load_panoptic,
    load_panoptic_arrays,
    read_id_map,
    rgb2id,
    scan_panoptic,
)
from .write import (
    PANOPTIC_DIR,
    PANOPTIC_JSON,
    PanopticOutput,
    id2rgb,
    panoptic_document,
    panoptic_output,
    png_name,
    segment_stats,
)

__all__ = [
    "MAX_AREA",
    "MAX_PIXELS",
    "PANOPTIC_DIR",
    "PANOPTIC_JSON",
    "AnnotationEntry",
    "Issue",
    "PanopticArrays",
    "PanopticDataset",
    "PanopticOutput",
    "PanopticScan",
    "SegmentArrays",
    "default_png_dir",
    "id2rgb",
    "load_categories",
    "load_images",
    "load_panoptic",
    "load_panoptic_arrays",
    "panoptic_document",
    "panoptic_output",
    "parse_categories",
    "parse_images",
    "plain_segments_pass",
    "png_file_name",
    "png_name",
    "rgb2id",
    "read_id_map",
    "scan_annotations",
    "scan_panoptic",
    "segment_entry",
    "segment_tuple",
    "segment_stats",
    "shape_mismatch",
]
