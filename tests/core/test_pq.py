"""PQ parity (==) with panopticapi run with one process; merging; fast path == PIL path."""

from __future__ import annotations

import functools
import json
import math
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.core.pq import PairHistogram, PQStats, merge_stats, pair_histogram, pq_stats, summarize
from rapkit.errors import InputError
from rapkit.io.panoptic import read_id_map
from rapkit.pipeline.evaluate import evaluate_pq
from rapkit.types import Category, Segment

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"


# --------------------------------------------------------------------------- the oracle


def rapkit_eval(gt_json, pred_json, gt_dir=None, pred_dir=None, **kw):
    return evaluate_pq(gt_json, pred_json, gt_dir, pred_dir, **kw)


# --------------------------------------------------------------------------- dataset writers


# --------------------------------------------------------------------------- sample data parity


@pytest.mark.parametrize("workers", [1, 2])
def test_sample_gt_against_itself(pq_kit, workers):
    gt = SAMPLE / "panoptic_examples.json"
    ev = rapkit_eval(gt, gt, workers=workers)
    theirs = pq_kit.oracle(gt, gt)
    pq_kit.assert_same(ev.result.to_panopticapi(), theirs)
    assert ev.result.all.pq == 1.0 and ev.result.all.n > 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sample_gt_against_perturbed_predictions(pq_kit, tmp_path, seed):
    gt = SAMPLE / "panoptic_examples.json"
    pred = pq_kit.perturbed(tmp_path, seed)
    theirs = pq_kit.oracle(gt, pred)
    for kw in ({"workers": 1}, {"workers": 1, "fast": False}) + (({"workers": 2},) if seed == 0 else ()):
        ev = rapkit_eval(gt, pred, **kw)
        pq_kit.assert_same(ev.result.to_panopticapi(), theirs)
    assert 0 < ev.result.all.pq < 1


# --------------------------------------------------------------------------- random panoptic pairs


def random_image(pq_kit, rng: random.Random, image_id: int, h: int, w: int) -> tuple[dict, dict]:
    """A random GT/prediction pair with crowd, VOID, unmatched, unknown-id and tiny segments."""
    gt = np.zeros((h, w), np.uint32)
    gsegs = []
    n = rng.randint(1, 7)
    ids = rng.sample(range(1, 1 << 24), n + 1)
    for k in range(n):
        y0, x0 = rng.randrange(h), rng.randrange(w)
        y1, x1 = min(h, y0 + rng.choice([1, 2, 4, h])), min(w, x0 + rng.choice([1, 3, 5, w]))
        gt[y0:y1, x0:x1] = ids[k]
        gsegs.append(
            {"id": ids[k], "category_id": rng.choice(pq_kit.categories)["id"], "iscrowd": int(rng.random() < 0.25)}
        )
    if rng.random() < 0.3:  # an id in the GT PNG that the GT JSON does not list
        gt[rng.randrange(h), :] = ids[n]
    present = set(np.unique(gt).tolist())
    gsegs = [s for s in gsegs if s["id"] in present]
    if rng.random() < 0.2 and gsegs:  # a GT segment listed but absent from the PNG
        gsegs.append(
            {"id": 77, "category_id": rng.choice(pq_kit.categories)["id"], "iscrowd": 0, "area": rng.choice([0, 5])}
        )
    pred = gt.copy()
    gmap = {s["id"]: s for s in gsegs}
    pmap: dict[int, int] = {}
    for sid in sorted(present - {0}):
        cat = gmap[sid]["category_id"] if sid in gmap else rng.choice(pq_kit.categories)["id"]
        if rng.random() < 0.2:
            cat = rng.choice(pq_kit.categories)["id"]
        pmap[sid] = cat
    # noise: random blocks with new or existing ids, VOID holes
    for _ in range(rng.randint(0, 6)):
        y0, x0 = rng.randrange(h), rng.randrange(w)
        y1, x1 = min(h, y0 + rng.randint(1, h)), min(w, x0 + rng.randint(1, w))
        choice = rng.random()
        if choice < 0.3:
            pred[y0:y1, x0:x1] = 0
        elif choice < 0.7 or not pmap:
            nid = rng.randrange(1, 1 << 24)
            pred[y0:y1, x0:x1] = nid
            pmap[nid] = rng.choice(pq_kit.categories)["id"]
        else:
            pred[y0:y1, x0:x1] = rng.choice(sorted(pmap))
    ppresent = set(np.unique(pred).tolist()) - {0}
    psegs = [{"id": i, "category_id": pmap[i]} for i in ppresent]
    rng.shuffle(psegs)
    return (
        {"image_id": image_id, "id_map": gt, "segments": gsegs},
        {"image_id": image_id, "id_map": pred, "segments": psegs},
    )


def random_dataset(pq_kit, root: Path, seed: int, n_images: int, h: int = 9, w: int = 11) -> tuple[Path, Path]:
    rng = random.Random(seed)
    pairs = [random_image(pq_kit, rng, 1000 + 7 * i, h, w) for i in range(n_images)]
    gt = pq_kit.write_dataset(root, "gt", [g for g, _ in pairs], pq_kit.categories)
    pred = pq_kit.write_dataset(root, "pred", [p for _, p in pairs], pq_kit.categories)
    return gt, pred


ANY_ID = st.integers(1, (1 << 24) - 1)
FILLS = st.sampled_from(["void", "new id", "existing id"])


@functools.lru_cache
def image_strategies(cat_ids: tuple[int, ...], h: int, w: int) -> SimpleNamespace:
    """The strategies of :func:`panoptic_pairs` for one image size, made (and validated) once."""
    cats, ys, xs = st.sampled_from(cat_ids), st.integers(0, h - 1), st.integers(0, w - 1)
    return SimpleNamespace(
        cats=cats,
        ys=ys,
        # 1 to 7 listed GT segments: (id, y0, x0, height, width, category, crowd)
        segments=st.lists(
            st.tuples(
                ANY_ID, ys, xs, st.sampled_from([1, 2, 4, h]), st.sampled_from([1, 3, 5, w]), cats, st.booleans()
            ),
            min_size=1,
            max_size=7,
            unique_by=lambda s: s[0],
        ),
        # up to 6 prediction blocks: (y0, x0, height, width, what fills it)
        blocks=st.lists(st.tuples(ys, xs, st.integers(1, h), st.integers(1, w), FILLS), max_size=6),
    )


@st.composite
def panoptic_pairs(draw, categories: list[dict], image_id: int, h: int, w: int) -> tuple[dict, dict]:
    """Hypothesis's version of :func:`random_image` (every scene that one makes, drawn so that a
    failure shrinks): a GT/prediction pair with crowd, VOID, unmatched, unknown-id and tiny segments."""
    s = image_strategies(tuple(c["id"] for c in categories), h, w)
    gt = np.zeros((h, w), np.uint32)
    gsegs = []
    segments = draw(s.segments)
    for sid, y0, x0, dy, dx, cat, crowd in segments:
        gt[y0 : y0 + dy, x0 : x0 + dx] = sid
        gsegs.append({"id": sid, "category_id": cat, "iscrowd": int(crowd)})
    if draw(st.booleans()):  # an id in the GT PNG that the GT JSON does not list
        listed = {seg[0] for seg in segments}
        gt[draw(s.ys), :] = draw(ANY_ID.filter(lambda i: i not in listed))
    present = set(np.unique(gt).tolist())
    gsegs = [g for g in gsegs if g["id"] in present]
    if gsegs and draw(st.booleans()):  # a GT segment listed but absent from the PNG
        absent = draw(ANY_ID.filter(lambda i: i not in present))
        gsegs.append({"id": absent, "category_id": draw(s.cats), "iscrowd": 0, "area": draw(st.sampled_from([0, 5]))})
    pred = gt.copy()
    gmap = {g["id"]: g for g in gsegs}
    pmap: dict[int, int] = {}
    for sid in sorted(present - {0}):
        relabel = sid not in gmap or draw(st.booleans())
        pmap[sid] = draw(s.cats) if relabel else gmap[sid]["category_id"]
    # noise: blocks with new or existing ids, VOID holes
    for y0, x0, dy, dx, fill in draw(s.blocks):
        if fill == "void":
            pred[y0 : y0 + dy, x0 : x0 + dx] = 0
        elif fill == "new id" or not pmap:
            nid = draw(ANY_ID)
            pred[y0 : y0 + dy, x0 : x0 + dx] = nid
            pmap[nid] = draw(s.cats)
        else:
            pred[y0 : y0 + dy, x0 : x0 + dx] = sorted(pmap)[draw(st.integers(0, len(pmap) - 1))]
    ppresent = set(np.unique(pred).tolist()) - {0}
    psegs = draw(st.permutations([{"id": i, "category_id": pmap[i]} for i in sorted(ppresent)]))
    return (
        {"image_id": image_id, "id_map": gt, "segments": gsegs},
        {"image_id": image_id, "id_map": pred, "segments": psegs},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), n_images=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12))
def test_random_pairs_match_panopticapi(pq_kit, tmp_path_factory, data, n_images, h, w):
    root = tmp_path_factory.mktemp("r")
    pairs = [
        data.draw(panoptic_pairs(pq_kit.categories, 1000 + 7 * i, h, w), label=f"image {i}") for i in range(n_images)
    ]
    gt = pq_kit.write_dataset(root, "gt", [g for g, _ in pairs], pq_kit.categories)
    pred = pq_kit.write_dataset(root, "pred", [p for _, p in pairs], pq_kit.categories)
    theirs = pq_kit.oracle(gt, pred)
    ours = rapkit_eval(gt, pred).result.to_panopticapi()
    pq_kit.assert_same(ours, theirs)
    pq_kit.assert_same(rapkit_eval(gt, pred, fast=False).result.to_panopticapi(), theirs)


def test_random_dataset_two_workers(pq_kit, tmp_path):
    gt, pred = random_dataset(pq_kit, tmp_path, 12345, 40, 24, 30)
    theirs = pq_kit.oracle(gt, pred)
    one = rapkit_eval(gt, pred, workers=1)
    two = rapkit_eval(gt, pred, workers=2)
    pq_kit.assert_same(one.result.to_panopticapi(), theirs)
    pq_kit.assert_same(two.result.to_panopticapi(), theirs)
    assert one.stats == two.stats


def test_two_workers_are_threads_and_equal_one_worker_per_image(pq_kit, tmp_path):
    """--workers 2 runs threads (no process is started), merges the same per-image
    statistics as 1 worker, and equals the pure-Python path (PIL + pq_stats) in threads too."""
    import multiprocessing

    gt, pred = random_dataset(pq_kit, tmp_path, 4242, 70, 12, 15)
    one = rapkit_eval(gt, pred, workers=1, per_image=True)
    two = rapkit_eval(gt, pred, workers=2, per_image=True)
    slow = rapkit_eval(gt, pred, fast=False, per_image=True, workers=2)
    assert multiprocessing.active_children() == []
    assert one.stats == two.stats == slow.stats
    assert one.per_image == two.per_image == slow.per_image
    pq_kit.assert_same(two.result.to_panopticapi(), pq_kit.oracle(gt, pred))


def test_images_the_kernel_declines_go_through_pq_stats(pq_kit, tmp_path, monkeypatch):
    """When the matching kernel reports a problem, pq_stats takes the image over (and words
    the error when there is one); made to decline every image, the result is unchanged."""
    import rapkit.kernels.pq_match

    gt, pred = random_dataset(pq_kit, tmp_path, 777, 25, 9, 11)
    want = rapkit_eval(gt, pred, per_image=True)
    monkeypatch.setattr(rapkit.kernels.pq_match, "match_image", lambda *a: (1, 0))
    for per_image in (False, True):
        got = rapkit_eval(gt, pred, per_image=per_image)
        assert got.stats == want.stats
        assert got.per_image == (want.per_image if per_image else [])
    pq_kit.assert_same(got.result.to_panopticapi(), pq_kit.oracle(gt, pred))


def test_many_images_iou_summation_order(pq_kit, tmp_path):
    """Many matched segments of one class whose IoUs do not add associatively: the
    summation order must be panopticapi's to get == ."""
    rng = random.Random(5)
    images_g, images_p = [], []
    for i in range(30):
        g = np.zeros((7, 13), np.uint32)
        p = np.zeros((7, 13), np.uint32)
        gsegs, psegs = [], []
        for k in range(3):
            sid = 10 + k
            g[:, 4 * k : 4 * k + 4] = sid
            p[: rng.randint(4, 7), 4 * k : 4 * k + rng.randint(3, 4)] = sid
            gsegs.append({"id": sid, "category_id": 1})
            psegs.append({"id": sid, "category_id": 1})
        images_g.append({"image_id": i, "id_map": g, "segments": gsegs})
        images_p.append({"image_id": i, "id_map": p, "segments": [s for s in psegs if (p == s["id"]).any()]})
    gt = pq_kit.write_dataset(tmp_path, "gt", images_g, pq_kit.categories)
    pred = pq_kit.write_dataset(tmp_path, "pred", images_p, pq_kit.categories)
    theirs = pq_kit.oracle(gt, pred)
    ev = rapkit_eval(gt, pred)
    pq_kit.assert_same(ev.result.to_panopticapi(), theirs)
    assert ev.stats.tp[1] > 60


# --------------------------------------------------------------------------- merging


def _per_image_stats(pq_kit, tmp_path: Path) -> tuple[list[PQStats], dict]:
    gt, pred = random_dataset(pq_kit, tmp_path, 99, 12, 10, 10)
    from rapkit.io.panoptic import load_panoptic

    g = load_panoptic(gt)
    p = load_panoptic(pred)
    parts = []
    for order, (iid, ga) in enumerate(g.annotations.items()):
        gm = read_id_map(g.png_path(iid))
        pm = read_id_map(p.png_path(iid))
        parts.append(
            pq_stats(gm, ga.segments, p.annotations[iid].segments, g.categories, pred_map=pm, image_id=iid, order=order)
        )
    return parts, g.categories


def test_merge_any_order_equals_one_run(pq_kit, tmp_path):
    parts, cats = _per_image_stats(pq_kit, tmp_path)
    one = merge_stats(parts)
    want = summarize(one, cats).to_panopticapi()
    rng = random.Random(0)
    for _ in range(10):
        shuffled = parts[:]
        rng.shuffle(shuffled)
        k = rng.randint(1, len(parts) - 1)
        a = merge_stats(shuffled[:k])
        b = merge_stats(shuffled[k:])
        for merged in (a + b, b + a, b.merge(a), sum(shuffled, PQStats())):
            assert merged == one
            assert summarize(merged, cats).to_panopticapi() == want
    # round trip through JSON keeps them exact
    assert PQStats.from_dict(json.loads(json.dumps(one.to_dict()))) == one
    with pytest.raises(ValueError):
        one + parts[0]  # the same image twice


def test_histogram_and_map_inputs_agree():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 4, size=(6, 7)).astype(np.uint32)
    p = rng.integers(0, 4, size=(6, 7)).astype(np.uint32)
    cats = {1: Category(1, "a", True), 2: Category(2, "b", False)}
    gs = [Segment(i, 1 + i % 2, int((g == i).sum()), (0, 0, 1, 1)) for i in (1, 2, 3)]
    ps = [Segment(i, 1 + i % 2, 0, (0, 0, 1, 1)) for i in (1, 2, 3) if (p == i).any()]
    a = pq_stats(g, gs, ps, cats, pred_map=p)
    b = pq_stats(pair_histogram(g, p), gs, ps, cats)
    assert a == b
    from rapkit.kernels.pq import pair_keys_maps

    k, c = pair_keys_maps(g, p)
    assert PairHistogram.from_keys(k, c) == pair_histogram(g, p)


# --------------------------------------------------------------------------- panopticapi's crash cases


def _crash_case(pq_kit, tmp_path: Path, kind: str) -> tuple[Path, Path]:
    g = np.array([[1, 1, 2], [1, 2, 2]], np.uint32)
    gsegs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 100}]
    p = g.copy()
    psegs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 100}]
    if kind == "png_id_not_in_json":
        p[0, 0] = 9
    elif kind == "json_id_not_in_png":
        psegs.append({"id": 5, "category_id": 1})
    elif kind == "unknown_category":
        psegs[0]["category_id"] = 55
    gt = pq_kit.write_dataset(tmp_path, "gt", [{"image_id": 42, "id_map": g, "segments": gsegs}], pq_kit.categories)
    pm = p if kind != "shape" else np.zeros((3, 3), np.uint32)
    if kind == "shape":
        psegs = []
    pred = pq_kit.write_dataset(
        tmp_path, "pred", [{"image_id": 42, "id_map": pm, "segments": psegs}], pq_kit.categories
    )
    return gt, pred


@pytest.mark.parametrize(
    "kind,message",
    [
        ("png_id_not_in_json", "in the prediction PNG but not in its JSON"),
        ("json_id_not_in_png", "not in the prediction PNG"),
        ("unknown_category", "unknown category_id 55"),
        ("shape", "3x3"),
    ],
)
def test_panopticapi_crash_cases_give_input_errors(pq_kit, tmp_path, kind, message):
    gt, pred = _crash_case(pq_kit, tmp_path, kind)
    with pytest.raises(Exception):
        pq_kit.oracle(gt, pred)
    for fast in (True, False):
        with pytest.raises(InputError, match=message) as e:
            rapkit_eval(gt, pred, fast=fast)
        assert e.value.image_id == 42


def test_split_without_class_is_nan_not_a_crash(pq_kit, tmp_path):
    g = np.array([[1, 1], [1, 0]], np.uint32)
    im = {"image_id": 3, "id_map": g, "segments": [{"id": 1, "category_id": 1}]}
    gt = pq_kit.write_dataset(tmp_path, "gt", [im], pq_kit.categories)
    theirs = pq_kit.oracle(gt, gt)
    assert theirs["Stuff"] is None  # panopticapi: ZeroDivisionError
    r = rapkit_eval(gt, gt).result
    assert r.stuff.n == 0 and math.isnan(r.stuff.pq)
    assert r.things.pq == 1.0 and r.all.n == 1
    assert r.per_class[100].pq == 0.0


def test_gt_image_without_prediction(pq_kit, tmp_path):
    g = np.ones((2, 2), np.uint32)
    gt = pq_kit.write_dataset(
        tmp_path,
        "gt",
        [
            {"image_id": 8, "id_map": g, "segments": [{"id": 1, "category_id": 1}]},
            {"image_id": 9, "id_map": g, "segments": [{"id": 1, "category_id": 1}]},
        ],
        pq_kit.categories,
    )
    pred = pq_kit.write_dataset(
        tmp_path,
        "pred",
        [
            {"image_id": 8, "id_map": g, "segments": [{"id": 1, "category_id": 1}]},
            {"image_id": 11, "id_map": g, "segments": [{"id": 1, "category_id": 1}]},
        ],
        pq_kit.categories,
    )
    with pytest.raises(InputError, match="no prediction") as e:
        rapkit_eval(gt, pred)
    assert e.value.image_id == 9


def test_prediction_for_unknown_image_is_ignored_and_counted(pq_kit, tmp_path):
    g = np.ones((2, 2), np.uint32)
    seg = [{"id": 1, "category_id": 1}]
    gt = pq_kit.write_dataset(tmp_path, "gt", [{"image_id": 8, "id_map": g, "segments": seg}], pq_kit.categories)
    pred = pq_kit.write_dataset(
        tmp_path,
        "pred",
        [{"image_id": 8, "id_map": g, "segments": seg}, {"image_id": 11, "id_map": g, "segments": seg}],
        pq_kit.categories,
    )
    ev = rapkit_eval(gt, pred)
    assert ev.ignored_pred_images == [11] and ev.n_images == 1
    assert ev.warnings and "11" in ev.warnings[0]
    pq_kit.assert_same(ev.result.to_panopticapi(), pq_kit.oracle(gt, pred))


def test_wrong_gt_area_reproduces_panopticapi(pq_kit, tmp_path):
    """A GT area smaller than the PNG's can make PQ exceed 1 in panopticapi; rapkit gives
    the same number (and `check` reports the cause)."""
    g = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], np.uint32)
    gt = pq_kit.write_dataset(
        tmp_path,
        "gt",
        [{"image_id": 1, "id_map": g, "segments": [{"id": 1, "category_id": 1, "area": 2}]}],
        pq_kit.categories,
    )
    pred = pq_kit.write_dataset(
        tmp_path, "pred", [{"image_id": 1, "id_map": g, "segments": [{"id": 1, "category_id": 1}]}], pq_kit.categories
    )
    theirs = pq_kit.oracle(gt, pred)
    ev = rapkit_eval(gt, pred)
    pq_kit.assert_same(ev.result.to_panopticapi(), theirs)
    assert ev.result.all.pq > 1


def test_huge_gt_area_takes_the_python_path(pq_kit, tmp_path):
    """An image whose GT area could wrap int64 sums (or a prediction id beyond int64) is left
    to pq_stats, that image alone: the others still go through the kernel, and the
    statistics are pq_stats' on every image, with both decoders and per image."""
    g = np.array([[1, 1, 2], [1, 2, 2]], np.uint32)
    segs = [{"id": 1, "category_id": 1, "area": 3}, {"id": 2, "category_id": 1, "area": 3}]
    huge = [dict(segs[0], area=2**60), dict(segs[1], area=-(2**61))]
    gts = [{"image_id": i, "id_map": g, "segments": huge if i == 1 else segs} for i in range(3)]
    preds = [{"image_id": i, "id_map": g, "segments": segs} for i in range(3)]
    gt = pq_kit.write_dataset(tmp_path, "gt", gts, pq_kit.categories)
    pred = pq_kit.write_dataset(tmp_path, "pred", preds, pq_kit.categories)
    pj = json.loads(pred.read_text())
    pj["annotations"][2]["segments_info"].append({"id": 2**70, "category_id": 1})  # not in the PNG
    pred.write_text(json.dumps(pj))
    with pytest.raises(InputError, match="not in the prediction PNG") as e:
        rapkit_eval(gt, pred)
    assert (e.value.image_id, e.value.segment_id) == (2, 2**70)
    pj["annotations"][2]["segments_info"].pop()
    pred.write_text(json.dumps(pj))
    want = []
    for k in range(3):
        s = gts[k]["segments"]
        want.append(pq_stats(g, s, segs, pq_kit.categories, pred_map=g, image_id=k, order=k))
    for fast in (True, False):
        ev = rapkit_eval(gt, pred, fast=fast, per_image=True)
        assert ev.per_image == want and ev.stats == merge_stats(want)
    assert ev.stats.tp == {1: 4} and ev.stats.fn == {1: 2}


def test_pq_compute_drop_in(pq_kit, tmp_path):
    import rapkit

    pred = pq_kit.perturbed(tmp_path, 5)
    gt = SAMPLE / "panoptic_examples.json"
    pq_kit.assert_same(rapkit.pq_compute(str(gt), str(pred)), pq_kit.oracle(gt, pred))


def test_array_segments_equal_full_segments():
    from rapkit.io.panoptic import load_panoptic, load_panoptic_arrays

    full = load_panoptic(SAMPLE / "panoptic_examples.json")
    arrays = load_panoptic_arrays(SAMPLE / "panoptic_examples.json").segments
    assert arrays.image_ids == list(full.annotations)
    for k, ann in enumerate(full.annotations.values()):
        assert arrays.segments(k) == [(s.id, s.category_id, s.area, s.iscrowd) for s in ann.segments]


def test_load_json_fast_parser_same_objects_and_errors(tmp_path):
    # rapkit.io.jsonio parses with orjson when it can; json's objects and error words otherwise
    import json as _json

    from rapkit.errors import InputError
    from rapkit.io.jsonio import load_json

    doc = {"a": [1, 2.5, -0.0, 1e-300, "é\u2603", None, True], "b": {"x": 12345678901234567890}, "c": 0.1 + 0.2}
    f = tmp_path / "a.json"
    f.write_text(_json.dumps(doc))
    assert load_json(f) == _json.loads(f.read_text())
    f.write_text('{"v": NaN, "w": 1e999}')  # not JSON for orjson; json accepts it
    got = load_json(f)
    assert got["v"] != got["v"] and got["w"] == float("inf")
    f.write_bytes(_json.dumps({"k": 1}).encode("utf-16"))  # json detects UTF-16
    assert load_json(f) == {"k": 1}
    f.write_text('{"a": 1,\n "b": }')
    with pytest.raises(InputError, match="line 2, column 7"):
        load_json(f)


def test_two_workers_give_the_same_errors(pq_kit, tmp_path):
    """A bad file raises the same InputError (file, image) with 2 workers as with 1."""
    import json

    gt, pred = random_dataset(pq_kit, tmp_path, 99, 9, 20, 24)
    assert rapkit_eval(gt, pred, workers=2).stats == rapkit_eval(gt, pred, workers=1).stats
    pred_json = json.loads(pred.read_text())
    pred_json["annotations"][2]["segments_info"][0]["id"] = "x"
    bad = tmp_path / "bad_pred.json"
    bad.write_text(json.dumps(pred_json))
    errors = []
    for workers in (1, 2):
        with pytest.raises(InputError) as e:
            evaluate_pq(gt, bad, None, tmp_path / "pred", workers=workers)
        errors.append((str(e.value), e.value.file, e.value.image_id, e.value.segment_id))
    assert errors[0] == errors[1]
    assert errors[0][1] == str(bad)
