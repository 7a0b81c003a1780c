"""One unit: PQ, SQ, RQ and accuracies are percentages in the table, CSV and JSON of
``evaluate``, ``--sweep`` and ``--ablation`` alike, and in the files of ``-o/--output``
(CSV, JSON, Parquet); the library keeps fractions."""

from __future__ import annotations

import csv
import io
import json

import pytest

METRICS = ["PQ", "SQ", "RQ", "PQ_th", "PQ_st"]


def _csv_rows(text: str, table: str | None = None) -> list[dict]:
    """Rows of a CSV; of one table of a multi-table CSV (a header row per table, first cell 'table')."""
    lines = list(csv.reader(io.StringIO(text)))
    if not lines or lines[0][0] != "table":
        return [dict(zip(lines[0], r)) for r in lines[1:]]
    out, header = [], None
    for r in lines:
        if r[0] == "table":
            header = r
        elif r[0] == table:
            out.append(dict(zip(header, r)))
    return out


@pytest.fixture(scope="module")
def fused(small_world, tmp_path_factory):
    from rapkit.pipeline.fuse import fuse
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.types import FusionParams

    root = tmp_path_factory.mktemp("units")
    fuse(
        small_world.proposals,
        small_world.panoptic,
        small_world.categories,
        root / "fused",
        FusionParams(),
        semantic=small_world.semantic,
    )
    extract_dataset_relations(small_world.instances, small_world.panoptic, output=root / "relations.json")
    return root


def test_evaluate_table_csv_json_agree_in_percent(cli, small_world, fused):
    from rapkit.pipeline.evaluate import evaluate_pq

    w = small_world
    args = [
        "evaluate",
        "--gt",
        w.panoptic,
        "--pred",
        fused / "fused" / "panoptic.json",
        "--relations",
        fused / "relations.json",
        "--proposals",
        w.proposals,
        "--instances",
        w.instances,
    ]
    outs = {}
    for fmt in ("json", "csv", "table"):
        code, out, err = cli(*args, "--format", fmt, "-q")
        assert code == 0, err
        outs[fmt] = out
    d = json.loads(outs["json"])
    assert d["unit"] == "percent"
    lib = evaluate_pq(w.panoptic, fused / "fused" / "panoptic.json").result  # fractions
    assert d["All"]["pq"] == 100 * lib.all.pq and 1 < d["All"]["pq"] <= 100
    rows = {r[""]: r for r in _csv_rows(outs["csv"], "pq")}
    for split in ("All", "Things", "Stuff"):
        for m in ("pq", "sq", "rq"):
            assert float(rows[split][m.upper()]) == d[split][m]
        line = next(ln for ln in outs["table"].splitlines() if ln.strip("│ ").startswith(split))
        assert f"{d[split]['pq']:.1f}" in line
    acc = (
        d["relation_accuracy"]["relation_accuracy"]
        if "relation_accuracy" in d["relation_accuracy"]
        else d["relation_accuracy"]
    )
    rel = _csv_rows(outs["csv"], "relation_accuracy")
    assert float(rel[1]["relation acc"]) == pytest.approx(acc["pair_accuracy"], abs=1e-9)
    assert 1 < acc["pair_accuracy"] <= 100
    assert f"{acc['pair_accuracy']:.1f}" in outs["table"]


@pytest.mark.parametrize(
    "mode", [["--sweep", "rho", "tau", "--rho", "0.5,0.7", "--tau", "0.6"], ["--ablation"]], ids=["sweep", "ablation"]
)
def test_sweep_and_ablation_outputs_agree_in_percent(cli, small_world, fused, mode):
    w = small_world
    kind = mode[0].lstrip("-")
    args = ["evaluate", *mode, "--gt", w.panoptic, "--proposals", w.proposals, "--semantic", w.semantic, "-q"]
    files = {ext: fused / f"{kind}.{ext}" for ext in ("csv", "json", "md")}
    outs = {}
    for fmt, ext in (("json", "csv"), ("csv", "json"), ("table", "md")):
        code, out, err = cli(*args, "--format", fmt, "-o", files[ext])
        assert code == 0, err
        outs[fmt] = out
    d = json.loads(outs["json"])
    assert d["unit"] == "percent"
    want = {r["row"]: r for r in d["rows"]}
    assert all(0 < r["PQ"] <= 100 for r in want.values())
    file_csv = {r["row"]: r for r in _csv_rows(files["csv"].read_text())}
    stdout_csv = {r["row"]: r for r in _csv_rows(outs["csv"], kind)}
    file_json = json.loads(files["json"].read_text())
    assert file_json["unit"] == "percent"
    file_json = {r["row"]: r for r in file_json["rows"]}
    md = files["md"].read_text()
    # the heuristic rows (the baseline; the ablation's first row) show no gamma: they do not use it
    heuristic = [label for label, r in want.items() if r["strategy"] == "heuristic"]
    assert heuristic and all(want[h]["gamma"] is None and file_csv[h]["gamma"] == "" for h in heuristic)
    assert all(r["gamma"] is not None for r in want.values() if r["strategy"] == "rap")
    for label, r in want.items():
        for m in METRICS:
            assert float(file_csv[label][m]) == pytest.approx(r[m], rel=1e-12), (label, m)
            assert file_json[label][m] == pytest.approx(r[m], rel=1e-12), (label, m)
            assert float(stdout_csv[label][m]) == pytest.approx(r[m], rel=1e-12), (label, m)
        line = next(ln for ln in outs["table"].splitlines() if f" {label} " in ln)
        assert f"{r['PQ']:.2f}" in line and f"{r['PQ_th']:.2f}" in line, (label, line)
        assert f"{r['PQ']:.6g}" in md
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    import pandas as pd

    pq_file = fused / f"{kind}.parquet"
    assert cli(*args, "--format", "json", "-o", pq_file)[0] == 0
    df = pd.read_parquet(pq_file)
    for _, row in df.iterrows():
        assert row["PQ"] == pytest.approx(want[row["row"]]["PQ"], rel=1e-12)


def test_library_keeps_fractions(small_world):
    from rapkit.core.sweep import make_grid
    from rapkit.pipeline.sweep import run_sweep

    res = run_sweep(
        small_world.panoptic,
        small_world.proposals,
        make_grid(["rho"], rho=[0.5]),
        semantic=small_world.semantic,
        swept=["rho"],
    )
    assert 0 < res.table["PQ"].max() <= 1
