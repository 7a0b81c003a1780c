"""Dataset-level PQ evaluation (io + core + a thread or process pool).

:func:`evaluate_pq` matches GT and prediction annotations by image id, streams chunks of
images through a bounded thread pool (on the fast path each thread reads both PNGs with the
fused kernel and matches the segments with :func:`rapkit.kernels.pq_match.match_image`, both
releasing the GIL), merges
the per-chunk :class:`~rapkit.core.pq.PQStats` and summarizes them: the numbers ``==``
panopticapi's ``pq_compute`` run with one process.

The sanity check (``--check``, ``rapkit check``) lives in :mod:`rapkit.pipeline.check`;
the whole ``rapkit evaluate`` command (modes, option checks, the gate) is one call,
:func:`rapkit.pipeline.requests.run_evaluate`; the tables (per class, per image, A/B delta)
and the ``--fail-under`` gates are laid out by :mod:`rapkit.pipeline.pq_report`.

>>> ev, report = evaluate_pq("gt/panoptic.json", "out/panoptic.json", workers=2)   # doctest: +SKIP
>>> ev.result.all.pq                                                              # doctest: +SKIP
0.4312...
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._runtime.pool import imap_ordered, resolve_workers
from ..core.pq import PQResult, PQStats, merge_stats, summarize
from ..errors import InputError
from ..io.panoptic import PanopticDataset, SegmentArrays, load_panoptic, load_panoptic_arrays
from ..report import Report
from ..types import Category
from .pq_report import pq_report

# --------------------------------------------------------------------------- evaluation


@dataclass
class PQEvaluation:
    """What :func:`evaluate_pq` found: the summary, the merged statistics, bookkeeping."""

    result: PQResult
    stats: PQStats
    categories: dict[int, Category]
    n_images: int
    ignored_pred_images: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: with ``per_image=True``: one :class:`PQStats` per GT image, in GT order (they merge to ``stats``)
    per_image: list[PQStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = self.result.to_dict()
        d["ignored_pred_images"] = list(self.ignored_pred_images)
        d["warnings"] = list(self.warnings)
        return d


def _image_task(task: tuple, category_ids: frozenset[int]) -> PQStats:
    order, image_id, gt_png, pred_png, gt_segs, pred_segs, fast = task
    from ..core.pq import PairHistogram, pq_stats
    from ..io.png import read_pair_keys

    hist = PairHistogram.from_keys(*read_pair_keys(gt_png, pred_png, image_id=image_id, fast=fast))
    try:
        return pq_stats(hist, gt_segs, pred_segs, category_ids, image_id=image_id, order=order)
    except InputError as e:
        raise e.with_context(file=pred_png)


def _chunk_task(job: tuple[frozenset[int], list[tuple], bool]) -> tuple[int, PQStats, list[PQStats] | None]:
    # several images per task: fewer round trips and one merged result to send back
    # (with the per-image statistics too when asked)
    category_ids, chunk, keep = job
    parts = [_image_task(t, category_ids) for t in chunk]
    return len(chunk), merge_stats(parts), (parts if keep else None)


# --------------------------------------------------------------------------- the array path


@dataclass
class _PairTable:
    """GT and prediction segments of the images to evaluate, both in GT order, as arrays
    (:class:`~rapkit.io.panoptic.SegmentArrays`); categories numbered ``0..C-1`` (``cat_ids``,
    sorted; ``known[c]``: a category of the GT's list)."""

    cat_ids: np.ndarray
    known: np.ndarray
    g_off: np.ndarray
    g_id: np.ndarray
    g_cat: np.ndarray
    g_area: np.ndarray
    g_crowd: np.ndarray
    p_off: np.ndarray
    p_id: np.ndarray
    p_cat: np.ndarray


def _gather(arrays: SegmentArrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and entry index of ``arrays``' images ``rows``, in that order."""
    lens = arrays.offsets[rows + 1] - arrays.offsets[rows]
    off = np.zeros(rows.size + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    idx = np.repeat(arrays.offsets[rows] - off[:-1], lens) + np.arange(off[-1], dtype=np.int64)
    return off, idx


def _pair_table(g: SegmentArrays, p: SegmentArrays, p_rows: np.ndarray, cats: dict[int, Category]) -> _PairTable:
    known_ids = np.fromiter(cats, np.int64, len(cats))
    g_off, gi = _gather(g, np.arange(len(g.image_ids), dtype=np.int64))
    p_off, pi = _gather(p, p_rows)
    p_cat = p.category_id[pi]
    cat_ids = np.unique(np.concatenate([known_ids, g.category_id, p_cat]))
    return _PairTable(
        cat_ids,
        np.isin(cat_ids, known_ids),
        g_off,
        g.id[gi],
        np.searchsorted(cat_ids, g.category_id[gi]),
        g.area[gi],
        g.iscrowd[gi],
        p_off,
        p.id[pi],
        np.searchsorted(cat_ids, p_cat),
    )


def _table_chunk(t: _PairTable, k0: int, k1: int) -> _PairTable:
    """Images ``k0:k1`` of a table (views; offsets from 0)."""
    g0, g1, p0, p1 = t.g_off[k0], t.g_off[k1], t.p_off[k0], t.p_off[k1]
    return _PairTable(
        t.cat_ids,
        t.known,
        t.g_off[k0 : k1 + 1] - g0,
        t.g_id[g0:g1],
        t.g_cat[g0:g1],
        t.g_area[g0:g1],
        t.g_crowd[g0:g1],
        t.p_off[k0 : k1 + 1] - p0,
        t.p_id[p0:p1],
        t.p_cat[p0:p1],
    )


def _stats_from_arrays(
    cat_ids: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    orders: list[int],
    image_ids: list,
    n_matched: list[int],
    m_cat: list[np.ndarray],
    m_iou: list[np.ndarray],
) -> PQStats:
    def counts(a: np.ndarray) -> dict[int, int]:
        nz = np.flatnonzero(a)
        return dict(zip(cat_ids[nz].tolist(), a[nz].tolist()))

    nm = np.asarray(n_matched, np.int64)
    total = int(nm.sum())
    starts = np.zeros(nm.size, np.int64)
    np.cumsum(nm[:-1], out=starts[1:])
    return PQStats(
        tp=counts(tp),
        fp=counts(fp),
        fn=counts(fn),
        order=np.repeat(np.asarray(orders, np.int64), nm),
        rank=np.arange(total, dtype=np.int64) - np.repeat(starts, nm),
        category=cat_ids[np.concatenate(m_cat)] if total else np.zeros(0, np.int64),
        iou=np.concatenate(m_iou) if total else np.zeros(0, np.float64),
        orders=np.asarray(orders, np.int64),
        image_ids=list(image_ids),
    )


def _slow_image(t: _PairTable, j: int, keys: np.ndarray, counts: np.ndarray, item: tuple) -> PQStats:
    # the kernel found a problem: pq_stats words the error (or, should it find none, counts)
    from ..core.pq import PairHistogram, pq_stats

    order, image_id, _, pred_png = item
    g0, g1, p0, p1 = t.g_off[j], t.g_off[j + 1], t.p_off[j], t.p_off[j + 1]
    gseg = list(
        zip(
            t.g_id[g0:g1].tolist(),
            t.cat_ids[t.g_cat[g0:g1]].tolist(),
            t.g_area[g0:g1].tolist(),
            t.g_crowd[g0:g1].tolist(),
        )
    )
    pseg = [(i, c, 0, 0) for i, c in zip(t.p_id[p0:p1].tolist(), t.cat_ids[t.p_cat[p0:p1]].tolist())]
    known = frozenset(t.cat_ids[t.known].tolist())
    try:
        return pq_stats(PairHistogram.from_keys(keys, counts), gseg, pseg, known, image_id=image_id, order=order)
    except InputError as e:
        raise e.with_context(file=pred_png) from None


def _array_chunk(job: tuple[_PairTable, list[tuple], bool]) -> tuple[int, PQStats, list[PQStats] | None]:
    """Evaluate a chunk of images of the array path: items ``(order, image_id, gt_png,
    pred_png)``, the chunk's table; with ``keep`` the per-image statistics too."""
    from ..io.png import read_pair_keys
    from ..kernels.pq_match import match_image

    t, items, keep = job
    ncat = t.cat_ids.size
    crowd_of = np.full(ncat, -1, np.int64)
    tp, fp, fn = np.zeros(ncat, np.int64), np.zeros(ncat, np.int64), np.zeros(ncat, np.int64)
    n_matched: list[int] = []
    m_cat: list[np.ndarray] = []
    m_iou: list[np.ndarray] = []
    singles: list[PQStats] = []
    extra: list[PQStats] = []
    for j, item in enumerate(items):
        order, image_id, gt_png, pred_png = item
        keys, counts, _ = read_pair_keys(gt_png, pred_png, image_id=image_id)
        mc = np.empty(keys.size, np.int64)
        mi = np.empty(keys.size, np.float64)
        g0, g1, p0, p1 = t.g_off[j], t.g_off[j + 1], t.p_off[j], t.p_off[j + 1]
        a = (np.zeros(ncat, np.int64), np.zeros(ncat, np.int64), np.zeros(ncat, np.int64)) if keep else (tp, fp, fn)
        status, nm = match_image(
            keys,
            counts,
            t.g_id[g0:g1],
            t.g_cat[g0:g1],
            t.g_area[g0:g1],
            t.g_crowd[g0:g1],
            t.p_id[p0:p1],
            t.p_cat[p0:p1],
            t.known,
            a[0],
            a[1],
            a[2],
            crowd_of,
            mc,
            mi,
        )
        if status != 0:
            st = _slow_image(t, j, keys, counts, item)
            if keep:
                singles.append(st)
            else:
                extra.append(st)
            n_matched.append(0)
            continue
        n_matched.append(nm)
        m_cat.append(mc[:nm])
        m_iou.append(mi[:nm])
        if keep:
            singles.append(_stats_from_arrays(t.cat_ids, *a, [order], [image_id], [nm], [mc[:nm]], [mi[:nm]]))
    if keep:
        return len(items), merge_stats(singles), singles
    orders = [it[0] for it in items]
    ids = [it[1] for it in items]
    if extra:  # images the kernel left to pq_stats (they did not raise): merge them in
        done = {st.orders[0] for st in extra}
        keep_k = [k for k, o in enumerate(orders) if o not in done]
        main = _stats_from_arrays(
            t.cat_ids,
            tp,
            fp,
            fn,
            [orders[k] for k in keep_k],
            [ids[k] for k in keep_k],
            [n_matched[k] for k in keep_k],
            m_cat,
            m_iou,
        )
        return len(items), merge_stats([main, *extra]), None
    return len(items), _stats_from_arrays(t.cat_ids, tp, fp, fn, orders, ids, n_matched, m_cat, m_iou), None


def _chunks(items: Any, size: int) -> Any:
    buf: list = []
    for it in items:
        buf.append(it)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def load_gt_pred(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
) -> tuple[PanopticDataset, PanopticDataset, dict[int, Category]]:
    """Load a GT and a prediction panoptic JSON; categories come from the GT (as panopticapi).
    Segments are compact ``(id, category_id, area, iscrowd)`` tuples (what PQ needs)."""
    gt = load_panoptic(gt_json, gt_dir, compact=True)
    if not gt.categories:
        raise InputError("the GT panoptic JSON has no 'categories' list (PQ needs isthing per class)", file=gt_json)
    pred = load_panoptic(pred_json, pred_dir, check_categories=False, compact=True)
    _check_png_dirs(gt, pred)
    return gt, pred, gt.categories


def _ignored_warning(ignored: list) -> list[str]:
    if not ignored:
        return []
    shown = ", ".join(str(i) for i in ignored[:5]) + (", ..." if len(ignored) > 5 else "")
    return [f"{len(ignored)} predicted image(s) not in the GT were ignored: {shown}"]


def _check_missing(missing: list, pred_json: Any) -> None:
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"no prediction for this GT image{more}", file=pred_json, image_id=missing[0])


def _check_png_dirs(gt: PanopticDataset, pred: PanopticDataset) -> None:
    for d, what in ((gt, "GT"), (pred, "prediction")):
        if not d.png_dir.is_dir():
            raise InputError(
                f"{what} PNG folder {d.png_dir} does not exist (pass --{'gt' if what == 'GT' else 'pred'}-dir)",
                file=d.json_path,
            )


def _load_arrays(gt_json: Any, pred_json: Any, gt_dir: Any, pred_dir: Any) -> tuple:
    """:func:`load_gt_pred` with the segments as arrays (same checks, same errors)."""
    gt, g_arr = load_panoptic_arrays(gt_json, gt_dir)
    if not gt.categories:
        raise InputError("the GT panoptic JSON has no 'categories' list (PQ needs isthing per class)", file=gt_json)
    pred, p_arr = load_panoptic_arrays(pred_json, pred_dir, check_categories=False, areas=False)
    _check_png_dirs(gt, pred)
    return gt, g_arr, pred, p_arr


def _evaluate_arrays(
    gt: PanopticDataset,
    g_arr: SegmentArrays,
    pred: PanopticDataset,
    p_arr: SegmentArrays,
    pred_json: Any,
    workers: int,
    per_class: bool,
    per_image: bool,
    progress: Callable[[int], None] | None,
    on_start: Callable[[int], None] | None,
) -> tuple[PQEvaluation, Report]:
    cats = gt.categories
    p_row = p_arr.row_of()
    g_set = set(g_arr.image_ids)
    warnings = _ignored_warning(ignored := [iid for iid in p_arr.image_ids if iid not in g_set])
    _check_missing([iid for iid in g_arr.image_ids if iid not in p_row], pred_json)
    rows = np.fromiter((p_row[iid] for iid in g_arr.image_ids), np.int64, len(g_arr.image_ids))
    table = _pair_table(g_arr, p_arr, rows, cats)
    gdir, pdir = str(gt.png_dir), str(pred.png_dir)
    pnames = p_arr.file_names
    items = [
        (k, iid, os.path.join(gdir, g_arr.file_names[k]), os.path.join(pdir, pnames[r]))
        for k, (iid, r) in enumerate(zip(g_arr.image_ids, rows.tolist()))
    ]
    n = len(items)
    if on_start is not None:
        on_start(n)
    size = 16 if workers <= 1 else max(1, min(32, n // (8 * workers)))
    jobs = ((_table_chunk(table, k, min(n, k + size)), items[k : k + size], per_image) for k in range(0, n, size))
    results = imap_ordered(_array_chunk, jobs, workers, name="rapkit-pq")
    parts: list[PQStats] = []
    singles: list[PQStats] = []
    for k, st, one in results:
        parts.append(st)
        if one is not None:
            singles.extend(one)
        if progress is not None:
            progress(k)
    stats = merge_stats(parts)
    ev = PQEvaluation(summarize(stats, cats), stats, cats, stats.n_images, ignored, warnings, singles)
    return ev, pq_report(ev, per_class=per_class, per_image=per_image)


def evaluate_pq(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    *,
    workers: int = 1,
    per_class: bool = False,
    per_image: bool = False,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> tuple[PQEvaluation, Report]:
    """PQ / SQ / RQ of a panoptic prediction against a panoptic GT (panopticapi-exact).

    Images are evaluated in the order of the GT ``annotations``; every GT image needs a
    prediction (else :class:`InputError`); predictions for images not in the GT are ignored,
    counted and warned about. ``workers`` > 1 uses that many threads (``0``: every core);
    the result is the same bit for bit. ``on_start(n_images)`` is called once the inputs are validated,
    ``progress(n)`` as images complete. ``per_image=True`` keeps one :class:`PQStats` per
    image in ``ev.per_image`` (GT order; merged they are ``ev.stats``) and adds the per-image
    table to the report (:func:`per_image_rows`).

    >>> ev, rep = evaluate_pq("gt.json", "pred.json")   # doctest: +SKIP
    """
    workers = resolve_workers(workers)
    if fast:
        gt_d, g_arr, pred_d, p_arr = _load_arrays(gt_json, pred_json, gt_dir, pred_dir)
        if g_arr is not None and p_arr is not None:
            return _evaluate_arrays(
                gt_d, g_arr, pred_d, p_arr, pred_json, workers, per_class, per_image, progress, on_start
            )
    gt, pred, cats = load_gt_pred(gt_json, pred_json, gt_dir, pred_dir)
    ignored = [iid for iid in pred.annotations if iid not in gt.annotations]
    warnings = _ignored_warning(ignored)
    missing = [iid for iid in gt.annotations if iid not in pred.annotations]
    _check_missing(missing, pred_json)

    def tasks():
        for order, (iid, ga) in enumerate(gt.annotations.items()):
            pa = pred.annotations[iid]
            yield (
                order,
                iid,
                str(gt.png_dir / ga.file_name),
                str(pred.png_dir / pa.file_name),
                ga.segments,
                pa.segments,
                fast,
            )

    n = len(gt.annotations)
    if on_start is not None:
        on_start(n)
    size = 1 if workers <= 1 else max(1, min(32, n // (8 * workers)))
    parts = []
    singles: list[PQStats] = []
    cat_ids = frozenset(cats)
    for k, st, one in imap_ordered(
        _chunk_task, ((cat_ids, chunk, per_image) for chunk in _chunks(tasks(), size)), workers, name="rapkit-pq"
    ):
        parts.append(st)
        if one is not None:
            singles.extend(one)
        if progress is not None:
            progress(k)
    stats = merge_stats(parts)
    result = summarize(stats, cats)
    ev = PQEvaluation(result, stats, cats, stats.n_images, ignored, warnings, singles)
    return ev, pq_report(ev, per_class=per_class, per_image=per_image)


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

    >>> res = pq_compute("panoptic_val2017.json", "predictions.json")   # doctest: +SKIP
    >>> res["All"]["pq"]                                              # doctest: +SKIP
    """
    ev, _ = evaluate_pq(gt_json_file, pred_json_file, gt_folder, pred_folder, workers=workers)
    return ev.result.to_panopticapi()


__all__ = ["PQEvaluation", "evaluate_pq", "load_gt_pred", "pq_compute"]
