"""rapkit's one pool kind: threads, with ordered results and bounded work in flight.

The per-image work of every command runs in numba kernels that release the GIL
(``nogil=True``), in numpy, zlib/libdeflate and Pillow calls that release it too, so
threads share the work without pickling anything, without starting processes, and
without a second copy of the inputs. :func:`imap_ordered` yields ``fn(item)`` in input order
(so every result is independent of the worker count), keeps at most ``2 * workers``
items in flight (memory stays bounded on big datasets), and always leaves with its threads
joined: after it returns, raises or is closed half-way, no thread of it is left.

>>> list(imap_ordered(abs, [-1, -2, -3], workers=2))
[1, 2, 3]
>>> resolve_workers(0) >= 1
True
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["Behind", "alongside", "available_cores", "imap_ordered", "resolve_workers"]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(n: int) -> int:
    """``n`` workers, where ``0`` (or less) means every available core."""
    return available_cores() if n <= 0 else n


def imap_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    *,
    on_result: Callable[[R], None] | None = None,
    max_in_flight: int | None = None,
    name: str = "rapkit",
) -> Iterator[R]:
    """Map ``fn`` over ``items`` in ``workers`` threads (``0``: every core), yielding the
    results in input order; ``on_result`` is called with each result as it is yielded. With
    one worker everything runs in the calling thread (no pool at all). An exception of
    ``fn`` is raised here, the items not yet started are dropped, and the threads are
    joined before it propagates."""
    workers = resolve_workers(workers)
    if workers <= 1:
        for it in items:
            r = fn(it)
            if on_result is not None:
                on_result(r)
            yield r
        return
    # imported here: a one-worker run (a small job's whole start-up) starts no thread and
    # does not pay for concurrent.futures (and the logging it imports)
    from concurrent.futures import ThreadPoolExecutor

    limit = max_in_flight or 2 * workers
    pending: collections.deque[Future] = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as ex:
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
        finally:
            for f in pending:
                f.cancel()


@contextlib.contextmanager
def alongside(fn: Callable[[], object] | None, name: str = "rapkit-preload") -> Iterator[None]:
    """Run ``fn()`` in one thread while the ``with`` body runs in the calling thread, and join
    it on the way out (whatever the body does): no thread is left. What ``fn`` raises is
    dropped: it only prepares what the body's caller will do again anyway (loading kernels),
    so the error, if any, comes from there. ``fn=None`` runs the body alone.

    >>> seen = []
    >>> with alongside(lambda: seen.append("loaded")):
    ...     pass
    >>> seen
    ['loaded']
    """
    if fn is None:
        yield
        return

    def run() -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the caller's own call says what is wrong
            pass

    t = threading.Thread(target=run, name=name)
    t.start()
    try:
        yield
    finally:
        t.join()


class Behind:
    """``threads`` threads that call ``fn(item)`` on each item :meth:`put` to them, in any
    order, while the caller goes on with its work (``rapkit fuse`` hands them the PNGs it has
    written, to be made durable during the run rather than after it). The threads start with
    the first item. :meth:`finish` waits for every item put and raises the first error of
    ``fn``; :meth:`close` drops the items not started and joins. Either way no thread is
    left; after an error the items still queued are dropped (the caller's :meth:`finish`
    raises it).

    >>> seen = []
    >>> b = Behind(seen.append, threads=2)
    >>> for i in range(5):
    ...     b.put(i)
    >>> b.finish()
    >>> sorted(seen)
    [0, 1, 2, 3, 4]
    """

    _STOP = object()

    def __init__(self, fn: Callable[[T], object], threads: int = 1, *, name: str = "rapkit-behind") -> None:
        self._fn = fn
        self._n = max(1, threads)
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._dropping = False
        self._stopping = False

    def _run(self) -> None:
        q, fn, stop = self._queue, self._fn, self._STOP
        while True:
            item = q.get()
            if item is stop:
                return
            if self._dropping:
                continue
            try:
                fn(item)
            except BaseException as e:  # noqa: BLE001 - raised by finish()
                if self._error is None:
                    self._error = e
                self._dropping = True

    def put(self, item: T) -> None:
        """Hand ``item`` over (from the thread that owns this object)."""
        if not self._threads:
            for i in range(self._n):
                t = threading.Thread(target=self._run, name=f"{self._name}_{i}", daemon=True)
                t.start()
                self._threads.append(t)
        self._queue.put(item)

    def _join(self) -> None:
        if not self._stopping:  # once per set of threads, even if a join below is interrupted
            self._stopping = True
            for _ in self._threads:
                self._queue.put(self._STOP)
        for t in self._threads:  # an interrupted join (Ctrl-C) leaves them for close() to join
            t.join()
        self._threads = []
        self._stopping = False

    def finish(self, *, drop: bool = False) -> None:
        """Wait until every item put is done (``drop``: until those already started are
        done; the rest are dropped, left to the caller); raise the first error of ``fn``."""
        if drop:
            self._dropping = True
        self._join()
        self._dropping = False
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def close(self) -> None:
        """Drop the items not started, wait for those running, and forget any error."""
        self._dropping = True
        self._join()
        self._error = None
        self._dropping = False
