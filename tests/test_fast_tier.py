"""The fast tier, ``python -m pytest -m "not slow"`` (the edit loop), exercises every module
of rapkit/: a fast test runs code of each (what counts: tests/conftest.py, "the fast tier
touches every module"). This test runs last, and only in a run that is the whole fast tier;
elsewhere it skips saying why."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

#: fewer modules than this means the walk looked in the wrong place (rapkit/ has 92 today)
MIN_MODULES = 80


def test_the_fast_tier_exercises_every_module(fast_tier_record):
    rec = fast_tier_record
    if not rec.active:
        pytest.skip(f'checked only in a whole run of python -m pytest -m "not slow" ({rec.why_not})')
    for extra in ("torch", "torchvision", "matplotlib", "torchmetrics"):  # without them, their tests skip: no whole run
        pytest.importorskip(extra, reason=f"{extra} is missing: install the test and train extras")
    assert rec.started and rec.stopped, "the tracer did not run"
    assert rec.replaced is None, f"another trace function replaced the check's: {rec.replaced!r}"
    assert len(rec.modules) >= MIN_MODULES, sorted(rec.modules)
    # the rapkit the tests ran is the one walked (not an installed copy elsewhere)
    ran = Path(os.path.realpath(sys.modules["rapkit"].__file__))
    assert ran == rec.modules["rapkit"], (ran, rec.modules["rapkit"])
    done = rec.exercised()
    missing = sorted(set(rec.modules) - done)
    rec.verdict = (
        f"{len(rec.modules) - len(missing)} of the {len(rec.modules)} modules of rapkit/ exercised "
        f"(tracing stopped in {rec.stopped_in})"
    )
    assert not missing, (
        f"{len(missing)} of {len(rec.modules)} modules of rapkit/ are exercised by no fast test "
        f"(give each a test that is not marked slow): {', '.join(missing)}"
    )
