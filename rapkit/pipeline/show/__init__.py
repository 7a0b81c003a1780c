"""``rapkit show`` as library calls: pictures of panoptic results, comparisons, relations, charts.

Each function reads its inputs, validates the image selection before anything is written,
draws the pictures (:mod:`rapkit.viz`) in a bounded thread pool and writes them as PNGs
into an output folder that appears only when complete (:mod:`rapkit.io._atomic`; an
existing folder needs ``force``). Picture names: the image's file name stem + ``.png``
(``OUT/000000000139.png``); charts: ``sweep.png``, ``ablation.png``, ``relation_gap.png``.

One module per picture kind, as the subcommands of ``rapkit show``:

* :func:`show_overlay` (``overlay.py``) — an image with a panoptic result on top;
* :func:`show_compare` (``compare.py``) — two panoptic results side by side and the pixels
  where they differ, coloured by which one matches the GT (``top``: the images where they
  differ most in PQ);
* :func:`show_relations` (``relations.py``) — arrows from front to back instance, coloured
  correct/wrong by the proposals' relation values;
* :func:`show_charts` (``charts.py``) — Table 1 / Table 2 / the per-category relation gap
  as charts (needs matplotlib, the extra ``rapkit[plot]``).

``_common.py`` holds what they share: :class:`ShowResult`, the image selection, picture
names, image files and the run into the output folder.

>>> res = show_overlay("fused/panoptic.json", "pictures/", images_dir="world/images")  # doctest: +SKIP
>>> [p["path"] for p in res.pictures]                                               # doctest: +SKIP
"""

from ._common import ShowResult, select_images
from .charts import CHART_NAMES, require_matplotlib, show_charts
from .compare import per_image_pq, show_compare
from .overlay import show_overlay
from .relations import show_relations

__all__ = [
    "ShowResult",
    "select_images",
    "per_image_pq",
    "show_overlay",
    "show_compare",
    "show_relations",
    "show_charts",
    "require_matplotlib",
    "CHART_NAMES",
]
