"""Boundary PQ (core/boundary.py, kernels/boundary.py, ``evaluate_pq(metric="boundary")``)
equals an oracle that follows boundary-iou-api's ``coco_panoptic_api`` line by line (cv2
erosion, the boundary maps with their marker id, np.unique, the matching loop), run with one
process, on Pillow-written COCO-like PNG pairs made by ``benchmarks/evaluate.py``'s generator
(crowd, VOID, relabelled, shifted and invented segments); and the numba kernel equals its
numpy twin and cv2's bands."""

from __future__ import annotations

import importlib.util
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from rapkit.core.boundary import band_counts, boundary_stats, dilation_pixels
from rapkit.core.pq import summarize
from rapkit.kernels._reference_boundary import ref_band, ref_band_pair_keys
from rapkit.kernels.boundary import band_pair_keys
from rapkit.pipeline.evaluate import evaluate_pq
from rapkit.types import Category

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- the oracle


def _mask_to_boundary(mask, dilation_ratio):
    """boundary-iou-api's boundary_iou/utils/boundary_utils.py, as written."""
    import cv2

    h, w = mask.shape
    img_diag = np.sqrt(h**2 + w**2)
    dilation = int(round(dilation_ratio * img_diag))
    if dilation < 1:
        dilation = 1
    new_mask = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    kernel = np.ones((3, 3), dtype=np.uint8)
    new_mask_erode = cv2.erode(new_mask, kernel, iterations=dilation)
    mask_erode = new_mask_erode[1 : h + 1, 1 : w + 1]
    return mask - mask_erode


def _rgb2id(color):
    color = color.astype(np.int32)
    return color[:, :, 0] + 256 * color[:, :, 1] + 256 * 256 * color[:, :, 2]


def boundary_oracle(gt_json, pred_json, gt_folder, pred_folder, dilation_ratio=0.02):
    """boundary-iou-api's coco_panoptic_api pq_compute(iou_type="boundary") with one process:
    the single-core loop over every image, then pq_average (a split without classes: None)."""
    from PIL import Image

    gt_json = json.loads(Path(gt_json).read_text())
    pred_json = json.loads(Path(pred_json).read_text())
    categories = {el["id"]: el for el in gt_json["categories"]}
    preds = {el["image_id"]: el for el in pred_json["annotations"]}
    stat = defaultdict(lambda: {"iou": 0.0, "tp": 0, "fp": 0, "fn": 0})
    BOUNDARY_ID = np.amax(list(categories.keys())) + 1
    OFFSET, VOID = 256 * 256 * 256, 0
    for gt_ann in gt_json["annotations"]:
        pred_ann = preds[gt_ann["image_id"]]
        pan_gt = _rgb2id(np.array(Image.open(Path(gt_folder) / gt_ann["file_name"]), dtype=np.uint32))
        pan_pred = _rgb2id(np.array(Image.open(Path(pred_folder) / pred_ann["file_name"]), dtype=np.uint32))
        gt_segms = {el["id"]: el for el in gt_ann["segments_info"]}
        pred_segms = {el["id"]: el for el in pred_ann["segments_info"]}
        labels, labels_cnt = np.unique(pan_pred, return_counts=True)
        for label, label_cnt in zip(labels, labels_cnt):
            if label not in pred_segms:
                assert label == VOID
                continue
            pred_segms[label]["area"] = label_cnt
        boundary_maps = []
        for pan, ann in ((pan_gt, gt_ann), (pan_pred, pred_ann)):
            pan_boundary = pan.copy()
            for el in ann["segments_info"]:
                binary_mask = (pan_boundary == el["id"]).astype(np.uint8)
                binary_boundary = _mask_to_boundary(binary_mask, dilation_ratio)
                pan_boundary[binary_mask > 0] = BOUNDARY_ID
                pan_boundary[binary_boundary > 0] = el["id"]
                el["boundary_area"] = np.sum(binary_boundary > 0)
            boundary_maps.append(pan_boundary)
        maps = []
        for a, b in ((pan_gt, pan_pred), tuple(boundary_maps)):
            m = {}
            labels, labels_cnt = np.unique(a.astype(np.uint64) * OFFSET + b.astype(np.uint64), return_counts=True)
            for label, inter in zip(labels, labels_cnt):
                m[(label // OFFSET, label % OFFSET)] = inter
            maps.append(m)
        gt_pred_map, gt_pred_map_boundary = maps
        gt_matched, pred_matched = set(), set()
        for label_tuple, intersection in gt_pred_map.items():
            gt_label, pred_label = label_tuple
            if gt_label not in gt_segms or pred_label not in pred_segms:
                continue
            if gt_segms[gt_label]["iscrowd"] == 1:
                continue
            if gt_segms[gt_label]["category_id"] != pred_segms[pred_label]["category_id"]:
                continue
            union = (
                pred_segms[pred_label]["area"]
                + gt_segms[gt_label]["area"]
                - intersection
                - gt_pred_map.get((VOID, pred_label), 0)
            )
            iou = intersection / union
            boundary_intersection = gt_pred_map_boundary.get(label_tuple, 0)
            boundary_union = (
                pred_segms[pred_label]["boundary_area"]
                + gt_segms[gt_label]["boundary_area"]
                - boundary_intersection
                - gt_pred_map_boundary.get((VOID, pred_label), 0)
            )
            iou = min(iou, boundary_intersection / boundary_union)
            if iou > 0.5:
                stat[gt_segms[gt_label]["category_id"]]["tp"] += 1
                stat[gt_segms[gt_label]["category_id"]]["iou"] += iou
                gt_matched.add(gt_label)
                pred_matched.add(pred_label)
        crowd_labels_dict = {}
        for gt_label, gt_info in gt_segms.items():
            if gt_label in gt_matched:
                continue
            if gt_info["iscrowd"] == 1:
                crowd_labels_dict[gt_info["category_id"]] = gt_label
                continue
            stat[gt_info["category_id"]]["fn"] += 1
        for pred_label, pred_info in pred_segms.items():
            if pred_label in pred_matched:
                continue
            intersection = gt_pred_map.get((VOID, pred_label), 0)
            if pred_info["category_id"] in crowd_labels_dict:
                intersection += gt_pred_map.get((crowd_labels_dict[pred_info["category_id"]], pred_label), 0)
            if intersection / pred_info["area"] > 0.5:
                continue
            stat[pred_info["category_id"]]["fp"] += 1
    results = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        pq = sq = rq = 0
        n = 0
        per_class = {}
        for label, info in categories.items():
            if isthing is not None and (info["isthing"] == 1) != isthing:
                continue
            s = stat[label]
            tp, fp, fn, iou = s["tp"], s["fp"], s["fn"], s["iou"]
            if tp + fp + fn == 0:
                per_class[label] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                continue
            n += 1
            pq_class = iou / (tp + 0.5 * fp + 0.5 * fn)
            sq_class = iou / tp if tp != 0 else 0
            rq_class = tp / (tp + 0.5 * fp + 0.5 * fn)
            per_class[label] = {"pq": pq_class, "sq": sq_class, "rq": rq_class}
            pq, sq, rq = pq + pq_class, sq + sq_class, rq + rq_class
        results[name] = {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n} if n else None
        if name == "All":
            results["per_class"] = per_class
    return results


# --------------------------------------------------------------------------- the bench


def _generator():
    spec = importlib.util.spec_from_file_location("rapkit_bench_evaluate", REPO / "benchmarks" / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """24 COCO-like GT/prediction PNG pairs of 120x160 (Pillow, adaptive row filters)."""
    mod = _generator()
    mod.H, mod.W = 120, 160
    root = tmp_path_factory.mktemp("boundary") / "bench"
    gj, pj = mod.generate_coco(root, 24, seed=3)
    gt = json.loads(gj.read_text())
    marker = max(c["id"] for c in gt["categories"]) + 1
    for d in (gt, json.loads(pj.read_text())):
        ids = {s["id"] for a in d["annotations"] for s in a["segments_info"]}
        assert marker not in ids  # boundary-iou-api's marker id (the documented difference)
    crowd = sum(s["iscrowd"] for a in gt["annotations"] for s in a["segments_info"])
    return gj, pj, root / "gt", root / "pred", crowd


def _same(ours: dict, ref: dict) -> None:
    for name in ("All", "Things", "Stuff"):
        if ref[name] is None:
            assert ours[name]["n"] == 0
            continue
        for key in ("pq", "sq", "rq", "n"):
            assert ours[name][key] == ref[name][key], (name, key)
    for cid, row in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert ours["per_class"][cid][key] == row[key], (cid, key)


@pytest.mark.parametrize("ratio", [0.02, 0.05])
def test_equals_the_boundary_iou_api_oracle(bench, ratio):
    pytest.importorskip("cv2")
    gj, pj, gdir, pdir, crowd = bench
    assert crowd > 0  # the bench has crowd regions
    ref = boundary_oracle(gj, pj, gdir, pdir, ratio)
    ev = evaluate_pq(gj, pj, gdir, pdir, metric="boundary", dilation_ratio=ratio, workers=2, per_image=True)
    _same(ev.result.to_panopticapi(), ref)
    assert ev.metric == "boundary" and ev.to_dict()["metric"] == "boundary"
    assert len(ev.per_image) == 24 and summarize(ev.stats, ev.categories) == ev.result
    pq = evaluate_pq(gj, pj, gdir, pdir)
    assert ev.result.all.pq < pq.result.all.pq  # bands are harder to match than masks
    pil = evaluate_pq(gj, pj, gdir, pdir, metric="boundary", dilation_ratio=ratio, fast=False)
    assert pil.result == ev.result


# --------------------------------------------------------------------------- kernel == twin == cv2


def _maps(rng, h, w, k):
    a = rng.integers(0, k, (h // 3 + 1, w // 3 + 1)).astype(np.uint32) * np.uint32(70001)
    g = np.kron(a, np.ones((3, 3), np.uint32))[:h, :w]
    noise = rng.integers(0, k, (h, w)).astype(np.uint32) * np.uint32(70001)
    p = np.where(rng.random((h, w)) < 0.15, noise, np.roll(g, 1, axis=1))
    return np.ascontiguousarray(g), np.ascontiguousarray(p.astype(np.uint32))


def test_kernel_equals_twin_and_cv2_bands():
    rng = np.random.default_rng(0)
    have_cv2 = importlib.util.find_spec("cv2") is not None
    for t in range(120):
        h, w = (int(v) for v in rng.integers(1, 26, 2))
        g, p = _maps(rng, h, w, int(rng.integers(1, 5)))
        d = int(rng.integers(1, 6))
        k1, c1 = band_pair_keys(g, p, d)
        k2, c2 = ref_band_pair_keys(g, p, d)
        assert np.array_equal(k1, k2) and np.array_equal(c1, c2), t
        if have_cv2:
            band = ref_band(g, d)
            diag_ratio = d / math.sqrt(h * h + w * w)  # rounds back to d
            for i in np.unique(g).tolist():
                m = (g == i).astype(np.uint8)
                assert np.array_equal(_mask_to_boundary(m, diag_ratio) > 0, band & (g == i)), (t, i)
    with pytest.raises(ValueError):
        band_pair_keys(g, p, 0)


def test_band_counts_fold_to_the_pair_histogram():
    from rapkit.kernels._reference_pq import ref_pair_keys_maps

    g, p = _maps(np.random.default_rng(1), 30, 40, 4)
    hist, band = band_counts(*band_pair_keys(g, p, 2))
    k, c = ref_pair_keys_maps(g, p)
    assert np.array_equal(hist.count, c) and np.array_equal((hist.gt.astype(np.uint64) << np.uint64(24)) | hist.pred, k)
    rb = ref_band(g, 2)
    for i in np.unique(g).tolist():
        assert band.gt_area.get(i, 0) == int((rb & (g == i)).sum())


def test_boundary_stats_on_id_maps_twin_and_kernel():
    cats = {1: Category(1, "a", True), 2: Category(2, "b", False)}
    g = np.zeros((20, 24), np.uint32)
    g[2:14, 2:14] = 5
    g[:, 16:] = 9
    p = np.zeros_like(g)
    p[3:15, 2:14] = 6
    p[:, 15:] = 8
    gsegs = [(5, 1, int((g == 5).sum()), 0), (9, 2, int((g == 9).sum()), 0)]
    psegs = [(6, 1, 0, 0), (8, 2, 0, 0)]
    assert dilation_pixels(20, 24, 0.1) == 3
    a = boundary_stats(g, gsegs, psegs, cats, p, dilation_ratio=0.1, image_id=4)
    b = boundary_stats(g, gsegs, psegs, cats, p, dilation_ratio=0.1, image_id=4, fast=False)
    assert a.tp == b.tp and np.array_equal(a.iou, b.iou) and a.image_ids == [4]
    # the thing: mask IoU 132 / (144 + 144 - 132 - 12 on VOID); bands of the 12x12 squares at
    # d = 3: 108 px each, 90 shared, 12 of the predicted band on GT VOID
    assert a.tp == {1: 1, 2: 1} and a.iou[0] == min(132 / 144, 90 / (108 + 108 - 90 - 12))
    with pytest.raises(ValueError):
        dilation_pixels(10, 10, 0)


def test_png_kernel_equals_twin_rgb_and_rgba(tmp_path):
    """The fused decode + band kernel on Pillow-written PNGs (adaptive row filters; RGBA
    with alpha that changes within a run of one id) == the twins on the decoded maps."""
    from PIL import Image

    from rapkit.io.panoptic import id2rgb
    from rapkit.io.png import read_pair_raw
    from rapkit.kernels._reference_pq import ref_decode_ids
    from rapkit.kernels.boundary import band_pair_keys_png

    rng = np.random.default_rng(7)
    for t in range(6):
        g, p = _maps(rng, int(rng.integers(5, 40)), int(rng.integers(5, 50)), 4)
        paths = []
        for name, m in (("g", g), ("p", p)):
            rgb = id2rgb(m)
            if t % 2:
                alpha = rng.integers(200, 256, m.shape).astype(np.uint8)
                img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
            else:
                img = Image.fromarray(rgb, "RGB")
            img.save(tmp_path / f"{name}{t}.png")
            paths.append(tmp_path / f"{name}{t}.png")
        raw = read_pair_raw(*paths)
        assert raw is not None and raw[1] == (4 if t % 2 else 3)
        d = int(rng.integers(1, 4))
        k1, c1 = band_pair_keys_png(*raw, d)
        rg, bg, rp, bp, h, w = raw
        assert np.array_equal(ref_decode_ids(rg, h, w, bg), g)
        k2, c2 = ref_band_pair_keys(ref_decode_ids(rg, h, w, bg), ref_decode_ids(rp, h, w, bp), d)
        assert np.array_equal(k1, k2) and np.array_equal(c1, c2), t
    bad = raw[0].copy()
    bad[0] = 9  # an unknown filter type
    with pytest.raises(ValueError, match="filter type 9"):
        band_pair_keys_png(bad, raw[1], raw[2], raw[3], raw[4], raw[5], 1)
