"""``rapkit check``'s report: per input, what is wrong and where."""

from __future__ import annotations

from ..pipeline.check import CheckResult
from .render import Report, Table

__all__ = ["check_report"]


def check_report(results: list[tuple[str, CheckResult]], max_rows: int = 50) -> Report:
    """A Report of one or more :class:`CheckResult` (summary counts + the first issues)."""
    summary = []
    detail = []
    for label, res in results:
        counts = res.counts()
        summary.append(
            [
                label,
                res.n_images,
                res.n_segments,
                res.n_errors,
                len(res.issues) - res.n_errors,
                ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-",
                ", ".join(f"{k} {v}" for k, v in sorted(res.png_kinds.items())),
            ]
        )
        for i in res.issues[:max_rows]:
            detail.append(
                [
                    label,
                    i.level,
                    i.kind,
                    "-" if i.image_id is None else str(i.image_id),
                    "-" if i.segment_id is None else str(i.segment_id),
                    i.message,
                ]
            )
    tables = [
        Table(
            "check",
            ["input", "images", "segments", "errors", "warnings", "issues", "PNG kinds"],
            summary,
            title="Check",
        )
    ]
    notes = []
    if detail:
        tables.append(
            Table("issues", ["input", "level", "kind", "image", "segment", "message"], detail, title="Issues")
        )
        total = sum(len(r.issues) for _, r in results)
        if total > len(detail):
            notes.append(f"{total - len(detail)} more issue(s) not shown (use --format json for all)")
    data = {label: res.to_dict() for label, res in results}
    return Report("check", {"inputs": data}, tables, notes=notes)
