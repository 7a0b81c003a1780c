"""The category-level baseline on a synthetic world, through the library and the CLI."""

from __future__ import annotations

import json

import pytest

from rapkit.pipeline.category_order import fit_category_order
from rapkit.pipeline.relation_acc import evaluate_relations
from rapkit.pipeline.relations import extract_dataset_relations


@pytest.fixture(scope="module")
def worlds(synth_world, tmp_path_factory):
    """A training world and a held-out world (other seed), with their relations."""
    tmp = tmp_path_factory.mktemp("bt")
    train, test = synth_world(n_images=10, seed=11), synth_world(n_images=8, seed=12)
    extract_dataset_relations(train.instances, train.panoptic, output=tmp / "train_rel.json")
    extract_dataset_relations(test.instances, test.panoptic, output=tmp / "test_rel.json")
    return train, test, tmp


def test_category_values_order_better_than_scores_on_held_out_images(worlds):
    train, test, tmp = worlds
    co = fit_category_order(
        train_relations=tmp / "train_rel.json",
        train_instances=train.instances,
        proposals=test.proposals,
        output=tmp / "cat.json",
        strengths=tmp / "strengths.json",
        force=True,
    )
    assert co.fit.converged
    # the world's depth ranks: cup (47) in front of everything, couch (63) behind
    order = co.to_frame()["category_id"].tolist()
    assert order.index(47) < order.index(1) < order.index(63)
    ev = evaluate_relations(relations=tmp / "test_rel.json", proposals=tmp / "cat.json", instances=test.instances)
    s = ev.summary
    assert s["pair_accuracy"] > s["pair_score_order_accuracy"] + 0.2, s
    # the copy keeps every entry and field; only relation changes, to the category's value
    src = json.loads(open(test.proposals).read())
    out = json.loads((tmp / "cat.json").read_text())
    assert len(out) == len(src) == co.proposals
    vals = co.relation_values
    for a, b in zip(src, out):
        assert {k: v for k, v in a.items() if k != "relation"} == {k: v for k, v in b.items() if k != "relation"}
        assert b["relation"] == vals[a["category_id"]]
    saved = json.loads((tmp / "strengths.json").read_text())
    assert saved["kind"] == "rapkit-category-order" and saved["converged"] is True
    assert {c["id"]: c["relation"] for c in saved["categories"]} == vals


def test_cli_writes_and_refuses(worlds, cli):
    train, test, tmp = worlds
    out = tmp / "cli_cat.json"
    args = ["category-order", "--train-relations", tmp / "train_rel.json", "--train-instances", train.instances]
    code, stdout, _ = cli(*args, "--proposals", test.proposals, "-o", out, "--format", "json")
    assert code == 0, stdout
    data = json.loads(stdout)
    assert data["proposals"] > 0 and len(data["categories"]) == 8
    code, _, err = cli(*args, "--proposals", test.proposals, "-o", out)
    assert code == 2 and "--force" in err
    code, _, err = cli(*args, "-o", tmp / "x.json")
    assert code == 2 and "go together" in err
    code, _, err = cli(*args, "--proposals", test.proposals, "-o", test.proposals, "--force")
    assert code == 2 and "overwrite this input" in err


def test_unknown_category_is_bad_input_naming_proposal(worlds, cli):
    train, test, tmp = worlds
    bad = tmp / "bad_props.json"
    entries = json.loads(open(test.proposals).read())
    entries[1]["category_id"] = 999
    bad.write_text(json.dumps(entries))
    code, _, err = cli(
        "category-order",
        "--train-relations",
        tmp / "train_rel.json",
        "--train-instances",
        train.instances,
        "--proposals",
        bad,
        "-o",
        tmp / "bad_out.json",
    )
    assert code == 3 and "proposal #1" in err and "999" in err and "Traceback" not in err
