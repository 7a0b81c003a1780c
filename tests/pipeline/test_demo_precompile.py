"""``rapkit demo`` on a cold numba cache compiles its kernels in a background process (tiny
synth, fuse, evaluate and demo commands); on a warm cache, with ``precompile=False`` or under ``RAPKIT_PRECOMPILE=0`` it starts
nothing, and the child never outlives the demo."""

from __future__ import annotations

import contextlib

from rapkit.cli import cli
from rapkit.kernels import background
from rapkit.pipeline import demo


def test_precompile_commands_run_and_cover_the_demo(tmp_path):
    """The background commands, run as the child runs them, succeed in order (each reads
    what the one before wrote) and end with a tiny demo."""
    from rapkit.cli import main

    cmds = [[a.replace("{tmp}", str(tmp_path)) for a in c] for c in demo.PRECOMPILE_COMMANDS]
    assert [c[0] for c in cmds] == ["synth", "fuse", "evaluate", "demo"]
    for argv in cmds:
        try:
            main(argv)
        except SystemExit as e:
            assert e.code == 0, argv
    assert (tmp_path / "fused" / "panoptic.json").is_file() and (tmp_path / "demo").is_dir()
    ctx = cli.get_command(None, "demo").make_context("demo", cmds[-1][1:])
    p = ctx.params
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
    assert argv == demo.PRECOMPILE_COMMANDS
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
