"""The reports of several metrics in one run (``rapkit evaluate --metric pq,boundary,pq-dagger``):
the metrics side by side (All / Things / Stuff, per class, per image) and, for two
predictions, each metric's per-image delta.

Columns carry the metric as a suffix: ``PQ SQ RQ N`` (PQ), ``PQ^B SQ^B RQ^B N^B`` (Boundary
PQ), ``PQ† SQ† RQ† N†`` (PQ†). Table values are percent; the data (JSON) holds fractions
under each metric's name, which the renderer turns into percent.
"""

from __future__ import annotations

from typing import Any

from ..pipeline.metrics import Evaluation, metric_deltas
from .render import Report, Table

__all__ = ["SUFFIX", "metrics_delta_report", "metrics_report"]

#: the column suffix of each metric
SUFFIX = {"pq": "", "boundary": "^B", "pq-dagger": "†"}

_NAMES = {"pq": "PQ", "boundary": "Boundary PQ (^B)", "pq-dagger": "PQ† (†)"}


def _pct(v: float) -> float:
    return 100.0 * v


def _names(ev: Evaluation) -> str:
    return ", ".join(_NAMES[m] for m in ev.metrics)


def _main_table(ev: Evaluation, name: str = "pq", title: str | None = None) -> Table:
    cols = [""] + [f"{k}{SUFFIX[m]}" for m in ev.metrics for k in ("PQ", "SQ", "RQ", "N")]
    rows = []
    for split in ("all", "things", "stuff"):
        row: list[Any] = [split.capitalize()]
        for m in ev.metrics:
            s = getattr(ev[m].result, split)
            row += [_pct(s.pq), _pct(s.sq), _pct(s.rq), s.n]
        rows.append(row)
    return Table(name, cols, rows, title=title or f"{_names(ev)} ({ev.n_images} images)")


def metrics_report(ev: Evaluation, per_class: bool = False, per_image: bool = False) -> Report:
    """The metrics side by side: All / Things / Stuff, per class with ``per_class`` (TP FP
    FN of each metric), per image with ``per_image``; data ``{metrics, n_images, <metric>:
    {...}, per_image: [{image_id, <metric>: {pq, pq_th, tp, fp, fn}}]}`` (fractions)."""
    tables = [_main_table(ev)]
    data = ev.to_dict()
    if per_class:
        first = ev[ev.metrics[0]].result.per_class
        rows = []
        for cid, c in first.items():
            cs = [ev[m].result.per_class[cid] for m in ev.metrics]
            if not any(x.tp + x.fp + x.fn for x in cs):
                continue
            row: list[Any] = [c.name, cid, "thing" if c.isthing else "stuff"]
            for x in cs:
                row += [_pct(x.pq), _pct(x.sq), _pct(x.rq), x.tp, x.fp, x.fn]
            rows.append(row)
        cols = ["class", "id", "kind"] + [
            f"{k}{SUFFIX[m]}" for m in ev.metrics for k in ("PQ", "SQ", "RQ", "TP", "FP", "FN")
        ]
        absent = len(first) - len(rows)
        title = "Per class" + (f" ({absent} classes absent from GT and prediction not shown)" if absent else "")
        tables.append(Table("per_class", cols, rows, title=title))
    else:
        for m in ev.metrics:
            data[m].pop("per_class", None)
    if per_image:
        rows = ev.image_rows()
        cols = ["image"] + [f"{k}{SUFFIX[m]}" for m in ev.metrics for k in ("PQ", "PQ^Th", "TP", "FP", "FN")]
        trows = []
        for r in rows:
            row = [r["image_id"]]
            for m in ev.metrics:
                x = r[m]
                row += [_pct(x["pq"]), _pct(x["pq_th"]), x["tp"], x["fp"], x["fn"]]
            trows.append(row)
        title = f"Per image ({len(rows)} images, GT order; PQ of an image with no class present: -)"
        tables.append(Table("per_image", cols, trows, title=title))
        data["per_image"] = rows
    return Report("evaluate", data, tables)


def metrics_delta_report(a: Evaluation, b: Evaluation, names: tuple[str, str] = ("A", "B")) -> Report:
    """Two predictions of one GT on every metric: both side-by-side tables, then per metric
    the per-image ΔPQ table (PQ(B) - PQ(A) of that metric, largest |ΔPQ| first); data
    ``{n_images, metrics, A, B, per_image: {<metric>: [{image_id, dpq, a, b}]}, warnings}``."""
    ta = _main_table(a, "pq_a", f"A: {names[0]} - {_names(a)} ({a.n_images} images)")
    tb = _main_table(b, "pq_b", f"B: {names[1]} - {_names(b)} ({b.n_images} images)")
    deltas = metric_deltas(a, b)
    tables = [ta, tb]
    for m, rows in deltas.items():
        s = SUFFIX[m]
        cols = ["image", f"dPQ{s} (B-A)", f"PQ{s} A", f"PQ{s} B", f"PQ^Th{s} A", f"PQ^Th{s} B"]
        cols += [f"{k}{s} {x}" for k in ("TP", "FP", "FN") for x in ("A", "B")]
        trows = [
            [r["image_id"], _pct(r["dpq"]), _pct(r["a"]["pq"]), _pct(r["b"]["pq"]), _pct(r["a"]["pq_th"]),
             _pct(r["b"]["pq_th"]), r["a"]["tp"], r["b"]["tp"], r["a"]["fp"], r["b"]["fp"], r["a"]["fn"], r["b"]["fn"]]
            for r in rows
        ]  # fmt: skip
        title = f"Per image, {_NAMES[m]}: dPQ{s} = PQ{s}(B) - PQ{s}(A), largest |dPQ{s}| first ({len(rows)} images)"
        tables.append(Table(f"per_image_{m}", cols, trows, title=title))
    da, db = a.to_dict(), b.to_dict()
    for d, name in ((da, names[0]), (db, names[1])):
        for m in a.metrics:
            d[m].pop("per_class", None)
        d["pred"] = name
    data = {
        "n_images": a.n_images,
        "metrics": list(a.metrics),
        "A": da,
        "B": db,
        "per_image": deltas,
        "warnings": list(dict.fromkeys(a.warnings + b.warnings)),
    }
    return Report("evaluate", data, tables)
