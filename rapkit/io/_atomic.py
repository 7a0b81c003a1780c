"""Atomic outputs: write to a temporary sibling, rename when complete.

An existing output is never overwritten unless ``force=True``; an interrupted or failed
write (exception, Ctrl-C) removes the temporary and leaves the old output intact.

>>> with atomic_path("out.json", force=True) as tmp:   # doctest: +SKIP
...     tmp.write_text("{}")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import ConfigError


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Raise ConfigError (exit 2) when ``path`` exists and ``force`` is false."""
    p = Path(path)
    if p.exists() and not force:
        raise ConfigError(f"{p}: output exists; pass --force to replace it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise ConfigError(f"{p}: parent folder {parent} does not exist")
    return p


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` (a file path, or a created folder when
    ``directory``); on success rename it onto ``path``; on any failure remove it."""
    p = check_writable(path, force)
    parent = p.parent if str(p.parent) else Path(".")
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if not directory:
            os.chmod(tmp, 0o644)
        else:
            os.chmod(tmp, 0o755)
        if p.exists():
            if not force:  # appeared while we worked
                raise ConfigError(f"{p}: output exists; pass --force to replace it")
            if p.is_dir() and not p.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".old", dir=parent))
                os.rmdir(old)
                os.replace(p, old)
                os.replace(tmp, p)
                _remove(old)
            else:
                if directory:
                    p.unlink()
                os.replace(tmp, p)
        else:
            os.replace(tmp, p)
    except BaseException:
        _remove(tmp)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"), force)
