"""``rapkit extract-relations`` end to end: synthetic worlds on disk, outputs, bad input."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rapkit.cli import main
from rapkit.io.relations import read_relations
from rapkit.pipeline.relations import extract_dataset_relations
from rapkit.synth import SynthConfig, generate_image, make_world

CFG = SynthConfig(n_images=12, height=120, width=160, seed=3, render_images=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("w") / "world", CFG)


@pytest.fixture
def wcopy(world, tmp_path):
    """A private, editable copy of the world."""
    dst = tmp_path / "world"
    shutil.copytree(world.root, dst)
    return dst


def cli(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def truth(theta: float) -> set[tuple[int, int, int]]:
    out = set()
    for k in range(CFG.n_images):
        img = generate_image(CFG, k)
        things = [i for i in img.instances if not i.iscrowd]
        for a, b in itertools.combinations(things, 2):
            o = a.mask & b.mask
            ov = int(o.sum())
            if ov and (ov / a.mask.sum() > theta or ov / b.mask.sum() > theta):
                f, bk = (a, b) if a.depth < b.depth else (b, a)
                if (img.id_map[o] == f.id).any():
                    out.add((img.image_id, f.id, bk.id))
    return out


@pytest.mark.parametrize("theta", [0.05, 0.2, 0.5])
def test_files_on_disk_give_the_generators_truth(world, tmp_path, capsys, theta):
    out = tmp_path / "rel.json"
    code, stdout, err = cli(
        capsys,
        "extract-relations",
        "--instances",
        world.instances,
        "--panoptic",
        world.panoptic,
        "--theta",
        theta,
        "-o",
        out,
        "--format",
        "json",
        "--quiet",
    )
    assert code == 0, err
    rf = read_relations(out)
    got = set(rf.pairs())
    assert len(got) == len(rf.pairs())
    assert got == truth(theta)
    summary = json.loads(stdout)
    assert summary["totals"]["relations"] == len(got) == rf.totals["relations"]
    assert rf.theta == theta and rf.rule == "paper" and rf.totals["images"] == CFG.n_images


def test_workers_give_identical_bytes_and_rap_instances(world, tmp_path, capsys):
    a, b, rap = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "rap.json"
    base = ["extract-relations", "--instances", world.instances, "--panoptic", world.panoptic, "--quiet"]
    assert cli(capsys, *base, "-o", a, "--workers", 1)[0] == 0
    code, stdout, err = cli(capsys, *base, "-o", b, "--workers", 2, "--rap-instances", rap, "--format", "table")
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
    assert "relations" in stdout and "candidate pairs" in stdout
    src = json.loads(Path(world.instances).read_text())
    doc = json.loads(rap.read_text())
    assert len(doc["annotations"]) == len(src["annotations"])
    on_top: dict[int, list[int]] = {}
    for _, f, bk in read_relations(a).pairs():
        on_top.setdefault(bk, []).append(f)
    for s, d in zip(src["annotations"], doc["annotations"]):
        assert {k: v for k, v in d.items() if k != "overlap"} == s
        assert d["overlap"] == on_top.get(s["id"], [])
    assert doc["images"] == src["images"] and doc["categories"] == src["categories"]


def test_csv_summary_and_deficit_rule(world, tmp_path, capsys):
    out = tmp_path / "d.json"
    code, stdout, _ = cli(
        capsys,
        "extract-relations",
        "--instances",
        world.instances,
        "--panoptic",
        world.panoptic,
        "--rule",
        "deficit",
        "-o",
        out,
        "--format",
        "csv",
        "-q",
    )
    assert code == 0
    assert stdout.splitlines()[0] == "total,count" and any(r.startswith("relations,") for r in stdout.splitlines())
    assert read_relations(out).rule == "deficit"


def test_matching_bbox_through_the_cli(world, tmp_path, capsys):
    """``--rule deficit --matching bbox`` writes what the library call gives, and says so in
    the file's parameters and the summary."""
    out = tmp_path / "a.json"
    args = ["extract-relations", "--instances", world.instances, "--panoptic", world.panoptic, "-o", out]
    code, stdout, err = cli(capsys, *args, "--rule", "deficit", "--matching", "bbox")
    assert code == 0, err
    assert "rule = deficit, matching = bbox" in stdout
    rf = read_relations(out)
    assert (rf.rule, rf.matching) == ("deficit", "bbox")
    run = extract_dataset_relations(world.instances, world.panoptic, rule="deficit", matching="bbox")
    assert rf.pairs() == [(r.image_id, r.front, r.back) for im in run.images for r in im.relations]
    assert json.loads(out.read_text())["parameters"]["matching"] == "bbox"
    code, _, err = cli(capsys, *args, "--force", "--matching", "iou")
    assert code == 2 and "'iou' is not one of 'pixels', 'bbox'" in err


def test_existing_output_needs_force(world, tmp_path, capsys):
    out = tmp_path / "rel.json"
    out.write_text("keep me")
    args = ["extract-relations", "--instances", world.instances, "--panoptic", world.panoptic, "-o", out, "-q"]
    code, _, err = cli(capsys, *args)
    assert code == 2 and "--force" in err and out.read_text() == "keep me"
    code, _, err = cli(capsys, *args, "--force")
    assert code == 0 and read_relations(out).totals["images"] == CFG.n_images
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel.json"]  # no temporaries left


# --------------------------------------------------------------------------- bad input


def _load(p: Path):
    return json.loads(p.read_text())


def _save(p: Path, obj) -> None:
    p.write_text(json.dumps(obj))


def _image_with_things(root: Path) -> tuple[int, dict]:
    pan = _load(root / "panoptic.json")
    for a in pan["annotations"]:
        if any(s["category_id"] < 100 and not s["iscrowd"] for s in a["segments_info"]):
            return a["image_id"], a
    raise AssertionError("no image with things")


def break_missing_png(root: Path) -> tuple[str, int]:
    iid, a = _image_with_things(root)
    (root / "panoptic" / a["file_name"]).unlink()
    return a["file_name"], iid


def break_png_size(root: Path) -> tuple[str, int]:
    from PIL import Image

    iid, a = _image_with_things(root)
    p = root / "panoptic" / a["file_name"]
    with Image.open(p) as im:
        im.load()
        small = im.crop((0, 0, im.width - 4, im.height))
    small.save(p)
    return a["file_name"], iid


def break_png_id(root: Path) -> tuple[str, int]:
    pan = _load(root / "panoptic.json")
    iid, a = _image_with_things(root)
    for ann in pan["annotations"]:
        if ann["image_id"] == iid:
            ann["segments_info"] = [s for s in ann["segments_info"] if s["category_id"] < 100][1:] + [
                s for s in ann["segments_info"] if s["category_id"] >= 100
            ]
    _save(root / "panoptic.json", pan)
    return a["file_name"], iid


def break_malformed_json(root: Path) -> tuple[str, None]:
    p = root / "instances.json"
    p.write_text(p.read_text()[:-40])
    return "instances.json", None


def break_not_coco(root: Path) -> tuple[str, None]:
    _save(root / "instances.json", {"hello": [1, 2, 3]})
    return "instances.json", None


def break_panoptic_as_instances(root: Path) -> tuple[str, None]:
    shutil.copy(root / "panoptic.json", root / "instances.json")
    return "instances.json", None


def _first_thing_ann(inst: dict) -> dict:
    return next(a for a in inst["annotations"] if not a["iscrowd"])


def break_unknown_category(root: Path) -> tuple[str, int]:
    inst = _load(root / "instances.json")
    a = _first_thing_ann(inst)
    a["category_id"] = 4242
    _save(root / "instances.json", inst)
    return "instances.json", a["image_id"]


def break_short_polygon(root: Path) -> tuple[str, int]:
    inst = _load(root / "instances.json")
    a = _first_thing_ann(inst)
    a["segmentation"] = [[1.0, 1.0, 20.0, 1.0]]
    _save(root / "instances.json", inst)
    return "instances.json", a["image_id"]


def break_rle_size(root: Path) -> tuple[str, int]:
    inst = _load(root / "instances.json")
    a = _first_thing_ann(inst)
    a["segmentation"] = {"size": [CFG.height, CFG.width + 1], "counts": [CFG.height * (CFG.width + 1)]}
    _save(root / "instances.json", inst)
    return "instances.json", a["image_id"]


def break_unknown_image(root: Path) -> tuple[str, int]:
    inst = _load(root / "instances.json")
    a = _first_thing_ann(inst)
    a["image_id"] = 987654
    _save(root / "instances.json", inst)
    return "instances.json", 987654


def break_no_panoptic_annotation(root: Path) -> tuple[str, int]:
    pan = _load(root / "panoptic.json")
    iid, _ = _image_with_things(root)
    pan["annotations"] = [a for a in pan["annotations"] if a["image_id"] != iid]
    _save(root / "panoptic.json", pan)
    return "panoptic.json", iid


def break_image_sizes_disagree(root: Path) -> tuple[str, int]:
    pan = _load(root / "panoptic.json")
    iid, _ = _image_with_things(root)
    next(im for im in pan["images"] if im["id"] == iid)["height"] += 2
    _save(root / "panoptic.json", pan)
    return "panoptic.json", iid


BREAKERS = [
    break_no_panoptic_annotation,
    break_image_sizes_disagree,
    break_missing_png,
    break_png_size,
    break_png_id,
    break_malformed_json,
    break_not_coco,
    break_panoptic_as_instances,
    break_unknown_category,
    break_short_polygon,
    break_rle_size,
    break_unknown_image,
]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__[6:])
def test_bad_input_exit_3_names_file_and_image(wcopy, tmp_path, capsys, breaker):
    fname, iid = breaker(wcopy)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, rap = out_dir / "rel.json", out_dir / "rap.json"
    code, stdout, err = cli(
        capsys,
        "extract-relations",
        "--instances",
        wcopy / "instances.json",
        "--panoptic",
        wcopy / "panoptic.json",
        "-o",
        out,
        "--rap-instances",
        rap,
        "-q",
        "-j",
        2,
    )
    assert code == 3, err
    assert "Traceback" not in err and err.startswith("rapkit: error: ")
    assert fname in err
    if iid is not None:
        assert f"image {iid}" in err
    assert list(out_dir.iterdir()) == []  # nothing left behind


def test_output_must_not_overwrite_an_input(wcopy, capsys):
    code, _, err = cli(
        capsys,
        "extract-relations",
        "--instances",
        wcopy / "instances.json",
        "--panoptic",
        wcopy / "panoptic.json",
        "-o",
        wcopy / "r.json",
        "--rap-instances",
        wcopy / "instances.json",
        "--force",
    )
    assert code == 2 and "overwrite" in err
    assert _load(wcopy / "instances.json")["annotations"][0].get("overlap") is None


def test_messages_are_precise(wcopy, capsys):
    break_short_polygon(wcopy)
    inst = _load(wcopy / "instances.json")
    a = _first_thing_ann(inst)
    code, _, err = cli(
        capsys,
        "extract-relations",
        "--instances",
        wcopy / "instances.json",
        "--panoptic",
        wcopy / "panoptic.json",
        "-o",
        wcopy / "r.json",
    )
    assert code == 3 and f"annotation {a['id']}" in err and "at least 3" in err


def test_subprocess_error_has_no_traceback(wcopy):
    break_png_id(wcopy)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "rapkit",
            "extract-relations",
            "--instances",
            str(wcopy / "instances.json"),
            "--panoptic",
            str(wcopy / "panoptic.json"),
            "-o",
            str(wcopy / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 3 and "Traceback" not in r.stderr and "not in segments_info" in r.stderr
    assert not (wcopy / "r.json").exists()


def test_help_has_an_example(capsys):
    code, out, _ = cli(capsys, "extract-relations", "--help")
    assert code == 0 and "Example: rapkit extract-relations" in out


# --------------------------------------------------------------------------- real COCO sample

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"


def test_coco_sample_relations(tmp_path):
    # the detection-format file was derived from the panoptic map: masks do not overlap, every
    # non-crowd thing finds its own segment, and no pair can be in front of another.
    run = extract_dataset_relations(SAMPLE / "panoptic_coco_detection_format.json", SAMPLE / "panoptic_examples.json")
    t = run.totals
    assert t["images"] == 2 and t["instances"] == 40 and t["crowd"] == 3
    assert t["matched"] == 40 and t["unmatched"] == 0 and t["relations"] == 0 and t["candidate_pairs"] == 0
    det = json.loads((SAMPLE / "panoptic_coco_detection_format.json").read_text())
    pan = json.loads((SAMPLE / "panoptic_examples.json").read_text())
    # annotation k of the detection file is the k-th segment (in order) of the panoptic file
    seg_ids = [s["id"] for a in pan["annotations"] for s in a["segments_info"]]
    det_to_seg = {d["id"]: seg_ids[k] for k, d in enumerate(det["annotations"])}
    for r in run.images:
        for inst, seg in r.matches.items():
            assert det_to_seg[inst] == seg
