"""Dataset-level PQ evaluation: io + core + the thread pool.

:func:`evaluate_pq` reads the GT and the prediction JSON into segment arrays
(:func:`rapkit.io.panoptic.load_panoptic_arrays`), pairs their images by id, and streams
chunks of images through a bounded thread pool: each thread reads every PNG pair into its
pair histogram (:func:`rapkit.io.png.read_pair_keys`: the fused numba kernel, or PIL with
``fast=False``) and matches the segments (:class:`rapkit.core.pq_arrays.ChunkStats`, where
the one fallback to :func:`rapkit.core.pq.pq_stats` is named), both releasing the GIL; the
per-chunk :class:`~rapkit.types.PQStats` are merged and summarized: the numbers ``==``
panopticapi's ``pq_compute`` run with one process.

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

from .._runtime.pool import imap_ordered, resolve_workers
from ..core.pq import summarize
from ..core.pq_arrays import ChunkStats, PairTable
from ..core.pq_evaluation import PQEvaluation, image_row
from ..errors import InputError
from ..io.panoptic import PanopticArrays, load_panoptic_arrays
from ..io.png import read_pair_keys
from ..types import PQStats, merge_stats


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
    """One chunk of images ``(order, image_id, gt_png, pred_png)``: each PNG pair read into
    its pair histogram (fused kernel, or PIL with ``fast=False``) and matched."""
    table, items, keep, fast = job
    acc = ChunkStats(table, keep)
    for j, (order, image_id, gt_png, pred_png) in enumerate(items):
        keys, counts, _ = read_pair_keys(gt_png, pred_png, image_id=image_id, fast=fast)
        try:
            acc.add(j, order, image_id, keys, counts)
        except InputError as e:
            raise e.with_context(file=pred_png) from None
    return (len(items), *acc.result())


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
) -> PQEvaluation:
    """PQ / SQ / RQ of a panoptic prediction against a panoptic GT (panopticapi-exact).

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
    workers = resolve_workers(workers)
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
    size = 16 if workers <= 1 else max(1, min(32, n // (8 * workers)))
    jobs = ((table.chunk(k, min(n, k + size)), items[k : k + size], per_image, fast) for k in range(0, n, size))
    parts: list[PQStats] = []
    singles: list[PQStats] = []
    for k, st, one in imap_ordered(_chunk, jobs, workers, name="rapkit-pq"):
        parts.append(st)
        if one is not None:
            singles.extend(one)
        if progress is not None:
            progress(k)
    stats = merge_stats(parts)
    return PQEvaluation(summarize(stats, cats), stats, cats, stats.n_images, ignored, warnings, singles)


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


__all__ = ["PQEvaluation", "delta_rows", "evaluate_pq", "image_row", "pq_compute"]
