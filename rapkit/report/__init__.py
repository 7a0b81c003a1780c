"""Report layout, in one room: what every command prints, built from the library's results.

:mod:`~rapkit.report.render` renders a :class:`Report` (machine-readable ``data`` plus display
``tables``) as rich text, JSON (with ``schema_version``) or CSV; the other modules build the
reports of one command each from the result object the library returns (the library
computes and returns results; it never lays out a table):

* :mod:`~rapkit.report.demo`: ``rapkit demo``'s paper-shaped tables (:func:`~rapkit.report.demo.demo_report`).

>>> r = Report("pq", {"pq": 0.5}, [Table("pq", ["PQ"], [[50.0]])])
>>> "50.0" in render(r, "table")
True
"""

from __future__ import annotations

from .render import (
    PERCENT_KEYS,
    SCHEMA_VERSION,
    Report,
    Table,
    is_percent_key,
    percent_frame,
    render,
    table_from_dataframe,
    to_csv,
    to_json,
    to_percent,
    to_text,
)

__all__ = [
    "SCHEMA_VERSION",
    "PERCENT_KEYS",
    "is_percent_key",
    "to_percent",
    "percent_frame",
    "Table",
    "Report",
    "to_json",
    "to_csv",
    "to_text",
    "render",
    "table_from_dataframe",
]
