"""Dataset-level PQ evaluation (io + core + a thread or process pool).

:func:`evaluate_pq` matches GT and prediction annotations by image id, streams chunks of
images through a bounded pool (threads on the fast path: each reads both PNGs with the fused
kernel and matches the segments with :func:`rapkit.kernels.pq_match.match_image`, both
releasing the GIL; processes for the PIL decoder or when ``RAPKIT_MP_START`` is set), merges
the per-chunk :class:`~rapkit.core.pq.PQStats` and summarizes them: the numbers ``==``
panopticapi's ``pq_compute`` run with one process.

The sanity check (``--check``, ``rapkit check``) lives in :mod:`rapkit.pipeline.check`;
the whole ``rapkit evaluate`` command (modes, option checks, the gate) is one call,
:func:`rapkit.pipeline.requests.run_evaluate`.

>>> ev, report = evaluate_pq("gt/panoptic.json", "out/panoptic.json", workers=2)   # doctest: +SKIP
>>> ev.result.all.pq                                                              # doctest: +SKIP
0.4312...
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.pq import PQResult, PQStats, merge_stats, summarize
from ..errors import InputError
from ..io.panoptic import PanopticDataset, SegmentArrays, load_panoptic, load_panoptic_arrays
from ..report import Report, Table
from ..types import Category

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


# modules the forkserver loads once for all workers (kernels from numba's cache, the task code)
_PRELOAD = ("rapkit.kernels.warm", "rapkit.io.png", "rapkit.core.pq", "rapkit.pipeline.evaluate")


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


def _tune_worker_allocator() -> None:
    # Each image inflates two ~1 MB buffers; with glibc's defaults a fresh worker maps and
    # unmaps them per image (hundreds of page faults each). Keep them in the heap.
    from .fuse import tune_allocator

    tune_allocator()


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


def _pool_kind(workers: int, fast: bool) -> str:
    """``"none"`` (one worker), ``"thread"`` (the array path: its kernels and inflate release
    the GIL) or ``"process"`` (the PIL decoder, or ``RAPKIT_MP_START`` set)."""
    if workers <= 1:
        return "none"
    if fast and not os.environ.get("RAPKIT_MP_START"):
        return "thread"
    return "process"


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


def _load_arrays_nogc(gt_json: Any, pred_json: Any, gt_dir: Any, pred_dir: Any) -> tuple:
    gc_was_on = gc.isenabled()
    gc.disable()  # parsing makes ~10^5 long-lived containers: no collector passes over them meanwhile
    try:
        return _load_arrays(gt_json, pred_json, gt_dir, pred_dir)
    finally:
        if gc_was_on:
            gc.enable()


def _kernels_imported() -> bool:
    return "rapkit.kernels.pq_match" in sys.modules


def _import_kernels() -> None:
    """Import numba and the array path's kernels (their compiled code loads on first call)."""
    from ..io import png  # noqa: F401
    from ..kernels import png as png_kernels  # noqa: F401
    from ..kernels import pq_match  # noqa: F401


def _evaluate_arrays(
    gt: PanopticDataset,
    g_arr: SegmentArrays,
    pred: PanopticDataset,
    p_arr: SegmentArrays,
    pred_json: Any,
    workers: int,
    pool: str,
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
    if pool != "process":
        _tune_worker_allocator()  # the inflated rows (about 1 MB per PNG) come from the heap
    jobs = ((_table_chunk(table, k, min(n, k + size)), items[k : k + size], per_image) for k in range(0, n, size))
    if pool == "none":
        results = map(_array_chunk, jobs)
    elif pool == "thread":
        results = _thread_map(_array_chunk, jobs, workers)
    else:
        from ..core.parallel import imap_ordered

        results = imap_ordered(
            _array_chunk,
            jobs,
            workers,
            initializer=_tune_worker_allocator if workers > 1 else None,
            preload=_PRELOAD,
            prefer_fork=True,
        )
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


def _thread_map(fn: Callable[[Any], Any], jobs: Any, workers: int) -> Any:
    """``fn`` over ``jobs`` in ``workers`` threads, results in order, at most ``2 * workers``
    jobs in flight."""
    import collections
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rapkit-pq") as ex:
        pending: collections.deque = collections.deque()
        try:
            for job in jobs:
                pending.append(ex.submit(fn, job))
                while len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


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
    counted and warned about. ``workers`` > 1 uses that many threads (processes with
    ``fast=False`` or ``RAPKIT_MP_START`` set); the result is the same bit for bit. ``on_start(n_images)`` is called once the inputs are validated,
    ``progress(n)`` as images complete. ``per_image=True`` keeps one :class:`PQStats` per
    image in ``ev.per_image`` (GT order; merged they are ``ev.stats``) and adds the per-image
    table to the report (:func:`per_image_rows`).

    >>> ev, rep = evaluate_pq("gt.json", "pred.json")   # doctest: +SKIP
    """
    pool = _pool_kind(workers, fast)
    if pool == "process":
        from ..core.parallel import prestart

        # fork (single-threaded caller): workers inherit the kernels loaded here; otherwise
        # the forkserver loads them once, booting while the JSON files are read
        prestart(_PRELOAD, prefer_fork=True)
        if threading.active_count() == 1 and not os.environ.get("RAPKIT_MP_START"):
            import rapkit.kernels.warm  # noqa: F401
    if fast:
        if pool == "thread" and not _kernels_imported():
            # two cores or more: a forked child reads the JSON files while this process
            # imports numba and the PQ kernels (both are serial, GIL-bound work)
            from ..core.parallel import fork_call

            loading = fork_call(_load_arrays_nogc, gt_json, pred_json, gt_dir, pred_dir)
            try:
                _import_kernels()
                gt_d, g_arr, pred_d, p_arr = loading.result()
            finally:
                loading.cancel()
        else:
            gt_d, g_arr, pred_d, p_arr = _load_arrays_nogc(gt_json, pred_json, gt_dir, pred_dir)
        if g_arr is not None and p_arr is not None:
            return _evaluate_arrays(
                gt_d, g_arr, pred_d, p_arr, pred_json, workers, pool, per_class, per_image, progress, on_start
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
    from ..core.parallel import imap_ordered

    for k, st, one in imap_ordered(
        _chunk_task,
        ((cat_ids, chunk, per_image) for chunk in _chunks(tasks(), size)),
        workers,
        initializer=_tune_worker_allocator if workers > 1 else None,
        preload=(_PRELOAD if fast else ()),
        prefer_fork=True,
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


def _pct(v: float) -> float:
    return 100.0 * v


def pq_report(ev: PQEvaluation, per_class: bool = False, per_image: bool = False) -> Report:
    """The familiar PQ table (All / Things / Stuff x PQ SQ RQ N, x100), per-class rows with
    TP/FP/FN when ``per_class``, per-image rows (PQ, PQ^Th, TP, FP, FN) when ``per_image``;
    JSON data with fractions (the renderer gives percent)."""
    r = ev.result
    rows = [
        [name, _pct(s.pq), _pct(s.sq), _pct(s.rq), s.n]
        for name, s in (("All", r.all), ("Things", r.things), ("Stuff", r.stuff))
    ]
    tables = [Table("pq", ["", "PQ", "SQ", "RQ", "N"], rows, title=f"Panoptic quality ({ev.n_images} images)")]
    if per_class:
        present = [c for c in r.per_class.values() if c.tp + c.fp + c.fn > 0]
        crow = [
            [
                c.name,
                c.category_id,
                "thing" if c.isthing else "stuff",
                _pct(c.pq),
                _pct(c.sq),
                _pct(c.rq),
                c.tp,
                c.fp,
                c.fn,
            ]
            for c in present
        ]
        absent = len(r.per_class) - len(present)
        title = "Per class" + (f" ({absent} classes absent from GT and prediction not shown)" if absent else "")
        tables.append(
            Table("per_class", ["class", "id", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"], crow, title=title)
        )
    data = ev.to_dict()
    if not per_class:
        data.pop("per_class", None)
    if per_image:
        rows = per_image_rows(ev)
        tables.append(
            Table(
                "per_image",
                ["image", "PQ", "PQ^Th", "TP", "FP", "FN"],
                [[r["image_id"], _pct(r["pq"]), _pct(r["pq_th"]), r["tp"], r["fp"], r["fn"]] for r in rows],
                title=f"Per image ({len(rows)} images, GT order; PQ of an image with no class present: -)",
            )
        )
        data["per_image"] = rows
    return Report("evaluate", data, tables)


# --------------------------------------------------------------------------- per image


def image_row(stats: PQStats, categories: dict[int, Category]) -> dict[str, Any]:
    """One image's ``{image_id, pq, pq_th, tp, fp, fn}`` (fractions; PQ NaN when no class is
    present in the image, PQ^Th NaN when no thing class is).

    >>> from rapkit.core.pq import PQStats
    >>> image_row(PQStats(fn={1: 2}, image_ids=[7]), {1: Category(1, "a", True)})
    {'image_id': 7, 'pq': 0.0, 'pq_th': 0.0, 'tp': 0, 'fp': 0, 'fn': 2}
    """
    r = summarize(stats, categories)
    iid = stats.image_ids[0] if len(stats.image_ids) == 1 else None
    return {
        "image_id": iid,
        "pq": r.all.pq,
        "pq_th": r.things.pq,
        "tp": sum(stats.tp.values()),
        "fp": sum(stats.fp.values()),
        "fn": sum(stats.fn.values()),
    }


def per_image_rows(ev: PQEvaluation) -> list[dict[str, Any]]:
    """:func:`image_row` of every image of an :func:`evaluate_pq` run with ``per_image=True``."""
    return [image_row(s, ev.categories) for s in ev.per_image]


def _nan0(v: float) -> float:
    import math

    return 0.0 if math.isnan(v) else v


def delta_rows(a: PQEvaluation, b: PQEvaluation) -> list[dict[str, Any]]:
    """Per image: the rows of A and B and ``dpq`` = PQ(B) - PQ(A), sorted by ``|dpq|``
    (largest first; ties in GT order). An image with no class present (PQ NaN) counts as 0
    in ``dpq``, as in ``rapkit show compare --top``.

    Both runs must cover the same GT images (two :func:`evaluate_pq` runs with ``per_image``
    against one GT).
    """
    ra, rb = per_image_rows(a), per_image_rows(b)
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


def delta_report(a: PQEvaluation, b: PQEvaluation, names: tuple[str, str] = ("A", "B")) -> Report:
    """``evaluate --per-image --pred A --pred B``: both PQ tables and the per-image ΔPQ table
    (PQ(B) - PQ(A), largest |ΔPQ| first), in percent; data under ``A``, ``B``, ``per_image``."""
    ta = pq_report(a).tables[0]
    tb = pq_report(b).tables[0]
    ta = Table("pq_a", ta.columns, ta.rows, title=f"A: {names[0]} - panoptic quality ({a.n_images} images)")
    tb = Table("pq_b", tb.columns, tb.rows, title=f"B: {names[1]} - panoptic quality ({b.n_images} images)")
    rows = delta_rows(a, b)
    table = Table(
        "per_image",
        ["image", "dPQ (B-A)", "PQ A", "PQ B", "PQ^Th A", "PQ^Th B", "TP A", "TP B", "FP A", "FP B", "FN A", "FN B"],
        [
            [
                r["image_id"],
                _pct(r["dpq"]),
                _pct(r["a"]["pq"]),
                _pct(r["b"]["pq"]),
                _pct(r["a"]["pq_th"]),
                _pct(r["b"]["pq_th"]),
                r["a"]["tp"],
                r["b"]["tp"],
                r["a"]["fp"],
                r["b"]["fp"],
                r["a"]["fn"],
                r["b"]["fn"],
            ]
            for r in rows
        ],
        title=f"Per image: dPQ = PQ(B) - PQ(A), largest |dPQ| first ({len(rows)} images)",
    )
    da, db = a.to_dict(), b.to_dict()
    for d, name in ((da, names[0]), (db, names[1])):
        d.pop("per_class", None)
        d["pred"] = name
    data = {
        "n_images": a.n_images,
        "A": da,
        "B": db,
        "per_image": rows,
        "warnings": list(dict.fromkeys(a.warnings + b.warnings)),
    }
    return Report("evaluate", data, [ta, tb, table])


# --------------------------------------------------------------------------- combined reports


def combine_reports(kind: str, parts: list[tuple[str | None, Report]]) -> Report:
    """One report from several: tables concatenated; data of a named part under its name,
    of an unnamed part at top level."""
    data: dict[str, Any] = {}
    tables: list[Table] = []
    notes: list[str] = []
    for key, r in parts:
        if key is None:
            data.update(r.data)
        else:
            data[key] = r.data
        tables.extend(r.tables)
        notes.extend(r.notes)
    return Report(kind, data, tables, notes)


# --------------------------------------------------------------------------- gates

GATE_KEYS = {
    "PQ": ("all", "pq"),
    "SQ": ("all", "sq"),
    "RQ": ("all", "rq"),
    "PQ_th": ("things", "pq"),
    "SQ_th": ("things", "sq"),
    "RQ_th": ("things", "rq"),
    "PQ_st": ("stuff", "pq"),
    "SQ_st": ("stuff", "sq"),
    "RQ_st": ("stuff", "rq"),
}


def parse_gates(spec: str | None) -> dict[str, float]:
    """``"PQ=50,PQ_th=40"`` -> ``{"PQ": 50.0, "PQ_th": 40.0}`` (values x100, keys
    case-insensitive: PQ SQ RQ, with _th / _st for Things / Stuff).

    >>> parse_gates("pq=50, RQ_st=40.5")
    {'PQ': 50.0, 'RQ_st': 40.5}
    """
    from ..errors import ConfigError

    out: dict[str, float] = {}
    if not spec:
        return out
    lookup = {k.lower(): k for k in GATE_KEYS}
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        k = lookup.get(key.strip().lower())
        if not sep or k is None:
            raise ConfigError(f"--fail-under: {part!r} is not KEY=VALUE with KEY one of {', '.join(GATE_KEYS)}")
        try:
            out[k] = float(val)
        except ValueError:
            raise ConfigError(f"--fail-under: {val.strip()!r} is not a number (in {part!r})") from None
    return out


def check_gates(result: PQResult, gates: dict[str, float]) -> list[str]:
    """The gates ``result`` fails (NaN fails), as messages; empty when all pass.

    >>> from rapkit.core.pq import PQStats, summarize
    >>> check_gates(summarize(PQStats(), {}), {"PQ": 1.0})
    ['PQ nan < 1']
    """
    failed = []
    for key, bar in gates.items():
        split, metric = GATE_KEYS[key]
        v = 100.0 * getattr(result.split(split), metric)
        if not v >= bar:
            failed.append(f"{key} {v:.4g} < {bar:g}")
    return failed


__all__ = [
    "PQEvaluation",
    "evaluate_pq",
    "pq_compute",
    "pq_report",
    "image_row",
    "per_image_rows",
    "delta_rows",
    "delta_report",
    "combine_reports",
    "parse_gates",
    "check_gates",
    "load_gt_pred",
]
