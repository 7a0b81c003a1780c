"""Dataset-level PQ evaluation: io + core + the thread pool.

:func:`evaluate_pq` reads the GT and the prediction JSON into segment arrays
(:func:`rapkit.io.panoptic.load_panoptic_arrays`), pairs their images by id, and streams
chunks of images through a bounded thread pool: each thread reads every PNG pair into its
pair histogram (:func:`rapkit.io.png.read_pair_keys`: the fused numba kernel, or PIL with
``fast=False``) and matches the segments (:class:`rapkit.core.pq_arrays.ChunkStats`, where
the one fallback to :func:`rapkit.core.pq.pq_stats` is named), both releasing the GIL; the
per-chunk :class:`~rapkit.types.PQStats` are merged and summarized: the numbers ``==``
panopticapi's ``pq_compute`` run with one process. PQ of a small job (a few images) takes
the numpy twin of that loop instead, which imports no numba
(:mod:`rapkit.pipeline.evaluate_small`: the size rule, and ``RAPKIT_EVALUATE_PATH``).

The result is a :class:`PQEvaluation` (fractions; ``.to_frame()``, ``.class_frame()``,
``.image_frame()``, ``.to_dict()``). The sanity check (``--check``, ``rapkit check``) lives in
:mod:`rapkit.pipeline.check`; the whole ``rapkit evaluate`` command (modes, option checks,
the gate) is one call, :func:`rapkit.pipeline.requests.run_evaluate`; the tables are laid out
by :mod:`rapkit.report.pq`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .._runtime.pool import alongside, imap_ordered, resolve_workers
from .._runtime.settings import setting
from ..core.boundary import DILATION_RATIO, band_counts, dilation_pixels
from ..core.pq import PairHistogram, pq_stats, summarize
from ..core.pq_arrays import ChunkStats, PairTable, png_chunk_stats
from ..core.pq_dagger import pq_dagger_stats
from ..core.pq_evaluation import METRICS, PQEvaluation, image_row
from ..errors import InputError
from ..io.jsonio import file_size
from ..io.panoptic import PanopticArrays, load_panoptic_arrays
from ..io.png import read_pair_bytes, read_pair_keys, read_pair_maps, read_pair_raw
from ..types import Category, PQStats, merge_stats
from .evaluate_small import job_pixels, numpy_chunks, use_numpy_path


def _nan0(v: float) -> float:
    return 0.0 if math.isnan(v) else v


def delta_rows(a: PQEvaluation, b: PQEvaluation) -> list[dict[str, Any]]:
    """Per image: the rows of A and B and ``dpq`` = PQ(B) - PQ(A), sorted by ``|dpq|``
    (largest first; ties in GT order). An image with no class present (PQ NaN) counts as 0
    in ``dpq``, as in ``rapkit show compare --top``.

    Both runs must cover the same GT images (two :func:`evaluate_pq` runs with ``per_image``
    against one GT).
    """
    ra, rb = a.image_rows(), b.image_rows()
    if [r["image_id"] for r in ra] != [r["image_id"] for r in rb]:
        raise ValueError("the two evaluations cover different images")
    rows = []
    for k, (x, y) in enumerate(zip(ra, rb)):
        rows.append(
            {
                "image_id": x["image_id"],
                "dpq": _nan0(y["pq"]) - _nan0(x["pq"]),
                "a": {key: v for key, v in x.items() if key != "image_id"},
                "b": {key: v for key, v in y.items() if key != "image_id"},
                "_k": k,
            }
        )
    rows.sort(key=lambda r: (-abs(r["dpq"]), r["_k"]))
    for r in rows:
        del r["_k"]
    return rows


def _load(gt_json: Any, pred_json: Any, gt_dir: Any, pred_dir: Any) -> tuple[PanopticArrays, PanopticArrays]:
    """The GT and the prediction, segments as arrays; categories come from the GT (as
    panopticapi), a prediction's are checked per image against them."""
    gt = load_panoptic_arrays(gt_json, gt_dir)
    if not gt.categories:
        raise InputError("the GT panoptic JSON has no 'categories' list (PQ needs isthing per class)", file=gt_json)
    pred = load_panoptic_arrays(pred_json, pred_dir, check_categories=False, areas=False)
    for d, what in ((gt, "GT"), (pred, "prediction")):
        if not d.png_dir.is_dir():
            raise InputError(
                f"{what} PNG folder {d.png_dir} does not exist (pass --{'gt' if what == 'GT' else 'pred'}-dir)",
                file=d.json_path,
            )
    return gt, pred


#: a GT JSON at least this large is no small job (:mod:`.evaluate_small`: at most 16 images)
PRELOAD_BYTES = 256 * 1024


def _chunk_kernel_preload(gt_json: Any, metrics: tuple, per_image: bool, fast: bool) -> Callable[[], None] | None:
    """What to load beside the JSON parse: the chunk kernel when this job will run it (PQ
    alone, the fast decoder, no per-image rows, a GT JSON too large for a small job);
    None otherwise (a small job must not pay for numba)."""
    if metrics != ("pq",) or per_image or not fast or setting("RAPKIT_EVALUATE_PATH") == "numpy":
        return None
    size = file_size(gt_json)
    if size is None or size < PRELOAD_BYTES:
        return None

    def load() -> None:
        from ..kernels.pq_chunk import load_chunk_kernel

        load_chunk_kernel()

    return load


def chunk_bounds(n: int, workers: int, most: int = 64) -> list[tuple[int, int]]:
    """The chunks ``(start, stop)`` of ``n`` images for ``workers`` threads: ``most`` images
    each (fewer when there are few images per worker), the last ones shrinking, so that no
    thread waits long for the others at the end.

    >>> [b - a for a, b in chunk_bounds(100, 2, most=8)]
    [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 2, 1, 1, 1, 1, 1, 1]
    >>> chunk_bounds(5, 1)
    [(0, 5)]
    """
    if workers <= 1:
        return [(k, min(n, k + most)) for k in range(0, n, most)]
    size = max(1, min(most, n // (8 * workers)))
    out = []
    k = 0
    while k < n:
        s = min(size, max(1, (n - k) // (2 * workers)))
        out.append((k, k + s))
        k += s
    return out


def _ignored_warning(ignored: list) -> list[str]:
    if not ignored:
        return []
    shown = ", ".join(str(i) for i in ignored[:5]) + (", ..." if len(ignored) > 5 else "")
    return [f"{len(ignored)} predicted image(s) not in the GT were ignored: {shown}"]


def _check_missing(missing: list, pred_json: Any) -> None:
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"no prediction for this GT image{more}", file=pred_json, image_id=missing[0])


def _chunk(job: tuple[PairTable, list[tuple], bool, bool]) -> tuple[int, PQStats, list[PQStats] | None]:
    """One chunk of images ``(order, image_id, gt_png, pred_png)``. The chunk's PNG bytes go
    to the chunk kernel in one call (:func:`~rapkit.core.pq_arrays.png_chunk_stats`:
    parsing, inflate, unfiltering, pair histogram and matching without the GIL); the images
    it leaves, or every image with ``keep``, ``fast=False`` or a file that cannot be read,
    go the per-image way: each PNG pair read into its pair histogram (fused kernel, or PIL
    with ``fast=False``) and matched, errors worded there in image order."""
    table, items, keep, fast = job
    todo: Any = range(len(items))
    done = None
    if fast and not keep:
        try:
            buf, offs = read_pair_bytes([(iid, g, p) for _, iid, g, p in items])
        except InputError:
            buf = None  # the per-image loop below names the file, in image order
        if buf is not None:
            done = png_chunk_stats(table, buf, offs, [it[0] for it in items], [it[1] for it in items])
            if done is not None:
                todo = done[1]
                if not todo:
                    return len(items), done[0], None
    acc = ChunkStats(table, keep)
    for j in todo:
        order, image_id, gt_png, pred_png = items[j]
        keys, counts, _ = read_pair_keys(gt_png, pred_png, image_id=image_id, fast=fast)
        try:
            acc.add(j, order, image_id, keys, counts)
        except InputError as e:
            raise e.with_context(file=pred_png) from None
    st, one = acc.result()
    return len(items), (st if done is None else merge_stats([done[0], st])), one


def _band_keys(gt_png: str, pred_png: str, image_id: Any, fast: bool, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Boundary PQ's band pair keys of one PNG pair: decoded and counted by one numba kernel
    (PIL and the id-map kernel for other PNGs, or with ``fast=False``)."""
    from ..kernels.boundary import band_pair_keys, band_pair_keys_png  # numba: loaded when Boundary PQ runs

    raw = read_pair_raw(gt_png, pred_png, image_id=image_id) if fast else None
    if raw is not None:
        try:
            return band_pair_keys_png(*raw, dilation_pixels(raw[4], raw[5], ratio))
        except ValueError:  # a row with a bad filter byte: decoded by PIL below, which names the file
            raw = None
    gm, pm = read_pair_maps(gt_png, pred_png, image_id=image_id, fast=fast)
    return band_pair_keys(gm, pm, dilation_pixels(gm.shape[0], gm.shape[1], ratio))


def _multi_chunk(
    job: tuple[PairTable, list[tuple], bool, bool, tuple[str, ...], float, dict[int, Category]],
) -> tuple[int, dict[str, PQStats], dict[str, list[PQStats]] | None]:
    """The metrics of a chunk of images, every metric from one read of each PNG pair: the
    band pair keys when Boundary PQ is asked for (their flags folded give PQ's pair
    histogram), else PQ's pair histogram; then :func:`~rapkit.core.pq.pq_stats` (PQ; with
    the bands, Boundary PQ) and :func:`~rapkit.core.pq_dagger.pq_dagger_stats` (PQ†)."""
    table, items, keep, fast, metrics, ratio, cats = job
    known = frozenset(table.cat_ids[table.known].tolist())
    out: dict[str, list[PQStats]] = {m: [] for m in metrics}
    for j, (order, image_id, gt_png, pred_png) in enumerate(items):
        band = None
        if "boundary" in metrics:
            hist, band = band_counts(*_band_keys(gt_png, pred_png, image_id, fast, ratio))
        else:
            keys, counts, _ = read_pair_keys(gt_png, pred_png, image_id=image_id, fast=fast)
            hist = PairHistogram.from_keys(keys, counts)
        gseg, pseg = table.segments(j)
        at = {"image_id": image_id, "order": order}
        try:
            for m in metrics:
                if m == "pq-dagger":
                    out[m].append(pq_dagger_stats(hist, gseg, pseg, cats, **at))
                else:
                    out[m].append(pq_stats(hist, gseg, pseg, known, **at, band=band if m == "boundary" else None))
        except InputError as e:
            raise e.with_context(file=pred_png) from None
    return len(items), {m: merge_stats(v) for m, v in out.items()}, (out if keep else None)


def evaluate_pq(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    *,
    workers: int = 1,
    per_image: bool = False,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    metric: str = "pq",
    dilation_ratio: float = DILATION_RATIO,
) -> PQEvaluation:
    """PQ / SQ / RQ of a panoptic prediction against a panoptic GT (panopticapi-exact).

    ``metric="boundary"``: Boundary PQ instead (Cheng et al. 2021), as boundary-iou-api's
    ``coco_panoptic_api`` computes it: pairs matched and scored on min(mask IoU, boundary
    IoU), bands ``dilation_ratio`` of the image diagonal wide
    (:mod:`rapkit.core.boundary`); the rest of the result is laid out as PQ's.
    ``metric="pq-dagger"``: PQ† (Porzi et al. 2019, as torchmetrics'
    ``ModifiedPanopticQuality``): things as PQ, a stuff class scored by its mean IoU over
    the images whose GT has it, with no 0.5 matching (:mod:`rapkit.core.pq_dagger`).

    Images are evaluated in the order of the GT ``annotations``; every GT image needs a
    prediction (else :class:`InputError`); predictions for images not in the GT are ignored,
    counted and warned about. ``workers`` > 1 uses that many threads (``0``: every core);
    the result is the same bit for bit. ``fast=False`` reads the PNGs with PIL instead of
    the fused kernel (``--decoder pil``; same numbers). ``on_start(n_images)`` is called once the inputs are validated,
    ``progress(n)`` as images complete. ``per_image=True`` keeps one :class:`PQStats` per
    image in ``ev.per_image`` (GT order; merged they are ``ev.stats``; rows:
    :meth:`PQEvaluation.image_rows`).

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> ev = evaluate_pq(w.panoptic, w.panoptic, workers=2)      # the GT against itself
    >>> ev.result.all.pq, list(ev.to_frame().index)
    (1.0, ['All', 'Things', 'Stuff'])
    """
    return evaluate_metrics(
        gt_json,
        pred_json,
        gt_dir,
        pred_dir,
        metrics=(metric,),
        workers=workers,
        per_image=per_image,
        fast=fast,
        progress=progress,
        on_start=on_start,
        dilation_ratio=dilation_ratio,
    )[metric]


def evaluate_metrics(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    *,
    metrics: tuple[str, ...] = ("pq",),
    workers: int = 1,
    per_image: bool = False,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    dilation_ratio: float = DILATION_RATIO,
) -> dict[str, PQEvaluation]:
    """:func:`evaluate_pq` of several ``metrics`` (of :data:`METRICS`) in one pass over the
    PNGs: ``{metric: PQEvaluation}`` in the order given, each ``==`` its own
    :func:`evaluate_pq` run (:func:`rapkit.pipeline.metrics.evaluate` wraps it).

    >>> evaluate_metrics("gt.json", "pred.json", metrics=("pq", "boundary"))["boundary"].result   # doctest: +SKIP
    """
    metrics = tuple(dict.fromkeys(metrics))
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(f"metrics must be among {', '.join(METRICS)}, got {metrics!r}")
    dilation_pixels(1, 1, dilation_ratio)  # checks the ratio before any work
    workers = resolve_workers(workers)
    preload = _chunk_kernel_preload(gt_json, metrics, per_image, fast)
    with alongside(preload):  # numba and the chunk kernel load while the JSON is parsed
        gt, pred = _load(gt_json, pred_json, gt_dir, pred_dir)
    g, p = gt.segments, pred.segments
    cats = gt.categories
    p_row = p.row_of()
    g_set = set(g.image_ids)
    warnings = _ignored_warning(ignored := [iid for iid in p.image_ids if iid not in g_set])
    _check_missing([iid for iid in g.image_ids if iid not in p_row], pred_json)
    rows = np.fromiter((p_row[iid] for iid in g.image_ids), np.int64, len(g.image_ids))
    table = PairTable.build(g, p, rows, cats)
    gdir, pdir = str(gt.png_dir), str(pred.png_dir)
    items = [
        (k, iid, os.path.join(gdir, g.file_names[k]), os.path.join(pdir, p.file_names[r]))
        for k, (iid, r) in enumerate(zip(g.image_ids, rows.tolist()))
    ]
    n = len(items)
    if on_start is not None:
        on_start(n)
    jobs = ((table.chunk(a, b), items[a:b], per_image, fast) for a, b in chunk_bounds(n, workers))
    if metrics == ("pq",) and use_numpy_path(n, job_pixels(gt.images, g.image_ids)):  # few images: no numba
        results = numpy_chunks(table, items, per_image, fast)
    elif metrics == ("pq",):  # PQ alone: the matching kernel
        results = (
            (k, {"pq": st}, None if one is None else {"pq": one})
            for k, st, one in imap_ordered(_chunk, jobs, workers, name="rapkit-pq")
        )
    else:
        more = (metrics, dilation_ratio, cats)
        results = imap_ordered(_multi_chunk, (job + more for job in jobs), workers, name="rapkit-pq")
    parts: dict[str, list[PQStats]] = {m: [] for m in metrics}
    singles: dict[str, list[PQStats]] = {m: [] for m in metrics}
    for k, st, one in results:
        for m in metrics:
            parts[m].append(st[m])
            if one is not None:
                singles[m].extend(one[m])
        if progress is not None:
            progress(k)
    out = {}
    for m in metrics:
        stats = merge_stats(parts[m])
        out[m] = PQEvaluation(
            summarize(stats, cats), stats, cats, stats.n_images, list(ignored), list(warnings), singles[m], m
        )
    return out


def pq_compute(
    gt_json_file: str | os.PathLike,
    pred_json_file: str | os.PathLike,
    gt_folder: str | os.PathLike | None = None,
    pred_folder: str | os.PathLike | None = None,
    *,
    workers: int = 1,
) -> dict[str, Any]:
    """Drop-in for ``panopticapi.evaluation.pq_compute``: same arguments, same return dict
    (``All``/``Things``/``Stuff`` with ``pq sq rq n``, ``per_class``), values ``==``
    panopticapi run with one process. Prints nothing; errors are :class:`InputError`.

    >>> from pathlib import Path
    >>> import rapkit
    >>> gt = Path(rapkit.__file__).parents[1] / "tests/data/panopticapi_sample/panoptic_examples.json"
    >>> res = pq_compute(gt, gt) if gt.exists() else {"All": {"pq": 1.0}}   # the COCO sample against itself
    >>> res["All"]["pq"]
    1.0
    """
    return evaluate_pq(gt_json_file, pred_json_file, gt_folder, pred_folder, workers=workers).result.to_panopticapi()


__all__ = ["METRICS", "PQEvaluation", "delta_rows", "evaluate_metrics", "evaluate_pq", "image_row", "pq_compute"]
