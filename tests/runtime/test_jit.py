"""rapkit._runtime.jit: rapkit's njit, its dependency-keyed cache (never stale) and its
light loads, in real processes on a copy of the package with a two-line kernel.

Each test copies ``rapkit/`` (without caches) into a temporary folder, adds a tiny kernel
module ``rapkit/kernels/_tiny.py`` that inlines a helper from another module
(``_tiny_helper.py``), and runs it in fresh processes with a fresh ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import rapkit
from rapkit._runtime import jit

PKG = Path(rapkit.__file__).resolve().parent

HELPER = textwrap.dedent(
    """
    from rapkit._runtime.jit import njit

    OFFSET = 1


    @njit(inline="always")
    def helper(x):
        return x + OFFSET
    """
)

TINY = textwrap.dedent(
    """
    from rapkit._runtime.jit import njit

    from ._tiny_helper import helper


    @njit
    def kernel(x):
        return 2 * helper(x)
    """
)

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from numba.core import base
    calls = []
    _refresh = base.BaseContext.refresh
    def refresh(self):
        calls.append(1)
        return _refresh(self)
    base.BaseContext.refresh = refresh
    if sys.argv[1] == "fail-once":  # the light load's first attempt raises
        from numba.core import caching
        inner = caching.Cache._load_overload
        state = {"n": 0}
        def flaky(self, sig, ctx):
            state["n"] += 1
            if state["n"] == 1:
                raise RuntimeError("planted")
            return inner(self, sig, ctx)
        caching.Cache._load_overload = flaky
    from rapkit.kernels import _tiny
    value = int(_tiny.kernel(20))
    stats = _tiny.kernel.stats
    print(json.dumps({"value": value, "refresh": len(calls), "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}))
    """
)


def _package(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(PKG, root / "rapkit", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    (root / "rapkit" / "kernels" / "_tiny_helper.py").write_text(HELPER)
    (root / "rapkit" / "kernels" / "_tiny.py").write_text(TINY)
    (root / "run.py").write_text(SCRIPT)
    return root


def _run(root: Path, cache: Path, mode: str = "plain", pyc: bool = False, **env_extra: str) -> dict:
    # no .pyc unless asked: Python checks a .pyc by the source's mtime in whole seconds and
    # its size, so a same-size edit made within a second of the last run imports the old
    # bytecode (Python's rule; test_a_helper_edited_within_a_second_of_its_bytecode...)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(root), **env_extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    r = subprocess.run(
        [sys.executable, str(root / "run.py"), mode], capture_output=True, text=True, env=env, timeout=600, cwd=root
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if r.stderr:
        out["stderr"] = r.stderr
    return out


def test_a_helper_edited_within_a_second_of_its_bytecode_is_never_cached_old(tmp_path):
    """Python imports a .pyc whose recorded mtime (whole seconds) and size match the source,
    even when the source changed after it was written: a same-size edit within a second of
    the last run then runs the old code. The kernel cache must not keep that code under the
    new source's stamp: the kernel is not cached in that process, the .pyc is removed, and
    the next run compiles the new code."""
    root = _package(tmp_path)
    cache = tmp_path / "cache"
    assert _run(root, cache, pyc=True)["value"] == 42
    helper = root / "rapkit" / "kernels" / "_tiny_helper.py"
    pyc = Path(importlib.util.cache_from_source(str(helper)))
    second = int.from_bytes(pyc.read_bytes()[8:12], "little")  # the source mtime the .pyc recorded
    helper.write_text(helper.read_text().replace("OFFSET = 1", "OFFSET = 2"))  # same size
    os.utime(pyc, ns=(second * 10**9 + 10**8, second * 10**9 + 10**8))  # written, then the edit:
    os.utime(helper, ns=(second * 10**9 + 9 * 10**8, second * 10**9 + 9 * 10**8))  # in one second
    stale = _run(root, cache, pyc=True)
    assert stale["value"] == 42 and stale["hits"] == 0  # Python ran the old bytecode...
    assert "changed within a second of its cached bytecode" in stale.get("stderr", "")
    assert not pyc.exists()  # ...which is gone now
    fresh = _run(root, cache, pyc=True)
    assert (fresh["value"], fresh["hits"], fresh["misses"]) == (44, 0, 1)  # nothing old was cached
    assert _run(root, cache, pyc=True)["hits"] == 1 and "bytecode" not in fresh.get("stderr", "")


def test_an_edited_helper_recompiles_the_kernel(tmp_path):
    root = _package(tmp_path)
    cache = tmp_path / "cache"
    cold = _run(root, cache)
    assert (cold["value"], cold["hits"], cold["misses"]) == (42, 0, 1)
    assert _run(root, cache)["hits"] == 1  # warm: loaded
    helper = root / "rapkit" / "kernels" / "_tiny_helper.py"
    helper.write_text(helper.read_text().replace("OFFSET = 1", "OFFSET = 2"))
    edited = _run(root, cache)
    assert edited["value"] == 44 and edited["misses"] == 1  # numba alone would load 42
    assert _run(root, tmp_path / "empty")["value"] == 44
    assert _run(root, cache)["hits"] == 1  # and the new code is cached in place


@pytest.mark.skipif(not jit.features()["light_load"], reason="numba outside NUMBA_TESTED")
def test_cached_kernels_load_without_the_compiler_set_up(tmp_path):
    root = _package(tmp_path)
    cache = tmp_path / "cache"
    cold = _run(root, cache)
    assert cold["refresh"] > 0  # compiling sets the compiler up, as always
    warm = _run(root, cache)
    assert warm == {"value": 42, "refresh": 0, "hits": 1, "misses": 0}
    standard = _run(root, cache, RAPKIT_NUMBA_LIGHT_LOAD="0")
    assert standard["refresh"] > 0 and standard["value"] == 42 and standard["hits"] == 1
    flaky = _run(root, cache, "fail-once")  # a failed light load: the standard load decides
    assert flaky["value"] == 42 and flaky["hits"] == 1


def test_an_intrinsic_of_runtime_counts_in_the_stamp_of_the_kernels_it_is_compiled_into():
    names = [p.relative_to(jit.PACKAGE_DIR).as_posix() for p in jit.dependency_files(PKG / "kernels" / "pq_chunk.py")]
    assert "_runtime/ccall.py" in names and "_runtime/jit.py" not in names


def test_dependency_files_follow_rapkit_imports():
    names = [p.relative_to(jit.PACKAGE_DIR).as_posix() for p in jit.dependency_files(PKG / "kernels" / "fusion.py")]
    assert "kernels/decisions.py" in names and "kernels/decisions_jit.py" in names and "kernels/status.py" in names
    assert not any(n.startswith("_runtime/") for n in names)  # how kernels are cached, not what they compute
    pairs = [p.name for p in jit.dependency_files(PKG / "kernels" / "pq.py")]
    assert "hashtable.py" in pairs and "png.py" in pairs  # PQ's pair kernel inlines both


def test_the_stamp_changes_with_any_dependency(tmp_path):
    root = _package(tmp_path)
    tiny = root / "rapkit" / "kernels" / "_tiny.py"
    helper = root / "rapkit" / "kernels" / "_tiny_helper.py"
    code = "import json, sys; from rapkit._runtime import jit; print(jit.dependency_stamp(sys.argv[1]))"

    def stamp() -> str:
        env = dict(os.environ, PYTHONPATH=str(root))
        r = subprocess.run([sys.executable, "-c", code, str(tiny)], capture_output=True, text=True, env=env, cwd=root)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    first = stamp()
    assert stamp() == first
    helper.write_text(helper.read_text() + "\n# a comment\n")
    assert stamp() != first


def test_njit_refuses_its_own_cache_switch():
    with pytest.raises(TypeError, match="always caches"):
        jit.njit(cache=False)


def test_call_int32_calls_a_c_function_by_its_address():
    """The intrinsic the chunk kernel inflates with (libdeflate by address): compiled here
    without the cache, so its typing and code generation run in every fast-tier run."""
    import ctypes

    import numba

    from rapkit._runtime.ccall import call_int32

    libc = ctypes.CDLL(None)
    addr = ctypes.cast(libc.abs, ctypes.c_void_p).value

    @numba.njit(cache=False, nogil=True)
    def c_abs(a, x):
        return call_int32(a, (x,))

    assert c_abs(addr, -7) == 7 and c_abs(addr, 5) == 5

    @numba.njit(cache=False)
    def bad(a, x):
        return call_int32(a, (x,))

    with pytest.raises(numba.core.errors.TypingError):  # only integer arguments are passed on
        bad(addr, 1.5)
    # the typing rule itself, called from Python (numba runs it while compiling, untraced)
    from numba import types

    sig, _ = call_int32._defn(None, types.int64, types.Tuple((types.intp, types.uint32)))
    assert sig.return_type == types.int64
    assert call_int32._defn(None, types.int64, types.UniTuple(types.float64, 2)) is None
    assert call_int32._defn(None, types.float64, types.UniTuple(types.int64, 1)) is None


def test_the_compile_options_are_part_of_the_cache_key():
    """njit's defaults live in _runtime/jit.py, outside the dependency stamp: the options a
    kernel is compiled with key its cache as well, so changing them cannot load old code."""
    from rapkit.kernels import hashtable

    fn = next(v.py_func for v in vars(hashtable).values() if hasattr(v, "py_func"))
    a = jit.njit(fn)
    b = jit.njit(nogil=False)(fn)
    c = jit.njit(fn)
    stamp = lambda d: d._cache._cache_file._source_stamp  # noqa: E731
    assert stamp(a) != stamp(b) and stamp(a) == stamp(c)
    assert "nogil" in stamp(a)[2] and a.targetoptions["nogil"] is True
    for d in (a, b, c):  # not left among rapkit's kernels
        jit._KERNELS.remove(d)


def test_borrow_gives_an_unowned_view_of_the_same_memory():
    """The intrinsic the pair kernel's row loop slices through: same data, shape, strides and
    type; its slices read and write the array itself; the view owns nothing (no meminfo),
    so slicing it leaves the array's reference count alone."""
    import numba
    from numba import types

    from rapkit._runtime.ccall import borrow

    @numba.njit(cache=False)
    def fill_rows(n, w):
        a = np.zeros((n, w), np.int64)
        v = borrow(a)
        for i in range(n):
            row = v[i, 1:]
            row[:] = i
        return a.copy()  # a used after the view: kept alive until here

    got = fill_rows(40, 5)
    want = np.repeat(np.arange(40)[:, None], 5, axis=1)
    want[:, 0] = 0
    assert (got == want).all()

    @numba.njit(cache=False)
    def same(a):
        v = borrow(a)
        return v.shape == a.shape and v.strides == a.strides and v.ctypes.data == a.ctypes.data

    b = np.arange(12.0).reshape(3, 4)[:, ::2]
    assert same(b) and same(np.frombuffer(b"abc", np.uint8))  # strided; read-only
    sig, _ = borrow._defn(None, types.Array(types.uint8, 2, "A", readonly=True))
    assert sig.return_type == sig.args[0]
    assert borrow._defn(None, types.int64) is None
