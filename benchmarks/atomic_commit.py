"""What making an output folder durable costs: serial ``fsync``, parallel ``fsync``, ``syncfs``.

    python benchmarks/atomic_commit.py                      # 200 files of 10-60 KB, 7 rounds
    python benchmarks/atomic_commit.py --files 50 --rounds 11
    python benchmarks/atomic_commit.py --threads 4,16 --dir /data/scratch

Before rapkit renames a finished output folder into place it makes every file of it durable
(``rapkit.io._atomic.fsync_tree``). Each round writes a fresh folder like a fused output
(``panoptic/`` with ``--files`` PNG-sized files of random, incompressible bytes, plus a JSON
file) for every method, in a rotated order, and times only the durability step:

* ``serial``: one ``fsync`` per file, one after the other, then the folders;
* ``parallel N``: the files' ``fsync`` calls in N threads (joined), then the folders; rapkit's
  default is ``FSYNC_THREADS`` threads;
* ``syncfs``: one ``syncfs`` of the filesystem (``RAPKIT_SYNCFS=1``). It also writes out
  every other process's dirty data on that filesystem, so its time depends on them.

Prints the median, min and max over the rounds (ms) and the ratio of the serial median to
each method's median. Only ratios from the same run compare: a disk's fsync time varies
with everything else that writes to it. ``--dir`` picks the filesystem (default: the current
folder; a tmpfs makes fsync free and the comparison meaningless).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rapkit.io import _atomic as A


def write_output(root: Path, n: int, sizes: tuple[int, int], rng: random.Random) -> Path:
    """A fresh output-like folder: ``panoptic/`` with ``n`` files and ``panoptic.json``."""
    out = Path(tempfile.mkdtemp(prefix="out-", dir=root))
    (out / "panoptic").mkdir()
    for i in range(n):
        (out / "panoptic" / f"{i:06d}.png").write_bytes(os.urandom(rng.randint(*sizes)))
    (out / "panoptic.json").write_bytes(os.urandom(sizes[1]))
    return out


def tree(p: Path) -> tuple[list[str], list[str]]:
    walk = list(os.walk(p, topdown=False))
    return [os.path.join(r, f) for r, _d, fs in walk for f in fs], [r for r, _d, _f in walk]


def per_file(threads: int) -> Callable[[Path], None]:
    def run(p: Path) -> None:
        files, folders = tree(p)
        A._fsync_all(files, threads=threads)
        A._fsync_all(folders, directory=True, threads=1)

    return run


def syncfs(p: Path) -> None:
    tree(p)  # the same walk the per-file methods do
    if not A._syncfs(str(p)):
        raise SystemExit("syncfs is not available here (Linux only)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=200, help="files per output folder (default 200)")
    ap.add_argument("--min-kb", type=int, default=10, help="smallest file, KB (default 10)")
    ap.add_argument("--max-kb", type=int, default=60, help="largest file, KB (default 60)")
    ap.add_argument("--rounds", type=int, default=7, help="rounds; medians over them (default 7)")
    ap.add_argument(
        "--threads",
        default=f"2,4,8,{A.FSYNC_THREADS},32",
        help=f"thread counts of the parallel rows (default 2,4,8,{A.FSYNC_THREADS},32)",
    )
    ap.add_argument("--dir", type=Path, default=Path("."), help="where to write (default: the current folder)")
    ap.add_argument("--no-syncfs", action="store_true", help="leave out the syncfs row")
    args = ap.parse_args(argv)

    methods: dict[str, Callable[[Path], None]] = {"serial": per_file(1)}
    for t in sorted({int(x) for x in args.threads.split(",") if x.strip()}):
        name = f"parallel {t}" + (" (default)" if t == A.FSYNC_THREADS else "")
        methods[name] = per_file(t)
    if not args.no_syncfs and sys.platform.startswith("linux"):
        methods["syncfs"] = syncfs

    rng = random.Random(0)
    sizes = (args.min_kb * 1000, args.max_kb * 1000)
    times: dict[str, list[float]] = {m: [] for m in methods}
    root = Path(tempfile.mkdtemp(prefix=".rapkit-atomic-bench-", dir=args.dir))
    try:
        names = list(methods)
        for r in range(args.rounds):
            for m in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                out = write_output(root, args.files, sizes, rng)
                t0 = time.perf_counter()
                methods[m](out)
                times[m].append(time.perf_counter() - t0)
                shutil.rmtree(out)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"{args.files} files of {args.min_kb}-{args.max_kb} KB + 1 JSON in {root.parent.resolve()}, "
        f"{args.rounds} rounds, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    base = statistics.median(times["serial"])
    print(f"{'method':<22} {'median ms':>10} {'min':>8} {'max':>8} {'serial/this':>12}")
    for m, ts in times.items():
        med = statistics.median(ts)
        print(f"{m:<22} {med * 1e3:10.1f} {min(ts) * 1e3:8.1f} {max(ts) * 1e3:8.1f} {base / med:11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
