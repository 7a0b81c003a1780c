"""Shared fixtures of the command-line tests: a small synthetic world and a CLI runner."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A 4-image world (120 x 160, no JPEGs) written by the library."""
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("cliworld")
    return make_world(root / "world", SynthConfig(n_images=4, height=120, width=160, seed=2, render_images=False))


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args) -> (exit code, stdout, stderr)`` through :func:`rapkit.cli.main`."""
    from rapkit.cli import main

    monkeypatch.setenv("RAPKIT_PROGRESS", "0")

    def run(*args):
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in args])
        out = capsys.readouterr()
        return e.value.code, out.out, out.err

    return run
