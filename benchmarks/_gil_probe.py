"""The serial (GIL-held) CPU time of one ``rapkit fuse`` run, for benchmarks/scaling.py.

    PYTHONPATH=TREE python benchmarks/_gil_probe.py WARM_WORLD WORLD

Runs :func:`rapkit.pipeline.fuse.fuse` of the tree on ``PYTHONPATH`` in this process with one
worker (everything in this thread), after a warm-up on ``WARM_WORLD`` (a tiny world: the
kernels are loaded from the cache before anything is wrapped). Every numba kernel of
``rapkit.kernels`` (they are compiled with ``nogil=True``) and the file reads and writes
(``Path.read_bytes``/``write_bytes`` and the fuse workers' ``_read_file``/``_write_file`` in
``rapkit.io.semantic``/``rapkit.io.png_write``, which release the GIL in their system calls;
``zlib.crc32`` of more than 5 KiB, for which CPython's zlib releases it) and
libdeflate's inflate (``deflate.zlib_decompress``, which releases it too) are
wrapped with a thread-CPU timer. What the thread spends outside them holds the GIL: it is
the part that threads cannot share. The process gets the command line's allocator and GC
settings (:mod:`rapkit._runtime.process`), as ``rapkit fuse`` does. Timing CPU (not wall) keeps the figure steady on a
loaded machine. Prints one JSON object:

* ``startup_cpu``: CPU seconds from the call to the first image (inputs read and checked,
  kernels loaded);
* ``loop_cpu``: CPU seconds from the first image to the return (JSON writing included);
* ``nogil_cpu``: the part of ``loop_cpu`` inside the wrapped calls;
* ``images_cpu``, ``images_nogil_cpu``: the same up to the last image (the rest of
  ``loop_cpu`` is writing ``panoptic.json``);
* ``main_cpu_2_workers``: the calling thread's CPU seconds from the first image to the
  return in a second run with two worker threads (what the parent serialises);
* ``images``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _nogil_timer import thread_cpu_timer, wrap_kernels

os.environ.setdefault("RAPKIT_FSYNC", "0")


def _world_args(w: str) -> tuple:
    return (f"{w}/proposals.json", f"{w}/panoptic.json", f"{w}/categories.json")


def main() -> None:
    warm, world = sys.argv[1], sys.argv[2]
    import rapkit.kernels
    from rapkit._runtime import process
    from rapkit.pipeline.fuse import fuse

    process.tune_allocator()  # the process settings of the command line (rapkit.cli.main)
    process.command_gc()

    tmp = tempfile.mkdtemp(prefix="rapkit-gil-probe-")
    try:
        fuse(*_world_args(warm), f"{tmp}/warm", semantic=f"{warm}/semantic", workers=1)
        acc, timed = thread_cpu_timer()
        clock = time.thread_time
        wrap_kernels(timed)
        import deflate  # libdeflate's binding releases the GIL while it inflates

        deflate.zlib_decompress = timed(deflate.zlib_decompress)
        Path.read_bytes = timed(Path.read_bytes)  # type: ignore[method-assign]
        Path.write_bytes = timed(Path.write_bytes)  # type: ignore[method-assign]
        import zlib

        import rapkit.io.png_write
        import rapkit.io.semantic

        crc32 = zlib.crc32

        def crc32_timed(data, value=0):  # CPython's zlib releases the GIL for buffers over 5 KiB
            if len(memoryview(data).cast("B")) <= 5 * 1024:
                return crc32(data, value)
            t = clock()
            try:
                return crc32(data, value)
            finally:
                acc[0] += clock() - t

        zlib.crc32 = crc32_timed

        # the plain file reads and writes of the fuse workers (open + read / write)
        for mod, name in ((rapkit.io.semantic, "_read_file"), (rapkit.io.png_write, "_write_file")):
            if hasattr(mod, name):
                setattr(mod, name, timed(getattr(mod, name)))
        marks = {}

        def on_start(n: int) -> None:
            marks["start"] = clock()
            acc[0] = 0.0

        def progress(k: int) -> None:
            marks["last"] = (clock(), acc[0])

        t0 = clock()
        s = fuse(
            *_world_args(world),
            f"{tmp}/out",
            semantic=f"{world}/semantic",
            workers=1,
            on_start=on_start,
            progress=progress,
        )
        t1 = clock()
        start1, loop_nogil, (t_last, nogil_last) = marks["start"], acc[0], marks["last"]
        # the same with 2 worker threads: the calling thread's own CPU from the first image on
        # is what it serialises (handing out images, merging results, writing the JSON)
        s2 = fuse(*_world_args(world), f"{tmp}/out2", semantic=f"{world}/semantic", workers=2, on_start=on_start)
        main2 = clock() - marks["start"]
        assert s2.images == s.images
        print(
            json.dumps(
                {
                    "startup_cpu": start1 - t0,
                    "loop_cpu": t1 - start1,
                    "nogil_cpu": loop_nogil,
                    "images_cpu": t_last - start1,
                    "images_nogil_cpu": nogil_last,
                    "main_cpu_2_workers": main2,
                    "images": s.images,
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
