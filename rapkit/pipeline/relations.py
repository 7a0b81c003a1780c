"""``rapkit extract-relations`` as one library call: instances JSON + panoptic GT -> relations.

:func:`extract_dataset_relations` takes the command's arguments and returns a
:class:`RelationsRun` (per-image relations, totals; ``.to_frame()`` one row per relation,
``.to_dict()``); with ``output`` it also writes the relations JSON (and with
``rap_instances`` the authors' training format). Images are streamed one at a time
(instances decoded with pycocotools, the panoptic PNG read per image) through a bounded
thread pool; results come back in the order of the instances JSON's ``images`` list, so the
same inputs give the same output bytes for any worker count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._runtime.pool import alongside, imap_ordered
from ..core.relations import MATCHINGS, RULES, extract_relations, relations_of_packed
from ..errors import ConfigError, InputError, RapkitError
from ..io.coco import InstancesDataset, decode_instances, decode_instances_packed, load_instances
from ..io.jsonio import file_size
from ..io.panoptic import PanopticDataset, load_panoptic
from ..io.png import read_id_map_fast
from ..io.relations import TOTAL_KEYS, check_relations_outputs, write_relations_outputs
from ..types import ImageRelations, Segment

PathLike = str | os.PathLike


@dataclass
class RelationsRun:
    """Result of a dataset run: parameters, per-image relations (input order), totals.

    >>> run = RelationsRun(0.2, "paper", [], totals_of([]))
    >>> run.to_dict()["totals"]["images"], len(run.to_frame())
    (0, 0)
    """

    theta: float
    rule: str
    images: list[ImageRelations]
    totals: dict[str, int]
    outputs: dict[str, str] = field(default_factory=dict)
    matching: str = "pixels"

    def to_frame(self) -> Any:
        """One row per relation (pandas DataFrame): image, front and back annotation ids,
        their overlap in pixels and its share of each instance."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        cols = ["image_id", "front", "back", "overlap", "ratio_front", "ratio_back"]
        rows = [[getattr(r, c) for c in cols] for img in self.images for r in img.relations]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """The parameters, the totals and the files written (the relations: :meth:`to_frame`)."""
        return {"parameters": {"theta": self.theta, "rule": self.rule, "matching": self.matching},
                "totals": dict(self.totals), "outputs": dict(self.outputs)}  # fmt: skip


@dataclass
class _Task:
    image_id: int
    height: int
    width: int
    anns: list[dict]
    png_path: str
    segments: list[Segment]
    theta: float
    rule: str
    instances_file: str
    matching: str = "pixels"
    things: frozenset[int] | None = None


def _run_task(t: _Task) -> ImageRelations:
    """Worker: decode one image's instances, read its PNG, extract its relations."""
    if t.matching == "pixels":
        return _run_packed(t)
    bbox = t.matching == "bbox"
    masks = decode_instances(
        t.anns,
        t.height,
        t.width,
        file=t.instances_file,
        image_id=t.image_id,
        polygon_fill="opencv" if bbox else "pycocotools",
    )
    id_map = read_id_map_fast(t.png_path, image_id=t.image_id, shape=(t.height, t.width))
    try:
        return extract_relations(
            masks,
            id_map,
            t.segments,
            t.theta,
            t.rule,  # type: ignore[arg-type]
            image_id=t.image_id,
            matching=t.matching,  # type: ignore[arg-type]
            instance_boxes=[a.get("bbox") for a in t.anns] if bbox else None,
            things=t.things,
        )
    except RapkitError as e:
        raise e.with_context(file=t.png_path, image_id=t.image_id) from None


def _run_packed(t: _Task) -> ImageRelations:
    """:func:`_run_task` of the pixel matching: the non-crowd masks decoded straight into the
    kernels' packed layout (no per-mask objects), the same result."""
    keep = [not a.get("iscrowd", 0) for a in t.anns]
    boxes, offsets, flat, areas = decode_instances_packed(
        t.anns, t.height, t.width, keep, file=t.instances_file, image_id=t.image_id
    )
    kept = [a for a, k in zip(t.anns, keep) if k]
    id_map = read_id_map_fast(t.png_path, image_id=t.image_id, shape=(t.height, t.width))
    try:
        return relations_of_packed(
            id_map,
            t.segments,
            [int(a["id"]) for a in kept],
            np.array([int(a["category_id"]) for a in kept], np.int64),
            areas,
            boxes,
            offsets,
            flat,
            t.theta,
            t.rule,  # type: ignore[arg-type]
            image_id=t.image_id,
            n_crowd=len(t.anns) - len(kept),
        )
    except RapkitError as e:
        raise e.with_context(file=t.png_path, image_id=t.image_id) from None


def totals_of(images: list[ImageRelations]) -> dict[str, int]:
    """Sum per-image results into the totals of the relations JSON."""
    t = dict.fromkeys(TOTAL_KEYS, 0)
    t["images"] = len(images)
    for r in images:
        t["instances"] += r.n_instances
        t["crowd"] += r.n_crowd
        t["matched"] += len(r.matches)
        t["unmatched"] += len(r.unmatched)
        t["candidate_pairs"] += r.candidate_pairs
        t["relations"] += len(r.relations)
        t["ties"] += len(r.ties)
        t["hidden"] += len(r.hidden)
    return t


def extract_dataset_relations(
    instances: PathLike,
    panoptic: PathLike,
    *,
    panoptic_dir: PathLike | None = None,
    theta: float = 0.2,
    rule: str = "paper",
    matching: str = "pixels",
    output: PathLike | None = None,
    rap_instances: PathLike | None = None,
    authors_pickle: PathLike | None = None,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RelationsRun:
    """``rapkit extract-relations``: the relations of every image of a COCO instances JSON
    against its panoptic GT, with the command's arguments.

    ``panoptic_dir`` defaults to the panoptic JSON's path without ``.json``. Annotations of
    categories marked ``isthing: 0`` (in either JSON's categories) are ignored; crowd
    annotations are counted, not used. ``matching="bbox"`` matches instances to segments as
    the authors' ``retrieve_relation.py`` did (:func:`rapkit.core.relations.match_by_bbox`:
    every annotation of the image is a candidate, crowd ones and any category included;
    polygons are filled as their ``cv2.fillPoly`` of int-truncated coordinates); ``rule="deficit",
    matching="bbox"`` gives the authors' relations. Images with no non-crowd instance are
    listed without reading their PNG. ``output`` writes the relations JSON, ``rap_instances`` the instances
    JSON with the authors' ``overlap`` lists, ``authors_pickle`` the authors' relations
    pickle (:func:`rapkit.io.relations.write_authors_pickle`): all are checked before any work (an existing
    file without ``force`` is a :class:`ConfigError`) and written atomically after every
    image succeeded, so a failed run leaves nothing behind.

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=3, height=64, width=80, render_images=False))
    >>> run = extract_dataset_relations(w.instances, w.panoptic, theta=0.2, output=f"{tmp}/relations.json")
    >>> run.totals["relations"] == len(run.to_frame())
    True
    """
    for name, extra in (("rap_instances", rap_instances), ("authors_pickle", authors_pickle)):
        if extra is not None and output is None:
            raise ConfigError(f"{name} is written beside the relations JSON: give output too")
    if output is not None:
        check_relations_outputs(output, rap_instances, (instances, panoptic), force, authors_pickle)
    _check(theta, rule, matching)
    with alongside(_kernel_preload(instances, matching)):  # numba and the kernels load while the JSON is read
        ds = load_instances(instances)
        pan = load_panoptic(panoptic, panoptic_dir)
    run = _extract(
        ds, pan, theta=theta, rule=rule, matching=matching, workers=workers, progress=progress, on_start=on_start
    )
    if output is not None:
        run.outputs.update(
            write_relations_outputs(
                output,
                run.images,
                theta=run.theta,
                rule=run.rule,
                matching=run.matching,
                totals=run.totals,
                rap_instances=rap_instances,
                instances=ds.raw,
                force=force,
                authors_pickle=authors_pickle,
            )
        )
    return run


#: an instances JSON at least this large (about 100 images of COCO): the kernels load beside
#: its parse; below it there is too little parse to hide anything behind
PRELOAD_BYTES = 256 * 1024


def load_pixel_kernels() -> None:
    """Load the compiled kernels of the pixel matching (polygon fill, packed masks, PNG ids,
    the relation histograms and matching) by running one made-up 8x8 image through the
    functions ``rapkit extract-relations`` calls, with the argument types they pass it.

    >>> load_pixel_kernels()
    """
    from ..kernels.png import decode_ids  # numba

    square = [[1.0, 1.0, 6.0, 1.0, 6.0, 6.0, 1.0, 6.0]]
    anns = [
        {"id": 1, "category_id": 1, "iscrowd": 0, "segmentation": square},
        {"id": 2, "category_id": 1, "iscrowd": 0, "segmentation": [[3.0, 3.0, 8.0, 3.0, 8.0, 8.0, 3.0, 8.0]]},
    ]
    boxes, offsets, flat, areas = decode_instances_packed(anns, 8, 8, [True, True])
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[1:6, 1:6, 0] = 10
    rgb[3:8, 3:8, 0] = 20  # segment 20 in front of segment 10
    raw = np.concatenate([np.zeros((8, 1), np.uint8), rgb.reshape(8, 24)], axis=1).tobytes()
    id_map = decode_ids(np.frombuffer(raw, np.uint8), 8, 8, 3)
    segs = [Segment(10, 1, 16, (1, 1, 5, 5)), Segment(20, 1, 25, (3, 3, 5, 5))]
    relations_of_packed(id_map, segs, [1, 2], np.array([1, 1], np.int64), areas, boxes, offsets, flat, 0.2, "paper")


def _kernel_preload(instances: PathLike, matching: str) -> Callable[[], None] | None:
    """What to load beside the JSON parse: the pixel matching's kernels for a large job."""
    size = file_size(instances)
    if matching != "pixels" or size is None or size < PRELOAD_BYTES:
        return None
    return load_pixel_kernels


def _check(theta: float, rule: str, matching: str = "pixels") -> None:
    if rule not in RULES:
        raise ConfigError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if matching not in MATCHINGS:
        raise ConfigError(f"unknown matching {matching!r}; choose one of {', '.join(MATCHINGS)}")
    if not 0.0 <= float(theta) <= 1.0:
        raise ConfigError(f"theta must be in [0, 1], got {theta}")


def _extract(
    ds: InstancesDataset,
    pan: PanopticDataset,
    *,
    theta: float,
    rule: str,
    matching: str = "pixels",
    workers: int,
    progress: Callable[[int], None] | None,
    on_start: Callable[[int], None] | None = None,
) -> RelationsRun:
    instances, panoptic = ds.path, pan.json_path
    # a category is a thing unless the instances or the panoptic categories say isthing: 0
    stuff = {cid for cid, c in pan.categories.items() if not c.isthing}
    thing = {cid for cid, c in ds.categories.items() if c.isthing and cid not in stuff}
    bbox = matching == "bbox"
    # the authors: every annotation is a candidate; segments of the panoptic things take part
    pan_things = frozenset(cid for cid, c in pan.categories.items() if c.isthing) if bbox else None

    def tasks() -> Iterator[_Task | ImageRelations]:
        for iid, info in ds.images.items():
            anns = [a for a in ds.by_image[iid] if bbox or a["category_id"] in thing]
            n_crowd = sum(1 for a in anns if a.get("iscrowd", 0))
            if n_crowd == len(anns):
                yield ImageRelations(image_id=iid, n_crowd=n_crowd)
                continue
            pa = pan.annotations.get(iid)
            if pa is None:
                raise InputError(
                    "image has instance annotations but no panoptic annotation", file=panoptic, image_id=iid
                )
            pinfo = pan.images.get(iid)
            if pinfo is not None and (pinfo.height, pinfo.width) != (info.height, info.width):
                raise InputError(
                    f"image is {pinfo.width}x{pinfo.height} in the panoptic JSON but {info.width}x{info.height} in {instances}",
                    file=panoptic,
                    image_id=iid,
                )
            yield _Task(
                iid,
                info.height,
                info.width,
                anns,
                str(pan.png_dir / pa.file_name),
                pa.segments,
                float(theta),
                rule,
                str(instances),
                matching,
                pan_things,
            )

    def batches() -> Iterator[list[_Task | ImageRelations]]:
        batch: list[_Task | ImageRelations] = []
        for t in tasks():
            batch.append(t)
            if len(batch) == _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    if on_start is not None:
        on_start(len(ds.images))
    results: list[ImageRelations] = []
    items = tasks() if workers <= 1 else batches()  # batches cut the pool's per-task overhead
    for r in imap_ordered(_dispatch if workers <= 1 else _dispatch_batch, items, workers, name="rapkit-relations"):
        got = [r] if workers <= 1 else r
        results.extend(got)
        if progress is not None:
            progress(len(got))
    return RelationsRun(float(theta), rule, results, totals_of(results), matching=matching)


_BATCH = 8


def _dispatch(item: _Task | ImageRelations) -> ImageRelations:
    return item if isinstance(item, ImageRelations) else _run_task(item)


def _dispatch_batch(items: list[_Task | ImageRelations]) -> list[ImageRelations]:
    return [_dispatch(it) for it in items]


__all__ = ["RelationsRun", "extract_dataset_relations", "totals_of"]
