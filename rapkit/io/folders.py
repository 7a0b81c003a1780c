"""Plain folder operations for modules outside ``io/`` (the house rule: only ``io/`` and
``model/`` touch files): make a folder, make and remove a private temporary folder.

>>> import tempfile, pathlib
>>> d = temp_folder("rapkit-doc-")
>>> make_folder(pathlib.Path(d) / "a").is_dir()
True
>>> remove_folder(d)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def file_stem(name: str) -> str:
    """``Path(name).stem`` without building a ``Path`` for plain file names (no folder part,
    not ending in a dot): the fuse workers name one PNG per image with it.

    >>> [file_stem(n) for n in ("a.jpg", "a.tar.gz", ".a", "a.", "x/b.png", "")]
    ['a', 'a.tar', '.a', 'a.', 'b', '']
    """
    if name and "/" not in name and name[-1] != ".":
        i = name.rfind(".")
        return name[:i] if i > 0 else name
    return Path(name).stem


def make_folder(path: str | os.PathLike, *, exist_ok: bool = False) -> Path:
    """Create ``path`` (parents included); an existing folder is an error unless ``exist_ok``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=exist_ok)
    return p


def temp_folder(prefix: str) -> str:
    """A new private temporary folder (``tempfile.mkdtemp``)."""
    return tempfile.mkdtemp(prefix=prefix)


def remove_folder(path: str | os.PathLike) -> None:
    """Remove a folder tree, ignoring errors (a temporary folder someone else may have removed)."""
    shutil.rmtree(path, ignore_errors=True)
