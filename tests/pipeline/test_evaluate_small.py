"""The numpy path of a small PQ job (rapkit.pipeline.evaluate_small) is a twin of the kernel
path: the same statistics, the same report bytes, the same errors; panopticapi's own loop is
the oracle. RAPKIT_EVALUATE_PATH forces either path."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rapkit._runtime import settings
from rapkit.cli import main
from rapkit.pipeline.evaluate import evaluate_pq
from rapkit.pipeline.evaluate_small import SMALL_JOB_IMAGES, SMALL_JOB_PIXELS, job_pixels, use_numpy_path
from rapkit.types import ImageInfo

PATHS = ("numpy", "kernels")


@pytest.fixture
def force_path(monkeypatch):
    def force(path: str) -> None:
        monkeypatch.setenv("RAPKIT_EVALUATE_PATH", path)
        settings.reload()

    yield force
    monkeypatch.delenv("RAPKIT_EVALUATE_PATH", raising=False)
    settings.reload()


def _stats_equal(a, b) -> None:
    assert {k: v for k, v in a.tp.items() if v} == {k: v for k, v in b.tp.items() if v}
    assert {k: v for k, v in a.fp.items() if v} == {k: v for k, v in b.fp.items() if v}
    assert {k: v for k, v in a.fn.items() if v} == {k: v for k, v in b.fn.items() if v}
    ka, kb = np.lexsort((a.rank, a.order)), np.lexsort((b.rank, b.order))
    for f in ("order", "rank", "category", "iou"):
        assert np.array_equal(getattr(a, f)[ka], getattr(b, f)[kb]), f  # every IoU, bit for bit
    assert a.n_images == b.n_images and a.image_ids == b.image_ids


def test_rule_and_setting(force_path):
    infos = {1: ImageInfo(1, "a.jpg", 480, 640), 2: ImageInfo(2, "b.jpg", 0, 0)}
    assert job_pixels(infos, [1]) == 640 * 480
    assert job_pixels(infos, [1, 2]) is None and job_pixels(infos, [3]) is None  # unknown: not small
    assert use_numpy_path(1, 640 * 480) and use_numpy_path(SMALL_JOB_IMAGES, SMALL_JOB_PIXELS)
    assert not use_numpy_path(SMALL_JOB_IMAGES + 1, 1) and not use_numpy_path(1, SMALL_JOB_PIXELS + 1)
    assert not use_numpy_path(1, None)
    force_path("kernels")
    assert not use_numpy_path(1, 1)
    force_path("numpy")
    assert use_numpy_path(10**6, None)


@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_path_equals_kernel_path_and_panopticapi(pq_kit, pq_bench, tmp_path, force_path, seed):
    """The COCO sample against perturbed predictions, and the Pillow-written bench with crowd
    and VOID: per-image statistics, every IoU, and the report JSON are the same on both paths
    at 1 and 2 workers, and equal panopticapi's single-core loop."""
    from rapkit.report import to_percent

    cases = [(pq_kit.sample / "panoptic_examples.json", pq_kit.perturbed(tmp_path, seed)), pq_bench(6, seed=seed)]
    for gt, pred in cases:
        want = pq_kit.oracle(gt, pred)
        evs = {}
        for path in PATHS:
            force_path(path)
            for workers in (1, 2):
                ev = evaluate_pq(gt, pred, workers=workers, per_image=True)
                evs[path, workers] = ev
                ours = {k: v for k, v in ev.result.to_panopticapi().items()}
                pq_kit.assert_same(ours, want)
        ref = evs["kernels", 1]
        for key, ev in evs.items():
            _stats_equal(ev.stats, ref.stats)
            assert len(ev.per_image) == len(ref.per_image)
            for a, b in zip(ev.per_image, ref.per_image):
                _stats_equal(a, b)
            assert json.dumps(ev.to_dict(), sort_keys=False) == json.dumps(ref.to_dict(), sort_keys=False), key
        assert to_percent(want)["All"]["pq"] == 100 * ref.result.all.pq


def _run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _tiny(kit, root, kind):
    g = np.array([[1, 1, 2, 2], [1, 1, 2, 0], [3, 3, 3, 0]], np.uint32)
    gsegs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 3}, {"id": 3, "category_id": 100, "iscrowd": 0}]
    p = g.copy()
    psegs = [dict(s) for s in gsegs]
    pimg = {"image_id": 42, "id_map": p, "segments": psegs}
    if kind == "png_id_not_in_json":
        p[0, 0] = 9
    elif kind == "json_id_not_in_png":
        psegs.append({"id": 5, "category_id": 1})
    elif kind == "unknown_category":
        psegs[0]["category_id"] = 55
    elif kind == "shape":
        pimg = {"image_id": 42, "id_map": np.zeros((3, 3), np.uint32), "segments": []}
    elif kind == "duplicate":
        psegs.append(dict(psegs[0]))
    gt = kit.write_dataset(root, "gt", [{"image_id": 42, "id_map": g, "segments": gsegs}], kit.categories)
    pred = kit.write_dataset(root, "pred", [pimg], kit.categories)
    png = root / "pred" / "000000000042.png"
    if kind == "missing_png":
        png.unlink()
    elif kind == "folder_png":
        png.unlink()
        png.mkdir()
    elif kind == "truncated_png":
        png.write_bytes(png.read_bytes()[:60])
    elif kind == "garbage_png":
        png.write_bytes(b"not a png at all")
    elif kind == "bad_filter_byte":
        from PIL import Image

        Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(png, compress_level=0)
        data = bytearray(png.read_bytes())
        i = data.index(b"IDAT") + 4 + 7  # stored block header (2 + 5 bytes), then row 0's filter byte
        data[i] = 9
        import zlib

        start = data.index(b"IDAT")
        length = int.from_bytes(data[start - 4 : start], "big")
        crc = zlib.crc32(bytes(data[start : start + 4 + length]))
        data[start + 4 + length : start + 8 + length] = crc.to_bytes(4, "big")
        png.write_bytes(bytes(data))
    return gt, pred


@pytest.mark.parametrize(
    "kind",
    [
        "png_id_not_in_json",
        "json_id_not_in_png",
        "unknown_category",
        "shape",
        "duplicate",
        "missing_png",
        "folder_png",
        "truncated_png",
        "garbage_png",
        "bad_filter_byte",
    ],
)
def test_same_errors_on_both_paths(pq_kit, tmp_path, force_path, capsys, kind):
    """Bad input: the same exit code, message and JSON error object (file, image, segment)."""
    gt, pred = _tiny(pq_kit, tmp_path, kind)
    outs = []
    for path in PATHS:
        force_path(path)
        outs.append(_run(capsys, "evaluate", "--gt", gt, "--pred", pred, "--format", "json", "-q"))
    assert outs[0] == outs[1]
    code, out, err = outs[0]
    assert code == 3 and "Traceback" not in err and json.loads(out.splitlines()[-1])["error"]["image_id"] == 42


def test_pil_decoder_on_the_numpy_path(pq_kit, tmp_path, force_path, capsys):
    pred = pq_kit.perturbed(tmp_path, 2)
    gt = pq_kit.sample / "panoptic_examples.json"
    outs = set()
    for path in PATHS:
        force_path(path)
        for dec in ("fast", "pil"):
            code, out, err = _run(capsys, "evaluate", "--gt", gt, "--pred", pred, "--format", "json", "--decoder", dec)
            assert code == 0, err
            outs.add(out)
    assert len(outs) == 1


#: what a fresh small `rapkit evaluate` does not import: numba (the numpy path), the other
#: modes' pipelines (relations, sweep, check), numpy.ma (np.unique without counts imports it),
#: concurrent.futures (one worker), ctypes.util (its find_library starts a subprocess)
NOT_LOADED = (
    "numba",
    "rapkit.pipeline.sweep",
    "rapkit.pipeline.relation_acc",
    "rapkit.pipeline.check",
    "numpy.ma",
    "concurrent.futures",
    "ctypes.util",
    "pandas",
)


def test_a_small_evaluate_loads_no_numba(pq_kit):
    """The point of the numpy path: a fresh `rapkit evaluate` of a small job never imports
    numba, nor what only other modes need."""
    gt = pq_kit.sample / "panoptic_examples.json"
    code = (
        "import sys\nfrom rapkit.cli import main\n"
        f"sys.argv = ['rapkit', 'evaluate', '--gt', {str(gt)!r}, '--pred', {str(gt)!r}, '-q']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"print('LOADED:' + ','.join(m for m in {NOT_LOADED!r} if m in sys.modules))"
    )
    env_path = {k: v for k, v in __import__("os").environ.items() if k != "RAPKIT_EVALUATE_PATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env_path)
    assert out.stdout.strip().splitlines()[-1] == "LOADED:", out.stdout + out.stderr


def test_values_beyond_the_arrays_on_both_paths(pq_kit, tmp_path, force_path, capsys):
    """A GT area of 2**60 (beyond what the kernel's arrays carry exactly: Python ints then):
    the same report on both paths."""
    gt, pred = _tiny(pq_kit, tmp_path, "ok")
    d = json.loads(gt.read_text())
    d["annotations"][0]["segments_info"][0]["area"] = 2**60
    gt.write_text(json.dumps(d))
    outs = []
    for path in PATHS:
        force_path(path)
        outs.append(_run(capsys, "evaluate", "--gt", gt, "--pred", pred, "--format", "json", "--per-class"))
    assert outs[0] == outs[1] and outs[0][0] == 0
