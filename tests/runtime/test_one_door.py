"""rapkit._runtime is the one door to the process: nothing else in the package touches numba's
internals or process-wide state, imports numba, or reads a RAPKIT_* environment variable;
every setting is in one table, and docs/architecture.md lists the same table."""

from __future__ import annotations

import re
from pathlib import Path

import rapkit
from rapkit._runtime.settings import SETTINGS

PKG = Path(rapkit.__file__).resolve().parent
DOCS = PKG.parent / "docs" / "architecture.md"

#: what only rapkit/_runtime/ may do
PROCESS_STATE = re.compile(
    r"numba\.core|numba\.cpython|mallopt|gc\.(freeze|unfreeze|disable|enable|set_threshold|collect)\b|"
    r"os\.fork|multiprocessing|ProcessPoolExecutor|sys\.meta_path|^\s*(import numba|from numba)",
    re.M,
)
ENV_READ = re.compile(r"""os\.(environ|getenv)[^\n]*["']RAPKIT_""")


def _modules():
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG).as_posix()
        if not rel.startswith("_runtime/"):
            yield rel, p.read_text(encoding="utf-8")


def test_process_state_only_in_the_runtime():
    bad = [
        f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0).strip()}"
        for rel, text in _modules()
        for m in PROCESS_STATE.finditer(text)
    ]
    assert not bad, "process state or numba outside rapkit/_runtime/:\n" + "\n".join(bad)


def test_settings_are_read_only_through_the_table():
    bad = [rel for rel, text in _modules() if ENV_READ.search(text)]
    assert not bad, f"RAPKIT_* read from the environment outside rapkit/_runtime/settings.py: {bad}"
    used = {m for _, text in _modules() for m in re.findall(r"RAPKIT_[A-Z_]+", text)}
    assert used <= set(SETTINGS), f"settings not in the table: {sorted(used - set(SETTINGS))}"


def test_docs_list_every_setting():
    text = DOCS.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(RAPKIT_[A-Z_]+)` \|", text, re.M))
    assert rows == set(SETTINGS), (sorted(set(SETTINGS) - rows), sorted(rows - set(SETTINGS)))
