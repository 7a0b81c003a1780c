"""``rapkit evaluate`` / ``rapkit check``: formats, gates, bad input (exit 3), fuse output."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rapkit.cli import main
from rapkit.report import to_percent

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"
GT = SAMPLE / "panoptic_examples.json"


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def report_and_error(out: str) -> tuple[dict, dict]:
    """``--format json`` output of a failed run: the report, then the error object (last line)."""
    report, end = json.JSONDecoder().raw_decode(out)
    err = json.loads(out[end:].strip())["error"]
    assert err["code"] == 3
    return report, err


def _tiny(kit, tmp_path: Path, kind: str = "ok"):
    g = np.array([[1, 1, 2, 2], [1, 1, 2, 0], [3, 3, 3, 0]], np.uint32)
    gsegs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 3}, {"id": 3, "category_id": 100}]
    p = g.copy()
    psegs = [dict(s) for s in gsegs]
    gimgs = [{"image_id": 42, "id_map": g, "segments": gsegs}]
    pimgs = [{"image_id": 42, "id_map": p, "segments": psegs}]
    if kind == "png_id_not_in_json":
        p[0, 0] = 9
    elif kind == "json_id_not_in_png":
        psegs.append({"id": 5, "category_id": 1})
    elif kind == "unknown_category":
        psegs[0]["category_id"] = 55
    elif kind == "shape":
        pimgs[0]["id_map"] = np.zeros((3, 3), np.uint32)
        pimgs[0]["segments"] = []
    elif kind == "no_prediction":
        gimgs.append({"image_id": 43, "id_map": g, "segments": gsegs})
    elif kind == "extra_prediction":
        pimgs.append({"image_id": 77, "id_map": p, "segments": psegs})
    elif kind == "gt_area":
        gsegs[0] = {"id": 1, "category_id": 1, "area": 2}
    gt = kit.write_dataset(tmp_path, "gt", gimgs, kit.categories)
    pred = kit.write_dataset(tmp_path, "pred", pimgs, kit.categories)
    return gt, pred


# --------------------------------------------------------------------------- results and formats


def test_table_json_csv(pq_kit, tmp_path, capsys):
    pred = pq_kit.perturbed(tmp_path, 0)
    want = pq_kit.oracle(GT, pred)
    code, out, err = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "--format", "json", "-q", "--per-class")
    assert code == 0, err
    d = json.loads(out)
    assert d["schema_version"] == 2 and d["n_images"] == 2
    ours = {k: d[k] for k in ("All", "Things", "Stuff")}
    ours["per_class"] = {int(k): v for k, v in d["per_class"].items()}
    pq_kit.assert_same(ours, to_percent(want))  # percent, and the JSON round trip keeps every bit

    code, out, _ = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "-q")
    assert code == 0
    lines = out.splitlines()
    for name in ("All", "Things", "Stuff"):
        row = next(ln for ln in lines if ln.strip("│ ").startswith(name))
        assert f"{100 * want[name]['pq']:.1f}" in row and str(want[name]["n"]) in row
    assert "PQ" in out and "SQ" in out and "RQ" in out

    code, out, _ = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "-q", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["", "PQ", "SQ", "RQ", "N"]
    assert float(rows[1][1]) == 100 * want["All"]["pq"]


def test_workers_and_decoders_give_identical_output(pq_kit, tmp_path, capsys):
    pred = pq_kit.perturbed(tmp_path, 1)
    outs = set()
    for extra in (["-j", "1"], ["-j", "2"], ["--decoder", "pil"]):
        code, out, err = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "--format", "json", "-q", *extra)
        assert code == 0, err
        outs.add(out)
    assert len(outs) == 1


def test_fail_under(pq_kit, tmp_path, capsys):
    pred = pq_kit.perturbed(tmp_path, 2)
    pq = 100 * pq_kit.oracle(GT, pred)["All"]["pq"]
    code, out, err = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "-q", "--fail-under", f"PQ={pq - 1:.3f}")
    assert code == 0, err
    code, out, err = run(
        capsys, "evaluate", "--gt", GT, "--pred", pred, "-q", "--fail-under", f"PQ={pq + 1:.3f},SQ_th=0"
    )
    assert code == 1 and "PQ" in err and "gate" in err
    assert "All" in out  # the table is printed before the gate decides
    code, _, err = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "-q", "--fail-under", "XQ=3")
    assert code == 2 and "XQ" in err
    code, _, err = run(capsys, "evaluate", "--gt", GT, "--pred", pred, "-q", "--fail-under", "PQ=abc")
    assert code == 2


def test_usage_errors(capsys):
    code, _, err = run(capsys, "evaluate", "--pred", GT)
    assert code == 2 and "--pred needs --gt" in err
    code, _, err = run(capsys, "evaluate", "--gt", GT, "--pred", GT, "--semantic", GT)
    assert code == 2 and "--semantic applies to --sweep and --ablation only" in err
    code, _, err = run(capsys, "evaluate", "--gt", GT, "--pred", GT, "--rho", "0.5")
    assert code == 2 and "--rho applies to --sweep, --ablation and relation accuracy" in err
    code, _, err = run(capsys, "evaluate", "--gt", GT, "--pred", GT, "rho")
    assert code == 2 and "did you mean --sweep rho?" in err
    code, _, err = run(capsys, "evaluate")
    assert code == 2 and "nothing to evaluate" in err
    code, _, err = run(capsys, "evaluate", "--gt", GT, "--pred", GT, "--relations", GT)
    assert code == 2 and "--proposals" in err


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kind,reason",
    [
        ("png_id_not_in_json", "segment 9: id in the prediction PNG but not in its JSON"),
        ("json_id_not_in_png", "not in the prediction PNG"),
        ("unknown_category", "unknown category_id 55"),
        ("shape", "3x3"),
    ],
)
def test_panopticapi_crash_cases_exit_3(pq_kit, tmp_path, capsys, kind, reason):
    gt, pred = _tiny(pq_kit, tmp_path, kind)
    with pytest.raises(Exception):
        pq_kit.oracle(gt, pred)
    capsys.readouterr()  # panopticapi prints its traceback
    code, out, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred, "-q")
    assert code == 3
    assert "image 42" in err and reason in err and "Traceback" not in err


def test_gt_image_without_prediction_exit_3(pq_kit, tmp_path, capsys):
    gt, pred = _tiny(pq_kit, tmp_path, "no_prediction")
    code, _, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred)
    assert code == 3 and "image 43" in err and "no prediction" in err


def test_missing_png_exit_3(pq_kit, tmp_path, capsys):
    gt, pred = _tiny(pq_kit, tmp_path)
    (tmp_path / "pred" / "000000000042.png").unlink()
    code, _, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred)
    assert code == 3 and "image 42" in err and "not found" in err
    shutil.rmtree(tmp_path / "pred")
    code, _, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred)
    assert code == 3 and "folder" in err


def test_duplicate_segment_ids_exit_3(pq_kit, tmp_path, capsys):
    gt, pred = _tiny(pq_kit, tmp_path)
    d = json.loads(pred.read_text())
    d["annotations"][0]["segments_info"].append(dict(d["annotations"][0]["segments_info"][0]))
    pred.write_text(json.dumps(d))
    code, _, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred)
    assert code == 3 and "image 42" in err and "segment 1" in err and "duplicate" in err
    code, out, err = run(capsys, "check", "--pred", pred, "--format", "json")
    assert code == 3
    kinds = [i["kind"] for i in report_and_error(out)[0]["inputs"]["prediction"]["issues"]]
    assert "duplicate_segment_id" in kinds


def test_prediction_for_image_not_in_gt_warns(pq_kit, tmp_path, capsys):
    gt, pred = _tiny(pq_kit, tmp_path, "extra_prediction")
    code, out, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred, "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["ignored_pred_images"] == [77] and d["n_images"] == 1
    assert "warning" in err and "77" in err
    assert d["All"]["pq"] == 100.0


def test_check_reports_gt_area_mismatch(pq_kit, tmp_path, capsys):
    gt, pred = _tiny(pq_kit, tmp_path, "gt_area")
    code, out, err = run(capsys, "check", "--gt", gt, "--pred", pred, "--format", "json")
    assert code == 3 and "area_mismatch" in err
    report, error = report_and_error(out)
    issues = report["inputs"]["GT"]["issues"]
    assert [(i["kind"], i["image_id"], i["segment_id"]) for i in issues] == [("area_mismatch", 42, 1)]
    assert (error["file"], error["image_id"], error["segment_id"]) == (str(gt), 42, 1)  # the first error, located
    # evaluate --check shows the same and still evaluates (PQ > 100 here, like panopticapi)
    code, out, err = run(capsys, "evaluate", "--gt", gt, "--pred", pred, "--check", "--format", "json", "-q")
    assert code == 0
    d = json.loads(out)
    assert d["check"]["inputs"]["GT"]["counts"] == {"area_mismatch": 1}
    assert d["All"]["pq"] == 100 * pq_kit.oracle(gt, pred)["All"]["pq"]
    code, out, _ = run(capsys, "check", "--gt", gt, "-q")
    assert code == 3 and "area_mismatch" in out


def test_check_clean_data_and_other_issues(pq_kit, tmp_path, capsys):
    code, out, err = run(capsys, "check", "--gt", GT, "--pred", GT)
    assert code == 0 and "RGB 8-bit" in out
    gt, pred = _tiny(pq_kit, tmp_path, "png_id_not_in_json")
    (tmp_path / "gt" / "000000000042.png").unlink()
    code, out, err = run(capsys, "check", "--gt", gt, "--pred", pred, "--format", "json")
    assert code == 3
    d = report_and_error(out)[0]["inputs"]
    assert [i["kind"] for i in d["GT"]["issues"]] == ["png"]
    assert [(i["kind"], i["segment_id"]) for i in d["prediction"]["issues"]] == [("id_not_in_json", 9)]


# --------------------------------------------------------------------------- fuse output


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("evalworld")
    return make_world(root / "w", SynthConfig(n_images=4, height=96, width=128, seed=11, render_images=False))


@pytest.mark.parametrize("strategy", ["rap", "heuristic"])
def test_fuse_output_evaluates_without_conversion(pq_kit, world, tmp_path, capsys, strategy):
    out = tmp_path / "fused"
    code, _, err = run(
        capsys,
        "fuse",
        "--proposals",
        world.proposals,
        "--image-info",
        world.instances,
        "--categories",
        world.categories,
        "--semantic",
        world.semantic,
        "-o",
        out,
        "--strategy",
        strategy,
        "-q",
    )
    assert code == 0, err
    want = pq_kit.oracle(Path(world.panoptic), out / "panoptic.json")
    for j in ("1", "2"):
        code, stdout, err = run(
            capsys,
            "evaluate",
            "--gt",
            world.panoptic,
            "--pred",
            out / "panoptic.json",
            "--format",
            "json",
            "-q",
            "--per-class",
            "-j",
            j,
        )
        assert code == 0, err
        d = json.loads(stdout)
        ours = {k: d[k] for k in ("All", "Things", "Stuff")}
        ours["per_class"] = {int(k): v for k, v in d["per_class"].items()}
        pq_kit.assert_same(ours, to_percent(want))
    assert 0 < d["All"]["pq"] < 100


def test_relation_accuracy_through_evaluate(world, tmp_path, capsys):
    rel = tmp_path / "relations.json"
    code, _, err = run(
        capsys, "extract-relations", "--instances", world.instances, "--panoptic", world.panoptic, "-o", rel, "-q"
    )
    assert code == 0, err
    out = tmp_path / "fused"
    code, _, err = run(
        capsys,
        "fuse",
        "--proposals",
        world.proposals,
        "--image-info",
        world.instances,
        "--categories",
        world.categories,
        "--semantic",
        world.semantic,
        "-o",
        out,
        "-q",
    )
    assert code == 0, err
    code, stdout, err = run(
        capsys,
        "evaluate",
        "--gt",
        world.panoptic,
        "--pred",
        out / "panoptic.json",
        "--relations",
        rel,
        "--proposals",
        world.proposals,
        "--instances",
        world.instances,
        "--format",
        "json",
        "-q",
    )
    assert code == 0, err
    d = json.loads(stdout)
    assert "All" in d and "relation_accuracy" in d
    from rapkit.pipeline.relation_acc import evaluate_relations
    from rapkit.types import FusionParams

    stats = evaluate_relations(
        relations=rel, proposals=world.proposals, instances=world.instances, params=FusionParams()
    ).stats
    assert d["relation_accuracy"]["pairs"] == stats.pairs > 0
    assert d["relation_accuracy"]["fusion_pairs"] == stats.fusion_pairs
    code, stdout, err = run(
        capsys,
        "evaluate",
        "--relations",
        rel,
        "--proposals",
        world.proposals,
        "--instances",
        world.instances,
        "--rho",
        "0.5",
        "-q",
    )
    assert code == 0, err
    assert "relation" in stdout


def test_gates_parse_and_nan_fails():
    from rapkit.core.pq import PQStats, summarize
    from rapkit.errors import ConfigError
    from rapkit.pipeline.gates import check_gates, parse_gates

    assert parse_gates("pq=50, RQ_st=40.5") == {"PQ": 50.0, "RQ_st": 40.5}
    assert parse_gates(None) == {}
    for bad in ("PQ", "PQ=x", "foo=1"):
        with pytest.raises(ConfigError):
            parse_gates(bad)
    empty = summarize(PQStats(), {1: {"id": 1, "isthing": 1}})
    assert check_gates(empty, {"PQ": 0.0}) == ["PQ nan < 0"]  # a split with no class fails any gate


def test_split_without_class_is_documented_nan(pq_kit, tmp_path, capsys):
    g = np.array([[1, 1], [1, 0]], np.uint32)
    gt = pq_kit.write_dataset(
        tmp_path, "gt", [{"image_id": 5, "id_map": g, "segments": [{"id": 1, "category_id": 1}]}], pq_kit.categories
    )
    code, out, err = run(capsys, "evaluate", "--gt", gt, "--pred", gt, "--format", "json", "-q")
    assert code == 0, err
    d = json.loads(out)
    assert d["Stuff"] == {"pq": None, "sq": None, "rq": None, "n": 0}  # panopticapi: ZeroDivisionError
    assert d["Things"]["pq"] == 100.0
    code, out, _ = run(capsys, "evaluate", "--gt", gt, "--pred", gt, "-q")
    row = next(ln for ln in out.splitlines() if "Stuff" in ln)
    assert "-" in row and code == 0
    code, _, err = run(capsys, "evaluate", "--gt", gt, "--pred", gt, "-q", "--fail-under", "PQ_st=0")
    assert code == 1
