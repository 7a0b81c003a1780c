"""Paper Fig. 3 as the paper drew it, in one reading: the relation-value gap per *overlap
type* (an unordered pair of categories ``{A, B}``, whichever is in front), the types sorted
by their training frequency, with a least-squares cubic trend of ``|gap|`` over the rank.

The paper's figure shows "the average numerical difference of relation value on different
overlapping types in the descending order of their occurrence frequency" with a red
polynomial trend of order 3. It does not define every detail; the choices below are ours:

* a type's pairs are the matched GT pairs of the two ordered pairs ``(A, B)`` and ``(B, A)``
  (``A = B``, two instances of one category, is a type of its own);
* each pair's gap is oriented by the GT, ``v_back - v_front`` (positive = ordered right);
  ``mean_gap`` is their mean over the type and ``abs_gap = |mean_gap|`` is what is drawn
  (not the mean of ``|v_back - v_front|``, which a per-pair table cannot give);
* the frequency is the type's count of training relations (``train_count``: both
  orientations summed); without training counts, the matched pairs of the evaluated set;
  ties by pairs, then the category ids; rank 1 = the most frequent;
* the trend is the least-squares polynomial of degree ``min(3, types - 1)`` of ``abs_gap``
  over the rank (1, 2, ...), every type one point, unweighted.

Pure numpy (pandas only for the table, imported when one is made).

>>> t = overlap_types([1, 2], [2, 1], [3, 1], [1.5, -0.5], train_counts=[10, 2])
>>> t.a_id.tolist(), t.b_id.tolist(), t.pairs.tolist(), t.mean_gap.tolist()
([1], [2], [4], [0.25])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the degree of the trend the paper draws
TREND_DEGREE = 3
#: how the output marks the figure
READING_NOTE = (
    "a reading of the paper's Fig. 3 (overlap types unordered, |mean gap| oriented by the GT, "
    "sorted by training frequency (else matched pairs), least-squares cubic trend over the rank): "
    "the choices are rapkit's"
)


@dataclass(frozen=True)
class OverlapTypes:
    """The unordered view, one entry per overlap type in rank order (arrays of equal
    length): the two category ids (``a_id <= b_id``), the matched GT pairs, the GT-oriented
    mean gap and its absolute value, the pairs ordered right, the ties, the training count
    (``None`` without training counts), the trend at each rank, and the trend itself
    (:class:`Trend`). ``sorted_by`` is ``"train_count"`` or ``"pairs"``.

    >>> overlap_types([5], [5], [2], [1.0]).trend.degree
    0
    """

    a_id: np.ndarray
    b_id: np.ndarray
    pairs: np.ndarray
    mean_gap: np.ndarray
    abs_gap: np.ndarray
    correct: np.ndarray
    ties: np.ndarray
    train_count: np.ndarray | None
    trend_values: np.ndarray
    trend: Trend
    sorted_by: str

    @property
    def rank(self) -> np.ndarray:
        """1, 2, ...: the frequency rank (1 = most frequent)."""
        return np.arange(1, len(self.pairs) + 1)

    def __len__(self) -> int:
        return len(self.pairs)


@dataclass(frozen=True)
class Trend:
    """The least-squares polynomial of ``abs_gap`` over the rank: its degree (``-1`` when
    there is no type), its coefficients in ascending powers of the rank
    (``c0 + c1 r + c2 r^2 + c3 r^3``) and the number of types it was fitted to.

    >>> cubic_trend(np.array([1.0, 2.0]))[0].degree
    1
    """

    degree: int
    coefficients: list[float] = field(default_factory=list)
    n_types: int = 0

    def __call__(self, rank: Any) -> np.ndarray:
        r = np.asarray(rank, dtype=np.float64)
        out = np.zeros_like(r)
        for c in reversed(self.coefficients):  # Horner
            out = out * r + c
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"degree": self.degree, "coefficients": list(self.coefficients), "n_types": self.n_types}


def cubic_trend(y: np.ndarray, degree: int = TREND_DEGREE) -> tuple[Trend, np.ndarray]:
    """The least-squares polynomial of degree ``min(degree, len(y) - 1)`` of ``y`` over the
    ranks ``1..len(y)`` and its values there. Fitted on the ranks mapped to [-1, 1]
    (well conditioned for thousands of types), the coefficients then given in powers of
    the rank itself. Non-finite ``y`` are left out of the fit (their trend values are still
    given).

    >>> t, v = cubic_trend(np.arange(1.0, 6.0) ** 3)   # an exact cubic: found again
    >>> t.degree, (np.round(t.coefficients, 9) + 0.0).tolist(), np.round(v, 9).tolist()
    (3, [0.0, 0.0, 0.0, 1.0], [1.0, 8.0, 27.0, 64.0, 125.0])
    """
    y = np.asarray(y, dtype=np.float64)
    r = np.arange(1, len(y) + 1, dtype=np.float64)
    ok = np.isfinite(y)
    n = int(ok.sum())
    if n == 0:
        return Trend(-1, [], 0), np.full(len(y), np.nan)
    deg = min(degree, n - 1)
    p = np.polynomial.Polynomial.fit(r[ok], y[ok], deg) if n > 1 else np.polynomial.Polynomial([y[ok][0]])
    coef = p.convert().coef if n > 1 else p.coef
    coef = [float(c) for c in np.pad(coef, (0, deg + 1 - len(coef)))]  # trailing zeros dropped by numpy
    return Trend(deg, coef, n), p(r)


def overlap_types(
    front_id: Sequence[int],
    back_id: Sequence[int],
    pairs: Sequence[int],
    gap_sum: Sequence[float],
    *,
    correct: Sequence[float] | None = None,
    ties: Sequence[int] | None = None,
    train_counts: Sequence[int] | None = None,
) -> OverlapTypes:
    """The unordered view of a per-ordered-pair table: rows ``(front_id[k], back_id[k])``
    with ``pairs[k]`` matched GT pairs whose gaps ``v_back - v_front`` sum to
    ``gap_sum[k]`` (``correct``, ``ties``: pairs ordered right / with equal values;
    ``train_counts``: training relations of that ordered pair). Rows with no pairs are left
    out. See the module docstring for the choices.
    """
    f = np.asarray(front_id, dtype=np.int64)
    b = np.asarray(back_id, dtype=np.int64)
    n = np.asarray(pairs, dtype=np.int64)
    g = np.asarray(gap_sum, dtype=np.float64)
    c = np.zeros(len(f)) if correct is None else np.asarray(correct, dtype=np.float64)
    t = np.zeros(len(f), np.int64) if ties is None else np.asarray(ties, dtype=np.int64)
    tc = None if train_counts is None else np.asarray(train_counts, dtype=np.int64)
    lo, hi = np.minimum(f, b), np.maximum(f, b)
    keys = sorted(set(zip(lo.tolist(), hi.tolist())))
    index = {k: i for i, k in enumerate(keys)}
    m = len(keys)
    tp, tg, tcor, tt = np.zeros(m, np.int64), np.zeros(m), np.zeros(m), np.zeros(m, np.int64)
    ttc = np.zeros(m, np.int64)
    for k in range(len(f)):  # in row order: a reproducible float sum
        i = index[(int(lo[k]), int(hi[k]))]
        tp[i] += n[k]
        tg[i] += g[k]
        tcor[i] += c[k]
        tt[i] += t[k]
        if tc is not None:
            ttc[i] += tc[k]
    keep = tp > 0
    a_id = np.array([k[0] for k in keys], np.int64)[keep]
    b_id = np.array([k[1] for k in keys], np.int64)[keep]
    tp, tg, tcor, tt, ttc = tp[keep], tg[keep], tcor[keep], tt[keep], ttc[keep]
    freq = ttc if tc is not None else tp
    order = np.lexsort((b_id, a_id, -tp, -freq))  # last key first: frequency, pairs, ids
    a_id, b_id, tp, tg, tcor, tt, ttc = (x[order] for x in (a_id, b_id, tp, tg, tcor, tt, ttc))
    mean = tg / tp
    absg = np.abs(mean)
    trend, values = cubic_trend(absg)
    return OverlapTypes(
        a_id=a_id,
        b_id=b_id,
        pairs=tp,
        mean_gap=mean,
        abs_gap=absg,
        correct=tcor,
        ties=tt,
        train_count=ttc if tc is not None else None,
        trend_values=values,
        trend=trend,
        sorted_by="train_count" if tc is not None else "pairs",
    )


def overlap_types_of_table(df: Any) -> OverlapTypes:
    """:func:`overlap_types` of an ordered per-category-pair table as ``rapkit evaluate
    --by-category`` makes it (:func:`rapkit.core.relation_acc.category_pair_table`, or its
    ``-o`` file): columns ``front_id``, ``back_id`` (else ``front``, ``back`` names, coded
    in order of appearance), ``mean_gap``, ``pairs``; ``accuracy`` (fraction or percent:
    kept as given, pair-weighted), ``ties`` and ``train_count`` when present. ``ValueError``
    naming a missing column.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"front_id": [1, 2], "back_id": [2, 1], "mean_gap": [0.5, -1.0], "pairs": [3, 1]})
    >>> overlap_types_of_table(df).mean_gap.tolist()
    [0.125]
    """
    cols = set(map(str, df.columns))
    for need in ("mean_gap", "pairs"):
        if need not in cols:
            raise ValueError(f"the per-category table has no column {need!r}")
    if {"front_id", "back_id"} <= cols:
        f, b = df["front_id"].astype("int64").to_numpy(), df["back_id"].astype("int64").to_numpy()
    elif {"front", "back"} <= cols:
        codes: dict[str, int] = {}
        for v in list(df["front"].astype(str)) + list(df["back"].astype(str)):
            codes.setdefault(v, len(codes))
        f = np.array([codes[v] for v in df["front"].astype(str)], np.int64)
        b = np.array([codes[v] for v in df["back"].astype(str)], np.int64)
    else:
        raise ValueError("the per-category table needs columns front_id and back_id (or front and back)")
    n = df["pairs"].astype("int64").to_numpy()
    g = df["mean_gap"].astype(float).to_numpy() * n
    acc = df["accuracy"].astype(float).to_numpy() * n if "accuracy" in cols else None
    ties = df["ties"].astype("int64").to_numpy() if "ties" in cols else None
    tc = df["train_count"].astype("int64").to_numpy() if "train_count" in cols else None
    return overlap_types(f, b, n, np.where(n > 0, g, 0.0), correct=acc, ties=ties, train_counts=tc)


def overlap_type_frame(ot: OverlapTypes, names: dict[int, str] | None = None, *, accuracy: bool = True) -> Any:
    """The unordered view as a pandas DataFrame in rank order: ``rank``, ``type`` (``"A & B"``),
    ``a``, ``b`` (names), ``a_id``, ``b_id``, ``train_count`` (with training counts),
    ``pairs``, ``mean_gap``, ``abs_gap``, ``trend`` (the cubic at the rank), ``accuracy``
    (``correct / pairs``; left out with ``accuracy=False``) and ``ties``.

    >>> overlap_type_frame(overlap_types([1], [2], [2], [1.0]), {1: "cup", 2: "dog"})["type"].tolist()
    ['cup & dog']
    """
    import pandas as pd  # heavy: only when a table is asked for

    names = names or {}
    a = [names.get(int(x), str(int(x))) for x in ot.a_id]
    b = [names.get(int(x), str(int(x))) for x in ot.b_id]
    data: dict[str, Any] = {
        "rank": ot.rank,
        "type": [f"{x} & {y}" for x, y in zip(a, b)],
        "a": a,
        "b": b,
        "a_id": ot.a_id,
        "b_id": ot.b_id,
    }
    if ot.train_count is not None:
        data["train_count"] = ot.train_count
    data.update({"pairs": ot.pairs, "mean_gap": ot.mean_gap, "abs_gap": ot.abs_gap, "trend": ot.trend_values})
    if accuracy:
        data["accuracy"] = np.where(ot.pairs > 0, ot.correct / np.maximum(ot.pairs, 1), np.nan)
    data["ties"] = ot.ties
    return pd.DataFrame(data)


__all__ = [
    "READING_NOTE",
    "TREND_DEGREE",
    "OverlapTypes",
    "Trend",
    "cubic_trend",
    "overlap_types",
    "overlap_types_of_table",
    "overlap_type_frame",
]
