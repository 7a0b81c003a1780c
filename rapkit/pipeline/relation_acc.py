"""Relation accuracy over a dataset (paper Table 4): ``rapkit evaluate --relations``.

:func:`evaluate_relations` matches proposals to GT instances, replays Algorithm 1 and counts
how often the relation values (and, beside them, the scores) order a GT relation pair
correctly; it returns a :class:`RelationEvaluation` (``.to_frame()``, ``.to_dict()``,
``.summary``; ``.by_category`` with paper Fig. 3's per-category-pair table and
``.by_overlap_type`` with its unordered reading, :mod:`rapkit.core.overlap_types`). The command
line prints it with :func:`rapkit.report.relations.relation_accuracy_report`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._runtime.pool import imap_ordered
from ..core.overlap_types import READING_NOTE, Trend, overlap_type_frame, overlap_types
from ..core.relation_acc import (
    CategoryPairStats,
    RelationAccStats,
    category_pair_table,
    check_protocol,
    relation_accuracy_parts,
    summarize,
)
from ..errors import ConfigError, InputError, RapkitError
from ..io.coco import decode_instances, load_instances
from ..io.proposals import load_proposals
from ..io.relations import read_relations
from ..io.tables import check_table_path, write_dataframe
from ..types import FusionParams

PathLike = str | os.PathLike


@dataclass
class RelationEvaluation:
    """What :func:`evaluate_relations` returns: the counts, the fusion parameters and
    protocol, and with ``by_category`` the per-category-pair counts and their table
    (pandas, fractions), the unordered overlap types (``by_overlap_type``, a reading of
    paper Fig. 3: :mod:`rapkit.core.overlap_types`) and their cubic trend.

    >>> ev = RelationEvaluation(RelationAccStats(pairs=4, pair_correct=3), FusionParams())
    >>> ev.summary["pair_accuracy"], int(ev.to_frame().loc["pairs", "pairs"])
    (0.75, 4)
    """

    stats: RelationAccStats
    params: FusionParams
    protocol: str = "rapkit"
    categories: CategoryPairStats | None = None
    by_category: Any = None  # pandas.DataFrame
    by_overlap_type: Any = None  # pandas.DataFrame
    overlap_trend: Trend | None = None
    overlap_sorted_by: str | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """The accuracies (fractions, NaN without pairs) and their counts."""
        return summarize(self.stats)

    def to_frame(self) -> Any:
        """Two rows, ``fusion`` (the pairs Algorithm 1 met) and ``pairs`` (all matched GT
        pairs): accuracy of the relation values, of the score order, pairs, ties."""
        import pandas as pd  # heavy (~0.3 s): only when asked for

        s, st = self.summary, self.stats
        return pd.DataFrame(
            {
                "accuracy": [s["fusion_accuracy"], s["pair_accuracy"]],
                "score_order_accuracy": [s["fusion_score_order_accuracy"], s["pair_score_order_accuracy"]],
                "pairs": [st.fusion_pairs, st.pairs],
                "ties": [st.fusion_ties, st.pair_ties],
            },
            index=["fusion", "pairs"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The accuracies and counts, the protocol, the parameters and (``by_category``) the rows."""
        d: dict[str, Any] = {
            "relation_accuracy": self.summary,
            "protocol": self.protocol,
            "params": self.params.to_dict(),
        }
        if self.by_category is not None:
            d["by_category"] = self.by_category.to_dict(orient="records")
        if self.by_overlap_type is not None and self.overlap_trend is not None:
            d["by_overlap_type"] = self.by_overlap_type.to_dict(orient="records")
            d["overlap_trend"] = {
                **self.overlap_trend.to_dict(),
                "x": "rank",
                "y": "abs_gap",
                "sorted_by": self.overlap_sorted_by,
                "note": READING_NOTE,
            }
        return d


def _task(args: tuple) -> tuple[RelationAccStats, CategoryPairStats | None]:
    info, props, anns, pairs, params, inst_file, protocol, by_category = args
    try:
        inst = decode_instances(
            [a for a in anns if not a.get("iscrowd", 0)], info.height, info.width, file=inst_file, image_id=info.id
        )
        return relation_accuracy_parts(props, inst, pairs, params, protocol=protocol, by_category=by_category)
    except RapkitError as e:
        raise e.with_context(image_id=info.id)


def train_pair_counts(
    train_relations: str | os.PathLike, train_instances: str | os.PathLike
) -> dict[tuple[int, int], int]:
    """How often each ordered ``(front category, back category)`` is a relation in a
    training relations JSON; the categories come from its instances JSON (InputError, exit 3,
    for a relation whose instance or image is not in it)."""
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


def evaluate_relations(
    *,
    relations: PathLike,
    proposals: PathLike,
    instances: PathLike,
    params: FusionParams | None = None,
    rho: float | None = None,
    tau: float | None = None,
    gamma: float = 0.5,
    variant: str | None = None,
    strategy: str = "rap",
    protocol: str = "rapkit",
    by_category: bool = False,
    train_relations: PathLike | None = None,
    train_instances: PathLike | None = None,
    output: PathLike | None = None,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RelationEvaluation:
    """``rapkit evaluate --relations R --proposals P --instances I``: relation accuracy of the
    proposals against the GT instances and relations, fusing with RAP at ``rho``/``tau``/
    ``gamma``/``variant`` (left out: 0.6, 0.6, 0.5, paper), or with ``strategy="ocfusion"``
    at ``rho``/``tau`` (0.5, 0.5) and the proposals' pair decisions (``occludes``: the
    fusion accuracy then scores the head's decisions), or ``params``, a :class:`FusionParams`.

    Images are those of the instances JSON; relations of images not in it are an error;
    proposals are validated like ``fuse``. ``protocol`` is ``"rapkit"`` or ``"authors"``
    (:mod:`rapkit.core.relation_acc`, docs/relations.md). ``by_category`` adds the
    per-category-pair table (paper Fig. 3), which ``output`` (``.csv``, ``.json``,
    ``.parquet``, ``.md``) also writes; ``train_relations`` + ``train_instances`` add the
    training frequency of each pair and sort by it. ``on_start(n_images)`` is called once
    the inputs are validated, ``progress(1)`` after each image.

    >>> import tempfile
    >>> from rapkit.synth import SynthConfig, make_world
    >>> from rapkit.pipeline.relations import extract_dataset_relations
    >>> tmp = tempfile.mkdtemp()
    >>> w = make_world(f"{tmp}/w", SynthConfig(n_images=3, height=64, width=80, render_images=False))
    >>> _ = extract_dataset_relations(w.instances, w.panoptic, output=f"{tmp}/rel.json")
    >>> ev = evaluate_relations(relations=f"{tmp}/rel.json", proposals=w.proposals, instances=w.instances)
    >>> list(ev.to_frame().index), 0.0 <= ev.summary["pair_accuracy"] <= 1.0
    (['fusion', 'pairs'], True)
    """
    if params is None:
        params = FusionParams.of(strategy, rho=rho, tau=tau, gamma=gamma, variant=variant)
    check_protocol(protocol)
    if output is not None:
        if not by_category:
            raise ConfigError("output applies to by_category (the per-category-pair table)")
        check_table_path(output, force)
    if (train_relations is None) != (train_instances is None):
        raise ConfigError(
            "--train-relations and --train-instances go together (the training relations and "
            "the instances JSON that gives their categories)"
        )
    if train_relations is not None and not by_category:
        raise ConfigError("--train-relations applies to --by-category")
    ds = load_instances(instances)
    props = load_proposals(
        proposals,
        ds.images,
        ds.categories,
        require_relation=params.strategy == "rap" and params.ra,
        pairs=params.strategy == "ocfusion",
    )
    rels = read_relations(relations)
    for iid in rels.images:
        if iid not in ds.images:
            raise InputError("relations for an image that is not in the instances JSON", file=relations, image_id=iid)
    train = train_pair_counts(train_relations, train_instances) if train_relations is not None else None
    if on_start is not None:
        on_start(len(ds.images))

    def tasks():
        for iid, info in ds.images.items():
            r = rels.images.get(iid)
            pairs = [(x.front, x.back) for x in r.relations] if r is not None else []
            yield (info, props[iid], ds.by_image.get(iid, []), pairs, params, str(instances), protocol, by_category)

    total = RelationAccStats()
    cats = CategoryPairStats() if by_category else None
    try:
        for st, cs in imap_ordered(_task, tasks(), workers, on_result=(lambda r: progress(1)) if progress else None):
            total = total + st
            if cats is not None and cs is not None:
                cats = cats + cs
    except RapkitError as e:
        raise e.with_context(file=proposals)
    ev = RelationEvaluation(total, params, protocol, cats)
    if cats is not None:
        names = {cid: c.name for cid, c in ds.categories.items()}
        table = category_pair_table(cats, names, train)
        keys = sorted(cats.cells)
        cells = [cats.cells[k] for k in keys]
        types = overlap_types(
            [k[0] for k in keys],
            [k[1] for k in keys],
            [c[0] for c in cells],
            [c[3] for c in cells],
            correct=[c[1] for c in cells],
            ties=[c[2] for c in cells],
            train_counts=None if train is None else [train.get(k, 0) for k in keys],
        )
        ev.by_category = table
        ev.by_overlap_type = overlap_type_frame(types, names)
        ev.overlap_trend, ev.overlap_sorted_by = types.trend, types.sorted_by
        if output is not None:
            write_dataframe(table, output, force=force)
    return ev


__all__ = ["RelationEvaluation", "evaluate_relations", "train_pair_counts"]
