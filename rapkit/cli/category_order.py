"""``rapkit category-order``: the category-level baseline (Bradley–Terry strengths)."""

from __future__ import annotations

import click

from ._common import Command, JsonPath, emit, force_option, output_option, output_options


@click.command(
    "category-order",
    cls=Command,
    epilog=(
        "Example: rapkit category-order --train-relations relations.json --train-instances world/instances.json "
        "--proposals world/proposals.json -o proposals_category.json --strengths strengths.json"
    ),
)
@click.option(
    "--train-relations",
    required=True,
    type=JsonPath(),
    help="Training relations JSON (rapkit extract-relations): each relation is a win of the front category.",
)
@click.option(
    "--train-instances",
    required=True,
    type=JsonPath(),
    help="The COCO instances JSON of the training relations (their categories; the categories fitted).",
)
@click.option(
    "--proposals",
    type=JsonPath(),
    default=None,
    help="Proposals JSON to rewrite with the category values; needs -o [default: none, only the fit].",
)
@output_option("Where the rewritten proposals go (every entry kept; relation = its category's value).", required=False)
@click.option(
    "--strengths",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the fit as JSON (per category: strength, relation, wins, losses) [default: not written].",
)
@click.option(
    "--l2",
    type=click.FloatRange(min=0, min_open=True),
    default=0.01,
    show_default=True,
    help="L2 prior on the log-strengths (> 0: categories without relations stay at 0, the fit is unique).",
)
@click.option(
    "--tol",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-10,
    show_default=True,
    help="Newton stops when no log-strength moves by more than this.",
)
@force_option
@output_options
def command(train_relations, train_instances, proposals, output, strengths, l2, tol, force, fmt, quiet):
    """A category-level order: Bradley-Terry strengths of the categories.

    Each training relation "an instance of category A occludes one of category B" is a win
    of A over B; the log-strengths maximise the Bradley-Terry likelihood under a small L2
    prior (Newton's method, deterministic). With --proposals, every proposal gets its
    category's value -strength as its relation value (smaller = in front), written to -o
    for rapkit fuse --strategy rap and rapkit evaluate, beside instance-level values on the
    same detections. Relations within one category are left out of the fit.
    """
    from ..pipeline.category_order import fit_category_order
    from ..report.category_order import category_order_report

    co = fit_category_order(
        train_relations=train_relations,
        train_instances=train_instances,
        proposals=proposals,
        output=output,
        strengths=strengths,
        l2=l2,
        tol=tol,
        force=force,
    )
    emit(category_order_report(co, quiet=quiet), fmt)
