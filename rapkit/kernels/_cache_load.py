"""Lighter loads of cached kernels: skip numba's compiler set-up when nothing is compiled.

Before numba loads a kernel from its on-disk cache it "refreshes" its CPU target context
(``numba.core.caching.Cache.load_overload``): it imports and registers every typing and
lowering registry numba has (arrays, random, linalg, typed containers, jitclass, ...), about
0.15-0.2 s once per process. A cached kernel needs none of that: it is machine code to link
and run, needing only numba's runtime (NRT), which :func:`install`'s loader initialises.
Compiling still refreshes the context first (numba's compiler pipeline does so itself), so
a kernel missing from the cache compiles as before. When a light load fails for any
reason, the load is retried the standard way (refresh, then load).

For a command such as ``rapkit fuse`` on 200 images (about 1.7 s in all) this is a tenth of
the run. Active for the numba versions in :data:`TESTED` (their ``Cache.load_overload`` is
the two-step refresh-then-load patched here); off with ``RAPKIT_NUMBA_LIGHT_LOAD=0``.
:func:`arm` (called when ``rapkit.kernels`` is imported) installs it once numba is imported.

>>> from rapkit.kernels import _cache_load
>>> _cache_load.ENV
'RAPKIT_NUMBA_LIGHT_LOAD'
"""

from __future__ import annotations

import os
from typing import Any

from ._numba_hook import after_numba_import

ENV = "RAPKIT_NUMBA_LIGHT_LOAD"
#: numba versions (major, minor), inclusive, whose cache loader this replaces
TESTED = ((0, 59), (0, 68))

__all__ = ["ENV", "TESTED", "active", "arm", "install"]

_state = {"installed": False, "active": False, "fallbacks": 0}


def _version_ok(version: str) -> bool:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return TESTED[0] <= (major, minor) <= TESTED[1]


def install() -> bool:
    """Replace numba's ``Cache.load_overload`` with the light load (numba must be imported);
    once per process. Returns whether the light load is active."""
    if _state["installed"]:
        return bool(_state["active"])
    _state["installed"] = True
    if os.environ.get(ENV, "1") in ("0", "false", "no", "off"):
        return False
    import numba
    from numba.core import caching

    if not _version_ok(numba.__version__):
        return False
    try:
        from numba.core.runtime import rtsys
    except ImportError:  # pragma: no cover - a numba laid out otherwise
        return False
    cache = caching.Cache
    if not all(hasattr(cache, a) for a in ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")):
        return False  # pragma: no cover
    standard = cache.load_overload

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        try:
            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception:  # anything unexpected: the standard path decides
            _state["fallbacks"] = int(_state["fallbacks"]) + 1
            return standard(self, sig, target_context)

    load_overload.__doc__ = standard.__doc__
    cache.load_overload = load_overload
    _state["active"] = True
    return True


def active() -> bool:
    """Whether the light load is installed and active in this process."""
    return bool(_state["active"])


def arm() -> None:
    """Install the light load once numba is imported (now, if it is)."""
    after_numba_import(install)
