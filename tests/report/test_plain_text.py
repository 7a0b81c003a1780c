"""report/render.py writes plain tables without rich, byte for byte as rich lays them out:
random reports (cells, headers, titles, highlighted rows, notes; plain and not) render the
same through both, and what the plain writer declines goes to rich."""

from __future__ import annotations

import random

import pytest

from rapkit.report.render import Report, Table, _plain_text, _rich_text, to_text

WORDS = ["", "All", "Things", "Stuff", "PQ", "SQ", "RQ", "N", "person", "traffic light", "a-b_c", "x" * 30,
         "dPQ", "PQ_th", "image_id", "Panoptic quality (2 images)", "[bold]", "a:b", ":smile:", "ΔPQ", " pad",
         "tab\there", "line\nbreak", "wide字", "dropped: score < rho", "a:b:c", "12:30:00", ":+1:", "x: :y",
         ":thumbs_up:"]  # fmt: skip


def _value(rng: random.Random):
    r = rng.random()
    if r < 0.35:
        return rng.choice([0.0, 84.04, 100.0, 7.25, -3.5, 1e6 / 3, float("nan")])
    if r < 0.55:
        return rng.randrange(-5, 100000)
    if r < 0.6:
        return rng.choice([None, True, False])
    return rng.choice(WORDS[1:13] + ["dropped: score < rho"] if rng.random() < 0.85 else WORDS)


def _report(rng: random.Random) -> Report:
    tables = []
    for t in range(rng.randrange(0, 3)):
        n = rng.randrange(1, 7)
        cols = [rng.choice(WORDS[:13] if rng.random() < 0.9 else WORDS) for _ in range(n)]
        rows = [[_value(rng) for _ in range(n)] for _ in range(rng.randrange(0, 6))]
        title = rng.choice([None, "Panoptic quality (1 images)", "PQ", "Per class", rng.choice(WORDS)])
        hl = sorted(rng.sample(range(len(rows)), k=min(len(rows), rng.randrange(0, 2))))
        tables.append(Table(f"t{t}", cols, rows, title=title, highlight_rows=hl, decimals=rng.choice([1, 2, 3])))
    notes = [rng.choice(["warning: 3 images ignored", "1 predicted image(s) not in the GT were ignored", "x" * 250,
                         "plain note", "a [b] c", "under 200", "note: with a colon", "see :smile: here"])
             for _ in range(rng.randrange(0, 3))]  # fmt: skip
    return Report("r", {}, tables, notes)


@pytest.mark.parametrize("seed", range(6))
def test_plain_writer_equals_rich(seed):
    rng = random.Random(seed)
    handled = 0
    for _ in range(60):
        r = _report(rng)
        width = rng.choice([200, 200, 40])
        plain = _plain_text(r, width)
        rich = _rich_text(r, width)
        assert to_text(r, width) == rich
        if plain is not None:
            handled += 1
            assert plain == rich, (r, plain, rich)
    assert handled >= 10  # the common reports take the plain writer


def test_pq_report_needs_no_rich():
    cols = ["", "PQ", "SQ", "RQ", "N"]
    rows = [["All", 84.0, 93.1, 90.4, 7], ["Things", 73.3, 94.8, 77.5, 3], ["Stuff", 91.9, 91.9, 100.0, 4]]
    r = Report("pq", {}, [Table("pq", cols, rows, title="Panoptic quality (1 images)")])
    assert _plain_text(r, 200) == _rich_text(r, 200)
    assert _plain_text(Report("x", {}, [Table("t", ["a"], [["[red]x"]])]), 200) is None  # markup: rich
