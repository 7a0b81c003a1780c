"""The synthetic world: a small COCO-format dataset with a known depth order, plus what a
detector and a semantic segmenter would dump for it (docs/synth.md).

- :mod:`rapkit.synth.scene`: categories, :class:`SynthConfig` and :func:`generate_image`
  (one image in memory: masks, panoptic id map, segments, semantic map, proposals, picture);
- :mod:`rapkit.synth.world`: :func:`make_world` (the whole world, written through
  :mod:`rapkit.io.world`), :class:`WorldPaths`, :func:`world_summary`, :func:`relation_ceiling`;
- :mod:`rapkit.synth.shapes`: shape polygons, rasterisation, RLE and rendering.

>>> img = generate_image(SynthConfig(n_images=1, height=96, width=128, seed=1), 0)
>>> sorted(c.name for c in categories() if c.isthing)[:3]
['bottle', 'chair', 'couch']
"""

from __future__ import annotations

from .scene import (
    STUFF,
    THINGS,
    SynthConfig,
    SynthImage,
    SynthInstance,
    categories,
    generate_image,
)
from .world import WorldPaths, make_world, relation_ceiling, world_summary

__all__ = [
    "STUFF",
    "THINGS",
    "SynthConfig",
    "SynthImage",
    "SynthInstance",
    "WorldPaths",
    "categories",
    "generate_image",
    "make_world",
    "relation_ceiling",
    "world_summary",
]
