"""In-process phases of one ``rapkit evaluate`` or ``rapkit fuse`` run, for
benchmarks/startup.py: ``python benchmarks/_startup_probe.py evaluate --gt G --pred P``.

Prints one JSON line ``{phase: seconds}`` (wall): the imports (command line, the command's
pipeline and report; numba with the kernels where the command takes the kernel path), the
JSON reads, the PNGs (decode and count, or decode, fuse and encode), the cache loads of the
numba kernels (numba's own timing, ``RAPKIT_NUMBA_EVENTS``), the report (render and print),
and the rest of the run. The process is the command line's own (``rapkit.cli.main``), with
the functions of each phase wrapped by a timer.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

times: dict[str, float] = {}


def timed(module, name: str, phase: str) -> None:
    f = getattr(module, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            times[phase] = times.get(phase, 0.0) + time.perf_counter() - t

    setattr(module, name, wrapper)


def main() -> None:
    command, argv = sys.argv[1], sys.argv[2:]
    events = os.path.join(tempfile.mkdtemp(), "events.json")
    os.environ["RAPKIT_NUMBA_EVENTS"] = events
    t = time.perf_counter()
    import rapkit.cli
    from rapkit._runtime import notice

    times["in process: import rapkit.cli"] = time.perf_counter() - t
    t = time.perf_counter()
    if command == "evaluate":
        import rapkit.cli.evaluate as cmd
        import rapkit.pipeline.evaluate as pe
        import rapkit.pipeline.requests  # noqa: F401
        import rapkit.report.evaluate  # noqa: F401

        times["in process: import the command, its pipeline and report"] = time.perf_counter() - t
        timed(pe, "load_panoptic_arrays", "read the JSON files")
        timed(pe, "read_pair_keys", "PNGs: decode and count pairs (kernel path)")
        try:
            import rapkit.pipeline.evaluate_small as small

            timed(small, "read_pair_keys_numpy", "PNGs: decode and count pairs (numpy path)")
            timed(small, "pq_stats", "match segments (numpy path)")
        except ImportError:
            pass
    else:
        import rapkit.cli.fuse as cmd
        import rapkit.pipeline.fuse as pf
        import rapkit.report.fuse  # noqa: F401

        times["in process: import the command, its pipeline and report"] = time.perf_counter() - t
        timed(pf, "load_proposals", "read the JSON files")
        timed(pf, "load_proposals_packed_fast", "read the JSON files")
        timed(pf, "load_images_fast", "read the JSON files")
        timed(pf, "load_categories", "read the JSON files")
        timed(pf, "_fuse_batch", "PNGs: decode, fuse, encode, write")
    timed(cmd, "emit", "report: render and print")
    if command == "fuse" or os.environ.get("RAPKIT_EVALUATE_PATH") == "kernels":
        t = time.perf_counter()
        import rapkit._runtime.jit  # noqa: F401  (numba: the kernel path imports it on the way)

        times["in process: import numba (rapkit._runtime.jit)"] = time.perf_counter() - t
    t = time.perf_counter()
    notice.enable()
    try:
        rapkit.cli._run(rapkit.cli.cli, [command, *argv], "rapkit", {})
    finally:
        total = time.perf_counter() - t
    notice.report()
    times["numba imported (1 = yes)"] = float("numba" in sys.modules) / 1000
    with open(events) as f:
        rec = json.load(f)
    inner = sum(v for k, v in times.items() if not k.startswith(("in process: import", "numba")))
    times["numba: cached kernel loads (inside the phases above)"] = sum(x["seconds"] for x in rec["loads"])
    times["the rest of the run (options, checks, matching, imports on the way)"] = total - inner
    print(json.dumps(times))


if __name__ == "__main__":
    main()
