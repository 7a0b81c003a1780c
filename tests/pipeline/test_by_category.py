"""``rapkit evaluate --relations ... --by-category`` (paper Fig. 3) and ``--protocol``:
the table follows the synthetic world's depth ranks, every output format, ``-o`` files, the
training frequency, and the option checks."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from rapkit.cli import main
from rapkit.errors import ConfigError
from rapkit.pipeline.requests import EvaluateRequest, run_evaluate


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their mean rank (as Spearman's rho needs)."""
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a), np.float64)
    r[order] = np.arange(len(a))
    for v in np.unique(a):
        r[a == v] = r[a == v].mean()
    return r


def spearman(x, y) -> float:
    return float(np.corrcoef(ranks(np.asarray(x, float)), ranks(np.asarray(y, float)))[0, 1])


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties: x = 1 1 2 3 -> ranks 0.5 0.5 2 3
    assert ranks(np.array([1.0, 1.0, 2.0, 3.0])).tolist() == [0.5, 0.5, 2.0, 3.0]


def test_mean_gap_rises_with_the_depth_rank_distance(tmp_path):
    """Synthetic world: depth = category rank + N(0, 0.6^2), relation value = depth +
    N(0, 0.3^2). For an ordered pair (front category, back category), the mean gap
    v_back - v_front therefore grows with the *signed* distance depth_rank(back) -
    depth_rank(front) (truth.json ``depth_rank``): large for a cup in front of a couch (7),
    about 0.7 for two instances of one category (0: the front one is the one the noise put
    nearer), small but positive for an order against the ranks (-1: only pairs whose noise
    overturned the ranks). Over the category pairs with >= 20 matched GT pairs, Spearman's
    rho between the distance and the mean gap must be >= 0.7."""
    from rapkit.io.jsonio import load_json
    from rapkit.pipeline.relation_acc import evaluate_relations
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    world = make_world(
        tmp_path / "w",
        SynthConfig(n_images=150, height=120, width=160, seed=11, render_images=False, things_per_image=10),
    )
    extract_dataset_relations(world.instances, world.panoptic, output=tmp_path / "rel.json")
    ev = evaluate_relations(
        relations=tmp_path / "rel.json", proposals=world.proposals, instances=world.instances, by_category=True
    )
    df = ev.by_category
    assert int(df["pairs"].sum()) == ev.stats.pairs and int(df["ties"].sum()) == ev.stats.pair_ties
    assert int(np.round((df["accuracy"] * df["pairs"]).sum())) == ev.stats.pair_correct
    assert list(df["pairs"]) == sorted(df["pairs"], reverse=True)  # no training file: sorted by count
    rank = {int(k): int(v) for k, v in load_json(world.truth)["depth_rank"].items()}
    big = df[df["pairs"] >= 20]
    dist = np.array([rank[b] - rank[f] for f, b in zip(big["front_id"], big["back_id"])])
    rho = spearman(dist, big["mean_gap"].to_numpy())
    print(
        big.assign(distance=dist)[["front", "back", "distance", "mean_gap", "accuracy", "pairs"]].to_string(index=False)
    )
    print(f"{len(big)} category pairs with >= 20 pairs; Spearman rho = {rho:.4f}")
    assert len(big) >= 10 and len(set(dist.tolist())) >= 5
    assert rho >= 0.7
    # the world's category order holds: where the ranks say front (distance > 0) the gap is positive
    assert (big["mean_gap"][dist > 0] > 0).all()


# --------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("bycat")
    w = make_world(root / "w", SynthConfig(n_images=16, height=96, width=128, seed=4, render_images=False))
    extract_dataset_relations(w.instances, w.panoptic, output=root / "rel.json")
    return w, root / "rel.json"


def rel_args(world):
    w, rel = world
    return ["evaluate", "--relations", rel, "--proposals", w.proposals, "--instances", w.instances, "-q"]


def test_by_category_in_every_format_accuracies_in_percent(world, capsys):
    args = rel_args(world) + ["--by-category"]
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    rows = doc["by_category"]
    assert doc["unit"] == "percent" and rows
    assert all(0.0 <= r["accuracy"] <= 100.0 for r in rows)
    assert any(r["accuracy"] > 1.0 for r in rows)  # percent, not fractions
    assert sum(r["pairs"] for r in rows) == doc["relation_accuracy"]["pairs"]
    assert set(rows[0]) == {"front", "back", "front_id", "back_id", "mean_gap", "accuracy", "pairs", "ties"}
    code, out, _ = run(capsys, *args, "--format", "csv")
    assert code == 0
    # several tables: each with its own header row and a leading "table" column
    section = out[out.index("table,front,") :]
    recs = [r for r in csv.DictReader(io.StringIO(section)) if r["table"] == "by_category"]
    assert len(recs) == len(rows)
    assert float(recs[0]["accuracy"]) == pytest.approx(rows[0]["accuracy"])
    code, out, _ = run(capsys, *args)
    assert code == 0 and "relation value gap by category pair" in out and "mean_gap" in out
    # without --by-category: no such table
    code, out, _ = run(capsys, *rel_args(world), "--format", "json")
    assert code == 0 and "by_category" not in json.loads(out)


def test_output_files_csv_json_and_parquet(world, tmp_path, capsys):
    args = rel_args(world) + ["--by-category"]
    code, _, _ = run(capsys, *args, "-o", tmp_path / "t.csv")
    assert code == 0
    with open(tmp_path / "t.csv", newline="") as f:
        recs = list(csv.DictReader(f))
    code, _, _ = run(capsys, *args, "-o", tmp_path / "t.json")
    assert code == 0
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["unit"] == "percent" and len(doc["rows"]) == len(recs)
    assert float(recs[0]["accuracy"]) == pytest.approx(doc["rows"][0]["accuracy"])
    assert any(float(r["accuracy"]) > 1.0 for r in recs)
    # no overwrite without --force (checked before any work)
    code, _, err = run(capsys, *args, "-o", tmp_path / "t.csv")
    assert code == 2 and "--force" in err
    code, _, _ = run(capsys, *args, "-o", tmp_path / "t.csv", "--force")
    assert code == 0
    # parquet: written with pyarrow, else exit 2 with the install hint and nothing written
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        code, _, err = run(capsys, *args, "-o", tmp_path / "t.parquet")
        assert code == 2 and "pip install pyarrow" in err
        assert not (tmp_path / "t.parquet").exists()
    else:
        import pandas as pd

        code, _, _ = run(capsys, *args, "-o", tmp_path / "t.parquet")
        assert code == 0 and len(pd.read_parquet(tmp_path / "t.parquet")) == len(recs)
    code, _, err = run(capsys, *args, "-o", tmp_path / "t.xlsx")
    assert code == 2 and "unknown table format" in err


def test_training_frequency_sorts_the_rows(world, tmp_path):
    w, rel = world
    out = run_evaluate(
        EvaluateRequest(
            relations=rel,
            proposals=w.proposals,
            instances=w.instances,
            by_category=True,
            train_relations=rel,
            train_instances=w.instances,
        )
    )
    df = out.relation_by_category
    assert list(df["train_count"]) == sorted(df["train_count"], reverse=True)
    # the same file: every matched GT pair is one of its relations
    assert (df["train_count"] >= df["pairs"]).all()
    from rapkit.io.relations import read_relations

    assert int(df["train_count"].sum()) <= len(read_relations(rel).pairs())
    # rows of the report follow the DataFrame
    from rapkit.report.evaluate import evaluate_report

    assert [r["train_count"] for r in evaluate_report(out).data["by_category"]] == list(df["train_count"])


def test_protocol_authors_through_the_cli(world, capsys):
    code, out, _ = run(capsys, *rel_args(world), "--protocol", "authors", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["protocol"] == "authors" and doc["relation_accuracy"]["box_matched"] > 0
    code, out2, _ = run(capsys, *rel_args(world), "--format", "json")
    doc2 = json.loads(out2)
    assert doc2["protocol"] == "rapkit" and doc2["relation_accuracy"]["box_matched"] == 0
    # (b) is the same under both protocols
    assert doc["relation_accuracy"]["pairs"] == doc2["relation_accuracy"]["pairs"]
    code, _, _ = run(capsys, *rel_args(world), "--protocol", "nearest")
    assert code == 2


# --------------------------------------------------------------------------- option checks

RELS = {"relations": "rel.json", "proposals": "props.json", "instances": "inst.json"}
SWEEP = {"gt": "gt.json", "proposals": "props.json", "sweep": True, "sweep_params": ("rho",)}

INVALID = [
    (
        dict(SWEEP, by_category=True),
        "--by-category applies to relation accuracy (--relations, --proposals, --instances), not to --sweep",
    ),
    (
        dict(SWEEP, protocol="authors"),
        "--protocol applies to relation accuracy (--relations, --proposals, --instances), not to --sweep",
    ),
    (
        {"gt": "gt.json", "pred": "p.json", "by_category": True},
        "--by-category applies to relation accuracy (--relations, --proposals, --instances), not to PQ alone",
    ),
    (
        {"gt": "gt.json", "pred": "p.json", "protocol": "authors"},
        "--protocol applies to relation accuracy (--relations, --proposals, --instances), not to PQ alone",
    ),
    (dict(RELS, protocol="paper"), "--protocol: unknown protocol 'paper'; choose rapkit or authors"),
    (dict(RELS, output="t.csv"), "--output applies to --sweep, --ablation and --by-category (relation accuracy)"),
    (
        dict(RELS, train_relations="r.json", train_instances="i.json"),
        "--train-relations applies to --by-category (the training frequency of each category pair)",
    ),
    (
        dict(RELS, by_category=True, train_relations="r.json"),
        (
            "--by-category's training frequency needs --train-relations and --train-instances (missing "
            "--train-instances; the instances JSON gives the categories of the training relations)"
        ),
    ),
    (
        dict(RELS, by_category=True, train_instances="i.json"),
        (
            "--by-category's training frequency needs --train-relations and --train-instances (missing "
            "--train-relations; the instances JSON gives the categories of the training relations)"
        ),
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), INVALID)
def test_invalid_requests(kwargs, message):
    with pytest.raises(ConfigError) as e:
        EvaluateRequest(**kwargs).plan()
    assert str(e.value) == message


def test_valid_requests_plan_relation_accuracy():
    plan = EvaluateRequest(
        **RELS,
        by_category=True,
        protocol="authors",
        output="t.parquet",
        train_relations="r.json",
        train_instances="i.json",
    ).plan()
    assert plan.mode == "evaluate" and plan.relation_params is not None and not plan.pq
