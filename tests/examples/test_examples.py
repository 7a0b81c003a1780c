"""Every script in examples/ runs, on a small synthetic world built here (``rapkit.synth``).

* ``api_numpy.py`` runs as is;
* ``from_detectron2.py``, ``from_mmdet.py``, ``from_torchvision.py`` run with ``--demo``
  (outputs shaped like each framework's), and their files go through ``rapkit fuse`` and
  ``rapkit evaluate`` (exit 0);
* ``from_torchvision.py`` also runs a real torchvision Mask R-CNN (random initialisation, eval
  mode: the session's test detector, tests/conftest.py), and its output is
  accepted by ``rapkit fuse`` and ``rapkit evaluate``;
* ``coco_workflow.sh`` runs end to end in tests/docs/test_docs_run.py (every examples/*.sh,
  in the documented COCO layout, with a short training), which also checks its outputs.

Torch-dependent tests skip cleanly without torch/torchvision. Kept small (6 images of
96x128, 5 detections per image) for a loaded 2-core machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rapkit.cli import main as rapkit_main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FRAMEWORKS = ("detectron2", "mmdet", "torchvision")
KNOWN = {"coco_workflow.sh", "api_numpy.py", *(f"from_{f}.py" for f in FRAMEWORKS)}
H, W = 96, 128


def env() -> dict[str, str]:
    e = dict(os.environ, RAPKIT_PROGRESS="0", RAPKIT_FSYNC="0", OMP_NUM_THREADS="1")
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e.get("PATH", "")
    return e


def rapkit(*args) -> None:
    with pytest.raises(SystemExit) as e:
        rapkit_main([str(a) for a in args] + ["-q"])
    assert e.value.code == 0, f"rapkit {' '.join(map(str, args))} exited {e.value.code}"


def fuse_and_evaluate(world, src: Path, out: Path, semantic: bool = True) -> None:
    """The adapters' files through `rapkit fuse` and `rapkit evaluate` (exit 0 each)."""
    extra = ["--semantic", src / "semantic"] if semantic else []
    rapkit(
        "fuse",
        "--proposals",
        src / "proposals.json",
        "--image-info",
        src / "images.json",
        "--categories",
        world.categories,
        *extra,
        "--strategy",
        "heuristic",
        "--stuff-area",
        "64",
        "-o",
        out,
    )
    rapkit("evaluate", "--gt", world.panoptic, "--pred", out / "panoptic.json")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    return make_world(tmp_path_factory.mktemp("examples") / "world", SynthConfig(n_images=6, height=H, width=W, seed=5))


@pytest.fixture(scope="module")
def checkpoint(test_detector):
    """The session's randomly initialised torchvision Mask R-CNN (resnet18_fpn, COCO's 91
    classes), the copy nudged to detect the world's ``cup`` (tests/conftest.py), saved as a
    state dict (the form rapkit.model.detector loads)."""
    return test_detector.detecting_path


def test_every_example_is_tested_and_has_a_header():
    names = {p.name for p in EXAMPLES.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert names == KNOWN, "a new example needs a test here"
    for name in names:
        head = (EXAMPLES / name).read_text().splitlines()[:25]
        assert any("What it shows" in line for line in head), f"{name}: no 'What it shows' header"


def test_api_numpy():
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / "api_numpy.py")],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("heuristic: cup keeps    0") and lines[1].startswith("RAP      : cup keeps  525 of 525")
    assert "in 3 shards: PQ" in lines[2]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_demo_outputs_are_accepted_by_fuse_and_evaluate(world, tmp_path, framework):
    out = tmp_path / "converted"
    r = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / f"from_{framework}.py"),
            "--demo",
            "--image-info",
            str(world.panoptic),
            "--categories",
            str(world.categories),
            "-o",
            str(out),
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    props = json.loads((out / "proposals.json").read_text())
    assert props and {p["image_id"] for p in props} <= {
        i["id"] for i in json.loads(world.panoptic.read_text())["images"]
    }
    assert len(list((out / "semantic").glob("*.png"))) == 6
    fuse_and_evaluate(world, out, tmp_path / "fused")


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_from_torchvision_on_a_real_model(world, checkpoint, tmp_path, capsys):
    """A real torchvision Mask R-CNN's output (random weights, eval mode, every detection
    kept: --score-threshold 0) -> files that `rapkit fuse` and `rapkit evaluate` accept."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _load_example("from_torchvision").main(
            [
                "--detector",
                str(checkpoint),
                "--arch",
                "resnet18_fpn",
                "--min-size",
                str(H),
                "--max-size",
                str(W),
                "--score-threshold",
                "0",
                "--max-detections",
                "5",
                "--rpn-top-n",
                "50",
                "--images",
                str(world.images_dir),
                "--image-info",
                str(world.panoptic),
                "--categories",
                str(world.categories),
                "-o",
                str(tmp_path / "tv"),
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert "wrote 30 proposal(s) for 6 image(s)" in capsys.readouterr().out
    props = json.loads((tmp_path / "tv" / "proposals.json").read_text())
    things = {c["id"] for c in json.loads(world.categories.read_text()) if c["isthing"]}
    assert len(props) == 30 and {p["category_id"] for p in props} <= things
    assert all(p["segmentation"]["size"] == [H, W] and 0.0 <= p["score"] <= 1.0 for p in props)
    fuse_and_evaluate(world, tmp_path / "tv", tmp_path / "fused", semantic=False)
