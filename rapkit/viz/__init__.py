"""Pictures and charts: drawing on numpy arrays, and matplotlib charts of result tables.

Nothing here reads or writes files (``rapkit.io.pictures`` reads images and tables and
writes PNGs; ``rapkit.pipeline.show`` runs ``rapkit show`` over a dataset). One module per
thing, each importing only those before it:

* :mod:`~rapkit.viz.palette` — colours: the fixed colours of contours, labels, comparisons
  and arrows; one distinct colour per category; a category map painted with a palette;
* :mod:`~rapkit.viz.draw` — pixel primitives: blend, grey and dimmed backgrounds, contours,
  dilate/erode, arrows, centroids, nearest-neighbour resize;
* :mod:`~rapkit.viz.labels` — text: rendering with Pillow's default font (in memory), label
  placement that never overlaps, title strips and legends;
* :mod:`~rapkit.viz.pictures` — the pictures of ``rapkit show``: overlay, the compare panel,
  the relations picture and its legend, panels side by side;
* :mod:`~rapkit.viz.charts` — Table 1 / Table 2 / the relation gap as matplotlib Figures and
  their pixels; matplotlib is optional (the extra ``rapkit[plot]``) and imported only when
  a figure is made.

Which pixels two panoptic results agree on is a measurement, not drawing:
:mod:`rapkit.core.agreement` (``differ_mask``, ``agree_mask``, ``segment_categories``).

Conventions: images are ``(H, W, 3)`` uint8 RGB; id maps ``(H, W)`` integers, 0 = VOID;
points are ``(x, y)`` in pixel coordinates (pixel centres at integers); colours ``(r, g, b)``.
"""
