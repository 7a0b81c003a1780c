"""All of rapkit's torch code (extra ``rapkit[train]``): the relation head, its loss, the
OCFusion pair head, the frozen host detector, training and prediction.

Importing ``rapkit`` does not import this package; ``rapkit train`` / ``rapkit predict``
import it lazily.

>>> from rapkit.model import RelationHead, relation_loss     # doctest: +SKIP
"""

from __future__ import annotations

from .detector import ARCHS, LoadedDetector, build_detector, load_detector, make_label_map
from .head import RelationHead, head_input, load_head_file
from .loss import relation_loss
from .ocfusion import OcclusionHead
from .predict import PredictConfig, predict
from .train import TrainConfig, TrainResult, evaluate_pairs, train_head

__all__ = [
    "ARCHS",
    "LoadedDetector",
    "build_detector",
    "load_detector",
    "make_label_map",
    "RelationHead",
    "head_input",
    "load_head_file",
    "relation_loss",
    "OcclusionHead",
    "TrainConfig",
    "TrainResult",
    "train_head",
    "evaluate_pairs",
    "PredictConfig",
    "predict",
]
