"""Writing result tables (pandas DataFrames) to CSV, JSON, Parquet or markdown, atomically.

PQ, SQ, RQ (and their differences) and accuracies are written in percent, as every other
output of rapkit (:func:`rapkit.report.percent_frame`); the DataFrame passed in keeps its
fractions.

>>> import pandas as pd
>>> write_dataframe(pd.DataFrame({"PQ": [0.5]}), "rows.csv")        # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..report import SCHEMA_VERSION, percent_frame
from ._atomic import atomic_path, check_writable

FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".md": "markdown", ".markdown": "markdown"}


def _markdown(df: Any) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.6g}"
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    for row in df.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def check_table_path(path: str | os.PathLike, force: bool = False) -> None:
    """Check an ``-o/--output`` table path before any work: a known extension (.csv, .json,
    .parquet, .md), pyarrow for Parquet, no overwrite without ``force`` (ConfigError, exit 2)."""
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{p}: unknown table format {p.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError(f"{p}: writing Parquet needs pyarrow (pip install pyarrow)") from None
    check_writable(p, force)


def write_dataframe(df: Any, path: str | os.PathLike, *, force: bool = False, percent: bool = True) -> Path:
    """Write ``df`` by the file extension: .csv, .json (records), .parquet, .md; metric
    columns in percent unless ``percent=False``."""
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{p}: unknown table format {p.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError(f"{p}: writing Parquet needs pyarrow (pip install pyarrow)") from None
    if percent:
        df = percent_frame(df)
    with atomic_path(p, force) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "json":
            recs = json.loads(df.to_json(orient="records", double_precision=15))
            payload = {"schema_version": SCHEMA_VERSION, "unit": "percent" if percent else "fraction", "rows": recs}
            tmp.write_text(json.dumps(payload, indent=2) + "\n")
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            tmp.write_text(_markdown(df))
    return p
