"""The rooms hold one thing each, and say what they need at the top: no module of rapkit/ is
over 700 lines, no import cycle, and an import inside a function is only one of the kinds
docs/architecture.md ("Imports") lists, each for its reason (optional or heavy)."""

from __future__ import annotations

import ast
from pathlib import Path

import rapkit

PKG = Path(rapkit.__file__).resolve().parent
MAX_LINES = 700

#: prefixes of modules a function may import, and why (docs/architecture.md, "Imports")
LAZY_OK = {
    "numba": "heavy (0.2-0.3 s); only rapkit/_runtime touches it",
    "rapkit.kernels": "numba kernels: heavy; numpy-only code and --help must not load numba",
    "torch": "optional extra (train)",
    "torchvision": "optional extra (train)",
    "rapkit.model": "torch: optional extra (train)",
    "matplotlib": "optional extra (plot)",
    "pyarrow": "optional (Parquet tables)",
    "pandas": "heavy (0.15-0.25 s): only when a table is asked for",
    "rich": "heavy (25-35 ms): only when progress or a table is shown",
    "ctypes": "platform library calls (glibc, Linux syscalls)",
    "fcntl": "POSIX only",
    "msgspec": "typed JSON decoding (10-18 ms to import): only for large input files",
    "rapkit.io.panoptic.typed": "msgspec: only for a panoptic JSON of 256 KiB or more (the small-job start-up skips it)",
    "concurrent.futures": "threads: only a pool of more than one worker imports it (and logging); start-up",
}
#: a command module of the CLI imports its pipeline when it runs, so that `rapkit CMD --help`
#: loads no numba or torch
CLI_LAZY_OK = ("rapkit.pipeline", "rapkit.report", "rapkit.model", "rapkit.synth")
#: `rapkit evaluate` runs one mode: its request and report modules import the other modes'
#: pipelines and layouts (relations, sweep, check) when those run, not at start-up
MODE_LAZY_OK = {
    "pipeline/requests.py": ("rapkit.pipeline.", "rapkit.core."),
    "report/evaluate.py": ("rapkit.report.",),
}
#: lazy attributes of a package (PEP 562 __getattr__): importing the package stays light
PACKAGE_ATTRS = {"__init__.py": ("rapkit.",), "io/__init__.py": ("rapkit.io.adapters",)}


def _name(p: Path) -> str:
    parts = list(p.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.AST, mod: str, is_pkg: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    if not node.level:
        base = node.module or ""
    else:
        parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _scan():
    modules = {_name(p): p for p in sorted(PKG.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    inner: list[tuple[str, int, str, list[str]]] = []
    for mod, p in modules.items():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        is_pkg = p.name == "__init__.py"
        typing_only = {
            id(n)
            for b in tree.body
            if isinstance(b, ast.If) and "TYPE_CHECKING" in ast.unparse(b.test)
            for n in ast.walk(b)
        }
        in_function = {
            id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f)
        }
        graph[mod] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in typing_only:
                continue
            names = _targets(node, mod, is_pkg)
            if id(node) not in in_function:
                graph[mod].update(n for n in names if n in modules and n != mod)
            else:
                rel = p.relative_to(PKG).as_posix()
                inner.append((rel, node.lineno, ast.unparse(node), names))
    return modules, graph, inner


def test_no_module_over_700_lines():
    big = {
        p.relative_to(PKG).as_posix(): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines (a room this big hides two): {big}"


def test_no_import_cycle():
    _, graph, _ = _scan()
    cycles = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for k in sorted(graph[n]):
            if state.get(k) == 1:
                cycles.append(" -> ".join(stack[stack.index(k) :] + [k]))
            elif k not in state:
                visit(k, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    assert len(graph) > 80 and not cycles, cycles


def test_imports_inside_functions_are_optional_or_heavy():
    _, _, inner = _scan()
    bad = []
    for rel, line, text, names in inner:
        target = names[0]
        if any(target == k or target.startswith(k + ".") for k in LAZY_OK):
            continue
        if rel.startswith("cli/") and any(target.startswith(k) for k in CLI_LAZY_OK):
            continue
        if any(target.startswith(k) for k in MODE_LAZY_OK.get(rel, ())):
            continue
        if any(target.startswith(k) or names[-1].startswith(k) for k in PACKAGE_ATTRS.get(rel, ())):
            continue
        bad.append(f"{rel}:{line}: {text}")
    assert not bad, "imports inside functions that belong at the top of the module:\n" + "\n".join(bad)
