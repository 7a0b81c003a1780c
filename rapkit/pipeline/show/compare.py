"""``rapkit show compare``: two panoptic results side by side and the pixels where they
differ, coloured by which one matches the GT; ``top`` ranks the images by their PQ difference."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._runtime.pool import imap_ordered, resolve_workers
from ...core.agreement import agree_mask, segment_categories
from ...core.pq import pq_stats, summarize
from ...errors import ConfigError, InputError, RapkitError
from ...io._atomic import check_writable
from ...io.panoptic import load_panoptic, read_id_map
from ...io.pictures import write_png
from ...types import Category
from ...viz.draw import fit_size, resize_nearest
from ...viz.palette import A_RIGHT_COLOR, B_RIGHT_COLOR, DIFF_COLOR, NEITHER_COLOR
from ...viz.pictures import compare_panel, overlay, panels
from ._common import (
    Notify,
    ShowResult,
    base_image,
    check_alpha,
    check_png_dir,
    image_infos,
    image_sources,
    pick_categories,
    run_tasks,
    segments_of,
    select_images,
    unique_names,
)


def per_image_pq(
    gt_map: np.ndarray,
    gt_segments: Sequence[Any],
    pred_map: np.ndarray,
    pred_segments: Sequence[Any],
    categories: Mapping[int, Category],
    image_id: Any = None,
) -> float:
    """PQ (All, fraction) of one image with :func:`rapkit.core.pq.pq_stats` and
    :func:`~rapkit.core.pq.summarize`; an image with no class present counts as 0.

    >>> from rapkit.types import Segment
    >>> m = np.array([[1, 1]], np.uint32); s = [Segment(1, 1, 2, (0, 0, 2, 1))]
    >>> per_image_pq(m, s, m, s, {1: Category(1, "a", True)})
    1.0
    """
    st = pq_stats(gt_map, gt_segments, pred_segments, categories, pred_map=pred_map, image_id=image_id)
    v = summarize(st, categories).all.pq
    return 0.0 if math.isnan(v) else float(v)


def _compare_pq_task(args: tuple) -> tuple[int, float, float]:
    iid, gt_png, gt_segs, gt_shape, a_png, a_segs, b_png, b_segs, cats = args
    g = read_id_map(gt_png, image_id=iid, shape=gt_shape)
    a = read_id_map(a_png, image_id=iid, shape=g.shape)
    b = read_id_map(b_png, image_id=iid, shape=g.shape)
    try:
        pa = per_image_pq(g, gt_segs, a, a_segs, cats, iid)
    except RapkitError as e:
        raise e.with_context(file=a_png)
    try:
        pb = per_image_pq(g, gt_segs, b, b_segs, cats, iid)
    except RapkitError as e:
        raise e.with_context(file=b_png)
    return iid, pa, pb


def _compare_task(args: tuple) -> dict[str, Any]:
    (info, a_png, a_segs, b_png, b_segs, gt, cats, labels, image_path, alpha, max_size, extra, name, out_dir) = args
    iid = info.id
    shape = (info.height, info.width) if info.height else None
    a = read_id_map(a_png, image_id=iid, shape=shape)
    b = read_id_map(b_png, image_id=iid, shape=a.shape)
    ca = _cat_map(a, a_segs, a_png, iid)
    cb = _cat_map(b, b_segs, b_png, iid)
    differs = ~agree_mask(a, ca, b, cb)
    a_right = b_right = None
    if gt is not None:
        g_png, g_segs = gt
        g = read_id_map(g_png, image_id=iid, shape=a.shape)
        cg = _cat_map(g, g_segs, g_png, iid)
        a_right = agree_mask(a, ca, g, cg)
        b_right = agree_mask(b, cb, g, cg)
    h, w = a.shape
    size = fit_size(h, w, max_size)
    base = base_image(image_path, (h, w), size, iid)
    pa = overlay(base, resize_nearest(a, size), a_segs, cats, alpha=alpha, image_id=iid).rgb
    pb = overlay(base, resize_nearest(b, size), b_segs, cats, alpha=alpha, image_id=iid).rgb
    pd_ = compare_panel(
        base,
        resize_nearest(differs, size),
        None if a_right is None else resize_nearest(a_right, size),
        None if b_right is None else resize_nearest(b_right, size),
    )
    la, lb = labels
    if gt is None:
        t3: Any = [(DIFF_COLOR, f"differs ({int(differs.sum())} px)")]
    else:
        t3 = [(None, "matches GT:"), (A_RIGHT_COLOR, la), (B_RIGHT_COLOR, lb), (NEITHER_COLOR, "neither/both")]
    pic, _ = panels([pa, pb, pd_], [f"A: {la}", f"B: {lb}", t3])
    write_png(Path(out_dir) / name, pic)
    rec: dict[str, Any] = {"image_id": iid, "name": name, "differing_pixels": int(differs.sum())}
    if gt is not None:
        rec["a_right_pixels"] = int((differs & a_right & ~b_right).sum())
        rec["b_right_pixels"] = int((differs & b_right & ~a_right).sum())
    rec.update(extra)
    return rec


def _cat_map(ids: np.ndarray, segs: Mapping[int, int], file: Any, iid: int) -> np.ndarray:
    try:
        return segment_categories(ids, segs, image_id=iid)
    except RapkitError as e:
        raise e.with_context(file=file)


def show_compare(
    a_path: str | os.PathLike,
    b_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    a_dir: str | os.PathLike | None = None,
    b_dir: str | os.PathLike | None = None,
    gt_path: str | os.PathLike | None = None,
    gt_dir: str | os.PathLike | None = None,
    labels: tuple[str, str] = ("A", "B"),
    images_dir: str | os.PathLike | None = None,
    categories_path: str | os.PathLike | None = None,
    ids: Sequence[int] | None = None,
    first: int | None = None,
    top: int | None = None,
    alpha: float = 0.5,
    max_size: int | None = None,
    workers: int = 1,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    notify: Notify | None = None,
) -> ShowResult:
    """Side-by-side pictures of two panoptic results A and B and a third panel marking the
    pixels where they differ (:func:`rapkit.core.agreement.differ_mask`: category differs, or
    the two segments there are not each other's largest overlap). With ``gt_path`` the marks
    say which result agrees with the GT there (green A, magenta B, grey neither/both).
    ``top``: draw the ``top`` images of the selection (``ids``/``first``) with the largest
    ``|PQ_B - PQ_A|`` against the GT (needs ``gt_path``), largest first. Images: those of A also in B."""
    t0 = time.perf_counter()
    check_alpha(alpha)
    if top is not None and gt_path is None:
        raise ConfigError("--top ranks images by the PQ difference against the GT: pass --gt")
    check_writable(output, force)
    da = load_panoptic(a_path, a_dir, check_categories=categories_path is None)
    db = load_panoptic(b_path, b_dir, check_categories=categories_path is None)
    dg = load_panoptic(gt_path, gt_dir, check_categories=categories_path is None) if gt_path is not None else None
    cats = pick_categories(categories_path, da.categories, db.categories, dg.categories if dg else {})
    for d in (da, db, *([dg] if dg else [])):
        check_png_dir(d)
    common = [i for i in da.annotations if i in db.annotations and (dg is None or i in dg.annotations)]
    if ids is not None:
        for i in ids:
            for d, p in ((da, a_path), (db, b_path), *(((dg, gt_path),) if dg else ())):
                if i not in d.annotations:
                    raise InputError("image id given with --ids is not in this file", file=p, image_id=i)
    elif not common:
        raise InputError(f"no image is in both {a_path} and {b_path}{' and the GT' if dg else ''}", file=b_path)
    chosen = select_images(common, ids, first, file=a_path)
    for i in chosen:
        for d, p in ((da, a_path), (db, b_path), *(((dg, gt_path),) if dg else ())):
            for sid, cid in segments_of(d.annotations[i]).items():
                if cid not in cats:
                    raise InputError(f"category {cid} is not in the categories", file=p, image_id=i, segment_id=sid)
            png = d.png_dir / d.annotations[i].file_name
            if not png.is_file():
                raise InputError("panoptic PNG not found", file=png, image_id=i)
    infos = image_infos(da)
    if dg is not None:
        infos = {i: (dg.images.get(i) or infos[i]) for i in infos}
    extras: dict[int, dict[str, Any]] = {i: {} for i in chosen}
    if top is not None:
        assert dg is not None
        ptasks = []
        for i in chosen:
            info = infos[i]
            ptasks.append(
                (
                    i,
                    str(dg.png_dir / dg.annotations[i].file_name),
                    dg.annotations[i].segments,
                    (info.height, info.width) if info.height else None,
                    str(da.png_dir / da.annotations[i].file_name),
                    da.annotations[i].segments,
                    str(db.png_dir / db.annotations[i].file_name),
                    db.annotations[i].segments,
                    cats,
                )
            )
        w = resolve_workers(workers)
        scores = list(imap_ordered(_compare_pq_task, ptasks, min(w, max(1, len(ptasks)))))
        position = {iid: k for k, iid in enumerate(chosen)}
        scores.sort(key=lambda r: (-abs(r[1] - r[2]), position[r[0]]))
        scores = scores[:top]
        chosen = [r[0] for r in scores]
        for iid, pa, pb in scores:
            extras[iid] = {"a": {"pq": pa}, "b": {"pq": pb}, "dpq": pb - pa}
    sel = [infos[i] for i in chosen]
    names = unique_names(sel, a_path)
    sources, missing = image_sources(images_dir, sel, notify)
    if on_start is not None:
        on_start(len(sel))
    tasks = []
    for info, src, name in zip(sel, sources, names):
        i = info.id
        gt = (str(dg.png_dir / dg.annotations[i].file_name), segments_of(dg.annotations[i])) if dg is not None else None
        tasks.append(
            (
                info,
                str(da.png_dir / da.annotations[i].file_name),
                segments_of(da.annotations[i]),
                str(db.png_dir / db.annotations[i].file_name),
                segments_of(db.annotations[i]),
                gt,
                cats,
                tuple(labels),
                src,
                alpha,
                max_size,
                extras[i],
                name,
            )
        )
    return run_tasks("compare", output, force, tasks, _compare_task, workers, progress, missing, t0, a_path)


__all__ = ["per_image_pq", "show_compare"]
