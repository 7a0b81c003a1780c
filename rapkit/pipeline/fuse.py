"""``rapkit fuse`` as a library call: proposals (+ semantic) -> COCO panoptic folder.

Streams images through a bounded thread pool; each worker decodes, fuses and writes its
PNG into the temporary output folder of :func:`rapkit.io.panoptic.panoptic_output`, which is
renamed onto ``OUTDIR`` only when complete (nothing is left behind on error or Ctrl-C; an
existing ``OUTDIR`` needs ``force``). All file writing is in :mod:`rapkit.io`.

Output: ``OUTDIR/panoptic.json`` (``images``, ``annotations`` with ``segments_info``,
``categories``) and ``OUTDIR/panoptic/<image stem>.png``; panopticapi's ``pq_compute``
reads it unchanged.

>>> from rapkit.types import FusionParams
>>> summary = fuse("proposals.json", "images.json", "categories.json", "out/",
...                FusionParams(), semantic_path="semantic/")        # doctest: +SKIP
>>> summary.kept                                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RapkitError
from ..io.panoptic import PANOPTIC_DIR, PANOPTIC_JSON, png_name
from ..types import Category, FusionParams, Proposals

__all__ = [
    "PANOPTIC_DIR",
    "PANOPTIC_JSON",
    "STAGES",
    "FuseSummary",
    "fuse",
    "png_name",
    "summary_report",
]

#: the per-image stages timed by :func:`fuse` (paper Table 5): RLE + semantic-map decoding,
#: the instance kernel (Algorithm 1 or the heuristic), stuff + id map + segment list, PNG
#: writing; ``other`` is the rest of the worker's per-image time (timer gaps, bookkeeping)
STAGES = ("decode", "fusion_kernel", "stuff_compose", "png_write", "other")
STAGE_LABELS = {
    "decode": "decode (RLE masks + semantic map)",
    "fusion_kernel": "fusion kernel",
    "stuff_compose": "stuff / compose",
    "png_write": "PNG write",
    "other": "other (per-image overhead)",
}


@dataclass
class FuseSummary:
    """What a fuse run did (counts over all images)."""

    images: int = 0
    proposals: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    thing_segments: int = 0
    stuff_segments: int = 0
    void_pixels: int = 0
    pixels: int = 0
    seconds: float = 0.0
    output: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: seconds per stage of :data:`STAGES`, summed over images (and over worker processes)
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    #: the workers' measured per-image time (one timer around each image), summed over images
    image_seconds: float = 0.0

    @property
    def void_share(self) -> float:
        return self.void_pixels / self.pixels if self.pixels else 0.0

    def stage_ms_per_image(self) -> dict[str, float]:
        """Milliseconds per image of each stage, plus ``total`` (the measured per-image time,
        which the stages add up to) and ``wall`` (the whole run, reading the inputs and writing
        the JSON included, divided by the images; below ``total`` with several workers)."""
        n = max(self.images, 1)
        out = {k: 1000.0 * self.stage_seconds.get(k, 0.0) / n for k in STAGES}
        out["total"] = 1000.0 * self.image_seconds / n
        out["wall"] = 1000.0 * self.seconds / n
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["void_share"] = self.void_share
        d["ms_per_image"] = self.stage_ms_per_image()
        return d


def _task(args: tuple) -> tuple[dict, dict[str, int], dict[str, float]]:
    from ..core.fusion import decode_scene, fuse_scene
    from ..io.png_write import write_id_runs_png
    from ..io.semantic import read_semantic

    clock = time.perf_counter
    t0 = clock()
    info, props, sem_item, known, params, is_stuff, png_path = args
    tm: dict[str, float] = {}
    try:
        semantic = read_semantic(sem_item, info, known) if sem_item is not None else None
        scene = decode_scene(props, params.rho)
        t1 = clock()
        res = fuse_scene(scene, semantic, params, is_stuff, timings=tm)
        t2 = clock()
    except RapkitError as e:
        raise e.with_context(image_id=info.id)
    write_id_runs_png(png_path, res.row_runs, *res.id_map.shape)
    t3 = clock()
    ann = {"image_id": info.id, "file_name": Path(png_path).name, "segments_info": [s.to_json() for s in res.segments]}
    counts = res.counts()
    t4 = clock()
    kernel = tm.get("fusion_kernel", 0.0)
    times = {
        "decode": t1 - t0,
        "fusion_kernel": kernel,
        "stuff_compose": (t2 - t1 - kernel) + (t4 - t3),
        "png_write": t3 - t2,
    }
    times["total"] = clock() - t0
    return ann, counts, times


def fuse(
    proposals_path: str | os.PathLike,
    images_path: str | os.PathLike,
    categories_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    params: FusionParams,
    *,
    semantic_path: str | os.PathLike | None = None,
    workers: int = 1,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> FuseSummary:
    """Fuse a whole dataset into ``out_dir`` (atomic), in ``workers`` threads (``0``: every
    core). ``on_start(n_images)`` is called once the inputs are validated; ``progress(1)``
    after each image."""
    from .._runtime.pool import imap_ordered
    from ..core.fusion import STATUS_NAMES, _kernels, stuff_table
    from ..io._atomic import check_writable
    from ..io.panoptic import load_categories, load_images, panoptic_output
    from ..io.proposals import load_proposals
    from ..io.semantic import known_labels, open_semantic

    t0 = time.perf_counter()
    check_writable(out_dir, force)
    images = load_images(images_path)
    cats: dict[int, Category] = load_categories(categories_path)
    need_rel = params.strategy == "rap" and params.ra
    props = load_proposals(proposals_path, images, cats, require_relation=need_rel)
    sem = open_semantic(semantic_path, images, cats) if semantic_path is not None else None
    known = known_labels(cats)
    is_stuff = stuff_table(cats)
    _kernels()  # numba and the kernels, before the clock of the first image starts
    if on_start is not None:
        on_start(len(images))
    summary = FuseSummary(params=params.to_dict())
    totals = dict.fromkeys(STATUS_NAMES, 0)
    annotations: list[dict] = []
    with panoptic_output(out_dir, force) as out:
        names: set[str] = set()

        def tasks():
            for iid, info in images.items():
                name = png_name(info)
                if name in names:
                    from ..errors import InputError

                    raise InputError(f"two images map to the output PNG {name}", file=images_path, image_id=iid)
                names.add(name)
                p: Proposals = props[iid]
                item = sem.item(info) if sem is not None else None
                yield info, p, item, known, params, is_stuff, str(out.png_path(name))

        try:
            for ann, counts, times in imap_ordered(
                _task, tasks(), workers, on_result=(lambda r: progress(1)) if progress else None, name="rapkit-fuse"
            ):
                annotations.append(ann)
                summary.images += 1
                summary.proposals += counts["proposals"]
                for k in STATUS_NAMES:
                    totals[k] += counts[k]
                summary.stuff_segments += counts["stuff"]
                summary.void_pixels += counts["void_pixels"]
                summary.pixels += counts["pixels"]
                staged = 0.0
                for k in STAGES[:-1]:
                    summary.stage_seconds[k] += times[k]
                    staged += times[k]
                summary.stage_seconds["other"] += max(times["total"] - staged, 0.0)
                summary.image_seconds += times["total"]
        except RapkitError as e:
            raise e.with_context(file=proposals_path)
        out.write_json(images.values(), annotations, cats.values())
    summary.kept = totals["kept"]
    summary.thing_segments = totals["kept"]
    summary.dropped = {k: totals[k] for k in STATUS_NAMES if k not in ("kept", "unseen")}
    summary.seconds = time.perf_counter() - t0
    summary.output = str(out_dir)
    return summary


def summary_report(summary: FuseSummary):
    """A :class:`rapkit.report.Report` of a fuse run (one summary table).

    >>> summary_report(FuseSummary(images=2)).data["images"]
    2
    """
    from ..report import Report, Table

    rows: list[list[Any]] = [
        ["images", summary.images],
        ["proposals in", summary.proposals],
        ["kept (thing segments)", summary.kept],
    ]
    labels = {
        "score": "dropped: score < rho",
        "empty": "dropped: empty mask",
        "category": "dropped: category-aware check",
        "overlap": "dropped: excessive-overlap check",
        "canvas": "dropped: canvas (overlap share) check",
        "emptied": "removed: covered by later proposals",
    }
    for k, v in summary.dropped.items():
        rows.append([labels.get(k, k), v])
    rows.append(["stuff segments", summary.stuff_segments])
    rows.append(["void share (%)", round(100.0 * summary.void_share, 2)])
    rows.append(["seconds", round(summary.seconds, 2)])
    t = Table("fuse", ["quantity", "value"], rows, title=f"rapkit fuse -> {summary.output}", decimals=2)
    ms = summary.stage_ms_per_image()
    total = ms["total"]
    stage_rows: list[list[Any]] = [
        [STAGE_LABELS[k], round(ms[k], 3), round(100.0 * ms[k] / total, 1) if total else 0.0] for k in STAGES
    ]
    stage_rows.append(["total (per image, in the workers)", round(total, 3), 100.0 if total else 0.0])
    stage_rows.append(["wall (whole run / images)", round(ms["wall"], 3), None])
    st = Table(
        "fuse_stages",
        ["stage", "ms per image", "share (%)"],
        stage_rows,
        title="time per stage (paper Table 5), summed over images and workers",
        decimals=3,
    )
    return Report("fuse", summary.to_dict(), [t, st])
