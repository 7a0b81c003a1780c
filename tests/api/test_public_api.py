"""The public API is honest: every name of ``rapkit.__all__`` resolves, ``from rapkit import *``
works, and every public function and class carries an example that runs (a doctest, not
skipped; ``--doctest-modules`` runs them)."""

from __future__ import annotations

import doctest
import inspect
import subprocess
import sys

import pytest

import rapkit

NAMES = [n for n in rapkit.__all__ if n != "__version__"]


def test_star_import_resolves_every_name():
    code = "from rapkit import *; import rapkit; names = dir(); print(len([n for n in rapkit.__all__ if n in names]))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == len(rapkit.__all__)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_has_an_example_that_runs(name):
    obj = getattr(rapkit, name)
    doc = inspect.getdoc(obj) or ""
    examples = doctest.DocTestParser().get_examples(doc)
    assert examples, f"rapkit.{name} has no >>> example in its docstring"
    skipped = [e for e in examples if e.options.get(doctest.SKIP)]
    assert len(skipped) < len(examples), f"every example of rapkit.{name} is skipped"


def test_import_loads_neither_numba_nor_torch():
    code = "import sys, rapkit; print('numba' in sys.modules, 'torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["False", "False"], r.stderr
