"""rapkit: relation-aware panoptic segmentation toolkit (the RAP paper).

Importing rapkit imports neither torch nor numba; the public functions below load their
modules on first use.

>>> import rapkit
>>> rapkit.FusionParams().rho
0.6
"""

from __future__ import annotations

__version__ = "0.2.0"

from .errors import ConfigError, GateFailed, InputError, RapkitError  # noqa: E402
from .types import Category, FusionParams, Proposals, Relation, Segment  # noqa: E402

_LAZY = {
    # name: (module, attribute)
    "extract_relations": ("rapkit.core.relations", "extract_relations"),
    "fuse_image": ("rapkit.core.fusion", "fuse_image"),
    "fuse": ("rapkit.pipeline.fuse", "fuse"),
    "extract_dataset_relations": ("rapkit.pipeline.relations", "extract_dataset_relations"),
    "evaluate_pq": ("rapkit.pipeline.evaluate", "evaluate_pq"),
    "pq_stats": ("rapkit.core.pq", "pq_stats"),
    "pq_compute": ("rapkit.pipeline.evaluate", "pq_compute"),
    "summarize": ("rapkit.core.pq", "summarize"),
    "PQStats": ("rapkit.core.pq", "PQStats"),
    "PQResult": ("rapkit.core.pq", "PQResult"),
    "sweep": ("rapkit.pipeline.sweep", "run_sweep"),
    "make_world": ("rapkit.synth", "make_world"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'rapkit' has no attribute {name!r}")


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
    *_LAZY,
]
