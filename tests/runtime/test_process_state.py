"""A library call leaves the caller's process as it found it (issue 20's must-show).

In a fresh process that imported numba before rapkit, the library's entry points run on the
COCO sample (tests/data/panopticapi_sample): ``pq_compute`` with 2 workers,
``extract_relations`` on one image and on the whole dataset with 2 workers, ``fuse_image``,
and the dataset-level ``fuse`` with 2 workers. Afterwards numba's cache loader and event
listeners are numba's own, the import machinery is untouched, the cyclic GC's enabled flag,
thresholds and freeze count are as before, rapkit never called its process-wide switches
(allocator, GC policy, compile notice), and no thread or child process is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "panopticapi_sample"
TOOLS = Path(__file__).resolve().parents[2] / "tools"

SCRIPT = textwrap.dedent(
    """
    import gc, json, os, sys, threading
    import numba
    from numba.core import caching, event

    def children():
        kids = set()
        for tid in os.listdir("/proc/self/task"):
            try:
                kids.update(open(f"/proc/self/task/{tid}/children").read().split())
            except OSError:
                pass
        return sorted(kids)

    def state():
        return {
            "load_overload": caching.Cache.__dict__["load_overload"] is LOAD,
            "function_cache": caching.FunctionCache.__dict__.get("load_overload") is FLOAD,
            "listeners": {k: len(v) for k, v in event._registered.items() if v},
            "meta_path": [type(f).__name__ for f in sys.meta_path],
            "gc": [gc.isenabled(), list(gc.get_threshold()), gc.get_freeze_count()],
            "threads": sorted(t.name for t in threading.enumerate()),
            "children": children(),
        }

    LOAD = caching.Cache.__dict__["load_overload"]
    FLOAD = caching.FunctionCache.__dict__.get("load_overload")
    before = state()

    import rapkit
    from rapkit._runtime import notice, process
    called = []
    for mod, name in ((process, "tune_allocator"), (process, "command_gc"), (process, "before_exit"),
                      (notice, "enable")):
        setattr(mod, name, lambda *a, _n=name, **k: called.append(_n))

    sample, inputs, out = sys.argv[1], sys.argv[2], sys.argv[3]
    import rapkit.pipeline.evaluate as pipeline_evaluate, rapkit.pipeline.fuse as pipeline_fuse
    pipeline_evaluate.PRELOAD_BYTES = pipeline_fuse.PRELOAD_BYTES = 0  # the kernel-loading threads run too
    gt = f"{sample}/panoptic_examples.json"
    det = f"{sample}/panoptic_coco_detection_format.json"
    cats_file = f"{sample}/panoptic_coco_categories.json"
    res = rapkit.pq_compute(gt, gt, workers=2)
    assert res["All"]["pq"] == 1.0, res["All"]

    from rapkit.io.coco import decode_instances, load_instances
    from rapkit.io.panoptic import load_categories, load_images, load_panoptic, read_id_map
    from rapkit.io.proposals import load_proposals
    from rapkit.io.semantic import known_labels, open_semantic, read_semantic
    from rapkit.types import FusionParams

    pan = load_panoptic(gt)
    ds = load_instances(det)
    iid = next(iter(pan.annotations))
    info = ds.images[iid]
    masks = decode_instances(ds.by_image[iid], info.height, info.width, image_id=iid)
    ann = pan.annotations[iid]
    rel = rapkit.extract_relations(masks, read_id_map(pan.png_dir / ann.file_name), ann.segments, image_id=iid)
    run = rapkit.extract_dataset_relations(det, gt, workers=2)
    assert len(run.images) == 2

    cats = load_categories(cats_file)
    images = load_images(gt)
    props = load_proposals(f"{inputs}/proposals.json", images, cats, require_relation=True)
    sem = open_semantic(f"{inputs}/semantic", images, cats)
    semantic = read_semantic(sem.item(images[iid]), images[iid], known_labels(cats))
    id_map, segments = rapkit.fuse_image(props[iid], semantic, FusionParams(), cats)
    summary = rapkit.fuse(f"{inputs}/proposals.json", gt, cats_file, out, semantic=f"{inputs}/semantic",
                          strategy="rap", workers=2)
    assert summary.images == 2
    fused = rapkit.pq_compute(gt, f"{out}/panoptic.json", workers=2)

    # the in-memory evaluator with every metric, and the files evaluated on every metric with 2 workers
    ev = rapkit.PanopticEvaluator(load_categories(cats_file), metrics=("pq", "boundary", "pq-dagger"))
    ids = read_id_map(pan.png_dir / ann.file_name)
    segs = ann.segments
    ev.update(ids, segs, ids, segs)
    assert ev.compute()["boundary"].result.all.pq == 1.0
    multi = rapkit.evaluate(gt, f"{out}/panoptic.json", metrics="pq,boundary,pq-dagger", workers=2)
    assert multi["pq"].result.all.pq == fused["All"]["pq"]

    after = state()
    print(json.dumps({"before": before, "after": after, "called": called, "fused_pq": fused["All"]["pq"],
                      "relations": len(rel.relations), "segments": len(segments)}))
    """
)


def test_library_calls_leave_the_process_as_they_found_it(tmp_path):
    inputs = tmp_path / "inputs"
    r = subprocess.run([sys.executable, str(TOOLS / "sample_inputs.py"), str(SAMPLE), str(inputs)], capture_output=True)
    assert r.returncode == 0, r.stderr
    script = tmp_path / "library_user.py"
    script.write_text(SCRIPT)
    r = subprocess.run(
        [sys.executable, str(script), str(SAMPLE), str(inputs), str(tmp_path / "fused")],
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAPKIT_")},
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["called"] == []
    assert out["after"] == out["before"]
    assert out["before"]["load_overload"] and out["before"]["children"] == []
    assert out["fused_pq"] == 1.0  # the sample's things and stuff fuse back to its ground truth
    assert out["segments"] > 0
