"""Result rendering: rich tables, JSON (with ``schema_version``), CSV, pandas.

A command builds a :class:`Report` (machine-readable ``data`` plus display ``tables``) and
the CLI renders it with :func:`render`.

>>> r = Report("pq", {"pq": 0.5}, [Table("pq", ["PQ"], [[50.0]])])
>>> "50.0" in render(r, "table")
True
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]
    title: str | None = None
    highlight_rows: list[int] = field(default_factory=list)
    decimals: int = 1


@dataclass
class Report:
    kind: str
    data: dict[str, Any]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if math.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def to_json(report: Report) -> str:
    payload = {"schema_version": SCHEMA_VERSION, "kind": report.kind}
    payload.update(report.data)
    return json.dumps(_clean(payload), indent=2, default=_json_default) + "\n"


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    multi = len(report.tables) > 1
    for t in report.tables:
        if multi:
            w.writerow(["table", *t.columns])
            for row in t.rows:
                w.writerow([t.name, *[_csv_cell(v) for v in row]])
        else:
            w.writerow(t.columns)
            for row in t.rows:
                w.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return v


def _fmt_cell(v: Any, decimals: int) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.{decimals}f}"
    return str(v)


def to_text(report: Report, width: int = 200) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None, record=True)
    for t in report.tables:
        rt = RichTable(title=t.title, title_justify="left")
        for k, c in enumerate(t.columns):
            rt.add_column(c, justify="left" if k == 0 else "right")
        for i, row in enumerate(t.rows):
            cells = [_fmt_cell(v, t.decimals) for v in row]
            if i in t.highlight_rows:
                cells[0] = f"* {cells[0]}"
            rt.add_row(*cells, style="bold" if i in t.highlight_rows else None)
        console.print(rt)
    for n in report.notes:
        console.print(n, highlight=False, markup=False)
    return console.export_text()


def render(report: Report, fmt: str) -> str:
    """Render ``report`` as ``table``, ``json`` or ``csv`` text."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "table":
        return to_text(report)
    raise ValueError(f"unknown format {fmt!r}")


def table_from_dataframe(df: Any, name: str, title: str | None = None, decimals: int = 1) -> Table:
    """A :class:`Table` from a pandas DataFrame (index ignored)."""
    rows = [[(v.item() if hasattr(v, "item") else v) for v in r] for r in df.itertuples(index=False, name=None)]
    return Table(name, [str(c) for c in df.columns], rows, title=title, decimals=decimals)
