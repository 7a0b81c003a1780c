"""The reports of relations: ``rapkit extract-relations``'s totals and ``rapkit evaluate
--relations``'s accuracies (paper Table 4; Fig. 3 per category pair)."""

from __future__ import annotations

from typing import Any

from ..core.overlap_types import READING_NOTE
from ..pipeline.relation_acc import RelationEvaluation
from ..pipeline.relations import RelationsRun
from .render import Report, Table, percent_frame, table_from_dataframe

__all__ = ["relation_accuracy_report", "relations_report"]


def relations_report(run: RelationsRun, *, quiet: bool = False) -> Report:
    """``rapkit extract-relations``: the totals, the parameters and the files written."""
    rows = [[k.replace("_", " "), v] for k, v in run.totals.items()]
    notes = [f"theta = {run.theta:g}, rule = {run.rule}, matching = {run.matching}"]
    notes += [f"wrote {p}" for p in run.outputs.values()] if not quiet else []
    return Report("extract-relations", run.to_dict(), [Table("totals", ["total", "count"], rows)], notes)


def relation_accuracy_report(ev: RelationEvaluation) -> Report:
    """The two accuracies (x100) and their counts, and with ``by_category`` the
    per-category-pair table.

    >>> from rapkit.core.relation_acc import RelationAccStats
    >>> from rapkit.types import FusionParams
    >>> ev = RelationEvaluation(RelationAccStats(pairs=2, pair_correct=1), FusionParams())
    >>> relation_accuracy_report(ev).tables[0].rows[1][1]
    50.0
    """
    stats, protocol, by_category = ev.stats, ev.protocol, ev.by_category
    s = ev.summary
    pct = lambda v: v * 100.0 if v == v else float("nan")
    ocf = ev.params.strategy == "ocfusion"
    rows: list[list[Any]] = [
        [
            f"fusion (pairs OCFusion asked, {ev.params.variant}; head's decision)"
            if ocf
            else "fusion (pairs met by Algorithm 1)",
            pct(s["fusion_accuracy"]),
            pct(s["fusion_score_order_accuracy"]),
            stats.fusion_pairs,
            stats.fusion_ties,
        ],
        [
            "all matched GT pairs",
            pct(s["pair_accuracy"]),
            pct(s["pair_score_order_accuracy"]),
            stats.pairs,
            stats.pair_ties,
        ],
    ]
    title = "relation accuracy (%)" if protocol == "rapkit" else f"relation accuracy (%), protocol {protocol}"
    t = Table("relation_accuracy", ["pairs", "relation acc", "score-order acc", "N", "ties"], rows, title=title)
    data = ev.to_dict()
    notes = [
        f"{stats.matched} of {stats.proposals} proposals matched to {stats.instances} GT instances "
        f"(IoU > 0.5); {stats.pairs} of {stats.gt_pairs} GT pairs have both instances matched."
    ]
    if protocol == "authors" and ocf:
        notes.append(
            f"protocol authors: fusion pairs from {stats.box_matched} proposals matched by box IoU "
            "(argmax, any category); every visible segment a proposal meets counts "
            "(combine_to_panoptic_for_ocfusion_acc)."
        )
    elif protocol == "authors":
        notes.append(
            f"protocol authors: fusion pairs from {stats.box_matched} proposals matched by box IoU "
            "(argmax, any category); only visible segments count; counting stops at the first "
            "excessive-overlap hit."
        )
    tables = [t]
    if by_category is not None:
        shown = percent_frame(by_category.drop(columns=["front_id", "back_id"]))
        tables.append(
            table_from_dataframe(
                shown, "by_category", title="relation value gap by category pair (front, back); accuracy %", decimals=2
            )
        )
    if ev.by_overlap_type is not None and ev.overlap_trend is not None:
        tables.append(
            table_from_dataframe(
                percent_frame(ev.by_overlap_type.drop(columns=["a", "b", "a_id", "b_id"])),
                "by_overlap_type",
                title=f"Fig. 3, a reading: overlap types (unordered) by {ev.overlap_sorted_by}; |gap|, cubic trend",
                decimals=3,
            )
        )
        tr = ev.overlap_trend
        terms = " ".join(
            f"{c:+.4g}" + ("" if k == 0 else " r" if k == 1 else f" r^{k}") for k, c in enumerate(tr.coefficients)
        )
        notes.append(
            f"overlap types: {READING_NOTE}; ranked by {ev.overlap_sorted_by} (1 = most frequent); "
            f"trend (degree {tr.degree}, {tr.n_types} types): |gap| ~ {terms or 'none'}"
        )
    return Report("relation_accuracy", data, tables, notes)
