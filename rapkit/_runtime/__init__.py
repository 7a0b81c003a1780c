"""The one door between rapkit and the process it runs in.

Everything of rapkit that touches process state or numba's internals lives here, and
nowhere else:

* :mod:`~rapkit._runtime.jit`: the ``njit`` every kernel uses, with an on-disk cache keyed on
  the kernel's dependencies (never stale) and light loads of cached kernels, behind one
  numba version gate (imports numba);
* :mod:`~rapkit._runtime.notice`: the compile notice and record of the command line;
* :mod:`~rapkit._runtime.pool`: the one pool kind, threads, joined before a call returns;
* :mod:`~rapkit._runtime.process`: allocator tuning and the GC policy of a command;
* :mod:`~rapkit._runtime.settings`: every ``RAPKIT_*`` environment setting, read once.

A library call leaves the caller's process as it found it: it patches nothing of numba,
changes neither the allocator nor the collector, and leaves no thread or child process
behind. Only the command line (:func:`rapkit.cli.main`) switches process-wide settings on
(:func:`~rapkit._runtime.process.tune_allocator`, :func:`~rapkit._runtime.process.command_gc`,
:func:`~rapkit._runtime.notice.enable`). Importing this package imports no numba.

>>> from rapkit._runtime import setting
>>> setting("RAPKIT_SYNCFS")
False
"""

from __future__ import annotations

from .pool import Behind, available_cores, imap_ordered, resolve_workers
from .settings import SETTINGS, setting

__all__ = ["SETTINGS", "Behind", "available_cores", "imap_ordered", "resolve_workers", "setting"]
