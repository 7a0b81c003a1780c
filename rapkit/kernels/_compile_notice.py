"""The one-line notice of a first run's numba compiles, and a per-kernel record of them.

A rapkit command's first run after install (or after an edit of a kernel) compiles the numba
kernels it uses; later runs load them from numba's on-disk cache. :func:`arm` (called by the
console entry point, :func:`rapkit.cli.main`) listens to numba's ``"numba:compile"`` events
once numba is imported, and :func:`report` then prints, when anything was compiled, one line
on stderr naming the measured one-time cost and the cache folder::

    rapkit: compiled 9 numba kernels on first use in 31.4 s (one-time; cached in /home/u/.cache/rapkit)

Nothing is printed when every kernel came from the cache. Neither function imports numba:
``rapkit --help`` stays numba-free (:func:`arm` hooks numba's import instead).

With ``RAPKIT_NUMBA_EVENTS=<file.json>`` in the environment, :func:`report` also writes every
compile (kernel, signature, seconds, nested in which kernel) and every cache load (kernel,
signature, seconds) of the process to that file; ``benchmarks/cold_start.py`` prints them.

>>> from rapkit.kernels import _compile_notice as cn
>>> cn.notice_line(3, 12.34, "/tmp/nb")
'rapkit: compiled 3 numba kernels on first use in 12.3 s (one-time; cached in /tmp/nb)'
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from ._numba_hook import after_numba_import

EVENTS_ENV = "RAPKIT_NUMBA_EVENTS"

__all__ = ["EVENTS_ENV", "arm", "notice_line", "record", "report"]


class _State:
    def __init__(self) -> None:
        self.installed = False
        self.compiles: list[dict[str, Any]] = []  # one per "numba:compile" event (nested ones too)
        self.loads: list[dict[str, Any]] = []  # one per cache lookup that found the kernel
        self.cache_dir: str | None = None
        self.local = threading.local()  # per-thread stack of open compile records


_state = _State()


def _kernel_name(dispatcher: Any) -> str:
    f = dispatcher.py_func
    return f"{f.__module__}.{f.__qualname__}"


def _install() -> None:
    """Register the listener (numba is imported by now); once per process."""
    if _state.installed:
        return
    _state.installed = True
    from numba.core import event

    class _Listener(event.Listener):
        def on_start(self, ev: Any) -> None:
            stack = getattr(_state.local, "stack", None)
            if stack is None:
                stack = _state.local.stack = []
            d = ev.data["dispatcher"]
            rec = {
                "kernel": _kernel_name(d),
                "signature": str(ev.data["args"]),
                "inside": stack[-1]["kernel"] if stack else None,
                "start": time.perf_counter(),
                "cpu_start": time.thread_time(),
            }
            if _state.cache_dir is None:
                _state.cache_dir = getattr(d._cache, "cache_path", None)
            stack.append(rec)

        def on_end(self, ev: Any) -> None:
            rec = _state.local.stack.pop()
            rec["seconds"] = time.perf_counter() - rec.pop("start")
            rec["cpu_seconds"] = time.thread_time() - rec.pop("cpu_start")
            _state.compiles.append(rec)

    event.register("numba:compile", _Listener())
    if os.environ.get(EVENTS_ENV):
        _time_cache_loads()


def _time_cache_loads() -> None:
    """Time every on-disk cache lookup that finds its kernel (recording mode only): numba's
    ``Cache._load_overload`` (the load itself; numba's once-per-process context set-up,
    which :mod:`rapkit.kernels._cache_load` makes lighter, is outside it)."""
    from numba.core import caching

    inner = caching.Cache._load_overload

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        data = inner(self, sig, target_context)
        if data is not None:
            f = self._py_func
            _state.loads.append(
                {
                    "kernel": f"{f.__module__}.{f.__qualname__}",
                    "signature": str(sig),
                    "seconds": time.perf_counter() - t,
                    "cpu_seconds": time.thread_time() - c,
                }
            )
        return data

    caching.Cache._load_overload = load_overload


def arm() -> None:
    """Listen to numba's compiles from now on, without importing numba."""
    after_numba_import(_install)


def record() -> dict[str, Any]:
    """This process's compiles and (recording mode) cache loads so far."""
    return {"compiles": list(_state.compiles), "loads": list(_state.loads), "cache_dir": _state.cache_dir}


def notice_line(n_kernels: int, seconds: float, cache_dir: str | None) -> str:
    """The notice: how many kernels were compiled, in how long, and where they are cached."""
    where = f"; cached in {cache_dir}" if cache_dir else ""
    noun = "kernel" if n_kernels == 1 else "kernels"
    return f"rapkit: compiled {n_kernels} numba {noun} on first use in {seconds:.1f} s (one-time{where})"


def report() -> None:
    """Print the notice on stderr when this process compiled anything (once), and write the
    record file in recording mode. Never raises: a notice must not change an exit code."""
    try:
        path = os.environ.get(EVENTS_ENV)
        if path:
            from ..io.jsonio import save_json

            save_json(path, record(), force=True, indent=1)
        top = [c for c in _state.compiles if c["inside"] is None]
        if top:
            seconds = sum(c["seconds"] for c in top)
            kernels = {c["kernel"] for c in _state.compiles if not c["kernel"].startswith("numba.")}  # not numba's own
            print(notice_line(len(kernels), seconds, _state.cache_dir), file=sys.stderr, flush=True)
            _state.compiles.clear()
    except Exception:  # pragma: no cover - stderr gone, file not writable
        pass
