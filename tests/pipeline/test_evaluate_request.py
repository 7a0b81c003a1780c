"""``rapkit evaluate`` as a library request: every invalid combination is a precise error,
valid ones plan the right mode, and :func:`run_evaluate` returns the report and the gate."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from rapkit.errors import ConfigError, GateFailed, InputError
from rapkit.pipeline.requests import EvaluateRequest, GateResult, run_evaluate
from rapkit.types import FusionParams

GT, PRED, PROPS, REL, INST = "gt.json", "pred.json", "props.json", "rel.json", "inst.json"
SWEEP = {"gt": GT, "proposals": PROPS, "sweep": True, "sweep_params": ("rho",)}
ABL = {"gt": GT, "proposals": PROPS, "ablation": True}
RELS = {"relations": REL, "proposals": PROPS, "instances": INST}


# --------------------------------------------------------------------------- invalid requests

INVALID = [
    # which mode
    (dict(SWEEP, ablation=True), "--sweep and --ablation are exclusive: run them one after the other"),
    ({}, "nothing to evaluate: give --gt and --pred (PQ), and/or --relations, --proposals, --instances"),
    ({"gt": GT}, "nothing to evaluate: give --gt and --pred (PQ), and/or --relations, --proposals, --instances"),
    ({"gt": GT, "sweep_params": ("rho", "tau")}, "unexpected argument(s) rho tau (did you mean --sweep rho tau?)"),
    # the comma form: "--rho 0.5 0.6" leaves 0.6 as an argument
    (
        dict(SWEEP, sweep_params=("rho", "0.6")),
        (
            "unexpected value '0.6': value lists are comma-separated numbers in [0, 1] without spaces, "
            "e.g. --rho 0.5,0.6; the arguments of --sweep are parameter names (rho tau gamma)"
        ),
    ),
    (
        dict(RELS, rho=[0.5], sweep_params=("0.6",)),
        "unexpected value '0.6': value lists are comma-separated numbers in [0, 1] without spaces, e.g. --rho 0.5,0.6",
    ),
    # sweep / ablation
    (
        dict(SWEEP, pred=PRED),
        (
            "--sweep fuses the proposals itself and takes no --pred (a fused panoptic JSON): "
            "pass the detections with --proposals instead"
        ),
    ),
    (
        dict(ABL, pred=PRED),
        (
            "--ablation fuses the proposals itself and takes no --pred (a fused panoptic JSON): "
            "pass the detections with --proposals instead"
        ),
    ),
    (dict(SWEEP, fail_under="PQ=50"), "--fail-under applies to PQ evaluation (--gt with --pred), not to --sweep"),
    (dict(SWEEP, check=True), "--check applies to PQ evaluation (--gt with --pred), not to --sweep"),
    (dict(ABL, per_class=True), "--per-class applies to PQ evaluation (--gt with --pred), not to --ablation"),
    (dict(SWEEP, pred_dir="p/"), "--pred-dir applies to PQ evaluation (--gt with --pred), not to --sweep"),
    (
        dict(SWEEP, relations=REL),
        "--relations applies to relation accuracy (--relations, --proposals, --instances), not to --sweep",
    ),
    (
        dict(ABL, instances=INST),
        "--instances applies to relation accuracy (--relations, --proposals, --instances), not to --ablation",
    ),
    (
        {"proposals": PROPS, "sweep": True, "sweep_params": ("rho",)},
        "--sweep needs --gt (the GT panoptic JSON every setting is scored against)",
    ),
    ({"gt": GT, "ablation": True}, "--ablation needs --proposals (the dumped detections to fuse)"),
    (dict(SWEEP, sweep_params=()), "--sweep needs the parameters to vary, e.g. --sweep rho tau gamma"),
    (dict(ABL, sweep_params=("rho",)), "unexpected argument(s) rho with --ablation (parameter names go with --sweep)"),
    (dict(ABL, rho=[0.5, 0.6]), "--ablation takes one value of --rho, got 0.5,0.6 (value lists are for --sweep)"),
    (dict(SWEEP, sweep_params=("alpha",)), "cannot sweep 'alpha'; sweepable parameters: rho, tau, gamma"),
    (dict(SWEEP, tau=[0.5, 0.6]), "tau has 2 values but is not swept; add it to --sweep or give one value"),
    # values (the library's own check; the command line's --rho checks them too)
    (
        dict(SWEEP, rho=[0.5, 1.5]),
        "--rho: 1.5 is not in [0, 1]; expected comma-separated numbers in [0, 1], e.g. --rho 0.5,0.6",
    ),
    (
        dict(SWEEP, gamma=[]),
        "--gamma: empty value list; expected comma-separated numbers in [0, 1], e.g. --gamma 0.5,0.6",
    ),
    (
        dict(SWEEP, rho="0.5,0.6"),
        "--rho: expected comma-separated numbers in [0, 1] as a list, got the string '0.5,0.6'",
    ),
    (dict(SWEEP, tau=[float("nan")]), "--tau: nan is not in [0, 1]"),
    # PQ / relation accuracy
    ({"gt": GT, "pred": PRED, "semantic": "sem/"}, "--semantic applies to --sweep and --ablation only"),
    ({"gt": GT, "pred": PRED, "categories": "c.json"}, "--categories applies to --sweep and --ablation only"),
    (
        {"gt": GT, "pred": PRED, "output": "rows.csv"},
        "--output applies to --sweep, --ablation and --by-category (relation accuracy)",
    ),
    ({"pred": PRED}, "--pred needs --gt"),
    (
        {"gt": GT, "pred": PRED, "relations": REL},
        "relation accuracy needs --relations, --proposals and --instances (missing --proposals, --instances)",
    ),
    (
        {"gt": GT, "proposals": PROPS},
        (
            "relation accuracy needs --relations, --proposals and --instances (missing --relations, --instances); "
            "to fuse the proposals and score PQ, add --sweep PARAM... or --ablation"
        ),
    ),
    (
        dict(RELS, tau=[0.5, 0.6]),
        "relation accuracy takes one value of --tau, got 0.5,0.6 (value lists are for --sweep)",
    ),
    (
        {"gt": GT, "pred": PRED, "rho": [0.5]},
        (
            "--rho applies to --sweep, --ablation and relation accuracy (--relations, --proposals, --instances), "
            "not to PQ alone"
        ),
    ),
    (dict(RELS, check=True), "--check needs --gt and --pred"),
    (dict(RELS, fail_under="PQ=1"), "--fail-under needs a PQ evaluation (--gt and --pred)"),
    (
        dict(RELS, gt=GT),
        (
            "--gt applies to PQ evaluation, which needs --pred too "
            "(relation accuracy takes its GT from --instances and --relations)"
        ),
    ),
    (
        dict(RELS, per_class=True),
        (
            "--per-class applies to PQ evaluation, which needs --pred too "
            "(relation accuracy takes its GT from --instances and --relations)"
        ),
    ),
    ({"gt": GT, "pred": PRED, "fail_under": "XQ=3"}, "--fail-under: 'XQ=3' is not KEY=VALUE with KEY one of"),
    ({"gt": GT, "pred": PRED, "fail_under": {"PQ": "abc"}}, "--fail-under: 'abc' is not a number"),
    ({"gt": GT, "pred": PRED, "decoder": "png"}, "--decoder: unknown decoder 'png'; choose fast or pil"),
    (dict(RELS, variant="authors"), "unknown variant 'authors'; choose one of paper, reference, original"),
]


@pytest.mark.parametrize("fields,message", INVALID, ids=[m[:60] for _, m in INVALID])
def test_invalid_combination_is_a_config_error_with_a_precise_message(fields, message):
    with pytest.raises(ConfigError) as e:
        EvaluateRequest(**fields).plan()
    assert e.value.exit_code == 2
    assert str(e.value).startswith(message), str(e.value)


def test_invalid_request_fails_before_any_file_is_read(tmp_path):
    # none of the paths exist: the combination is checked first
    with pytest.raises(ConfigError, match=re.escape("--sweep fuses the proposals itself")):
        run_evaluate(EvaluateRequest(**dict(SWEEP, pred=PRED)))


# --------------------------------------------------------------------------- valid plans


def test_plans():
    p = EvaluateRequest(gt=GT, pred=PRED).plan()
    assert (p.mode, p.pq, p.relation_params, p.gates, p.grid) == ("evaluate", True, None, {}, [])

    p = EvaluateRequest(gt=GT, pred=PRED, fail_under="pq=50, RQ_st=40.5", **RELS).plan()
    assert p.pq and p.relation_params == FusionParams() and p.gates == {"PQ": 50.0, "RQ_st": 40.5}
    assert EvaluateRequest(gt=GT, pred=PRED, fail_under={"PQ_th": 45}).plan().gates == {"PQ_th": 45.0}

    p = EvaluateRequest(rho=0.5, tau=[0.7], stuff_area=100, variant="reference", **RELS).plan()
    assert not p.pq
    assert p.relation_params == FusionParams(rho=0.5, tau=0.7, stuff_area=100, variant="reference")

    p = EvaluateRequest(**dict(SWEEP, sweep_params=("rho", "tau"), rho=[0.5, 0.6], tau=(0.5, 0.6), gamma=0.4)).plan()
    assert p.mode == "sweep" and p.swept == ["rho", "tau"]
    assert [(g.rho, g.tau, g.gamma) for g in p.grid] == [
        (0.5, 0.5, 0.4),
        (0.5, 0.6, 0.4),
        (0.6, 0.5, 0.4),
        (0.6, 0.6, 0.4),
    ]

    p = EvaluateRequest(**dict(SWEEP, sweep_params=("rho", "tau", "gamma"))).plan()
    assert len(p.grid) == 4 * 4 * 4  # the default lists cover the paper's Table 1

    p = EvaluateRequest(**dict(ABL, rho=[0.5], stuff_area=0)).plan()
    assert p.mode == "ablation" and [lab for lab, _ in p.grid] == ["heuristic", "RA", "RA+CA", "RA+CA+EO"]
    assert all(q.rho == 0.5 and q.tau == 0.6 and q.stuff_area == 0 for _, q in p.grid)


def test_gate_result():
    assert GateResult({"PQ": 1.0}, []).passed
    g = GateResult({"PQ": 99.0, "SQ": 99.0}, ["PQ 50 < 99", "SQ 60 < 99"])
    assert not g.passed and g.message == "quality gate failed: PQ 50 < 99; SQ 60 < 99"


# --------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.pipeline.fuse import fuse
    from rapkit.pipeline.relations import extract_dataset_relations
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("reqworld")
    w = make_world(root / "w", SynthConfig(n_images=3, height=96, width=128, seed=4, render_images=False))
    fuse(w.proposals, w.panoptic, w.categories, root / "fused", FusionParams(), semantic=w.semantic)
    extract_dataset_relations(w.instances, w.panoptic, output=root / "relations.json")
    return w, root


def _recorder():
    calls = []
    return calls, (lambda total, step: calls.append((step, total))), (lambda n: calls.append(("+", n)))


def test_run_pq_relations_and_gate(world):
    from rapkit.pipeline.evaluate import evaluate_pq

    w, root = world
    pred = root / "fused" / "panoptic.json"
    starts, on_start, progress = _recorder()
    req = EvaluateRequest(
        gt=w.panoptic,
        pred=pred,
        relations=root / "relations.json",
        proposals=w.proposals,
        instances=w.instances,
        fail_under="PQ=0,SQ_th=100.5",
    )
    out = run_evaluate(req, on_start=on_start, progress=progress)
    from rapkit.report.evaluate import evaluate_report

    ev = evaluate_pq(w.panoptic, pred)
    assert out.mode == "evaluate" and out.evaluation.result == ev.result
    report = evaluate_report(out)
    assert report.data["All"] == ev.to_dict()["All"] and "relation_accuracy" in report.data
    assert out.to_dict()["pq"]["All"] == ev.to_dict()["All"] and out.to_frame().loc["All", "PQ"] == ev.result.all.pq
    assert out.relation_stats.pairs > 0
    # each step announces its total before its items complete
    assert [s for s in starts if s[0] != "+"] == [("PQ", 3), ("relation accuracy", 3)]
    assert sum(n for s, n in starts if s == "+") == 6
    assert out.gate.bars == {"PQ": 0.0, "SQ_th": 100.5} and not out.gate.passed
    assert out.gate.failed[0].startswith("SQ_th ")
    with pytest.raises(GateFailed, match="quality gate failed: SQ_th"):
        out.raise_for_gate()
    ok = run_evaluate(EvaluateRequest(gt=w.panoptic, pred=pred, fail_under={"PQ": 0}))
    assert ok.gate.passed
    ok.raise_for_gate()
    assert run_evaluate(EvaluateRequest(gt=w.panoptic, pred=pred)).gate is None


def test_run_sweep_and_ablation(world, tmp_path):
    w, _ = world
    lines: list[str] = []
    starts, on_start, progress = _recorder()
    out_csv = tmp_path / "rows.csv"
    req = EvaluateRequest(
        gt=w.panoptic,
        proposals=w.proposals,
        semantic=w.semantic,
        sweep=True,
        sweep_params=("rho",),
        rho=[0.5, 0.7],
        output=out_csv,
    )
    out = run_evaluate(req, on_start=on_start, progress=progress, log=lines.append)
    assert out.mode == "sweep" and out.gate is None and out.sweep.labels == ["baseline", "rho=0.5", "rho=0.7"]
    from rapkit.report.evaluate import evaluate_report

    assert [r["row"] for r in evaluate_report(out).data["rows"]] == ["baseline", "rho=0.5", "rho=0.7"]
    assert list(out.to_frame()["row"]) == ["baseline", "rho=0.5", "rho=0.7"]
    assert starts[0] == ("sweep", 3) and sum(n for s, n in starts if s == "+") == 3
    assert lines[0] == "sweep: 2 setting(s) + baseline" and lines[1] == f"wrote {out_csv}"
    assert out_csv.read_text().startswith("row,strategy,rho")
    # the output is checked before any work: no overwrite without force
    starts.clear()
    with pytest.raises(ConfigError, match="output exists; pass --force"):
        run_evaluate(req, on_start=on_start, progress=progress)
    assert starts == []
    abl = run_evaluate(EvaluateRequest(gt=w.panoptic, proposals=w.proposals, ablation=True))
    assert abl.mode == "ablation" and abl.sweep.labels == ["baseline", "heuristic", "RA", "RA+CA", "RA+CA+EO"]


def test_bad_data_is_an_input_error_and_check_report_comes_first(world, tmp_path):
    w, root = world
    gt = tmp_path / "gt.json"
    shutil.copy(w.panoptic, gt)  # no PNG folder next to it
    with pytest.raises(InputError, match="does not exist") as e:
        run_evaluate(EvaluateRequest(gt=gt, proposals=w.proposals, sweep=True, sweep_params=("rho",)))
    assert e.value.exit_code == 3
    from rapkit.report.evaluate import checks_report

    reports = []
    with pytest.raises(InputError, match="does not exist"):
        run_evaluate(
            EvaluateRequest(gt=gt, pred=root / "fused" / "panoptic.json", check=True),
            on_checks=lambda checks: reports.append(checks_report(checks)),
        )
    assert len(reports) == 1 and reports[0].kind == "check"
    d = json.loads(json.dumps(reports[0].data, default=str))
    assert set(d["check"]["inputs"]) == {"GT", "prediction"}
