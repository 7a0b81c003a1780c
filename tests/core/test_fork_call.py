"""``fork_call``: a call run in a forked child, its value or exception brought back."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from rapkit.core.parallel import fork_call, fork_call_available
from rapkit.errors import InputError

needs_fork = pytest.mark.skipif(not fork_call_available(), reason="fork_call forks on Linux only")


def _pid_and_arrays(n):
    return os.getpid(), {"a": np.arange(n, dtype=np.int64), "b": [str(i) for i in range(3)]}


def _raise_input_error(path):
    raise InputError("bad segment", file=path, image_id=7, segment_id=3)


def _die_in_child(parent_pid):
    if os.getpid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)  # killed (as by the OOM killer) before answering
    return "ran here"


def _unpicklable_error():
    class Local(Exception):  # a local class cannot be pickled
        pass

    raise Local("not picklable")


def _sleep(s):
    time.sleep(s)
    return s


@needs_fork
def test_value_comes_back_from_a_child():
    call = fork_call(_pid_and_arrays, 100_000)
    assert call.forked
    pid, value = call.result()
    assert pid != os.getpid()
    np.testing.assert_array_equal(value["a"], np.arange(100_000))  # > a pipe's buffer
    assert value["b"] == ["0", "1", "2"]


def test_disabled_runs_in_this_process(monkeypatch):
    monkeypatch.setenv("RAPKIT_FORK_CALL", "0")
    call = fork_call(_pid_and_arrays, 10)
    assert not call.forked
    pid, value = call.result()
    assert pid == os.getpid()
    np.testing.assert_array_equal(value["a"], np.arange(10))


@needs_fork
def test_the_childs_error_is_raised_with_its_context():
    with pytest.raises(InputError) as e:
        fork_call(_raise_input_error, "/data/gt.json").result()
    assert (e.value.message, e.value.file, e.value.image_id, e.value.segment_id) == (
        "bad segment",
        "/data/gt.json",
        7,
        3,
    )


@needs_fork
def test_a_child_that_dies_without_answering_means_the_call_runs_here():
    call = fork_call(_die_in_child, os.getpid())
    assert call.forked
    assert call.result() == "ran here"


@needs_fork
def test_an_unpicklable_error_is_met_again_here():
    with pytest.raises(Exception, match="not picklable"):
        fork_call(_unpicklable_error).result()


@needs_fork
def test_cancel_stops_and_reaps_the_child():
    call = fork_call(_sleep, 60)
    pid = call._pid
    t0 = time.monotonic()
    call.cancel()
    assert time.monotonic() - t0 < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left
    call.cancel()  # twice is harmless
