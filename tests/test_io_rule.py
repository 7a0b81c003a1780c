"""The house rule "only ``rapkit/io/`` reads and writes files" (``model/`` reads and writes
torch files), checked statically.

Every module under ``rapkit/`` outside ``rapkit/io/`` and ``rapkit/model/`` is parsed with
:mod:`ast` (no text search) and each call is resolved through the module's imports
(``import numpy as np``, ``from json import dump as d``) to a dotted name. A call is a file
operation when

* its resolved name is in :data:`FILE_CALLS` (``open``, ``json.dump``, ``pickle.dump``,
  ``np.save``, ``torch.save``, ``shutil.copy``, ``os.replace``, ``tomllib.load``...), or
* it is a method call whose name is in :data:`FILE_METHODS`, whatever the object
  (``p.write_bytes(...)``, ``path.open()``, ``img.save(...)``, ``p.mkdir()``...), or
* it is a pandas writer (:data:`FRAME_WRITERS`, ``df.to_csv(path)``...) given a path; the
  same call without one returns a string and is fine.

Not file operations, so allowed everywhere: ``json.dumps`` / ``json.loads`` (strings; e.g.
``report.py`` renders JSON for stdout, and the string only reaches a file through an
``io/`` writer, which this test would catch), ``print``, ``click.echo`` and
``sys.stdout.write`` (the terminal), and ``os.path`` / ``Path`` queries such as
``exists()``, ``resolve()``, ``stat()`` (no data is read or written).

Exceptions are listed in :data:`ALLOWED` with the reason; anything else fails with
``module:line: call``. ``benchmarks/``, ``tests/`` and ``tools/`` are outside ``rapkit/``
and not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "rapkit"

# Subpackages whose job is files: io/ (all formats), model/ (torch checkpoints, training logs).
EXEMPT_DIRS = ("io", "model")

# Fully qualified callables that read or write files (after resolving import aliases).
FILE_CALLS = frozenset(
    {
        "open",
        "io.open",
        "os.open",
        "os.fdopen",
        "codecs.open",
        "gzip.open",
        "bz2.open",
        "lzma.open",
        "tarfile.open",
        "zipfile.ZipFile",
        "json.dump",
        "json.load",
        "pickle.dump",
        "pickle.load",
        "marshal.dump",
        "marshal.load",
        "tomllib.load",
        "yaml.dump",
        "yaml.safe_dump",
        "yaml.load",
        "yaml.safe_load",
        "numpy.save",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.savetxt",
        "numpy.load",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.fromfile",
        "numpy.memmap",
        "torch.save",
        "torch.load",
        "PIL.Image.open",
        "imageio.imwrite",
        "imageio.imread",
        "cv2.imwrite",
        "cv2.imread",
        "pandas.read_csv",
        "pandas.read_json",
        "pandas.read_parquet",
        "pandas.read_pickle",
        "shutil.copy",
        "shutil.copy2",
        "shutil.copyfile",
        "shutil.copyfileobj",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "os.rename",
        "os.renames",
        "os.replace",
        "os.remove",
        "os.unlink",
        "os.rmdir",
        "os.removedirs",
        "os.mkdir",
        "os.makedirs",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.write",
        "os.chmod",
        "tempfile.mkstemp",
        "tempfile.mkdtemp",
        "tempfile.NamedTemporaryFile",
        "tempfile.TemporaryFile",
        "tempfile.TemporaryDirectory",
        "tempfile.SpooledTemporaryFile",
    }
)

# Method names that mean a file operation whatever the object (Path, PIL image, figure, array).
FILE_METHODS = frozenset(
    {
        "write_bytes",
        "write_text",
        "read_bytes",
        "read_text",
        "open",  # Path.open, Image.open, zipfile... (also catches `from PIL import Image; Image.open`)
        "save",  # PIL Image.save, torch modules, numpy-like writers
        "savefig",
        "tofile",
        "mkdir",
        "touch",
        "unlink",
        "rmdir",
        "symlink_to",
        "hardlink_to",
        "write_image",
        "to_pickle",
    }
)

# pandas writers: a file operation only when given a path (positional or keyword).
FRAME_WRITERS = frozenset(
    {"to_csv", "to_parquet", "to_json", "to_excel", "to_markdown", "to_feather", "to_hdf", "to_html"}
)
FRAME_PATH_KWARGS = frozenset({"path", "path_or_buf", "buf", "excel_writer", "fname"})

# (module relative to rapkit/, resolved call) -> reason. Keep it short and justified.
ALLOWED: dict[tuple[str, str], str] = {
    ("_runtime/jit.py", ".read_text()"): "reads rapkit's own sources to find a kernel's dependencies (its cache key)",
    ("_runtime/jit.py", ".read_bytes()"): "hashes rapkit's own sources into a kernel's cache key",
    ("_runtime/jit.py", "open"): "reads the 16-byte header of a kernel dependency's .pyc (is the imported code older?)",
    (
        "_runtime/jit.py",
        "os.remove",
    ): "removes a .pyc that may hold older code than its source (the next run imports it)",
}


def _modules() -> list[Path]:
    out = []
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG)
        if rel.parts[0] in EXEMPT_DIRS:
            continue
        out.append(p)
    return out


class _Scanner(ast.NodeVisitor):
    """Collect ``(line, call)`` of the file operations of one module."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> dotted origin
        self.found: list[tuple[int, str]] = []

    # imports anywhere in the module (functions import lazily) define aliases
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.asname:
                self.aliases[a.asname] = a.name
            else:
                self.aliases.setdefault(a.name.split(".")[0], a.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            for a in node.names:
                self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def _dotted(self, node: ast.expr) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.aliases.get(node.id, node.id)
        return ".".join([head, *reversed(parts)])

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        f = node.func
        name = self._dotted(f)
        if name is not None:
            name = {"np": "numpy", "pd": "pandas"}.get(name.split(".")[0], name.split(".")[0]) + name[
                len(name.split(".")[0]) :
            ]
            if name in FILE_CALLS:
                self.found.append((node.lineno, name))
                return
        if isinstance(f, ast.Attribute):
            if f.attr in FILE_METHODS:
                self.found.append((node.lineno, f".{f.attr}()"))
            elif f.attr in FRAME_WRITERS and (node.args or any(k.arg in FRAME_PATH_KWARGS for k in node.keywords)):
                self.found.append((node.lineno, f".{f.attr}(path)"))


def file_operations(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """``(line, call)`` of every file operation in ``source`` (see the module docstring)."""
    s = _Scanner()
    tree = ast.parse(source, filename)
    # imports first (a lazy import inside a function still names the module for its calls)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            s.visit(node)
    s.visit(tree)
    return sorted(s.found)


def violations() -> list[str]:
    out = []
    for p in _modules():
        rel = p.relative_to(PKG).as_posix()
        for line, call in file_operations(p.read_text(encoding="utf-8"), str(p)):
            if (rel, call) in ALLOWED:
                continue
            out.append(f"rapkit/{rel}:{line}: {call}")
    return out


def test_only_io_and_model_touch_files():
    bad = violations()
    assert not bad, "file operations outside rapkit/io/ and rapkit/model/ (move them into io/):\n" + "\n".join(bad)


def test_every_allowed_exception_is_still_needed():
    used = set()
    for p in _modules():
        rel = p.relative_to(PKG).as_posix()
        used |= {(rel, call) for _, call in file_operations(p.read_text(encoding="utf-8"), str(p))}
    assert not set(ALLOWED) - used, f"stale entries in ALLOWED: {sorted(set(ALLOWED) - used)}"


@pytest.mark.parametrize(
    "code,expected",
    [
        ("import json\njson.dump(x, f)", [(2, "json.dump")]),
        ("from json import dump as d\nd(x, f)", [(2, "json.dump")]),
        ("def f():\n    import numpy as np\n    np.save('a', x)", [(3, "numpy.save")]),
        ("import torch\ntorch.save(m, 'm.pt')", [(2, "torch.save")]),
        ("with open('a') as f:\n    pass", [(1, "open")]),
        ("from pathlib import Path\nPath('a').write_text('x')", [(2, ".write_text()")]),
        (
            "p.write_bytes(b'')\nimg.save('a.png')\nq.open('rb')",
            [(1, ".write_bytes()"), (2, ".save()"), (3, ".open()")],
        ),
        (
            "import shutil, os\nshutil.copyfile(a, b)\nos.replace(a, b)\nos.makedirs(d)",
            [(2, "shutil.copyfile"), (3, "os.replace"), (4, "os.makedirs")],
        ),
        ("df.to_csv('a.csv')\ndf.to_json(path_or_buf=p)", [(1, ".to_csv(path)"), (2, ".to_json(path)")]),
        # not file operations
        ("import json\ns = json.dumps(x)\nprint(s)\ndf.to_csv()\ndf.to_json(orient='records')", []),
        ("import click, sys\nclick.echo('x')\nsys.stdout.write('x')\nname.replace('-', '_')\np.exists()", []),
    ],
)
def test_scanner(code, expected):
    assert file_operations(code) == expected
