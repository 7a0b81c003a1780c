"""Compile numba kernels in a background process while the foreground process works.

On a first run (empty numba cache) a long command such as ``rapkit demo`` compiles each kernel
when it first calls it, one after the other. :func:`precompile` starts a second process that
runs a *small* rapkit command with the same kernels (for the demo: a demo on a tiny world),
so that the kernels are compiled on the other core and written to numba's on-disk cache
while the foreground synthesises images or trains; when the foreground reaches a kernel it
loads it from the cache instead of compiling it. The small command uses the same code paths
as the big one, so it compiles exactly the specialisations the big one needs (numba's cache
is shared by processes: the cache folder and the environment are inherited).

    from rapkit.kernels import background, fusion, png, sweep
    with background.precompile(["demo", "-o", "{out}", "-n", "4", "--height", "64", "--width", "64",
                                "--no-render", "--no-train", "--quiet"], modules=[fusion, png, sweep]):
        ...  # the foreground work

* Nothing is started when the kernels of ``modules`` are already in the cache (see
  :func:`all_cached`; a warm run pays nothing but the check), nor under ``RAPKIT_PRECOMPILE=0``.
* The child never outlives the foreground: :meth:`Precompile.close` (also on leaving the
  ``with`` block, and at interpreter exit) terminates it when still running, and the child
  exits by itself when its parent dies (it watches a pipe from the parent; end of file =
  parent gone, even after ``kill -9``). Its output folder (``{out}`` in the arguments) is a
  temporary folder the child removes when it ends (so does :meth:`~Precompile.close`). Its
  stdout and stderr are discarded.
* A kernel the foreground reaches while the child is still compiling it is compiled by both
  (numba's cache writes are atomic renames): never slower than without the child by more than
  the contention for the CPU.

>>> background.precompile(["--version"], modules=[]).started   # doctest: +SKIP
False
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ..io.folders import remove_folder, temp_folder

__all__ = ["Precompile", "all_cached", "precompile"]


def _dispatchers(modules: Sequence[ModuleType]) -> list[Any]:
    from numba.core.dispatcher import Dispatcher

    out = []
    for m in modules:
        for v in vars(m).values():
            if isinstance(v, Dispatcher) and getattr(v.py_func, "__module__", None) == m.__name__:
                out.append(v)
    return out


def all_cached(modules: Sequence[ModuleType]) -> bool:
    """True when each of ``modules`` has a current entry in numba's on-disk cache (this numba
    version, this source file) for at least one of its kernels. A module's entries go stale
    together (numba stamps them with the source file), and kernels a command never calls (or
    ``inline="always"`` helpers) never get an entry, so one entry per module is the test of
    "this module was compiled for this install". Reads numba's cache index; False when that
    cannot be read."""
    try:
        for m in modules:
            if not any(d._cache._cache_file._load_index() for d in _dispatchers([m])):
                return False
        return True
    except Exception:  # a numba without these internals: assume cold
        return False


class Precompile:
    """Handle of a background compile (see :func:`precompile`); ``started`` says whether a
    child process was started."""

    def __init__(self, proc: subprocess.Popen | None, folder: str | None) -> None:
        self._proc = proc
        self._folder = folder
        self.started = proc is not None
        if proc is not None:
            atexit.register(self.close)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the child to finish; True when it has (or none was started)."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close(self) -> None:
        """Stop the child if it still runs (SIGTERM, then SIGKILL after 5 s), reap it and
        remove its output folder. Safe to call more than once."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()
        if self._folder is not None:
            remove_folder(self._folder)
            self._folder = None

    def __enter__(self) -> Precompile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _commands(argv: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    if argv and not isinstance(argv[0], str):
        return [list(c) for c in argv]  # type: ignore[arg-type]
    return [list(argv)]  # type: ignore[arg-type]


def precompile(argv: Sequence[str] | Sequence[Sequence[str]], *, modules: Sequence[ModuleType]) -> Precompile:
    """Run ``rapkit <argv>`` in a background process unless the kernels of ``modules`` are
    already cached (:func:`all_cached`) or ``RAPKIT_PRECOMPILE=0``. ``argv`` may also be a
    list of commands, run one after the other in the child (put first the commands whose
    kernels the foreground meets last, so that the two processes compile different kernels
    at the same time). In the arguments, ``{out}`` is replaced by a path inside a fresh
    temporary folder and ``{tmp}`` by that folder itself (removed by the child when it ends
    and by :meth:`Precompile.close`). Returns the :class:`Precompile` handle; close it (or
    use it as a context manager) when the foreground is done."""
    if os.environ.get("RAPKIT_PRECOMPILE", "1") == "0" or all_cached(modules):
        return Precompile(None, None)
    folder = temp_folder("rapkit-precompile-")
    out = os.path.join(folder, "out")
    commands = [[a.replace("{out}", out).replace("{tmp}", folder) for a in c] for c in _commands(argv)]
    env = dict(os.environ)
    env.pop("RAPKIT_NUMBA_EVENTS", None)  # the foreground's record file
    env["RAPKIT_PRECOMPILE_FOLDER"] = folder
    env["RAPKIT_PRECOMPILE"] = "0"  # the child's own command must not start another child
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapkit.kernels.background", json.dumps(commands)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
    )
    return Precompile(proc, folder)


def _leave() -> None:
    """End the child now, removing its output folder (also when the parent could not)."""
    folder = os.environ.get("RAPKIT_PRECOMPILE_FOLDER")
    if folder:
        remove_folder(folder)
    os._exit(0)


def _watch_parent() -> None:
    """Leave as soon as stdin (a pipe from the parent) reaches end of file: the parent is gone."""
    try:
        while sys.stdin.buffer.read(1):
            pass
    finally:
        _leave()


def _child(commands: list[list[str]]) -> None:
    import signal

    threading.Thread(target=_watch_parent, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: _leave())
    from ..cli import main

    for argv in commands:  # one failing command (a bad input) does not stop the others
        try:
            main(argv)
        except SystemExit:
            pass
    _leave()


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
