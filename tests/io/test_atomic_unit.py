"""``io/_atomic.py`` in-process: temporaries named by pid + start time, stale ones removed and
reported, live ones kept, interrupted folder swaps restored, fsync, the per-output lock."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from rapkit.errors import ConfigError
from rapkit.io import _atomic as A
from rapkit.io._atomic import atomic_path, check_writable, write_text_atomic


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def notes(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(A, "notice", seen.append)
    return seen


def test_temp_name_carries_pid_and_start_time(tmp_path):
    out = tmp_path / "out.json"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.json.rapkit-tmp-")
        pid, start = A.parse_temp_name(tmp.name)
        assert pid == os.getpid()
        if sys.platform.startswith("linux"):
            assert start == A.process_start_time(os.getpid()) > 0
        assert (tmp_path / ".out.json.rapkit-lock").exists()  # held while writing
        tmp.write_text("x")
    assert listing(tmp_path) == ["out.json"]
    assert A.parse_temp_name(".x.json.12.tmp") is None and A.parse_temp_name(".x.rapkit-old") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="start time from /proc")
def test_process_start_time_reads_field_22_despite_spaces_in_comm():
    me = A.process_start_time(os.getpid())
    assert isinstance(me, int) and me > 0
    assert A.process_start_time(dead_pid()) is None
    assert A.process_alive(os.getpid(), me) and A.process_alive(os.getppid(), 0)
    assert not A.process_alive(os.getppid(), A.process_start_time(os.getppid()) + 1)  # pid reused
    assert not A.process_alive(dead_pid(), 0)


def test_stale_temporaries_removed_and_reported_live_ones_kept(tmp_path, notes):
    dead = dead_pid()
    stale_dir = tmp_path / f".out.rapkit-tmp-{dead}-123-abcd"
    stale_dir.mkdir()
    (stale_dir / "a.png").write_bytes(b"partial")
    other_stale = tmp_path / f".other.json.rapkit-tmp-{dead}-5-ef01"  # another output, same folder
    other_stale.write_text("partial")
    parent_start = A.process_start_time(os.getppid()) or 0
    live = tmp_path / f".other.json.rapkit-tmp-{os.getppid()}-{parent_start}-0123"
    live.write_text("being written")
    foreign = tmp_path / ".out.1234.tmp"  # not ours: never touched
    foreign.write_text("?")
    write_text_atomic(tmp_path / "out", "new")
    assert listing(tmp_path) == sorted(["out", live.name, foreign.name])
    assert len(notes) == 2 and all(str(dead) in n and "no longer runs" in n for n in notes)


def test_live_lock_of_another_output_is_not_touched(tmp_path):
    held = A._acquire(tmp_path / "busy")
    try:
        write_text_atomic(tmp_path / "out", "x")
        assert (tmp_path / ".busy.rapkit-lock").exists()
    finally:
        held.release()
    assert listing(tmp_path) == ["out"]
    (tmp_path / ".gone.rapkit-lock").write_text("999999\n")  # left by a killed run: removed
    write_text_atomic(tmp_path / "out", "y", force=True)
    assert listing(tmp_path) == ["out"]


def test_second_writer_of_the_same_output_gets_exit_2(tmp_path):
    out = tmp_path / "out"
    with atomic_path(out, directory=True) as tmp:
        (tmp / "a").write_text("1")
        with pytest.raises(ConfigError, match=f"another rapkit process .pid {os.getpid()}. is writing") as e:
            check_writable(out, True)
        assert e.value.exit_code == 2
        with pytest.raises(ConfigError, match="another rapkit process"), atomic_path(out, True, directory=True):
            pass
    assert listing(tmp_path) == ["out"] and listing(out) == ["a"]


@pytest.mark.parametrize("exchange", [True, False])
def test_folder_replacement_and_failure(tmp_path, monkeypatch, exchange):
    if not exchange:  # a filesystem without RENAME_EXCHANGE: the two-rename path
        monkeypatch.setattr(A, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    with atomic_path(out, directory=True) as tmp:
        (tmp / "old").write_text("old")
    with pytest.raises(ConfigError, match="--force"), atomic_path(out, directory=True):
        pass
    with pytest.raises(RuntimeError), atomic_path(out, True, directory=True) as tmp:
        (tmp / "new").write_text("half")
        raise RuntimeError("boom")
    assert listing(tmp_path) == ["out"] and listing(out) == ["old"]
    with atomic_path(out, True, directory=True) as tmp:
        (tmp / "new").write_text("new")
    assert listing(tmp_path) == ["out"] and listing(out) == ["new"]
    # a file replacing a folder and a folder replacing a file
    write_text_atomic(out, "file", force=True)
    assert out.read_text() == "file" and listing(tmp_path) == ["out"]
    with atomic_path(out, True, directory=True) as tmp:
        (tmp / "again").write_text("1")
    assert listing(out) == ["again"] and listing(tmp_path) == ["out"]


def test_interrupted_swap_restored_or_removed_by_next_run(tmp_path, notes):
    out = tmp_path / "out"
    old = tmp_path / ".out.rapkit-old"
    old.mkdir()
    (old / "panoptic.json").write_text("old")
    # killed between the renames: no out, the complete old one under .out.rapkit-old
    with pytest.raises(ConfigError, match="--force"):  # restored first, then judged
        check_writable(out, False)
    assert listing(tmp_path) == ["out"] and (out / "panoptic.json").read_text() == "old"
    assert "restored" in notes[0]
    # killed after the second rename: out is the new one, the backup is removed
    old.mkdir()
    (old / "panoptic.json").write_text("older")
    write_text_atomic(tmp_path / "other.json", "x")  # any write into the folder tidies it
    assert listing(tmp_path) == ["other.json", "out"] and (out / "panoptic.json").read_text() == "old"
    assert "removed .out.rapkit-old" in notes[1]


def test_fsync_files_folders_and_parent(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else str(fd))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    out = tmp_path / "out"
    with atomic_path(out, directory=True) as tmp:
        (tmp / "panoptic").mkdir()
        (tmp / "panoptic" / "1.png").write_bytes(b"png")
        (tmp / "panoptic.json").write_text("{}")
        tmpname = tmp.name
    if os.path.exists("/proc/self/fd"):
        names = [Path(s).name for s in synced]
        assert {"1.png", "panoptic.json", "panoptic", tmpname} <= set(names)
        assert names.index("1.png") < names.index("panoptic") < names.index(tmpname)
        assert names[-1] == tmp_path.name  # the parent, after the rename
    assert len(synced) >= 5
    synced.clear()
    monkeypatch.setenv("RAPKIT_FSYNC", "0")
    write_text_atomic(tmp_path / "f.json", "{}")
    assert synced == []


def _many_files_output(tmp_path, n):
    with atomic_path(tmp_path / "out", directory=True) as tmp:
        (tmp / "panoptic").mkdir()
        for i in range(n):
            (tmp / "panoptic" / f"{i}.png").write_bytes(b"png")
        (tmp / "panoptic.json").write_text("{}")


@pytest.fixture
def fake_syncfs(monkeypatch):
    """Replace libc's ``syncfs`` with a recorder; ``result`` is what it returns (0: done)."""
    fake = SimpleNamespace(calls=[], result=0)

    def syncfs(fd):
        fake.calls.append(fd)
        return fake.result

    monkeypatch.setattr(A, "_syncfs_function", lambda: syncfs)
    return fake


@pytest.fixture
def fsyncs(monkeypatch):
    """Every ``os.fsync`` call's fd (from any thread)."""
    seen: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (seen.append(fd), real(fd))[1])
    return seen


def test_syncfs_off_by_default_every_file_fsynced(tmp_path, monkeypatch, fake_syncfs, fsyncs):
    monkeypatch.delenv("RAPKIT_SYNCFS", raising=False)
    _many_files_output(tmp_path, 40)
    assert (tmp_path / "out" / "panoptic.json").read_text() == "{}"
    assert fake_syncfs.calls == []  # nobody else's data is flushed
    assert len(fsyncs) >= 40 + 1 + 3  # each file, both folders of the temporary, and the parent


@pytest.mark.parametrize(
    "n_files,result,expect_syncfs,expect_per_file",
    [
        (40, 0, True, False),  # many files: one syncfs, no per-file fsync
        (40, -1, True, True),  # syncfs failed: every file is fsync'd after all
        (3, 0, False, True),  # few files: per file
    ],
)
def test_syncfs_on_request(tmp_path, monkeypatch, fake_syncfs, fsyncs, n_files, result, expect_syncfs, expect_per_file):
    monkeypatch.setenv("RAPKIT_SYNCFS", "1")
    fake_syncfs.result = result
    _many_files_output(tmp_path, n_files)
    assert (tmp_path / "out" / "panoptic.json").read_text() == "{}"
    assert len(fake_syncfs.calls) == (1 if expect_syncfs else 0)
    if expect_per_file:  # each file, both folders of the temporary, and the parent
        assert len(fsyncs) >= n_files + 1 + 3
    else:  # the parent only
        assert len(fsyncs) <= 2


def test_syncfs_requested_but_missing_falls_back_to_fsync(tmp_path, monkeypatch, fsyncs):
    monkeypatch.setenv("RAPKIT_SYNCFS", "1")
    monkeypatch.setattr(A, "_syncfs_function", lambda: None)  # not Linux, or an old libc
    _many_files_output(tmp_path, 40)
    assert len(fsyncs) >= 40 + 1 + 3


def test_parallel_fsync_leaves_no_thread_behind(tmp_path, monkeypatch):
    names: set[str] = set()
    real = os.fsync

    def spy(fd):
        names.add(threading.current_thread().name)
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    before = set(threading.enumerate())
    _many_files_output(tmp_path, 40)
    assert set(threading.enumerate()) == before
    assert any(n.startswith("rapkit-fsync") for n in names)  # the files were fsync'd in threads
    assert len(list((tmp_path / "out" / "panoptic").iterdir())) == 40


def test_parallel_fsync_error_is_raised_and_threads_joined(tmp_path, monkeypatch):
    real = os.fsync
    count = iter(range(10**6))

    def flaky(fd):
        if next(count) == 7:
            raise OSError(errno.EIO, "I/O error")
        return real(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    before = set(threading.enumerate())
    with pytest.raises(OSError, match="I/O error"):
        _many_files_output(tmp_path, 40)
    assert set(threading.enumerate()) == before
    assert listing(tmp_path) == []  # the temporary is removed, nothing is in place


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_syncfs_is_found_on_linux(monkeypatch):
    monkeypatch.setattr(A, "_libc_syncfs", False)  # look it up again
    assert A._syncfs_function() is not None
    assert A._syncfs(os.getcwd()) is True


def test_nested_writes_into_one_folder(tmp_path):
    with atomic_path(tmp_path / "a.json") as ta:
        ta.write_text("a")
        with atomic_path(tmp_path / "b.json") as tb:  # sees a's live temp and lock: keeps them
            tb.write_text("b")
        assert ta.exists()
    assert listing(tmp_path) == ["a.json", "b.json"]


def test_temporary_of_a_locked_output_is_kept_even_if_its_pid_looks_dead(tmp_path):
    """A writer in another pid namespace: its pid means nothing here, its lock does."""
    dead = dead_pid()
    tmp = tmp_path / f".busy.rapkit-tmp-{dead}-7-abcd"
    tmp.mkdir()
    held = A._acquire(tmp_path / "busy")
    try:
        write_text_atomic(tmp_path / "out", "x")
        assert tmp.exists()
    finally:
        held.release()
    write_text_atomic(tmp_path / "out", "y", force=True)
    assert listing(tmp_path) == ["out"]
