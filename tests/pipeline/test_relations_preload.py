"""``rapkit extract-relations`` loads the pixel matching's kernels in a thread while it reads
the JSON files of a large job: exactly the kernels and argument types the run then calls
(nothing compiled or loaded twice), no thread left, the same relations either way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

from rapkit.pipeline import relations as rel_mod
from rapkit.synth import SynthConfig, make_world


def test_the_preload_loads_what_the_run_calls_and_nothing_else(tmp_path):
    w = make_world(tmp_path / "w", SynthConfig(n_images=3, height=48, width=64, render_images=False))
    code = textwrap.dedent(
        f"""
        import gc, json, numba
        from rapkit.pipeline.relations import extract_dataset_relations, load_pixel_kernels

        def sigs():
            return sorted({{(o.py_func.__module__, o.__name__, str(s)) for o in gc.get_objects()
                            if isinstance(o, numba.core.registry.CPUDispatcher) for s in o.overloads}})

        load_pixel_kernels()
        pre = sigs()
        extract_dataset_relations({str(w.instances)!r}, {str(w.panoptic)!r}, workers=2)
        print(json.dumps([pre, sigs()]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    pre, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert pre == after and len(pre) >= 5


def test_a_large_job_loads_the_kernels_beside_the_json_and_gives_the_same_relations(tmp_path, monkeypatch):
    w = make_world(tmp_path / "w", SynthConfig(n_images=4, height=48, width=64, render_images=False))
    loads = []
    real = rel_mod.alongside

    def spy(fn, *a, **k):
        loads.append(fn)
        return real(fn, *a, **k)

    monkeypatch.setattr(rel_mod, "alongside", spy)
    before = threading.active_count()
    runs = []
    for size in (0, 1 << 40):
        monkeypatch.setattr(rel_mod, "PRELOAD_BYTES", size)
        out = tmp_path / f"rel{size}.json"
        rel_mod.extract_dataset_relations(w.instances, w.panoptic, workers=2, output=out)
        runs.append(out.read_bytes())
    assert loads[0] is rel_mod.load_pixel_kernels and loads[1] is None
    assert threading.active_count() == before
    assert runs[0] == runs[1] and json.loads(runs[0])
    monkeypatch.setattr(rel_mod, "PRELOAD_BYTES", 0)
    rel_mod.extract_dataset_relations(w.instances, w.panoptic, matching="bbox", workers=1)
    assert loads[-1] is None  # the authors' matching decodes with other kernels: nothing preloaded
