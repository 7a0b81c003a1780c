"""Cityscapes parity: rapkit's PQ on Cityscapes-format panoptic data equals
``cityscapesscripts``' panoptic evaluation (``evalPanopticSemanticLabeling``).

A synthetic Cityscapes world: ``*_gtFine_instanceIds.png`` maps (16-bit, label ids, things as
``label id * 1000 + instance``, groups of things as their bare label id, regions of labels
ignored in evaluation, unlabeled pixels) for the GT and for a perturbed prediction, both
converted to COCO panoptic format by cityscapesscripts' own ``createPanopticImgs``
(string image ids, Cityscapes label ids as categories, crowd groups, VOID). Its single-core
loop run over every image is ``==`` rapkit on every value; its command's multi-core
``evaluatePanoptic`` (chunks summed per core) agrees to 1e-12 and on every count.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from rapkit.pipeline.evaluate import evaluate_pq

pytest.importorskip("cityscapesscripts")

SKY, BUILDING, ROAD, SIDEWALK, VEGETATION = 23, 11, 7, 8, 21
PERSON, CAR, TRUCK = 24, 26, 27
STATIC = 4  # ignored in evaluation (its pixels become VOID)


def _scene(rng: np.random.Generator, h: int, w: int, pred: bool) -> np.ndarray:
    ids = np.zeros((h, w), np.int32)  # 0: unlabeled
    a, b = int(rng.integers(h // 4, h // 3)), int(rng.integers(h // 2, 2 * h // 3))
    ids[:a] = SKY
    ids[a:b] = BUILDING
    ids[b:] = ROAD
    ids[b : b + 3, : w // 3] = SIDEWALK
    ids[a : a + 6, w - 20 : w - 8] = VEGETATION
    if not pred:
        ids[h - 4 :, w // 2 : w // 2 + 12] = STATIC
        ids[h - 2 :, :6] = 0
        ids[b - 6 : b, 4:20] = CAR  # a group of cars: a crowd region
    for k in range(int(rng.integers(2, 6))):
        y, x = int(rng.integers(a, h - 8)), int(rng.integers(0, w - 14))
        hh, ww = int(rng.integers(5, 12)), int(rng.integers(6, 16))
        cat = CAR if k % 3 else PERSON
        if pred and rng.random() < 0.3:
            y, x = y + int(rng.integers(-2, 3)), x + int(rng.integers(-3, 4))
        if pred and rng.random() < 0.15:
            cat = TRUCK if cat == CAR else cat
        if pred and rng.random() < 0.15:
            continue  # a missed instance
        ids[max(y, 0) : y + hh, max(x, 0) : x + ww] = cat * 1000 + k
    if pred:
        ids[b - 1 : b + 1] = ROAD  # the road boundary moved
    return ids


def _converted(root, kind: str, scenes: dict) -> tuple:
    """Write ``scenes`` as Cityscapes instanceIds PNGs and convert them with cityscapesscripts."""
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
    from PIL import Image

    base = root / kind / "gtFine"
    for name, ids in scenes.items():
        d = base / "val" / name.split("_")[0]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ids.astype(np.uint16)).save(d / f"{name}_gtFine_instanceIds.png")
    with contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(str(base), str(base), setNames=["val"])
    return base / "cityscapes_panoptic_val.json", base / "cityscapes_panoptic_val"


@pytest.fixture(scope="module")
def cityscapes_world(tmp_path_factory):
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("cityscapes")
    names = [f"{city}_{k:06d}_000019" for city in ("aachen", "bremen") for k in range(5)]
    gt = {n: _scene(rng, 64, 128, False) for n in names}
    pred = {n: _scene(rng, 64, 128, True) for n in names}
    return (*_converted(root, "gt", gt), *_converted(root, "pred", pred))


def test_equals_cityscapesscripts(cityscapes_world, tmp_path):
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as cs

    gt_json, gt_dir, pred_json, pred_dir = cityscapes_world
    gt = json.loads(gt_json.read_text())
    assert isinstance(gt["annotations"][0]["image_id"], str)
    assert any(s["iscrowd"] for a in gt["annotations"] for s in a["segments_info"])
    ours = evaluate_pq(gt_json, pred_json, gt_dir, pred_dir, workers=2).result.to_panopticapi()

    # the reference's single-core loop over every image (one process)
    categories = {el["id"]: el for el in gt["categories"]}
    preds = {el["image_id"]: el for el in json.loads(pred_json.read_text())["annotations"]}
    matched = [(a, preds[a["image_id"]]) for a in gt["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        one = cs.average_pq(cs.pq_compute_single_core(0, matched, str(gt_dir), str(pred_dir), categories), categories)
        tool = cs.evaluatePanoptic(str(gt_json), str(gt_dir), str(pred_json), str(pred_dir), str(tmp_path / "r.json"))
    for name in ("All", "Things", "Stuff"):
        assert ours[name] == one[name], name
        assert ours[name]["n"] == tool[name]["n"]
        for k in ("pq", "sq", "rq"):
            assert abs(ours[name][k] - tool[name][k]) <= 1e-12
    for cid, row in one["per_class"].items():
        assert {k: ours["per_class"][cid][k] for k in ("pq", "sq", "rq")} == row, cid
    assert 0.3 < ours["All"]["pq"] < 0.95  # the prediction is neither empty nor the GT
