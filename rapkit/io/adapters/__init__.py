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

Each writer lives in its own module: :mod:`~rapkit.io.adapters.proposals`,
:mod:`~rapkit.io.adapters.semantic`, :mod:`~rapkit.io.adapters.images`; the label maps
(``label_map=``: ``None``, a list, a dict, ``"coco80"``, ``"coco91"``,
:func:`contiguous_label_map`) are in :mod:`~rapkit.io.adapters.labels`.

>>> with ProposalWriter("proposals.json", label_map="coco80") as w:          # doctest: +SKIP
...     w.add(139, masks, scores, labels, relations=values)                 # masks: (N, H, W) bool
>>> write_semantic_png("semantic/000000000139.png", logits, label_map=stuff_ids)  # doctest: +SKIP
>>> write_image_info("images.json", [{"id": 139, "file_name": "000000000139.jpg", "height": 426, "width": 640}])  # doctest: +SKIP
"""

from __future__ import annotations

from .images import write_image_info
from .labels import BUILTIN_LABEL_MAPS, COCO80, contiguous_label_map, map_labels, resolve_label_map
from .labels import LabelMapLike as LabelMapLike  # a type for callers' hints, not in __all__
from .proposals import ProposalWriter
from .semantic import semantic_png_name, write_semantic_png

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
