"""``rapkit evaluate --sweep`` / ``--ablation`` as library calls (paper Tables 1 and 2).

:func:`sweep` fuses the proposals with every combination of the swept thresholds,
:func:`ablate` with Table 2's rows (heuristic, RA, RA+CA, RA+CA+EO) at one setting; both
return a :class:`SweepResult` (``.to_frame()``, ``.to_dict()``, ``.best()``) and, with
``output``, write its rows (CSV, JSON, Parquet or markdown). Every image is read and decoded
once (proposals, semantic map, GT PNG), prepared for :mod:`rapkit.core.sweep`, and fused
with every setting in memory (one kernel call per image for all Algorithm 1 / heuristic
settings); each setting's PQ statistics are added into running totals, image by image in GT
order (:class:`rapkit.core.sweep_totals.GridTotals`, one kernel call per image), and summarised.
The baseline (heuristic at rho = tau = 0.5) is always evaluated. Each row equals
what ``rapkit fuse`` + ``rapkit evaluate`` give for the same parameters. The command line
prints the result with :func:`rapkit.report.sweep.sweep_report`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._runtime.pool import imap_ordered
from ..core.fusion import decode_scene, stuff_table
from ..core.pq import summarize
from ..core.sweep import (
    BASELINE,
    GTArrays,
    ablation_grid,
    build_table,
    image_grid_counts,
    image_stats_grid,
    make_grid,
    prepare_image,
)
from ..core.sweep_totals import GridImage, GridTotals, StatsTotals
from ..errors import ConfigError, InputError, RapkitError
from ..io._atomic import check_writable
from ..io.panoptic import load_categories, load_panoptic_arrays
from ..io.png import read_id_map_fast
from ..io.proposals import load_proposals
from ..io.semantic import known_labels, open_semantic, read_semantic
from ..io.tables import write_dataframe
from ..types import FusionParams

PathLike = str | os.PathLike


def _image_task(task: tuple, shared: dict[str, Any]) -> GridImage | list:
    position, info, props, sem_item, gt_png, gt_segs, gt_arrays = task
    try:
        semantic = read_semantic(sem_item, info, shared["known"]) if sem_item is not None else None
        gt_map = read_id_map_fast(gt_png, image_id=info.id, shape=(info.height, info.width))
        prep = prepare_image(decode_scene(props), semantic, gt_map, gt_segs, position)
        if gt_arrays is None:  # values beyond the arrays: the readable matcher
            return image_stats_grid(prep, shared["grid"], shared["cats"], shared["is_stuff"])
        return image_grid_counts(prep, shared["grid"], gt_arrays, shared["cats"], shared["is_stuff"])
    except RapkitError as e:
        raise e.with_context(image_id=info.id)


@dataclass
class SweepResult:
    """Rows of a sweep or an ablation: ``table`` (pandas, fractions), the settings and their PQ
    results; ``kind`` is ``"sweep"`` or ``"ablation"``. Made by :func:`sweep` and :func:`ablate`.

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> w = make_world(f"{tempfile.mkdtemp()}/w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> res = ablate(w.panoptic, w.proposals, semantic=w.semantic)
    >>> res.kind, res.to_dict()["best"] in res.labels
    ('ablation', True)
    """

    table: Any
    labels: list[str]
    grid: list[FusionParams]
    results: list[Any]
    baseline: Any
    n_images: int
    seconds: float
    swept: list[str] = field(default_factory=list)
    kind: Literal["sweep", "ablation"] = "sweep"

    def best(self) -> int:
        """Row index of the best PQ among the non-baseline rows (first on ties)."""
        cand = [i for i, lab in enumerate(self.labels) if lab != "baseline"] or list(range(len(self.labels)))
        return max(cand, key=lambda i: (self.results[i].all.pq, -i))

    def to_frame(self) -> Any:
        """The rows (pandas DataFrame, fractions; gamma blank on heuristic rows, which do not use it)."""
        return without_unused_gamma(self.table)

    def to_dict(self) -> dict[str, Any]:
        """Images, seconds, the swept names, the best row's label and every row (fractions)."""
        df = self.to_frame()
        return {
            "n_images": self.n_images,
            "seconds": self.seconds,
            "swept": self.swept,
            "best": str(df.iloc[self.best()]["row"]),
            "rows": [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for _, r in df.iterrows()],
        }


def sweep(
    gt: PathLike,
    proposals: PathLike,
    vary: Sequence[str] = ("rho", "tau", "gamma"),
    *,
    rho: Sequence[float] | None = None,
    tau: Sequence[float] | None = None,
    gamma: Sequence[float] | None = None,
    stuff_area: int = 4096,
    variant: str | None = None,
    strategy: str = "rap",
    gt_dir: PathLike | None = None,
    semantic: PathLike | None = None,
    categories: PathLike | None = None,
    output: PathLike | None = None,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SweepResult:
    """``rapkit evaluate --sweep VARY``: RAP at every combination of the value lists of the
    parameters in ``vary`` (a list left out: 0.4, 0.5, 0.6, 0.7; a parameter not varied:
    one value or the paper's), plus the baseline. ``strategy="ocfusion"`` sweeps OCFusion
    instead (rho and tau; ``variant`` reference or original; the proposals' ``occludes``). ``output`` (``.csv``, ``.json``,
    ``.parquet``, ``.md``) also writes the rows, atomically (``force`` to replace).

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> res = sweep(w.panoptic, w.proposals, ["rho"], rho=[0.5, 0.7], semantic=w.semantic)
    >>> list(res.to_frame()["row"])
    ['baseline', 'rho=0.5', 'rho=0.7']
    """
    base = FusionParams.of(strategy, stuff_area=stuff_area, variant=variant)
    grid = make_grid(list(vary), base, rho=rho, tau=tau, gamma=gamma)
    return _run(
        gt,
        proposals,
        grid,
        list(vary),
        "sweep",
        gt_dir,
        semantic,
        categories,
        output,
        force,
        workers,
        progress,
        on_start,
    )


def ablate(
    gt: PathLike,
    proposals: PathLike,
    *,
    rho: float | None = None,
    tau: float | None = None,
    gamma: float = 0.5,
    stuff_area: int = 4096,
    variant: str | None = None,
    strategy: str = "rap",
    gt_dir: PathLike | None = None,
    semantic: PathLike | None = None,
    categories: PathLike | None = None,
    output: PathLike | None = None,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SweepResult:
    """``rapkit evaluate --ablation``: Table 2's rows (the heuristic, RA, RA+CA, RA+CA+EO) at
    one setting (``rho``/``tau`` left out: 0.6), plus the baseline; ``output`` as in
    :func:`sweep`. ``strategy="ocfusion"``: the heuristic and OCFusion in both variants
    (``rho``/``tau`` left out: 0.5).

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=2, height=48, width=64, render_images=False))
    >>> list(ablate(w.panoptic, w.proposals, semantic=w.semantic).to_frame()["row"])
    ['baseline', 'heuristic', 'RA', 'RA+CA', 'RA+CA+EO']
    """
    base = FusionParams.of(strategy, rho=rho, tau=tau, gamma=gamma, stuff_area=stuff_area, variant=variant)
    grid = ablation_grid(base)
    return _run(
        gt, proposals, grid, [], "ablation", gt_dir, semantic, categories, output, force, workers, progress, on_start
    )


def _run(gt, proposals, grid, swept, kind, gt_dir, semantic, categories, output, force, workers, progress, on_start):
    if output is not None:
        check_writable(output, force)  # before any work
    res = run_sweep(
        gt,
        proposals,
        grid,
        gt_dir=gt_dir,
        semantic=semantic,
        categories=categories,
        workers=workers,
        swept=swept,
        progress=progress,
        on_start=on_start,
    )
    res.kind = kind
    if output is not None:
        write_table(res, output, force=force)
    return res


def run_sweep(
    gt: PathLike,
    proposals: PathLike,
    grid: Sequence[FusionParams] | Sequence[tuple[str, FusionParams]],
    *,
    gt_dir: PathLike | None = None,
    semantic: PathLike | None = None,
    categories: PathLike | None = None,
    workers: int = 1,
    swept: Sequence[str] = (),
    include_baseline: bool = True,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SweepResult:
    """Evaluate every setting of ``grid`` (plus the baseline) against a panoptic GT: the
    engine of :func:`sweep` and :func:`ablate`.

    ``grid`` holds :class:`FusionParams` (rows labelled by their values) or
    ``(label, params)`` pairs. Images are those of the GT ``annotations`` (their sizes from
    the GT ``images``); proposals for other images are an error, as in ``rapkit fuse``.
    """
    t0 = time.perf_counter()
    items = [g if isinstance(g, tuple) else (None, g) for g in grid]
    if not items:
        raise ConfigError("empty parameter grid")
    labels = [lab if lab is not None else _label(p, swept) for lab, p in items]
    params = [p for _, p in items]
    if include_baseline:
        labels.insert(0, "baseline")
        params.insert(0, replace(BASELINE, stuff_area=params[0].stuff_area))

    gt = load_panoptic_arrays(gt, gt_dir)  # PQ's reader: the GT evaluate accepts, segments as arrays
    segments = gt.segments
    cats = load_categories(categories) if categories is not None else gt.categories
    if not cats:
        raise InputError("the GT panoptic JSON has no 'categories' (pass --categories)", file=gt)
    if not gt.images:
        raise InputError("the GT panoptic JSON has no 'images' list (image sizes are needed)", file=gt)
    if not gt.png_dir.is_dir():
        raise InputError(f"GT PNG folder {gt.png_dir} does not exist (pass --gt-dir)", file=gt)
    missing = [iid for iid in segments.image_ids if iid not in gt.images]
    if missing:
        raise InputError("annotation for an image missing from 'images'", file=gt, image_id=missing[0])
    images = {iid: gt.images[iid] for iid in segments.image_ids}
    need_rel = any(p.strategy == "rap" and p.ra for p in params)
    need_pairs = any(p.strategy == "ocfusion" for p in params)
    props = load_proposals(proposals, images, cats, require_relation=need_rel, pairs=need_pairs)
    sem = open_semantic(semantic, images, cats) if semantic is not None else None
    known = known_labels(cats)
    if on_start is not None:
        on_start(len(images))

    known_ids = np.fromiter(cats, np.int64, len(cats))
    cat_ids = np.unique(np.concatenate([known_ids, segments.category_id]))
    known_cat = np.isin(cat_ids, known_ids)
    g_cat = np.searchsorted(cat_ids, segments.category_id)

    def tasks():
        for position, iid in enumerate(segments.image_ids):
            info = images[iid]
            segs = [
                {"id": i, "category_id": c, "area": a, "iscrowd": crowd}
                for i, c, a, crowd in segments.segments(position)
            ]
            a, b = segments.offsets[position], segments.offsets[position + 1]
            arrays = None
            if position not in segments.exact:
                arrays = GTArrays(
                    cat_ids, known_cat, segments.id[a:b], g_cat[a:b], segments.area[a:b], segments.iscrowd[a:b]
                )
            yield (
                position,
                info,
                props[iid],
                sem.item(info) if sem is not None else None,
                str(gt.png_dir / segments.file_names[position]),
                segs,
                arrays,
            )

    # running totals per setting, fed in image order: no per-image statistics are kept
    totals = GridTotals(len(params), cat_ids.tolist())
    try:
        shared = {"cats": cats, "grid": params, "known": known, "is_stuff": stuff_table(cats)}
        for stats in imap_ordered(
            functools.partial(_image_task, shared=shared),
            tasks(),
            workers,
            on_result=(lambda r: progress(1)) if progress is not None else None,
            name="rapkit-sweep",
        ):
            if isinstance(stats, GridImage):
                totals.add_image(stats)
            else:
                totals.add(stats)
    except RapkitError as e:
        raise e.with_context(file=proposals)
    results = [summarize(totals.to_stats(s), cats) for s in range(len(params))]
    base = results[0] if include_baseline else summarize(StatsTotals().to_stats(), cats)
    table = build_table(labels, params, results, base)
    return SweepResult(table, labels, params, results, base, len(images), time.perf_counter() - t0, list(swept))


def _label(p: FusionParams, swept: Sequence[str]) -> str:
    names = list(swept) or ["rho", "tau", "gamma"]
    return " ".join(f"{n}={getattr(p, n):g}" for n in names)


def write_table(res: SweepResult, path: PathLike, force: bool = False) -> Path:
    """Write the rows to CSV, JSON, Parquet (needs pyarrow) or markdown, by extension (atomic)."""
    return write_dataframe(res.to_frame(), path, force=force)


def without_unused_gamma(df: Any) -> Any:
    """A copy of a sweep table with gamma blank (NaN) on heuristic and OCFusion rows, which do
    not use it."""
    out = df.copy()
    out.loc[out["strategy"].isin(["heuristic", "ocfusion"]), "gamma"] = float("nan")
    return out


__all__ = ["SweepResult", "ablate", "run_sweep", "sweep", "without_unused_gamma", "write_table"]
