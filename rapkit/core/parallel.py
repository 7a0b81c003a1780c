"""A spawn-safe, bounded process pool with ordered results and a progress callback.

``imap_ordered(fn, items, workers)`` yields ``fn(item)`` in input order, keeping at most
``2 * workers`` tasks in flight (memory stays bounded on big datasets). ``fn`` must be a
module-level function (picklable under the spawn start method). With ``workers <= 1`` it
runs in-process (no pickling, easy debugging).

>>> list(imap_ordered(abs, [-1, -2], workers=1))
[1, 2]
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _context(prefer_fork: bool = False) -> mp.context.BaseContext:
    method = os.environ.get("RAPKIT_MP_START")
    if method:
        return mp.get_context(method)
    # fork is safe while the parent runs a single thread; workers then start at once with
    # everything the parent has loaded (opt-in: ``prefer_fork``).
    if prefer_fork and "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    # fork is fast but unsafe with threads (numba/torch); forkserver is a good default on Linux.
    if "forkserver" in mp.get_all_start_methods():
        return mp.get_context("forkserver")
    return mp.get_context("spawn")


class ForkCall:
    """A call running in a forked child (see :func:`fork_call`); :meth:`result` waits for it."""

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._pid: int | None = None
        self._conn: Any = None
        self.forked = False  # whether a child runs the call (else result() runs it here)

    def _start(self) -> None:
        import warnings

        recv, send = mp.Pipe(duplex=False)
        with warnings.catch_warnings():  # Python >= 3.12 warns on fork with threads running
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: run, send (ok, value) pickled, leave without cleanup
            try:
                recv.close()
                payload = _run_pickled(self._fn, self._args, self._kwargs)
                if payload:
                    send.send_bytes(payload)
            finally:
                os._exit(0)
        send.close()
        self._pid, self._conn, self.forked = pid, recv, True

    def result(self) -> Any:
        """The call's value; its exception re-raised here. A child that died without an
        answer (killed, out of memory) or an answer that cannot be unpickled: the call runs
        again in this process."""
        if not self.forked:
            return self._fn(*self._args, **self._kwargs)
        import pickle

        try:
            data = self._conn.recv_bytes()
        except EOFError:  # no answer
            data = b""
        finally:
            self._reap()
        try:
            ok, value = pickle.loads(data) if data else (None, None)
        except Exception:
            ok = None
        if ok is None:
            return self._fn(*self._args, **self._kwargs)
        if ok:
            return value
        raise value

    def cancel(self) -> None:
        """Stop the child (when the caller leaves without its result)."""
        if self._pid is not None:
            import signal

            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap()

    def _reap(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._pid is not None:
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            self._pid = None


def _run_pickled(fn: Callable[..., Any], args: tuple, kwargs: dict) -> bytes:
    import pickle

    try:
        return pickle.dumps((True, fn(*args, **kwargs)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as e:  # the caller re-raises it (Ctrl-C included)
        try:
            return pickle.dumps((False, e), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return b""  # unpicklable: the caller runs the call itself and meets it there


def fork_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> ForkCall:
    """Start ``fn(*args, **kwargs)`` in a forked child now, so this process can do other
    work meanwhile (e.g. import numba while the child parses JSON); ``.result()`` returns
    its value (pickled back through a pipe) or raises its exception.

    Where fork is unavailable (or not Linux), or with ``RAPKIT_FORK_CALL=0``, nothing is started and
    ``.result()`` runs the call in this process: the same value either way. ``fn`` must not
    write to stdout or stderr (the child shares them) and should return plain data.

    >>> fork_call(sum, [1, 2, 3]).result()
    6
    """
    call = ForkCall(fn, args, kwargs)
    if fork_call_available():
        call._start()
    return call


def fork_call_available() -> bool:
    """Whether :func:`fork_call` forks here: on Linux (elsewhere, as multiprocessing does by
    default, no fork without exec: macOS frameworks are not fork-safe), unless
    ``RAPKIT_FORK_CALL=0``."""
    return hasattr(os, "fork") and sys.platform.startswith("linux") and os.environ.get("RAPKIT_FORK_CALL", "1") != "0"


def prestart(preload: tuple[str, ...] = (), *, prefer_fork: bool = False) -> None:
    """Start the forkserver (with ``preload``) now, so it boots while the caller does other
    work (e.g. reads its inputs) before the first :func:`imap_ordered` with workers > 1.
    Does nothing for other start methods (``prefer_fork`` as in :func:`imap_ordered`).

    >>> prestart(("numpy",))   # doctest: +SKIP
    """
    ctx = _context(prefer_fork)
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    if preload:
        ctx.set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def imap_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    *,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple = (),
    on_result: Callable[[R], None] | None = None,
    max_in_flight: int | None = None,
    preload: tuple[str, ...] = (),
    prefer_fork: bool = False,
) -> Iterator[R]:
    """Map ``fn`` over ``items`` in ``workers`` processes, yielding results in order.

    ``preload`` names modules the forkserver imports once before forking the workers (so
    each worker starts with them loaded, e.g. compiled numba kernels); ignored by other
    start methods. ``prefer_fork`` uses the fork start method when the calling process runs
    a single thread (``RAPKIT_MP_START`` still wins)."""
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        for it in items:
            r = fn(it)
            if on_result is not None:
                on_result(r)
            yield r
        return
    limit = max_in_flight or 2 * workers
    ctx = _context(prefer_fork)
    if preload and ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(preload))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer, initargs=initargs) as ex:
        pending: collections.deque[Future] = collections.deque()
        try:
            for it in items:
                pending.append(ex.submit(fn, it))
                while len(pending) >= limit:
                    r = pending.popleft().result()
                    if on_result is not None:
                        on_result(r)
                    yield r
            while pending:
                r = pending.popleft().result()
                if on_result is not None:
                    on_result(r)
                yield r
        except BaseException:
            for f in pending:
                f.cancel()
            ex.shutdown(wait=False, cancel_futures=True)
            raise
