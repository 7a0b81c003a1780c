"""A whole synthetic world on disk: :func:`make_world` generates every image
(:mod:`rapkit.synth.scene`), turns it into COCO records and lets
:class:`rapkit.io.world.WorldWriter` write the files (atomically, in parallel, the same
bytes for any worker count).

>>> paths = make_world("world", SynthConfig(n_images=4, height=120, width=160))  # doctest: +SKIP
>>> world_summary(paths)["images"]                                             # doctest: +SKIP
4
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from .._runtime.pool import imap_ordered
from ..io._atomic import atomic_path
from ..io.jsonio import load_json
from ..io.world import WorldWriter, encode_jpeg, encode_png_labels, encode_png_rgb_ids
from .scene import THINGS, SynthConfig, categories, generate_image
from .shapes import mask_bbox, uncompressed_rle


@dataclass
class WorldPaths:
    root: Path
    images_dir: Path
    instances: Path
    panoptic: Path
    panoptic_dir: Path
    categories: Path
    proposals: Path
    semantic: Path
    truth: Path

    @classmethod
    def under(cls, root: str | Path) -> WorldPaths:
        r = Path(root)
        return cls(
            r,
            r / "images",
            r / "instances.json",
            r / "panoptic.json",
            r / "panoptic",
            r / "categories.json",
            r / "proposals.json",
            r / "semantic",
            r / "truth.json",
        )


def _image_records(cfg: SynthConfig, index: int) -> dict[str, Any]:
    """Generate one image and turn it into JSON records + encoded files (picklable)."""

    img = generate_image(cfg, index)
    image_entry = {"id": img.image_id, "file_name": img.file_name, "height": img.height, "width": img.width}
    anns = []
    for inst in sorted(img.instances, key=lambda s: s.id):
        seg: Any = uncompressed_rle(inst.mask) if inst.iscrowd else [inst.polygon]
        anns.append(
            {
                "id": inst.id,
                "image_id": img.image_id,
                "category_id": inst.category_id,
                "segmentation": seg,
                "area": int(inst.mask.sum()),
                "bbox": mask_bbox(inst.mask),
                "iscrowd": inst.iscrowd,
            }
        )
    stem = f"{img.image_id:012d}"
    pan = {"image_id": img.image_id, "file_name": stem + ".png", "segments_info": [s.to_json() for s in img.segments]}
    props = []
    for j in range(len(img.proposals)):
        rle = img.proposals.rles[j]
        props.append(
            {
                "image_id": img.image_id,
                "category_id": int(img.proposals.category_ids[j]),
                "score": float(img.proposals.scores[j]),
                "segmentation": rle,
                "bbox": [float(v) for v in mask_utils.toBbox(dict(rle, counts=rle["counts"].encode("ascii")))],
                "relation": float(img.proposals.relations[j]),
            }
        )
    truth = {
        "image_id": img.image_id,
        "instances": [
            {"id": i.id, "category_id": i.category_id, "depth": round(i.depth, 6), "iscrowd": i.iscrowd}
            for i in sorted(img.instances, key=lambda s: s.id)
        ],
        "proposal_instance": img.proposal_instance.tolist(),
        "proposal_kind": img.proposal_kind,
    }
    return {
        "image": image_entry,
        "anns": anns,
        "pan": pan,
        "props": props,
        "stem": stem,
        "pan_png": encode_png_rgb_ids(img.id_map),
        "sem_png": encode_png_labels(img.semantic),
        "jpg": encode_jpeg(img.rgb) if img.rgb is not None else None,
        "truth": truth,
    }


def _records_task(args: tuple[SynthConfig, int]) -> dict[str, Any]:
    return _image_records(*args)


def relation_ceiling(truth_images: list[dict], pairs: list[tuple[int, int, int]]) -> float:
    """Accuracy of a perfect per-category ranking on ``pairs`` (image_id, a, b): the best a
    category-only cue can do; same-category pairs count as a coin flip."""
    rank = {t[0]: t[3] for t in THINGS}
    depth = {(im["image_id"], i["id"]): (i["depth"], i["category_id"]) for im in truth_images for i in im["instances"]}
    if not pairs:
        return float("nan")
    score = 0.0
    for iid, a, b in pairs:
        (da, ca), (db, cb) = depth[(iid, a)], depth[(iid, b)]
        if ca == cb:
            score += 0.5
        else:
            score += 1.0 if (rank[ca] < rank[cb]) == (da < db) else 0.0
    return score / len(pairs)


def _overlap_pairs(cfg: SynthConfig, index: int, theta: float = 0.2) -> list[tuple[int, int, int]]:
    img = generate_image(SynthConfig(**{**cfg.to_dict(), "render_images": False}), index)
    inst = [i for i in img.instances if not i.iscrowd]
    out = []
    for a in range(len(inst)):
        for b in range(a + 1, len(inst)):
            o = int(np.count_nonzero(inst[a].mask & inst[b].mask))
            if o and (o / inst[a].mask.sum() > theta or o / inst[b].mask.sum() > theta):
                out.append((img.image_id, inst[a].id, inst[b].id))
    return out


def make_world(
    out: str | Path,
    cfg: SynthConfig | None = None,
    *,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> WorldPaths:
    """Write a synthetic world under ``out`` (atomically) and return its paths.

    >>> import json, tempfile
    >>> w = make_world(f"{tempfile.mkdtemp()}/world", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> len(json.loads(w.panoptic.read_text())["annotations"]), w.semantic.is_dir()
    (2, True)
    """
    cfg = cfg or SynthConfig()
    cats = [c.to_json() for c in categories()]
    thing_cats = [dict(c, supercategory="synthetic") for c in cats if c["isthing"]]
    images, anns, pans, props, truth = [], [], [], [], []
    with atomic_path(out, force, directory=True) as tmp:
        writer = WorldWriter(tmp)
        tasks = [(cfg, i) for i in range(cfg.n_images)]
        for rec in imap_ordered(_records_task, tasks, workers):
            images.append(rec["image"])
            anns.extend(rec["anns"])
            pans.append(rec["pan"])
            props.extend(rec["props"])
            truth.append(rec["truth"])
            writer.add_image(rec["stem"], rec["pan_png"], rec["sem_png"], rec["jpg"])
            if progress is not None:
                progress(1)
        info = {"description": "rapkit synthetic world", "version": "1", "seed": cfg.seed}
        writer.write_json(
            "instances.json", {"info": info, "images": images, "annotations": anns, "categories": thing_cats}
        )
        writer.write_json("panoptic.json", {"info": info, "images": images, "annotations": pans, "categories": cats})
        writer.write_json("categories.json", cats)
        writer.write_json("proposals.json", props)
        # the ceiling of a category-only cue on overlapping pairs of the first images
        sample = [pr for i in range(min(cfg.n_images, 50)) for pr in _overlap_pairs(cfg, i)]
        ceiling = relation_ceiling(truth, sample)
        writer.write_json(
            "truth.json",
            {
                "schema_version": 1,
                "config": cfg.to_dict(),
                "depth_rank": {str(t[0]): t[3] for t in THINGS},
                "category_ceiling": None if math.isnan(ceiling) else round(ceiling, 4),
                "images": truth,
            },
        )
    return WorldPaths.under(out)


def world_summary(paths: WorldPaths) -> dict[str, Any]:
    """Counts of a written world (for the CLI summary)."""
    inst = load_json(paths.instances)
    props = load_json(paths.proposals)
    truth = load_json(paths.truth)
    crowd = sum(1 for a in inst["annotations"] if a["iscrowd"])
    return {
        "images": len(inst["images"]),
        "instances": len(inst["annotations"]) - crowd,
        "crowd": crowd,
        "proposals": len(props),
        "category_ceiling": truth.get("category_ceiling"),
        "out": str(paths.root),
    }


__all__ = ["WorldPaths", "make_world", "relation_ceiling", "world_summary"]
