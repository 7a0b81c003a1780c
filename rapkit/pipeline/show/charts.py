"""``rapkit show charts``: the result tables of ``rapkit evaluate`` as charts (matplotlib,
the extra ``rapkit[plot]``, through :mod:`rapkit.viz.charts`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ...errors import ConfigError, RapkitError
from ...io._atomic import atomic_path, check_writable
from ...io.pictures import read_table, write_png
from ...viz.charts import ablation_figure, figure_rgb, gap_figure, require_matplotlib, sweep_figure
from ._common import ShowResult

#: the file of each chart in the output folder
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
                fig = sweep_figure(df, metric=metric, style=style, unit=unit)
            elif kind == "ablation":
                fig = ablation_figure(df, unit=unit)
            else:
                fig = gap_figure(df, unit=unit)
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
