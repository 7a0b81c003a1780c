"""Process-wide settings for a rapkit command: the allocator and the cyclic GC.

A library call never calls anything here; the command line (:func:`rapkit.cli.main`, when it
runs as its own process) does, once:

* :func:`tune_allocator` keeps freed image-sized buffers in glibc's heap for reuse. Every
  image allocates a few MB of temporaries (masks, canvas, id map, PNG rows); by default
  glibc maps such blocks afresh and returns them on free, so each image pays a page fault
  per 4 KB touched (about a third of the fusion time of a dense image here). A fixed mmap
  threshold of 32 MB and a high trim threshold make them come from the heap and stay there.
* :func:`command_gc` is the GC policy of a command: the objects alive when it starts
  (imported modules, numba's object graph) are frozen, out of every collection, and the
  first generation's threshold is raised, so that parsing a big JSON file (about 10^5
  long-lived containers per 200 dense images) does not make the collector walk the same
  objects again and again.
* :func:`before_exit` freezes what is alive at the end: the interpreter's shutdown
  collections would otherwise walk the whole heap only for the OS to reclaim it.
* :func:`end_process` ends the command's process without the interpreter's teardown (the
  finalisation of every module and object, numba's compiled code included: about 19 ms of
  every command that loaded numba, ``benchmarks/exit_teardown.py``), once the standard streams are flushed and the ``atexit``
  handlers have run.

>>> tune_allocator.__name__
'tune_allocator'
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import NoReturn

__all__ = ["GC_THRESHOLD0", "before_exit", "command_gc", "end_process", "tune_allocator"]

#: first-generation threshold during a command (Python's default is 700)
GC_THRESHOLD0 = 50_000


def tune_allocator() -> bool:
    """Keep freed image-sized buffers in the process heap (glibc ``mallopt``); False where
    glibc is not available. Process-wide: for the command line only."""
    import ctypes

    try:
        # the C library the process already runs on (dlopen(NULL)): ctypes.util.find_library
        # would start an ldconfig subprocess to find it, a few ms of every command's start-up
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no glibc (TypeError: Windows' CDLL(None))
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 << 20) == 1
    return bool(mallopt(m_trim_threshold, 512 << 20) == 1 and ok)


def command_gc() -> None:
    """The command's GC policy (see the module docstring). Process-wide: for the command line only."""
    gc.freeze()
    _t0, t1, t2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD0, t1, t2)


def before_exit() -> None:
    """Leave every live object out of the interpreter's shutdown collections."""
    gc.freeze()


def end_process(code: int) -> NoReturn:
    """End the process with exit status ``code``: the ``atexit`` handlers run and the standard
    streams are flushed, then the process exits without tearing the interpreter down (every
    output of a command is written and closed before it returns). With torch loaded
    (``train``, ``predict``) the ordinary exit runs instead: torch's own shutdown (CUDA,
    process groups, data-loader workers) is left to it."""
    if "torch" in sys.modules:
        sys.exit(code)
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):  # a closed pipe or stream: nothing more to say
                pass
        os._exit(code & 0xFF if isinstance(code, int) else 1)
