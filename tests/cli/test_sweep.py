"""``rapkit evaluate --sweep rho tau gamma`` / ``--ablation`` on the command line."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import click
import pytest
from click.testing import CliRunner

from rapkit.cli import cli
from rapkit.synth import SynthConfig, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cliSweep")
    return make_world(root / "w", SynthConfig(n_images=5, height=100, width=140, seed=2, render_images=False))


def _run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_sweep_verbatim_uses_default_grid(world, tmp_path):
    out = tmp_path / "rows.csv"
    args = [
        "evaluate",
        "--sweep",
        "rho",
        "tau",
        "gamma",
        "--gt",
        str(world.panoptic),
        "--proposals",
        str(world.proposals),
        "--semantic",
        str(world.semantic),
        "--format",
        "json",
        "--quiet",
        "--output",
        str(out),
    ]
    r = _run(args)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert len(d["rows"]) == 1 + 4 * 4 * 4
    assert d["rows"][0]["row"] == "baseline"
    assert out.read_text().splitlines()[0].startswith("row,strategy,rho")
    # rerun without --force refuses to overwrite the table
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2


def test_sweep_value_options_and_table(world):
    r = _run(
        [
            "evaluate",
            "--sweep",
            "rho",
            "tau",
            "--gt",
            str(world.panoptic),
            "--proposals",
            str(world.proposals),
            "--semantic",
            str(world.semantic),
            "--rho",
            "0.5,0.6",
            "--tau",
            "0.5,0.6",
            "--gamma",
            "0.5",
            "--quiet",
        ]
    )
    assert r.exit_code == 0, r.output
    assert "Table 1" in r.output and "best:" in r.output and "rho=0.6 tau=0.5" in r.output


def test_sweep_values_from_config(world, tmp_path):
    cfg = tmp_path / "r.toml"
    cfg.write_text("[evaluate]\nrho = [0.5, 0.7]\n")
    r = _run(
        [
            "--config",
            str(cfg),
            "evaluate",
            "--sweep",
            "rho",
            "--gt",
            str(world.panoptic),
            "--proposals",
            str(world.proposals),
            "--format",
            "json",
            "--quiet",
        ]
    )
    assert r.exit_code == 0, r.output
    assert [row["rho"] for row in json.loads(r.output)["rows"]] == [0.5, 0.5, 0.7]


def test_ablation_rows(world):
    r = _run(
        [
            "evaluate",
            "--ablation",
            "--gt",
            str(world.panoptic),
            "--proposals",
            str(world.proposals),
            "--semantic",
            str(world.semantic),
            "--format",
            "csv",
            "--quiet",
        ]
    )
    assert r.exit_code == 0, r.output
    rows = [ln.split(",")[0] for ln in r.output.splitlines()[1:]]
    assert rows == ["baseline", "heuristic", "RA", "RA+CA", "RA+CA+EO"]


@pytest.mark.parametrize(
    "extra,msg",
    [
        (["--rho", "1.5"], "[0, 1]"),
        (["--rho", "0.5,,0.6"], "empty"),
        (["--rho", "abc"], "not a number"),
    ],
)
def test_bad_grid_values_exit_2(world, extra, msg):
    r = CliRunner().invoke(
        cli, ["evaluate", "--sweep", "rho", "--gt", str(world.panoptic), "--proposals", str(world.proposals), *extra]
    )
    assert r.exit_code == 2
    assert msg in r.output


def test_unknown_parameter_exits_2():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "rapkit",
            "evaluate",
            "--sweep",
            "rho",
            "alpha",
            "--gt",
            "x.json",
            "--proposals",
            "p.json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "alpha" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_leaves_no_partial_output(tmp_path):
    world = make_world(tmp_path / "w", SynthConfig(n_images=30, height=240, width=320, seed=3, render_images=False))
    out = tmp_path / "rows.csv"
    vals = ",".join(f"{v / 100:.2f}" for v in range(20, 100, 4))
    cmd = [
        sys.executable,
        "-m",
        "rapkit",
        "evaluate",
        "--sweep",
        "rho",
        "tau",
        "gamma",
        "--gt",
        str(world.panoptic),
        "--proposals",
        str(world.proposals),
        "--rho",
        vals,
        "--tau",
        vals,
        "--gamma",
        vals,
        "--output",
        str(out),
        "--workers",
        "1",
    ]  # 8000 settings: minutes of work, interrupted after 1 s
    # Ctrl-C at a terminal: SIGINT at its default disposition in the child. A suite started
    # in the background of a non-interactive shell (`cmd &`) inherits SIGINT *ignored*, and
    # Python then installs no KeyboardInterrupt handler, so the child would (rightly, as
    # nohup'd programs do) keep running.
    p = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = p.stderr.readline()  # "sweep: N setting(s) + baseline" once the options are validated
        assert "sweep" in line
        time.sleep(1.0)
        assert p.poll() is None, "sweep finished before it could be interrupted; make it bigger"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["w"]


@pytest.mark.parametrize("case", ["unknown_image", "missing_gt_pngs", "wrong_semantic_size"])
def test_sweep_bad_input_exit_3_and_no_output(world, tmp_path, case):
    import shutil

    gt, props, sem = str(world.panoptic), str(world.proposals), str(world.semantic)
    if case == "unknown_image":
        p = json.loads(world.proposals.read_text())
        p[0]["image_id"] = 999999
        props = str(tmp_path / "props.json")
        (tmp_path / "props.json").write_text(json.dumps(p))
        want = "999999"
    elif case == "missing_gt_pngs":
        shutil.copy(world.panoptic, tmp_path / "gt.json")
        gt = str(tmp_path / "gt.json")
        want = "does not exist"
    else:
        from PIL import Image

        sem_dir = tmp_path / "sem"
        shutil.copytree(world.semantic, sem_dir)
        first = sorted(sem_dir.iterdir())[0]
        Image.new("L", (10, 10)).save(first)
        sem = str(sem_dir)
        want = "image 1"
    out = tmp_path / "rows.csv"
    r = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--sweep",
            "rho",
            "--gt",
            gt,
            "--proposals",
            props,
            "--semantic",
            sem,
            "--rho",
            "0.5,0.6",
            "--output",
            str(out),
        ],
    )
    assert r.exit_code == 3, r.output
    assert want in r.output and "Traceback" not in r.output
    assert not out.exists()


# --------------------------------------------------------------------------- the thin command's surface


def test_sweep_with_pred_points_to_proposals(world):
    r = CliRunner().invoke(
        cli, ["evaluate", "--sweep", "rho", "--gt", str(world.panoptic), "--pred", str(world.panoptic)]
    )
    assert r.exit_code == 2
    assert "takes no --pred" in r.output and "pass the detections with --proposals instead" in r.output


@pytest.mark.parametrize(
    "mode", [["--sweep", "rho"], ["--ablation"], ["--relations", "r.json", "--instances", "i.json"]]
)
def test_space_instead_of_comma_names_the_comma_form(world, mode):
    r = CliRunner().invoke(
        cli,
        ["evaluate", *mode, "--gt", str(world.panoptic), "--proposals", str(world.proposals), "--rho", "0.5", "0.6"],
    )
    assert r.exit_code == 2
    assert "unexpected value '0.6'" in r.output and "comma-separated" in r.output and "e.g. --rho 0.5,0.6" in r.output


@pytest.mark.parametrize("value", ["1.5", "0.5,,0.6", "abc", "nan"])
def test_bad_value_lists_name_option_and_comma_form(world, value):
    r = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--sweep",
            "tau",
            "--gt",
            str(world.panoptic),
            "--proposals",
            str(world.proposals),
            "--tau",
            value,
        ],
    )
    assert r.exit_code == 2
    assert "'--tau'" in r.output and "expected comma-separated numbers in [0, 1], e.g. --tau 0.5,0.6" in r.output


def test_help_names_the_modes_of_every_option():
    from rapkit.cli.evaluate import command

    shared = {"force", "workers", "fmt", "quiet", "help"}
    for p in command.params:
        if isinstance(p, click.Option) and p.name not in shared:
            assert re.match(r"\[(PQ|relations|sweep|ablation)(, (PQ|relations|sweep|ablation))*\] ", p.help), p.name
    r = _run(["evaluate", "--help"])
    rho = " ".join(r.output.split("  --rho V", 1)[1].split("  --tau V", 1)[0].split())
    assert "[sweep, ablation, relations]" in rho
    assert "under --sweep a comma list of values" in rho and "under --ablation and --relations one value" in rho


def test_progress_bars_get_their_totals(world, monkeypatch, tmp_path):
    """Off a terminal the progress display is the plain-text ticker; every step it shows
    ends with its total (the pipelines' on_start reaches the bar)."""
    from rapkit.cli import _common

    seen = []
    exit_ = _common._Ticker.__exit__

    def record(self, *exc):
        seen.append([list(t) for t in self.tasks])
        return exit_(self, *exc)

    monkeypatch.setattr(_common._Ticker, "__exit__", record)
    monkeypatch.delenv("RAPKIT_PROGRESS", raising=False)
    r = _run(
        [
            "evaluate",
            "--sweep",
            "rho",
            "--gt",
            str(world.panoptic),
            "--proposals",
            str(world.proposals),
            "--rho",
            "0.5,0.6",
            "--format",
            "json",
        ]
    )
    assert r.exit_code == 0, r.output
    assert seen[-1] == [["sweep", 5, 5]]
    rel = tmp_path / "relations.json"
    assert (
        _run(
            [
                "extract-relations",
                "--instances",
                str(world.instances),
                "--panoptic",
                str(world.panoptic),
                "-o",
                str(rel),
                "-q",
            ]
        ).exit_code
        == 0
    )
    fused = tmp_path / "fused"
    assert (
        _run(
            [
                "fuse",
                "--proposals",
                str(world.proposals),
                "--image-info",
                str(world.panoptic),
                "--categories",
                str(world.categories),
                "--semantic",
                str(world.semantic),
                "-o",
                str(fused),
                "-q",
            ]
        ).exit_code
        == 0
    )
    r = _run(
        [
            "evaluate",
            "--gt",
            str(world.panoptic),
            "--pred",
            str(fused / "panoptic.json"),
            "--relations",
            str(rel),
            "--proposals",
            str(world.proposals),
            "--instances",
            str(world.instances),
            "--format",
            "json",
        ]
    )
    assert r.exit_code == 0, r.output
    assert seen[-1] == [["relation accuracy", 5, 5]]  # the one bar showed PQ (5/5), then relation accuracy
