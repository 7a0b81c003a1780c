"""``evaluate --by-category``'s unordered overlap types (a reading of paper Fig. 3) in every
format, and ``show charts --overlap-table``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rapkit.pipeline.relation_acc import evaluate_relations
from rapkit.pipeline.relations import extract_dataset_relations


@pytest.fixture(scope="module")
def world(synth_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("types")
    w = synth_world(n_images=6, seed=4)
    extract_dataset_relations(w.instances, w.panoptic, output=tmp / "rel.json")
    return w, tmp


def test_library_unordered_view_sums_the_ordered_one(world):
    w, tmp = world
    rel = tmp / "rel.json"
    ev = evaluate_relations(
        relations=rel,
        proposals=w.proposals,
        instances=w.instances,
        by_category=True,
        train_relations=rel,
        train_instances=w.instances,
    )
    o, u = ev.by_category, ev.by_overlap_type
    assert u["pairs"].sum() == o["pairs"].sum() and u["train_count"].sum() == o["train_count"].sum()
    assert ev.overlap_sorted_by == "train_count" and u["rank"].tolist() == list(range(1, len(u) + 1))
    assert (np.diff(u["train_count"].to_numpy()) <= 0).all()
    # one type by hand: both orientations of its categories
    row = u.iloc[0]
    a, b = int(row["a_id"]), int(row["b_id"])
    sel = o[((o.front_id == a) & (o.back_id == b)) | ((o.front_id == b) & (o.back_id == a))]
    gap = float((sel["mean_gap"] * sel["pairs"]).sum() / sel["pairs"].sum())
    assert row["pairs"] == sel["pairs"].sum() and row["abs_gap"] == pytest.approx(abs(gap), rel=1e-12)
    tr = ev.overlap_trend
    assert tr.degree == min(3, len(u) - 1)
    np.testing.assert_allclose(u["trend"], tr(u["rank"]), rtol=1e-9, atol=1e-9)
    d = ev.to_dict()
    assert d["overlap_trend"]["degree"] == tr.degree and "a reading" in d["overlap_trend"]["note"]
    assert len(d["by_overlap_type"]) == len(u)


def test_cli_formats_and_chart(world, cli, tmp_path):
    pytest.importorskip("matplotlib")
    w, tmp = world
    args = ["evaluate", "--relations", tmp / "rel.json", "--proposals", w.proposals, "--instances", w.instances]
    args += ["--by-category", "-q"]
    code, out, err = cli(*args)
    assert code == 0, err
    assert "Fig. 3, a reading" in out and "cubic" in out and "abs_gap" in out
    code, out, err = cli(*args, "--format", "json")
    data = json.loads(out)
    assert data["overlap_trend"]["sorted_by"] == "pairs" and data["by_overlap_type"][0]["rank"] == 1
    assert 0 <= data["by_overlap_type"][0]["accuracy"] <= 100  # percent on the command line
    code, out, err = cli(*args, "--format", "csv")
    assert code == 0 and "by_overlap_type" in out
    code, _, err = cli(*args, "-o", tmp_path / "gap.csv")
    assert code == 0, err
    code, out, err = cli(
        "show", "charts", "--overlap-table", tmp_path / "gap.csv", "-o", tmp_path / "ch", "--format", "json"
    )
    assert code == 0, err
    assert [p["chart"] for p in json.loads(out)["pictures"]] == ["overlap"]
    assert sorted(p.name for p in (tmp_path / "ch").iterdir()) == ["overlap_types.png"]
    (tmp_path / "bad.csv").write_text("front,back,value\na,b,1\n")
    code, _, err = cli("show", "charts", "--overlap-table", tmp_path / "bad.csv", "-o", tmp_path / "ch2")
    assert code == 3 and "mean_gap" in err and "bad.csv" in err
