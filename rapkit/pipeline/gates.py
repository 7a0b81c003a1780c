"""``--fail-under``: quality gates on a PQ result (keys PQ, SQ, RQ with _th / _st; bars x100).

>>> parse_gates("pq=50, RQ_st=40.5")
{'PQ': 50.0, 'RQ_st': 40.5}
"""

from __future__ import annotations

from ..errors import ConfigError
from ..types import PQResult

__all__ = ["GATE_KEYS", "check_gates", "parse_gates"]

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
