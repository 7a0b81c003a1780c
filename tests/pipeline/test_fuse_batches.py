"""``fuse`` hands images to its worker threads in runs of consecutive images
(:data:`rapkit.pipeline.fuse.BATCH`): the output folder, the per-image rows and the counts do
not depend on the worker count or the batch size, progress adds up to the image count, and
the fast path names (:func:`rapkit.io.folders.file_stem`) equal ``Path.stem``, and the PNG
writer gives the same bytes when it trusts the runs ``compose`` made."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

import rapkit.pipeline.fuse as fuse_mod
from rapkit.io.folders import file_stem


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("batches")
    return make_world(root / "w", SynthConfig(n_images=11, height=48, width=64, seed=5, render_images=False))


def _run(world, out, workers, steps=None):
    return fuse_mod.fuse(
        world.proposals,
        world.panoptic,
        world.categories,
        out,
        semantic=world.semantic,
        workers=workers,
        progress=steps.append if steps is not None else None,
    )


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    names = sorted(p.name for p in (a / "panoptic").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(a / "panoptic", b / "panoptic", names, shallow=False)
    return not (cmp.left_only or cmp.right_only or mismatch or errors) and filecmp.cmp(
        a / "panoptic.json", b / "panoptic.json", shallow=False
    )


def test_bytes_rows_and_progress_do_not_depend_on_workers_or_batch(world, tmp_path, monkeypatch):
    steps1: list[int] = []
    one = _run(world, tmp_path / "one", 1, steps1)
    monkeypatch.setattr(fuse_mod, "BATCH", 2)  # several batches per worker, a short last one
    for workers in (2, 3):
        steps: list[int] = []
        s = _run(world, tmp_path / f"w{workers}", workers, steps)
        assert _same_tree(tmp_path / "one", tmp_path / f"w{workers}")
        assert sum(steps) == s.images == one.images == 11 and max(steps) <= 2
        drop = ("ms",)
        assert [{k: v for k, v in r.items() if k not in drop} for r in s.per_image] == [
            {k: v for k, v in r.items() if k not in drop} for r in one.per_image
        ]
        assert (s.kept, s.dropped, s.stuff_segments, s.void_pixels) == (
            one.kept,
            one.dropped,
            one.stuff_segments,
            one.void_pixels,
        )
    assert sum(steps1) == 11


@pytest.mark.parametrize("name", ["a.jpg", "a.tar.gz", ".a", "a.", "a..", "..", ".", "x/b.png", "b", "", "a/b/"])
def test_file_stem_is_path_stem(name):
    assert file_stem(name) == Path(name).stem


def test_trusted_row_runs_write_the_same_png(tmp_path):
    import numpy as np

    from rapkit.io.png_write import write_id_map_png_fast, write_id_runs_png
    from rapkit.kernels.png_encode import row_runs

    ids = np.random.default_rng(0).integers(0, 5, (37, 53)).astype(np.uint32)
    ids[3:9, :] = 7  # a few rows of one run
    a = write_id_map_png_fast(tmp_path / "a.png", ids).read_bytes()
    b = write_id_runs_png(tmp_path / "b.png", row_runs(ids), 37, 53).read_bytes()
    c = write_id_runs_png(tmp_path / "c.png", row_runs(ids), 37, 53, check=False).read_bytes()
    assert a == b == c


def test_the_kernel_loads_beside_the_proposals_parse_of_a_large_job(world, tmp_path, monkeypatch):
    """Proposals above PRELOAD_BYTES: the kernel loads in a thread while they are parsed
    (joined before the images; the same one compiled signature), the same bytes either way."""
    import threading

    from rapkit.kernels import fuse_image

    loads = []
    real = fuse_mod.alongside

    def spy(fn, *a, **k):
        loads.append(fn)
        return real(fn, *a, **k)

    monkeypatch.setattr(fuse_mod, "alongside", spy)
    before = threading.active_count()
    monkeypatch.setattr(fuse_mod, "PRELOAD_BYTES", 0)
    _run(world, tmp_path / "pre", 2)
    assert loads[-1] is not None and threading.active_count() == before
    sigs = set(fuse_image._fuse_packed.signatures)
    monkeypatch.setattr(fuse_mod, "PRELOAD_BYTES", 1 << 40)
    _run(world, tmp_path / "plain", 2)
    assert loads[-1] is None
    assert _same_tree(tmp_path / "pre", tmp_path / "plain")
    assert set(fuse_image._fuse_packed.signatures) == sigs  # the preload's call types are the run's
