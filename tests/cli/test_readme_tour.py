"""The README's tour runs verbatim on its small world.

Every bare ```` ``` ```` block under "## A short tour" is run with bash, as written, in a fresh
folder; the one declared change is the training length (``--iterations N`` -> ``TOUR_ITERATIONS``,
default 2). The tour builds its own checkpoint with the README's one-liner (a randomly
initialised torchvision Mask R-CNN, nothing downloaded). Also: no bracket syntax in any shell
block, and every output of the README's first command and of the tour is git-ignored (so
``git status`` stays clean).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def shell_blocks(section: str) -> list[str]:
    """Bare fenced blocks (no language tag: shell commands)."""
    return re.findall(r"^```\n(.*?)^```", section, re.DOTALL | re.MULTILINE)


def test_no_bracket_syntax_in_shell_blocks():
    for block in shell_blocks(README.read_text()):
        assert not re.search(r"\[--?\w", block), f"bracketed optional flags in a README command block:\n{block}"


def _ignored(path: str) -> bool:
    r = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", path], check=False)
    return r.returncode == 0


@pytest.fixture
def git_repo():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")


def test_first_command_leaves_git_status_clean(git_repo):
    first = shell_blocks(_section(README.read_text(), "## Set-up"))[0]
    out = re.search(r"rapkit demo -o (\S+)", first)
    assert out, first
    assert _ignored(out.group(1).rstrip("/") + "/")
    assert _ignored("rapkit.egg-info/")  # pip install -e .


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_tour_runs_verbatim(tmp_path, git_repo):
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    blocks = shell_blocks(_section(README.read_text(), "## A short tour"))
    assert len(blocks) >= 5
    iterations = os.environ.get("TOUR_ITERATIONS", "2")
    text = "\n".join(blocks)
    assert len(re.findall(r"--iterations \d+", text)) == 1
    assert "maskrcnn.pth" in text and "-o proposals.json" in text and "--proposals proposals.json" in text
    env = dict(os.environ, RAPKIT_PROGRESS="0")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for block in blocks:
        script = re.sub(r"--iterations \d+", f"--iterations {iterations}", block)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, check=False,
                           text=True, timeout=900)
        assert r.returncode == 0, f"README block failed ({r.returncode}):\n{block}\n--- stderr:\n{r.stderr[-3000:]}"
        if "rapkit check" in block:
            assert "no problems found" in r.stderr
    for name in ("world", "relations.json", "maskrcnn.pth", "head.pt", "proposals.json", "fused", "sweep.csv"):
        assert (tmp_path / name).exists(), name
    # every output the tour leaves in the working folder is git-ignored
    for p in tmp_path.iterdir():
        assert _ignored(p.name + ("/" if p.is_dir() else "")), f"{p.name} is not in .gitignore"
