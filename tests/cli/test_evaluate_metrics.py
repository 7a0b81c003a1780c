"""``rapkit evaluate --metric``: Boundary PQ from the command line (table, JSON, per image,
two predictions) on the COCO sample and perturbed predictions, equal to the library call (JSON in percent)."""

from __future__ import annotations

import json

import pytest

from rapkit.pipeline.evaluate import evaluate_pq


def test_metric_boundary_json_per_image_and_compare(cli, pq_kit, tmp_path):
    gt = pq_kit.sample / "panoptic_examples.json"
    pred = pq_kit.perturbed(tmp_path, 0)
    code, out, _ = cli(
        "evaluate", "--gt", gt, "--pred", pred, "--metric", "boundary", "--per-image", "--format", "json"
    )
    assert code == 0
    d = json.loads(out)
    lib = evaluate_pq(gt, pred, metric="boundary", per_image=True)
    assert d["metric"] == "boundary" and d["All"]["pq"] == pytest.approx(100 * lib.result.all.pq)
    assert [r["pq"] for r in d["per_image"]] == pytest.approx([100 * r["pq"] for r in lib.image_rows()])
    plain = evaluate_pq(gt, pred)
    assert lib.result.all.pq < plain.result.all.pq
    code, out, _ = cli("evaluate", "--gt", gt, "--pred", pred, "--metric", "boundary")
    assert code == 0 and "Boundary panoptic quality (2 images)" in out
    code, out, _ = cli(
        "evaluate", "--gt", gt, "--pred", gt, "--pred", pred, "--per-image", "--metric", "boundary", "--format", "json"
    )
    assert code == 0
    d = json.loads(out)
    assert (
        d["A"]["All"]["pq"] == 100
        and d["B"]["All"]["pq"] == pytest.approx(100 * lib.result.all.pq)
        and d["B"]["metric"] == "boundary"
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["--gt", "GT", "--sweep", "rho", "--proposals", "p.json", "--metric", "boundary"], "--metric applies to PQ"),
        (
            ["--relations", "r.json", "--proposals", "p.json", "--instances", "i.json", "--metric", "boundary"],
            "--metric needs",
        ),
    ],
)
def test_metric_misuse_is_exit_2(cli, pq_kit, args, words):
    gt = pq_kit.sample / "panoptic_examples.json"
    code, _, err = cli("evaluate", *[gt if a == "GT" else a for a in args])
    assert code == 2 and words in err


def test_metric_pq_dagger(cli, pq_kit, tmp_path):
    gt = pq_kit.sample / "panoptic_examples.json"
    pred = pq_kit.perturbed(tmp_path, 1)
    code, out, _ = cli(
        "evaluate", "--gt", gt, "--pred", pred, "--metric", "pq-dagger", "--per-class", "--format", "json"
    )
    assert code == 0
    d = json.loads(out)
    lib = evaluate_pq(gt, pred, metric="pq-dagger")
    assert d["metric"] == "pq-dagger" and d["Stuff"]["pq"] == pytest.approx(100 * lib.result.stuff.pq)
    assert d["Stuff"]["rq"] == 100 and d["Things"] == json.loads(json.dumps(_things_pct(evaluate_pq(gt, pred))))
    code, out, _ = cli("evaluate", "--gt", gt, "--pred", pred, "--metric", "pq-dagger")
    assert code == 0 and "PQ-dagger (2 images)" in out


def _things_pct(ev):
    t = ev.result.things
    return {"pq": 100 * t.pq, "sq": 100 * t.sq, "rq": 100 * t.rq, "n": t.n}


# --------------------------------------------------------------------------- several metrics in one run


def test_several_metrics_equal_their_own_runs(pq_kit, tmp_path):
    from rapkit.pipeline.metrics import evaluate

    gt = pq_kit.sample / "panoptic_examples.json"
    pred = pq_kit.perturbed(tmp_path, 2)
    ev = evaluate(gt, pred, metrics="pq,boundary,pq-dagger", workers=2, per_image=True)
    assert ev.metrics == ("pq", "boundary", "pq-dagger")
    for m in ev.metrics:
        own = evaluate_pq(gt, pred, metric=m, per_image=True)
        assert ev[m].result == own.result and ev[m].image_rows() == own.image_rows(), m
    assert ev.to_frame().shape == (3, 12)
    frame = ev.image_frame()
    assert list(frame["boundary_pq"]) == [r["pq"] for r in ev["boundary"].image_rows()]
    with pytest.raises(ValueError, match="unknown metric 'bq'"):
        evaluate(gt, pred, metrics="pq,bq")


def test_several_metrics_cli_table_json_csv_per_image(cli, pq_kit, tmp_path):
    gt = pq_kit.sample / "panoptic_examples.json"
    pred = pq_kit.perturbed(tmp_path, 3)
    args = ("evaluate", "--gt", gt, "--pred", pred, "--metric", "pq,boundary,pq-dagger", "--per-image")
    code, out, _ = cli(*args, "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["metrics"] == ["pq", "boundary", "pq-dagger"]
    for m in d["metrics"]:
        assert d[m]["All"]["pq"] == pytest.approx(100 * evaluate_pq(gt, pred, metric=m).result.all.pq)
    assert set(d["per_image"][0]) == {"image_id", "pq", "boundary", "pq-dagger"}
    code, out, _ = cli(*args, "--format", "csv")
    assert code == 0 and "PQ^B" in out and "PQ^Th†" in out
    code, out, _ = cli(*args)
    assert code == 0 and "PQ, Boundary PQ (^B), PQ† (†) (2 images)" in out


def test_two_predictions_on_every_metric(cli, pq_kit, tmp_path):
    gt = pq_kit.sample / "panoptic_examples.json"
    a, b = pq_kit.perturbed(tmp_path / "a", 4), pq_kit.perturbed(tmp_path / "b", 5)
    args = ("evaluate", "--gt", gt, "--pred", a, "--pred", b, "--per-image", "--metric", "pq,boundary,pq-dagger")
    code, out, _ = cli(*args, "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert set(d["per_image"]) == {"pq", "boundary", "pq-dagger"} and d["metrics"] == ["pq", "boundary", "pq-dagger"]
    for m in d["metrics"]:
        rows = d["per_image"][m]
        ea = evaluate_pq(gt, a, metric=m, per_image=True).image_rows()
        eb = evaluate_pq(gt, b, metric=m, per_image=True).image_rows()
        dpq = {x["image_id"]: (y["pq"] or 0) - (x["pq"] or 0) for x, y in zip(ea, eb)}
        assert [r["dpq"] for r in rows] == pytest.approx([100 * dpq[r["image_id"]] for r in rows])
        assert abs(rows[0]["dpq"]) >= abs(rows[-1]["dpq"])
    code, out, _ = cli(*args)
    assert code == 0 and "Per image, Boundary PQ (^B)" in out and "Per image, PQ† (†)" in out
