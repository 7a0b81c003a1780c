"""Benchmark: reading the large JSON inputs of ``evaluate`` and ``extract-relations``, each
fast path against the reading it replaces, paired in the same rounds of one process.

    python benchmarks/json_inputs.py                                   # /tmp/evcoco, /tmp/w5000
    python benchmarks/json_inputs.py --evaluate D --world W --rounds 9

* ``load_panoptic_arrays`` (``rapkit evaluate``'s GT and prediction, ``--sweep``): the typed
  msgspec path (:mod:`rapkit.io.panoptic.typed`) against orjson + the one-pass reader
  (``TYPED_BYTES`` raised above the file's size);
* ``load_panoptic`` (``extract-relations``' panoptic GT, Segment objects): the same;
* ``parse_instances`` (``extract-relations``' instances JSON, already parsed): the plain
  float polygon check against the full numpy check of every polygon.

Thread CPU (``time.thread_time``) of the calling thread, median of ``--rounds`` interleaved
rounds, with the garbage collector set as the ``rapkit`` command sets it
(``rapkit._runtime.process.command_gc``). Every pair is checked equal first.
``--evaluate`` is a folder of benchmarks/evaluate.py's bench (gt.json, pred.json),
``--world`` one of ``rapkit synth`` (panoptic.json, instances.json).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def _cpu(fn) -> float:
    t = time.thread_time()
    fn()
    return time.thread_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--evaluate", default="/tmp/evcoco", help="benchmarks/evaluate.py's bench folder")
    ap.add_argument("--world", default="/tmp/w5000", help="a synthetic world (rapkit synth)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians (default 7)")
    args = ap.parse_args()

    from rapkit._runtime import process
    from rapkit.io import coco
    from rapkit.io.jsonio import load_json
    from rapkit.io.panoptic import read

    process.command_gc()
    ev, world = Path(args.evaluate), Path(args.world)
    cases = []
    for name, path, kw in (
        ("evaluate GT", ev / "gt.json", {}),
        ("evaluate prediction", ev / "pred.json", {"check_categories": False, "areas": False}),
        ("world panoptic (sweep GT)", world / "panoptic.json", {}),
    ):
        if path.exists():
            cases.append((f"load_panoptic_arrays: {name}", read.load_panoptic_arrays, path, kw))
    if (world / "panoptic.json").exists():
        cases.append(("load_panoptic: world panoptic (extract)", read.load_panoptic, world / "panoptic.json", {}))

    def typed(on: bool) -> None:
        read.TYPED_BYTES = 256 * 1024 if on else 1 << 62

    rows = []
    for label, fn, path, kw in cases:
        size = path.stat().st_size
        typed(True)
        a = fn(path, **kw)
        typed(False)
        b = fn(path, **kw)
        same = (a == b) if fn is read.load_panoptic else _same_arrays(a, b)
        assert same, f"{label}: the two readers differ"
        fast, slow = [], []
        for _ in range(args.rounds):
            typed(True)
            fast.append(_cpu(lambda: fn(path, **kw)))
            typed(False)
            slow.append(_cpu(lambda: fn(path, **kw)))
        typed(True)
        rows.append((label, size, statistics.median(slow), statistics.median(fast)))

    inst = world / "instances.json"
    if inst.exists():
        data = load_json(inst)
        real = coco._plain_polygon
        coco._plain_polygon = lambda poly, lim: False
        full = coco.parse_instances(data, inst)
        coco._plain_polygon = real
        assert coco.parse_instances(data, inst).by_image == full.by_image
        fast, slow = [], []
        for _ in range(args.rounds):
            fast.append(_cpu(lambda: coco.parse_instances(data, inst)))
            coco._plain_polygon = lambda poly, lim: False
            slow.append(_cpu(lambda: coco.parse_instances(data, inst)))
            coco._plain_polygon = real
        rows.append(("parse_instances: world instances (extract)", inst.stat().st_size, statistics.median(slow),
                     statistics.median(fast)))  # fmt: skip

    print(f"thread CPU, median of {args.rounds} interleaved rounds (gc as the rapkit command sets it)")
    print(f"{'reading':48s} {'MB':>6s} {'before ms':>10s} {'now ms':>8s} {'speed-up':>9s}")
    for label, size, slow, fast in rows:
        print(f"{label:48s} {size / 1e6:6.1f} {1e3 * slow:10.1f} {1e3 * fast:8.1f} {slow / fast:8.2f}x")


def _same_arrays(a, b) -> bool:
    import numpy as np

    sa, sb = a.segments, b.segments
    cols = ("offsets", "id", "category_id", "area", "iscrowd")
    return (
        a.images == b.images
        and a.categories == b.categories
        and sa.image_ids == sb.image_ids
        and sa.file_names == sb.file_names
        and sa.exact == sb.exact
        and all(np.array_equal(getattr(sa, c), getattr(sb, c)) for c in cols)
    )


if __name__ == "__main__":
    main()
