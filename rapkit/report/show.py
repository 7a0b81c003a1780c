"""``rapkit show``'s report: the pictures written."""

from __future__ import annotations

from typing import Any

from ..pipeline.show import ShowResult
from .render import Report, Table

__all__ = ["show_report"]


def show_report(res: ShowResult) -> Report:
    """A table listing the pictures written, with their per-kind extras."""

    if res.kind == "charts":
        cols = ["chart", "source", "path"]
        rows = [[p["chart"], p["source"], p["path"]] for p in res.pictures]
        t = Table("pictures", cols, rows, title=f"rapkit show charts -> {res.output}")
        return Report("show", res.to_dict(), [t])
    extra = [
        k
        for k in ("differing_pixels", "relations", "correct", "wrong", "unmatched")
        if any(k in p for p in res.pictures)
    ]
    top = any("dpq" in p for p in res.pictures)
    cols = ["image_id", *extra, *(["PQ A", "PQ B", "dPQ"] if top else []), "path"]
    rows = []
    for p in res.pictures:
        row: list[Any] = [p["image_id"]]
        row += [p.get(k, "") for k in extra]
        if top:
            row += [100.0 * p["a"]["pq"], 100.0 * p["b"]["pq"], 100.0 * p["dpq"]]
        row.append(p["path"])
        rows.append(row)
    t = Table("pictures", cols, rows, title=f"rapkit show {res.kind} -> {res.output}", decimals=2)
    return Report("show", res.to_dict(), [t])
