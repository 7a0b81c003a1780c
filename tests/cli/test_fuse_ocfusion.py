"""``rapkit fuse --strategy ocfusion``: the proposals' ``occludes`` read and checked (exit 3
naming file, image and proposal), variants, and exact pair decisions from the synthetic
world's depth order beating the heuristic on PQ^Th (tools/exact_occludes.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rapkit.cli import main

TOOL = Path(__file__).resolve().parents[2] / "tools" / "exact_occludes.py"


def exact_occludes():
    spec = importlib.util.spec_from_file_location("exact_occludes", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def exact(synth_world, tmp_path_factory):
    """A small world and its proposals with exact pair decisions (tools/exact_occludes.py)."""
    w = synth_world(n_images=6, height=96, width=128, seed=7, things_per_image=9)
    path = tmp_path_factory.mktemp("ocf") / "exact.json"
    assert exact_occludes().main([str(Path(w.proposals).parent), str(path)]) == 0
    return w, path


def fuse(capsys, w, proposals, out, *extra):
    args = ["--proposals", proposals, "--image-info", w.panoptic, "--categories", w.categories]
    return run(capsys, "fuse", *args, "--semantic", w.semantic, "-o", out, "-q", "--format", "json", *extra)


def test_exact_pair_decisions_beat_the_heuristic_on_things(exact, tmp_path, capsys):
    import rapkit

    w, path = exact
    entries = json.loads(path.read_text())
    assert sum(len(e.get("occludes", [])) for e in entries) > 20
    pq = {}
    for name, extra in (
        ("heuristic", ["--strategy", "heuristic"]),
        ("reference", ["--strategy", "ocfusion"]),
        ("original", ["--strategy", "ocfusion", "--variant", "original"]),
    ):
        code, out, err = fuse(capsys, w, path, tmp_path / name, *extra)
        assert code == 0, err
        assert json.loads(out)["params"]["variant"] == {"heuristic": "paper"}.get(name, name)
        pq[name] = rapkit.evaluate_pq(w.panoptic, tmp_path / name / "panoptic.json").to_dict()["Things"]["pq"]
    print("PQ^Th:", pq)
    assert pq["reference"] > pq["heuristic"] and pq["original"] > pq["heuristic"], pq


def test_occludes_is_checked_for_ocfusion_only(exact, tmp_path, capsys):
    w, path = exact
    entries = json.loads(path.read_text())
    k = next(k for k, e in enumerate(entries) if e.get("occludes"))
    iid = entries[k]["image_id"]
    n = sum(e["image_id"] == iid for e in entries)
    entries[k]["occludes"][0][0] = n  # one past the image's last proposal
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(entries))
    code, out, err = fuse(capsys, w, bad, tmp_path / "o1", "--strategy", "ocfusion")
    assert code == 3 and "Traceback" not in err
    assert "bad.json" in err and f"image {iid}" in err and f"proposal #{k}" in err and "outside the image's" in err
    assert not (tmp_path / "o1").exists()
    # rap and the heuristic do not read the field
    code, _, err = fuse(capsys, w, bad, tmp_path / "o2", "--strategy", "heuristic")
    assert code == 0, err


def test_variant_must_fit_the_strategy(exact, tmp_path, capsys):
    w, path = exact
    code, _, err = fuse(capsys, w, path, tmp_path / "o", "--strategy", "ocfusion", "--variant", "paper")
    assert code == 2 and "does not apply to --strategy ocfusion" in err
    code, _, err = fuse(capsys, w, path, tmp_path / "o", "--strategy", "rap", "--variant", "original")
    assert code == 2 and "does not apply to --strategy rap" in err


# ------------------------------------------------------------------ evaluate: sweep, ablation, relation accuracy


def test_sweep_and_ablation_equal_fuse_then_evaluate(exact, tmp_path, capsys):
    import rapkit

    w, path = exact
    res = rapkit.sweep(
        w.panoptic, path, ["rho", "tau"], rho=[0.5], tau=[0.4, 0.5], semantic=w.semantic, strategy="ocfusion"
    )
    abl = rapkit.ablate(w.panoptic, path, semantic=w.semantic, strategy="ocfusion")
    assert abl.labels == ["baseline", "heuristic", "OCFusion reference", "OCFusion original"]
    for variant in ("reference", "original"):
        out = tmp_path / variant
        rapkit.fuse(path, w.panoptic, w.categories, out, semantic=w.semantic, strategy="ocfusion", variant=variant)
        pq = rapkit.evaluate_pq(w.panoptic, out / "panoptic.json").to_dict()
        row = abl.to_frame().set_index("row").loc[f"OCFusion {variant}"]
        assert (row["PQ"], row["PQ_th"]) == (pq["All"]["pq"], pq["Things"]["pq"])  # bit for bit
        if variant == "reference":
            row = res.to_frame().set_index("row").loc["rho=0.5 tau=0.5"]
            assert row["PQ_th"] == pq["Things"]["pq"] and row["strategy"] == "ocfusion"
    # the command line: --strategy ocfusion; no gamma for it; no strategy for PQ alone
    args = ["--gt", w.panoptic, "--proposals", path, "--semantic", w.semantic, "--format", "json", "-q"]
    code, out, err = run(capsys, "evaluate", "--sweep", "rho", "--rho", "0.5,0.6", "--strategy", "ocfusion", *args)
    assert code == 0, err
    assert [r["strategy"] for r in json.loads(out)["rows"]] == ["heuristic", "ocfusion", "ocfusion"]
    code, _, err = run(capsys, "evaluate", "--sweep", "rho", "gamma", "--strategy", "ocfusion", *args)
    assert code == 2 and "strategy ocfusion has no gamma" in err
    code, _, err = run(capsys, "evaluate", "--ablation", "--gamma", "0.4", "--strategy", "ocfusion", *args)
    assert code == 2 and "no gamma" in err
    code, _, err = run(capsys, "evaluate", "--gt", w.panoptic, "--pred", tmp_path / "reference" / "panoptic.json",
                       "--strategy", "ocfusion")  # fmt: skip
    assert code == 2 and "--strategy applies to --sweep" in err


def test_relation_accuracy_scores_the_heads_decisions(exact, tmp_path):
    import rapkit
    from rapkit.pipeline.relations import extract_dataset_relations

    w, path = exact
    rel = tmp_path / "rel.json"
    extract_dataset_relations(w.instances, w.panoptic, output=rel)
    flipped = tmp_path / "flipped.json"
    entries = json.loads(path.read_text())
    for e in entries:
        e["occludes"] = [[k, -v] for k, v in e.get("occludes", [])]
    flipped.write_text(json.dumps(entries))
    for protocol in ("rapkit", "authors"):
        for variant in ("reference", "original"):
            kw = dict(relations=rel, instances=w.instances, strategy="ocfusion", variant=variant, protocol=protocol)
            good = rapkit.evaluate_relations(proposals=path, **kw).summary
            bad = rapkit.evaluate_relations(proposals=flipped, **kw).summary
            assert good["fusion_pairs"] > 5, (protocol, variant, good)
            print(protocol, variant, good["fusion_accuracy"], good["fusion_score_order_accuracy"], good["fusion_pairs"])
            assert good["fusion_accuracy"] > good["fusion_score_order_accuracy"]
            assert bad["fusion_accuracy"] < good["fusion_accuracy"]
