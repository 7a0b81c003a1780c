"""rapkit.kernels._cache_load: cached kernels load without numba's compiler set-up, give the
same results as numba's standard load, and a kernel missing from the cache still compiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from rapkit.kernels import _cache_load

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys
    import numba, numpy as np
    from numba import njit
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
    from rapkit.kernels import _cache_load, fusion, png
    rng = np.random.default_rng(0)
    h, w = 7, 9
    raw = rng.integers(0, 4, size=h * (1 + w), dtype=np.uint8)
    raw[:: 1 + w] = rng.integers(0, 5, size=h, dtype=np.uint8)  # every filter type
    gray, hist = png.decode_gray(raw, h, w)
    boxes = np.array([[0, 3, 0, 2], [1, 4, 1, 3]], np.int64)
    offs = np.array([0, 6, 12], np.int64)
    masks = rng.integers(0, 2, size=12, dtype=np.uint8)
    out = (gray, hist, fusion.pairwise_overlaps(boxes, offs, masks))  # arrays allocated: the runtime
    before_miss = len(calls)

    @njit(cache=True)
    def not_cached_yet(a):  # compiled the first time this script runs in a cache folder
        return (a * 3 + 1).sum()

    s = int(not_cached_yet(np.arange(10)))
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(x).tobytes() for x in out)).hexdigest()
    print(json.dumps({"active": _cache_load.active(), "refresh_before_miss": before_miss,
                      "digest": digest, "sum": s, "fallbacks": _cache_load._state["fallbacks"]}))
    """
)


def _run(tmp_path, mode: str, env_extra: dict[str, str]) -> dict:
    script = tmp_path / "kern.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), **env_extra)
    r = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not _cache_load._version_ok(__import__("numba").__version__), reason="numba not in TESTED")
def test_cached_kernels_load_light_and_agree_with_the_standard_load(tmp_path):
    cold = _run(tmp_path, "plain", {})  # compiles everything into the fresh cache
    assert cold["active"] and cold["refresh_before_miss"] > 0  # compiling refreshes as always
    warm = _run(tmp_path, "plain", {})
    assert warm["active"] and warm["refresh_before_miss"] == 0  # loads only: no compiler set-up
    standard = _run(tmp_path, "plain", {_cache_load.ENV: "0"})
    assert not standard["active"] and standard["refresh_before_miss"] > 0
    assert warm["digest"] == cold["digest"] == standard["digest"]
    assert warm["sum"] == cold["sum"] == standard["sum"] == 145
    assert warm["fallbacks"] == 0


@pytest.mark.skipif(not _cache_load._version_ok(__import__("numba").__version__), reason="numba not in TESTED")
def test_a_failed_light_load_falls_back_to_the_standard_one(tmp_path):
    _run(tmp_path, "plain", {})
    r = _run(tmp_path, "fail-once", {})
    assert r["fallbacks"] == 1 and r["sum"] == 145
    assert r["digest"] == _run(tmp_path, "plain", {})["digest"]


def test_a_kernel_missing_from_the_cache_compiles_after_light_loads(tmp_path):
    _run(tmp_path, "plain", {})
    script = (tmp_path / "kern.py").read_text().replace("not_cached_yet", "another_new_kernel")
    (tmp_path / "kern.py").write_text(script)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(tmp_path / "kern.py"), "plain"], capture_output=True, text=True, env=env, timeout=900
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["sum"] == 145


@pytest.mark.parametrize(
    "version,ok",
    [("0.59.0", True), ("0.68.1", True), ("0.58.1", False), ("0.69.0", False), ("1.0", False), ("x", False)],
)
def test_only_tested_numba_versions(version, ok):
    assert _cache_load._version_ok(version) is ok
