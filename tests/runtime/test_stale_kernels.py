"""After an edit of a helper module a kernel inlines, the next run uses the new code
(issue 20's must-show): no stale machine code, nothing deleted by hand.

The package is copied to a temporary folder; ``rapkit fuse`` runs on a small synthetic world
with that copy and a fresh numba cache; the category-aware check in
``kernels/decisions.py`` is edited; ``rapkit fuse`` runs again with the same cache. The
output must change, and equal byte for byte the output of a run with an empty cache.
(numba alone keys a kernel's cache on its own file, ``kernels/fusion.py``, which is not
edited: it would load the old machine code.)
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rapkit

PKG = Path(rapkit.__file__).resolve().parent


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    same, diff, err = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not diff and not err and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


@pytest.mark.slow
def test_an_edited_decision_is_used_by_the_next_fuse(tmp_path, synth_world):
    world = synth_world(n_images=8, height=120, width=160, seed=4)
    tree = tmp_path / "tree"
    shutil.copytree(PKG, tree / "rapkit", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))

    def fuse(out: Path, cache: Path) -> Path:
        env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache), RAPKIT_FSYNC="0")
        args = ["fuse", "--proposals", world.proposals, "--image-info", world.panoptic, "--categories"]
        args += [world.categories, "--semantic", world.semantic, "-o", str(out), "-q"]
        r = subprocess.run(
            [sys.executable, "-m", "rapkit", *map(str, args)], capture_output=True, text=True, env=env, cwd=tree
        )
        assert r.returncode == 0, r.stderr
        return out

    cache = tmp_path / "cache"
    before = fuse(tmp_path / "before", cache)
    decisions = tree / "rapkit" / "kernels" / "decisions.py"
    text = decisions.read_text()
    assert text.count("    return share >= tau\n") == 1
    decisions.write_text(text.replace("    return share >= tau\n", "    return share >= tau / 10\n"))
    after = fuse(tmp_path / "after", cache)
    fresh = fuse(tmp_path / "fresh", tmp_path / "empty-cache")
    assert not _same_tree(before, after), "the edited check changed nothing: the old machine code ran"
    assert _same_tree(after, fresh)
