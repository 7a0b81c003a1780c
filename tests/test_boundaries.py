"""Import boundaries of the house (docs/architecture.md): numpy-only paths load neither torch nor numba."""

import subprocess
import sys

import pytest

PROBE = """
import sys, runpy
sys.argv = {argv!r}
try:
    {stmt}
except SystemExit:
    pass
bad = [m for m in ({mods!r}) if m in sys.modules]
print("LOADED:" + ",".join(bad))
"""


def _loaded(stmt: str, argv: list[str], mods: tuple[str, ...]) -> list[str]:
    code = PROBE.format(stmt=stmt, argv=argv, mods=mods)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED:")]
    assert line, out.stdout + out.stderr
    return [m for m in line[-1][len("LOADED:") :].split(",") if m]


def test_import_rapkit_loads_neither_torch_nor_numba():
    assert _loaded("import rapkit", ["x"], ("torch", "numba")) == []


@pytest.mark.parametrize("argv", [["rapkit", "--help"], ["rapkit", "fuse", "--help"], ["rapkit", "evaluate", "--help"]])
def test_cli_help_loads_neither_torch_nor_numba(argv):
    stmt = "from rapkit.cli import main; main()"
    assert _loaded(stmt, argv, ("torch", "numba")) == []


def test_core_loads_no_torch():
    stmt = "import rapkit.core, rapkit.core.relations, rapkit.core.fusion, rapkit.core.pq"
    assert _loaded(stmt, ["x"], ("torch",)) == []


def test_core_draws_nothing():
    """core/ is computation only: importing every core module loads no drawing library."""
    stmt = (
        "import importlib, pkgutil, rapkit.core as c\n"
        "    for m in pkgutil.iter_modules(c.__path__):\n"
        "        importlib.import_module('rapkit.core.' + m.name)"
    )
    assert _loaded(stmt, ["x"], ("matplotlib", "PIL", "torch")) == []


def test_viz_and_show_load_matplotlib_only_for_a_chart():
    """matplotlib (the extra `plot`) is imported when a chart is made, not with rapkit.viz."""
    stmt = "import rapkit.viz.charts, rapkit.viz.pictures, rapkit.pipeline.show"
    assert _loaded(stmt, ["x"], ("matplotlib", "torch", "numba")) == []
