"""Run callbacks once numba is imported, without importing it.

``rapkit --help`` and the commands that use no kernel must not pay numba's import (about
0.3 s); code that adjusts numba (the compile notice of :mod:`rapkit.kernels._compile_notice`,
the lighter cache loads of :mod:`rapkit.kernels._cache_load`) registers here instead and runs
right after numba's package has been executed, before any kernel module goes on.

>>> from rapkit.kernels._numba_hook import after_numba_import
>>> after_numba_import(lambda: None)   # runs now if numba is imported, else on its import
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["after_numba_import"]

_callbacks: list[Callable[[], None]] = []


def _run_callbacks() -> None:
    while _callbacks:
        _callbacks.pop(0)()


class _Loader(importlib.abc.Loader):
    """numba's own loader, plus the callbacks once numba's package has run."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__spec__.loader = module.__loader__ = self._inner  # leave no trace on numba
        self._inner.exec_module(module)
        _run_callbacks()


class _Watch(importlib.abc.MetaPathFinder):
    """Finds nothing; on the import of ``numba`` it wraps the real loader (then leaves)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "numba":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def after_numba_import(callback: Callable[[], None]) -> None:
    """Call ``callback`` now when numba is imported, else right after its import (in
    registration order; each callback once)."""
    if "numba" in sys.modules:
        callback()
        return
    _callbacks.append(callback)
    if not any(isinstance(f, _Watch) for f in sys.meta_path):
        sys.meta_path.insert(0, _Watch())
