"""Charts of rapkit's result tables as matplotlib Figures: Table 1 (sweep), Table 2
(ablation), the per-category relation gap (paper Fig. 3).

* :func:`sweep_figure`, :func:`ablation_figure`, :func:`gap_figure` (with :func:`gap_matrix`),
  :func:`overlap_types_figure` (Fig. 3 unordered, with its cubic trend);
* :func:`figure_rgb`: a Figure rendered into an (H, W, 3) uint8 array (Agg, no pyplot);
* :func:`table_unit`: whether a table holds percentages or fractions.

matplotlib is optional (the extra ``rapkit[plot]``): it is imported when a figure is made,
never when this module is, and :func:`require_matplotlib` turns its absence into a
:class:`~rapkit.errors.ConfigError` that names the extra (:data:`PLOT_HINT`).

>>> import pandas as pd
>>> table_unit(pd.DataFrame({"PQ": [41.0]}))
'percent'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError

#: how to install the optional charts dependency
PLOT_HINT = "pip install 'rapkit[plot]'"
#: the columns of absolute scores (table_unit looks at them, and at columns ending in "accuracy")
ABSOLUTE_METRICS = ("PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st")


def require_matplotlib() -> None:
    """ConfigError (exit 2) with the install hint when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401  (optional: the extra `plot`)
    except ImportError:
        raise ConfigError(f"charts need matplotlib, which is not installed: {PLOT_HINT}") from None


def table_unit(df: Any, declared: str | None = None) -> str:
    """``"percent"`` or ``"fraction"``: the declared unit (a JSON table's ``unit``) when
    given, else ``percent`` when any absolute metric (PQ, SQ, RQ and their _th/_st, or a
    column ending in ``accuracy``) exceeds 1.5, else ``fraction``.

    >>> import pandas as pd
    >>> table_unit(pd.DataFrame({"PQ": [0.5]})), table_unit(pd.DataFrame({"PQ": [50.0]}))
    ('fraction', 'percent')
    """
    if declared in ("percent", "fraction"):
        return declared
    cols = [c for c in df.columns if str(c) in ABSOLUTE_METRICS or str(c).lower().endswith("accuracy")]
    for c in cols:
        v = np.asarray(df[c], dtype=np.float64)
        if np.nanmax(np.abs(v), initial=0.0) > 1.5:
            return "percent"
    return "fraction"


def _percent_values(df: Any, unit: str, cols: Sequence[str]) -> Any:
    out = df.copy()
    if unit == "fraction":
        for c in cols:
            out[c] = out[c].astype(float) * 100.0
    return out


def _figure(w: float, h: float) -> Any:
    # a bare Figure rendered by FigureCanvasAgg (figure_rgb): the Agg backend without
    # pyplot, so no global backend state is touched and no window can open
    require_matplotlib()
    from matplotlib.figure import Figure  # optional: the extra `plot`

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def sweep_figure(df: Any, *, metric: str = "PQ", style: str = "heatmap", unit: str | None = None) -> Any:
    """Table 1 as a matplotlib Figure: one heatmap per gamma (rows rho, columns tau) of
    ``metric`` over the ``rap`` rows, or (``style="lines"``, or when only one parameter
    varies) lines of ``metric`` against the first varying parameter, one line per setting
    of the others. The heuristic baseline row, when present, is named in the title. Values
    are shown in percent (fractions are converted; see :func:`table_unit`)."""
    if metric not in df.columns:
        raise InputError(f"sweep table has no column {metric!r} (columns: {', '.join(map(str, df.columns))})")
    for c in ("rho", "tau", "gamma"):
        if c not in df.columns:
            raise InputError(f"sweep table has no column {c!r}: not a table of rapkit evaluate --sweep")
    u = table_unit(df, unit)
    data = _percent_values(df, u, [metric])
    rap = data[data["strategy"] == "rap"] if "strategy" in data.columns else data
    if rap.empty:
        raise InputError("sweep table has no rap rows to plot")
    base = data[data["strategy"] == "heuristic"] if "strategy" in data.columns else data.iloc[:0]
    base_note = f"; heuristic baseline {float(base[metric].iloc[0]):.1f}" if len(base) else ""
    varying = [c for c in ("rho", "tau", "gamma") if rap[c].nunique() > 1]
    label = f"{metric} (%)"
    if style == "heatmap" and {"rho", "tau"} <= set(varying):
        gammas = sorted(rap["gamma"].unique())
        fig = _figure(min(4.2 * len(gammas) + 1.2, 22), 3.9)
        axes = fig.subplots(1, len(gammas), squeeze=False)[0]
        piv_all = rap.pivot_table(index="rho", columns=["tau", "gamma"], values=metric, aggfunc="first")
        vmin, vmax = float(np.nanmin(piv_all.values)), float(np.nanmax(piv_all.values))
        im = None
        for ax, g in zip(axes, gammas):
            piv = rap[rap["gamma"] == g].pivot_table(index="rho", columns="tau", values=metric, aggfunc="first")
            im = ax.imshow(piv.values, cmap="viridis", vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
            ax.set_xticks(range(piv.shape[1]), [f"{v:g}" for v in piv.columns])
            ax.set_yticks(range(piv.shape[0]), [f"{v:g}" for v in piv.index])
            ax.set_xlabel("tau")
            ax.set_ylabel("rho")
            ax.set_title(f"gamma = {g:g}")
            for i in range(piv.shape[0]):
                for j in range(piv.shape[1]):
                    v = piv.values[i, j]
                    if np.isfinite(v):
                        r, g_, b, _ = im.cmap(im.norm(v))
                        dark = 0.299 * r + 0.587 * g_ + 0.114 * b < 0.5
                        ax.text(
                            j, i, f"{v:.1f}", ha="center", va="center", fontsize=8, color="white" if dark else "black"
                        )
        fig.colorbar(im, ax=list(axes), label=label)
        fig.suptitle(f"Threshold sweep (Table 1): {metric}, rap rows{base_note}")
        return fig
    # lines: x = the first varying parameter, one line per value of the second, one panel
    # per value of the third
    x = varying[0] if varying else "rho"
    hue = varying[1] if len(varying) > 1 else None
    facet = varying[2] if len(varying) > 2 else None
    facets = sorted(rap[facet].unique()) if facet else [None]
    fig = _figure(min(4.6 * len(facets) + 1.0, 22), 4.0)
    axes = fig.subplots(1, len(facets), squeeze=False, sharey=True)[0]
    for ax, fv in zip(axes, facets):
        sub = rap if facet is None else rap[rap[facet] == fv]
        groups = [(None, sub)] if hue is None else list(sub.groupby(hue, sort=True))
        for hv, grp in groups:
            grp = grp.sort_values(x).drop_duplicates(subset=[x])
            ax.plot(grp[x], grp[metric], marker="o", label=None if hv is None else f"{hue} = {hv:g}")
        if len(base):
            ax.axhline(float(base[metric].iloc[0]), color="grey", linestyle="--", label="heuristic baseline")
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if facet is not None:
            ax.set_title(f"{facet} = {fv:g}")
    axes[0].legend(fontsize=8)
    fixed = [c for c in ("rho", "tau", "gamma") if c not in varying]
    fixed_note = ", ".join(f"{c} = {rap[c].iloc[0]:g}" for c in fixed)
    fig.suptitle(f"Threshold sweep (Table 1): {metric}{' at ' + fixed_note if fixed_note else ''}{base_note}")
    return fig


def ablation_figure(df: Any, *, metrics: Sequence[str] = ("PQ", "PQ_th", "PQ_st"), unit: str | None = None) -> Any:
    """Table 2 as grouped bars: one group per row (heuristic, RA, RA+CA, ...), one bar per
    metric, values in percent written above the bars."""
    if "row" not in df.columns:
        raise InputError("ablation table has no 'row' column: not a table of rapkit evaluate --ablation")
    ms = [m for m in metrics if m in df.columns]
    if not ms:
        raise InputError(f"ablation table has none of the columns {', '.join(metrics)}")
    u = table_unit(df, unit)
    data = _percent_values(df, u, ms)
    fig = _figure(max(6.4, 1.1 * len(data) + 2), 4.2)
    ax = fig.subplots()
    n = len(ms)
    xs = np.arange(len(data))
    bw = 0.8 / n
    for k, m in enumerate(ms):
        bars = ax.bar(xs + (k - (n - 1) / 2) * bw, data[m].astype(float), bw, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(xs, [str(r) for r in data["row"]], rotation=20, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, max(100.0, float(np.nanmax(data[ms].values)) * 1.08))
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("Ablation (Table 2)")
    return fig


def gap_matrix(df: Any, value: str | None = None) -> tuple[Any, str]:
    """The per-category table as a matrix: long form (columns ``front``, ``back`` and a
    numeric value column: ``mean_gap`` as ``rapkit evaluate --by-category`` writes it, else
    ``value``, else the first other numeric column that is not an id) pivoted to rows =
    front category, columns = back category; or a wide table (first column = row labels,
    the other numeric columns = column labels) as it is. Returns ``(matrix, value name)``."""
    cols = [str(c) for c in df.columns]
    if "front" in cols and "back" in cols:
        if value is None:
            preferred = [c for c in ("mean_gap", "value") if c in cols]
            nums = preferred or [
                c
                for c in df.columns
                if c not in ("front", "back") and not str(c).endswith("_id") and df[c].dtype.kind in "fiu"
            ]
            if not nums:
                raise InputError("relation-gap table has no numeric value column")
            value = str(nums[0])
        if value not in cols:
            raise InputError(f"relation-gap table has no column {value!r}")
        return df.pivot_table(index="front", columns="back", values=value, aggfunc="first"), value
    first = df.columns[0]
    nums = [c for c in df.columns[1:] if df[c].dtype.kind in "fiu"]
    if not nums:
        raise InputError(
            "relation-gap table needs columns front, back and a value, or a first label column and numeric columns"
        )
    return df.set_index(first)[nums], value or "value"


def gap_figure(df: Any, *, value: str | None = None, unit: str | None = None) -> Any:
    """The per-category relation gap (paper Fig. 3) as a heatmap (see :func:`gap_matrix`)."""
    mat, name = gap_matrix(df, value)
    vals = mat.values.astype(np.float64)
    # the gap v_back - v_front is in relation-value units, never a percentage
    pct = name != "mean_gap" and (unit == "percent" or (unit is None and np.nanmax(np.abs(vals), initial=0.0) > 1.5))
    n_r, n_c = mat.shape
    fig = _figure(min(2.5 + 0.45 * n_c, 24), min(2.0 + 0.4 * n_r, 24))
    ax = fig.subplots()
    lim = float(np.nanmax(np.abs(vals), initial=0.0)) or 1.0
    im = ax.imshow(
        vals,
        cmap="RdBu_r",
        vmin=-lim if np.nanmin(vals, initial=0) < 0 else None,
        vmax=lim if np.nanmin(vals, initial=0) < 0 else None,
        aspect="auto",
    )
    ax.set_xticks(range(n_c), [str(c) for c in mat.columns], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_r), [str(r) for r in mat.index], fontsize=7)
    ax.set_xlabel(str(mat.columns.name or "back"))
    ax.set_ylabel(str(mat.index.name or "front"))
    if n_r * n_c <= 400:
        for i in range(n_r):
            for j in range(n_c):
                if np.isfinite(vals[i, j]):
                    r, g, b, _ = im.cmap(im.norm(vals[i, j]))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                    ax.text(
                        j,
                        i,
                        f"{vals[i, j]:.2g}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if dark else "black",
                    )
    fig.colorbar(im, ax=ax, label=f"{name}{' (%)' if pct else ''}")
    ax.set_title("Relation gap per ordered (front, back) pair (Fig. 3)", fontsize=10)
    return fig


def overlap_types_figure(df: Any, *, sorted_by: str = "train_count", degree: int | None = None) -> Any:
    """Paper Fig. 3 as the paper drew it, in rapkit's reading (:mod:`rapkit.core.overlap_types`):
    one bar per overlap type (unordered category pair) in rank order (1 = most frequent by
    ``sorted_by``), the bar ``abs_gap`` (|mean gap|, GT-oriented, relation-value units), the
    least-squares polynomial trend (``trend``) as a red line. ``df`` is
    :func:`rapkit.core.overlap_types.overlap_type_frame`'s table (columns ``rank``, ``type``,
    ``abs_gap``, ``trend``). Type names label the axis up to 60 types."""
    for c in ("rank", "type", "abs_gap", "trend"):
        if c not in df.columns:
            raise InputError(f"overlap-type table has no column {c!r}")
    n = len(df)
    fig = _figure(min(max(6.4, 2.0 + 0.22 * n), 24), 4.6)
    ax = fig.subplots()
    x = np.asarray(df["rank"], dtype=np.float64)
    ax.bar(x, np.asarray(df["abs_gap"], dtype=np.float64), 0.8, color="#4c72b0", label="|mean gap| per overlap type")
    deg = f"degree {degree}" if degree is not None else "polynomial"
    ax.plot(
        x, np.asarray(df["trend"], dtype=np.float64), color="red", linewidth=2, label=f"least-squares trend ({deg})"
    )
    if n <= 60:
        ax.set_xticks(x, [str(t) for t in df["type"]], rotation=70, ha="right", fontsize=6)
    ax.set_xlim(0.3, max(n, 1) + 0.7)
    freq = "training relations" if sorted_by == "train_count" else "matched pairs (no training counts)"
    ax.set_xlabel(f"overlap type, by frequency ({freq}), most frequent first")
    ax.set_ylabel("|mean gap| (relation value)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("Per overlap type relation gap (Fig. 3, a reading: unordered types, |gap|, cubic trend)", fontsize=10)
    return fig


def figure_rgb(fig: Any) -> np.ndarray:
    """Render a matplotlib Figure with the Agg canvas into an (H, W, 3) uint8 array."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # optional: the extra `plot`

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


__all__ = [
    "PLOT_HINT",
    "require_matplotlib",
    "table_unit",
    "sweep_figure",
    "ablation_figure",
    "gap_matrix",
    "gap_figure",
    "overlap_types_figure",
    "figure_rgb",
]
