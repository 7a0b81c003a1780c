"""``rapkit fuse``'s report: the counts of a :class:`~rapkit.pipeline.fuse.FuseSummary` and
its time per stage."""

from __future__ import annotations

from typing import Any

from ..pipeline.fuse import STAGES, FuseSummary
from .render import Report, Table

__all__ = ["STAGE_LABELS", "fuse_report"]

STAGE_LABELS = {
    "decode": "decode (RLE masks + semantic map)",
    "fusion_kernel": "fusion kernel",
    "stuff_compose": "stuff / compose",
    "png_write": "PNG write",
    "other": "other (per-image overhead)",
}


def fuse_report(summary: FuseSummary) -> Report:
    """A fuse run's report: what the checks dropped, and the time per stage (paper Table 5).

    >>> fuse_report(FuseSummary(images=2)).data["images"]
    2
    """
    rows: list[list[Any]] = [
        ["images", summary.images],
        ["proposals in", summary.proposals],
        ["kept (thing segments)", summary.kept],
    ]
    labels = {
        "score": "dropped: score < rho",
        "empty": "dropped: empty mask",
        "category": "dropped: category-aware check",
        "overlap": "dropped: excessive-overlap check",
        "canvas": "dropped: canvas (overlap share) check",
        "emptied": "removed: covered by later proposals",
    }
    for k, v in summary.dropped.items():
        rows.append([labels.get(k, k), v])
    rows.append(["stuff segments", summary.stuff_segments])
    rows.append(["void share (%)", round(100.0 * summary.void_share, 2)])
    rows.append(["seconds", round(summary.seconds, 2)])
    t = Table("fuse", ["quantity", "value"], rows, title=f"rapkit fuse -> {summary.output}", decimals=2)
    ms = summary.stage_ms_per_image()
    total = ms["total"]
    stage_rows: list[list[Any]] = [
        [STAGE_LABELS[k], round(ms[k], 3), round(100.0 * ms[k] / total, 1) if total else 0.0] for k in STAGES
    ]
    stage_rows.append(["total (per image, in the workers)", round(total, 3), 100.0 if total else 0.0])
    stage_rows.append(["wall (whole run / images)", round(ms["wall"], 3), None])
    st = Table(
        "fuse_stages",
        ["stage", "ms per image", "share (%)"],
        stage_rows,
        title="time per stage (paper Table 5), summed over images and workers",
        decimals=3,
    )
    return Report("fuse", summary.to_dict(), [t, st])
