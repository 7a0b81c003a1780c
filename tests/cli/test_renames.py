"""Old spellings of rapkit 0.1.0 exit 2 and name the new option (one renames table in
``rapkit.cli._common``), on the command line and in a ``--config`` file."""

from __future__ import annotations

import pytest

CASES = [
    (
        ["fuse", "--proposals", "p.json", "--images", "world/instances.json", "--categories", "c.json", "-o", "f"],
        "--image-info",
    ),
    (["fuse", "--images=world/panoptic.json"], "--image-info"),
    (
        ["fuse", "--proposals", "p.json", "--image-info", "i.json", "--categories", "c.json", "--out", "fused"],
        "-o/--output",
    ),
    (["synth", "world/", "-n", "3"], "-o/--output world/"),
    (["synth", "-o", "world", "--images", "200"], "-n/--num-images"),
    (["demo", "demo-out/"], "-o/--output demo-out/"),
    (["demo", "--images", "20"], "-n/--num-images"),
    (["train", "--checkpoint", "maskrcnn.pth"], "--detector"),
    (["train", "--checkpoint-file", "state.ckpt"], "--resume-from"),
    (["train", "--checkpoint-every", "100"], "--save-every"),
    (["predict", "--checkpoint", "maskrcnn.pth"], "--detector"),
]


@pytest.mark.parametrize("args,new", CASES, ids=[" ".join(a[:3]) for a, _ in CASES])
def test_old_spelling_exits_2_naming_the_new_option(cli, tmp_path, monkeypatch, args, new):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*args)
    assert code == 2, err
    assert f"use {new}" in err
    assert "0.2.0" in err  # "renamed in 0.2.0" / "no longer positional since 0.2.0"
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_old_spelling_in_a_config_names_the_new_key(cli, tmp_path):
    cfg = tmp_path / "rapkit.toml"
    cfg.write_text('[train]\ncheckpoint = "maskrcnn.pth"\n')
    code, _, err = cli("--config", cfg, "train", "--help")
    assert code == 2
    assert "'checkpoint'" in err and "--detector" in err and "renamed in 0.2.0" in err
