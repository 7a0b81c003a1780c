"""Docs that run: every shell block of README.md and docs/*.md, and every examples/*.sh, runs
on a small synthetic world, and the test fails when a documented command breaks.

**Which fences run.** A fenced block whose info string is empty, ``bash``, ``sh``, ``shell``
or ``console`` is a shell block (in a ``console`` block only the ``$ `` lines, with their
``\\`` continuations, are commands; the other lines are output). Any other info string is not
run: ``python``, ``json``, ``toml``, and ``text`` for output samples, usage synopses with
``[optional]`` brackets and folder layouts. Indented code blocks are not extracted. A shell block whose first line is
``# not run: <reason>`` is not run; the reason is required and printed. Nothing else is
skipped. The convention is documented in docs/architecture.md ("Docs that run").

**How a file runs.** Each file gets a fresh working folder; its shell blocks run in order
with ``bash -euo pipefail`` in that folder (a later block sees what earlier ones wrote), an
``examples/*.sh`` script as one block with :data:`SCRIPT_ENV` in its environment. Before the
first block the folder holds :data:`FILES` and nothing else; the commands are changed only by
:data:`SUBSTITUTIONS`. Those two tables are the declared placeholders, the only things this
test provides or changes:

* the COCO layout (``coco/annotations/instances_val2017.json``, ``panoptic_val2017.json`` +
  ``panoptic_val2017/``, ``val2017/``, the same for train2017, and beside ``coco/`` a detector's
  dumped results ``detections_val2017.json`` and semantic PNGs ``semantic_val2017/``), each a copy
  of a file or folder of one small synthetic world (:data:`WORLD`, built once per session
  with ``rapkit.synth``);
* the detector checkpoint ``model.pth`` / ``maskrcnn.pth``: the session's test detector
  (tests/conftest.py), a randomly initialised resnet18_fpn Mask R-CNN with COCO's 91 classes,
  the layout of the README's one-liner (the README's own run executes that one-liner, whose
  block must exist); ``rapkit train`` gets that checkpoint's layout, the world's image size,
  a small batch and ``--iterations 2`` as leading options (a block's own options win);
* ``--iterations N`` becomes ``--iterations 2`` (``TOUR_ITERATIONS`` overrides).

Also checked (from the README's tour, folded in here): no ``[--option]`` bracket syntax in a
shell block, the README's first command and every output of its tour are git-ignored, the
tour leaves its files and ``rapkit check`` finds no problems. And (examples/coco_workflow.sh
runs only here): the script leaves every output it names, one per-image row per val image
and every kind of picture, and prints the PQ table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COCO_WORKFLOW = ROOT / "examples" / "coco_workflow.sh"

#: fence info strings that mark a shell block
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
NOT_RUN = re.compile(r"#\s*not run:\s*(.*)")

#: the small world behind every COCO placeholder (rapkit.synth.SynthConfig fields)
WORLD = dict(n_images=6, height=100, width=140, seed=2, render_images=True)
ITERATIONS = os.environ.get("TOUR_ITERATIONS", "2")

#: working-folder path -> what it holds (a WorldPaths field, or "checkpoint")
FILES = {
    "coco/annotations/instances_val2017.json": "instances",
    "coco/annotations/panoptic_val2017.json": "panoptic",
    "coco/annotations/panoptic_val2017": "panoptic_dir",
    "coco/val2017": "images_dir",
    "coco/annotations/instances_train2017.json": "instances",
    "coco/annotations/panoptic_train2017.json": "panoptic",
    "coco/annotations/panoptic_train2017": "panoptic_dir",
    "coco/train2017": "images_dir",
    "detections_val2017.json": "proposals",  # a detector's dumped COCO results (simulated, with relation values)
    "semantic_val2017": "semantic",  # semantic PNG label maps of the val images
    "model.pth": "checkpoint",
    "maskrcnn.pth": "checkpoint",
}

#: (pattern, replacement, why): the only edits made to a documented command
SUBSTITUTIONS = [
    (r"--iterations \d+", f"--iterations {ITERATIONS}", "short training"),
    (
        r"\brapkit train\b",
        f"rapkit train --arch resnet18_fpn --min-size {WORLD['height']} "
        f"--max-size {WORLD['width']} --batch-size 2 --iterations {ITERATIONS}",
        "the test checkpoint's layout, the world's size, a short training (the block's own options win)",
    ),
]

#: environment of examples/*.sh (their paths and sizes come from variables)
SCRIPT_ENV = {
    "COCO": "coco",
    "VAL_DETECTIONS": "detections_val2017.json",
    "VAL_SEMANTIC": "semantic_val2017",
    "DETECTOR": "model.pth",
    "ARCH": "resnet18_fpn",
    "MIN_SIZE": str(WORLD["height"]),
    "MAX_SIZE": str(WORLD["width"]),
    "ITERATIONS": ITERATIONS,
    "BATCH_SIZE": "2",
    "STUFF_AREA": "64",
    "PICTURES": "2",
}


# --------------------------------------------------------------------------- extraction


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence (1 for a script)
    fence: str
    text: str

    @property
    def excluded(self) -> str | None:
        """The reason of a ``# not run:`` first line, else None."""
        first = self.text.lstrip("\n").split("\n", 1)[0].strip()
        m = NOT_RUN.fullmatch(first)
        return m.group(1).strip() if m else None

    @property
    def script(self) -> str:
        """The commands (the ``$`` lines of a console block)."""
        if self.fence != "console":
            return self.text
        out, cont = [], False
        for line in self.text.splitlines():
            if line.startswith("$ ") or cont:
                out.append(line[2:] if line.startswith("$ ") and not cont else line)
                cont = line.rstrip().endswith("\\")
        return "\n".join(out) + "\n"

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


FENCE = re.compile(r"^(```+|~~~+)[ \t]*([^\n`]*)$")


def blocks_of(path: Path) -> list[Block]:
    """Every fenced block of a markdown file (any info string), or a script as one block."""
    text = path.read_text()
    if path.suffix == ".sh":
        return [Block(path, 1, "sh", text)]
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        close = re.compile(rf"^{re.escape(m.group(1)[0])}{{{len(m.group(1))},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        assert j < len(lines), f"{path.name}:{i + 1}: unclosed code fence"
        info = m.group(2).strip().split()
        blocks.append(Block(path, i + 1, info[0].lower() if info else "", "\n".join(lines[i + 1 : j]) + "\n"))
        i = j + 1
    return blocks


def shell_blocks(path: Path) -> list[Block]:
    return [b for b in blocks_of(path) if b.fence in SHELL_FENCES]


def doc_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*.sh"))]


def substitute(script: str) -> str:
    for pattern, repl, _why in SUBSTITUTIONS:
        script = re.sub(pattern, repl, script)
    return script


# --------------------------------------------------------------------------- fast checks


def test_extraction_rules(tmp_path):
    md = tmp_path / "x.md"
    md.write_text(
        "a\n```\nrapkit a\n```\n```python\nx = 1\n```\n```text\nout\n```\n````bash\n# not run: slow\n"
        "rapkit b\n````\n```console\n$ rapkit c \\\n    --d\noutput line\n$ rapkit e\n```\n"
    )
    got = shell_blocks(md)
    assert [(b.line, b.fence) for b in got] == [(2, ""), (11, "bash"), (15, "console")]
    assert got[1].excluded == "slow" and got[0].excluded is None
    assert got[2].script == "rapkit c \\\n    --d\nrapkit e\n"
    assert substitute("rapkit train --iterations 5000 -o h.pt") == (
        f"rapkit train --arch resnet18_fpn --min-size 100 --max-size 140 --batch-size 2 --iterations {ITERATIONS} "
        f"--iterations {ITERATIONS} -o h.pt"
    )


def test_shell_blocks_are_well_formed():
    """No bracket syntax in a shell block (use a ``text`` fence for synopses), and every
    ``# not run:`` carries a reason."""
    for path in doc_files():
        for b in shell_blocks(path):
            if b.excluded is not None:
                assert b.excluded, f"{b.where()}: '# not run:' needs a reason"
                continue
            assert not re.search(r"\[--?\w", b.script), f"{b.where()}: bracketed optional flags in a shell block"


def _ignored(path: str) -> bool:
    r = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", path], check=False)
    return r.returncode == 0


@pytest.fixture
def git_repo():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def test_readme_first_command_leaves_git_status_clean(git_repo):
    setup = _section(README.read_text(), "## Set-up")
    first = re.search(r"^```\w*\n(.*?)^```", setup, re.DOTALL | re.MULTILINE).group(1)
    out = re.search(r"rapkit demo -o (\S+)", first)
    assert out, first
    assert _ignored(out.group(1).rstrip("/") + "/")
    assert _ignored("rapkit.egg-info/")  # pip install -e .


# --------------------------------------------------------------------------- running


def _env() -> dict[str, str]:
    env = dict(os.environ, RAPKIT_PROGRESS="0", RAPKIT_FSYNC="0", OMP_NUM_THREADS="1")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def _run(script: str, cwd: Path, where: str, env: dict[str, str] | None = None, args=("-c",)):
    r = subprocess.run(
        ["bash", "-euo", "pipefail", *args, script] if args else ["bash", script],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert r.returncode == 0, (
        f"documented command failed (exit {r.returncode}) at {where}:\n{script}"
        f"\n--- stdout:\n{r.stdout[-2000:]}\n--- stderr:\n{r.stderr[-3000:]}"
    )
    return r


def _checkpoint_block() -> Block:
    found = [b for b in shell_blocks(README) if "torch.save(" in b.text and "maskrcnn.pth" in b.text]
    assert len(found) == 1, "README.md: one block must save maskrcnn.pth (the docs' test checkpoint)"
    return found[0]


@pytest.fixture(scope="session")
def checkpoint(test_detector) -> Path:
    """The session's test detector (tests/conftest.py), in the README one-liner's layout (a
    resnet18_fpn state dict with 91 classes); the README's run executes the one-liner itself."""
    _checkpoint_block()  # the README still has the one block that saves maskrcnn.pth
    assert (test_detector.arch, test_detector.num_classes) == ("resnet18_fpn", 91)
    return test_detector.path


@pytest.fixture(scope="session")
def docs_world(synth_world):
    return synth_world(**WORLD)


def _needs_torch(blocks: list[Block]) -> bool:
    return any(re.search(r"rapkit (train|predict)|import torch|DETECTOR", b.script) for b in blocks)


def _place(dest: Path, world, request, torch: bool) -> set[str]:
    """Copy the placeholders into a fresh working folder (the checkpoints only when a block
    needs torch); return the top-level names."""
    for rel, what in FILES.items():
        if what == "checkpoint" and not torch:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        src = request.getfixturevalue("checkpoint") if what == "checkpoint" else getattr(world, what)
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy(src, target)
    return {rel.split("/", 1)[0] for rel in FILES}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_run(path: Path, tmp_path, docs_world, request, capsys, git_repo):
    blocks = shell_blocks(path)
    runnable = [b for b in blocks if b.excluded is None]
    excluded = [b for b in blocks if b.excluded is not None]
    torch = _needs_torch(runnable)
    if torch:
        pytest.importorskip("torch")
        pytest.importorskip("torchvision")
    placed = _place(tmp_path, docs_world, request, torch) if runnable else set()
    runs = {}
    for b in runnable:
        if path.suffix == ".sh":
            env = _env()
            env.update(SCRIPT_ENV)
            runs[b.line] = _run(str(path), tmp_path, b.where(), env=env, args=())
        else:
            runs[b.line] = _run(substitute(b.script), tmp_path, b.where())
    with capsys.disabled():
        name = path.relative_to(ROOT)
        print(f"\ndocs-run: {name}: {len(runnable)} block(s) ran, {len(excluded)} not run")
        for b in excluded:
            print(f"docs-run:   not run {b.where()}: {b.excluded}")
    if path == README:
        _check_readme_tour(tmp_path, placed, {line: r.stderr for line, r in runs.items()})
    if path == COCO_WORKFLOW:
        _check_coco_workflow(tmp_path, runs[1].stdout)


def _check_readme_tour(folder: Path, placed: set[str], stderr: dict[int, str]) -> None:
    """The assertions of the README's tour: its files exist, `rapkit check` is clean, and every
    output it leaves in the working folder is git-ignored (so `git status` stays clean)."""
    text = README.read_text()
    tour = _section(text, "## A short tour")
    offset = text[: text.index(tour)].count("\n")
    tour_blocks = [b for b in shell_blocks(README) if b.line > offset and b.line <= offset + tour.count("\n")]
    assert len(tour_blocks) >= 5 and all(b.excluded is None for b in tour_blocks)
    joined = "\n".join(b.text for b in tour_blocks)
    assert len(re.findall(r"--iterations \d+", joined)) == 1
    assert "maskrcnn.pth" in joined and "-o proposals.json" in joined and "--proposals proposals.json" in joined
    for b in tour_blocks:
        if "rapkit check" in b.text:
            assert "no problems found" in stderr[b.line]
    for name in ("world", "relations.json", "maskrcnn.pth", "head.pt", "proposals.json", "fused", "sweep.csv"):
        assert (folder / name).exists(), name
    for p in folder.iterdir():
        if p.name not in placed:
            assert _ignored(p.name + ("/" if p.is_dir() else "")), f"{p.name} is not in .gitignore"


def _check_coco_workflow(folder: Path, stdout: str) -> None:
    """The assertions of examples/coco_workflow.sh (run with the COCO layout and
    :data:`SCRIPT_ENV`, so its paths come from the defaults it derives from ``COCO``): every
    output file, one per-image row per val image, every kind of picture, the PQ table."""
    out = folder / "rap-out"  # the script's default OUT
    for name in (
        "relations_train.json",
        "head.pt",
        "proposals_val.json",
        "heuristic/panoptic.json",
        "rap/panoptic.json",
        "per_image.csv",
        "relation_gap.csv",
        "sweep.csv",
        "ablation.csv",
    ):
        assert (out / name).exists(), name
    rows = [ln for ln in (out / "per_image.csv").read_text().splitlines() if ln.startswith("per_image,")]
    assert len(rows) == WORLD["n_images"]
    for kind in ("compare", "overlay", "relations"):
        assert list((out / "pictures" / kind).glob("*.png")), kind
    assert "Panoptic quality" in stdout
