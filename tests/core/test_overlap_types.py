"""Fig. 3 unordered (a reading): overlap types, |gap|, the cubic trend; hand-built cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rapkit.core.overlap_types import (
    cubic_trend,
    overlap_type_frame,
    overlap_types,
    overlap_types_of_table,
)


def test_two_orientations_merge_oriented_by_the_gt():
    # (cup=1 front, dog=2 back): 3 pairs, gaps sum 3.0 (right); (dog front, cup back): 1 pair, gap -5 (wrong)
    ot = overlap_types([1, 2, 2], [2, 1, 2], [3, 1, 2], [3.0, -5.0, 1.0], correct=[3, 0, 2], train_counts=[10, 4, 1])
    assert ot.a_id.tolist() == [1, 2] and ot.b_id.tolist() == [2, 2]  # {cup, dog} first: 14 training relations
    assert ot.pairs.tolist() == [4, 2] and ot.train_count.tolist() == [14, 1]
    assert ot.mean_gap.tolist() == [-0.5, 0.5] and ot.abs_gap.tolist() == [0.5, 0.5]
    assert ot.correct.tolist() == [3, 2] and ot.sorted_by == "train_count"
    f = overlap_type_frame(ot, {1: "cup", 2: "dog"})
    assert f["type"].tolist() == ["cup & dog", "dog & dog"] and f["accuracy"].tolist() == [0.75, 1.0]
    assert f["rank"].tolist() == [1, 2]


def test_sorted_by_pairs_without_training_counts_then_ids():
    ot = overlap_types([3, 1, 5], [4, 2, 6], [2, 5, 2], [1.0, 1.0, 1.0])
    assert ot.sorted_by == "pairs" and ot.train_count is None
    assert list(zip(ot.a_id.tolist(), ot.b_id.tolist())) == [(1, 2), (3, 4), (5, 6)]


def test_rows_without_pairs_are_left_out():
    ot = overlap_types([1, 3], [2, 4], [0, 2], [0.0, 2.0], train_counts=[50, 1])
    assert ot.a_id.tolist() == [3] and len(ot) == 1


def test_cubic_trend_is_numpy_least_squares_and_exact_on_a_cubic():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 5, size=40)
    tr, v = cubic_trend(y)
    ref = np.polyfit(np.arange(1, 41), y, 3)[::-1]  # ascending powers
    assert tr.degree == 3 and tr.n_types == 40
    np.testing.assert_allclose(tr.coefficients, ref, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(v, tr(np.arange(1, 41)), rtol=1e-9, atol=1e-9)
    # the residual is orthogonal to 1, r, r^2, r^3 (the normal equations)
    r = np.arange(1, 41, dtype=float)
    for k in range(4):
        assert abs(float(((y - v) * r**k).sum())) < 1e-6 * float((r**k).sum())
    r = np.arange(1, 8, dtype=float)
    tr, v = cubic_trend(2 - 0.5 * r + 0.1 * r**3)
    np.testing.assert_allclose(tr.coefficients, [2, -0.5, 0, 0.1], atol=1e-9)


@pytest.mark.parametrize("n, degree", [(0, -1), (1, 0), (2, 1), (3, 2), (4, 3)])
def test_trend_degree_drops_with_few_types(n, degree):
    tr, v = cubic_trend(np.arange(n, dtype=float) ** 2 + 1)
    assert tr.degree == degree and len(v) == n
    if n:
        np.testing.assert_allclose(v, np.arange(n, dtype=float) ** 2 + 1, atol=1e-9)  # exact when degree = n - 1


def test_from_the_ordered_table_equals_from_the_cells():
    df = pd.DataFrame(
        {
            "front": ["cup", "dog", "dog"],
            "back": ["dog", "cup", "dog"],
            "front_id": [1, 2, 2],
            "back_id": [2, 1, 2],
            "mean_gap": [1.0, -5.0, 0.5],
            "accuracy": [100.0, 0.0, 100.0],  # percent, as the -o file holds it
            "pairs": [3, 1, 2],
            "ties": [0, 0, 0],
            "train_count": [10, 4, 1],
        }
    )
    a = overlap_types_of_table(df)
    b = overlap_types([1, 2, 2], [2, 1, 2], [3, 1, 2], [3.0, -5.0, 1.0], correct=[3, 0, 2], train_counts=[10, 4, 1])
    assert a.a_id.tolist() == b.a_id.tolist() and a.pairs.tolist() == b.pairs.tolist()
    np.testing.assert_allclose(a.abs_gap, b.abs_gap)
    assert (a.correct / a.pairs).tolist() == [75.0, 100.0]  # the percent unit kept
    by_name = overlap_types_of_table(df.drop(columns=["front_id", "back_id"]))
    np.testing.assert_allclose(by_name.abs_gap, b.abs_gap)
    with pytest.raises(ValueError, match="mean_gap"):
        overlap_types_of_table(df.drop(columns=["mean_gap"]))
