"""Shared test fixtures: the COCO sample (tests/data/), panoptic dataset writers, the
panopticapi oracle (its own single-core loop), and the synthetic-world builders.

Test modules get these through fixtures and never import from one another. Folder
conftests add what only their tests use (``tests/cli/conftest.py``: the CLI runner).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import os
import pkgutil
import random
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "panopticapi_sample"

#: a small category set for hand-built panoptic datasets (three things, two stuff)
TOY_CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 3, "name": "car", "isthing": 1},
    {"id": 7, "name": "dog", "isthing": 1},
    {"id": 100, "name": "sky", "isthing": 0},
    {"id": 101, "name": "road", "isthing": 0},
]


# --------------------------------------------------------------------------- the PQ oracle


def panopticapi_one_process(gt_json: Path, pred_json: Path, gt_dir: Path | None = None, pred_dir: Path | None = None):
    """panopticapi's ``pq_compute`` with a single process: its own single-core loop over
    all images, accumulated into a fresh PQStat exactly as ``pq_compute_multi_core`` does.
    A split whose ``pq_average`` divides by zero comes back as None."""
    from panopticapi.evaluation import PQStat, pq_compute_single_core

    gt = json.loads(Path(gt_json).read_text())
    pred = json.loads(Path(pred_json).read_text())
    gt_dir = str(gt_dir or str(gt_json).replace(".json", ""))
    pred_dir = str(pred_dir or str(pred_json).replace(".json", ""))
    categories = {el["id"]: el for el in gt["categories"]}
    preds = {el["image_id"]: el for el in pred["annotations"]}
    matched = [(g, preds[g["image_id"]]) for g in gt["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        part = pq_compute_single_core(0, matched, gt_dir, pred_dir, categories)
    total = PQStat()
    total += part
    results = {}
    for name, isthing in [("All", None), ("Things", True), ("Stuff", False)]:
        try:
            results[name], per_class = total.pq_average(categories, isthing=isthing)
        except ZeroDivisionError:
            results[name], per_class = None, None
        if name == "All":
            results["per_class"] = per_class
    return results


def assert_same_pq(ours: dict, theirs: dict) -> None:
    """Every PQ/SQ/RQ/N of All/Things/Stuff and every class ``==`` (NaN where panopticapi divides by zero)."""
    for name in ("All", "Things", "Stuff"):
        if theirs[name] is None:  # panopticapi: ZeroDivisionError; rapkit: n = 0, NaN
            assert ours[name]["n"] == 0 and math.isnan(ours[name]["pq"]), name
            continue
        for k in ("pq", "sq", "rq", "n"):
            assert ours[name][k] == theirs[name][k], (name, k, ours[name][k], theirs[name][k])
    if theirs["per_class"] is not None:
        assert list(ours["per_class"]) == list(theirs["per_class"])
        for cid, v in theirs["per_class"].items():
            for k in ("pq", "sq", "rq"):
                assert ours["per_class"][cid][k] == v[k], (cid, k)


# --------------------------------------------------------------------------- dataset writers


def write_panoptic_dataset(root: Path, name: str, images: list[dict], categories: list[dict]) -> Path:
    """images: [{image_id, id_map, segments: [{id, category_id, iscrowd, area?}]}] -> JSON + PNGs."""
    from PIL import Image

    from rapkit.io.panoptic import id2rgb

    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    anns, infos = [], []
    for im in images:
        fn = f"{im['image_id']:012d}.png"
        Image.fromarray(id2rgb(im["id_map"]), "RGB").save(d / fn)
        h, w = im["id_map"].shape
        infos.append({"id": im["image_id"], "file_name": fn.replace(".png", ".jpg"), "height": h, "width": w})
        segs = []
        for s in im["segments"]:
            area = s["area"] if "area" in s else int((im["id_map"] == s["id"]).sum())
            segs.append(
                {
                    "id": s["id"],
                    "category_id": s["category_id"],
                    "iscrowd": s.get("iscrowd", 0),
                    "area": area,
                    "bbox": [0, 0, 1, 1],
                }
            )
        anns.append({"image_id": im["image_id"], "file_name": fn, "segments_info": segs})
    p = root / f"{name}.json"
    p.write_text(json.dumps({"images": infos, "annotations": anns, "categories": categories}))
    return p


def perturbed_predictions(tmp_path: Path, seed: int) -> Path:
    """Predictions made from the COCO sample GT: merged, eroded, dropped, relabelled,
    shifted, invented segments."""
    from rapkit.io.panoptic import read_id_map

    rng = random.Random(seed)
    gt = json.loads((SAMPLE / "panoptic_examples.json").read_text())
    cats = gt["categories"]
    cat_ids = [c["id"] for c in cats]
    images = []
    for ann in gt["annotations"]:
        m = read_id_map(SAMPLE / "panoptic_examples" / ann["file_name"]).copy()
        segs = {s["id"]: dict(s) for s in ann["segments_info"]}
        for sid in sorted(segs):
            r = rng.random()
            mask = m == sid
            if r < 0.15:  # dropped (VOID)
                m[mask] = 0
                del segs[sid]
            elif r < 0.3:  # relabelled
                segs[sid]["category_id"] = rng.choice(cat_ids)
            elif r < 0.45:  # eroded: lose a band of rows
                ys = np.nonzero(mask.any(1))[0]
                cut = ys[: max(1, len(ys) // rng.choice([2, 3, 5]))]
                mm = mask.copy()
                mm[~np.isin(np.arange(m.shape[0]), cut)] = False
                m[mm] = 0
            elif r < 0.55:  # shifted right
                k = rng.choice([3, 20, 60])
                sh = np.zeros_like(mask)
                sh[:, k:] = mask[:, :-k]
                m[mask] = 0
                m[sh] = sid
        # merge two segments of the same category when possible
        by_cat: dict[int, list[int]] = {}
        for sid, s in segs.items():
            by_cat.setdefault(s["category_id"], []).append(sid)
        for sids in by_cat.values():
            if len(sids) >= 2 and rng.random() < 0.7:
                m[m == sids[1]] = sids[0]
                break
        # invent a few segments with fresh ids (unmatched predictions, some over VOID/crowd)
        h, w = m.shape
        for k in range(3):
            y, x = rng.randrange(h - 40), rng.randrange(w - 40)
            new = 5_000_000 + 17 * k + seed
            m[y : y + rng.choice([2, 15, 40]), x : x + rng.choice([3, 25, 40])] = new
            segs[new] = {"id": new, "category_id": rng.choice(cat_ids), "iscrowd": 0}
        present = set(np.unique(m).tolist())
        seg_list = [s for sid, s in segs.items() if sid in present]
        rng.shuffle(seg_list)  # JSON order must not matter for predictions
        images.append({"image_id": ann["image_id"], "id_map": m, "segments": seg_list})
    return write_panoptic_dataset(tmp_path, f"pred{seed}", images, cats)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def coco_sample() -> Path:
    """``tests/data/panopticapi_sample`` (COCO val2017 panoptic GT of two images; provenance in tests/data/README.md)."""
    assert SAMPLE.is_dir(), f"{SAMPLE} is missing"
    return SAMPLE


@pytest.fixture(scope="session")
def pq_kit() -> SimpleNamespace:
    """The panopticapi oracle and the panoptic dataset builders, as one namespace:
    ``oracle(gt_json, pred_json)``, ``assert_same(ours, theirs)``,
    ``write_dataset(root, name, images, categories)``, ``perturbed(tmp_path, seed)``,
    ``categories`` (:data:`TOY_CATEGORIES`), ``sample`` (the COCO sample folder)."""
    return SimpleNamespace(
        oracle=panopticapi_one_process,
        assert_same=assert_same_pq,
        write_dataset=write_panoptic_dataset,
        perturbed=perturbed_predictions,
        categories=TOY_CATEGORIES,
        sample=SAMPLE,
    )


@pytest.fixture(scope="session")
def pq_bench(tmp_path_factory):
    """``pq_bench(n, height=48, width=64, seed=0) -> (gt_json, pred_json)``: the PQ bench of
    benchmarks/evaluate.py (COCO-like panoptic pairs cut from the COCO sample, crowd and VOID
    included, written by Pillow with its adaptive filters), small; made once per configuration."""
    import importlib.util

    made: dict[tuple, tuple[Path, Path]] = {}

    def build(n: int, height: int = 48, width: int = 64, seed: int = 0) -> tuple[Path, Path]:
        key = (n, height, width, seed)
        if key not in made:
            spec = importlib.util.spec_from_file_location("_pq_bench", REPO / "benchmarks" / "evaluate.py")
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)  # a private copy: its image size is set here only
            mod.H, mod.W = height, width
            made[key] = mod.generate_coco(tmp_path_factory.mktemp("pqbench"), n, seed=seed, sample=SAMPLE)
        return made[key]

    return build


@pytest.fixture(scope="session")
def scene_kit() -> SimpleNamespace:
    """The plain scene builders of tests/builders.py (``rect``, ``props``, ``inst``), for
    tests that build their scenes inside the test."""
    import builders

    return SimpleNamespace(rect=builders.rect, props=builders.props, inst=builders.inst)


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory):
    """``synth_world(n_images=5, height=100, width=140, seed=2, **config) -> WorldPaths``: a
    synthetic world written by the library (no JPEGs unless ``render_images=True``), made
    once per distinct configuration in the session."""
    from rapkit.synth import SynthConfig, make_world

    made: dict[tuple, object] = {}

    def build(n_images: int = 5, height: int = 100, width: int = 140, seed: int = 2, **config):
        key = (n_images, height, width, seed, tuple(sorted(config.items())))
        if key not in made:
            config.setdefault("render_images", False)
            root = tmp_path_factory.mktemp("world")
            made[key] = make_world(
                root / "w", SynthConfig(n_images=n_images, height=height, width=width, seed=seed, **config)
            )
        return made[key]

    return build


@pytest.fixture(scope="session")
def test_detector(tmp_path_factory) -> SimpleNamespace:
    """The session's one test detector, built once for every test that needs a checkpoint: a
    randomly initialised ResNet-18-FPN Mask R-CNN with COCO's 91 classes, the layout of the
    README's one-liner (``torch.manual_seed(0)`` before the build; nothing downloaded), saved
    twice as a state dict:

    * ``path``: as built. Its random box classifier finds next to nothing above the default
      score threshold (what the docs' commands meet);
    * ``detecting_path``: the same weights with the box classifier's bias nudged so that the
      detector detects: background unlikely, the synthetic world's first thing category
      (``cup``, COCO id ``category_id`` = 47) likely. The backbone, RPN and mask branch,
      everything the relation head reads, are the build's.

    Also ``arch`` (``"resnet18_fpn"``) and ``num_classes`` (91). A checkpoint holds no image
    size: a test passes its world's ``min_size``/``max_size`` when it loads one. Skips
    without the ``train`` extra (torch, torchvision)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from rapkit.model.detector import build_detector, save_detector_checkpoint
    from rapkit.synth import categories

    cup = categories()[0].id
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        det = build_detector("resnet18_fpn", 91)
    finally:
        torch.random.set_rng_state(state)  # a session fixture leaves the global RNG as it found it
    d = tmp_path_factory.mktemp("detector")
    path = save_detector_checkpoint(det, d / "maskrcnn.pth")
    with torch.no_grad():
        det.roi_heads.box_predictor.cls_score.bias[0] = -10.0
        det.roi_heads.box_predictor.cls_score.bias[cup] = 8.0
    detecting = save_detector_checkpoint(det, d / "detecting.pth")
    return SimpleNamespace(path=path, detecting_path=detecting, arch="resnet18_fpn", num_classes=91, category_id=cup)


# --------------------------------------------------------------------------- settings


@pytest.fixture(autouse=True)
def _fresh_settings():
    """rapkit reads its ``RAPKIT_*`` settings once per process (rapkit._runtime.settings):
    every test starts from the environment as it is."""
    from rapkit._runtime import settings

    settings.reload()
    yield
    settings.reload()


@pytest.fixture
def monkeypatch(monkeypatch):
    """pytest's ``monkeypatch``, whose ``setenv``/``delenv`` also reach rapkit's settings
    (read once per process otherwise)."""
    from rapkit._runtime import settings

    setenv, delenv = monkeypatch.setenv, monkeypatch.delenv

    def _setenv(*a, **kw):
        setenv(*a, **kw)
        settings.reload()

    def _delenv(*a, **kw):
        delenv(*a, **kw)
        settings.reload()

    monkeypatch.setenv, monkeypatch.delenv = _setenv, _delenv
    return monkeypatch


# --------------------------------------------------------------------------- the fast tier touches every module
#
# ``python -m pytest -m "not slow"`` is the edit loop, and it must exercise every module of
# rapkit/. When a run is exactly that (the marker expression ``not slow`` over the whole
# tests/ folder; no -k, --deselect, --lf or node ids), a trace function records, from the
# first test on, which of rapkit's files run Python code (threads included), and
# tests/test_fast_tier.py, moved to the end of the run, fails naming every module that no
# fast test exercised. What counts for a module:
#   * a function, method, lambda or class body of its file ran during a test (setup, call
#     or teardown: a fixture is part of the tests that request it). A call made directly
#     from this conftest (the autouse settings fixture, the shared builders) does not count
#     for the callee's module, only what that call runs further;
#   * or one of its numba kernels was called from Python (numba's dispatcher resolved a new
#     signature: compiled, or loaded from the cache) during a test;
#   * or, for a module without any function (a package ``__init__``, a re-export, a
#     ``__main__``), its code ran during a test (``runpy``), a fast test module imports it by
#     name, or it is a package holding an exercised module.
# An import alone does not count: collection imports every module (the doctests of rapkit/,
# and test modules whose tests are all slow), and nothing that runs while a module of
# rapkit executes its own code (an import during a test) is counted. Code run in a child
# process is not seen.
# Tracing stops once every module with a function has run, and at the latest before the
# check's own setup, so that the check sees nothing it does itself; it reads the package
# from the file system (nothing imported) and needs at least MIN_MODULES modules. Tracing
# makes Python code about twice as slow; it pauses while numba compiles a kernel (numba's
# own code, the bulk of a cold run's compile time).

FAST_TIER_MARKEXPR = "not slow"
FAST_TIER_CHECK = "tests/test_fast_tier.py::test_the_fast_tier_exercises_every_module"
CONFTEST = __file__  # the co_filename of this module's code


class FastTierRecord:
    """What a whole fast-tier run exercised of rapkit (see the section comment above)."""

    def __init__(self) -> None:
        self.active = False  # this run is the whole fast tier
        self.why_not = "not a whole fast-tier run"
        self.modules: dict[str, Path] = {}  # every module of rapkit/ -> its real path
        self.seen: set[str] = set()  # co_filename of every code that ran (conftest's direct calls aside)
        self.kernels: set[str] = set()  # real paths of the modules whose numba kernels were called
        self.pending: set[str] = set()  # real paths of the modules with a function, not yet run
        self.files: set[str] = set()  # real paths of every module of rapkit/
        self.bare: set[str] = set()  # real paths of the modules without a function
        self.bare_ran: set[str] = set()  # ... whose own code ran during a test
        self.importing = 0  # rapkit modules running their own code now (any thread: counts nothing then)
        self.test_files: set[Path] = set()  # the test modules with a selected test
        self.started = self.stopped = False
        self.replaced: object = None  # a trace function found in place of ours when stopping
        self.current = ""  # the test running now
        self.stopped_in = ""  # the test during which tracing stopped
        self.verdict = ""  # the check's one-line result, for the terminal summary
        self.local = threading.local()  # per thread: the depth of numba compiles, and whether tracing paused
        self.listener: object = None  # the numba compile listener while tracing

    # -- tracing
    def trace(self, frame, event, arg):
        if self.stopped:  # another thread, after the stop: untraced from now on
            sys.settrace(None)
            return None
        code = frame.f_code
        name = code.co_name
        if name == "<module>":
            real = os.path.realpath(code.co_filename)
            if real in self.files:  # a module of rapkit runs its own code: an import (or runpy)
                self.importing += 1
                if real in self.bare:
                    self.bare_ran.add(real)
                return self._module_code
        if self.importing:
            return None
        if name == "_compile_for_args":  # numba: a kernel called from Python, new signature
            py_func = getattr(frame.f_locals.get("self"), "py_func", None)
            if py_func is not None:
                self._ran(os.path.realpath(py_func.__code__.co_filename), self.kernels)
        f = code.co_filename
        if f not in self.seen:
            back = frame.f_back
            if back is not None and back.f_code.co_filename == CONFTEST:
                return None  # called directly from this conftest: not a test's own use
            self.seen.add(f)
            self._ran(os.path.realpath(f), None)
        return None

    def _module_code(self, frame, event, arg):
        """The local trace function of a rapkit module's own code: counts its end."""
        if event == "return":
            self.importing -= 1
        return self._module_code

    def _ran(self, real: str, into: set[str] | None) -> None:
        if into is not None:
            into.add(real)
        if real in self.pending:
            self.pending.discard(real)
            if not self.pending:
                self.stop()

    def _ours(self) -> bool:
        return getattr(sys.gettrace(), "__self__", None) is self

    def compile_started(self) -> None:
        """numba begins to compile a kernel (in this thread): tracing pauses until it is done."""
        depth = getattr(self.local, "depth", 0)
        self.local.depth = depth + 1
        if depth == 0 and self._ours():
            self.local.paused = True
            sys.settrace(None)

    def compile_ended(self) -> None:
        self.local.depth -= 1
        if self.local.depth == 0 and getattr(self.local, "paused", False):
            self.local.paused = False
            if not self.stopped:
                sys.settrace(self.trace)

    def start(self) -> None:
        from numba.core import event

        record = self

        class _Compiles(event.Listener):
            def on_start(self, ev):
                record.compile_started()

            def on_end(self, ev):
                record.compile_ended()

        self.listener = _Compiles()
        event.register("numba:compile", self.listener)
        self.started = True
        threading.settrace(self.trace)
        sys.settrace(self.trace)

    def stop(self) -> None:
        if self.stopped or not self.started:
            return
        current = sys.gettrace()
        if current is not None and not self._ours():
            self.replaced = current
        self.stopped = True
        self.stopped_in = self.current
        threading.settrace(None)  # type: ignore[arg-type]
        sys.settrace(None)
        from numba.core import event

        event.unregister("numba:compile", self.listener)

    # -- the verdict
    def exercised(self) -> set[str]:
        """Names of the modules that count as exercised."""
        ran = {os.path.realpath(f) for f in self.seen} | self.kernels | self.bare_ran
        done = {name for name, path in self.modules.items() if str(path) in ran}
        imported = _imported_names(self.test_files)
        bare = {name for name, path in self.modules.items() if str(path) in self.bare}
        while True:  # until no more function-less module counts (a package of packages)
            more = {
                name
                for name in bare - done
                if name in imported
                or (self.modules[name].name == "__init__.py" and any(m.startswith(name + ".") for m in done))
            }
            if not more:
                return done
            done |= more


def _rapkit_modules() -> dict[str, Path]:
    """Every module of the rapkit package beside these tests, found on the file system
    (nothing imported): name -> real path."""
    found = {"rapkit": (REPO / "rapkit" / "__init__.py").resolve()}

    def walk(folder: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(folder)]):
            name = prefix + info.name
            if info.ispkg:
                found[name] = (folder / info.name / "__init__.py").resolve()
                walk(folder / info.name, name + ".")
            else:
                found[name] = (folder / f"{info.name}.py").resolve()

    walk(REPO / "rapkit", "rapkit.")
    return found


def _has_functions(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) for n in ast.walk(tree))


def _imported_names(files: set[Path]) -> set[str]:
    """Every ``rapkit...`` name that an import statement of these files names (``from a.b
    import c`` names ``a.b`` and ``a.b.c``), with its parent packages."""
    names: set[str] = set()
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    out = set()
    for n in names:
        parts = n.split(".")
        if parts[0] == "rapkit":
            out.update(".".join(parts[: k + 1]) for k in range(len(parts)))
    return out


_FAST_TIER = FastTierRecord()


def _whole_fast_tier(config) -> str | None:
    """None when this run is ``python -m pytest -m "not slow"`` over the whole tests/ folder,
    else why not."""
    if " ".join((config.option.markexpr or "").split()) != FAST_TIER_MARKEXPR:
        return f'the marker expression is not "{FAST_TIER_MARKEXPR}"'
    if any(config.getoption(name, None) for name in ("keyword", "deselect", "lf", "stepwise")):
        return "tests were selected with -k, --deselect, --lf or --sw"
    where = config.invocation_params.dir
    paths = set()
    for a in config.args:
        if "::" in a:
            return "tests were selected by node id"
        paths.add((where / a).resolve())
    if REPO not in paths and REPO / "tests" not in paths:
        return "the run does not cover the whole tests/ folder"
    return None


def pytest_configure(config):
    why = _whole_fast_tier(config)
    if why is None:
        _FAST_TIER.active = True
        _FAST_TIER.modules = _rapkit_modules()
        _FAST_TIER.files = {str(p) for p in _FAST_TIER.modules.values()}
        _FAST_TIER.bare = {f for f in _FAST_TIER.files if not _has_functions(Path(f))}
        _FAST_TIER.pending = _FAST_TIER.files - _FAST_TIER.bare
    else:
        _FAST_TIER.why_not = why


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    if not _FAST_TIER.active:
        return
    check = [it for it in items if it.nodeid == FAST_TIER_CHECK]
    items[:] = [it for it in items if it.nodeid != FAST_TIER_CHECK] + check  # the check runs last
    _FAST_TIER.test_files = {Path(str(it.path)) for it in items if Path(str(it.path)).name.startswith("test_")}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    if _FAST_TIER.active and not session.config.option.collectonly:
        _FAST_TIER.start()
    try:
        yield
    finally:
        _FAST_TIER.stop()


def pytest_runtest_logstart(nodeid, location):
    _FAST_TIER.current = nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.nodeid == FAST_TIER_CHECK:
        _FAST_TIER.stop()  # the check's own setup and call are not recorded


def pytest_terminal_summary(terminalreporter):
    if _FAST_TIER.verdict:
        terminalreporter.write_line(f"fast tier: {_FAST_TIER.verdict}")


@pytest.fixture
def fast_tier_record() -> FastTierRecord:
    """What this run exercised of rapkit, when it is the whole fast tier (``.active``)."""
    return _FAST_TIER
