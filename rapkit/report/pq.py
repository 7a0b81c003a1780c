"""The reports of a PQ evaluation: the PQ table (per class, per image), the A/B delta of two
predictions, and several reports combined into one.

:func:`rapkit.pipeline.evaluate.evaluate_pq` computes an evaluation
(:class:`~rapkit.pipeline.evaluate.PQEvaluation`, fractions); the functions here lay it out
for the terminal, JSON and CSV (percent).
"""

from __future__ import annotations

from typing import Any

from ..pipeline.evaluate import PQEvaluation, delta_rows
from .render import Report, Table

__all__ = ["combine_reports", "delta_report", "pq_report"]


def _pct(v: float) -> float:
    return 100.0 * v


_TITLES = {"pq": "Panoptic quality", "boundary": "Boundary panoptic quality", "pq-dagger": "PQ-dagger"}


def _title(ev: PQEvaluation) -> str:
    return _TITLES.get(ev.metric, ev.metric)


def pq_report(ev: PQEvaluation, per_class: bool = False, per_image: bool = False) -> Report:
    """The familiar PQ table (All / Things / Stuff x PQ SQ RQ N, x100), per-class rows with
    TP/FP/FN when ``per_class``, per-image rows (PQ, PQ^Th, TP, FP, FN) when ``per_image``;
    JSON data with fractions (the renderer gives percent)."""
    r = ev.result
    rows = [
        [name, _pct(s.pq), _pct(s.sq), _pct(s.rq), s.n]
        for name, s in (("All", r.all), ("Things", r.things), ("Stuff", r.stuff))
    ]
    tables = [Table("pq", ["", "PQ", "SQ", "RQ", "N"], rows, title=f"{_title(ev)} ({ev.n_images} images)")]
    if per_class:
        present = [c for c in r.per_class.values() if c.tp + c.fp + c.fn > 0]
        crow = [
            [
                c.name,
                c.category_id,
                "thing" if c.isthing else "stuff",
                _pct(c.pq),
                _pct(c.sq),
                _pct(c.rq),
                c.tp,
                c.fp,
                c.fn,
            ]
            for c in present
        ]
        absent = len(r.per_class) - len(present)
        title = "Per class" + (f" ({absent} classes absent from GT and prediction not shown)" if absent else "")
        tables.append(
            Table("per_class", ["class", "id", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"], crow, title=title)
        )
    data = ev.to_dict()
    if not per_class:
        data.pop("per_class", None)
    if per_image:
        rows = ev.image_rows()
        tables.append(
            Table(
                "per_image",
                ["image", "PQ", "PQ^Th", "TP", "FP", "FN"],
                [[r["image_id"], _pct(r["pq"]), _pct(r["pq_th"]), r["tp"], r["fp"], r["fn"]] for r in rows],
                title=f"Per image ({len(rows)} images, GT order; PQ of an image with no class present: -)",
            )
        )
        data["per_image"] = rows
    return Report("evaluate", data, tables)


def delta_report(a: PQEvaluation, b: PQEvaluation, names: tuple[str, str] = ("A", "B")) -> Report:
    """``evaluate --per-image --pred A --pred B``: both PQ tables and the per-image ΔPQ table
    (PQ(B) - PQ(A), largest |ΔPQ| first), in percent; data under ``A``, ``B``, ``per_image``."""
    ta = pq_report(a).tables[0]
    tb = pq_report(b).tables[0]
    ta = Table("pq_a", ta.columns, ta.rows, title=f"A: {names[0]} - {_title(a).lower()} ({a.n_images} images)")
    tb = Table("pq_b", tb.columns, tb.rows, title=f"B: {names[1]} - {_title(b).lower()} ({b.n_images} images)")
    rows = delta_rows(a, b)
    table = Table(
        "per_image",
        ["image", "dPQ (B-A)", "PQ A", "PQ B", "PQ^Th A", "PQ^Th B", "TP A", "TP B", "FP A", "FP B", "FN A", "FN B"],
        [
            [
                r["image_id"],
                _pct(r["dpq"]),
                _pct(r["a"]["pq"]),
                _pct(r["b"]["pq"]),
                _pct(r["a"]["pq_th"]),
                _pct(r["b"]["pq_th"]),
                r["a"]["tp"],
                r["b"]["tp"],
                r["a"]["fp"],
                r["b"]["fp"],
                r["a"]["fn"],
                r["b"]["fn"],
            ]
            for r in rows
        ],
        title=f"Per image: dPQ = PQ(B) - PQ(A), largest |dPQ| first ({len(rows)} images)",
    )
    da, db = a.to_dict(), b.to_dict()
    for d, name in ((da, names[0]), (db, names[1])):
        d.pop("per_class", None)
        d["pred"] = name
    data = {
        "n_images": a.n_images,
        "A": da,
        "B": db,
        "per_image": rows,
        "warnings": list(dict.fromkeys(a.warnings + b.warnings)),
    }
    return Report("evaluate", data, [ta, tb, table])


def combine_reports(kind: str, parts: list[tuple[str | None, Report]]) -> Report:
    """One report from several: tables concatenated; data of a named part under its name,
    of an unnamed part at top level."""
    data: dict[str, Any] = {}
    tables: list[Table] = []
    notes: list[str] = []
    for key, r in parts:
        if key is None:
            data.update(r.data)
        else:
            data[key] = r.data
        tables.extend(r.tables)
        notes.extend(r.notes)
    return Report(kind, data, tables, notes)


# --------------------------------------------------------------------------- gates
