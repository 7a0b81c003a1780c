"""The report of ``rapkit category-order``: the Bradley–Terry strengths of the categories."""

from __future__ import annotations

from ..pipeline.category_order import CategoryOrder
from .render import Report, table_from_dataframe

__all__ = ["category_order_report"]


def category_order_report(co: CategoryOrder, *, quiet: bool = False) -> Report:
    """One row per category, strongest (most often in front) first, and notes on the fit.

    >>> import numpy as np
    >>> from rapkit.core.category_order import bradley_terry
    >>> w = np.array([[0.0, 2.0], [0.0, 0.0]])
    >>> r = category_order_report(CategoryOrder([1, 2], ["cup", "dog"], w, 0, bradley_terry(w)))
    >>> r.tables[0].rows[0][1]
    'cup'
    """
    f = co.fit
    d = co.to_dict()
    t = table_from_dataframe(
        co.to_frame(),
        "categories",
        title="category order (Bradley-Terry log-strength; relation = -strength, smaller = in front)",
        decimals=3,
    )
    notes = [
        f"{d['relations']} training relations, {co.same_category} within one category (left out); "
        f"L2 prior {f.l2:g}; Newton {'converged' if f.converged else 'did NOT converge'} in {f.iterations} "
        f"iterations (tolerance {f.tol:g} on the step; largest gradient entry {f.gradient_max:.1e})",
    ]
    if not quiet:
        if "output" in co.outputs:
            notes.append(f"wrote {co.outputs['output']} ({co.proposals} proposals, relation = their category's value)")
        if "strengths" in co.outputs:
            notes.append(f"wrote {co.outputs['strengths']}")
    return Report("category-order", d, [t], notes)
