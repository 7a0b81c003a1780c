"""``rapkit evaluate --relations`` on a world where one image has no proposal at all: the
``--protocol authors`` crash of issue 21 (``IndexError`` in ``authors_events``), made small.
tests/core/test_relation_acc_nothing_kept.py covers every image where fusion keeps nothing."""

from __future__ import annotations

import json

import pytest

from rapkit.core.relation_acc import PROTOCOLS


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_evaluate_an_image_without_proposals(tmp_path, small_world, cli, protocol):
    """The crash of issue 21, small: one image of the world has no proposal at all."""
    props_file = json.loads(small_world.proposals.read_text())
    first = min(d["image_id"] for d in props_file)
    path = tmp_path / "proposals.json"
    path.write_text(json.dumps([d for d in props_file if d["image_id"] != first]))
    rel = tmp_path / "relations.json"
    code, _, err = cli(
        "extract-relations", "--instances", small_world.instances, "--panoptic", small_world.panoptic, "-o", rel
    )
    assert code == 0, err
    args = ["evaluate", "--relations", rel, "--proposals", path, "--instances", small_world.instances]
    code, out, err = cli(*args, "--protocol", protocol, "--format", "json")
    assert code == 0, err
    acc = json.loads(out)["relation_accuracy"]
    assert acc["images"] == 4 and acc["proposals"] == len(props_file) - sum(
        1 for d in props_file if d["image_id"] == first
    )
