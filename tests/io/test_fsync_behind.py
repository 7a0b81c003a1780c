"""Durability overlapped with the work: files handed to ``FsyncBehind`` during an atomic
folder write are fsynced in the background, the commit fsyncs the rest and every folder, and
the guarantee is today's: every file and folder durable before the rename, an fsync error
fails the write (nothing published, nothing left), ``RAPKIT_FSYNC=0`` fsyncs nothing, and
no thread is left. Also the pool primitive under it (``rapkit._runtime.pool.Behind``)."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from rapkit._runtime.pool import Behind
from rapkit.io import _atomic as A
from rapkit.io._atomic import FsyncBehind, atomic_path
from rapkit.io.panoptic import panoptic_output


def test_behind_runs_every_item_and_joins():
    seen: list[int] = []
    before = set(threading.enumerate())
    b = Behind(seen.append, threads=3, name="t-behind")
    for i in range(50):
        b.put(i)
    b.finish()
    assert sorted(seen) == list(range(50))
    assert set(threading.enumerate()) == before
    b.finish()  # nothing put: no thread started, nothing to wait for
    assert set(threading.enumerate()) == before


def test_behind_error_raised_by_finish_and_close_drops():
    gate = threading.Event()

    def fn(i):
        if i == 0:
            raise OSError(errno.EIO, "I/O error")
        gate.wait(5)

    before = set(threading.enumerate())
    b = Behind(fn, threads=1)
    for i in range(5):
        b.put(i)
    gate.set()
    with pytest.raises(OSError, match="I/O error"):
        b.finish()
    assert set(threading.enumerate()) == before
    done: list[int] = []
    b = Behind(lambda i: (time.sleep(0.01), done.append(i)), threads=1)
    for i in range(100):
        b.put(i)
    b.close()  # the queued items are dropped, not run
    assert len(done) < 100 and set(threading.enumerate()) == before


def test_behind_close_joins_after_an_interrupted_finish(monkeypatch):
    """Ctrl-C while finish() waits: close() (what atomic_path calls next) still joins."""
    gate = threading.Event()
    before = set(threading.enumerate())
    b = Behind(lambda i: gate.wait(5), threads=2)
    for i in range(4):
        b.put(i)
    real_join = threading.Thread.join
    calls = iter(range(10**6))

    def join(self, *a, **k):
        if next(calls) == 0:
            raise KeyboardInterrupt
        return real_join(self, *a, **k)

    monkeypatch.setattr(threading.Thread, "join", join)
    with pytest.raises(KeyboardInterrupt):
        b.finish()
    gate.set()
    b.close()
    assert set(threading.enumerate()) == before


@pytest.fixture
def synced(monkeypatch):
    """(path, thread name) of every fsync, in order; ``rename`` marks the commit's rename."""
    if not os.path.exists("/proc/self/fd"):
        pytest.skip("reads the fds' paths in /proc")
    seen: list[tuple[str, str]] = []
    real_fsync, real_exchange, real_replace = os.fsync, A._exchange, os.replace

    def fsync(fd):
        seen.append((os.readlink(f"/proc/self/fd/{fd}"), threading.current_thread().name))
        return real_fsync(fd)

    def exchange(a, b):
        seen.append(("rename", ""))
        return real_exchange(a, b)

    def replace(a, b, *args, **kw):
        seen.append(("rename", ""))
        return real_replace(a, b, *args, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(A, "_exchange", exchange)
    monkeypatch.setattr(A.os, "replace", replace)
    return seen


def _write(out, n, fail_at=None, force=False):
    with panoptic_output(out, force) as o:
        for i in range(n):
            o.png_path(f"{i}.png").write_bytes(b"png%d" % i)
            if i % 4 == 3:
                o.pngs_written([f"{j}.png" for j in range(i - 3, i + 1)])
                time.sleep(0.01)  # the work that the background fsyncs overlap
            if i == fail_at:
                raise KeyboardInterrupt
        o.write_json([], [], [])


@pytest.mark.parametrize("force", [False, True])
def test_every_file_and_folder_durable_before_the_rename(tmp_path, synced, force):
    out = tmp_path / "out"
    if force:
        _write(out, 3)
    synced.clear()
    before = set(threading.enumerate())
    _write(out, 30, force=force)
    assert set(threading.enumerate()) == before
    names = [os.path.basename(p) for p, _ in synced]
    first_rename = names.index("rename")
    want = {f"{i}.png" for i in range(30)} | {"panoptic.json", "panoptic"}
    assert want <= set(names[:first_rename])
    pngs = [(os.path.basename(p), t) for p, t in synced if p.endswith(".png")]
    assert sorted(n for n, _ in pngs) == sorted(f"{i}.png" for i in range(30))  # each PNG once
    assert any(t.startswith("rapkit-fsync-behind") for _, t in pngs)  # during the writing
    # the folders after every file, the temporary's root last before the rename
    assert names.index("panoptic") > max(names.index(f"{i}.png") for i in range(30))
    assert sorted(os.listdir(out / "panoptic")) == sorted(f"{i}.png" for i in range(30))


def test_fsync_error_in_the_background_fails_the_write(tmp_path, monkeypatch):
    real = os.fsync

    def flaky(fd):
        if threading.current_thread().name.startswith("rapkit-fsync-behind"):
            raise OSError(errno.EIO, "I/O error")
        return real(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    before = set(threading.enumerate())
    with pytest.raises(OSError, match="I/O error"):
        _write(tmp_path / "out", 12)
    assert set(threading.enumerate()) == before
    assert os.listdir(tmp_path) == []  # not published, the temporary removed


def test_interrupt_leaves_nothing_and_no_thread(tmp_path, synced):
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path / "out", 30, fail_at=21)
    assert set(threading.enumerate()) == before
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("env", ["RAPKIT_FSYNC=0", "RAPKIT_SYNCFS=1"])
def test_off_without_per_file_fsync(tmp_path, monkeypatch, synced, env):
    name, value = env.split("=")
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(A, "_syncfs_function", lambda: lambda fd: 0)
    b = FsyncBehind()
    b.put(str(tmp_path / "x"))  # no thread, nothing done
    assert b.done == set() and not any(t.name.startswith("rapkit-fsync") for t in threading.enumerate())
    _write(tmp_path / "out", 30)
    assert not any(t.startswith("rapkit-fsync-behind") for _, t in synced)
    if name == "RAPKIT_FSYNC":
        assert synced == [("rename", "")]  # nothing fsynced at all


def test_atomic_path_skips_only_what_was_made_durable(tmp_path, synced):
    b = FsyncBehind(threads=2)
    with atomic_path(tmp_path / "out", directory=True, behind=b) as tmp:
        for i in range(6):
            (tmp / f"{i}").write_bytes(b"x")
        for i in range(3):
            b.put(str(tmp / f"{i}"))
    files = sorted(os.path.basename(p) for p, _ in synced if os.path.basename(p).isdigit())
    assert files == [str(i) for i in range(6)]  # each once: 3 in the background, 3 at the commit
