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
