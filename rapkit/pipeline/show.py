"""``rapkit show`` as library calls: pictures of panoptic results, comparisons, relations, charts.

Each function reads its inputs, validates the image selection before anything is written,
draws the pictures (:mod:`rapkit.viz`) in a bounded thread pool and writes them
as PNGs into an output folder that appears only when complete (:mod:`rapkit.io._atomic`;
an existing folder needs ``force``). Picture names: the image's file name stem + ``.png``
(``OUT/000000000139.png``); charts: ``sweep.png``, ``ablation.png``, ``relation_gap.png``.

* :func:`show_overlay` — an image with a panoptic result on top;
* :func:`show_compare` — two panoptic results side by side and the pixels where they
  differ, coloured by which one matches the GT (``top``: the images where they differ most
  in PQ);
* :func:`show_relations` — arrows from front to back instance, coloured correct/wrong by
  the proposals' relation values;
* :func:`show_charts` — Table 1 / Table 2 / the per-category relation gap as charts
  (needs matplotlib, the extra ``rapkit[plot]``).

>>> res = show_overlay("fused/panoptic.json", "pictures/", images_dir="world/images")  # doctest: +SKIP
>>> [p["path"] for p in res.pictures]                                               # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError, RapkitError
from ..types import Category, ImageInfo
from ..viz.charts import require_matplotlib

Notify = Callable[[str], None]


@dataclass
class ShowResult:
    """What a show run wrote: one entry per picture (``image_id``, ``path`` and per-kind
    extras such as ``pq_a``/``pq_b``/``dpq`` for ``compare --top``), and how many images
    were drawn on a grey background because their file was missing."""

    kind: str
    output: str
    pictures: list[dict[str, Any]] = field(default_factory=list)
    missing_images: int = 0
    seconds: float = 0.0

    def report(self):
        """A :class:`rapkit.report.Report` listing the written files."""
        from ..report import Report, Table

        if self.kind == "charts":
            cols = ["chart", "source", "path"]
            rows = [[p["chart"], p["source"], p["path"]] for p in self.pictures]
            t = Table("pictures", cols, rows, title=f"rapkit show charts -> {self.output}")
            return Report("show", self._data(), [t])
        extra = [
            k
            for k in ("differing_pixels", "relations", "correct", "wrong", "unmatched")
            if any(k in p for p in self.pictures)
        ]
        top = any("dpq" in p for p in self.pictures)
        cols = ["image_id", *extra, *(["PQ A", "PQ B", "dPQ"] if top else []), "path"]
        rows = []
        for p in self.pictures:
            row: list[Any] = [p["image_id"]]
            row += [p.get(k, "") for k in extra]
            if top:
                row += [100.0 * p["a"]["pq"], 100.0 * p["b"]["pq"], 100.0 * p["dpq"]]
            row.append(p["path"])
            rows.append(row)
        t = Table("pictures", cols, rows, title=f"rapkit show {self.kind} -> {self.output}", decimals=2)
        return Report("show", self._data(), [t])

    def _data(self) -> dict[str, Any]:
        return {
            "picture": self.kind,
            "output": self.output,
            "pictures": self.pictures,
            "missing_images": self.missing_images,
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------- selection


def select_images(
    available: Sequence[int], ids: Sequence[int] | None = None, first: int | None = None, *, file: Any = None
) -> list[int]:
    """The images to draw: ``ids`` (in the order given; each must be in ``available``),
    else every available image, then cut to the ``first`` ones.

    >>> select_images([1, 2, 3], first=2), select_images([1, 2, 3], ids=[3, 1])
    ([1, 2], [3, 1])
    """
    avail = list(available)
    if ids is not None:
        known = set(avail)
        for i in ids:
            if i not in known:
                raise InputError("image id given with --ids is not in this file", file=file, image_id=i)
        chosen = list(dict.fromkeys(ids))
    else:
        chosen = avail
    if first is not None:
        chosen = chosen[:first]
    return chosen


def _picture_name(info: ImageInfo) -> str:
    stem = Path(info.file_name).stem if info.file_name else ""
    return (stem or f"{info.id:012d}") + ".png"


def _unique_names(infos: Sequence[ImageInfo], file: Any) -> list[str]:
    names = [_picture_name(i) for i in infos]
    seen: dict[str, int] = {}
    for info, n in zip(infos, names):
        if n in seen:
            raise InputError(
                f"images {seen[n]} and {info.id} map to the same picture name {n}", file=file, image_id=info.id
            )
        seen[n] = info.id
    return names


def _image_sources(images_dir: Any, infos: Sequence[ImageInfo], notify: Notify | None) -> tuple[list[str | None], int]:
    """The image file of each image (None = draw on grey); says once how many are missing."""
    from ..io.pictures import image_file

    if images_dir is not None and not Path(images_dir).is_dir():
        raise InputError("image folder not found (--images)", file=images_dir)
    paths = [image_file(images_dir, i) for i in infos]
    missing = [i for i, p in zip(infos, paths) if p is None]
    if missing and notify is not None:
        if images_dir is None:
            notify("no --images folder: pictures are drawn on a grey background")
        else:
            ex = missing[0].file_name or f"image {missing[0].id}"
            notify(
                f"{len(missing)} of {len(infos)} images not found under {images_dir} (e.g. {ex}): "
                "drawn on a grey background"
            )
    return [str(p) if p is not None else None for p in paths], len(missing)


def _base_image(path: str | None, shape: tuple[int, int], size: tuple[int, int], image_id: int) -> np.ndarray:
    from ..io.pictures import read_image
    from ..viz.draw import grey_image

    if path is None:
        return grey_image(size)
    return read_image(path, image_id=image_id, size=size, expect=shape)


def _categories(explicit: str | os.PathLike | None, *fallbacks: Mapping[int, Category]) -> dict[int, Category]:
    from ..io.panoptic import load_categories

    if explicit is not None:
        return load_categories(explicit)
    for f in fallbacks:
        if f:
            return dict(f)
    raise InputError("no categories: the panoptic JSON has no 'categories'; pass --categories C.json")


def _infos(ds: Any) -> dict[int, ImageInfo]:
    """ImageInfo of every annotated image (from ``images`` where listed; else the PNG name,
    size read from the PNG)."""
    out = {}
    for iid, ann in ds.annotations.items():
        info = ds.images.get(iid)
        out[iid] = info if info is not None else ImageInfo(iid, ann.file_name, 0, 0)
    return out


def _segments(ann: Any) -> dict[int, int]:
    return {int(s.id): int(s.category_id) for s in ann.segments}


def _check_png_dir(ds: Any) -> None:
    if not ds.png_dir.is_dir():
        raise InputError(
            "panoptic PNG folder not found (default: the JSON's name without .json; pass --panoptic-dir)",
            file=ds.png_dir,
        )


def _run(
    kind: str,
    output: Any,
    force: bool,
    tasks: list[tuple],
    fn: Callable,
    workers: int,
    progress: Callable[[int], None] | None,
    missing: int,
    t0: float,
    file: Any,
) -> ShowResult:
    from .._runtime.pool import imap_ordered, resolve_workers
    from ..io._atomic import atomic_path

    workers = min(resolve_workers(workers), max(1, len(tasks)))
    res = ShowResult(kind, str(output), missing_images=missing)
    with atomic_path(output, force, directory=True) as tmp:
        full = [(*t, str(tmp)) for t in tasks]
        try:
            for rec in imap_ordered(fn, full, workers, on_result=(lambda r: progress(1)) if progress else None):
                rec["path"] = str(Path(output) / rec.pop("name"))
                res.pictures.append(rec)
        except RapkitError as e:
            raise e.with_context(file=file)
    res.seconds = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- overlay


def _overlay_task(args: tuple) -> dict[str, Any]:
    from ..io.panoptic import read_id_map
    from ..io.pictures import write_png
    from ..viz.draw import fit_size, resize_nearest
    from ..viz.pictures import overlay

    info, png, segs, cats, image_path, alpha, max_size, name, out_dir = args
    try:
        shape = (info.height, info.width) if info.height else None
        ids = read_id_map(png, image_id=info.id, shape=shape)
        h, w = ids.shape
        size = fit_size(h, w, max_size)
        base = _base_image(image_path, (h, w), size, info.id)
        pic = overlay(base, resize_nearest(ids, size), segs, cats, alpha=alpha, image_id=info.id)
    except RapkitError as e:
        raise e.with_context(file=png, image_id=info.id)
    write_png(Path(out_dir) / name, pic.rgb)
    return {"image_id": info.id, "name": name, "segments": len(segs), "labels": len(pic.boxes)}


def show_overlay(
    panoptic_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    panoptic_dir: str | os.PathLike | None = None,
    images_dir: str | os.PathLike | None = None,
    categories_path: str | os.PathLike | None = None,
    ids: Sequence[int] | None = None,
    first: int | None = None,
    alpha: float = 0.5,
    max_size: int | None = None,
    workers: int = 1,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    notify: Notify | None = None,
) -> ShowResult:
    """Overlay pictures of a COCO panoptic result (JSON + PNG folder: GT, ``rapkit fuse``
    output, another tool's): category colours at opacity ``alpha``, white 1-px contours
    between segments, a label (category name and id) per segment. Categories come from
    ``categories_path`` or the JSON's ``categories``. Images missing from ``images_dir`` are
    drawn on grey (``notify`` says so once)."""
    from ..io._atomic import check_writable
    from ..io.panoptic import load_panoptic

    t0 = time.perf_counter()
    _check_alpha(alpha)
    check_writable(output, force)
    ds = load_panoptic(panoptic_path, panoptic_dir, check_categories=categories_path is None)
    cats = _categories(categories_path, ds.categories)
    _check_png_dir(ds)
    infos = _infos(ds)
    chosen = select_images(list(ds.annotations), ids, first, file=panoptic_path)
    sel = [infos[i] for i in chosen]
    for i in chosen:
        for sid, cid in _segments(ds.annotations[i]).items():
            if cid not in cats:
                raise InputError(
                    f"category {cid} is not in the categories",
                    file=categories_path or panoptic_path,
                    image_id=i,
                    segment_id=sid,
                )
        png = ds.png_dir / ds.annotations[i].file_name
        if not png.is_file():
            raise InputError("panoptic PNG not found", file=png, image_id=i)
    names = _unique_names(sel, panoptic_path)
    sources, missing = _image_sources(images_dir, sel, notify)
    if on_start is not None:
        on_start(len(sel))
    tasks = [
        (
            info,
            str(ds.png_dir / ds.annotations[info.id].file_name),
            _segments(ds.annotations[info.id]),
            cats,
            src,
            alpha,
            max_size,
            name,
        )
        for info, src, name in zip(sel, sources, names)
    ]
    return _run("overlay", output, force, tasks, _overlay_task, workers, progress, missing, t0, panoptic_path)


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha}")


# --------------------------------------------------------------------------- compare


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
    from ..core.pq import pq_stats, summarize

    st = pq_stats(gt_map, gt_segments, pred_segments, categories, pred_map=pred_map, image_id=image_id)
    v = summarize(st, categories).all.pq
    return 0.0 if math.isnan(v) else float(v)


def _compare_pq_task(args: tuple) -> tuple[int, float, float]:
    iid, gt_png, gt_segs, gt_shape, a_png, a_segs, b_png, b_segs, cats = args
    from ..io.panoptic import read_id_map

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
    from ..core.agreement import agree_mask
    from ..io.panoptic import read_id_map
    from ..io.pictures import write_png
    from ..viz.draw import fit_size, resize_nearest
    from ..viz.pictures import compare_panel, overlay, panels

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
    base = _base_image(image_path, (h, w), size, iid)
    pa = overlay(base, resize_nearest(a, size), a_segs, cats, alpha=alpha, image_id=iid).rgb
    pb = overlay(base, resize_nearest(b, size), b_segs, cats, alpha=alpha, image_id=iid).rgb
    pd_ = compare_panel(
        base,
        resize_nearest(differs, size),
        None if a_right is None else resize_nearest(a_right, size),
        None if b_right is None else resize_nearest(b_right, size),
    )
    from ..viz.palette import A_RIGHT_COLOR, B_RIGHT_COLOR, DIFF_COLOR, NEITHER_COLOR

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
    from ..core.agreement import segment_categories

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
    from ..io._atomic import check_writable
    from ..io.panoptic import load_panoptic

    t0 = time.perf_counter()
    _check_alpha(alpha)
    if top is not None and gt_path is None:
        raise ConfigError("--top ranks images by the PQ difference against the GT: pass --gt")
    check_writable(output, force)
    da = load_panoptic(a_path, a_dir, check_categories=categories_path is None)
    db = load_panoptic(b_path, b_dir, check_categories=categories_path is None)
    dg = load_panoptic(gt_path, gt_dir, check_categories=categories_path is None) if gt_path is not None else None
    cats = _categories(categories_path, da.categories, db.categories, dg.categories if dg else {})
    for d in (da, db, *([dg] if dg else [])):
        _check_png_dir(d)
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
            for sid, cid in _segments(d.annotations[i]).items():
                if cid not in cats:
                    raise InputError(f"category {cid} is not in the categories", file=p, image_id=i, segment_id=sid)
            png = d.png_dir / d.annotations[i].file_name
            if not png.is_file():
                raise InputError("panoptic PNG not found", file=png, image_id=i)
    infos = _infos(da)
    if dg is not None:
        infos = {i: (dg.images.get(i) or infos[i]) for i in infos}
    extras: dict[int, dict[str, Any]] = {i: {} for i in chosen}
    if top is not None:
        from .._runtime.pool import imap_ordered, resolve_workers

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
    names = _unique_names(sel, a_path)
    sources, missing = _image_sources(images_dir, sel, notify)
    if on_start is not None:
        on_start(len(sel))
    tasks = []
    for info, src, name in zip(sel, sources, names):
        i = info.id
        gt = (str(dg.png_dir / dg.annotations[i].file_name), _segments(dg.annotations[i])) if dg is not None else None
        tasks.append(
            (
                info,
                str(da.png_dir / da.annotations[i].file_name),
                _segments(da.annotations[i]),
                str(db.png_dir / db.annotations[i].file_name),
                _segments(db.annotations[i]),
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
    return _run("compare", output, force, tasks, _compare_task, workers, progress, missing, t0, a_path)


# --------------------------------------------------------------------------- relations


def _relations_task(args: tuple) -> dict[str, Any]:
    from ..io.coco import decode_instances, full_mask
    from ..io.pictures import write_png
    from ..viz.draw import fit_size, resize_nearest
    from ..viz.pictures import DrawnRelation, panels, relations_legend, relations_picture

    info, anns, pairs, props, cats, image_path, max_size, inst_file, name, out_dir = args
    iid = info.id
    h, w = info.height, info.width
    insts = decode_instances(anns, h, w, file=inst_file, image_id=iid, fast=False)
    status: dict[tuple[int, int], str | None] = {p: None for p in pairs}
    if props is not None:
        from ..core.fusion import decode_scene
        from ..core.relation_acc import match_proposals

        scene = decode_scene(props)
        match = match_proposals(scene, [m for m in insts if not m.iscrowd])
        prop_of = {int(g): k for k, g in enumerate(match.tolist()) if g >= 0}
        rel = scene.relations
        for f, b in pairs:
            pf, pb = prop_of.get(f), prop_of.get(b)
            if pf is None or pb is None:
                status[(f, b)] = "unmatched"
            else:
                status[(f, b)] = "correct" if rel[pf] < rel[pb] else "wrong"
    size = fit_size(h, w, max_size)
    scale = size[1] / w
    by_id = {m.id: m for m in insts}
    needed = {f for f, _ in pairs} | {b for _, b in pairs}
    masks = {}
    for k in needed:
        if k not in by_id:
            raise InputError(
                "relation names an instance that is not in the instances JSON",
                file=inst_file,
                image_id=iid,
                segment_id=k,
            )
        masks[k] = (by_id[k].category_id, resize_nearest(full_mask(by_id[k], h, w), size))
    base = _base_image(image_path, (h, w), size, iid)
    drawn = [DrawnRelation(f, b, status[(f, b)]) for f, b in pairs]
    pic = relations_picture(base, masks, drawn, cats, scale=max(scale, 0.5), image_id=iid)
    framed, _ = panels([pic.rgb], [relations_legend([d.status for d in drawn])])
    write_png(Path(out_dir) / name, framed)
    counts = {s: sum(1 for d in drawn if d.status == s) for s in ("correct", "wrong", "unmatched")}
    rec: dict[str, Any] = {"image_id": iid, "name": name, "relations": len(drawn)}
    if props is not None:
        rec.update(counts)
    return rec


def show_relations(
    relations_path: str | os.PathLike,
    instances_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    images_dir: str | os.PathLike | None = None,
    proposals_path: str | os.PathLike | None = None,
    ids: Sequence[int] | None = None,
    first: int | None = None,
    max_size: int | None = None,
    workers: int = 1,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    notify: Notify | None = None,
) -> ShowResult:
    """Relation pictures: for each GT relation of ``relations_path`` (``rapkit
    extract-relations``) an arrow from the front instance's centroid to the back instance's
    (masks from ``instances_path``). With ``proposals_path`` each arrow is green when the
    proposals matched to the two instances (same category, mask IoU > 0.5, one-to-one:
    :func:`rapkit.core.relation_acc.match_proposals`) order them correctly (smaller relation
    value = front), red when not (equal values count as wrong), grey when either instance has
    no matched proposal. Default images: those with at least one relation."""
    from ..io._atomic import check_writable
    from ..io.coco import load_instances
    from ..io.relations import read_relations

    t0 = time.perf_counter()
    check_writable(output, force)
    ds = load_instances(instances_path)
    rels = read_relations(relations_path)
    for iid in rels.images:
        if iid not in ds.images:
            raise InputError(
                "relations for an image that is not in the instances JSON", file=relations_path, image_id=iid
            )
    props = None
    if proposals_path is not None:
        from ..io.proposals import load_proposals

        props = load_proposals(proposals_path, ds.images, ds.categories, require_relation=True)
    with_rel = [i for i in ds.images if i in rels.images and rels.images[i].relations]
    if ids is not None:
        chosen = select_images(list(ds.images), ids, first, file=instances_path)
    else:
        chosen = select_images(with_rel, None, first, file=relations_path)
    sel = [ds.images[i] for i in chosen]
    names = _unique_names(sel, instances_path)
    sources, missing = _image_sources(images_dir, sel, notify)
    if on_start is not None:
        on_start(len(sel))
    tasks = []
    for info, src, name in zip(sel, sources, names):
        r = rels.images.get(info.id)
        pairs = [(x.front, x.back) for x in r.relations] if r is not None else []
        anns = ds.by_image.get(info.id, [])
        tasks.append(
            (
                info,
                anns,
                pairs,
                props[info.id] if props is not None else None,
                ds.categories,
                src,
                max_size,
                str(instances_path),
                name,
            )
        )
    return _run("relations", output, force, tasks, _relations_task, workers, progress, missing, t0, relations_path)


# --------------------------------------------------------------------------- charts


CHART_NAMES = {"sweep": "sweep.png", "ablation": "ablation.png", "gap": "relation_gap.png"}


def show_charts(
    output: str | os.PathLike,
    *,
    sweep: str | os.PathLike | None = None,
    ablation: str | os.PathLike | None = None,
    gap: str | os.PathLike | None = None,
    metric: str = "PQ",
    style: str = "heatmap",
    force: bool = False,
) -> ShowResult:
    """Charts from the tables ``rapkit evaluate --sweep/--ablation --output`` writes (.csv,
    .json, .parquet; percent or fraction units): ``sweep.png`` (Table 1 as heatmaps per gamma
    or lines), ``ablation.png`` (Table 2 as bars), ``relation_gap.png`` (a per-category
    table as a heatmap). Needs matplotlib (``pip install 'rapkit[plot]'``)."""
    from ..io._atomic import atomic_path, check_writable
    from ..io.pictures import read_table, write_png
    from ..viz import charts as C

    t0 = time.perf_counter()
    if sweep is None and ablation is None and gap is None:
        raise ConfigError("nothing to chart: give --sweep, --ablation and/or --gap with a table file")
    if style not in ("heatmap", "lines"):
        raise ConfigError(f"unknown chart style {style!r} (heatmap or lines)")
    require_matplotlib()
    check_writable(output, force)
    figures: list[tuple[str, str, np.ndarray]] = []
    for kind, path in (("sweep", sweep), ("ablation", ablation), ("gap", gap)):
        if path is None:
            continue
        df, unit = read_table(path)
        try:
            if kind == "sweep":
                fig = C.sweep_figure(df, metric=metric, style=style, unit=unit)
            elif kind == "ablation":
                fig = C.ablation_figure(df, unit=unit)
            else:
                fig = C.gap_figure(df, unit=unit)
        except RapkitError as e:
            raise e.with_context(file=path)
        figures.append((kind, str(path), C.figure_rgb(fig)))
    res = ShowResult("charts", str(output))
    with atomic_path(output, force, directory=True) as tmp:
        for kind, src, rgb in figures:
            write_png(tmp / CHART_NAMES[kind], rgb)
            res.pictures.append({"chart": kind, "source": src, "path": str(Path(output) / CHART_NAMES[kind])})
    res.seconds = time.perf_counter() - t0
    return res


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
