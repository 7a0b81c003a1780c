"""The ``njit`` every kernel of rapkit uses, and its on-disk cache.

:func:`njit` is numba's ``njit`` with rapkit's fixed options (``nogil=True``, no fastmath)
and an on-disk cache of rapkit's own (:class:`KernelCache`, a subclass of numba's
``FunctionCache``, set on rapkit's dispatchers only; numba's classes are left as they are):

* **Never stale.** numba keys a cached kernel on the source of the file that defines it.
  A kernel also carries the code of the helpers it calls or inlines from other modules
  (``kernels/decisions.py``, ``kernels/hashtable.py``) and the constants it reads from them,
  so an edit there would leave the old machine code running. The cache of every kernel here
  is also keyed on a digest of every rapkit module its module imports, directly or
  through others (:func:`dependency_stamp`): after any such edit (``git pull`` on an editable
  install, an upgrade in place) the kernel compiles again, once, and the new code runs. A
  dependency whose imported bytecode may be older than its source
  (:func:`bytecode_may_be_stale`: a same-size edit within a second of the last import) keeps
  the kernels that use it out of the cache in that process; its ``.pyc`` is removed.
* **Light loads.** numba sets up its whole compiler (every typing and lowering registry:
  0.15-0.2 s once per process) before it loads a kernel from the cache, which a cached
  kernel does not need. :class:`KernelCache` only initialises numba's runtime and loads;
  when that fails for any reason, the standard load runs. For the numba versions in
  :data:`NUMBA_TESTED` (``RAPKIT_NUMBA_LIGHT_LOAD=0`` turns it off).

This module and its package are the only places in rapkit that touch numba's internals;
:func:`features` is the one version gate.

>>> @njit
... def twice(x):
...     return 2 * x
>>> twice(21)
42
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import time
import warnings
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numba
from numba.core import caching as _caching

from . import notice as _notice
from .settings import setting

__all__ = [
    "NUMBA_TESTED",
    "KernelCache",
    "dependency_files",
    "dependency_stamp",
    "features",
    "kernels",
    "njit",
    "trailing_zeros",
]

#: numba versions (major, minor), inclusive, whose cache internals :class:`KernelCache` was
#: tested with (the light load's two-step ``refresh``-then-load is the one it replaces)
NUMBA_TESTED = ((0, 59), (0, 68))

#: the folder of the rapkit package (dependency stamps cover modules under it)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: this package: it decides how kernels are compiled and cached, not what they compute, so
#: the stamps leave it out (a numba upgrade is numba's own cache's business)
_RUNTIME_DIR = Path(__file__).resolve().parent
#: modules of ``rapkit/_runtime/`` whose code is compiled into the kernels that import them
#: (numba intrinsics): they count in a kernel's stamp; the rest of ``_runtime`` does not
_COMPILED_RUNTIME = frozenset({"ccall.py"})


def _numba_version() -> tuple[int, int] | None:
    try:
        major, minor = (int(p) for p in numba.__version__.split(".")[:2])
    except ValueError:
        return None
    return major, minor


@lru_cache(maxsize=1)
def features() -> dict[str, bool]:
    """What this numba allows, decided once (the one version gate):

    * ``stamp``: the cache of a kernel can be keyed on its dependencies (numba's cache file
      keeps the source stamp it compares); without it kernels are compiled in every process
      rather than risk stale machine code;
    * ``light_load``: cached kernels load without the compiler set-up (tested versions only).

    >>> sorted(features())
    ['light_load', 'stamp']
    """
    fc = getattr(_caching, "FunctionCache", None)
    stamp = fc is not None and all(hasattr(_caching.IndexDataCacheFile, a) for a in ("_load_index", "_save_index"))
    version = _numba_version()
    light = (
        stamp
        and version is not None
        and NUMBA_TESTED[0] <= version <= NUMBA_TESTED[1]
        and all(hasattr(fc, a) for a in ("load_overload", "_load_overload", "_guard_against_spurious_io_errors"))
    )
    if light:
        try:
            from numba.core.runtime import rtsys  # noqa: F401
        except ImportError:  # pragma: no cover - a numba laid out otherwise
            light = False
    return {"stamp": bool(stamp), "light_load": bool(light)}


# --------------------------------------------------------------------------- dependencies

_FROM = re.compile(r"^[ \t]*from[ \t]+(\.+[\w.]*|rapkit(?:\.[\w.]+)?)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+(rapkit(?:\.[\w.]+)*)", re.M)


def _module_file(parts: tuple[str, ...]) -> Path | None:
    if not parts:
        return None
    base = PACKAGE_DIR.joinpath(*parts)
    f = base.with_suffix(".py")
    if f.is_file():
        return f
    f = base / "__init__.py"
    return f if f.is_file() else None


@cache
def _direct_imports(file: Path) -> frozenset[Path]:
    """The rapkit modules ``file`` imports (anywhere in it, lazy imports included)."""
    text = file.read_text(encoding="utf-8")
    package = file.relative_to(PACKAGE_DIR).parts[:-1]
    found: set[Path] = set()
    for m in _FROM.finditer(text):
        mod, names = m.group(1), m.group(2)
        if mod.startswith("."):
            dots = len(mod) - len(mod.lstrip("."))
            if dots - 1 > len(package):
                continue
            base = package[: len(package) - (dots - 1)]
            rest = tuple(p for p in mod[dots:].split(".") if p)
        else:
            base, rest = (), tuple(mod.split(".")[1:])
        target = base + rest
        subs = []
        for name in names.strip("() \t\n").replace("\n", " ").split(","):
            name = name.strip().split(" ")[0]
            if name and name != "*":
                subs.append(_module_file(target + (name,)))
        found.update(f for f in subs if f is not None)
        if not subs or None in subs:  # names taken from the module itself, not submodules
            f = _module_file(target)
            if f is not None:
                found.add(f)
    for m in _IMPORT.finditer(text):
        f = _module_file(tuple(m.group(1).split(".")[1:]))
        if f is not None:
            found.add(f)
    found.discard(file)
    return frozenset(f for f in found if _RUNTIME_DIR not in f.parents or f.name in _COMPILED_RUNTIME)


def dependency_files(file: str | os.PathLike) -> list[Path]:
    """``file`` and every rapkit module it imports, directly or through others, sorted
    (``rapkit/_runtime/`` left out but for the intrinsics compiled into kernels, ``ccall.py``).

    >>> [p.name for p in dependency_files(PACKAGE_DIR / "_runtime" / "settings.py")]
    ['settings.py']
    """
    start = Path(file).resolve()
    seen = {start}
    todo = [start]
    while todo:
        f = todo.pop()
        if PACKAGE_DIR not in f.parents:
            continue
        for d in _direct_imports(f):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return sorted(seen)


@cache
def _file_digest(path: Path, mtime_ns: int, size: int) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def dependency_stamp(file: str | os.PathLike) -> str:
    """A digest of the sources of ``file`` and of every rapkit module it depends on
    (:func:`dependency_files`): it changes when any of them changes."""
    h = hashlib.sha256()
    for p in dependency_files(file):
        st = p.stat()
        h.update(p.relative_to(PACKAGE_DIR).as_posix().encode() if PACKAGE_DIR in p.parents else p.name.encode())
        h.update(_file_digest(p, st.st_mtime_ns, st.st_size))
    return h.hexdigest()


@cache
def _module_stamp(file: str) -> str:
    return dependency_stamp(file)


def bytecode_may_be_stale(source: str | os.PathLike) -> bool:
    """Whether Python may have imported an older text of ``source`` from its cached bytecode:
    a timestamp ``.pyc`` written before the source's last change whose recorded mtime (whole
    seconds) and size still match it. Python trusts such a ``.pyc``: a same-size edit within
    a second of the last import runs the old code (Python's rule, for every module)."""
    try:
        st = os.stat(source)
        pyc = importlib.util.cache_from_source(os.fspath(source))
        if os.stat(pyc).st_mtime_ns >= st.st_mtime_ns:  # the usual case: written after the edit
            return False
        with open(pyc, "rb") as fh:
            head = fh.read(16)
    except (OSError, NotImplementedError, ValueError):
        # no .pyc (never imported, or PYTHONDONTWRITEBYTECODE), or no bytecode cache at all
        # (sys.implementation.cache_tag None): Python imported the source itself
        return False
    if len(head) < 16 or head[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(head[4:8], "little"):
        return False  # another Python's, or hash-based (checked by content)
    mtime, size = int.from_bytes(head[8:12], "little"), int.from_bytes(head[12:16], "little")
    return mtime == int(st.st_mtime) & 0xFFFFFFFF and size == st.st_size & 0xFFFFFFFF


@cache
def _stale_verdict(path: Path) -> bool:
    # once per file and process: the .pyc a first verdict removes must not clear the file
    # for the kernels of other modules that depend on it
    return bytecode_may_be_stale(path)


@cache
def _stale_bytecode(file: str) -> tuple[Path, ...]:
    """The dependencies of ``file`` whose imported code may be older than their source
    (:func:`bytecode_may_be_stale`); their ``.pyc`` is removed, so the next process imports
    the source (best effort: a read-only install keeps it)."""
    stale = tuple(p for p in dependency_files(file) if _stale_verdict(p))
    for p in stale:
        try:
            os.remove(importlib.util.cache_from_source(str(p)))
        except OSError:
            pass
    if stale:
        warnings.warn(
            f"rapkit: {', '.join(p.name for p in stale)} changed within a second of its cached bytecode, "
            "so this process may run its previous code (Python's rule); the kernels that use it are not "
            "cached now, and the next run reads the new source",
            RuntimeWarning,
            stacklevel=4,
        )
    return stale


# --------------------------------------------------------------------------- the cache


class KernelCache(_caching.FunctionCache):
    """numba's on-disk function cache, keyed also on the kernel's dependencies, with the
    light load (see the module docstring). Set on rapkit's dispatchers only."""

    def __init__(self, py_func: Callable[..., Any], stamp: str) -> None:
        super().__init__(py_func)
        cf = self._cache_file
        cf._source_stamp = (cf._source_stamp, "rapkit-deps", stamp)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        if features()["light_load"] and setting("RAPKIT_NUMBA_LIGHT_LOAD"):
            try:
                from numba.core.runtime import rtsys

                rtsys.initialize(target_context)
                with self._guard_against_spurious_io_errors():
                    return self._load_overload(sig, target_context)
            except Exception:  # anything unexpected: the standard load decides
                pass
        return super().load_overload(sig, target_context)

    def _load_overload(self, sig: Any, target_context: Any) -> Any:
        if not _notice.recording():
            return super()._load_overload(sig, target_context)
        t, c = time.perf_counter(), time.thread_time()
        data = super()._load_overload(sig, target_context)
        if data is not None:
            _notice.loaded(self._py_func, sig, time.perf_counter() - t, time.thread_time() - c)
        return data


_KERNELS: list[Any] = []
_warned: list[str] = []


def kernels() -> list[Any]:
    """Every dispatcher made by :func:`njit` in this process so far."""
    return list(_KERNELS)


def _enable_cache(disp: Any) -> None:
    f = disp.py_func
    if not features()["stamp"]:
        if not _warned:
            _warned.append("stamp")
            warnings.warn(
                f"rapkit: numba {numba.__version__} lays out its cache in a way rapkit does not know; "
                "its kernels are compiled in every process (not cached) so that no stale code runs",
                RuntimeWarning,
                stacklevel=3,
            )
        return
    source = os.path.abspath(f.__code__.co_filename)
    if not os.path.isfile(source):  # a doctest, a notebook cell: no file to key a cache on
        return
    # the options numba compiles with (nogil, inline...: the defaults are set here, in a file
    # outside the stamp) are part of the key too: changing them must not load the old code
    options = repr(sorted((k, repr(v)) for k, v in disp.targetoptions.items()))
    if _stale_bytecode(source):  # compiled from code that may be older than the stamp says: not cached
        return
    try:
        disp._cache = KernelCache(f, f"{_module_stamp(source)}:{options}")
    except RuntimeError:  # no writable cache folder: compile in every process (numba's own rule)
        pass


def njit(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """numba's ``njit`` with ``nogil=True`` and rapkit's dependency-keyed on-disk cache;
    ``options`` go to numba (``inline="always"`` for small helpers). Use as ``@njit`` or
    ``@njit(inline="always")``."""
    if "cache" in options:
        raise TypeError("rapkit's njit always caches (keyed on the kernel's dependencies)")
    options.setdefault("nogil", True)

    def wrap(f: Callable[..., Any]) -> Any:
        disp = numba.njit(**options)(f)
        _enable_cache(disp)
        _KERNELS.append(disp)
        return disp

    return wrap(fn) if fn is not None else wrap


# A numba intrinsic the PNG kernels use (count trailing zero bits of an integer).
from numba.cpython.unsafe.numbers import trailing_zeros  # noqa: E402

_notice.numba_imported()  # the command line may have asked for the compile record
