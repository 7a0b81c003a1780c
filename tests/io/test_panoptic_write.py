"""io/panoptic.py and io/relations.py: the fused-output writer, the relations writers, and
the panoptic JSON validators shared by ``load_panoptic`` and ``rapkit check``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rapkit.errors import ConfigError, InputError
from rapkit.io.panoptic import (
    PANOPTIC_DIR,
    PANOPTIC_JSON,
    Issue,
    load_panoptic,
    panoptic_output,
    read_id_map,
    scan_annotations,
    scan_panoptic,
)
from rapkit.io.png_write import write_id_map_png_fast, write_id_runs_png
from rapkit.io.relations import check_relations_outputs, read_relations, write_relations_outputs
from rapkit.types import Category, ImageInfo, ImageRelations, Relation

CATS = {1: Category(1, "person", True), 2: Category(2, "sky", False)}


def test_panoptic_output_writes_folder_and_json(tmp_path):
    out_dir = tmp_path / "fused"
    ids = np.array([[1, 1], [0, 2]], np.uint32)
    with panoptic_output(out_dir) as out:
        write_id_map_png_fast(out.png_path("a.png"), ids)
        ann = {"image_id": 7, "file_name": "a.png", "segments_info": []}
        out.write_json([ImageInfo(7, "a.jpg", 2, 2)], [ann], CATS.values())
    assert sorted(p.name for p in out_dir.iterdir()) == [PANOPTIC_DIR, PANOPTIC_JSON]
    doc = json.loads((out_dir / PANOPTIC_JSON).read_text())
    assert list(doc) == ["images", "annotations", "categories"]
    assert doc["images"] == [{"id": 7, "file_name": "a.jpg", "height": 2, "width": 2}]
    assert np.array_equal(read_id_map(out_dir / PANOPTIC_DIR / "a.png"), ids)


def test_png_from_row_runs_has_the_bytes_of_the_id_map_writer(tmp_path):
    from rapkit.kernels.png_encode import row_runs

    rng = np.random.default_rng(5)
    ids = np.zeros((37, 53), np.uint32)
    for _ in range(12):  # overlapping blocks, ids up to 3 bytes
        y, x = rng.integers(0, 37), rng.integers(0, 53)
        ids[y : y + rng.integers(1, 20), x : x + rng.integers(1, 30)] = rng.integers(0, 1 << 24)
    a = write_id_map_png_fast(tmp_path / "a.png", ids)
    b = write_id_runs_png(tmp_path / "b.png", row_runs(ids), 37, 53)
    assert a.read_bytes() == b.read_bytes()
    assert np.array_equal(read_id_map(b), ids)
    with pytest.raises(ValueError, match="rows"):
        write_id_runs_png(tmp_path / "c.png", row_runs(ids), 36, 53)


def test_panoptic_output_leaves_nothing_on_error_and_needs_force(tmp_path):
    out_dir = tmp_path / "fused"
    with pytest.raises(RuntimeError):
        with panoptic_output(out_dir) as out:
            write_id_map_png_fast(out.png_path("a.png"), np.ones((2, 2), np.uint32))
            raise RuntimeError("worker failed")
    assert not [q.name for q in tmp_path.iterdir() if "fused" in q.name]  # no output, no temporary
    with panoptic_output(out_dir) as out:
        out.write_json([], [], [])
    with pytest.raises(ConfigError, match="--force"):
        with panoptic_output(out_dir):
            pass
    with panoptic_output(out_dir, force=True) as out:
        out.write_json([ImageInfo(1, "", 1, 1)], [], [])
    assert json.loads((out_dir / PANOPTIC_JSON).read_text())["images"][0]["id"] == 1


def _rels():
    return [ImageRelations(3, [Relation(3, 11, 12, 5, 0.5, 0.25, 4, 1)], n_instances=2)]


def test_write_relations_outputs(tmp_path):
    rel, rap = tmp_path / "rel.json", tmp_path / "rap.json"
    instances = {"images": [], "annotations": [{"id": 11}, {"id": 12}]}
    got = write_relations_outputs(
        rel, _rels(), theta=0.2, rule="paper", totals={"relations": 1}, rap_instances=rap, instances=instances
    )
    assert got == {"rap_instances": str(rap), "relations": str(rel)}
    assert read_relations(rel).pairs() == [(3, 11, 12)]
    assert [a["overlap"] for a in json.loads(rap.read_text())["annotations"]] == [[], [11]]
    with pytest.raises(ConfigError, match="--force"):
        check_relations_outputs(rel, None, [], force=False)
    with pytest.raises(ConfigError, match="must differ"):
        check_relations_outputs(tmp_path / "x.json", tmp_path / "x.json", [], force=False)
    with pytest.raises(ConfigError, match="overwrite this input"):
        check_relations_outputs(tmp_path / "x.json", None, [tmp_path / "x.json"], force=False)


def test_write_relations_outputs_serialises_before_writing(tmp_path):
    rel, rap = tmp_path / "rel.json", tmp_path / "rap.json"
    bad = {"annotations": [{"id": 12, "x": float("nan")}]}  # not valid JSON: nothing may be written
    with pytest.raises(ValueError):
        write_relations_outputs(rel, _rels(), theta=0.2, rule="paper", totals={}, rap_instances=rap, instances=bad)
    assert not [q.name for q in tmp_path.iterdir() if "rel" in q.name or "rap" in q.name]


def _doc():
    return {
        "images": [{"id": 1, "file_name": "1.jpg", "height": 2, "width": 2}],
        "categories": [{"id": 1, "name": "person", "isthing": 1}],
        "annotations": [
            {
                "image_id": 1,
                "file_name": "1.png",
                "segments_info": [
                    {"id": 5, "category_id": 1, "area": 3},
                    {"id": 5, "category_id": 1, "area": 3},  # duplicate
                    {"id": 0, "category_id": 1, "area": 1},  # VOID id
                    {"id": 6, "category_id": 9, "area": 1},  # unknown category
                    {"id": "x", "category_id": 1},  # not an integer
                    {"id": 7, "category_id": 1, "iscrowd": 2},  # no area (GT), odd iscrowd
                ],
            },
            {"image_id": 1, "segments_info": []},  # second annotation of image 1
            {"image_id": ["two"], "segments_info": []},  # neither an integer nor a string
            {"segments_info": []},  # no image id
        ],
    }


def test_scan_collects_every_problem_load_stops_at_the_first(tmp_path):
    p = tmp_path / "pan.json"
    p.write_text(json.dumps(_doc()))
    scan = scan_panoptic(p)
    kinds = [(i.level, i.kind, i.image_id, i.segment_id) for i in scan.issues]
    assert kinds == [
        ("error", "duplicate_segment_id", 1, 5),
        ("error", "segment_id_zero", 1, 0),
        ("error", "unknown_category", 1, 6),
        ("error", "segment", 1, None),
        ("error", "no_area", 1, 7),
        ("warning", "iscrowd", 1, 7),
        ("error", "duplicate_image", 1, None),
        ("error", "annotation", None, None),
        ("error", "annotation", None, None),
    ]
    assert [e.image_id for e in scan.annotations] == [1]
    assert scan.annotations[0].n_entries == 6
    assert [sid for sid, _, _ in scan.annotations[0].segments] == [5, 0, 6, 7]
    with pytest.raises(InputError, match="duplicate segment id") as e:
        load_panoptic(p)
    assert (e.value.image_id, e.value.segment_id) == (1, 5)


def test_load_panoptic_names_a_non_integer_image_id(tmp_path):
    p = tmp_path / "pan.json"
    p.write_text(json.dumps({"annotations": [{"image_id": ["two"], "segments_info": []}]}))
    with pytest.raises(InputError, match=r"annotation #0 has a non-integer image_id \['two'\]"):
        load_panoptic(p)
    p.write_text(json.dumps({"annotations": [{"image_id": "two", "segments_info": []}]}))  # Cityscapes ids: strings
    assert [e.image_id for e in load_panoptic(p).annotations.values()] == ["two"]


def test_strict_and_collecting_modes_agree_on_valid_data():
    anns = [{"image_id": 4, "segments_info": [{"id": 3, "category_id": 1}]}]
    images = {4: ImageInfo(4, "dir/x.jpg", 2, 2)}
    strict = list(scan_annotations(anns, "f", images, CATS))
    issues: list[Issue] = []
    lenient = list(scan_annotations(anns, "f", images, CATS, issues=issues))
    assert strict == lenient and issues == []
    assert strict[0].file_name == "x.png"  # from the image's file name


def test_write_json_parts_gives_the_bytes_of_write_json(tmp_path):
    from rapkit.io.jsonio import dumps
    from rapkit.io.panoptic import panoptic_output
    from rapkit.types import Category, ImageInfo

    images = [
        ImageInfo(1, 'odd "annotations": [] é.jpg', 2, 3),
        ImageInfo(2, "b.jpg", 4, 5),
        ImageInfo(3, "c.jpg", 1, 1),
    ]
    anns = [
        {
            "image_id": i.id,
            "file_name": f"{i.id}.png",
            "segments_info": [{"id": 1, "score": 0.25, "bbox": [0, 0, 1, 1]}],
        }
        for i in images
    ]
    cats = [Category(1, "person", True, (1, 2, 3))]
    with panoptic_output(tmp_path / "a") as out:
        out.write_json(images, anns, cats)
    with panoptic_output(tmp_path / "b") as out:
        out.write_json_parts(images, [dumps(anns[:2])[1:-1], dumps(anns[2:])[1:-1]], cats)
    with panoptic_output(tmp_path / "c") as out:
        out.write_json([], [], cats)
    with panoptic_output(tmp_path / "d") as out:
        out.write_json_parts([], [], cats)
    for x, y in (("a", "b"), ("c", "d")):
        assert (tmp_path / x / "panoptic.json").read_bytes() == (tmp_path / y / "panoptic.json").read_bytes()
