"""PQ of a small job without numba: the numpy twin of the kernel path of
:func:`rapkit.pipeline.evaluate.evaluate_metrics`.

Importing numba and loading the cached kernels costs a fresh process 0.1-0.2 s, more than
reading and matching a few images with numpy. So PQ alone (``metric="pq"``) of a **small
job**, at most :data:`SMALL_JOB_IMAGES` images of at most :data:`SMALL_JOB_PIXELS` pixels
together (the GT ``images`` sizes; a job whose sizes are not all known is not small), takes
this path: each PNG pair is counted by :func:`rapkit.io.png_numpy.read_pair_keys_numpy`
(Pillow unfilters, numpy counts; the same arrays and errors as the fast decoder) and
matched by :func:`rapkit.core.pq.pq_stats`, the readable matcher that the kernel itself
falls back to (equal to it on every image: ``tests/kernels/test_pq_match.py``), one image
after the other in the calling thread (``workers`` does not apply: the job is done before
a pool would pay off). Every IoU keeps its image position and rank, so
:func:`~rapkit.core.pq.summarize` adds them in panopticapi's order:
the result is the kernel path's, bit for bit (``tests/pipeline/test_evaluate_small.py``
runs both on the same jobs, and the panopticapi parity tests run this path).

``RAPKIT_EVALUATE_PATH`` (:mod:`rapkit._runtime.settings`) forces either path: ``numpy``,
``kernels``, or ``auto`` (the rule above, the default).

>>> use_numpy_path(1, 640 * 480)
True
>>> use_numpy_path(2000, 2000 * 640 * 480)
False
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .._runtime import setting
from ..core.pq import PairHistogram, pq_stats
from ..errors import InputError
from ..io.png import read_pair_keys
from ..io.png_numpy import read_pair_keys_numpy
from ..types import PQStats, merge_stats

__all__ = ["SMALL_JOB_IMAGES", "SMALL_JOB_PIXELS", "job_pixels", "numpy_chunks", "use_numpy_path"]

#: at most this many images make a small job
SMALL_JOB_IMAGES = 16
#: ... of at most this many pixels together (16 COCO-sized 640 x 480 images)
SMALL_JOB_PIXELS = 16 * 640 * 480


def job_pixels(images: Mapping[Any, Any], image_ids: list) -> int | None:
    """Pixels of the images ``image_ids`` by their ``images`` entries (``ImageInfo``); None
    when one is missing or has no positive size, or when there are more images than a small
    job has (no need to add them up)."""
    if len(image_ids) > SMALL_JOB_IMAGES:
        return None
    total = 0
    for iid in image_ids:
        info = images.get(iid)
        h, w = (getattr(info, "height", 0), getattr(info, "width", 0)) if info is not None else (0, 0)
        if not (isinstance(h, int) and isinstance(w, int)) or h <= 0 or w <= 0:
            return None
        total += h * w
    return total


def use_numpy_path(n_images: int, pixels: int | None) -> bool:
    """Whether a PQ job of ``n_images`` images and ``pixels`` pixels (None: unknown) takes
    the numpy path: ``RAPKIT_EVALUATE_PATH`` when it names one, else the size rule."""
    choice = setting("RAPKIT_EVALUATE_PATH")
    if choice != "auto":
        return choice == "numpy"
    return n_images <= SMALL_JOB_IMAGES and pixels is not None and pixels <= SMALL_JOB_PIXELS


def numpy_chunks(table: Any, items: list[tuple], keep: bool, fast: bool) -> Iterator[tuple]:
    """What the kernel path's chunks give, from numpy alone: one ``(n_images, {"pq":
    PQStats}, {"pq": [per-image PQStats]} or None)`` for the images ``items`` (``(order,
    image_id, gt_png, pred_png)``, image ``j`` of the :class:`~rapkit.core.pq_arrays.PairTable`
    ``table`` at ``items[j]``). ``fast=False`` reads the PNGs with PIL as ``--decoder pil`` does."""
    known = frozenset(table.cat_ids[table.known].tolist())
    singles: list[PQStats] = []
    for j, (order, image_id, gt_png, pred_png) in enumerate(items):
        if fast:
            keys, counts, _ = read_pair_keys_numpy(gt_png, pred_png, image_id=image_id)
        else:
            keys, counts, _ = read_pair_keys(gt_png, pred_png, image_id=image_id, fast=False)
        gseg, pseg = table.segments(j)
        try:
            st = pq_stats(PairHistogram.from_keys(keys, counts), gseg, pseg, known, image_id=image_id, order=order)
        except InputError as e:
            raise e.with_context(file=pred_png) from None
        singles.append(st)
    yield len(items), {"pq": merge_stats(singles)}, ({"pq": singles} if keep else None)
