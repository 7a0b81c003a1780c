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


def test_cli_process_exit_codes_and_outputs_with_frozen_shutdown(world, tmp_path):
    """``python -m rapkit`` freezes the heap before exiting: outputs and exit codes unchanged."""
    import subprocess
    import sys

    from rapkit.io.panoptic import read_id_map

    def run(out, proposals):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "rapkit",
                "fuse",
                "--proposals",
                str(proposals),
                "--image-info",
                str(world.instances),
                "--categories",
                str(world.categories),
                "--semantic",
                str(world.semantic),
                "-o",
                str(out),
                "-q",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
        )

    r = run(tmp_path / "a", world.proposals)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["images"] == 2
    fuse(
        world.proposals, world.instances, world.categories, tmp_path / "b", FusionParams(), semantic_path=world.semantic
    )
    assert (tmp_path / "a" / "panoptic.json").read_bytes() == (tmp_path / "b" / "panoptic.json").read_bytes()
    for png in sorted((tmp_path / "b" / "panoptic").glob("*.png")):
        assert png.read_bytes() == (tmp_path / "a" / "panoptic" / png.name).read_bytes()
        read_id_map(png)
    bad = tmp_path / "bad.json"
    props = json.loads(open(world.proposals).read())
    props[0]["score"] = 2.0
    bad.write_text(json.dumps(props))
    r = run(tmp_path / "c", bad)
    assert r.returncode == 3 and "score must be a number" in r.stderr and not (tmp_path / "c").exists()


def test_in_process_main_does_not_freeze(world, tmp_path, capsys):
    from rapkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(
            [
                "fuse",
                "--proposals",
                str(world.proposals),
                "--image-info",
                str(world.instances),
                "--categories",
                str(world.categories),
                "-o",
                str(tmp_path / "o"),
                "-q",
                "--format",
                "json",
            ]
        )
    assert e.value.code == 0 and gc.get_freeze_count() == 0
