"""No silent degradation: each case that used to pass silently now says so on stderr (or is
a precise error), naming the fix."""

from __future__ import annotations

import re

import pytest


def test_fuse_without_semantic_warns_that_stuff_is_void(cli, small_world, tmp_path):
    w = small_world
    code, out, err = cli(
        "fuse",
        "--proposals",
        w.proposals,
        "--image-info",
        w.panoptic,
        "--categories",
        w.categories,
        "-o",
        tmp_path / "fused",
        "--format",
        "json",
        "-q",
    )
    assert code == 0
    assert "warning: no --semantic: every stuff pixel will be VOID" in err and "pass --semantic" in err
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
        tmp_path / "fused2",
        "-q",
    )
    assert code == 0 and "VOID" not in err


@pytest.mark.parametrize(
    "toml,message",
    [
        ('strategi = "heuristic"\n', "unknown key 'strategi'; did you mean 'strategy'?"),
        ("[fuse]\nstuf-area = 10\n", "unknown key 'stuf-area' in [fuse]; did you mean 'stuff_area'?"),
        ("[fusee]\nrho = 0.5\n", "unknown command table [fusee]; did you mean 'fuse'?"),
        ("[evaluate]\nno_ra = true\n", "unknown key 'no_ra' in [evaluate]"),
    ],
)
def test_unknown_config_key_is_exit_2_with_a_close_match(cli, small_world, tmp_path, toml, message):
    cfg = tmp_path / "rapkit.toml"
    cfg.write_text(toml)
    w = small_world
    code, out, err = cli(
        "--config",
        cfg,
        "fuse",
        "--proposals",
        w.proposals,
        "--image-info",
        w.panoptic,
        "--categories",
        w.categories,
        "-o",
        tmp_path / "fused",
    )
    assert code == 2
    assert message in err
    assert not (tmp_path / "fused").exists()


def test_known_config_keys_still_apply(cli, small_world, tmp_path):
    cfg = tmp_path / "rapkit.toml"
    cfg.write_text(f'workers = 1\n[fuse]\nstrategy = "heuristic"\nsemantic = "{small_world.semantic}"\n')
    w = small_world
    code, out, err = cli(
        "--config",
        cfg,
        "fuse",
        "--proposals",
        w.proposals,
        "--image-info",
        w.panoptic,
        "--categories",
        w.categories,
        "-o",
        tmp_path / "fused",
        "--format",
        "json",
        "-q",
    )
    assert code == 0, err
    assert "VOID" not in err  # semantic came from the config
    assert '"strategy": "heuristic"' in out


def test_predict_reports_detections_and_warns_at_zero(cli, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import importlib

    mp = importlib.import_module("rapkit.model.predict")  # the module (rapkit.model re-exports the function)

    def fake(cfg, progress=None):
        return mp.PredictSummary(
            output=cfg.output, mode="detector", images=3, detections=0, dropped_unknown_category=0, device="cpu"
        )

    monkeypatch.setattr(mp, "predict", fake)
    code, out, err = cli(
        "predict",
        "--detector",
        "m.pth",
        "--head",
        "h.pt",
        "--images",
        tmp_path,
        "-o",
        tmp_path / "p.json",
        "--format",
        "json",
    )
    assert code == 0
    assert "0 detection(s) in 3 image(s)" in err
    assert "warning: no detections in 3 image(s)" in err and "--score-threshold" in err

    monkeypatch.setattr(
        mp, "predict", lambda cfg, progress=None: mp.PredictSummary(cfg.output, "detector", 4, 10, 0, "cpu")
    )
    code, out, err = cli(
        "predict",
        "--detector",
        "m.pth",
        "--head",
        "h.pt",
        "--images",
        tmp_path,
        "-o",
        tmp_path / "p.json",
        "--format",
        "json",
    )
    assert code == 0 and "10 detection(s) in 4 image(s), 2.5 per image" in err and "warning" not in err


def test_long_steps_print_plain_progress_lines_off_a_terminal(cli, small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("RAPKIT_PROGRESS", "")  # the default: stderr is not a terminal here
    monkeypatch.setenv("RAPKIT_PROGRESS_INTERVAL", "0.02")
    w = small_world
    import rapkit.pipeline.fuse as pf

    real = pf.fuse

    def slow(*a, progress=None, **k):  # a step long enough for a few ticks
        import time

        for _ in range(3):
            time.sleep(0.05)
            progress(1)
        return real(*a, **k)

    monkeypatch.setattr(pf, "fuse", slow)
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
        tmp_path / "f",
    )
    assert code == 0, err
    assert re.search(r"^fuse: [1-3] done, \d+ s elapsed$", err, re.MULTILINE), err
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
        tmp_path / "g",
        "-q",
    )
    assert code == 0 and "done," not in err


def test_default_tick_interval_is_about_ten_seconds(monkeypatch):
    from rapkit.cli._common import _Ticker

    monkeypatch.delenv("RAPKIT_PROGRESS_INTERVAL", raising=False)
    t = _Ticker()
    t.add("train", 5000)(12)
    assert t.interval == 10 and t.line().startswith("train: 12/5000 done")


def test_tick_line_names_the_step_that_moved_not_the_one_declared_last():
    from rapkit.cli._common import _Ticker

    t = _Ticker()
    train = t.add("train head", 60)
    t.add("predict", 40)  # declared up front, begins only after training
    assert t.line().startswith("predict: 0/40")  # nothing moved yet: the last declared
    train(7)
    assert t.line().startswith("train head: 7/60 done")


@pytest.mark.parametrize(
    "args,hint",
    [
        (
            ["extract-relations", "--instances", "{w}/instances.json", "--panoptic", "{w}/panoptic", "-o", "r.json"],
            "a folder goes to --panoptic-dir",
        ),
        (["check", "--gt", "{w}/panoptic"], "a folder goes to --gt-dir"),
        (["evaluate", "--gt", "{w}/panoptic", "--pred", "{w}/panoptic.json"], "a folder goes to --gt-dir"),
        (["evaluate", "--gt", "{w}/panoptic.json", "--pred", "{w}/panoptic"], "a folder goes to --pred-dir"),
        (["evaluate", "--gt", "{w}/panoptic.json", "--pred", "{w}"], "did you mean {w}/panoptic.json?"),
        (
            [
                "fuse",
                "--proposals",
                "{w}/proposals.json",
                "--image-info",
                "{w}/panoptic",
                "--categories",
                "{w}/categories.json",
                "-o",
                "f",
            ],
            "is a folder, not a JSON file",
        ),
    ],
)
def test_folder_where_a_json_is_expected_names_the_folder_option(cli, small_world, tmp_path, monkeypatch, args, hint):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*[a.format(w=small_world.root) for a in args])
    assert code == 2
    assert hint.format(w=small_world.root) in err


def test_check_prints_a_one_line_verdict(cli, small_world, tmp_path):
    code, out, err = cli("check", "--gt", small_world.panoptic)
    assert code == 0
    assert "check: no problems found in 4 images" in err
