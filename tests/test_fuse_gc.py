"""``rapkit.pipeline.fuse.fuse`` and the cyclic garbage collector: the run pauses the
collector while it reads its inputs, then freezes them; afterwards the caller's collector
state is exactly as before (enabled or not, its own frozen objects untouched), also on error."""

from __future__ import annotations

import gc
import json

import pytest

from rapkit.errors import InputError
from rapkit.pipeline.fuse import _InputsGC, fuse
from rapkit.types import FusionParams


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("fusegc")
    return make_world(root / "w", SynthConfig(n_images=2, height=48, width=64, seed=5, render_images=False))


def _fuse(world, out):
    return fuse(world.proposals, world.instances, world.categories, out, FusionParams(), semantic_path=world.semantic)


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_state_restored(world, tmp_path, enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert gc.get_freeze_count() == 0
        summary = _fuse(world, tmp_path / "out")
        assert summary.images == 2
        assert gc.isenabled() == enabled and gc.get_freeze_count() == 0
    finally:
        gc.enable() if was else gc.disable()


def test_callers_freeze_respected(world, tmp_path):
    keep = [[i] for i in range(50)]  # noqa: F841  (objects for the caller's freeze)
    gc.freeze()
    try:
        n = gc.get_freeze_count()
        _fuse(world, tmp_path / "out")
        assert gc.get_freeze_count() == n and gc.isenabled()
    finally:
        gc.unfreeze()


def test_restored_on_error(world, tmp_path):
    bad = tmp_path / "props.json"
    props = json.loads(open(world.proposals).read())
    props[0]["score"] = 2.0
    bad.write_text(json.dumps(props))
    with pytest.raises(InputError):
        fuse(bad, world.instances, world.categories, tmp_path / "out", FusionParams(), semantic_path=world.semantic)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_policy_pauses_then_freezes():
    assert gc.isenabled()
    with _InputsGC() as collector:
        assert not gc.isenabled()
        junk = [{} for _ in range(10)]  # noqa: F841
        collector.inputs_read()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
