"""``rapkit fuse``'s two large JSON reads, the standard readers against the typed fast paths
(msgspec), in the same process: ``load_images`` / ``load_images_fast`` on the panoptic JSON
(``--image-info``) and ``load_proposals_packed`` / ``load_proposals_packed_fast`` on the
proposals. Checks that the results are equal (array for array), then prints the best and
median CPU milliseconds of ``--repeat`` alternating calls of each and the ratio.

    python benchmarks/fuse_inputs.py --world /tmp/w5000 --repeat 7
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from rapkit.io.images_fast import load_images_fast
from rapkit.io.panoptic import load_categories, load_images
from rapkit.io.proposals import load_proposals_packed
from rapkit.io.proposals_fast import load_proposals_packed_fast


def cpu_ms(fn, *a, **k):
    c = time.process_time()
    r = fn(*a, **k)
    return r, 1000.0 * (time.process_time() - c)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="/tmp/w5000", help="a synthetic world (rapkit synth --no-render)")
    ap.add_argument("--repeat", type=int, default=7, help="alternating calls of each reader (default 7)")
    a = ap.parse_args()
    w = Path(a.world)
    cats = load_categories(w / "categories.json")
    images = load_images(w / "panoptic.json")
    assert load_images_fast(w / "panoptic.json") == images
    old = load_proposals_packed(w / "proposals.json", images, cats, require_relation=True)
    new = load_proposals_packed_fast(w / "proposals.json", images, cats, require_relation=True)
    for f in dataclasses.fields(old):
        x, y = getattr(old, f.name), getattr(new, f.name)
        same = (x.dtype == y.dtype and np.array_equal(x, y)) if isinstance(x, np.ndarray) else x == y
        assert same, f.name
    pairs = {
        "images (panoptic.json)": (
            lambda: load_images(w / "panoptic.json"),
            lambda: load_images_fast(w / "panoptic.json"),
        ),
        "proposals (packed)": (
            lambda: load_proposals_packed(w / "proposals.json", images, cats, require_relation=True),
            lambda: load_proposals_packed_fast(w / "proposals.json", images, cats, require_relation=True),
        ),
    }
    print("results equal: yes")
    print(f"{'read':24s} {'standard ms':>12s} {'fast ms':>8s} {'fast/standard':>14s}  (CPU; best, median)")
    for name, (std, fast) in pairs.items():
        s, f = [], []
        for _ in range(a.repeat):
            s.append(cpu_ms(std)[1])
            f.append(cpu_ms(fast)[1])
        ratio = statistics.median(x / y for x, y in zip(f, s))
        print(
            f"{name:24s} {min(s):6.1f} {statistics.median(s):5.1f} {min(f):4.1f} {statistics.median(f):4.1f} {ratio:14.3f}"
        )


if __name__ == "__main__":
    main()
