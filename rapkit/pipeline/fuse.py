"""``rapkit fuse`` as one library call: proposals (+ semantic) -> COCO panoptic folder.

:func:`fuse` takes the command's arguments and returns a :class:`FuseSummary` (counts,
per-image rows, stage times; ``.to_frame()``, ``.to_dict()``); the command line prints it
(:func:`rapkit.report.fuse.fuse_report`). Images stream through a bounded thread pool; each
worker decodes, fuses and writes its PNG into the temporary output folder of
:func:`rapkit.io.panoptic.panoptic_output`, which is renamed onto ``output`` only when
complete (nothing is left behind on error or Ctrl-C; an existing ``output`` needs
``force``). All file writing is in :mod:`rapkit.io`.

Output: ``output/panoptic.json`` (``images``, ``annotations`` with ``segments_info``,
``categories``) and ``output/panoptic/<image stem>.png``; panopticapi's ``pq_compute``
reads it unchanged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .._runtime.pool import alongside, imap_ordered, resolve_workers
from ..core.fusion import (
    STATUS_NAMES,
    decode_scene,
    fuse_packed_image,
    fuse_scene,
    load_fuse_image,
    load_kernels,
    packed_inputs,
    stuff_table,
)
from ..errors import ConfigError, InputError, RapkitError
from ..io._atomic import check_writable
from ..io.images_fast import load_images_fast
from ..io.jsonio import dumps, file_size
from ..io.panoptic import PANOPTIC_DIR, PANOPTIC_JSON, load_categories, panoptic_output, png_name
from ..io.png_write import write_id_runs_png, write_idat_png
from ..io.proposals import load_proposals
from ..io.proposals_fast import load_proposals_packed_fast
from ..io.semantic import known_labels, open_semantic, read_semantic, read_semantic_rows
from ..types import Category, FusionParams

__all__ = [
    "PANOPTIC_DIR",
    "PANOPTIC_JSON",
    "STAGES",
    "FuseSummary",
    "fuse",
    "png_name",
]

#: the per-image stages timed by :func:`fuse` (paper Table 5). ``rap`` and ``heuristic`` run
#: one compiled call per image: ``decode`` is reading and inflating the semantic PNG,
#: ``fusion_kernel`` the call (semantic unfilter, RLE decode, Algorithm 1 or the heuristic,
#: stuff + id map, PNG stream), ``stuff_compose`` the segment list, ``png_write`` the file.
#: ``ocfusion`` times its steps apart: RLE + semantic decoding, its instance kernel, stuff + id
#: map + segment list, PNG encoding and writing. ``other`` is the rest of the worker's
#: per-image time (timer gaps, bookkeeping)
STAGES = ("decode", "fusion_kernel", "stuff_compose", "png_write", "other")

#: images per task of the worker threads: each task is a run of consecutive images, so the
#: calling thread (which holds the GIL while it hands out work and merges results) does its
#: bookkeeping once per batch, not per image; the output does not depend on it
BATCH = 16
_ROW_KEYS = ("proposals", *STATUS_NAMES, "stuff", "void_pixels", "pixels")
_COUNT_KEYS = _ROW_KEYS


@dataclass
class FuseSummary:
    """What a fuse run did: counts over all images, one row per image, stage times.

    >>> FuseSummary(images=2, void_pixels=5, pixels=50).void_share
    0.1
    """

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
    #: one row per image, in input order: ``image_id``, ``file_name``, ``proposals``, the
    #: proposals' statuses (``kept``, ``score``, ``category``...), ``stuff`` segments, ``void_pixels``,
    #: ``pixels``, ``ms`` (the worker's time for the image)
    per_image: list[dict[str, Any]] = field(default_factory=list)

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
        """The summary as plain data (without the per-image rows: :meth:`to_frame`). The rows
        are left out before the copy (``asdict`` would deep-copy thousands of them only to
        drop them: 78 ms of CPU at 5000 rows)."""
        d = asdict(replace(self, per_image=[]))
        d.pop("per_image")
        d["void_share"] = self.void_share
        d["ms_per_image"] = self.stage_ms_per_image()
        return d

    def to_frame(self) -> Any:
        """One row per image (pandas DataFrame): proposals in, what each check dropped, kept
        thing segments, stuff segments, void share, milliseconds."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        df = pd.DataFrame(self.per_image)
        if len(df):
            df["void_share"] = df["void_pixels"] / df["pixels"].where(df["pixels"] > 0, 1)
        return df


def _fuse_one(info, props, sem_item, png_file, ctx) -> tuple[dict, dict[str, int], dict[str, float]]:
    """One image in a worker: decode, fuse, compose, write its PNG; ``(annotation, counts, stage times)``."""
    clock = time.perf_counter
    t0 = clock()
    known, params, is_stuff = ctx
    tm: dict[str, float] = {}
    try:
        semantic = read_semantic(sem_item, info, known) if sem_item is not None else None
        scene = decode_scene(props, params.rho)
        t1 = clock()
        res = fuse_scene(scene, semantic, params, is_stuff, timings=tm)
        t2 = clock()
    except RapkitError as e:
        raise e.with_context(image_id=info.id)
    write_id_runs_png(png_file, res.row_runs, *res.id_map.shape, check=False)  # compose's runs
    t3 = clock()
    ann = {
        "image_id": info.id,
        "file_name": os.path.basename(png_file),
        "segments_info": [s.to_json() for s in res.segments],
    }
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


def _fuse_batch_packed(args: tuple) -> tuple[list[bytes], list[dict], dict[str, int], dict[str, float]]:
    """:func:`_fuse_batch` for Algorithm 1 and the heuristic: each image's proposals are its
    slice ``(a, b)`` of the :class:`~rapkit.io.proposals.PackedProposals` in ``ctx``, and one
    compiled call per image (:func:`rapkit.core.fusion.fuse_packed_image`) unfilters the
    semantic rows, decodes the RLEs, fuses, composes and encodes the PNG stream; Python reads
    and inflates the semantic PNG, writes the file and builds the segment list. Everything
    here that holds the GIL is what threads cannot share: it is kept to a minimum."""
    batch, (known, inputs) = args
    clock = time.perf_counter
    scores, labels, rels = inputs.scores, inputs.labels, inputs.relations
    anns: list[dict] = []
    rows: list[dict] = []
    tally = np.zeros(len(STATUS_NAMES), np.int64)
    t_dec = t_ker = t_seg = t_png = t_all = 0.0
    n_prop = n_stuff = n_void = n_px = 0
    for info, (a, b), sem_item, png_file in batch:
        t0 = clock()
        h, w, iid = info.height, info.width, info.id
        try:
            raw = read_semantic_rows(sem_item, info) if sem_item is not None else None
            semantic = read_semantic(sem_item, info, known) if sem_item is not None and raw is None else None
            t1 = clock()
            res = fuse_packed_image(iid, inputs, a, b, h, w, semantic=semantic, semantic_png=raw)
            if res is None:  # the PNG rows would not decode, or hold a label that is not known
                semantic = read_semantic(sem_item, info, known)  # says what is wrong (or decodes it)
                res = fuse_packed_image(iid, inputs, a, b, h, w, semantic=semantic)
            t2 = clock()
        except RapkitError as e:
            raise e.with_context(image_id=iid)
        _status, kept, classes, area, bbox, idat, counts = res
        write_idat_png(png_file, idat, h, w)
        t3 = clock()
        # the segment list in bulk (the keys and values of Segment.to_json)
        ar = area.tolist()
        bb = bbox.tolist()
        segs = []
        ka = kept + a  # the kept proposals' rows in the run's arrays
        for j, c, s, r in zip(range(1, ka.shape[0] + 1), labels[ka].tolist(), scores[ka].tolist(), rels[ka].tolist()):
            if r == r:  # not NaN
                segs.append(
                    {"id": j, "category_id": c, "area": ar[j], "bbox": bb[j], "iscrowd": 0, "score": s, "relation": r}
                )
            else:
                segs.append({"id": j, "category_id": c, "area": ar[j], "bbox": bb[j], "iscrowd": 0, "score": s})
        for j, c in enumerate(classes.tolist(), start=kept.shape[0] + 1):
            segs.append({"id": j, "category_id": c, "area": ar[j], "bbox": bb[j], "iscrowd": 0})
        name = os.path.basename(png_file)
        anns.append({"image_id": iid, "file_name": name, "segments_info": segs})
        tally += counts
        ns = classes.shape[0]
        n_prop += b - a
        n_stuff += ns
        n_void += ar[0]
        n_px += h * w
        t4 = clock()
        t_dec += t1 - t0
        t_ker += t2 - t1
        t_png += t3 - t2
        t_seg += t4 - t3
        t_all += t4 - t0
        row = {"image_id": iid, "file_name": name, "proposals": b - a}
        row.update(zip(STATUS_NAMES, counts.tolist()))
        row.update(stuff=ns, void_pixels=ar[0], pixels=h * w, ms=1000.0 * (t4 - t0))
        rows.append(row)
    totals = dict(zip(STATUS_NAMES, tally.tolist()))
    totals.update(proposals=n_prop, stuff=n_stuff, void_pixels=n_void, pixels=n_px)
    stage = {"decode": t_dec, "fusion_kernel": t_ker, "stuff_compose": t_seg, "png_write": t_png}
    stage["other"] = max(t_all - (t_dec + t_ker + t_seg + t_png), 0.0)
    stage["total"] = t_all
    # the run's annotations as JSON here, in the worker: the calling thread only joins them
    return [dumps(anns)[1:-1]], rows, totals, stage


def _fuse_batch(args: tuple) -> tuple[list[dict], list[dict], dict[str, int], dict[str, float]]:
    """A batch of consecutive images in one worker (:data:`BATCH`): their annotations, their
    per-image rows, and the batch's summed counts and stage times, so that the calling thread
    only merges one result per batch (its work per image is what stops threads scaling)."""
    batch, ctx = args
    anns: list[dict] = []
    rows: list[dict] = []
    totals = dict.fromkeys(_COUNT_KEYS, 0)
    stage = dict.fromkeys(STAGES, 0.0)
    stage["total"] = 0.0
    for info, props, sem_item, png_file in batch:
        ann, counts, times = _fuse_one(info, props, sem_item, png_file, ctx)
        anns.append(ann)
        for k in _COUNT_KEYS:
            totals[k] += counts[k]
        staged = 0.0
        for k in STAGES[:-1]:
            stage[k] += times[k]
            staged += times[k]
        stage["other"] += max(times["total"] - staged, 0.0)
        stage["total"] += times["total"]
        row = {"image_id": ann["image_id"], "file_name": ann["file_name"]}
        row.update({k: counts[k] for k in _ROW_KEYS})
        row["ms"] = 1000.0 * times["total"]
        rows.append(row)
    return anns, rows, totals, stage


#: proposals JSON at least this large (about 70 images of the synthetic world): the kernel
#: loads beside its parse; below it the parse is too short to hide anything behind
PRELOAD_BYTES = 256 * 1024


def _run_length(most: int, left: int, workers: int) -> int:
    """The next run's length: ``most``, the last runs shorter (a worker that finishes early
    waits at most a short run for the others).

    >>> [_run_length(16, left, 2) for left in (1000, 40, 9, 3)]
    [16, 10, 2, 1]
    """
    if workers <= 1:
        return most
    return max(1, min(most, left // (2 * workers)))


def _kernel_preload(proposals: Any) -> Callable[[], None] | None:
    size = file_size(proposals)
    if size is None or size < PRELOAD_BYTES:
        return None

    def load() -> None:
        load_fuse_image().load_fuse_kernel()

    return load


def fuse(
    proposals: str | os.PathLike,
    image_info: str | os.PathLike,
    categories: str | os.PathLike,
    output: str | os.PathLike,
    params: FusionParams | None = None,
    *,
    semantic: str | os.PathLike | None = None,
    strategy: str = "rap",
    rho: float | None = None,
    tau: float | None = None,
    gamma: float = 0.5,
    stuff_area: int = 4096,
    ra: bool = True,
    ca: bool = True,
    eo: bool = True,
    variant: str | None = None,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> FuseSummary:
    """Fuse a whole dataset into the folder ``output`` (atomic): ``rapkit fuse`` with the same
    arguments (``semantic`` is ``--semantic``, ``ra=False`` is ``--no-ra``...). ``params`` (a
    :class:`FusionParams`) may stand for the fusion options instead (not both). ``rho``/``tau``
    and ``variant`` left out take the strategy's default (``strategy="ocfusion"`` reads the
    proposals' pair logits, ``occludes``: docs/fusion.md). Runs in ``workers`` threads (``0``: every core);
    the output bytes do not depend on it. ``on_start(n_images)`` is called once the inputs
    are validated; ``progress(k)`` after each run of ``k`` images (:data:`BATCH`).

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> s = fuse(w.proposals, w.panoptic, w.categories, f"{tmp}/fused", semantic=w.semantic, strategy="rap")
    >>> s.images, bool(s.kept == s.to_frame()["kept"].sum())
    (2, True)
    """
    options = dict(rho=rho, tau=tau, gamma=gamma, stuff_area=stuff_area, ra=ra, ca=ca, eo=eo, variant=variant)
    if params is None:
        params = FusionParams.of(strategy, **options)
    elif (strategy, *options.values()) != ("rap", None, None, 0.5, 4096, True, True, True, None):
        raise ConfigError("pass the fusion options either as params= or one by one, not both")
    t0 = time.perf_counter()
    check_writable(output, force)
    images = load_images_fast(image_info)  # only its "images": the annotations are skipped
    cats: dict[int, Category] = load_categories(categories)
    need_rel = params.strategy == "rap" and params.ra
    packed = params.strategy != "ocfusion"  # one compiled call per image (OCFusion: per stage)
    if packed:
        with alongside(_kernel_preload(proposals)):  # numba and the kernel load while the JSON is parsed
            pk = load_proposals_packed_fast(proposals, images, cats, require_relation=need_rel)
        bounds = pk.start.tolist()
        props: Any = {iid: (bounds[i], bounds[i + 1]) for i, iid in enumerate(pk.image_ids)}
    else:
        props = load_proposals(proposals, images, cats, require_relation=need_rel, pairs=True)
    sem = open_semantic(semantic, images, cats) if semantic is not None else None
    known = known_labels(cats)
    is_stuff = stuff_table(cats)
    if packed:  # numba and the kernels, before the clock of the first image starts
        load_fuse_image()
    else:
        load_kernels()
    if on_start is not None:
        on_start(len(images))
    summary = FuseSummary(params=params.to_dict())
    totals = dict.fromkeys(STATUS_NAMES, 0)
    annotations: list = []
    with panoptic_output(output, force) as out:
        names: set[str] = set()
        if packed:
            ctx: tuple = (
                known,
                packed_inputs(
                    pk.chars, pk.char_offsets, pk.scores, pk.category_ids, pk.relations, params, is_stuff, known
                ),
            )
        else:
            ctx = (known, params, is_stuff)
        n_workers = resolve_workers(workers)
        # one batch per worker at most for small inputs; no threads at all for one worker
        batch_size = max(1, min(BATCH, -(-len(images) // max(n_workers, 1))))

        def tasks():
            batch = []
            left = len(images)
            want = _run_length(batch_size, left, n_workers)
            for iid, info in images.items():
                name = png_name(info)
                if name in names:
                    raise InputError(f"two images map to the output PNG {name}", file=image_info, image_id=iid)
                names.add(name)
                item = sem.item(info) if sem is not None else None
                batch.append((info, props[iid], item, out.png_file(name)))
                if len(batch) == want:
                    yield batch, ctx
                    left -= len(batch)
                    batch = []
                    want = _run_length(batch_size, left, n_workers)
            if batch:
                yield batch, ctx

        def advance(r) -> None:
            if progress is not None:
                progress(len(r[1]))  # the run's per-image rows

        try:
            for anns, rows, counts, times in imap_ordered(
                _fuse_batch_packed if packed else _fuse_batch,
                tasks(),
                n_workers,
                on_result=advance if progress else None,
                name="rapkit-fuse",
            ):
                out.pngs_written(r["file_name"] for r in rows)  # made durable while the rest is computed
                annotations.extend(anns)  # annotations, or their JSON per run (packed)
                summary.per_image.extend(rows)
                summary.images += len(rows)
                summary.proposals += counts["proposals"]
                for k in STATUS_NAMES:
                    totals[k] += counts[k]
                summary.stuff_segments += counts["stuff"]
                summary.void_pixels += counts["void_pixels"]
                summary.pixels += counts["pixels"]
                for k in STAGES:
                    summary.stage_seconds[k] += times[k]
                summary.image_seconds += times["total"]
        except RapkitError as e:
            raise e.with_context(file=proposals)
        if packed:
            out.write_json_parts(images.values(), annotations, cats.values())  # type: ignore[arg-type]
        else:
            out.write_json(images.values(), annotations, cats.values())
    summary.kept = totals["kept"]
    summary.thing_segments = totals["kept"]
    summary.dropped = {k: totals[k] for k in STATUS_NAMES if k not in ("kept", "unseen")}
    summary.seconds = time.perf_counter() - t0
    summary.output = str(output)
    return summary
