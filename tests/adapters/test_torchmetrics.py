"""The torchmetrics Metric: fixed-size per-class states (TP, FP, FN, IoU sums) that sum across
DDP. Checked against panopticapi on the 200-pair bench: one process == panopticapi's
one-process run; two gloo processes on contiguous halves == panopticapi's two-process
pq_compute; a round-robin split: same counts, values within 1e-12."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torchmetrics")
import torch  # noqa: E402

from rapkit.adapters.torchmetrics import KEYS, PanopticQuality  # noqa: E402
from rapkit.core.evaluator import PanopticEvaluator  # noqa: E402
from rapkit.io.panoptic import read_id_map  # noqa: E402


def _images(gt_json: Path, pred_json: Path) -> tuple[list, list]:
    gt = json.loads(gt_json.read_text())
    pred = {a["image_id"]: a for a in json.loads(pred_json.read_text())["annotations"]}
    out = []
    for a in gt["annotations"]:
        p = pred[a["image_id"]]
        out.append(
            (read_id_map(Path(str(pred_json)[:-5]) / p["file_name"]), p["segments_info"],
             read_id_map(Path(str(gt_json)[:-5]) / a["file_name"]), a["segments_info"])
        )  # fmt: skip
    return out, gt["categories"]


def _feed(m: PanopticQuality, images: list, batch: int = 8) -> None:
    for k in range(0, len(images), batch):
        c = images[k : k + batch]
        m.update(
            [i[0] for i in c], [i[2] for i in c], preds_segments=[i[1] for i in c], target_segments=[i[3] for i in c]
        )


def _panopticapi_chunks(gt_json: Path, pred_json: Path, n_chunks: int) -> dict:
    """panopticapi's pq_compute_multi_core with n_chunks processes, run in this one: each
    contiguous chunk of the GT order summed by pq_compute_single_core, the chunk sums added."""
    import contextlib
    import io

    from panopticapi.evaluation import PQStat, pq_compute_single_core

    gt = json.loads(gt_json.read_text())
    preds = {a["image_id"]: a for a in json.loads(pred_json.read_text())["annotations"]}
    cats = {c["id"]: c for c in gt["categories"]}
    matched = [(a, preds[a["image_id"]]) for a in gt["annotations"]]
    total = PQStat()
    with contextlib.redirect_stdout(io.StringIO()):
        for k, chunk in enumerate(np.array_split(matched, n_chunks)):
            total += pq_compute_single_core(k, chunk, str(gt_json)[:-5], str(pred_json)[:-5], cats)
    out = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        out[name], per_class = total.pq_average(cats, isthing=isthing)
        if name == "All":
            out["per_class"] = per_class
    return out


def test_one_process_equals_panopticapi(pq_bench, pq_kit):
    gt_json, pred_json = pq_bench(200)
    images, cats = _images(gt_json, pred_json)
    m = PanopticQuality(cats)
    _feed(m, images)
    pq_kit.assert_same(m.result().to_panopticapi(), pq_kit.oracle(gt_json, pred_json))
    got = m.compute()
    r = m.result()
    assert [k for k, _, _ in KEYS] == list(got) and got["pq_th"].item() == r.things.pq
    m.reset()
    assert int(m.tp.sum()) == 0 and float(m.iou.sum()) == 0.0


def test_boundary_and_pq_dagger_states(pq_bench):
    """``metrics=("boundary", "pq-dagger")``: their own summed states and keys; fed in the GT
    order, each ``result(metric)`` == ``rapkit evaluate --metric`` on the files, bit for bit."""
    import rapkit
    from rapkit.adapters.torchmetrics import METRIC_KEYS

    gt_json, pred_json = pq_bench(200)
    images, cats = _images(gt_json, pred_json)
    m = PanopticQuality(cats, metrics=("boundary", "pq-dagger"))
    assert m.metrics == ("pq", "boundary", "pq-dagger") and "boundary_iou" in m._defaults
    _feed(m, images)
    files = rapkit.evaluate(gt_json, pred_json, metrics="pq,boundary,pq-dagger")
    for metric in m.metrics:
        assert m.result(metric).to_panopticapi() == files[metric].result.to_panopticapi(), metric
    got = m.compute()
    assert list(got) == [k for metric in m.metrics for k, _, _ in METRIC_KEYS[metric]]
    assert got["bpq_th"].item() == files["boundary"].result.things.pq
    assert got["pqdagger_st"].item() == files["pq-dagger"].result.stuff.pq
    with pytest.raises(ValueError, match="unknown metric 'bq'"):
        PanopticQuality(cats, metrics=("bq",))


def test_layouts_are_the_evaluators(pq_kit):
    """The (category, instance) layout and label_divisor go through PanopticEvaluator's conversions."""
    cats = pq_kit.categories
    rng = np.random.default_rng(0)
    cat = rng.choice([1, 3, 100, -1], (2, 6, 8))
    inst = rng.integers(0, 3, (2, 6, 8))
    g = np.stack([cat, inst], -1)
    p = np.stack([np.roll(cat, 1, 2), inst], -1)
    m, ev = PanopticQuality(cats), PanopticEvaluator(cats)
    m.update(torch.from_numpy(p), torch.from_numpy(g))
    ev.update(p, None, g, None)
    assert m.result() == ev.compute().result


WORKER = r"""
import json, sys
from pathlib import Path
import numpy as np
import torch.distributed as dist
from rapkit.adapters.torchmetrics import PanopticQuality
from rapkit.io.panoptic import read_id_map

rank, store, gt_json, pred_json, out = sys.argv[1:6]
rank = int(rank)
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
gt = json.loads(Path(gt_json).read_text())
pred = {a["image_id"]: a for a in json.loads(Path(pred_json).read_text())["annotations"]}
anns = gt["annotations"]
shares = {"halves": np.array_split(np.arange(len(anns)), 2)[rank].tolist(), "round_robin": list(range(rank, len(anns), 2))}
res = {}
for name, idx in shares.items():
    m = PanopticQuality(gt["categories"])
    for k in range(0, len(idx), 8):
        c = [anns[j] for j in idx[k : k + 8]]
        m.update(
            [read_id_map(Path(pred_json[:-5]) / pred[a["image_id"]]["file_name"]) for a in c],
            [read_id_map(Path(gt_json[:-5]) / a["file_name"]) for a in c],
            preds_segments=[pred[a["image_id"]]["segments_info"] for a in c],
            target_segments=[a["segments_info"] for a in c],
        )
    r = m.result()  # synchronised: the states summed over both ranks
    res[name] = {"pq": r.to_panopticapi(), "tp": r.to_dict()["per_class"], "n": r.n_images}
if rank == 0:
    Path(out).write_text(json.dumps(res))
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_two_gloo_processes(pq_bench, pq_kit, tmp_path):
    gt_json, pred_json = pq_bench(200)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [str(tmp_path / "store"), str(gt_json), str(pred_json), str(out)]
    procs = [subprocess.Popen([sys.executable, str(script), str(r), *args], env=env) for r in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    got = json.loads(out.read_text())
    assert got["halves"]["n"] == got["round_robin"]["n"] == 200
    for v in got.values():
        v["pq"]["per_class"] = {int(k): c for k, c in v["pq"]["per_class"].items()}
    # contiguous halves: == panopticapi's pq_compute with 2 processes, bit for bit
    pq_kit.assert_same(got["halves"]["pq"], _panopticapi_chunks(gt_json, pred_json, 2))
    # round robin (DistributedSampler's split): same counts, values to 1e-12 of the one-process run
    one = pq_kit.oracle(gt_json, pred_json)
    counts = lambda per_class: {c: [v[k] for k in ("tp", "fp", "fn")] for c, v in per_class.items()}  # noqa: E731
    assert counts(got["round_robin"]["tp"]) == counts(got["halves"]["tp"])
    for split in ("All", "Things", "Stuff"):
        assert got["round_robin"]["pq"][split]["n"] == one[split]["n"]
        for k in ("pq", "sq", "rq"):
            assert math.isclose(got["round_robin"]["pq"][split][k], one[split][k], rel_tol=1e-12), (split, k)
