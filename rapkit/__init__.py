"""rapkit: relation-aware panoptic segmentation toolkit (the RAP paper).

The public API, in two levels (every name is also documented, with an example, in its own
docstring):

* **one image, arrays in memory**: :func:`fuse_image` (Algorithm 1 or the heuristic),
  :func:`pq_stats` + :func:`summarize` (PQ, panopticapi-exact), :class:`PanopticEvaluator`
  (the same PQ over many images fed as arrays, mergeable), :func:`boundary_stats`
  (Boundary PQ's statistics, summarized the same way), :func:`extract_relations`
  (occlusion relations of one image);
* **a dataset on disk, one call per command** (the command's arguments; a result object
  with ``.to_frame()`` and ``.to_dict()``): :func:`extract_dataset_relations`
  (``rapkit extract-relations``), :func:`fuse` (``rapkit fuse``), :func:`evaluate_pq`
  (``rapkit evaluate``; ``metric=`` PQ, Boundary PQ or PQ†), :func:`evaluate` (``evaluate
  --metric pq,boundary,pq-dagger``: several metrics in one pass, an :class:`Evaluation`), :func:`evaluate_relations` (``evaluate --relations``),
  :func:`sweep` (``evaluate --sweep``), :func:`ablate` (``evaluate --ablation``),
  :func:`fit_category_order` (``rapkit category-order``: the category-level baseline),
  :func:`make_world` (``rapkit synth``), and :func:`pq_compute`, panopticapi's drop-in.

Importing rapkit imports neither torch nor numba; the functions load their modules on first
use. A call leaves the caller's process as it found it (no threads, processes, GC or
allocator changes left behind).

>>> import rapkit
>>> rapkit.FusionParams().rho
0.6
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

from .errors import ConfigError, GateFailed, InputError, RapkitError  # noqa: E402
from .types import Category, FusionParams, PQResult, PQStats, Proposals, Relation, Segment  # noqa: E402

_LAZY = {
    # name: (module, attribute)
    "extract_relations": ("rapkit.core.relations", "extract_relations"),
    "fuse_image": ("rapkit.core.fusion", "fuse_image"),
    "pq_stats": ("rapkit.core.pq", "pq_stats"),
    "summarize": ("rapkit.core.pq", "summarize"),
    "boundary_stats": ("rapkit.core.boundary", "boundary_stats"),
    "extract_dataset_relations": ("rapkit.pipeline.relations", "extract_dataset_relations"),
    "fuse": ("rapkit.pipeline.fuse", "fuse"),
    "evaluate_pq": ("rapkit.pipeline.evaluate", "evaluate_pq"),
    "evaluate": ("rapkit.pipeline.metrics", "evaluate"),
    "pq_compute": ("rapkit.pipeline.evaluate", "pq_compute"),
    "evaluate_relations": ("rapkit.pipeline.relation_acc", "evaluate_relations"),
    "sweep": ("rapkit.pipeline.sweep", "sweep"),
    "ablate": ("rapkit.pipeline.sweep", "ablate"),
    "fit_category_order": ("rapkit.pipeline.category_order", "fit_category_order"),
    "make_world": ("rapkit.synth", "make_world"),
    "SynthConfig": ("rapkit.synth", "SynthConfig"),
    "FuseSummary": ("rapkit.pipeline.fuse", "FuseSummary"),
    "PQEvaluation": ("rapkit.core.pq_evaluation", "PQEvaluation"),
    "PanopticEvaluator": ("rapkit.core.evaluator", "PanopticEvaluator"),
    "Evaluation": ("rapkit.core.pq_evaluation", "Evaluation"),
    "RelationsRun": ("rapkit.pipeline.relations", "RelationsRun"),
    "RelationEvaluation": ("rapkit.pipeline.relation_acc", "RelationEvaluation"),
    "SweepResult": ("rapkit.pipeline.sweep", "SweepResult"),
    "CategoryOrder": ("rapkit.pipeline.category_order", "CategoryOrder"),
}


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value  # resolved once
        return value
    raise AttributeError(f"module 'rapkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "RapkitError",
    "InputError",
    "ConfigError",
    "GateFailed",
    "Category",
    "Segment",
    "Proposals",
    "Relation",
    "FusionParams",
    "PQStats",
    "PQResult",
    *_LAZY,
]
