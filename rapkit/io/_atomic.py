"""Durable atomic outputs: write to a temporary sibling, make it durable, rename it into place.

After a crash at any point (``kill -9``, power loss) an output path holds either the complete
old output or the complete new one, never a mixture or a partial file. An existing output is
never replaced unless ``force=True``; a failed or interrupted write (exception, Ctrl-C)
removes its temporary and leaves the old output as it was.

Names beside an output ``NAME`` (all hidden, all in NAME's parent folder):

* ``.NAME.rapkit-tmp-<pid>-<start>-<random>``: the temporary being written (a file or a
  folder), tagged with the writing process's id and start time (``/proc/<pid>/stat`` field
  22 on Linux; 0 where unknown). A later write into the same folder removes the temporaries
  of processes that no longer exist (a live pid with another start time is a reused pid) and
  says so on stderr; it never touches a live writer's temporary (nor one whose output's lock is held).
* ``.NAME.rapkit-lock``: held (``fcntl.flock``) while NAME is being written. A second
  writer of the same NAME gets a :class:`~rapkit.errors.ConfigError` (exit 2) after a
  grace of :data:`LOCK_GRACE_S` (one second) rather than waiting for the first to finish:
  two runs into one output cannot both be meant. Removed when done.
* ``.NAME.rapkit-old``: the old output during the replacement of a folder where the
  filesystem cannot swap two paths atomically (see below). The next write of NAME (or any
  write into the same folder) restores it when NAME is missing, and removes it when NAME is
  in place.

The commit sequence:

1. make the temporary durable (:func:`fsync_tree`): ``fsync`` every file of it, in up to
   :data:`FSYNC_THREADS` threads that are joined before the commit goes on (the filesystem
   commits fsyncs that wait together in one journal transaction), then every folder of it,
   deepest first. Only rapkit's own files are flushed. Files handed to an :class:`FsyncBehind`
   were fsynced in the background (the commit waits for it, skips them). ``RAPKIT_SYNCFS=1`` asks for one
   ``syncfs`` of the filesystem instead when the folder holds more than
   :data:`SYNCFS_MIN_FILES` files (Linux; per-file calls where it fails): faster still, but
   it also flushes every other process's dirty data on that filesystem, so it is off unless
   asked for;
2. put it in place:

   * a file replacing a file (or nothing): ``rename(tmp, NAME)``;
   * a folder (or a file replacing a folder): an atomic swap of the two paths
     (``renameat2(RENAME_EXCHANGE)`` on Linux, :func:`_exchange`), after which the temporary
     holds the old output and is removed. Where the swap is not supported:
     ``rename(NAME, .NAME.rapkit-old)``, ``rename(tmp, NAME)``, then remove the backup. A
     crash between these two renames leaves no NAME but the complete old output under
     ``.NAME.rapkit-old``, which the next run restores;

3. ``fsync`` the parent folder.

``RAPKIT_FSYNC=0`` skips the ``fsync`` calls (throwaway outputs, benchmarks on slow disks);
atomicity against process kills is unchanged, only durability against power loss is given up.

The stages of a write are seams that ``tests/io/test_atomic_crash.py`` patches in a child
process to stop it there and kill it: :func:`_acquire` (locked), this module's ``os.mkdir`` /
``os.open`` of the temporary (temp-created), :func:`fsync_tree` (temp-written before it,
synced after it), :func:`_exchange` and ``os.replace`` / ``os.rename`` of the temporary
(between-renames, renamed) and :func:`_commit` (old-removed). Keep them when changing this
module; nothing in it exists for tests only.

>>> with atomic_path("out.json", force=True) as tmp:   # doctest: +SKIP
...     tmp.write_text("{}")
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .._runtime import Behind, imap_ordered, setting
from ..errors import ConfigError

try:  # POSIX advisory locks; absent on Windows (writes there are not locked)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

TMP_TAG = "rapkit-tmp"
LOCK_TAG = "rapkit-lock"
OLD_TAG = "rapkit-old"
_TMP_RE = re.compile(r"^\.(.*)\." + TMP_TAG + r"-(\d+)-(\d+)-[0-9a-f]+$")
_NAME_MAX = 255


def _notice_stderr(msg: str) -> None:
    try:
        sys.stderr.write(f"rapkit: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass


#: Where notes about cleaned-up temporaries and restored outputs go (a callable taking one
#: line). Default: stderr, prefixed ``rapkit:``. Replace it to route them elsewhere.
notice: Callable[[str], None] = _notice_stderr


def _note(msg: str) -> None:
    notice(msg)


# ---------------------------------------------------------------- process identity


def process_start_time(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field
    22), or None where it cannot be read (no such process, not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    try:
        # field 2 (comm) is in parentheses and may hold spaces: count fields after the last ')'
        rest = stat[stat.rindex(b")") + 2 :].split()
        return int(rest[22 - 3])
    except (ValueError, IndexError):
        return None


_SELF: tuple[int, int] | None = None


def _self_id() -> tuple[int, int]:
    global _SELF
    pid = os.getpid()
    if _SELF is None or _SELF[0] != pid:  # recomputed after a fork
        _SELF = (pid, process_start_time(pid) or 0)
    return _SELF


def process_alive(pid: int, start: int) -> bool:
    """Whether the process that wrote a temporary tagged ``pid``/``start`` may still run.
    ``start == 0`` (unknown) trusts the pid alone; when in doubt, alive."""
    if pid <= 0:
        return True
    if (pid, start) == _self_id():
        return True
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, owned by someone else
        pass
    if start:
        now = process_start_time(pid)
        if now is not None and now != start:
            return False  # the pid was reused by a newer process
    return True


# ---------------------------------------------------------------- names


def _sibling(p: Path, tag: str) -> Path:
    """``.NAME.<tag>`` beside ``p`` (NAME shortened with a hash where too long)."""
    name = p.name
    cand = f".{name}.{tag}"
    if len(os.fsencode(cand)) > _NAME_MAX:
        h = hashlib.sha1(os.fsencode(name)).hexdigest()[:16]
        cand = f".{name[:80]}-{h}.{tag}"
    return p.with_name(cand)


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of output ``path`` (``.NAME.rapkit-lock``)."""
    return _sibling(Path(path), LOCK_TAG)


def backup_path(path: str | os.PathLike) -> Path:
    """Where the old output of ``path`` waits during a non-atomic folder swap (``.NAME.rapkit-old``)."""
    return _sibling(Path(path), OLD_TAG)


def _temp_name(p: Path) -> Path:
    pid, start = _self_id()
    return _sibling(p, f"{TMP_TAG}-{pid}-{start}-{secrets.token_hex(4)}")


def parse_temp_name(name: str) -> tuple[int, int] | None:
    """``(pid, start)`` of a temporary's name, or None if ``name`` is not one of rapkit's."""
    m = _TMP_RE.match(name)
    return (int(m.group(2)), int(m.group(3))) if m else None


# ---------------------------------------------------------------- durability


def _fsync_enabled() -> bool:
    return bool(setting("RAPKIT_FSYNC"))


def _fsync_path(p: Path | str, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(p, flags)
    except OSError:  # pragma: no cover - e.g. folders cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some filesystems refuse fsync on folders
        if not directory or e.errno not in (errno.EINVAL, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


#: Threads that ``fsync`` the files of a folder at the same time (all joined before
#: :func:`fsync_tree` returns). The filesystem commits the fsyncs that wait together in one
#: journal transaction: 200 files of 10-60 KB became durable in 18-20 ms with 16 threads
#: instead of 47-51 ms one after the other on this project's ext4 disk, and in 34 ms instead
#: of 786 ms while others wrote to it (8 threads: about the same, 32: no better;
#: ``python benchmarks/atomic_commit.py``).
FSYNC_THREADS = 16


def _fsync_all(paths: list[str], *, directory: bool = False, threads: int | None = None) -> None:
    """``fsync`` every path of ``paths``: in up to ``threads`` (default :data:`FSYNC_THREADS`)
    threads when there are several, joined before this returns (also when one fails: its
    error is raised)."""
    threads = FSYNC_THREADS if threads is None else threads
    if threads <= 1 or len(paths) <= 1:
        for q in paths:
            _fsync_path(q, directory)
        return
    for _ in imap_ordered(
        functools.partial(_fsync_path, directory=directory),
        paths,
        min(threads, len(paths)),
        name="rapkit-fsync",
    ):
        pass


#: With ``RAPKIT_SYNCFS=1``, a folder with more files than this is made durable with one
#: ``syncfs`` of its filesystem (Linux) instead of one ``fsync`` per file.
SYNCFS_MIN_FILES = 16

_libc_syncfs: Callable[[int], int] | None | bool = False  # False: not looked up yet


def _syncfs_function() -> Callable[[int], int] | None:
    """libc's ``syncfs`` (Linux), or None where there is none."""
    global _libc_syncfs
    if _libc_syncfs is False:
        _libc_syncfs = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).syncfs
                fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                _libc_syncfs = fn
            except (OSError, AttributeError):  # pragma: no cover - no syncfs in this libc
                _libc_syncfs = None
    return _libc_syncfs  # type: ignore[return-value]


def _syncfs(p: str) -> bool:
    """``syncfs`` the filesystem holding folder ``p``: every dirty file and folder on it is
    written out in one go, other processes' included (Linux >= 5.8 also reports writeback
    errors). False when unavailable or failed (the caller falls back to ``fsync`` per file)."""
    fn = _syncfs_function()
    if fn is None:
        return False
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover
        return False
    try:
        return fn(fd) == 0
    finally:
        os.close(fd)


def fsync_tree(p: Path, skip: set[str] | frozenset[str] = frozenset()) -> None:
    """Make file ``p``, or every file and folder under folder ``p``, durable: ``fsync`` each
    file (in up to :data:`FSYNC_THREADS` threads, joined before this returns), then each
    folder, deepest first. With ``RAPKIT_SYNCFS=1`` a folder of more than
    :data:`SYNCFS_MIN_FILES` files is made durable with one ``syncfs`` of its filesystem where
    Linux offers it (per-file calls when it fails). ``RAPKIT_FSYNC=0``: nothing. ``skip``:
    files (paths as ``os.walk`` of ``p`` spells them) already fsynced after their last write
    (:class:`FsyncBehind`); folders are always fsynced."""
    if not _fsync_enabled():
        return
    if p.is_symlink() or not p.is_dir():
        _fsync_path(p)
        return
    walk = list(os.walk(p, topdown=False))
    files = [fp for root, _dirs, names in walk for fp in (os.path.join(root, f) for f in names)]
    if setting("RAPKIT_SYNCFS") and len(files) > SYNCFS_MIN_FILES and _syncfs(str(p)):
        return
    _fsync_all([fp for fp in files if fp not in skip and not os.path.islink(fp)])
    _fsync_all([root for root, _dirs, _names in walk], directory=True, threads=1)


#: Threads of :class:`FsyncBehind`: they fsync the finished files of an output while the
#: rest is still being computed (see ``benchmarks/fsync_behind.py`` for the count).
BEHIND_THREADS = 4


class FsyncBehind:
    """Makes the finished files of an atomic folder output durable while the rest is still
    being written, so that its commit is left with the folders and the last files only:
    :meth:`put` hands over a file that will not be written again; :data:`BEHIND_THREADS`
    threads ``fsync`` it and add it to :attr:`done`. Pass it to :func:`atomic_path`
    (``behind=``), which waits for it before the commit (:meth:`finish`, raising the first
    ``fsync`` error: the output is then not published), fsyncs every file not in
    :attr:`done` and every folder as always, and stops it on a failure (:meth:`close`): no
    thread is left either way. With ``RAPKIT_FSYNC=0`` (nothing is fsynced) or
    ``RAPKIT_SYNCFS=1`` (one ``syncfs`` at the commit) it does nothing and starts no thread.

    >>> b = FsyncBehind(threads=2)
    >>> b.finish(); sorted(b.done)
    []
    """

    def __init__(self, threads: int | None = None) -> None:
        #: the files fsynced after their last write (paths as handed over)
        self.done: set[str] = set()
        on = _fsync_enabled() and not setting("RAPKIT_SYNCFS")
        n = BEHIND_THREADS if threads is None else threads
        self._behind = Behind(self._sync, n, name="rapkit-fsync-behind") if on and n > 0 else None

    def _sync(self, path: str) -> None:
        _fsync_path(path)
        self.done.add(path)

    def put(self, path: str) -> None:
        """Make file ``path`` durable in the background (it must not be written again)."""
        if self._behind is not None:
            self._behind.put(path)

    def finish(self) -> None:
        """Wait for the files being fsynced, raise the first error; those still queued are
        left to the commit's :func:`fsync_tree` (:data:`FSYNC_THREADS` threads at once)."""
        if self._behind is not None:
            self._behind.finish(drop=True)

    def close(self) -> None:
        """Stop: drop the files not yet started, wait for the running ones."""
        if self._behind is not None:
            self._behind.close()


def fsync_dir(p: Path) -> None:
    """``fsync`` folder ``p`` (makes renames and removals in it durable)."""
    if _fsync_enabled():
        _fsync_path(p, directory=True)


# ---------------------------------------------------------------- atomic swap


_RENAME_EXCHANGE = 2
_renameat2: Callable | None | bool = False  # False: not looked up yet


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap paths ``a`` and ``b`` (Linux ``renameat2(RENAME_EXCHANGE)``).
    False where the system or filesystem does not support it; raises OSError otherwise."""
    global _renameat2
    if _renameat2 is False:
        _renameat2 = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                fn = libc.renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
                _renameat2 = fn
            except (OSError, AttributeError):
                _renameat2 = None
    if _renameat2 is None:
        return False
    import ctypes

    AT_FDCWD = -100
    rc = _renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)  # type: ignore[operator]
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


# ---------------------------------------------------------------- locks


class _Lock:
    """An exclusive ``flock`` on ``.NAME.rapkit-lock``; the file is removed on release (safe:
    a locker checks that the file it locked is still the one at the path)."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def _try_lock(lp: Path, create: bool = True) -> _Lock | None:
    """The lock at ``lp``, or None when another open file holds it. Without ``create``, a
    missing lock file counts as free (returns a no-op lock)."""
    if fcntl is None:  # pragma: no cover - Windows
        return _Lock(lp, None)
    while True:
        try:
            fd = os.open(lp, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
        except FileNotFoundError:
            if create:
                raise
            return _Lock(lp, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(lp).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return _Lock(lp, fd)
        os.close(fd)  # the holder removed it between our open and our lock: try again
        if not create:
            return _Lock(lp, None)


def _holder(lp: Path) -> str:
    try:
        text = lp.read_text().split()
        return f" (pid {int(text[0])})" if text else ""
    except (OSError, ValueError, IndexError):
        return ""


def _busy(p: Path, lp: Path) -> ConfigError:
    return ConfigError(
        f"{p}: another rapkit process{_holder(lp)} is writing this output; "
        "wait for it to finish (or stop it) and run again"
    )


#: seconds a writer waits for a held lock before giving up: long enough for another run's
#: brief check (:func:`check_writable` holds the lock while it tidies), far shorter than a write
LOCK_GRACE_S = 1.0


def _try_lock_grace(lp: Path, create: bool) -> _Lock | None:
    deadline = time.monotonic() + LOCK_GRACE_S
    while True:
        lock = _try_lock(lp, create=create)
        if lock is not None or time.monotonic() >= deadline:
            return lock
        time.sleep(0.02)


def _acquire(p: Path) -> _Lock:
    lp = lock_path(p)
    try:
        lock = _try_lock_grace(lp, create=True)
    except OSError as e:
        raise ConfigError(f"{p}: cannot write in {lp.parent}: {e.strerror or e}") from None
    if lock is None:
        raise _busy(p, lp)
    if lock.fd is not None:
        with contextlib.suppress(OSError):
            os.ftruncate(lock.fd, 0)
            os.pwrite(lock.fd, f"{os.getpid()}\n".encode(), 0)
    return lock


# ---------------------------------------------------------------- recovery and cleanup


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _lexists(p: Path) -> bool:
    return os.path.lexists(p)


def _recover(p: Path) -> None:
    """Finish an interrupted folder swap of ``p`` (its lock is held): restore the backup when
    ``p`` is missing, remove it when ``p`` is in place."""
    old = backup_path(p)
    if not _lexists(old):
        return
    if _lexists(p):
        _remove(old)
        _note(f"removed {old.name}, the previous {p.name} left by an interrupted run (the new one is complete)")
    else:
        os.rename(old, p)
        _note(f"restored {p} from {old.name}, left by a run killed while replacing it")
    fsync_dir(p.parent)


def _tidy(parent: Path, n: str, held: Path | None, removed: list[Path]) -> None:
    q = parent / n
    owner = parse_temp_name(n)
    if owner is not None:
        if process_alive(*owner):
            return
        target = parent / _TMP_RE.match(n).group(1)  # type: ignore[union-attr]
        if target != held:  # a writer of that output holding its lock is alive (another pid namespace?)
            lock = _try_lock(lock_path(target), create=False)
            if lock is None:
                return
            lock.release()
        _remove(q)
        if not _lexists(q):
            removed.append(q)
            _note(f"removed {q}, a temporary of rapkit process {owner[0]} that no longer runs")
        return
    for tag, recover in ((OLD_TAG, True), (LOCK_TAG, False)):
        suffix = "." + tag
        if not n.endswith(suffix) or len(n) <= len(suffix) + 1:
            continue
        target = parent / n[1 : -len(suffix)]
        if held is not None and target == held:
            if recover:
                _recover(target)
            return
        lock = _try_lock(lock_path(target), create=recover)
        if lock is None:  # a live writer
            return
        try:
            if recover:
                _recover(target)
        finally:
            lock.release()


def cleanup_folder(parent: str | os.PathLike, *, held: Path | None = None) -> list[Path]:
    """Remove what killed rapkit writers left in ``parent``: temporaries of processes that no
    longer exist, unheld lock files, and backups of interrupted folder swaps (restored when
    their output is missing). Each action is reported through :data:`notice`. ``held`` is an
    output whose lock this process holds. Returns the temporaries removed."""
    parent = Path(parent)
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    removed: list[Path] = []
    for n in sorted(names):
        if n.startswith(".") and ".rapkit-" in n:
            with contextlib.suppress(OSError):  # tidying never fails a run
                _tidy(parent, n, held, removed)
    if removed:
        fsync_dir(parent)
    return removed


# ---------------------------------------------------------------- public API


def _parent(p: Path) -> Path:
    return p.parent if str(p.parent) else Path(".")


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Raise ConfigError (exit 2) when ``path`` exists and ``force`` is false, when its
    parent folder is missing, or when another rapkit process is writing it. Also tidies the
    parent folder (:func:`cleanup_folder`), so a missing output whose replacement was
    interrupted is restored before it is judged."""
    p = Path(path)
    parent = _parent(p)
    if not parent.is_dir():
        raise ConfigError(f"{p}: parent folder {parent} does not exist")
    lock = None
    with contextlib.suppress(OSError):  # an unwritable folder fails later, where it is written
        lock = _try_lock_grace(lock_path(p), create=os.access(parent, os.W_OK))
        if lock is None:
            raise _busy(p, lock_path(p))
    if lock is not None and (lock.fd is not None or fcntl is None):
        try:
            _recover(p)
            cleanup_folder(parent, held=p)
        finally:
            lock.release()
    if _lexists(p) and not force:
        raise ConfigError(f"{p}: output exists; pass --force to replace it")
    return p


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, force: bool = False, *, directory: bool = False, behind: FsyncBehind | None = None
) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` (a file path, or a created folder when
    ``directory``); on success make it durable and put it in place of ``path``; on any
    failure remove it. Raises ConfigError when another rapkit process is writing ``path``.
    ``behind``: an :class:`FsyncBehind` the block hands its finished files to; the commit
    waits for it (its error fails the write) and skips the files it made durable; on a
    failure it is stopped before the temporary is removed."""
    try:
        with _atomic_path(path, force, directory, behind) as tmp:
            yield tmp
    finally:
        if behind is not None:
            behind.close()


@contextlib.contextmanager
def _atomic_path(path: str | os.PathLike, force: bool, directory: bool, behind: FsyncBehind | None) -> Iterator[Path]:
    p = check_writable(path, force)
    parent = _parent(p)
    lock = _acquire(p)
    try:
        _recover(p)
        cleanup_folder(parent, held=p)
        tmp = _temp_name(p)
        if directory:
            os.mkdir(tmp, 0o755)
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        try:
            yield tmp
            os.chmod(tmp, 0o755 if directory else 0o644)
            if _lexists(p) and not force:  # appeared while we worked
                raise ConfigError(f"{p}: output exists; pass --force to replace it")
            if behind is not None:
                behind.finish()
                fsync_tree(tmp, skip=behind.done)
            else:
                fsync_tree(tmp)
            _commit(tmp, p, directory)
        except BaseException:
            try:
                if behind is not None:
                    behind.close()  # no fsync thread left on the files about to be removed
            finally:
                _remove(tmp)
            raise
    finally:
        lock.release()


def _commit(tmp: Path, p: Path, directory: bool) -> None:
    parent = _parent(p)
    old_is_dir = p.is_dir() and not p.is_symlink()
    if not _lexists(p) or not (directory or old_is_dir):
        os.replace(tmp, p)  # atomic: nothing, a file or a link replaced by a file
        fsync_dir(parent)
    elif _exchange(tmp, p):  # tmp now holds the old output
        fsync_dir(parent)
        _remove(tmp)
    else:
        old = backup_path(p)
        os.rename(p, old)
        try:  # the window: no p, the complete old output under .NAME.rapkit-old
            fsync_dir(parent)
            os.rename(tmp, p)
        except BaseException:
            if not _lexists(p):
                os.rename(old, p)
            raise
        fsync_dir(parent)
        _remove(old)
    fsync_dir(parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"), force)
