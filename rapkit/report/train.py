"""``rapkit train`` and ``rapkit predict``'s reports (the relation head's training run, and
the proposals scored with it, with the time per stage of paper Table 5)."""

from __future__ import annotations

from typing import Any

from .render import Report, Table

__all__ = ["PREDICT_STAGE_LABELS", "predict_report", "train_report"]

PREDICT_STAGE_LABELS = {
    "detector": "detector forward (head inputs included)",
    "head": "relation head",
    "pair_head": "OCFusion pair head, every overlapping pair batched (written)",
    "pair_head_replay": "OCFusion pair head, one forward per overlap met in score order (timed only)",
    "other": "other (reading images, masks to RLE, loading, writing)",
    "total": "total (whole command)",
}


def train_report(res: Any) -> Report:
    """A :class:`~rapkit.model.train.TrainResult` as one table (accuracy x100)."""
    data = res.to_dict()
    rows = [[k, (100 * v if k == "val_pair_accuracy" and v is not None else v)] for k, v in data.items()]
    return Report("train", data, [Table("train", ["item", "value"], rows, title="relation head", decimals=2)])


def predict_report(summary: Any) -> Report:
    """A :class:`~rapkit.model.predict.PredictSummary`: counts, and milliseconds per image of
    each stage."""
    data = summary.to_dict()
    ms = summary.ms_per_image()
    times = Table(
        "predict_stages",
        ["stage", "ms per image"],
        [[label, round(ms[k], 3)] for k, label in PREDICT_STAGE_LABELS.items() if k in ms],
        title="time per stage (paper Table 5), summed over images",
        decimals=3,
    )
    rows = [[k, v] for k, v in data.items() if k != "ms_per_image"]
    return Report("predict", data, [Table("predict", ["item", "value"], rows, title="predict"), times])
