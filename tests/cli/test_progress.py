"""Every progress display gets its total: off a terminal (the plain-text ticker) each step
ends at done == total, for fuse, check, extract-relations and show as for evaluate."""

from __future__ import annotations

import pytest


@pytest.fixture
def seen(monkeypatch):
    from rapkit.cli import _common

    record: list[list[list]] = []
    exit_ = _common._Ticker.__exit__

    def spy(self, *exc):
        record.append([list(t) for t in self.tasks])
        return exit_(self, *exc)

    monkeypatch.setattr(_common._Ticker, "__exit__", spy)
    return record


def test_bars_end_at_their_totals(small_world, cli, seen, monkeypatch, tmp_path):
    w = small_world
    monkeypatch.delenv("RAPKIT_PROGRESS")  # the fixture turns it off; unset: plain lines (stderr is no terminal)
    code, _, err = cli(
        "fuse",
        "--proposals",
        w.proposals,
        "--image-info",
        w.panoptic,
        "--categories",
        w.categories,
        "--semantic",
        w.semantic,
        "-o",
        tmp_path / "fused",
    )
    assert code == 0, err
    assert seen[-1] == [["fuse", 4, 4]]
    code, _, err = cli("check", "--gt", w.panoptic, "--pred", tmp_path / "fused" / "panoptic.json")
    assert code == 0, err
    assert seen[-1] == [["check prediction", 4, 4]]  # one display: the GT step (4/4), then the prediction
    code, _, err = cli(
        "extract-relations", "--instances", w.instances, "--panoptic", w.panoptic, "-o", tmp_path / "rel.json"
    )
    assert code == 0, err
    assert seen[-1] == [["extract-relations", 4, 4]]
    code, _, err = cli(
        "show", "overlay", "--panoptic", tmp_path / "fused" / "panoptic.json", "--first", "2", "-o", tmp_path / "pics"
    )
    assert code == 0, err
    assert seen[-1] == [["show overlay", 2, 2]]
