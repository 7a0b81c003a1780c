"""The detectron2 adapter, tested without detectron2 on its documented structures: dataset
dicts in, the model's ``panoptic_seg`` out (``(ids, segments_info)`` with contiguous category
ids and ``isthing``, or ``label_divisor`` labels with -1 VOID and ``None``), metadata with
detectron2's attribute names. The reference is ``COCOPanopticEvaluator`` emulated line for
line: each prediction PNG-encoded with panopticapi's ``id2rgb``, the GT JSON with its
annotations replaced, panopticapi's ``pq_compute`` (multi-process, as detectron2 calls it)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rapkit.adapters.detectron2 import KEYS, PanopticDatasetEvaluator
from rapkit.errors import InputError
from rapkit.io.panoptic import read_id_map

D2_KEYS = ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"]


def _metadata(gt_json: Path) -> SimpleNamespace:
    """detectron2's COCO panoptic metadata: one contiguous numbering of all categories."""
    cats = json.loads(gt_json.read_text())["categories"]
    return SimpleNamespace(
        panoptic_json=str(gt_json),
        panoptic_root=str(gt_json)[:-5],
        label_divisor=1000,
        thing_dataset_id_to_contiguous_id={c["id"]: k for k, c in enumerate(cats) if c["isthing"]},
        stuff_dataset_id_to_contiguous_id={c["id"]: k for k, c in enumerate(cats) if not c["isthing"]},
    )


def _model_outputs(gt_json: Path, pred_json: Path, md: SimpleNamespace, torch) -> tuple[list, list]:
    """Dataset dicts and model outputs made from the bench's predictions: every third image
    in the label_divisor encoding (int32, -1 VOID), the others as (ids, segments_info)."""
    gt = json.loads(gt_json.read_text())
    images = {i["id"]: i for i in gt["images"]}
    preds = {a["image_id"]: a for a in json.loads(pred_json.read_text())["annotations"]}
    contiguous = {**md.thing_dataset_id_to_contiguous_id, **md.stuff_dataset_id_to_contiguous_id}
    things = set(md.thing_dataset_id_to_contiguous_id)
    inputs, outputs = [], []
    for k, a in enumerate(gt["annotations"]):
        iid = a["image_id"]
        p = preds[iid]
        ids = read_id_map(Path(str(pred_json)[:-5]) / p["file_name"]).astype(np.int64)
        inputs.append(
            {"image_id": iid, "file_name": f"/data/val/{images[iid]['file_name']}", "height": ids.shape[0],
             "width": ids.shape[1], "pan_seg_file_name": f"/data/gt/{a['file_name']}", "segments_info": []}
        )  # fmt: skip
        if k % 3 == 0:
            lab = np.full(ids.shape, -1, np.int64)
            for j, s in enumerate(p["segments_info"]):
                inst = j + 1 if s["category_id"] in things else 0
                lab[ids == s["id"]] = contiguous[s["category_id"]] * md.label_divisor + inst
            outputs.append({"panoptic_seg": (torch.from_numpy(lab.astype(np.int32)), None)})
        else:
            segs = [
                {"id": s["id"], "category_id": contiguous[s["category_id"]], "isthing": s["category_id"] in things,
                 "score": 0.9}
                for s in p["segments_info"]
            ]  # fmt: skip
            outputs.append({"panoptic_seg": (torch.from_numpy(ids.astype(np.int32)), segs)})
    return inputs, outputs


def _coco_panoptic_evaluator(inputs, outputs, md, tmp: Path, pq_compute) -> dict:
    """detectron2's COCOPanopticEvaluator.process + evaluate, with its files, on one process."""
    from panopticapi.utils import id2rgb
    from PIL import Image

    thing = {v: k for k, v in md.thing_dataset_id_to_contiguous_id.items()}
    stuff = {v: k for k, v in md.stuff_dataset_id_to_contiguous_id.items()}
    predictions = []
    for inp, out in zip(inputs, outputs):
        panoptic_img, segments_info = out["panoptic_seg"]
        panoptic_img = panoptic_img.cpu().numpy()
        if segments_info is None:
            segments_info = []
            for label in np.unique(panoptic_img):
                if label == -1:
                    continue
                pred_class = label // md.label_divisor
                isthing = pred_class in md.thing_dataset_id_to_contiguous_id.values()
                segments_info.append({"id": int(label) + 1, "category_id": int(pred_class), "isthing": bool(isthing)})
            panoptic_img += 1
        file_name_png = os.path.splitext(os.path.basename(inp["file_name"]))[0] + ".png"
        with io.BytesIO() as buf:
            Image.fromarray(id2rgb(panoptic_img)).save(buf, format="PNG")
            segs = []
            for s in segments_info:
                s = dict(s)
                isthing = s.pop("isthing", None)
                if isthing is not None:
                    s["category_id"] = (thing if isthing else stuff)[s["category_id"]]
                segs.append(s)
            predictions.append(
                {"image_id": inp["image_id"], "file_name": file_name_png, "png_string": buf.getvalue(),
                 "segments_info": segs}
            )  # fmt: skip
    pred_dir = tmp / "pred"
    pred_dir.mkdir()
    for p in predictions:
        (pred_dir / p["file_name"]).write_bytes(p.pop("png_string"))
    data = json.loads(Path(md.panoptic_json).read_text())
    data["annotations"] = predictions
    pj = tmp / "predictions.json"
    pj.write_text(json.dumps(data))
    with contextlib.redirect_stdout(io.StringIO()):
        pq_res = pq_compute(md.panoptic_json, pj, md.panoptic_root, pred_dir)
    res = {}
    for key, split in (("", "All"), ("_th", "Things"), ("_st", "Stuff")):
        for m in ("PQ", "SQ", "RQ"):
            res[m + key] = 100 * pq_res[split][m.lower()]
    return {"panoptic_seg": res}


def test_keys_are_coco_panoptic_evaluators():
    assert [k for k, _, _ in KEYS] == D2_KEYS


def _run_adapter(inputs, outputs, md, batch: int = 4) -> dict:
    ev = PanopticDatasetEvaluator(metadata=md)
    ev.reset()
    for k in range(0, len(inputs), batch):
        ev.process(inputs[k : k + batch], outputs[k : k + batch])
    return ev.evaluate()


def test_equals_coco_panoptic_evaluator(pq_bench, pq_kit, tmp_path):
    """The must-show: on the 200-pair bench, the adapter's dict has COCOPanopticEvaluator's
    keys, and its values == panopticapi's one-process numbers x 100 (bit for bit) and ==
    COCOPanopticEvaluator's own run of pq_compute (cpu_count() processes: 2 here) to 1e-12,
    the process split moving the last bit of some sums."""
    torch = pytest.importorskip("torch")
    from panopticapi.evaluation import pq_compute

    gt_json, pred_json = pq_bench(200)
    md = _metadata(gt_json)
    inputs, outputs = _model_outputs(gt_json, pred_json, md, torch)
    before = [o["panoptic_seg"][0].clone() for o in outputs]
    ours = _run_adapter(inputs, outputs, md)
    assert all(torch.equal(b, o["panoptic_seg"][0]) for b, o in zip(before, outputs))  # outputs left as they were
    (tmp_path / "one").mkdir()
    (tmp_path / "multi").mkdir()

    def one_process(gt, pred, gt_dir, pred_dir):
        return pq_kit.oracle(gt, pred, gt_dir, pred_dir)

    # detectron2's process() adds 1 to the model's label tensor in place (.numpy() shares its
    # memory): each run gets its own copy of the outputs
    fresh = lambda: [{"panoptic_seg": (o["panoptic_seg"][0].clone(), o["panoptic_seg"][1])} for o in outputs]  # noqa: E731
    exact = _coco_panoptic_evaluator(inputs, fresh(), md, tmp_path / "one", one_process)
    d2 = _coco_panoptic_evaluator(inputs, fresh(), md, tmp_path / "multi", pq_compute)
    assert list(ours) == list(d2) == ["panoptic_seg"]
    assert list(ours["panoptic_seg"]) == list(d2["panoptic_seg"]) == D2_KEYS
    assert ours == exact
    # pq_compute adds the per-process sums of its image chunks: RQ's counts are exact, and on
    # this bench 7 of the 9 values are the same bits (PQ_st and SQ_st move in the last bit)
    for k in D2_KEYS:
        assert math.isclose(ours["panoptic_seg"][k], d2["panoptic_seg"][k], rel_tol=1e-12, abs_tol=0), k


def test_errors_name_the_image(pq_bench):
    torch = pytest.importorskip("torch")
    gt_json, pred_json = pq_bench(200)
    md = _metadata(gt_json)
    inputs, outputs = _model_outputs(gt_json, pred_json, md, torch)
    ev = PanopticDatasetEvaluator(metadata=md)
    with pytest.raises(InputError, match="image_id is not in the dataset's panoptic JSON"):
        ev.process([{"image_id": -5}], outputs[:1])
    seg = outputs[1]["panoptic_seg"]
    bad = [dict(seg[1][0], category_id=999)] + seg[1][1:]
    with pytest.raises(InputError, match="contiguous (thing|stuff) category 999 is not in the dataset's metadata"):
        ev.process(inputs[1:2], [{"panoptic_seg": (seg[0], bad)}])
    with pytest.raises(ValueError, match="give dataset_name"):
        PanopticDatasetEvaluator()
    with pytest.raises(ValueError, match="has no 'panoptic_root'"):
        PanopticDatasetEvaluator(metadata=SimpleNamespace(panoptic_json="x", thing_dataset_id_to_contiguous_id={}))


def test_boundary_and_pq_dagger_keys_when_asked(pq_bench):
    """``metrics=("pq", "boundary", "pq-dagger")``: PQ's keys, then ``BPQ ... BRQ_st`` and
    ``PQdagger ... RQdagger_st``, each == 100 x ``rapkit evaluate --metric`` on the files;
    without ``metrics`` only PQ's keys."""
    torch = pytest.importorskip("torch")
    import rapkit
    from rapkit.adapters.detectron2 import METRIC_KEYS

    gt_json, pred_json = pq_bench(200)
    md = _metadata(gt_json)
    inputs, outputs = _model_outputs(gt_json, pred_json, md, torch)
    ev = PanopticDatasetEvaluator(metadata=md, metrics=("boundary", "pq-dagger"))
    assert ev.metrics == ("pq", "boundary", "pq-dagger")
    for k in range(0, len(inputs), 8):
        ev.process(inputs[k : k + 8], outputs[k : k + 8])
    got = ev.evaluate()["panoptic_seg"]
    files = rapkit.evaluate(gt_json, pred_json, metrics="pq,boundary,pq-dagger")
    assert list(got) == D2_KEYS + [f"B{k}" for k in D2_KEYS] + [k.replace("Q", "Qdagger", 1) for k in D2_KEYS]
    for metric, keys in METRIC_KEYS.items():
        ref = files[metric].result.to_panopticapi()
        for key, split, m in keys:
            assert got[key] == 100 * ref[split][m], (metric, key)
    assert got["BPQ"] < got["PQ"]
