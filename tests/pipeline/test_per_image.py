"""``rapkit evaluate --per-image`` and ``--pred A --pred B --per-image``: the per-image
statistics sum to the dataset's, the ΔPQ ranking finds a planted bad image, percent in every
output, and the option checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rapkit.cli import main
from rapkit.core.pq import merge_stats
from rapkit.errors import ConfigError
from rapkit.pipeline.requests import EvaluateRequest, run_evaluate


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 6-image world, fused with the heuristic (A) and a copy of A with one image's PNG
    scrambled (B: the same segment ids and areas, pixels permuted)."""
    from PIL import Image

    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("per_image")
    w = make_world(root / "world", SynthConfig(n_images=6, height=96, width=128, seed=3, render_images=False))
    a = root / "a"
    with pytest.raises(SystemExit) as e:
        main(
            [
                "fuse",
                "--proposals",
                str(w.proposals),
                "--image-info",
                str(w.panoptic),
                "--categories",
                str(w.categories),
                "--semantic",
                str(w.semantic),
                "--strategy",
                "heuristic",
                "--stuff-area",
                "64",
                "-o",
                str(a),
                "-q",
            ]
        )
    assert e.value.code == 0
    b = root / "b"
    shutil.copytree(a, b)
    pans = json.loads((a / "panoptic.json").read_text())["annotations"]
    # the bad image: the one with the most segments (a scrambled map there costs the most PQ)
    bad = max(pans, key=lambda p: len(p["segments_info"]))
    png = b / "panoptic" / bad["file_name"]
    arr = np.asarray(Image.open(png).convert("RGB"))
    flat = arr.reshape(-1, 3)
    flat = flat[np.random.default_rng(0).permutation(len(flat))]
    Image.fromarray(np.ascontiguousarray(flat.reshape(arr.shape))).save(png)
    return {
        "gt": w.panoptic,
        "a": a / "panoptic.json",
        "b": b / "panoptic.json",
        "bad": bad["image_id"],
        "n": len(pans),
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_per_image_statistics_sum_to_the_dataset(world, workers):
    out = run_evaluate(EvaluateRequest(gt=world["gt"], pred=world["a"], per_image=True, workers=workers))
    ev = out.evaluation
    plain = run_evaluate(EvaluateRequest(gt=world["gt"], pred=world["a"])).evaluation
    assert len(ev.per_image) == world["n"] == ev.n_images
    assert [s.image_ids for s in ev.per_image] == [[i] for i in plain.stats.image_ids]
    merged = merge_stats(ev.per_image)
    assert merged == plain.stats == ev.stats
    for key in ("tp", "fp", "fn"):
        total = {}
        for s in ev.per_image:
            for c, v in getattr(s, key).items():
                total[c] = total.get(c, 0) + v
        assert {c: v for c, v in total.items() if v} == {c: v for c, v in getattr(plain.stats, key).items() if v}
    # IoU sums per class, image after image in GT order: == the dataset's (same order of additions)
    iou = {}
    for s in ev.per_image:
        for c, v in zip(s.category.tolist(), s.iou.tolist()):
            iou[c] = iou.get(c, 0.0) + v
    assert {c: r.iou for c, r in plain.result.per_class.items() if r.tp} == iou
    assert merged.iou.sum() == plain.stats.iou.sum()
    # the summary of the merged per-image statistics is the dataset's, bit for bit
    from rapkit.core.pq import summarize

    assert summarize(merged, ev.categories) == plain.result
    # and the rows' counts add up to the per-class counts
    from rapkit.report.evaluate import evaluate_report

    rows = evaluate_report(out).data["per_image"]
    assert rows == ev.image_rows() == ev.image_frame().to_dict(orient="records")
    assert sum(r["tp"] for r in rows) == sum(c.tp for c in plain.result.per_class.values())
    assert sum(r["fp"] for r in rows) == sum(c.fp for c in plain.result.per_class.values())
    assert sum(r["fn"] for r in rows) == sum(c.fn for c in plain.result.per_class.values())
    assert all(r["pq"] != r["pq"] or 0.0 <= r["pq"] <= 1.0 for r in rows)


def test_delta_ranking_puts_the_planted_image_first(world):
    out = run_evaluate(EvaluateRequest(gt=world["gt"], pred=(world["a"], world["b"]), per_image=True))
    rows = out.per_image_delta
    assert len(rows) == world["n"]
    assert rows[0]["image_id"] == world["bad"]
    assert rows[0]["dpq"] < -0.2
    assert all(r["dpq"] == 0.0 for r in rows[1:])  # every other image is byte-identical
    assert [abs(r["dpq"]) for r in rows] == sorted((abs(r["dpq"]) for r in rows), reverse=True)
    assert out.evaluation.per_image and out.evaluation_b.per_image


def test_cli_two_preds_in_percent(world, capsys):
    code, out, _ = run(
        capsys,
        "evaluate",
        "--gt",
        world["gt"],
        "--pred",
        world["a"],
        "--pred",
        world["b"],
        "--per-image",
        "--format",
        "json",
        "-q",
    )
    assert code == 0
    d = json.loads(out)
    assert d["unit"] == "percent"
    first = d["per_image"][0]
    assert first["image_id"] == world["bad"]
    a_pq, b_pq = first["a"]["pq"], first["b"]["pq"]
    assert first["dpq"] == pytest.approx(b_pq - a_pq)
    assert 1.0 < a_pq <= 100.0 and abs(first["dpq"]) > 20.0  # percent, not fractions
    assert d["A"]["All"]["pq"] > d["B"]["All"]["pq"] > 1.0
    code, out, _ = run(
        capsys, "evaluate", "--gt", world["gt"], "--pred", world["a"], "--pred", world["b"], "--per-image", "-q"
    )
    assert code == 0 and "dPQ (B-A)" in out and "largest |dPQ| first" in out
    code, out, _ = run(
        capsys,
        "evaluate",
        "--gt",
        world["gt"],
        "--pred",
        world["a"],
        "--pred",
        world["b"],
        "--per-image",
        "--format",
        "csv",
        "-q",
    )
    assert code == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("per_image,")]
    assert len(lines) == world["n"] and lines[0].split(",")[1] == str(world["bad"])


def test_cli_one_pred_per_image(world, capsys):
    code, out, _ = run(
        capsys, "evaluate", "--gt", world["gt"], "--pred", world["a"], "--per-image", "--format", "json", "-q"
    )
    assert code == 0
    d = json.loads(out)
    rows = d["per_image"]
    assert len(rows) == world["n"] and set(rows[0]) == {"image_id", "pq", "pq_th", "tp", "fp", "fn"}
    assert max(r["pq"] for r in rows if r["pq"] is not None) > 1.0  # percent
    code, out, _ = run(capsys, "evaluate", "--gt", world["gt"], "--pred", world["a"], "--per-image", "-q")
    assert code == 0 and "Per image" in out and "PQ^Th" in out


@pytest.mark.parametrize(
    "fields, words",
    [
        (dict(pred=("a.json", "b.json")), "add --per-image"),
        (dict(pred=("a.json", "b.json", "c.json"), per_image=True), "one prediction, or two"),
        (
            dict(pred=("a.json", "b.json"), per_image=True, relations="r.json", proposals="p.json", instances="i.json"),
            "--relations applies to relation accuracy with one --pred",
        ),
        (
            dict(pred=("a.json", "b.json"), per_image=True, per_class=True),
            "--per-class applies to PQ evaluation of one",
        ),
        (dict(pred=("a.json", "b.json"), per_image=True, fail_under="PQ=50"), "--fail-under applies"),
        (dict(pred=("a.json", "b.json"), per_image=True, check=True), "--check applies"),
        (dict(pred=("a.json", "b.json"), per_image=True, pred_dir="d"), "--pred-dir applies"),
        (
            dict(proposals="p.json", sweep=True, sweep_params=("rho",), per_image=True),
            "--per-image applies to PQ evaluation (--gt with --pred), not to --sweep",
        ),
        (dict(proposals="p.json", ablation=True, per_image=True), "not to --ablation"),
        (
            dict(gt=None, relations="r.json", proposals="p.json", instances="i.json", per_image=True),
            "--per-image applies to PQ evaluation, which needs --pred",
        ),
    ],
)
def test_option_checks(fields, words):
    kwargs = dict(gt="gt.json")
    kwargs.update(fields)
    with pytest.raises(ConfigError, match=words.replace("|", r"\|").replace("(", r"\(").replace(")", r"\)")):
        EvaluateRequest(**kwargs).plan()


def test_option_checks_cli(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", "--gt", "g.json", "--pred", "a.json", "--pred", "b.json")
    assert code == 2 and "--per-image" in err
    code, _, err = run(
        capsys, "evaluate", "--gt", "g.json", "--pred", "a.json", "--pred", "b.json", "--pred", "c.json", "--per-image"
    )
    assert code == 2 and "got 3" in err


def test_config_file_gives_one_or_two_preds(world, capsys, tmp_path):
    one = tmp_path / "one.toml"
    one.write_text(f'[evaluate]\npred = "{world["a"]}"\n')
    code, out, _ = run(capsys, "--config", one, "evaluate", "--gt", world["gt"], "--format", "json", "-q")
    assert code == 0 and "per_image" not in json.loads(out)
    two = tmp_path / "two.toml"
    two.write_text(f'[evaluate]\npred = ["{world["a"]}", "{world["b"]}"]\nper_image = true\n')
    code, out, _ = run(capsys, "--config", two, "evaluate", "--gt", world["gt"], "--format", "json", "-q")
    assert code == 0 and json.loads(out)["per_image"][0]["image_id"] == world["bad"]
    # the command line replaces the config file's value
    code, out, _ = run(
        capsys, "--config", two, "evaluate", "--gt", world["gt"], "--pred", world["a"], "--format", "json", "-q"
    )
    assert code == 0 and "A" not in json.loads(out)
