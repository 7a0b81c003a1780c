"""``rapkit fuse``: outputs, determinism, panopticapi compatibility, bad input (exit 3), --force."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rapkit.cli import main
from rapkit.io.panoptic import read_id_map, rgb2id
from rapkit.io.png_write import encode_id_map_png


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("fuse")
    return make_world(root / "w", SynthConfig(n_images=3, height=96, width=128, seed=3, render_images=False))


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def base_args(world, out, **over):
    a = {
        "--proposals": world.proposals,
        "--image-info": world.instances,
        "--categories": world.categories,
        "--semantic": world.semantic,
        "-o": out,
    }
    a.update(over)
    return [x for k, v in a.items() if v is not None for x in (k, v)]


def test_fuse_writes_panoptic_output_that_panopticapi_evaluates(world, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "fuse", *base_args(world, out), "--format", "json", "-q")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["images"] == 3 and summary["proposals"] > 0
    assert summary["kept"] + sum(summary["dropped"].values()) == summary["proposals"]
    pj = json.loads((out / "panoptic.json").read_text())
    assert len(pj["annotations"]) == 3 and sorted(p.name for p in (out / "panoptic").iterdir()) == sorted(
        a["file_name"] for a in pj["annotations"]
    )
    for ann in pj["annotations"]:
        ids = read_id_map(out / "panoptic" / ann["file_name"])
        segs = {s["id"]: s for s in ann["segments_info"]}
        present = set(np.unique(ids).tolist()) - {0}
        assert present == set(segs)
        for sid, s in segs.items():
            assert s["area"] == int((ids == sid).sum())
            assert set(s) >= {"id", "category_id", "area", "bbox", "iscrowd"}
    from panopticapi.evaluation import pq_compute

    res = pq_compute(
        str(world.panoptic),
        str(out / "panoptic.json"),
        gt_folder=str(world.panoptic_dir),
        pred_folder=str(out / "panoptic"),
    )
    assert 0.3 < res["All"]["pq"] <= 1.0


def test_fuse_is_deterministic_and_worker_count_does_not_matter(world, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, "fuse", *base_args(world, a), "-q", "--strategy", "heuristic")[0] == 0
    assert run(capsys, "fuse", *base_args(world, b), "-q", "--strategy", "heuristic", "--workers", "2")[0] == 0
    assert (a / "panoptic.json").read_bytes() == (b / "panoptic.json").read_bytes()
    for p in (a / "panoptic").iterdir():
        assert p.read_bytes() == (b / "panoptic" / p.name).read_bytes()


def test_force_and_switches(world, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, "fuse", *base_args(world, out), "-q")[0] == 0
    code, _, err = run(capsys, "fuse", *base_args(world, out), "-q")
    assert code == 2 and "--force" in err
    code, stdout, _ = run(
        capsys,
        "fuse",
        *base_args(world, out),
        "-q",
        "--force",
        "--no-ra",
        "--no-ca",
        "--no-eo",
        "--rho",
        "0.5",
        "--tau",
        "0.5",
        "--format",
        "json",
    )
    assert code == 0
    heur = json.loads(
        run(capsys, "fuse", *base_args(world, tmp_path / "h"), "-q", "--strategy", "heuristic", "--format", "json")[1]
    )
    s = json.loads(stdout)
    assert s["kept"] == heur["kept"] and s["params"]["ra"] is False


def test_fuse_help_has_example(capsys):
    code, out, _ = run(capsys, "fuse", "--help")
    assert code == 0 and "Example: rapkit fuse" in out and "--no-eo" in out


# --------------------------------------------------------------------------- bad input


def edit_proposals(world, tmp_path, fn):
    data = json.loads(Path(world.proposals).read_text())
    fn(data)
    p = tmp_path / "bad_proposals.json"
    p.write_text(json.dumps(data))
    return p


def first_image(world):
    return json.loads(Path(world.instances).read_text())["images"][0]


CASES = {
    "rle_size": (
        lambda d: d[1]["segmentation"].__setitem__("size", [10, 10]),
        "proposal #1: RLE size [10, 10] differs",
    ),
    "unknown_category": (lambda d: d[2].__setitem__("category_id", 999), "proposal #2: unknown category 999"),
    "stuff_category": (lambda d: d[2].__setitem__("category_id", 187), "is a stuff category"),
    "nan_relation": (lambda d: d[0].__setitem__("relation", float("nan")), "proposal #0 has no relation value"),
    "missing_relation": (lambda d: d[3].pop("relation"), "proposal #3 has no relation value"),
    "score_high": (lambda d: d[1].__setitem__("score", 1.5), "proposal #1: score must be a number in [0, 1]"),
    "score_negative": (lambda d: d[1].__setitem__("score", -0.1), "proposal #1: score must be a number in [0, 1]"),
    "unknown_image": (
        lambda d: d[4].__setitem__("image_id", 123456),
        "proposal #4 is for an image that is not in the image list",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_proposals_exit_3_with_precise_message_and_no_output(world, tmp_path, capsys, case):
    fn, msg = CASES[case]
    bad = edit_proposals(world, tmp_path, fn)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "fuse", *base_args(world, out, **{"--proposals": bad}), "-q")
    assert code == 3, err
    assert msg in err and "bad_proposals.json" in err and "image " in err and "Traceback" not in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad_proposals.json"]


def test_missing_relation_is_fine_for_the_heuristic(world, tmp_path, capsys):
    bad = edit_proposals(world, tmp_path, lambda d: d[3].pop("relation"))
    args = base_args(world, tmp_path / "out", **{"--proposals": bad})
    assert run(capsys, "fuse", *args, "-q", "--strategy", "heuristic")[0] == 0
    assert run(capsys, "fuse", *base_args(world, tmp_path / "o2", **{"--proposals": bad}), "-q", "--no-ra")[0] == 0


def semantic_copy(world, tmp_path, fn):
    d = tmp_path / "sem"
    shutil.copytree(world.semantic, d)
    name = Path(first_image(world)["file_name"]).stem + ".png"
    arr = np.asarray(Image.open(d / name))
    Image.fromarray(fn(arr.copy())).save(d / name)
    return d, name


def test_semantic_png_of_the_wrong_size(world, tmp_path, capsys):
    sem, name = semantic_copy(world, tmp_path, lambda a: a[:-1])
    out = tmp_path / "out"
    code, _, err = run(capsys, "fuse", *base_args(world, out, **{"--semantic": sem}), "-q")
    assert code == 3 and name in err and "semantic PNG is 128x95 but the image is 128x96" in err
    assert f"image {first_image(world)['id']}" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["sem"]


def test_semantic_png_with_unknown_ids(world, tmp_path, capsys):
    def poke(a):
        a[0, 0] = 77
        return a

    sem, name = semantic_copy(world, tmp_path, poke)
    out = tmp_path / "out"
    code, _, err = run(capsys, "fuse", *base_args(world, out, **{"--semantic": sem}), "-q")
    assert code == 3 and "holds label(s) 77" in err and name in err
    assert not out.exists()


def test_semantic_coco_stuff_json(world, tmp_path, capsys):
    from pycocotools import mask as cm

    entries = []
    for im in json.loads(Path(world.instances).read_text())["images"]:
        arr = np.asarray(Image.open(Path(world.semantic) / (Path(im["file_name"]).stem + ".png")))
        for c in np.unique(arr):
            if c in (0, 255):
                continue
            r = cm.encode(np.asfortranarray((arr == c).astype(np.uint8)))
            entries.append(
                {
                    "image_id": im["id"],
                    "category_id": int(c),
                    "segmentation": {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode()},
                }
            )
    sj = tmp_path / "stuff.json"
    sj.write_text(json.dumps(entries))
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, "fuse", *base_args(world, a), "-q")[0] == 0
    assert run(capsys, "fuse", *base_args(world, b, **{"--semantic": sj}), "-q")[0] == 0
    for p in (a / "panoptic").iterdir():
        assert p.read_bytes() == (b / "panoptic" / p.name).read_bytes()
    entries[0]["category_id"] = 77
    sj.write_text(json.dumps(entries))
    code, _, err = run(capsys, "fuse", *base_args(world, tmp_path / "c", **{"--semantic": sj}), "-q")
    assert code == 3 and "entry #0: unknown category 77" in err


# --------------------------------------------------------------------------- PNG writer


def test_png_writer_round_trips_through_pil_and_the_fast_reader(tmp_path):
    from rapkit.io.png import read_id_map_fast

    rng = np.random.default_rng(0)
    for h, w in [(1, 1), (3, 7), (64, 50), (5, 700)]:
        ids = rng.integers(0, 1 << 24, (h, w)).astype(np.uint32)
        ids[h // 2 :, : w // 2] = 5
        ids[:, w // 3 : w // 2] = 0
        for level in (None, 2):
            data = encode_id_map_png(ids, level)
            with Image.open(io.BytesIO(data)) as im:
                assert im.mode == "RGB"
                assert np.array_equal(rgb2id(np.asarray(im)), ids)
            assert encode_id_map_png(ids, level) == data
            p = tmp_path / f"{h}_{w}_{level}.png"
            p.write_bytes(data)
            assert np.array_equal(read_id_map_fast(p), ids)
    with pytest.raises(ValueError):
        encode_id_map_png(np.full((2, 2), 1 << 24, np.uint32))
