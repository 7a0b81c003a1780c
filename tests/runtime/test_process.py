"""The command line's process settings (rapkit._runtime.process) and its two process entry
points (``python -m rapkit``, ``python -m rapkit.cli``), in this process: the GC policy is
undone after each test, glibc is replaced by a stand-in (the allocator of the test process
is left alone), and the entry points run with the process settings replaced by recorders.
That a whole command run leaves a library caller's process as it found it is shown in fresh
processes elsewhere; the subprocess runs of tests/cli/test_common.py run these same paths."""

from __future__ import annotations

import ctypes
import gc
import runpy
import sys

import pytest

from rapkit._runtime import notice, process


@pytest.fixture
def gc_restored():
    was = gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()
    assert was[2] == 0, "the test process has frozen objects already"
    yield
    gc.unfreeze()
    gc.set_threshold(*was[1])
    (gc.enable if was[0] else gc.disable)()


def test_command_gc_freezes_what_is_alive_and_raises_the_first_threshold(gc_restored):
    t1, t2 = gc.get_threshold()[1:]
    process.command_gc()
    assert gc.get_freeze_count() > 1000  # the modules and objects alive now are out of every collection
    assert gc.get_threshold() == (process.GC_THRESHOLD0, t1, t2)
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    keep = [[k] for k in range(2000)]  # made during the command
    process.before_exit()
    assert gc.get_freeze_count() >= frozen + len(keep)


class _Libc:
    """A stand-in for glibc: records ``mallopt`` calls and answers ``ok``."""

    def __init__(self, ok=1):
        self.calls, self.ok = [], ok

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.ok


@pytest.mark.parametrize("ok", [1, 0])
def test_tune_allocator_sets_glibcs_mmap_and_trim_thresholds(monkeypatch, ok):
    libc = _Libc(ok)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    assert process.tune_allocator() is bool(ok)
    # M_MMAP_THRESHOLD (-3) 32 MB: image-sized buffers come from the heap; M_TRIM_THRESHOLD (-1) 512 MB: and stay there
    assert libc.calls == [(-3, 32 << 20), (-1, 512 << 20)]


def test_tune_allocator_without_glibc_changes_nothing(monkeypatch):
    def no_libc(name):
        raise OSError(f"{name}: not found")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert process.tune_allocator() is False


@pytest.mark.parametrize("module", ["rapkit", "rapkit.cli"])
def test_python_dash_m_is_the_process_entry(monkeypatch, capsys, module):
    """``python -m rapkit`` and ``python -m rapkit.cli`` call ``main()`` without arguments:
    the one caller that switches the process settings on, once, around the command."""
    calls = []
    for mod, name in [
        (notice, "enable"),
        (notice, "report"),
        (process, "tune_allocator"),
        (process, "command_gc"),
        (process, "before_exit"),
    ]:
        monkeypatch.setattr(mod, name, lambda name=name: calls.append(name))
    ended = []

    def end_process(code):  # the real one ends this (pytest's) process with os._exit
        ended.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(process, "end_process", end_process)
    monkeypatch.setattr(sys, "argv", ["rapkit", "--version"])
    with pytest.raises(SystemExit) as e:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    assert e.value.code == 0 and ended == [0]
    assert "rapkit" in capsys.readouterr().out
    assert calls == ["enable", "tune_allocator", "command_gc", "report", "before_exit"]
