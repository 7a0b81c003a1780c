"""The authors' relation formats: their pickle (restricted unpickler) and the ``overlap``
lists of an instances JSON; round trips through rapkit's relations JSON; recognition by
content; ``evaluate``, ``show relations`` and training's reader take any of the three."""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import re

import pytest

from rapkit.errors import InputError
from rapkit.io.relations import (
    authors_pickle_document,
    parse_authors_pickle,
    rap_instances_document,
    read_authors_pickle,
    read_relations,
    write_authors_pickle,
    write_relations,
)
from rapkit.pipeline.relations import extract_dataset_relations, totals_of
from rapkit.synth import SynthConfig, make_world

CFG = SynthConfig(n_images=6, height=96, width=128, seed=11, render_images=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("fmt") / "w", CFG)


@pytest.fixture(scope="module")
def run(world):
    return extract_dataset_relations(world.instances, world.panoptic, rule="deficit", matching="bbox")


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args) -> (exit code, stdout, stderr)`` through :func:`rapkit.cli.main`."""
    from rapkit.cli import main

    monkeypatch.setenv("RAPKIT_PROGRESS", "0")

    def run(*args):
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in args])
        out = capsys.readouterr()
        return e.value.code, out.out, out.err

    return run


def pair_sets(rf_images):
    return {iid: sorted((r.front, r.back) for r in im.relations) for iid, im in rf_images.items()}


def test_round_trip_json_pickle_json(world, run, tmp_path):
    """rapkit JSON -> the authors' pickle -> rapkit JSON: the same relations."""
    a = tmp_path / "a.json"
    write_relations(a, run.images, theta=0.2, rule="deficit", matching="bbox", totals=run.totals)
    first = read_relations(a)
    pkl = tmp_path / "r.pkl"
    write_authors_pickle(pkl, first.images.values())
    via = read_relations(pkl)
    assert via.source == "authors-pickle" and via.rule == "unknown" and via.theta != via.theta
    b = tmp_path / "b.json"
    write_relations(b, via.images.values(), theta=0.2, rule="deficit", totals=totals_of(list(via.images.values())))
    back = read_relations(b)
    want = {iid: v for iid, v in pair_sets(first.images).items() if v}
    assert {iid: v for iid, v in pair_sets(back.images).items() if v} == want
    assert sum(map(len, want.values())) == run.totals["relations"] > 0
    # the pickle is what the authors' script writes: plain dicts, lists and ints, back -> fronts
    with open(pkl, "rb") as f:
        doc = pickle.load(f)  # a file we just wrote
    assert doc == authors_pickle_document(run.images)
    assert all(type(k) is int and type(v) is dict for k, v in doc.items())
    for im in run.images:
        for r in im.relations:
            assert r.front in doc[im.image_id][r.back]


def test_round_trip_json_rap_instances_json(world, run, tmp_path):
    """rapkit JSON -> instances JSON with overlap -> rapkit JSON: the same relations."""
    raw = json.loads(world.instances.read_text())
    rap = tmp_path / "rap.json"
    rap.write_text(json.dumps(rap_instances_document(raw, run.images)))
    via = read_relations(rap)
    assert via.source == "rap-instances" and set(via.images) == {im["id"] for im in raw["images"]}
    c = tmp_path / "c.json"
    write_relations(c, via.images.values(), theta=0.2, rule="deficit", totals=totals_of(list(via.images.values())))
    assert pair_sets(read_relations(c).images) == pair_sets({im.image_id: im for im in run.images})


def test_extract_relations_writes_the_pickle(world, tmp_path, cli):
    out, pkl = tmp_path / "r.json", tmp_path / "r.pkl"
    code, stdout, err = cli(
        "extract-relations", "--instances", world.instances, "--panoptic", world.panoptic,
        "--rule", "deficit", "--matching", "bbox", "-o", out, "--authors-pickle", pkl,
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote {pkl}" in stdout
    assert pair_sets(read_authors_pickle(pkl).images) == {
        iid: v for iid, v in pair_sets(read_relations(out).images).items() if iid in read_authors_pickle(pkl).images
    }
    code, _, err = cli(
        "extract-relations", "--instances", world.instances, "--panoptic", world.panoptic, "-o", out,
        "--authors-pickle", pkl,
    )  # fmt: skip
    assert code == 2 and "--force" in err
    code, _, err = cli(
        "extract-relations", "--instances", world.instances, "--panoptic", world.panoptic, "-o", out,
        "--authors-pickle", out, "--force",
    )  # fmt: skip
    assert code == 2 and "--authors-pickle must differ" in err


# --------------------------------------------------------------------------- the restricted unpickler


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({1: {2: [_Boom()]}}))
    assert any(op.name in ("STACK_GLOBAL", "GLOBAL") for op, _, _ in pickletools.genops(evil.read_bytes()))
    with pytest.raises(InputError, match=r"refused: the pickle names posix\.system"):
        read_relations(evil)
    assert not (tmp_path / "pwned").exists()
    # protocol 0 (text) names its globals too
    with pytest.raises(InputError, match="refused"):
        parse_authors_pickle(pickle.dumps({1: {2: [_Boom()]}}, protocol=0))


@pytest.mark.parametrize(
    "obj, why",
    [
        ([1, 2], "must hold a dict"),
        ({1: [2]}, "expected {occluded: [occluders]}"),
        ({1: {2: [3.5]}}, "a list of annotation ids"),
        ({1: {2: [True]}}, "a list of annotation ids"),
        ({1: {2: {3}}}, "a list of annotation ids"),
        ({1.5: {}}, "image id 1.5 is not an integer"),
        ({1: {b"2": [3]}}, "a list of annotation ids"),
    ],
)
def test_a_pickle_of_other_values_is_an_error(obj, why, tmp_path):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps(obj))
    with pytest.raises(InputError, match=re.escape(why)):
        read_relations(p)


def test_ids_as_strings_and_tuples_are_read():
    rf = parse_authors_pickle(pickle.dumps({"7": {"2": ("1", 3)}}))
    assert rf.pairs() == [(7, 1, 2), (7, 3, 2)]


# --------------------------------------------------------------------------- by content


def test_formats_are_recognised_by_content_not_extension(world, run, tmp_path):
    pkl_named_json = tmp_path / "relations.json"
    write_authors_pickle(pkl_named_json, run.images)
    assert read_relations(pkl_named_json).source == "authors-pickle"
    json_named_pkl = tmp_path / "relations.pkl"
    write_relations(json_named_pkl, run.images, theta=0.2, rule="deficit", totals=run.totals)
    assert read_relations(json_named_pkl).source == "relations"
    with pytest.raises(InputError, match=r"panoptic\.json.*not a relations file: a COCO panoptic JSON"):
        read_relations(world.panoptic)  # a JSON of another kind
    with pytest.raises(InputError, match="instances JSON without 'overlap'"):
        read_relations(world.instances)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n....")
    with pytest.raises(InputError, match=r"junk\.bin.*not a relations file"):
        read_relations(junk)


def test_rap_instances_errors(tmp_path):
    p = tmp_path / "rap.json"
    doc = {"images": [{"id": 1}, {"id": 2}], "annotations": [
        {"id": 5, "image_id": 1, "overlap": [6]}, {"id": 6, "image_id": 2, "overlap": []}]}  # fmt: skip
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="annotation 5: 'overlap' names 6, not an annotation of this image"):
        read_relations(p)
    doc["annotations"][0]["overlap"] = "6"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="'overlap' must be a list"):
        read_relations(p)


# --------------------------------------------------------------------------- the commands


def three_files(world, run, tmp_path):
    """The same relations as rapkit's JSON, the authors' pickle and an instances JSON with overlap."""
    rel = tmp_path / "r.json"
    write_relations(rel, run.images, theta=0.2, rule="deficit", totals=run.totals)
    pkl = tmp_path / "r.pkl"
    write_authors_pickle(pkl, run.images)
    rap = tmp_path / "rap.json"
    rap.write_text(json.dumps(rap_instances_document(json.loads(world.instances.read_text()), run.images)))
    return rel, pkl, rap


def test_evaluate_and_show_take_every_format(world, run, tmp_path, cli):
    """evaluate --relations gives the same accuracies from the three formats; show relations
    draws the same pictures."""
    results, pictures = [], []
    for k, path in enumerate(three_files(world, run, tmp_path)):
        code, out, err = cli(
            "evaluate", "--relations", path, "--proposals", world.proposals, "--instances", world.instances,
            "--format", "json", "-q",
        )  # fmt: skip
        assert code == 0, err
        results.append(json.loads(out)["relation_accuracy"])
        pics = tmp_path / f"pics{k}"
        code, out, err = cli("show", "relations", "--relations", path, "--instances", world.instances, "-o", pics, "-q")
        assert code == 0, err
        pictures.append(sorted(p.name for p in pics.iterdir()))
    assert results[0] == results[1] == results[2] and results[0]["gt_pairs"] == run.totals["relations"]
    assert pictures[0] == pictures[1] == pictures[2] and pictures[0]


def test_training_reads_every_format(world, run, tmp_path):
    """``rapkit train --relations``'s reader gets the same pairs from the three formats."""
    pytest.importorskip("torch")
    from rapkit.model.data import read_relation_pairs

    got = [{i: sorted(v) for i, v in read_relation_pairs(p).items() if v} for p in three_files(world, run, tmp_path)]
    assert got[0] == got[1] == got[2] and sum(map(len, got[0].values())) == run.totals["relations"]
