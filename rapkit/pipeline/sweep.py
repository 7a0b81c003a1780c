"""``rapkit evaluate --sweep`` / ``--ablation`` as a library call.

Every image is read and decoded once (proposals, semantic map, GT PNG), prepared for
:mod:`rapkit.core.sweep`, and fused with every setting of the grid in memory; the
per-setting :class:`~rapkit.core.pq.PQStats` are merged over images and summarised. The
baseline (heuristic at rho = tau = 0.5) is always evaluated. Each row equals what
``rapkit fuse`` + ``rapkit evaluate`` give for the same parameters.

>>> from rapkit.core.sweep import make_grid
>>> res = run_sweep("gt.json", "proposals.json", make_grid(["rho", "tau", "gamma"]),
...                 semantic_path="semantic/")                      # doctest: +SKIP
>>> res.table.sort_values("PQ").tail(1)                            # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError, RapkitError
from ..types import FusionParams


def _image_task(task: tuple, shared: dict[str, Any]) -> list:
    from ..core.fusion import decode_scene
    from ..core.sweep import image_stats, prepare_image
    from ..io.png import read_id_map_fast
    from ..io.semantic import read_semantic

    position, info, props, sem_item, gt_png, gt_segs = task
    try:
        semantic = read_semantic(sem_item, info, shared["known"]) if sem_item is not None else None
        gt_map = read_id_map_fast(gt_png, image_id=info.id, shape=(info.height, info.width))
        prep = prepare_image(decode_scene(props), semantic, gt_map, gt_segs, position)
        return [image_stats(prep, p, shared["cats"], shared["is_stuff"]) for p in shared["grid"]]
    except RapkitError as e:
        raise e.with_context(image_id=info.id)


@dataclass
class SweepResult:
    """Rows of a sweep: ``table`` (pandas, fractions), the settings and their PQ results."""

    table: Any
    labels: list[str]
    grid: list[FusionParams]
    results: list[Any]
    baseline: Any
    n_images: int
    seconds: float
    swept: list[str] = field(default_factory=list)

    def best(self) -> int:
        """Row index of the best PQ among the non-baseline rows (first on ties)."""
        cand = [i for i, lab in enumerate(self.labels) if lab != "baseline"] or list(range(len(self.labels)))
        return max(cand, key=lambda i: (self.results[i].all.pq, -i))


def run_sweep(
    gt_json: str | os.PathLike,
    proposals_path: str | os.PathLike,
    grid: Sequence[FusionParams] | Sequence[tuple[str, FusionParams]],
    *,
    gt_dir: str | os.PathLike | None = None,
    semantic_path: str | os.PathLike | None = None,
    categories_path: str | os.PathLike | None = None,
    workers: int = 1,
    swept: Sequence[str] = (),
    include_baseline: bool = True,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SweepResult:
    """Evaluate every setting of ``grid`` (plus the baseline) against a panoptic GT.

    ``grid`` holds :class:`FusionParams` (rows labelled by their values) or
    ``(label, params)`` pairs. Images are those of the GT ``annotations`` (their sizes from
    the GT ``images``); proposals for other images are an error, as in ``rapkit fuse``.
    """
    from .._runtime.pool import imap_ordered
    from ..core.fusion import stuff_table
    from ..core.pq import merge_stats, summarize
    from ..core.sweep import BASELINE, build_table
    from ..io.panoptic import load_categories, load_panoptic_arrays
    from ..io.proposals import load_proposals
    from ..io.semantic import known_labels, open_semantic

    t0 = time.perf_counter()
    items = [g if isinstance(g, tuple) else (None, g) for g in grid]
    if not items:
        raise ConfigError("empty parameter grid")
    labels = [lab if lab is not None else _label(p, swept) for lab, p in items]
    params = [p for _, p in items]
    if include_baseline:
        labels.insert(0, "baseline")
        params.insert(0, replace(BASELINE, stuff_area=params[0].stuff_area))

    gt = load_panoptic_arrays(gt_json, gt_dir)  # PQ's reader: the GT evaluate accepts, segments as arrays
    segments = gt.segments
    cats = load_categories(categories_path) if categories_path is not None else gt.categories
    if not cats:
        raise InputError("the GT panoptic JSON has no 'categories' (pass --categories)", file=gt_json)
    if not gt.images:
        raise InputError("the GT panoptic JSON has no 'images' list (image sizes are needed)", file=gt_json)
    if not gt.png_dir.is_dir():
        raise InputError(f"GT PNG folder {gt.png_dir} does not exist (pass --gt-dir)", file=gt_json)
    missing = [iid for iid in segments.image_ids if iid not in gt.images]
    if missing:
        raise InputError("annotation for an image missing from 'images'", file=gt_json, image_id=missing[0])
    images = {iid: gt.images[iid] for iid in segments.image_ids}
    need_rel = any(p.strategy == "rap" and p.ra for p in params)
    props = load_proposals(proposals_path, images, cats, require_relation=need_rel)
    sem = open_semantic(semantic_path, images, cats) if semantic_path is not None else None
    known = known_labels(cats)
    if on_start is not None:
        on_start(len(images))

    def tasks():
        for position, iid in enumerate(segments.image_ids):
            info = images[iid]
            segs = [
                {"id": i, "category_id": c, "area": a, "iscrowd": crowd}
                for i, c, a, crowd in segments.segments(position)
            ]
            yield (
                position,
                info,
                props[iid],
                sem.item(info) if sem is not None else None,
                str(gt.png_dir / segments.file_names[position]),
                segs,
            )

    per_setting: list[list] = [[] for _ in params]
    try:
        shared = {"cats": cats, "grid": params, "known": known, "is_stuff": stuff_table(cats)}
        for stats in imap_ordered(
            functools.partial(_image_task, shared=shared),
            tasks(),
            workers,
            on_result=(lambda r: progress(1)) if progress is not None else None,
            name="rapkit-sweep",
        ):
            for k, s in enumerate(stats):
                per_setting[k].append(s)
    except RapkitError as e:
        raise e.with_context(file=proposals_path)
    results = [summarize(merge_stats(parts), cats) for parts in per_setting]
    base = results[0] if include_baseline else summarize(merge_stats([]), cats)
    table = build_table(labels, params, results, base)
    return SweepResult(table, labels, params, results, base, len(images), time.perf_counter() - t0, list(swept))


def _label(p: FusionParams, swept: Sequence[str]) -> str:
    names = list(swept) or ["rho", "tau", "gamma"]
    return " ".join(f"{n}={getattr(p, n):g}" for n in names)


# --------------------------------------------------------------------------- output


def sweep_report(res: SweepResult, *, kind: str = "sweep") -> Any:
    """Rich/JSON/CSV report: all rows (x100), the best highlighted, a Table-1 pivot, a reading."""
    from ..core.sweep import pivot_table1
    from ..report import Report, Table

    df = without_unused_gamma(res.table)
    cols = ["row", "strategy", "rho", "tau", "gamma", "PQ", "SQ", "RQ", "PQ_th", "PQ_st", "dPQ", "dPQ_th"]
    if kind == "ablation":
        cols = ["row", "rho", "tau", "gamma", "PQ", "SQ", "RQ", "PQ_th", "PQ_st", "dPQ", "dPQ_th"]
    pct = {"PQ", "SQ", "RQ", "PQ_th", "PQ_st", "dPQ", "dPQ_th"}
    rows = []
    for _, r in df.iterrows():
        rows.append(
            [(100.0 * r[c] if c in pct else (r[c] if not isinstance(r[c], float) else round(r[c], 4))) for c in cols]
        )
    best = res.best()
    title = "Ablation (paper Table 2), x100" if kind == "ablation" else "Threshold sweep (paper Table 1), x100"
    tables = [Table(kind, cols, rows, title=title, highlight_rows=[best], decimals=2)]
    notes = []
    b = df.iloc[best]
    base = df.iloc[0]
    notes.append(
        f"best: {b['row']} with PQ {100 * b['PQ']:.2f} ({100 * b['dPQ']:+.2f} vs the heuristic baseline at "
        f"rho = tau = 0.5, PQ {100 * base['PQ']:.2f}); PQ_th {100 * b['PQ_th']:.2f} ({100 * b['dPQ_th']:+.2f})."
    )
    if kind == "sweep" and (df["strategy"] == "rap").any() and len(res.swept) >= 2:
        piv = pivot_table1(df, "dPQ")
        pcols = [f"{t:g}/{g:g}" for t, g in piv.columns]
        prow = [[f"{rho:g}", *[100.0 * v for v in piv.loc[rho].tolist()]] for rho in piv.index]
        tables.append(
            Table(
                "table1",
                ["rho \\ tau/gamma", *pcols],
                prow,
                title="dPQ vs the baseline in Table 1's layout (rows rho, columns tau/gamma), x100",
                decimals=2,
            )
        )
    data = {
        "n_images": res.n_images,
        "seconds": res.seconds,
        "swept": res.swept,
        "best": str(b["row"]),
        "rows": [_row_json(r) for _, r in df.iterrows()],
    }
    return Report(kind, data, tables, notes)


def _row_json(r: Any) -> dict[str, Any]:
    out = {}
    for k, v in r.items():
        out[k] = v.item() if hasattr(v, "item") else v
    return out


def write_table(res: SweepResult, path: str | os.PathLike, force: bool = False) -> Path:
    """Write the rows to CSV, JSON, Parquet (needs pyarrow) or markdown, by extension (atomic)."""
    from ..io.tables import write_dataframe

    return write_dataframe(without_unused_gamma(res.table), path, force=force)


def without_unused_gamma(df: Any) -> Any:
    """A copy of a sweep table with gamma blank (NaN) on heuristic rows, which do not use it."""
    out = df.copy()
    out.loc[out["strategy"] == "heuristic", "gamma"] = float("nan")
    return out
