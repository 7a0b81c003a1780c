"""``rapkit show charts``: the result tables of ``rapkit evaluate`` as charts (matplotlib,
the extra ``rapkit[plot]``, through :mod:`rapkit.viz.charts`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ...core.overlap_types import overlap_type_frame, overlap_types_of_table
from ...errors import ConfigError, InputError, RapkitError
from ...io._atomic import atomic_path, check_writable
from ...io.pictures import read_table, write_png
from ...viz.charts import (
    ablation_figure,
    figure_rgb,
    gap_figure,
    overlap_types_figure,
    require_matplotlib,
    sweep_figure,
)
from ._common import ShowResult

#: the file of each chart in the output folder
CHART_NAMES = {
    "sweep": "sweep.png",
    "ablation": "ablation.png",
    "gap": "relation_gap.png",
    "overlap": "overlap_types.png",
}


def _overlap_figure(df):
    """Fig. 3 unordered from the ordered per-category table (``evaluate --by-category -o``)."""
    try:
        ot = overlap_types_of_table(df)
    except ValueError as e:
        raise InputError(f"{e} (expected the table of rapkit evaluate --by-category -o)") from None
    if len(ot) == 0:
        raise InputError("the per-category table has no row with pairs: nothing to chart")
    names: dict[int, str] = {}
    if {"front_id", "back_id", "front", "back"} <= set(map(str, df.columns)):
        for i, n in zip(list(df["front_id"]) + list(df["back_id"]), list(df["front"]) + list(df["back"])):
            names.setdefault(int(i), str(n))
    frame = overlap_type_frame(ot, names, accuracy=False)
    return overlap_types_figure(frame, sorted_by=ot.sorted_by, degree=ot.trend.degree)


def show_charts(
    output: str | os.PathLike,
    *,
    sweep: str | os.PathLike | None = None,
    ablation: str | os.PathLike | None = None,
    gap: str | os.PathLike | None = None,
    overlap: str | os.PathLike | None = None,
    metric: str = "PQ",
    style: str = "heatmap",
    force: bool = False,
) -> ShowResult:
    """Charts from the tables ``rapkit evaluate --sweep/--ablation --output`` writes (.csv,
    .json, .parquet; percent or fraction units): ``sweep.png`` (Table 1 as heatmaps per gamma
    or lines), ``ablation.png`` (Table 2 as bars), ``relation_gap.png`` (a per-category
    table as a heatmap), ``overlap_types.png`` (``overlap``: the per-category table of
    ``rapkit evaluate --by-category -o`` as unordered overlap types by frequency with |gap|
    and the cubic trend, a reading of paper Fig. 3). Needs matplotlib (``pip install 'rapkit[plot]'``)."""
    t0 = time.perf_counter()
    if sweep is None and ablation is None and gap is None and overlap is None:
        raise ConfigError(
            "nothing to chart: give --sweep-table, --ablation-table, --gap-table and/or --overlap-table with a table file"
        )
    if style not in ("heatmap", "lines"):
        raise ConfigError(f"unknown chart style {style!r} (heatmap or lines)")
    require_matplotlib()
    check_writable(output, force)
    figures: list[tuple[str, str, np.ndarray]] = []
    for kind, path in (("sweep", sweep), ("ablation", ablation), ("gap", gap), ("overlap", overlap)):
        if path is None:
            continue
        df, unit = read_table(path)
        try:
            if kind == "sweep":
                fig = sweep_figure(df, metric=metric, style=style, unit=unit)
            elif kind == "ablation":
                fig = ablation_figure(df, unit=unit)
            elif kind == "gap":
                fig = gap_figure(df, unit=unit)
            else:
                fig = _overlap_figure(df)
        except RapkitError as e:
            raise e.with_context(file=path)
        figures.append((kind, str(path), figure_rgb(fig)))
    res = ShowResult("charts", str(output))
    with atomic_path(output, force, directory=True) as tmp:
        for kind, src, rgb in figures:
            write_png(tmp / CHART_NAMES[kind], rgb)
            res.pictures.append({"chart": kind, "source": src, "path": str(Path(output) / CHART_NAMES[kind])})
    res.seconds = time.perf_counter() - t0
    return res


__all__ = ["CHART_NAMES", "show_charts", "require_matplotlib"]
