"""Under ``--format json`` every failure also prints a JSON error object as the last line of
stdout (``{"error": {"code", "kind", "message", "file", "image_id", "segment_id"}}``), with
``code`` equal to the exit code; the human message stays on stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from rapkit.cli import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("jsonerr")
    return make_world(root / "w", SynthConfig(n_images=2, height=48, width=64, seed=2, render_images=False))


def option(command: str, dest: str) -> str:
    import importlib

    cmd = importlib.import_module(f"rapkit.cli.{command}").command
    return next(p.opts[0] for p in cmd.params if p.name == dest)


def fuse_args(world, out, proposals=None):
    return [
        "fuse",
        "--proposals",
        str(proposals or world.proposals),
        option("fuse", "images_path"),
        str(world.instances),
        "--categories",
        str(world.categories),
        "-o",
        str(out),
        "-q",
    ]


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def last_error(stdout: str) -> dict:
    line = stdout.strip().splitlines()[-1]
    obj = json.loads(line)
    assert set(obj) == {"error"}
    assert set(obj["error"]) >= {"code", "message", "file", "image_id", "segment_id"}
    return obj["error"]


def test_bad_input_is_exit_3_with_file(world, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"image_id": ')
    code, out, err = run(capsys, *fuse_args(world, tmp_path / "o", bad), "--format", "json")
    assert code == 3
    e = last_error(out)
    assert e["code"] == 3 and e["kind"] == "input" and e["file"] == str(bad)
    assert f"rapkit: error: {bad}" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bad_input_carries_image_and_segment_ids(world, tmp_path, capsys):
    props = json.loads(world.proposals.read_text())
    props[0]["image_id"] = 987654
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(props))
    code, out, err = run(capsys, *fuse_args(world, tmp_path / "o", bad), "--format=json")
    assert code == 3
    e = last_error(out)
    assert e["image_id"] == 987654 and e["file"] == str(bad) and "987654" in err
    # evaluate: a PNG id missing from the JSON names the image and the segment
    fused = tmp_path / "fused"
    assert run(capsys, *fuse_args(world, fused))[0] == 0
    pj = json.loads((fused / "panoptic.json").read_text())
    ann = next(a for a in pj["annotations"] if a["segments_info"])
    dropped = ann["segments_info"].pop(0)
    (fused / "panoptic.json").write_text(json.dumps(pj))
    code, out, err = run(
        capsys, "evaluate", "--gt", world.panoptic, "--pred", fused / "panoptic.json", "-q", "--format", "json"
    )
    assert code == 3
    e = last_error(out)
    assert e["image_id"] == ann["image_id"] and e["segment_id"] == dropped["id"]
    assert e["message"] and e["message"] in err


def test_usage_and_config_errors_are_exit_2(world, tmp_path, capsys):
    code, out, err = run(capsys, "fuse", "--bogus", "--format", "json")
    assert code == 2 and last_error(out)["kind"] == "usage" and "--bogus" in last_error(out)["message"]
    assert "Usage:" in err
    code, out, err = run(capsys, "fuse", "--format", "json")  # missing required options
    assert code == 2 and last_error(out)["code"] == 2
    code, out, _ = run(capsys, "fuse", "--format", "yaml")  # a bad --format value is not json
    assert code == 2 and out == ""
    existing = tmp_path / "exists"
    existing.mkdir()
    code, out, err = run(capsys, *fuse_args(world, existing), "--format", "json")
    assert code == 2
    e = last_error(out)
    assert e["kind"] == "config" and "--force" in e["message"] and "--force" in err


def test_gate_failure_is_exit_1_after_the_report(world, tmp_path, capsys):
    fused = tmp_path / "fused"
    assert run(capsys, *fuse_args(world, fused))[0] == 0
    code, out, err = run(
        capsys,
        "evaluate",
        "--gt",
        world.panoptic,
        "--pred",
        fused / "panoptic.json",
        "-q",
        "--format",
        "json",
        "--fail-under",
        "PQ=100.1",
    )
    assert code == 1 and "gate" in err
    lines = out.strip().splitlines()
    assert last_error(out) == {**last_error(out), "code": 1, "kind": "gate"}
    assert "error" not in json.loads("\n".join(lines[:-1]))  # the report, then the error object


def test_table_format_prints_no_json(world, tmp_path, capsys):
    code, out, err = run(capsys, *fuse_args(world, tmp_path / "o", tmp_path / "missing.json"))
    assert code == 3 and out == "" and "missing.json" in err


def test_config_file_format_json(world, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[fuse]\nformat = "json"\n')
    code, out, _ = run(capsys, "--config", cfg, *fuse_args(world, tmp_path / "o", tmp_path / "missing.json"))
    assert code == 3 and last_error(out)["code"] == 3


def test_internal_error_is_exit_70(world, tmp_path, capsys, monkeypatch):
    import rapkit.pipeline.fuse as pf

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(pf, "fuse", broken)
    code, out, err = run(capsys, *fuse_args(world, tmp_path / "o"), "--format", "json")
    assert code == 70
    e = last_error(out)
    assert e["kind"] == "internal" and "boom" in e["message"] and "Traceback" not in err


def test_subprocess_exit_codes_and_json(world, tmp_path):
    bad = tmp_path / "bad.json"
    shutil.copy(world.proposals, bad)
    with open(bad, "r+b") as f:
        f.truncate(len(bad.read_bytes()) // 2)
    for args, want in (
        (fuse_args(world, tmp_path / "o", bad), 3),
        (["fuse", "--nope"], 2),
        (["check", "--gt", str(tmp_path / "none.json")], None),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "rapkit", *args, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if want is None:
            want = r.returncode
            assert want in (2, 3)
        assert r.returncode == want, r.stderr
        assert last_error(r.stdout)["code"] == want and "Traceback" not in r.stderr
