"""Bradley–Terry category strengths: hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from rapkit.core.category_order import bradley_terry, bt_log_likelihood, win_matrix
from rapkit.errors import ConfigError


def test_transitive_three_categories_order_by_strength():
    # a over b, b over c, a over c (5 each) and a few upsets: a > b > c
    w = np.array([[0, 5, 5], [1, 0, 5], [0, 1, 0]])
    fit = bradley_terry(w)
    assert fit.converged and fit.gradient_max < 1e-9
    assert fit.theta[0] > fit.theta[1] > fit.theta[2]
    assert np.argsort(-fit.theta).tolist() == [0, 1, 2]


def test_symmetric_data_gives_equal_strengths():
    w = np.array([[0, 3, 2], [3, 0, 4], [2, 4, 0]])
    fit = bradley_terry(w)
    assert fit.theta.tolist() == [0.0, 0.0, 0.0]


def test_category_without_data_gets_zero_and_disconnected_components_are_centred():
    # {0, 1} and {2, 3} never meet; category 4 has no relation at all
    w = np.zeros((5, 5))
    w[0, 1], w[1, 0], w[2, 3] = 6, 2, 3
    fit = bradley_terry(w)
    assert fit.converged
    assert fit.theta[4] == 0.0
    assert fit.theta[0] > 0 > fit.theta[1] and fit.theta[2] > 0 > fit.theta[3]
    # each component's strengths sum to 0 (the prior pins it; the data only fixes differences)
    assert abs(fit.theta[0] + fit.theta[1]) < 1e-9 and abs(fit.theta[2] + fit.theta[3]) < 1e-9


def test_undefeated_category_stays_finite_under_the_prior():
    fit = bradley_terry(np.array([[0, 10], [0, 0]]))
    assert fit.converged and np.all(np.isfinite(fit.theta)) and fit.theta[0] > 2


def test_likelihood_at_the_fit_is_not_lower_than_at_perturbed_points():
    rng = np.random.default_rng(0)
    w = rng.integers(0, 6, size=(6, 6))
    fit = bradley_terry(w)
    best = bt_log_likelihood(fit.theta, w, fit.l2)
    assert best == pytest.approx(fit.log_likelihood, abs=1e-12)
    for _ in range(50):
        d = rng.normal(0, 10 ** rng.uniform(-6, 0), size=6)
        assert bt_log_likelihood(fit.theta + d, w, fit.l2) <= best + 1e-12


def test_diagonal_is_ignored_and_same_bytes_twice():
    w = np.array([[7, 2], [1, 9]])
    a, b = bradley_terry(w), bradley_terry(np.array([[0, 2], [1, 0]]))
    assert a.theta.tobytes() == b.theta.tobytes() == bradley_terry(w).theta.tobytes()


def test_win_matrix_counts_and_errors():
    m, same = win_matrix([3, 1], [((1, 3), 2), ((3, 1), 1), ((1, 1), 4)])
    assert m.tolist() == [[0.0, 1.0], [2.0, 0.0]] and same == 4
    with pytest.raises(ConfigError, match="category 9"):
        win_matrix([1], [((1, 9), 1)])


@pytest.mark.parametrize("kw", [{"l2": 0.0}, {"l2": float("nan")}, {"tol": 0.0}])
def test_bad_parameters(kw):
    with pytest.raises(ConfigError):
        bradley_terry(np.zeros((2, 2)), **kw)


def test_bad_win_matrix():
    with pytest.raises(ConfigError, match="square"):
        bradley_terry(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match=">= 0"):
        bradley_terry(np.array([[0, -1], [0, 0]]))
