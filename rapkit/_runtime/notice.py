"""The one-line notice of a first run's numba compiles, and a per-kernel record of them.

A command's first run after install (or after an edit of a kernel or of a module it depends
on) compiles the numba kernels it uses; later runs load them from the on-disk cache. The
command line (:func:`rapkit.cli.main`, and only it) calls :func:`enable`: from then on
numba's ``"numba:compile"`` events are recorded, and :func:`report` prints, when anything
was compiled, one line on stderr naming the measured one-time cost and the cache folder::

    rapkit: compiled 9 numba kernels on first use in 31.4 s (one-time; cached in /home/u/.cache/rapkit)

Nothing is printed when every kernel came from the cache. :func:`enable` does not import
numba (``rapkit --help`` stays numba-free): the listener is registered when
:mod:`rapkit._runtime.jit` imports numba, before any kernel can compile. A library call
never registers it.

With ``RAPKIT_NUMBA_EVENTS=<file.json>`` set, :func:`report` also writes every compile
(kernel, signature, seconds, nested in which kernel) and every cache load (kernel,
signature, seconds) of the process to that file; ``benchmarks/cold_start.py`` prints them.

>>> notice_line(3, 12.34, "/tmp/nb")
'rapkit: compiled 3 numba kernels on first use in 12.3 s (one-time; cached in /tmp/nb)'
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from ..io.jsonio import save_json
from .settings import setting

__all__ = ["enable", "loaded", "notice_line", "record", "recording", "report"]


class _State:
    def __init__(self) -> None:
        self.wanted = False  # enable() was called (the command line)
        self.numba = False  # rapkit._runtime.jit has imported numba
        self.installed = False
        self.compiles: list[dict[str, Any]] = []  # one per "numba:compile" event (nested ones too)
        self.loads: list[dict[str, Any]] = []  # one per cache lookup that found the kernel
        self.cache_dir: str | None = None
        self.local = threading.local()  # per-thread stack of open compile records


_state = _State()


def _kernel_name(f: Any) -> str:
    return f"{f.__module__}.{f.__qualname__}"


def _install() -> None:
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
                "kernel": _kernel_name(d.py_func),
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


def enable() -> None:
    """Record this process's compiles from now on (the command line only; no numba import)."""
    _state.wanted = True
    if _state.numba:
        _install()


def numba_imported() -> None:
    """Called by :mod:`rapkit._runtime.jit` once it has imported numba."""
    _state.numba = True
    if _state.wanted:
        _install()


def recording() -> bool:
    """Whether cache loads are timed too (the command line, with ``RAPKIT_NUMBA_EVENTS``)."""
    return _state.wanted and bool(setting("RAPKIT_NUMBA_EVENTS"))


def loaded(py_func: Any, sig: Any, seconds: float, cpu_seconds: float) -> None:
    """Record one cache load (see :func:`recording`)."""
    _state.loads.append(
        {"kernel": _kernel_name(py_func), "signature": str(sig), "seconds": seconds, "cpu_seconds": cpu_seconds}
    )


def record() -> dict[str, Any]:
    """This process's compiles and (with ``RAPKIT_NUMBA_EVENTS``) cache loads so far."""
    return {"compiles": list(_state.compiles), "loads": list(_state.loads), "cache_dir": _state.cache_dir}


def notice_line(n_kernels: int, seconds: float, cache_dir: str | None) -> str:
    """The notice: how many kernels were compiled, in how long, and where they are cached."""
    where = f"; cached in {cache_dir}" if cache_dir else ""
    noun = "kernel" if n_kernels == 1 else "kernels"
    return f"rapkit: compiled {n_kernels} numba {noun} on first use in {seconds:.1f} s (one-time{where})"


def report() -> None:
    """Print the notice on stderr when this process compiled anything (once), and write the
    record file with ``RAPKIT_NUMBA_EVENTS``. Never raises: a notice must not change an exit
    code."""
    try:
        path = setting("RAPKIT_NUMBA_EVENTS")
        if path and _state.wanted:
            save_json(path, record(), force=True, indent=1)
        top = [c for c in _state.compiles if c["inside"] is None]
        if top:
            seconds = sum(c["seconds"] for c in top)
            kernels = {c["kernel"] for c in _state.compiles if not c["kernel"].startswith("numba.")}
            print(notice_line(len(kernels), seconds, _state.cache_dir), file=sys.stderr, flush=True)
            _state.compiles.clear()
    except Exception:  # pragma: no cover - stderr gone, file not writable
        pass
