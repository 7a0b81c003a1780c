"""``rapkit demo`` on a cold numba cache compiles its kernels in a background process (a tiny
demo); on a warm cache, with ``precompile=False`` or under ``RAPKIT_PRECOMPILE=0`` it starts
nothing, and the child never outlives the demo."""

from __future__ import annotations

import contextlib

from rapkit.cli import cli
from rapkit.kernels import background
from rapkit.pipeline import demo


def test_precompile_command_is_a_valid_tiny_demo():
    cmd = cli.get_command(None, "demo")
    ctx = cmd.make_context("demo", [a.replace("{out}", "x") for a in demo.PRECOMPILE_ARGV[1:]])
    p = ctx.params
    assert demo.PRECOMPILE_ARGV[0] == "demo"
    assert (p["images"], p["height"], p["width"]) == (4, 64, 64)
    assert p["no_render"] is True and p["no_train"] is True and p["quiet"] is True


def test_demo_starts_the_background_compile_and_closes_it(tmp_path, monkeypatch):
    seen: list[tuple[list[str], list[str]]] = []
    closed: list[bool] = []

    class Handle:
        started = True

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            closed.append(True)

    def fake(argv, *, modules):
        seen.append((list(argv), [m.__name__ for m in modules]))
        assert not closed
        return Handle()

    monkeypatch.setattr(background, "precompile", fake)
    demo.run_demo(tmp_path / "d", images=3, height=48, width=64, render_images=False, train=False)
    assert len(seen) == 1 and closed == [True]
    argv, mods = seen[0]
    assert argv == demo.PRECOMPILE_ARGV
    assert {"rapkit.kernels.fusion", "rapkit.kernels.png", "rapkit.kernels.sweep"} <= set(mods)
    seen.clear()
    closed.clear()
    demo.run_demo(tmp_path / "e", images=3, height=48, width=64, render_images=False, train=False, precompile=False)
    assert seen == [] and closed == []


def test_nothing_starts_when_switched_off_or_cached(monkeypatch):
    assert isinstance(demo.start_precompile(False), contextlib.nullcontext)
    monkeypatch.setenv("RAPKIT_PRECOMPILE", "0")
    with demo.start_precompile(True) as h:
        assert h.started is False
    monkeypatch.delenv("RAPKIT_PRECOMPILE")
    monkeypatch.setattr(background, "all_cached", lambda modules: True)
    with demo.start_precompile(True) as h:
        assert h.started is False
