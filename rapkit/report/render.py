"""Result rendering: rich tables, JSON (with ``schema_version``), CSV, pandas.

A command builds a :class:`Report` (machine-readable ``data`` plus display ``tables``) and
the CLI renders it with :func:`render`.

Units: the library (``rapkit.summarize``, ``PQResult``, ``SweepResult.table``, the
``relation accuracy`` dicts) holds PQ, SQ, RQ and accuracies as fractions in [0, 1]; every
output of the command line holds them in percent (x100, as panopticapi prints them and the
paper reports them): tables, CSV, JSON (``"unit": "percent"``) and the files of
``--output`` (CSV, JSON, Parquet, markdown). The conversion is made in one place,
:func:`to_percent` / :func:`percent_frame`, keyed by :func:`is_percent_key`; table rows are
built in percent by the report functions themselves.

>>> r = Report("pq", {"pq": 0.5}, [Table("pq", ["PQ"], [[50.0]])])
>>> "50.0" in render(r, "table")
True
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 2  # 2: PQ/SQ/RQ and accuracies in percent (1 held fractions)

#: metric names (case-insensitive) that hold a fraction in the library and a percentage in
#: every CLI output; also every name ending in ``accuracy``
PERCENT_KEYS = frozenset(f"{d}{m}{s}" for d in ("", "d") for m in ("pq", "sq", "rq") for s in ("", "_th", "_st"))


def is_percent_key(key: Any) -> bool:
    """Whether a data key / column holds PQ, SQ, RQ (or a difference of them) or an accuracy."""
    k = str(key).lower()
    return k in PERCENT_KEYS or k.endswith("accuracy")


def _pct(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalar
            return _pct(v.item())
        return v
    return 100.0 * v


def to_percent(data: Any) -> Any:
    """A copy of ``data`` (dicts, lists) with every number under a percent key x100."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            out[k] = to_percent(v) if isinstance(v, (dict, list, tuple)) else (_pct(v) if is_percent_key(k) else v)
        return out
    if isinstance(data, (list, tuple)):
        return [to_percent(v) for v in data]
    return data


def percent_frame(df: Any) -> Any:
    """A copy of a pandas DataFrame with the percent columns x100 (other columns as they are)."""
    out = df.copy()
    for c in out.columns:
        if is_percent_key(c) and out[c].dtype.kind in "fiu":
            out[c] = out[c] * 100.0
    return out


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
    """JSON of ``report.data`` with PQ/SQ/RQ and accuracies in percent (``"unit"``)."""
    payload = {"schema_version": SCHEMA_VERSION, "kind": report.kind, "unit": "percent"}
    payload.update(to_percent(report.data))
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
    """The tables (rich's heavy-head box, first column left, the others right) and notes of
    ``report`` as plain text, ``width`` columns at most.

    rich lays them out; a report of plain cells (what :func:`_plain_text` accepts: printable
    ASCII, nothing rich would read as markup or an emoji, nothing to wrap) is written here
    instead, byte for byte as rich writes it, without importing rich (25-35 ms of a small
    command's start-up; ``tests/report/test_plain_text.py`` compares the two on random
    reports)."""
    text = _plain_text(report, width)
    return text if text is not None else _rich_text(report, width)


def _rows(t: Table) -> list[list[str]]:
    rows = []
    for i, row in enumerate(t.rows):
        cells = [_fmt_cell(v, t.decimals) for v in row]
        if i in t.highlight_rows:
            cells[0] = f"* {cells[0]}"
        rows.append(cells)
    return rows


def _rich_text(report: Report, width: int) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None, record=True)
    for t in report.tables:
        rt = RichTable(title=t.title, title_justify="left")
        for k, c in enumerate(t.columns):
            rt.add_column(c, justify="left" if k == 0 else "right")
        for i, cells in enumerate(_rows(t)):
            rt.add_row(*cells, style="bold" if i in t.highlight_rows else None)
        console.print(rt)
    for n in report.notes:
        console.print(n, highlight=False, markup=False)
    return console.export_text()


#: what rich could read as an emoji code (``:name:``, no whitespace inside)
_EMOJI_LIKE = re.compile(r":\S*:")


def _plain(s: Any) -> bool:
    # printable ASCII (one column per character), no markup ("["), nothing like an emoji
    # code, no whitespace rich would trim or wrap at the ends
    return (
        isinstance(s, str)
        and s.isascii()
        and s.isprintable()
        and "[" not in s
        and not _EMOJI_LIKE.search(s)
        and s == s.strip()
    )


def _rule(left: str, fill: str, mid: str, right: str, widths: list[int]) -> str:
    return left + mid.join(fill * (w + 2) for w in widths) + right


def _cells(edge: str, row: list[str], widths: list[int]) -> str:
    # the first column left-justified, the others right, one space of padding each side
    parts = [f" {c.ljust(w) if k == 0 else c.rjust(w)} " for k, (c, w) in enumerate(zip(row, widths))]
    return edge + edge.join(parts) + edge


def _plain_text(report: Report, width: int) -> str | None:
    """``to_text`` without rich, or None when rich must lay the report out (see :func:`to_text`)."""
    if sys.platform == "win32":  # a legacy Windows console gets rich's ASCII-safe boxes
        return None
    lines: list[str] = []
    for t in report.tables:
        header = list(t.columns)
        rows = _rows(t)
        n = len(header)
        if not n or any(len(r) != n for r in rows) or not all(_plain(c) for c in header):
            return None
        if not all(_plain(c) and c for r in rows for c in r):
            return None
        widths = [max([len(header[k])] + [len(r[k]) for r in rows]) for k in range(n)]
        total = sum(widths) + 3 * n + 1
        if min(widths) == 0 or total > width:
            return None
        if t.title is not None:
            if not (_plain(t.title) and t.title and len(t.title) <= total):
                return None
            lines.append(t.title.ljust(total))
        lines.append(_rule("┏", "━", "┳", "┓", widths))
        lines.append(_cells("┃", header, widths))
        lines.append(_rule("┡", "━", "╇", "┩", widths))
        lines.extend(_cells("│", r, widths) for r in rows)
        lines.append(_rule("└", "─", "┴", "┘", widths))
    for note in report.notes:
        if not (_plain(note) and note and len(note) <= width):
            return None
        lines.append(note)
    return "".join(ln + "\n" for ln in lines)


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
