"""Sweep rows equal ``rapkit fuse`` + ``rapkit evaluate`` for the same parameters, exactly."""

import pytest

from rapkit.core.sweep import ablation_grid, make_grid
from rapkit.errors import ConfigError
from rapkit.pipeline.evaluate import evaluate_pq
from rapkit.pipeline.fuse import fuse
from rapkit.pipeline.sweep import run_sweep, write_table
from rapkit.report import render
from rapkit.report.sweep import sweep_report
from rapkit.synth import SynthConfig, make_world
from rapkit.types import FusionParams


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweepworld")
    cfg = SynthConfig(n_images=6, height=120, width=160, seed=5, render_images=False, p_dup_same=0.3, p_dup_other=0.2)
    return make_world(root / "w", cfg), root


def _fuse_eval(world, root, p, name):
    paths = world
    out = root / name
    fuse(paths.proposals, paths.panoptic, paths.categories, out, p, semantic=paths.semantic, force=True)
    ev = evaluate_pq(paths.panoptic, out / "panoptic.json")
    return ev.result


def test_sweep_rows_equal_fuse_plus_evaluate(world):
    paths, root = world
    grid = make_grid(["rho", "tau", "gamma"], rho=[0.5, 0.6], tau=[0.5, 0.6], gamma=[0.5, 0.7])
    res = run_sweep(
        paths.panoptic, paths.proposals, grid, semantic=paths.semantic, swept=["rho", "tau", "gamma"], workers=2
    )
    assert len(res.results) == 1 + 8 and res.labels[0] == "baseline"
    base = _fuse_eval(paths, root, FusionParams.heuristic(), "base")
    assert res.results[0] == base
    for k, p in enumerate(res.grid[1:], start=1):
        assert res.results[k] == _fuse_eval(paths, root, p, f"g{k}"), p
    df = res.table
    assert list(df["row"])[0] == "baseline" and df["dPQ"].iloc[0] == 0.0
    assert df.loc[1, "PQ"] == res.results[1].all.pq


def test_ablation_rows_equal_fuse_with_switches(world):
    paths, root = world
    rows = ablation_grid(FusionParams(rho=0.6, tau=0.6, gamma=0.5))
    res = run_sweep(paths.panoptic, paths.proposals, rows, semantic=paths.semantic, include_baseline=True)
    assert res.labels == ["baseline", "heuristic", "RA", "RA+CA", "RA+CA+EO"]
    for k, (_, p) in enumerate(rows, start=1):
        assert res.results[k] == _fuse_eval(paths, root, p, f"a{k}")
    rep = sweep_report(res, kind="ablation")
    assert "RA+CA+EO" in render(rep, "table")


def test_write_table_formats(world, tmp_path):
    paths, _ = world
    res = run_sweep(
        paths.panoptic, paths.proposals, make_grid(["rho"], rho=[0.5, 0.7]), semantic=paths.semantic, swept=["rho"]
    )
    for ext in ("csv", "json", "md"):
        out = write_table(res, tmp_path / f"rows.{ext}")
        assert out.read_text().strip()
    with pytest.raises(ConfigError, match="rows.csv: output exists; pass --force to replace it") as e:
        write_table(res, tmp_path / "rows.csv")
    assert e.value.exit_code == 2
    with pytest.raises(ConfigError, match="unknown table format '.xlsx'"):
        write_table(res, tmp_path / "rows.xlsx")
