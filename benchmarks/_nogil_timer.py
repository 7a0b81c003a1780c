"""The thread-CPU timer of the scaling probes (benchmarks/_gil_probe.py, _scaling_evaluate.py,
_scaling_extract.py, _scaling_sweep.py): what a call spends inside code that releases the GIL
(rapkit's numba kernels, compiled ``nogil=True``; libdeflate; file system calls), so that the
rest of a thread's CPU is the part that holds it.

    acc, timed = thread_cpu_timer()      # acc[0]: thread-CPU seconds inside timed calls
    wrap_kernels(timed)                  # every numba dispatcher of rapkit.kernels
    deflate.zlib_decompress = timed(deflate.zlib_decompress)
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable


def thread_cpu_timer() -> tuple[list[float], Callable]:
    """``(acc, timed)``: ``timed(fn)`` wraps ``fn`` so that its thread CPU adds to ``acc[0]``."""
    acc = [0.0]
    clock = time.thread_time

    def timed(fn):
        def call(*a, **k):
            t = clock()
            try:
                return fn(*a, **k)
            finally:
                acc[0] += clock() - t

        return call

    return acc, timed


def wrap_kernels(timed: Callable) -> None:
    """Replace every numba dispatcher of ``rapkit.kernels``' modules by ``timed(dispatcher)``
    (call after the kernels are loaded: the wrapper is what the modules' callers now find)."""
    import rapkit.kernels

    for m in pkgutil.iter_modules(rapkit.kernels.__path__):
        mod = importlib.import_module(f"rapkit.kernels.{m.name}")
        for name, obj in list(vars(mod).items()):
            if hasattr(obj, "py_func") and hasattr(obj, "signatures"):  # a numba dispatcher
                setattr(mod, name, timed(obj))
