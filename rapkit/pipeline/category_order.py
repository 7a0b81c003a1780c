"""The category-level baseline: ``rapkit category-order``.

:func:`fit_category_order` fits Bradley–Terry strengths of the categories to a training
relations JSON (:mod:`rapkit.core.category_order`; the categories of the relations' instances
come from the training instances JSON) and, given a proposals JSON, writes a copy of it in
which every proposal's ``relation`` is its category's value ``-strength`` (every entry kept,
in order, with all its fields; only ``relation`` replaced, as ``rapkit predict`` does). The
copy goes to ``rapkit fuse --strategy rap`` and ``rapkit evaluate`` like any other proposals,
so instance-level values (RAP's head, OCFusion's pair decisions) and a category-level order
compare on the same detections. It returns a :class:`CategoryOrder` (``.to_frame()``,
``.to_dict()``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.category_order import DEFAULT_L2, DEFAULT_TOL, BradleyTerryFit, bradley_terry, win_matrix
from ..errors import ConfigError, InputError
from ..io._atomic import check_writable
from ..io.coco import load_instances
from ..io.jsonio import save_json
from ..io.proposals import read_proposal_entries
from .relation_acc import train_pair_counts

PathLike = str | os.PathLike

#: the ``kind`` of the strengths JSON
STRENGTHS_KIND = "rapkit-category-order"


@dataclass
class CategoryOrder:
    """What :func:`fit_category_order` returns: the categories (ids and names, by id), the
    win matrix (``wins[a, b]``: relations with category ``a`` in front of ``b``), the
    relations within one category (left out of the fit), the Bradley–Terry fit and the files
    written (``outputs``), with the number of proposals rewritten.

    >>> from rapkit.core.category_order import bradley_terry
    >>> w = np.array([[0.0, 3.0], [1.0, 0.0]])
    >>> co = CategoryOrder([1, 2], ["cup", "dog"], w, 0, bradley_terry(w))
    >>> co.to_frame()["category"].tolist(), co.relation_values[1] < co.relation_values[2]
    (['cup', 'dog'], True)
    """

    category_ids: list[int]
    names: list[str]
    wins: np.ndarray
    same_category: int
    fit: BradleyTerryFit
    proposals: int = 0
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def strengths(self) -> dict[int, float]:
        """Category id -> Bradley–Terry log-strength (larger = more often in front)."""
        return {c: float(t) for c, t in zip(self.category_ids, self.fit.theta.tolist())}

    @property
    def relation_values(self) -> dict[int, float]:
        """Category id -> the relation value its proposals get: ``-strength`` (smaller = in front).
        ``0.0 - t`` keeps a zero strength a plain ``0.0`` (never ``-0.0``)."""
        return {c: 0.0 - t for c, t in self.strengths.items()}

    def to_frame(self) -> Any:
        """One row per category, strongest first (ties by id): ``category_id``, ``category``,
        ``strength``, ``relation`` (the value written), ``wins``, ``losses`` (relations in
        front of / behind another category)."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        df = pd.DataFrame(
            {
                "category_id": self.category_ids,
                "category": self.names,
                "strength": self.fit.theta.astype(float),
                "relation": [self.relation_values[c] for c in self.category_ids],
                "wins": self.wins.sum(axis=1).astype(int),
                "losses": self.wins.sum(axis=0).astype(int),
            }
        )
        return df.sort_values(["strength", "category_id"], ascending=[False, True], kind="stable").reset_index(
            drop=True
        )

    def to_dict(self) -> dict[str, Any]:
        """The fit (prior, tolerance, iterations, convergence, penalised log-likelihood,
        largest gradient entry), the counts, the categories in id order and the outputs;
        also the content of the ``strengths`` JSON."""
        f = self.fit
        return {
            "kind": STRENGTHS_KIND,
            "model": "bradley-terry",
            "l2": f.l2,
            "tol": f.tol,
            "iterations": f.iterations,
            "converged": f.converged,
            "log_likelihood": f.log_likelihood,
            "gradient_max": f.gradient_max,
            "relations": int(self.wins.sum()) + self.same_category,
            "same_category": self.same_category,
            "proposals": self.proposals,
            "categories": [
                {
                    "id": c,
                    "name": n,
                    "strength": float(t),
                    "relation": self.relation_values[c],
                    "wins": int(self.wins[i].sum()),
                    "losses": int(self.wins[:, i].sum()),
                }
                for i, (c, n, t) in enumerate(zip(self.category_ids, self.names, f.theta.tolist()))
            ],
            "outputs": dict(self.outputs),
        }


def _check_outputs(outputs: dict[str, PathLike], inputs: list[PathLike], force: bool) -> None:
    seen: dict[Path, str] = {}
    for what, p in outputs.items():
        check_writable(p, force)
        r = Path(p).resolve()
        if r in seen:
            raise ConfigError(f"{p}: --{what} and --{seen[r]} name the same file")
        seen[r] = what
    for src in inputs:
        if Path(src).resolve() in seen:
            raise ConfigError(f"{src}: an output would overwrite this input")


def fit_category_order(
    *,
    train_relations: PathLike,
    train_instances: PathLike,
    proposals: PathLike | None = None,
    output: PathLike | None = None,
    strengths: PathLike | None = None,
    l2: float = DEFAULT_L2,
    tol: float = DEFAULT_TOL,
    force: bool = False,
) -> CategoryOrder:
    """``rapkit category-order``: Bradley–Terry strengths of the categories of
    ``train_instances`` from the relations of ``train_relations`` (prior ``l2``, Newton to
    ``tol``); with ``proposals`` and ``output``, the proposals with ``relation`` = their
    category's ``-strength`` written to ``output``; with ``strengths``, the fit as JSON
    (:meth:`CategoryOrder.to_dict`). Outputs are checked first and never overwritten without
    ``force``; a proposal whose category is not one of the instances JSON is an InputError
    naming the file, image and proposal (exit 3).

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> from rapkit.pipeline.relations import extract_dataset_relations
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=4, height=64, width=80, render_images=False))
    >>> _ = extract_dataset_relations(w.instances, w.panoptic, output=f"{tmp}/rel.json")
    >>> co = fit_category_order(train_relations=f"{tmp}/rel.json", train_instances=w.instances,
    ...                         proposals=w.proposals, output=f"{tmp}/cat.json")
    >>> co.fit.converged, co.proposals > 0, list(co.to_frame().columns)[:3]
    (True, True, ['category_id', 'category', 'strength'])
    """
    if (proposals is None) != (output is None):
        raise ConfigError("--proposals and -o/--output go together (the proposals to rewrite and where)")
    outs = {k: v for k, v in (("output", output), ("strengths", strengths)) if v is not None}
    _check_outputs(outs, [p for p in (train_relations, train_instances, proposals) if p is not None], force)
    ds = load_instances(train_instances)
    cats = sorted(ds.categories)
    names = [ds.categories[c].name for c in cats]
    counts = train_pair_counts(train_relations, train_instances)
    wins, same = win_matrix(cats, sorted(counts.items()))
    fit = bradley_terry(wins, l2=l2, tol=tol)
    result = CategoryOrder(cats, names, wins, same, fit)
    if proposals is not None and output is not None:
        values = result.relation_values
        entries = read_proposal_entries(proposals)
        out = []
        for k, d in enumerate(entries):
            v = values.get(int(d["category_id"]))
            if v is None:
                raise InputError(
                    f"proposal #{k}: category {d['category_id']} is not a category of {train_instances}",
                    file=proposals,
                    image_id=d["image_id"],
                )
            e = dict(d)
            e.pop("relation", None)
            e.pop("relation_val", None)
            e["relation"] = v
            out.append(e)
        save_json(output, out, force)
        result.proposals = len(out)
        result.outputs["output"] = str(output)
    if strengths is not None:
        result.outputs["strengths"] = str(strengths)
        save_json(strengths, result.to_dict(), force, indent=1)
    return result


__all__ = ["STRENGTHS_KIND", "CategoryOrder", "fit_category_order"]
