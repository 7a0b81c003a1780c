"""A category-level ordering: Bradley–Terry strengths of the categories from the training
relations (a baseline in the spirit of the spatial ranking module the RAP paper discusses).

Each GT relation "an instance of category ``a`` occludes one of category ``b``" is a win of
``a`` over ``b``. With log-strengths ``theta`` the model says ``P(a in front of b) =
sigmoid(theta_a - theta_b)``; :func:`bradley_terry` maximises the log-likelihood minus the
L2 prior ``l2 / 2 * |theta|^2`` by Newton's method (with step halving), which makes the
problem strictly concave: the maximum is unique, a category without relations gets exactly
0, and categories whose comparison graph is disconnected from the rest are centred on 0 on
their own. Relations within one category (``a`` over ``a``) say nothing about the order of
categories and are left out (counted apart). The relation value of a category is
``-theta`` (smaller = in front, as rapkit's relation values are).

Pure numpy, deterministic (the same counts give the same bytes).

>>> w = np.array([[0, 3, 3], [1, 0, 3], [1, 1, 0]])   # w[a, b]: a occludes b
>>> fit = bradley_terry(w)
>>> bool(fit.theta[0] > fit.theta[1] > fit.theta[2]), fit.converged
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

#: the default L2 prior on the log-strengths (a N(0, 10^2) prior: small)
DEFAULT_L2 = 0.01
#: the default tolerance: Newton stops when no log-strength moves by more than this
DEFAULT_TOL = 1e-10
#: the most Newton iterations (strictly concave: a handful is the rule)
MAX_ITER = 200


@dataclass(frozen=True)
class BradleyTerryFit:
    """What :func:`bradley_terry` returns: the log-strengths ``theta`` (one per row of the
    win matrix), the penalised log-likelihood at them, the largest absolute gradient entry
    there, the Newton iterations, whether the last step moved no entry by more than ``tol``,
    and the prior ``l2`` and ``tol`` used.

    >>> f = bradley_terry(np.zeros((2, 2)))
    >>> f.theta.tolist(), f.iterations
    ([0.0, 0.0], 1)
    """

    theta: np.ndarray
    log_likelihood: float
    gradient_max: float
    iterations: int
    converged: bool
    l2: float
    tol: float


def _wins(wins: np.ndarray) -> np.ndarray:
    w = np.asarray(wins, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ConfigError(f"the win matrix must be square, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError("the win matrix must hold finite counts >= 0")
    w = w.copy()
    np.fill_diagonal(w, 0.0)  # a over a: no information on the order of categories
    return w


def bt_log_likelihood(theta: np.ndarray, wins: np.ndarray, l2: float = DEFAULT_L2) -> float:
    """The penalised Bradley–Terry log-likelihood ``sum_ab w_ab log sigmoid(theta_a -
    theta_b) - l2 / 2 |theta|^2`` (the diagonal of ``wins`` is ignored).

    >>> round(bt_log_likelihood(np.zeros(2), np.array([[0, 1], [0, 0]])), 6)   # log 0.5
    -0.693147
    """
    w = _wins(wins)
    t = np.asarray(theta, dtype=np.float64)
    d = t[:, None] - t[None, :]
    return float(-(w * np.logaddexp(0.0, -d)).sum() - 0.5 * l2 * float(t @ t))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


def bradley_terry(
    wins: np.ndarray, *, l2: float = DEFAULT_L2, tol: float = DEFAULT_TOL, max_iter: int = MAX_ITER
) -> BradleyTerryFit:
    """Maximum-a-posteriori Bradley–Terry log-strengths of a ``(K, K)`` win matrix
    (``wins[a, b]``: how often ``a`` beat ``b``; the diagonal is ignored) under an L2 prior
    ``l2 > 0``, by Newton's method from ``theta = 0``: each step solves ``-H d = g``
    (``H`` negative definite for ``l2 > 0``) and is halved until the objective does not
    decrease; it stops when ``max |d| <= tol`` (``converged``) or after ``max_iter`` steps.

    >>> bradley_terry(np.array([[0, 2], [2, 0]])).theta.tolist()   # symmetric: equal
    [0.0, 0.0]
    """
    if not (l2 > 0 and np.isfinite(l2)):
        raise ConfigError(f"--l2 must be a finite number > 0 (the prior keeps the fit defined), got {l2}")
    if not (tol > 0):
        raise ConfigError(f"--tol must be > 0, got {tol}")
    w = _wins(wins)
    k = w.shape[0]
    n = w + w.T
    won = w.sum(axis=1)
    theta = np.zeros(k)
    obj = bt_log_likelihood(theta, w, l2)
    it, converged = 0, False
    while it < max_iter:
        it += 1
        p = _sigmoid(theta[:, None] - theta[None, :])
        g = won - (n * p).sum(axis=1) - l2 * theta
        c = n * p * (1.0 - p)
        neg_h = np.diag(c.sum(axis=1) + l2) - c
        step = np.linalg.solve(neg_h, g)
        t = 1.0
        while True:
            cand = theta + t * step
            cobj = bt_log_likelihood(cand, w, l2)
            if cobj >= obj:
                break
            t *= 0.5
            if t < 1e-12:  # no ascent at any step length: at the optimum to machine precision
                cand, cobj = theta, obj
                break
        moved = float(np.max(np.abs(cand - theta), initial=0.0))
        theta, obj = cand, cobj
        if moved <= tol:
            converged = True
            break
    p = _sigmoid(theta[:, None] - theta[None, :])
    g = won - (n * p).sum(axis=1) - l2 * theta
    return BradleyTerryFit(
        theta=theta,
        log_likelihood=bt_log_likelihood(theta, w, l2),
        gradient_max=float(np.max(np.abs(g), initial=0.0)),
        iterations=it,
        converged=converged,
        l2=float(l2),
        tol=float(tol),
    )


def win_matrix(
    category_ids: Sequence[int], pair_counts: Iterable[tuple[tuple[int, int], int]]
) -> tuple[np.ndarray, int]:
    """The ``(K, K)`` win matrix over ``category_ids`` (rows and columns in that order) from
    ``((front category, back category), count)`` items, and how many relations were within
    one category (left out of the matrix). A category not in ``category_ids`` is a
    :class:`ConfigError`.

    >>> m, same = win_matrix([1, 2], [((1, 2), 3), ((2, 2), 1)])
    >>> m.tolist(), same
    ([[0.0, 3.0], [0.0, 0.0]], 1)
    """
    index = {int(c): i for i, c in enumerate(category_ids)}
    m = np.zeros((len(index), len(index)))
    same = 0
    for (f, b), cnt in pair_counts:
        if f not in index or b not in index:
            missing = f if f not in index else b
            raise ConfigError(f"category {missing} of a relation is not among the categories")
        if f == b:
            same += int(cnt)
        else:
            m[index[f], index[b]] += cnt
    return m, same


__all__ = [
    "DEFAULT_L2",
    "DEFAULT_TOL",
    "MAX_ITER",
    "BradleyTerryFit",
    "bradley_terry",
    "bt_log_likelihood",
    "win_matrix",
]
