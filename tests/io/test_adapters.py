"""rapkit.io.adapters: arrays -> proposals JSON, semantic PNGs, image list. Round trips
through the readers, every label-map form, and bad arrays: an InputError naming the image
and the index, and nothing written."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rapkit.errors import ConfigError, InputError
from rapkit.io import (
    COCO80,
    ProposalWriter,
    contiguous_label_map,
    resolve_label_map,
    write_image_info,
    write_semantic_png,
)
from rapkit.io.panoptic import load_images
from rapkit.io.proposals import load_proposals
from rapkit.types import Category, ImageInfo

H, W = 6, 8
IMAGES = {7: ImageInfo(7, "a.jpg", H, W), 9: ImageInfo(9, "b.jpg", H, W)}
CATS = {1: Category(1, "person", True), 47: Category(47, "cup", True), 187: Category(187, "sky", False)}


def masks(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, H, W)) > 0.5


def listing(folder):
    return sorted(os.listdir(folder))


def decode(rle):
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"]}).astype(bool)


def test_round_trip_through_the_reader(tmp_path):
    p = tmp_path / "props.json"
    m7, m9 = masks(3, 1), masks(2, 2).astype(np.uint8)
    with ProposalWriter(p, label_map={0: 1, 1: 47}, categories=CATS, images=IMAGES) as w:
        assert not p.exists()  # nothing at the path until closed
        assert w.add(7, m7, np.array([0.9, 0.5, 1.0], np.float32), [0, 1, 0], relations=[0.5, -1.0, 2.0]) == 3
        w.add(9, m9, [0.0, 0.25], np.array([1, 1]), relations=np.array([0.1, 0.2]))
    props = load_proposals(p, IMAGES, CATS, require_relation=True)
    assert props[7].category_ids.tolist() == [1, 47, 1] and props[9].category_ids.tolist() == [47, 47]
    assert props[7].scores.tolist() == [float(np.float32(v)) for v in (0.9, 0.5, 1.0)]
    assert props[7].relations.tolist() == [0.5, -1.0, 2.0]
    for k in range(3):
        assert np.array_equal(decode(props[7].rles[k]), m7[k])
    for k in range(2):
        assert np.array_equal(decode(props[9].rles[k]), m9[k].astype(bool))
    raw = json.loads(p.read_text())
    assert set(raw[0]) == {"image_id", "category_id", "bbox", "score", "segmentation", "relation"}
    assert listing(tmp_path) == ["props.json"]  # no temporary or lock left


def test_no_relations_empty_image_and_bytes_are_deterministic(tmp_path):
    outs = []
    for name in ("x.json", "y.json"):
        with ProposalWriter(tmp_path / name) as w:
            w.add(7, masks(2), [0.5, 0.6], [1, 47])
            w.add(9, np.zeros((0, H, W), bool), [], [])
            w.add(10, np.zeros((0, 0, 0), bool), [], [], height=H, width=W)
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    raw = json.loads(outs[0])
    assert len(raw) == 2 and "relation" not in raw[0]
    with ProposalWriter(tmp_path / "empty.json") as w:
        pass
    assert json.loads((tmp_path / "empty.json").read_text()) == []


def test_label_map_forms():
    assert resolve_label_map(None) is None
    assert resolve_label_map([None, 5, -1, 7]) == {1: 5, 3: 7}
    assert resolve_label_map({3: 1, 4: None}) == {3: 1}
    assert resolve_label_map(np.array([4, 5])) == {0: 4, 1: 5}
    c80 = resolve_label_map("coco80")
    assert len(c80) == 80 and c80[0] == 1 and c80[79] == 90 and c80[11] == 13
    c91 = resolve_label_map("COCO91")
    assert sorted(c91) == sorted(COCO80) and all(k == v for k, v in c91.items())
    assert not {0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83} & set(c91)
    # the same mapping as `rapkit train --labels contiguous` (model.detector.make_label_map)
    assert contiguous_label_map([47, 1, 63], start=1) == {1: 1, 2: 47, 3: 63}
    assert contiguous_label_map([47, 1], start=0) == {0: 1, 1: 47}
    with pytest.raises(ConfigError, match="coco80, coco91"):
        resolve_label_map("coco81")
    with pytest.raises(ConfigError, match="not an integer category id"):
        resolve_label_map({1: "person"})


def test_builtin_maps_in_the_writer(tmp_path):
    with ProposalWriter(tmp_path / "a.json", label_map="coco80") as w:
        w.add(7, masks(2), [0.5, 0.6], [0, 41])  # detectron2/mmdet: 0 = person, 41 = cup
    assert [d["category_id"] for d in json.loads((tmp_path / "a.json").read_text())] == [1, 47]
    with ProposalWriter(tmp_path / "b.json", label_map="coco91") as w:
        w.add(7, masks(2), [0.5, 0.6], [1, 47])  # torchvision: the label is the COCO id
    assert [d["category_id"] for d in json.loads((tmp_path / "b.json").read_text())] == [1, 47]


GOOD = dict(masks=masks(3), scores=[0.9, 0.5, 0.1], labels=[1, 47, 1], relations=[0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(masks=masks(3)[0]), r"masks must be N x H x W, got shape \(6, 8\)"),
        (dict(masks=masks(3)[:, None]), r"N x 1 x H x W .* masks\[:, 0\] > 0.5"),
        (dict(masks=np.zeros((3, H + 1, W), bool)), r"masks are 8x7 but the image is 8x6"),
        (dict(masks=masks(2)), r"scores has 3 values but there are 2 masks"),
        (dict(masks=masks(3).astype(np.float32)), r"must be bool or uint8"),
        (dict(masks=masks(3).astype(np.uint8) * 255), r"masks\[0\] holds values other than 0 and 1"),
        (dict(scores=[0.9, 1.5, 0.1]), r"scores\[1\] = 1.5 is outside \[0, 1\]"),
        (dict(scores=[0.9, 0.5, -0.1]), r"scores\[2\] = -0.1 is outside"),
        (dict(scores=[0.9, float("nan"), 0.1]), r"scores\[1\] is NaN"),
        (dict(labels=[1, 47, 3]), r"labels\[2\] = 3 is not in the label map"),
        (dict(labels=[1.0, float("nan"), 1.0]), r"labels\[1\] is NaN"),
        (dict(relations=[0.1, float("nan"), 0.3]), r"relations\[1\] = nan is not a finite number"),
        (dict(relations=[0.1, 0.2, float("inf")]), r"relations\[2\] = inf"),
        (dict(image_id=8), r"image is not in the image list"),
    ],
)
def test_bad_arrays_name_image_and_index_and_nothing_is_written(tmp_path, change, message):
    args = dict(GOOD, image_id=9)
    args.update(change)
    p = tmp_path / "props.json"
    with pytest.raises(InputError, match=message) as e:
        with ProposalWriter(p, label_map={1: 1, 47: 47}, categories=CATS, images=IMAGES) as w:
            w.add(7, **{k: v for k, v in GOOD.items()})  # a good image first: dropped too
            w.add(args.pop("image_id"), **args)
    assert e.value.image_id in (9, 8)
    assert str(e.value).startswith(f"{p}: image {e.value.image_id}: ")
    assert listing(tmp_path) == []  # no output, no temporary, no lock


def test_stuff_category_and_unknown_category(tmp_path):
    with pytest.raises(InputError, match=r"labels\[2\] = 2 maps to category 187 \(sky\), a stuff category"):
        with ProposalWriter(tmp_path / "p.json", label_map={1: 1, 47: 47, 2: 187}, categories=CATS) as w:
            w.add(9, GOOD["masks"], GOOD["scores"], [1, 47, 2])
    with pytest.raises(InputError, match=r"labels\[0\] = 5 maps to category 5, which is not in the categories"):
        with ProposalWriter(tmp_path / "p.json", categories=list(c.to_json() for c in CATS.values())) as w:
            w.add(9, GOOD["masks"], GOOD["scores"], [5, 47, 1])
    assert listing(tmp_path) == []


def test_a_failed_add_outside_with_writes_nothing_of_that_image(tmp_path):
    p = tmp_path / "p.json"
    w = ProposalWriter(p)
    with pytest.raises(InputError, match=r"scores\[0\]"):
        w.add(7, masks(1), [2.0], [1])
    w.add(9, masks(1), [0.5], [1])
    with pytest.raises(InputError, match="added twice"):
        w.add(9, masks(1), [0.5], [1])
    w.close()
    assert [d["image_id"] for d in json.loads(p.read_text())] == [9]
    w.close()  # idempotent


def test_existing_output_needs_force_and_survives_an_error(tmp_path):
    p = tmp_path / "p.json"
    p.write_text("old")
    with pytest.raises(ConfigError, match="pass --force"):
        ProposalWriter(p)
    with pytest.raises(InputError), ProposalWriter(p, force=True) as w:
        w.add(7, masks(1), [float("nan")], [1])
    assert p.read_text() == "old" and listing(tmp_path) == ["p.json"]
    w = ProposalWriter(p, force=True)
    w.add(7, masks(1), [0.5], [1])
    w.abort()
    assert p.read_text() == "old" and listing(tmp_path) == ["p.json"]
    with ProposalWriter(p, force=True) as w:
        w.add(7, masks(1), [0.5], [1])
    assert len(json.loads(p.read_text())) == 1


# --------------------------------------------------------------------------- semantic


def read_sem(path, cats=CATS):
    from rapkit.io.semantic import open_semantic, read_semantic

    info = ImageInfo(1, path.stem + ".jpg", H, W)
    src = open_semantic(path.parent, {1: info}, cats)
    return read_semantic(src.item(info), info, src.known)


def test_semantic_label_map_and_logits(tmp_path):
    labels = np.zeros((H, W), np.int64)
    labels[:, 4:] = 187
    labels[0, 0] = 255
    write_semantic_png(tmp_path / "a.png", labels, categories=CATS)
    assert np.array_equal(read_sem(tmp_path / "a.png"), labels.astype(np.uint8))
    # logits C x H x W, class 0 -> void (detectron2's Panoptic FPN "things"), 1 -> sky, 2 -> cup
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, H, W)).astype(np.float32)
    write_semantic_png(tmp_path / "b.png", logits, label_map=[0, 187, 47], categories=CATS)
    want = np.array([0, 187, 47], np.uint8)[np.argmax(logits, axis=0)]
    assert np.array_equal(read_sem(tmp_path / "b.png"), want)
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]


@pytest.mark.parametrize(
    "arr, lmap, message",
    [
        (np.full((2, H, W), np.nan, np.float32), None, r"logits\[0, 0, 0\] is NaN"),
        (np.full((H, W), 3), [0, 187], r"labels\[0, 0\] = 3 is not in the label map"),
        (np.full((H, W), 300), None, r"labels\[0, 0\] = 300 is not a category id that fits an 8-bit PNG"),
        (np.full((H, W), 1), {1: 300}, r"labels\[0, 0\] maps to category 300, which does not fit"),
        (np.full((H, W), 5), None, r"labels\[0, 0\] gives category 5, which is not in the categories"),
        (np.full((H, W), 0.5), None, r"labels\[0, 0\] = 0.5 is not an integer label"),
        (np.zeros((1, 1, H, W)), None, r"H x W labels or C x H x W logits, got shape \(1, 1, 6, 8\)"),
    ],
)
def test_semantic_bad_arrays(tmp_path, arr, lmap, message):
    with pytest.raises(InputError, match=message) as e:
        write_semantic_png(tmp_path / "x.png", arr, label_map=lmap, categories=CATS, image_id=139)
    assert e.value.image_id == 139
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------- image list


def test_image_info(tmp_path):
    p = write_image_info(
        tmp_path / "images.json",
        [(7, "a.jpg", H, W), {"id": 9, "file_name": "b.jpg", "height": H, "width": W}, ImageInfo(3, "c.png", 2, 3)],
        categories=CATS,
    )
    assert load_images(p) == {7: IMAGES[7], 9: IMAGES[9], 3: ImageInfo(3, "c.png", 2, 3)}
    from rapkit.io.panoptic import load_categories

    assert set(load_categories(p)) == {1, 47, 187}
    with pytest.raises(InputError, match="image id appears twice"):
        write_image_info(tmp_path / "bad.json", [(7, "a.jpg", H, W), (7, "b.jpg", H, W)])
    with pytest.raises(InputError, match="non-positive size"):
        write_image_info(tmp_path / "bad.json", [(7, "a.jpg", 0, W)])
    with pytest.raises(InputError, match="PNGs would clash"):
        write_image_info(tmp_path / "bad.json", [(7, "a.jpg", H, W), (8, "a.png", H, W)])
    assert listing(tmp_path) == ["images.json"]


def test_a_writer_never_closed_leaves_nothing(tmp_path):
    import gc

    w = ProposalWriter(tmp_path / "p.json")
    w.add(7, masks(1), [0.5], [1], None, H, W)  # height and width positionally
    assert not (tmp_path / "p.json").exists()
    del w
    gc.collect()
    assert listing(tmp_path) == []
