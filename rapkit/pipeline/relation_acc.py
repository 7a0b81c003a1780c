"""Relation accuracy over a dataset (the evaluate command calls :func:`evaluate_relations_full`).

>>> from rapkit.types import FusionParams
>>> stats, report = evaluate_relations("proposals.json", "instances.json", "relations.json",
...                                    FusionParams())                       # doctest: +SKIP
>>> summarize(stats)["pair_accuracy"]                                        # doctest: +SKIP
>>> ev = evaluate_relations_full("proposals.json", "instances.json", "relations.json", FusionParams(),
...                              protocol="authors", by_category=True)      # doctest: +SKIP
>>> ev.by_category                     # pandas DataFrame, paper Fig. 3     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.relation_acc import (
    CategoryPairStats,
    RelationAccStats,
    check_protocol,
    summarize,
)
from ..errors import RapkitError
from ..types import FusionParams


@dataclass
class RelationEvaluation:
    """What :func:`evaluate_relations_full` returns: the counts, the report, and with
    ``by_category`` the per-category-pair counts and their table (pandas, fractions)."""

    stats: RelationAccStats
    report: Any
    protocol: str = "rapkit"
    categories: CategoryPairStats | None = None
    by_category: Any = None  # pandas.DataFrame


def _task(args: tuple) -> tuple[RelationAccStats, CategoryPairStats | None]:
    from ..core.relation_acc import relation_accuracy_parts
    from ..io.coco import decode_instances

    info, props, anns, pairs, params, inst_file, protocol, by_category = args
    try:
        inst = decode_instances(
            [a for a in anns if not a.get("iscrowd", 0)], info.height, info.width, file=inst_file, image_id=info.id
        )
        return relation_accuracy_parts(props, inst, pairs, params, protocol=protocol, by_category=by_category)
    except RapkitError as e:
        raise e.with_context(image_id=info.id)


def check_table_output(path: str | os.PathLike, force: bool = False) -> None:
    """Check an ``-o/--output`` table path before any work: a known extension (.csv, .json,
    .parquet, .md), pyarrow for Parquet, no overwrite without ``force`` (ConfigError, exit 2)."""
    from pathlib import Path

    from ..errors import ConfigError
    from ..io._atomic import check_writable
    from ..io.tables import FORMATS

    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{p}: unknown table format {p.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError(f"{p}: writing Parquet needs pyarrow (pip install pyarrow)") from None
    check_writable(p, force)


def train_pair_counts(
    train_relations: str | os.PathLike, train_instances: str | os.PathLike
) -> dict[tuple[int, int], int]:
    """How often each ordered ``(front category, back category)`` is a relation in a
    training relations JSON; the categories come from its instances JSON (InputError, exit 3,
    for a relation whose instance or image is not in it)."""
    from ..errors import InputError
    from ..io.coco import load_instances
    from ..io.relations import read_relations

    rels = read_relations(train_relations)
    ds = load_instances(train_instances)
    cat: dict[tuple[int, int], int] = {}
    for iid, anns in ds.by_image.items():
        for a in anns:
            cat[(iid, int(a["id"]))] = int(a["category_id"])
    counts: dict[tuple[int, int], int] = {}
    for iid, f, b in rels.pairs():
        for x in (f, b):
            if (iid, x) not in cat:
                raise InputError(
                    f"relation instance {x} is not an annotation of this image in {train_instances}",
                    file=train_relations,
                    image_id=iid,
                )
        key = (cat[(iid, f)], cat[(iid, b)])
        counts[key] = counts.get(key, 0) + 1
    return counts


def evaluate_relations_full(
    proposals_path: str | os.PathLike,
    instances_path: str | os.PathLike,
    relations_path: str | os.PathLike,
    params: FusionParams,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    *,
    protocol: str = "rapkit",
    by_category: bool = False,
    train_relations: str | os.PathLike | None = None,
    train_instances: str | os.PathLike | None = None,
) -> RelationEvaluation:
    """Relation accuracy of proposals against GT instances and relations.

    Images are those of the instances JSON; relations of images not in it are an error;
    proposals are validated like ``fuse``. ``protocol`` is ``"rapkit"`` or ``"authors"``
    (:mod:`rapkit.core.relation_acc`, docs/relations.md). ``by_category`` adds the
    per-category-pair table (paper Fig. 3); ``train_relations`` + ``train_instances`` add
    the training frequency of each pair and sort by it. ``on_start(n_images)`` is called
    once the inputs are validated, ``progress(1)`` after each image.
    """
    from .._runtime.pool import imap_ordered, resolve_workers
    from ..core.relation_acc import category_pair_table
    from ..errors import ConfigError, InputError
    from ..io.coco import load_instances
    from ..io.proposals import load_proposals
    from ..io.relations import read_relations

    check_protocol(protocol)
    if (train_relations is None) != (train_instances is None):
        raise ConfigError(
            "--train-relations and --train-instances go together (the training relations and "
            "the instances JSON that gives their categories)"
        )
    if train_relations is not None and not by_category:
        raise ConfigError("--train-relations applies to --by-category")
    ds = load_instances(instances_path)
    props = load_proposals(
        proposals_path, ds.images, ds.categories, require_relation=params.strategy == "rap" and params.ra
    )
    rels = read_relations(relations_path)
    for iid in rels.images:
        if iid not in ds.images:
            raise InputError(
                "relations for an image that is not in the instances JSON", file=relations_path, image_id=iid
            )
    train = train_pair_counts(train_relations, train_instances) if train_relations is not None else None
    workers = resolve_workers(workers)
    if on_start is not None:
        on_start(len(ds.images))

    def tasks():
        for iid, info in ds.images.items():
            r = rels.images.get(iid)
            pairs = [(x.front, x.back) for x in r.relations] if r is not None else []
            yield (
                info,
                props[iid],
                ds.by_image.get(iid, []),
                pairs,
                params,
                str(instances_path),
                protocol,
                by_category,
            )

    total = RelationAccStats()
    cats = CategoryPairStats() if by_category else None
    try:
        for st, cs in imap_ordered(_task, tasks(), workers, on_result=(lambda r: progress(1)) if progress else None):
            total = total + st
            if cats is not None and cs is not None:
                cats = cats + cs
    except RapkitError as e:
        raise e.with_context(file=proposals_path)
    table = None
    if cats is not None:
        names = {cid: c.name for cid, c in ds.categories.items()}
        table = category_pair_table(cats, names, train)
    report = relation_report(total, params, protocol=protocol, by_category=table)
    return RelationEvaluation(total, report, protocol, cats, table)


def evaluate_relations(
    proposals_path: str | os.PathLike,
    instances_path: str | os.PathLike,
    relations_path: str | os.PathLike,
    params: FusionParams,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    *,
    protocol: str = "rapkit",
):
    """Relation accuracy of proposals against GT instances and relations.

    Returns ``(RelationAccStats, rapkit.report.Report)``; :func:`evaluate_relations_full`
    has the per-category table too.
    """
    ev = evaluate_relations_full(
        proposals_path, instances_path, relations_path, params, workers, progress, on_start, protocol=protocol
    )
    return ev.stats, ev.report


def relation_report(
    stats: RelationAccStats, params: FusionParams | None = None, *, protocol: str = "rapkit", by_category: Any = None
):
    """A :class:`rapkit.report.Report` with the two accuracies (x100) and their counts, and
    with ``by_category`` (the DataFrame of
    :func:`~rapkit.core.relation_acc.category_pair_table`) the per-category-pair table.

    >>> relation_report(RelationAccStats(pairs=2, pair_correct=1)).tables[0].rows[1][1]
    50.0
    """
    from ..report import Report, Table, percent_frame, table_from_dataframe

    s = summarize(stats)
    pct = lambda v: v * 100.0 if v == v else float("nan")
    rows: list[list[Any]] = [
        [
            "fusion (pairs met by Algorithm 1)",
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
    data: dict[str, Any] = {"relation_accuracy": s, "protocol": protocol}
    if params is not None:
        data["params"] = params.to_dict()
    notes = [
        f"{stats.matched} of {stats.proposals} proposals matched to {stats.instances} GT instances "
        f"(IoU > 0.5); {stats.pairs} of {stats.gt_pairs} GT pairs have both instances matched."
    ]
    if protocol == "authors":
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
        data["by_category"] = by_category.to_dict(orient="records")
    return Report("relation_accuracy", data, tables, notes)
