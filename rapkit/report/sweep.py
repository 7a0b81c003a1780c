"""``rapkit evaluate --sweep`` / ``--ablation``'s report (paper Tables 1 and 2)."""

from __future__ import annotations

from ..core.sweep import pivot_table1
from ..pipeline.sweep import SweepResult
from .render import Report, Table

__all__ = ["sweep_report"]


def sweep_report(res: SweepResult, *, kind: str | None = None) -> Report:
    """All rows (x100), the best highlighted, a Table-1 pivot, a reading; ``kind`` defaults
    to the result's (``"sweep"`` or ``"ablation"``)."""
    kind = kind or res.kind
    df = res.to_frame()
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
    return Report(kind, res.to_dict(), tables, notes)
