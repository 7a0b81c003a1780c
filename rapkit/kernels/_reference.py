"""Plain-numpy twins of every numba kernel (the executable specification of each kernel).

Each area keeps its twins in ``_reference_<area>.py``; this module re-exports them all.
"""

from ._reference_boundary import *  # noqa: F401,F403  (Boundary PQ: bands, band pair keys)
from ._reference_fuse_image import *  # noqa: F401,F403  (one image in one call: the chain of the above)
from ._reference_fusion import *  # noqa: F401,F403  (fusion: RLE decode, Algorithm 1, stuff fill)
from ._reference_ocfusion import *  # noqa: F401,F403  (OCFusion: pairwise occlusion decisions)
from ._reference_png_encode import *  # noqa: F401,F403  (PNG encoder: Up rows, deflate stream)
from ._reference_pq import *  # noqa: F401,F403  (PQ: PNG unfiltering, pair histograms)
from ._reference_pq_chunk import *  # noqa: F401,F403  (PQ of a chunk of PNG pairs: parse, inflate, match)
from ._reference_relations import *  # noqa: F401,F403  (relations: label histograms, pair visibility)
from ._reference_sweep import *  # noqa: F401,F403  (sweep: atoms, fusion on atoms, pair counts)
