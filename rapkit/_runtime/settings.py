"""Every ``RAPKIT_*`` environment setting, in one table, read once.

No other module of rapkit reads ``os.environ`` for a ``RAPKIT_*`` name: it asks
:func:`setting`. The values are read on first use and kept for the life of the process
(:func:`reload` reads them again; tests use it after changing the environment).
``docs/architecture.md`` lists the same table; a test checks that the two agree.

>>> SETTINGS["RAPKIT_FSYNC"].default
True
>>> setting("RAPKIT_PROGRESS_INTERVAL") > 0
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SETTINGS", "Setting", "reload", "setting"]

_FALSE = ("0", "false", "no", "off")
_TRUE = ("1", "true", "yes", "on")


def _flag(default: bool) -> Callable[[str], bool]:
    def parse(v: str) -> bool:
        v = v.strip().lower()
        if v in _FALSE:
            return False
        if v in _TRUE:
            return True
        return default

    return parse


def _positive(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        return 10.0
    return x if x > 0 else 10.0


def _progress(v: str) -> str | None:
    v = v.strip().lower()
    if v in _FALSE:
        return "off"
    if v in _TRUE or v == "bar":
        return "bar"
    if v == "lines":
        return "lines"
    return None


def _evaluate_path(v: str) -> str | None:
    v = v.strip().lower()
    return v if v in ("auto", "numpy", "kernels") else None


def _text(v: str) -> str | None:
    return v or None


@dataclass(frozen=True)
class Setting:
    """One environment setting: its default, how its text is read, who reads it, and why."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    used_by: str
    doc: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "RAPKIT_FSYNC",
            True,
            _flag(True),
            "io (atomic outputs)",
            "`0` skips the fsync calls of an output's commit (throwaway outputs); the rename "
            "protocol, and so safety against killed processes, is unchanged.",
        ),
        Setting(
            "RAPKIT_SYNCFS",
            False,
            _flag(False),
            "io (atomic outputs)",
            "`1` makes a folder of many files durable with one `syncfs` of its filesystem (Linux) "
            "instead of one fsync per file. `syncfs` also flushes other processes' dirty data on "
            "that filesystem: ask for it only on a disk of your own.",
        ),
        Setting(
            "RAPKIT_PROGRESS",
            None,
            _progress,
            "cli",
            "`bar` (or `1`) rich progress bars, `lines` a plain line every interval, `0` none. "
            "Unset: bars on a terminal, lines otherwise.",
        ),
        Setting(
            "RAPKIT_PROGRESS_INTERVAL",
            10.0,
            _positive,
            "cli",
            "Seconds between plain progress lines (when stderr is not a terminal).",
        ),
        Setting(
            "RAPKIT_NUMBA_LIGHT_LOAD",
            True,
            _flag(True),
            "_runtime (kernels)",
            "`0` loads cached kernels numba's standard way (which first sets up numba's whole "
            "compiler, 0.15-0.2 s per process) instead of only its runtime.",
        ),
        Setting(
            "RAPKIT_EVALUATE_PATH",
            "auto",
            _evaluate_path,
            "pipeline (evaluate)",
            "`numpy` or `kernels` forces the path of a PQ evaluation (tests, benchmarks). `auto`: "
            "a small job (at most 16 images and 16 x 640 x 480 pixels) is counted and matched "
            "with numpy alone, without importing numba; a larger one by the numba kernels. "
            "Both give the same statistics.",
        ),
        Setting(
            "RAPKIT_NUMBA_EVENTS",
            None,
            _text,
            "cli",
            "A file: the command writes every numba compile and cache load of its process "
            "there (kernel, signature, seconds); `benchmarks/cold_start.py` reads it.",
        ),
    )
}

_values: dict[str, Any] = {}


def setting(name: str) -> Any:
    """The value of setting ``name`` (a key of :data:`SETTINGS`), read from the environment
    on first use; unset or empty gives the default."""
    try:
        return _values[name]
    except KeyError:
        pass
    s = SETTINGS[name]
    raw = os.environ.get(name)
    value = s.default if raw is None or raw == "" else s.parse(raw)
    if value is None:
        value = s.default
    _values[name] = value
    return value


def reload() -> None:
    """Forget the values read so far: the next :func:`setting` reads the environment again."""
    _values.clear()
