"""The reports of a PQ evaluation: the PQ table (per class, per image), the A/B delta of two
predictions, several reports combined into one, and the ``--fail-under`` gates.

:func:`rapkit.pipeline.evaluate.evaluate_pq` computes an evaluation
(:class:`~rapkit.pipeline.evaluate.PQEvaluation`); the functions here lay it out for the
terminal, JSON and CSV (:mod:`rapkit.report` renders them).

>>> parse_gates("pq=50, RQ_st=40.5")
{'PQ': 50.0, 'RQ_st': 40.5}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..core.pq import summarize
from ..report import Report, Table
from ..types import Category, PQResult, PQStats

if TYPE_CHECKING:
    from .evaluate import PQEvaluation


def _pct(v: float) -> float:
    return 100.0 * v


def pq_report(ev: PQEvaluation, per_class: bool = False, per_image: bool = False) -> Report:
    """The familiar PQ table (All / Things / Stuff x PQ SQ RQ N, x100), per-class rows with
    TP/FP/FN when ``per_class``, per-image rows (PQ, PQ^Th, TP, FP, FN) when ``per_image``;
    JSON data with fractions (the renderer gives percent)."""
    r = ev.result
    rows = [
        [name, _pct(s.pq), _pct(s.sq), _pct(s.rq), s.n]
        for name, s in (("All", r.all), ("Things", r.things), ("Stuff", r.stuff))
    ]
    tables = [Table("pq", ["", "PQ", "SQ", "RQ", "N"], rows, title=f"Panoptic quality ({ev.n_images} images)")]
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
        rows = per_image_rows(ev)
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


# --------------------------------------------------------------------------- per image


def image_row(stats: PQStats, categories: dict[int, Category]) -> dict[str, Any]:
    """One image's ``{image_id, pq, pq_th, tp, fp, fn}`` (fractions; PQ NaN when no class is
    present in the image, PQ^Th NaN when no thing class is).

    >>> from rapkit.core.pq import PQStats
    >>> image_row(PQStats(fn={1: 2}, image_ids=[7]), {1: Category(1, "a", True)})
    {'image_id': 7, 'pq': 0.0, 'pq_th': 0.0, 'tp': 0, 'fp': 0, 'fn': 2}
    """
    r = summarize(stats, categories)
    iid = stats.image_ids[0] if len(stats.image_ids) == 1 else None
    return {
        "image_id": iid,
        "pq": r.all.pq,
        "pq_th": r.things.pq,
        "tp": sum(stats.tp.values()),
        "fp": sum(stats.fp.values()),
        "fn": sum(stats.fn.values()),
    }


def per_image_rows(ev: PQEvaluation) -> list[dict[str, Any]]:
    """:func:`image_row` of every image of an :func:`~rapkit.pipeline.evaluate.evaluate_pq` run with ``per_image=True``."""
    return [image_row(s, ev.categories) for s in ev.per_image]


def _nan0(v: float) -> float:
    return 0.0 if math.isnan(v) else v


def delta_rows(a: PQEvaluation, b: PQEvaluation) -> list[dict[str, Any]]:
    """Per image: the rows of A and B and ``dpq`` = PQ(B) - PQ(A), sorted by ``|dpq|``
    (largest first; ties in GT order). An image with no class present (PQ NaN) counts as 0
    in ``dpq``, as in ``rapkit show compare --top``.

    Both runs must cover the same GT images (two :func:`evaluate_pq` runs with ``per_image``
    against one GT).
    """
    ra, rb = per_image_rows(a), per_image_rows(b)
    if [r["image_id"] for r in ra] != [r["image_id"] for r in rb]:
        raise ValueError("the two evaluations cover different images")
    rows = []
    for k, (x, y) in enumerate(zip(ra, rb)):
        rows.append(
            {
                "image_id": x["image_id"],
                "dpq": _nan0(y["pq"]) - _nan0(x["pq"]),
                "a": {key: v for key, v in x.items() if key != "image_id"},
                "b": {key: v for key, v in y.items() if key != "image_id"},
                "_k": k,
            }
        )
    rows.sort(key=lambda r: (-abs(r["dpq"]), r["_k"]))
    for r in rows:
        del r["_k"]
    return rows


def delta_report(a: PQEvaluation, b: PQEvaluation, names: tuple[str, str] = ("A", "B")) -> Report:
    """``evaluate --per-image --pred A --pred B``: both PQ tables and the per-image ΔPQ table
    (PQ(B) - PQ(A), largest |ΔPQ| first), in percent; data under ``A``, ``B``, ``per_image``."""
    ta = pq_report(a).tables[0]
    tb = pq_report(b).tables[0]
    ta = Table("pq_a", ta.columns, ta.rows, title=f"A: {names[0]} - panoptic quality ({a.n_images} images)")
    tb = Table("pq_b", tb.columns, tb.rows, title=f"B: {names[1]} - panoptic quality ({b.n_images} images)")
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


# --------------------------------------------------------------------------- combined reports


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

GATE_KEYS = {
    "PQ": ("all", "pq"),
    "SQ": ("all", "sq"),
    "RQ": ("all", "rq"),
    "PQ_th": ("things", "pq"),
    "SQ_th": ("things", "sq"),
    "RQ_th": ("things", "rq"),
    "PQ_st": ("stuff", "pq"),
    "SQ_st": ("stuff", "sq"),
    "RQ_st": ("stuff", "rq"),
}


def parse_gates(spec: str | None) -> dict[str, float]:
    """``"PQ=50,PQ_th=40"`` -> ``{"PQ": 50.0, "PQ_th": 40.0}`` (values x100, keys
    case-insensitive: PQ SQ RQ, with _th / _st for Things / Stuff).

    >>> parse_gates("pq=50, RQ_st=40.5")
    {'PQ': 50.0, 'RQ_st': 40.5}
    """
    from ..errors import ConfigError

    out: dict[str, float] = {}
    if not spec:
        return out
    lookup = {k.lower(): k for k in GATE_KEYS}
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        k = lookup.get(key.strip().lower())
        if not sep or k is None:
            raise ConfigError(f"--fail-under: {part!r} is not KEY=VALUE with KEY one of {', '.join(GATE_KEYS)}")
        try:
            out[k] = float(val)
        except ValueError:
            raise ConfigError(f"--fail-under: {val.strip()!r} is not a number (in {part!r})") from None
    return out


def check_gates(result: PQResult, gates: dict[str, float]) -> list[str]:
    """The gates ``result`` fails (NaN fails), as messages; empty when all pass.

    >>> from rapkit.core.pq import PQStats, summarize
    >>> check_gates(summarize(PQStats(), {}), {"PQ": 1.0})
    ['PQ nan < 1']
    """
    failed = []
    for key, bar in gates.items():
        split, metric = GATE_KEYS[key]
        v = 100.0 * getattr(result.split(split), metric)
        if not v >= bar:
            failed.append(f"{key} {v:.4g} < {bar:g}")
    return failed


__all__ = [
    "pq_report",
    "image_row",
    "per_image_rows",
    "delta_rows",
    "delta_report",
    "combine_reports",
    "parse_gates",
    "check_gates",
]
