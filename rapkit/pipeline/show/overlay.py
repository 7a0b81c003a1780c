"""``rapkit show overlay``: an image with a panoptic result on top, one picture per image."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...errors import InputError, RapkitError
from ...io._atomic import check_writable
from ...io.panoptic import load_panoptic, read_id_map
from ...io.pictures import write_png
from ...viz.draw import fit_size, resize_nearest
from ...viz.pictures import overlay
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


def _overlay_task(args: tuple) -> dict[str, Any]:
    info, png, segs, cats, image_path, alpha, max_size, name, out_dir = args
    try:
        shape = (info.height, info.width) if info.height else None
        ids = read_id_map(png, image_id=info.id, shape=shape)
        h, w = ids.shape
        size = fit_size(h, w, max_size)
        base = base_image(image_path, (h, w), size, info.id)
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
    t0 = time.perf_counter()
    check_alpha(alpha)
    check_writable(output, force)
    ds = load_panoptic(panoptic_path, panoptic_dir, check_categories=categories_path is None)
    cats = pick_categories(categories_path, ds.categories)
    check_png_dir(ds)
    infos = image_infos(ds)
    chosen = select_images(list(ds.annotations), ids, first, file=panoptic_path)
    sel = [infos[i] for i in chosen]
    for i in chosen:
        for sid, cid in segments_of(ds.annotations[i]).items():
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
    names = unique_names(sel, panoptic_path)
    sources, missing = image_sources(images_dir, sel, notify)
    if on_start is not None:
        on_start(len(sel))
    tasks = [
        (
            info,
            str(ds.png_dir / ds.annotations[info.id].file_name),
            segments_of(ds.annotations[info.id]),
            cats,
            src,
            alpha,
            max_size,
            name,
        )
        for info, src, name in zip(sel, sources, names)
    ]
    return run_tasks("overlay", output, force, tasks, _overlay_task, workers, progress, missing, t0, panoptic_path)


__all__ = ["show_overlay"]
