"""The torch.distributed merge: two gloo processes (CPU) each evaluate part of the PQ bench,
all_gather_evaluator merges them, and the result == panopticapi on the files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from rapkit.adapters.distributed import all_gather_evaluator  # noqa: E402
from rapkit.core.evaluator import PanopticEvaluator  # noqa: E402

CATS = [{"id": 1, "name": "a", "isthing": 1}, {"id": 2, "name": "b", "isthing": 0}]

#: one rank: its share of the bench (images shuffled, dealt out unevenly), one batch update
#: per 7 images, then the merge; rank 0 writes panopticapi's dict and the merged image count
WORKER = r"""
import json, random, sys
from pathlib import Path
import torch.distributed as dist
from rapkit.core.evaluator import PanopticEvaluator
from rapkit.adapters.distributed import all_gather_evaluator
from rapkit.io.panoptic import read_id_map

rank, world, store, gt_json, pred_json, out = sys.argv[1:7]
rank, world = int(rank), int(world)
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
gt = json.loads(Path(gt_json).read_text())
pred = {a["image_id"]: a for a in json.loads(Path(pred_json).read_text())["annotations"]}
anns = gt["annotations"][:]
random.Random(5).shuffle(anns)
mine = [a for k, a in enumerate(anns) if (k % 3 == 0) == (rank == 0)]  # a third and two thirds
ev = PanopticEvaluator(gt["categories"], metrics=("pq", "boundary", "pq-dagger"))
for k in range(0, len(mine), 7):
    chunk = mine[k : k + 7]
    ev.update(
        [read_id_map(Path(pred_json[:-5]) / pred[a["image_id"]]["file_name"]) for a in chunk],
        [pred[a["image_id"]]["segments_info"] for a in chunk],
        [read_id_map(Path(gt_json[:-5]) / a["file_name"]) for a in chunk],
        [a["segments_info"] for a in chunk],
        image_ids=[a["image_id"] for a in chunk],
    )
total = all_gather_evaluator(ev)
if rank == 0:
    res = total.compute()
    Path(out).write_text(json.dumps({"n": total.n_images, "mine": ev.n_images,
                                     **{m: res[m].result.to_panopticapi() for m in res.metrics}}))
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_two_gloo_processes_equal_panopticapi(pq_bench, pq_kit, tmp_path):
    """The must-show: 200 Pillow-written pairs shared between 2 processes over torch.distributed
    (gloo), merged: == panopticapi's pq_compute on the files, every value; Boundary PQ and
    PQ† == ``rapkit evaluate --metric boundary,pq-dagger`` on the files."""
    gt_json, pred_json = pq_bench(200)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [str(tmp_path / "store"), str(gt_json), str(pred_json), str(out)]
    procs = [subprocess.Popen([sys.executable, str(script), str(r), "2", *args], env=env) for r in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    got = json.loads(out.read_text())
    assert got["n"] == 200 and 0 < got["mine"] < 200
    theirs = pq_kit.oracle(gt_json, pred_json)
    ours = got["pq"]
    ours["per_class"] = {int(k): v for k, v in ours["per_class"].items()}
    pq_kit.assert_same(ours, theirs)
    import rapkit

    files = rapkit.evaluate(gt_json, pred_json, metrics="boundary,pq-dagger")
    for m in files.metrics:
        ref = json.loads(json.dumps(files[m].result.to_panopticapi()))  # the same JSON trip
        assert got[m] == ref, m


def test_without_a_process_group_the_evaluator_is_copied():
    ev = PanopticEvaluator(CATS)
    m = np.array([[1, 1], [0, 2]])
    segs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 2}]
    ev.update(m, segs, m, segs, image_ids=[4])
    total = all_gather_evaluator(ev)
    assert total is not ev and total.n_images == 1
    assert total.compute().result == ev.compute().result


def test_the_metrics_travel():
    """Boundary PQ and PQ† come through the gather with their ``dilation_ratio``."""
    ev = PanopticEvaluator(CATS, metrics="pq,boundary,pq-dagger", dilation_ratio=0.3)
    m = np.array([[1, 1, 1], [0, 2, 2]])
    p = np.array([[1, 1, 2], [0, 2, 2]])
    segs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 2}]
    ev.update(p, segs, m, segs, image_ids=[4])
    total = all_gather_evaluator(ev)
    assert total.metrics == ev.metrics and total.dilation_ratio == 0.3
    for k in ev.metrics:
        assert total.compute()[k].stats == ev.compute()[k].stats
