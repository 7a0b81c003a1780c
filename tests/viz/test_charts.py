"""rapkit.viz.charts: table units, the relation-gap matrix, and the error without matplotlib."""

from __future__ import annotations

import sys

import pytest

from rapkit.errors import ConfigError
from rapkit.viz.charts import PLOT_HINT, gap_matrix, sweep_figure, table_unit


def test_table_unit_detection():
    pd = pytest.importorskip("pandas")
    assert table_unit(pd.DataFrame({"PQ": [0.41, 0.5], "dPQ": [0.0, 0.02]})) == "fraction"
    assert table_unit(pd.DataFrame({"PQ": [41.0, 50.0], "dPQ": [0.0, 0.5]})) == "percent"
    assert table_unit(pd.DataFrame({"PQ": [0.4]}), "percent") == "percent"


def test_gap_matrix_reads_the_by_category_table_of_evaluate():
    """The columns `rapkit evaluate --by-category -o` writes: the heatmap shows mean_gap,
    never an id column, and the gap is not labelled as a percentage."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "front": ["dog", "cup"],
            "back": ["table", "table"],
            "front_id": [18, 47],
            "back_id": [67, 67],
            "mean_gap": [2.5, -0.5],
            "accuracy": [100.0, 40.0],
            "pairs": [4, 5],
        }
    )
    mat, name = gap_matrix(df)
    assert name == "mean_gap"
    assert mat.loc["dog", "table"] == 2.5 and mat.loc["cup", "table"] == -0.5


def test_a_chart_without_matplotlib_is_a_config_error_naming_the_extra(monkeypatch):
    pd = pytest.importorskip("pandas")
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    df = pd.DataFrame(
        {"strategy": ["rap", "rap"], "rho": [0.5, 0.6], "tau": [0.5, 0.5], "gamma": [0.5, 0.5], "PQ": [40.0, 41.0]}
    )
    with pytest.raises(ConfigError) as e:
        sweep_figure(df)
    assert PLOT_HINT in str(e.value)
