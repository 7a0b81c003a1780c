"""Hostile input: mutated proposals, panoptic, instances, categories and relations JSONs and
truncated / bit-flipped / reshaped PNGs fed to ``extract-relations``, ``fuse``, ``evaluate``
and ``check``. Every run must end with exit 0 or 3, never print a traceback, and never leave a
partial output or a temporary behind.

CI runs a fixed (derandomized) sequence, 120 cases per command, about a minute in all. Longer runs, random each time:
``RAPKIT_FUZZ_EXAMPLES=2000 RAPKIT_FUZZ_RANDOM=1 pytest tests/cli/test_fuzz.py`` or
``python tools/fuzz.py`` (see its ``--help``).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.cli import cli

EXAMPLES = int(os.environ.get("RAPKIT_FUZZ_EXAMPLES", "120"))
RANDOM = os.environ.get("RAPKIT_FUZZ_RANDOM", "0") not in ("0", "")
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


# --------------------------------------------------------------------------- the world


@pytest.fixture(scope="module", autouse=True)
def _no_fsync():
    """Throwaway outputs: skip fsync (atomicity is what is checked; tests/io/test_atomic_* cover
    durability), so a busy disk cannot stretch the run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAPKIT_FSYNC", "0")
        yield


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny synthetic world plus its fused prediction and its relations, copied per case."""
    from rapkit.synth import SynthConfig, make_world

    root = tmp_path_factory.mktemp("fuzz")
    w = make_world(
        root / "w", SynthConfig(n_images=2, height=40, width=48, seed=7, things_per_image=4, render_images=False)
    )
    r = CliRunner().invoke(cli, ["fuse", *_fuse_io(root / "w"), "-o", str(root / "w" / "pred"), "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        cli,
        [
            "extract-relations",
            "--instances",
            str(w.instances),
            "--panoptic",
            str(w.panoptic),
            "-o",
            str(root / "w" / "relations.json"),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    (root / "w" / "truth.json").unlink(missing_ok=True)
    return root / "w"


def _option(command: str, dest: str) -> str:
    import importlib

    cmd = importlib.import_module(f"rapkit.cli.{command}").command
    return next(p.opts[0] for p in cmd.params if p.name == dest)


def _fuse_io(w: Path) -> list[str]:
    return [
        "--proposals",
        str(w / "proposals.json"),
        _option("fuse", "images_path"),
        str(w / "instances.json"),
        "--categories",
        str(w / "categories.json"),
        "--semantic",
        str(w / "semantic"),
    ]


# target -> (the file to mutate (relative to the world), its kind)
TARGETS = {
    "fuse": ["proposals.json", "instances.json", "categories.json", "semantic/000000000001.png"],
    "extract-relations": ["instances.json", "panoptic.json", "panoptic/000000000002.png"],
    "evaluate": ["panoptic.json", "pred/panoptic.json", "pred/panoptic/000000000001.png", "panoptic/000000000001.png"],
    "relation-accuracy": ["relations.json", "proposals.json", "instances.json"],
    "check": ["panoptic.json", "pred/panoptic.json", "pred/panoptic/000000000002.png"],
}


def command_args(command: str, w: Path, out: Path) -> tuple[list[str], Path | None]:
    """argv of ``command`` on world ``w`` and the output it writes (under ``out``)."""
    if command == "fuse":
        return ["fuse", *_fuse_io(w), "-o", str(out / "fused")], out / "fused"
    if command == "extract-relations":
        return [
            "extract-relations",
            "--instances",
            str(w / "instances.json"),
            "--panoptic",
            str(w / "panoptic.json"),
            "-o",
            str(out / "rel.json"),
        ], out / "rel.json"
    if command == "evaluate":
        return [
            "evaluate",
            "--gt",
            str(w / "panoptic.json"),
            "--pred",
            str(w / "pred" / "panoptic.json"),
            "--per-class",
        ], None
    if command == "relation-accuracy":
        return [
            "evaluate",
            "--relations",
            str(w / "relations.json"),
            "--proposals",
            str(w / "proposals.json"),
            "--instances",
            str(w / "instances.json"),
        ], None
    if command == "check":
        return ["check", "--gt", str(w / "panoptic.json"), "--pred", str(w / "pred" / "panoptic.json")], None
    raise AssertionError(command)


# --------------------------------------------------------------------------- mutations

ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**30,
    0.5,
    -0.0,
    1e308,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "1",
    "x",
    "\x00",
    [],
    [0],
    [[]],
    {},
    {"a": 1},
    [1, 2, 3, 4],
    [-5.0, -5.0, 1e9, 1e9],
    {"size": [1, 1], "counts": ""},
    {"size": [40, 48], "counts": [40 * 48]},
    {"size": [40, 48], "counts": [1, 2, 3]},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats() | st.text(max_size=6),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6,
)


def _paths(obj, prefix=(), out=None):
    out = [] if out is None else out
    if len(out) > 2000:
        return out
    out.append(prefix)
    if isinstance(obj, dict):
        for k, v in obj.items():
            _paths(v, prefix + (k,), out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _paths(v, prefix + (i,), out)
    return out


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def _edit_string(data, s: str) -> str:
    if not s:
        return data.draw(st.text(max_size=4))
    i = data.draw(st.integers(0, len(s) - 1))
    how = data.draw(st.sampled_from(["cut", "char", "drop", "dup"]))
    if how == "cut":
        return s[:i]
    if how == "char":
        return s[:i] + data.draw(st.characters(min_codepoint=32, max_codepoint=0x2FF)) + s[i + 1 :]
    if how == "drop":
        return s[:i] + s[i + 1 :]
    return s[:i] + s[i:] + s[i:]


def mutate_json(data, obj):
    """One structural mutation of a JSON document, in place where possible; returns it."""
    paths = _paths(obj)
    path = data.draw(st.sampled_from(paths), label="path")
    kind = data.draw(
        st.sampled_from(["replace", "odd", "delete", "duplicate", "edit", "scale", "retype"]), label="kind"
    )
    if not path:
        return copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES))) if kind in ("replace", "odd") else obj
    parent, key = _get(obj, path[:-1]), path[-1]
    old = parent[key]
    if kind == "replace":
        parent[key] = data.draw(json_values)
    elif kind == "odd":
        parent[key] = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES)))  # never share the constants
    elif kind == "delete":
        del parent[key]
    elif kind == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(old)))
    elif kind == "duplicate" and isinstance(parent, dict):
        parent[key] = [old, old]
    elif kind == "edit" and isinstance(old, str):
        parent[key] = _edit_string(data, old)
    elif kind == "scale" and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[key] = data.draw(
            st.sampled_from([-old, old * 1000, old + 1, old - 1, old / 3, int(old) if math.isfinite(old) else 0])
        )
    elif kind == "retype":
        parent[key] = str(old) if not isinstance(old, str) else (int(old) if old.isdigit() else [old])
    else:
        parent[key] = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES)))
    return obj


def mutate_json_file(data, path: Path) -> str:
    text = path.read_text()
    how = data.draw(st.sampled_from(["struct", "struct", "struct", "struct2", "truncate", "flip"]), label="json-how")
    if how in ("struct", "struct2"):
        obj = json.loads(text)
        for _ in range(1 if how == "struct" else 3):
            obj = mutate_json(data, obj)
        path.write_text(json.dumps(obj))
    elif how == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
    else:
        raw = bytearray(path.read_bytes())
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
        path.write_bytes(bytes(raw))
    return how


def mutate_png_file(data, path: Path) -> str:
    raw = bytearray(path.read_bytes())
    how = data.draw(
        st.sampled_from(["truncate", "flip", "flip", "garbage", "reshape", "mode", "empty", "dir"]), label="png-how"
    )
    if how == "truncate":
        path.write_bytes(bytes(raw[: data.draw(st.integers(0, len(raw) - 1))]))
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        path.write_bytes(bytes(raw))
    elif how == "garbage":
        path.write_bytes(data.draw(st.binary(max_size=64)))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "dir":
        path.unlink()
        path.mkdir()
    else:
        from PIL import Image

        with Image.open(io.BytesIO(bytes(raw))) as im:
            arr = np.asarray(im)
        if how == "reshape":
            h = data.draw(st.integers(1, 50))
            w = data.draw(st.integers(1, 50))
            arr = np.resize(arr, (h, w) + arr.shape[2:])
            img = Image.fromarray(np.ascontiguousarray(arr))
        else:
            mode = data.draw(st.sampled_from(["L", "RGBA", "I;16", "1", "P", "LA", "F"]))
            if mode == "I;16":
                img = Image.fromarray(np.ascontiguousarray(arr[..., 0] if arr.ndim == 3 else arr).astype("<u2"))
            else:
                img = Image.fromarray(np.ascontiguousarray(arr)).convert(mode)
        buf = io.BytesIO()
        img.save(buf, format="PNG" if img.mode != "F" else "TIFF")  # F: a TIFF named .png
        path.write_bytes(buf.getvalue())
    return how


# --------------------------------------------------------------------------- the check


def run_case(base: Path, command: str, target: str, data) -> int:
    with tempfile.TemporaryDirectory(prefix="rapkit-fuzz-") as d:
        w = Path(d) / "w"
        shutil.copytree(base, w)
        f = w / target
        how = mutate_png_file(data, f) if f.suffix == ".png" else mutate_json_file(data, f)
        out = Path(d) / "out"
        out.mkdir()
        args, output = command_args(command, w, out)
        if os.environ.get("RAPKIT_FUZZ_LOG"):
            with open(os.environ["RAPKIT_FUZZ_LOG"], "a") as log:
                log.write(f"{command} {target} {how}\n")
            shutil.copy(f, os.environ["RAPKIT_FUZZ_LOG"] + ".last") if f.is_file() else None
        r = CliRunner().invoke(cli, [*args, "-q", "--format", "json"])
        code = r.exit_code
        text = r.stdout + r.stderr
        where = f"{command} with {target} mutated ({how}): exit {code}\n{r.stderr[-2000:]}"
        assert "Traceback" not in text, where
        assert r.exception is None or isinstance(r.exception, SystemExit), where
        assert code in (0, 3), where
        if code == 3:
            err = json.loads(r.stdout.strip().splitlines()[-1])["error"]
            assert err["code"] == 3 and err["message"], where
        left = sorted(p.name for p in out.iterdir())
        if output is not None:
            assert left == ([output.name] if code == 0 else []), (where, left)
        else:
            assert left == [], (where, left)
        return code


@pytest.mark.parametrize("command", list(TARGETS))
def test_fuzz_commands(base, command):
    @FUZZ
    @given(data=st.data())
    def case(data):
        target = data.draw(st.sampled_from(TARGETS[command]), label="target")
        run_case(base, command, target, data)

    case()


# --------------------------------------------------------------------------- subprocess cases

SUBPROCESS_CASES = [
    ("fuse", "proposals.json", lambda raw: raw[: len(raw) // 2]),
    ("fuse", "semantic/000000000001.png", lambda raw: raw[:40]),
    ("extract-relations", "panoptic/000000000002.png", lambda raw: raw[:8] + bytes(b ^ 0x55 for b in raw[8:])),
    ("evaluate", "pred/panoptic.json", lambda raw: raw.replace(b'"segments_info"', b'"segments_inf0"')),
    ("check", "pred/panoptic/000000000002.png", lambda raw: b""),
]


@pytest.mark.parametrize("command,target,edit", SUBPROCESS_CASES)
def test_fuzz_subprocess(base, tmp_path, command, target, edit):
    """A few cases through a real process: exit code, no traceback, nothing left behind."""
    w = tmp_path / "w"
    shutil.copytree(base, w)
    f = w / target
    f.write_bytes(edit(f.read_bytes()))
    out = tmp_path / "out"
    out.mkdir()
    args, _ = command_args(command, w, out)
    r = subprocess.run(
        [sys.executable, "-m", "rapkit", *args, "-q", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and json.loads(r.stdout.strip().splitlines()[-1])["error"]["code"] == 3
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- regressions
# Each bug the fuzzer found, as a fixed case: (command, file, edit of that file, message).


def json_edit(fn):
    def edit(path: Path) -> None:
        data = json.loads(path.read_text())
        fn(data)
        path.write_text(json.dumps(data))

    return edit


def _poly_coord(value):
    def fn(d):
        d["annotations"][0]["segmentation"] = [[0, 0, 10, 0, value, 10]]

    return json_edit(fn)


def _set(*path_value):
    *path, value = path_value

    def fn(d):
        _get(d, path[:-1])[path[-1]] = value(_get(d, path)) if callable(value) else value

    return json_edit(fn)


def _flip_png_byte(i: int, bit: int):
    def edit(path: Path) -> None:
        raw = bytearray(path.read_bytes())
        raw[i] ^= 1 << bit
        path.write_bytes(bytes(raw))

    return edit


REGRESSIONS = {
    # pycocotools rasterised it with C int overflow: segmentation fault
    "poly-1e308": ("extract-relations", "instances.json", _poly_coord(1e308), "far outside the 48x40 image"),
    # pycocotools allocated per unit of perimeter at 5x: the process was killed out of memory
    "poly-2**40": ("extract-relations", "instances.json", _poly_coord(2**40), "far outside"),
    "poly-1e9": ("extract-relations", "instances.json", _poly_coord(1e9), "far outside"),
    # numpy ValueError on a ragged polygon list: internal error (exit 70)
    "poly-nested": (
        "extract-relations",
        "instances.json",
        _set("annotations", 0, "segmentation", 0, 0, [1, 2]),
        "polygon #0 is not a list of numbers",
    ),
    # int(None) on a category color: internal error (exit 70)
    "color-null": (
        "evaluate",
        "pred/panoptic.json",
        _set("categories", 0, "color", 0, None),
        "color must be three numbers",
    ),
    "color-null-check": (
        "check",
        "panoptic.json",
        _set("categories", 0, "color", 0, None),
        "color must be three numbers",
    ),
    # str.encode('ascii') on RLE counts in the RLE kernel's wrapper: internal error (exit 70)
    "counts-non-ascii-fuse": (
        "fuse",
        "proposals.json",
        _set(0, "segmentation", "counts", lambda c: "\x80" + c[1:]),
        "malformed RLE counts",
    ),
    "counts-non-ascii-relacc": (
        "relation-accuracy",
        "proposals.json",
        _set(0, "segmentation", "counts", lambda c: "\x80" + c[1:]),
        "malformed RLE counts",
    ),
    # int(inf) raised OverflowError (not caught like TypeError/ValueError): exit 70
    "category-id-inf": ("fuse", "categories.json", _set(0, "id", math.inf), "non-integer id"),
    "image-id-inf": (
        "extract-relations",
        "instances.json",
        _set("images", 0, "id", math.inf),
        "needs integer id, height and width",
    ),
    # an image of 2**40 pixels: canvases allocated until the process was killed out of memory
    "image-huge": ("fuse", "instances.json", _set("images", 0, "height", 2**31), "too large"),
    # PIL raises ValueError for a truncated IHDR chunk: exit 70
    "png-ihdr-length": ("evaluate", "pred/panoptic/000000000001.png", _flip_png_byte(11, 0), "cannot decode PNG"),
    # int(inf) in the panoptic JSON's annotations: OverflowError, exit 70
    "gt-image-id-inf": (
        "evaluate",
        "panoptic.json",
        _set("annotations", 0, "image_id", math.inf),
        "non-integer image_id",
    ),
    "segment-id-inf": (
        "evaluate",
        "pred/panoptic.json",
        _set("annotations", 0, "segments_info", 0, "id", math.inf),
        "needs integer 'id' and 'category_id'",
    ),
    "segment-area-inf": (
        "evaluate",
        "panoptic.json",
        _set("annotations", 0, "segments_info", 0, "area", -math.inf),
        "malformed area",
    ),
    # 'totals' a list: AttributeError, exit 70
    "relations-totals-list": (
        "relation-accuracy",
        "relations.json",
        _set("totals", lambda t: [t, t]),
        "'totals' must map names to counts",
    ),
}


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_fuzz_regressions(base, tmp_path, name):
    command, target, edit, message = REGRESSIONS[name]
    w = tmp_path / "w"
    shutil.copytree(base, w)
    f = w / target
    edit(f)
    out = tmp_path / "out"
    out.mkdir()
    args, _ = command_args(command, w, out)
    r = CliRunner().invoke(cli, [*args, "-q", "--format", "json"])
    assert r.exit_code == 3, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    err = json.loads(r.stdout.strip().splitlines()[-1])["error"]
    assert message in err["message"]
    if command != "check":  # check reports every problem, then fails with a summary
        assert err["file"] == str(f)
    assert list(out.iterdir()) == []


def test_polygon_limit_keeps_ordinary_polygons():
    from rapkit.errors import InputError
    from rapkit.io.coco import validate_segmentation

    assert validate_segmentation([[-3.5, -2, 50, 0, 47.9, 40.2]], 40, 48) == "polygons"  # a little outside: fine
    for bad in ([[0, 0, 10, 0, 1e308, 1]], [[0, 0, 10, 0, 2**63, 1]], [[[0], 0, 10, 0, 5, 5]]):
        with pytest.raises(InputError):
            validate_segmentation(bad, 40, 48)
