"""Relation accuracy over a dataset (the evaluate command calls :func:`evaluate_relations`).

>>> from rapkit.types import FusionParams
>>> stats, report = evaluate_relations("proposals.json", "instances.json", "relations.json",
...                                    FusionParams())                       # doctest: +SKIP
>>> summarize(stats)["pair_accuracy"]                                        # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..core.relation_acc import RelationAccStats, summarize
from ..errors import RapkitError
from ..types import FusionParams


def _task(args: tuple) -> RelationAccStats:
    from ..core.relation_acc import relation_accuracy_image
    from ..io.coco import decode_instances

    info, props, anns, pairs, params, inst_file = args
    try:
        inst = decode_instances([a for a in anns if not a.get("iscrowd", 0)], info.height, info.width,
                                file=inst_file, image_id=info.id)
        return relation_accuracy_image(props, inst, pairs, params)
    except RapkitError as e:
        raise e.with_context(image_id=info.id)


def evaluate_relations(
    proposals_path: str | os.PathLike,
    instances_path: str | os.PathLike,
    relations_path: str | os.PathLike,
    params: FusionParams,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
):
    """Relation accuracy of proposals against GT instances and relations.

    Returns ``(RelationAccStats, rapkit.report.Report)``. Images are those of the instances
    JSON; relations of images not in it are an error; proposals are validated like ``fuse``.
    ``on_start(n_images)`` is called once the inputs are validated, ``progress(1)`` after
    each image.
    """
    from ..core.parallel import imap_ordered
    from ..errors import InputError
    from ..io.coco import load_instances
    from ..io.proposals import load_proposals
    from ..io.relations import read_relations

    ds = load_instances(instances_path)
    props = load_proposals(proposals_path, ds.images, ds.categories,
                           require_relation=params.strategy == "rap" and params.ra)
    rels = read_relations(relations_path)
    for iid in rels.images:
        if iid not in ds.images:
            raise InputError("relations for an image that is not in the instances JSON", file=relations_path, image_id=iid)
    if workers <= 0:
        workers = os.cpu_count() or 1
    if on_start is not None:
        on_start(len(ds.images))

    def tasks():
        for iid, info in ds.images.items():
            r = rels.images.get(iid)
            pairs = [(x.front, x.back) for x in r.relations] if r is not None else []
            yield info, props[iid], ds.by_image.get(iid, []), pairs, params, str(instances_path)

    total = RelationAccStats()
    try:
        for st in imap_ordered(_task, tasks(), workers, on_result=(lambda r: progress(1)) if progress else None):
            total = total + st
    except RapkitError as e:
        raise e.with_context(file=proposals_path)
    return total, relation_report(total, params)


def relation_report(stats: RelationAccStats, params: FusionParams | None = None):
    """A :class:`rapkit.report.Report` with the two accuracies (x100) and their counts.

    >>> relation_report(RelationAccStats(pairs=2, pair_correct=1)).tables[0].rows[1][1]
    50.0
    """
    from ..report import Report, Table

    s = summarize(stats)
    pct = (lambda v: v * 100.0 if v == v else float("nan"))
    rows: list[list[Any]] = [
        ["fusion (pairs met by Algorithm 1)", pct(s["fusion_accuracy"]), pct(s["fusion_score_order_accuracy"]),
         stats.fusion_pairs, stats.fusion_ties],
        ["all matched GT pairs", pct(s["pair_accuracy"]), pct(s["pair_score_order_accuracy"]), stats.pairs,
         stats.pair_ties],
    ]
    t = Table("relation_accuracy", ["pairs", "relation acc", "score-order acc", "N", "ties"], rows,
              title="relation accuracy (%)")
    data: dict[str, Any] = {"relation_accuracy": s}
    if params is not None:
        data["params"] = params.to_dict()
    notes = [f"{stats.matched} of {stats.proposals} proposals matched to {stats.instances} GT instances "
             f"(IoU > 0.5); {stats.pairs} of {stats.gt_pairs} GT pairs have both instances matched."]
    return Report("relation_accuracy", data, [t], notes)
