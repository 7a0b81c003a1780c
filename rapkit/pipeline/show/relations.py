"""``rapkit show relations``: arrows from the front to the back instance of every GT
relation, coloured correct/wrong by the proposals' relation values."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...core.fusion import decode_scene
from ...core.relation_acc import match_proposals
from ...errors import InputError
from ...io._atomic import check_writable
from ...io.coco import decode_instances, full_mask, load_instances
from ...io.pictures import write_png
from ...io.proposals import load_proposals
from ...io.relations import read_relations
from ...viz.draw import fit_size, resize_nearest
from ...viz.pictures import DrawnRelation, panels, relations_legend, relations_picture
from ._common import Notify, ShowResult, base_image, image_sources, run_tasks, select_images, unique_names


def _relations_task(args: tuple) -> dict[str, Any]:
    info, anns, pairs, props, cats, image_path, max_size, inst_file, name, out_dir = args
    iid = info.id
    h, w = info.height, info.width
    insts = decode_instances(anns, h, w, file=inst_file, image_id=iid, fast=False)
    status: dict[tuple[int, int], str | None] = {p: None for p in pairs}
    if props is not None:
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
    base = base_image(image_path, (h, w), size, iid)
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
        props = load_proposals(proposals_path, ds.images, ds.categories, require_relation=True)
    with_rel = [i for i in ds.images if i in rels.images and rels.images[i].relations]
    if ids is not None:
        chosen = select_images(list(ds.images), ids, first, file=instances_path)
    else:
        chosen = select_images(with_rel, None, first, file=relations_path)
    sel = [ds.images[i] for i in chosen]
    names = unique_names(sel, instances_path)
    sources, missing = image_sources(images_dir, sel, notify)
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
    return run_tasks("relations", output, force, tasks, _relations_task, workers, progress, missing, t0, relations_path)


__all__ = ["show_relations"]
