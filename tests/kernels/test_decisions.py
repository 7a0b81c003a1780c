"""Algorithm 1's checks are written once (rapkit.kernels.decisions) and every fusion path uses them.

* hand cases with known answers for each check, paper and reference variant, through the
  plain function (what the numpy twins call) and its numba build (what the kernels inline);
* the kernels and twins hold those very objects, and none of the four paths compares a
  threshold itself (read from their source);
* the run kernel (pixels), the atom kernel and both numpy twins give the same statuses,
  visible counts and painted pixels on hypothesis-generated scenes, for every switch and variant.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.kernels import (
    _reference_fusion,
    _reference_ocfusion,
    _reference_sweep,
    decisions,
    decisions_jit,
    fusion,
    ocfusion,
    status,
    sweep,
)
from rapkit.kernels._reference_fusion import ref_fuse_runs, runs_from_full
from rapkit.kernels._reference_sweep import ref_fuse_atoms

INF = math.inf

# (check, arguments, expected): both variants where the check has them, and the boundaries
HAND_CASES = [
    ("category_drop", (3, 5, 0.6, False), True),  # paper: L = tau drops
    ("category_drop", (3, 5, 0.6, True), False),  # reference: L must exceed tau
    ("category_drop", (4, 5, 0.6, True), True),
    ("category_drop", (2, 5, 0.6, False), False),
    ("category_drop", (0, 5, 0.0, False), True),  # tau = 0: the paper drops even without overlap
    ("category_drop", (0, 5, 0.0, True), False),
    ("excessive_overlap", (5, 10, 10, 0.5), True),  # both shares reach gamma
    ("excessive_overlap", (5, 10, 11, 0.5), False),  # j's share falls short
    ("excessive_overlap", (4, 10, 8, 0.5), False),  # i's share falls short
    ("excessive_overlap", (0, 10, 5, 0.0), True),  # gamma = 0
    ("excessive_overlap", (0, 10, 0, 0.0), False),  # reference: j has no visible pixels left
    ("overlap_may_be_excessive", (4, 10, 5, 0.5, False), False),
    ("overlap_may_be_excessive", (5, 10, 10, 0.5, False), True),
    ("overlap_may_be_excessive", (5, 10, 20, 0.5, False), False),  # paper bounds both sides
    ("overlap_may_be_excessive", (5, 10, 20, 0.5, True), True),  # reference bounds only i's side
    ("overlap_may_be_excessive", (4, 10, 1, 0.5, True), False),
    ("takes_over", (2.0, 1.0), True),  # the smaller relation value is in front
    ("takes_over", (1.0, 1.0), False),  # strict: a tie does not take a pixel over
    ("takes_over", (0.0, 1.0), False),
    ("takes_over", (INF, 0.0), True),  # free pixels (V = +inf)
    ("canvas_drop", (6, 10, 0.6), True),  # |C|/|I| = tau drops
    ("canvas_drop", (7, 10, 0.6), False),
    ("canvas_drop", (0, 10, 0.0), True),
    ("occupancy_drop", (5, 10, 0.5), False),  # heuristic: occupied share = tau is kept
    ("occupancy_drop", (6, 10, 0.5), True),
    ("occupancy_drop", (0, 10, 0.0), False),
    # OCFusion (docs/fusion.md, "OCFusion (strategy ocfusion), exactly")
    ("ocf_pair_met_reference", (2, 10, 100, 0.2), True),  # reference: i's share reaches theta
    ("ocf_pair_met_reference", (2, 100, 10, 0.2), True),  # ... or the segment's
    ("ocf_pair_met_reference", (1, 10, 10, 0.2), False),
    ("ocf_pair_met_original", (3, 10, 0.2), True),  # original: i's share only
    ("ocf_pair_met_original", (2, 10, 0.2), False),  # 2 / (10 + 0.0001) in float32 < 0.2
    ("ocf_pair_met_original", (10000, 50000, 0.2), True),  # rounds up to float32(0.2)
    ("ocf_in_front", (0.0, False), False),  # reference: logit > 0 (sigmoid > 0.5)
    ("ocf_in_front", (1e-9, False), True),
    ("ocf_in_front", (0.5, True), False),  # original: raw logit > 0.5
    ("ocf_in_front", (0.51, True), True),
    ("ocf_in_front", (math.nan, False), False),  # no logit in the file: never in front
    ("ocf_in_front", (math.nan, True), False),
]
CHECKS = sorted({name for name, _, _ in HAND_CASES})


@pytest.mark.parametrize("name,args,expected", HAND_CASES)
def test_checks_on_hand_cases_plain_and_compiled(name, args, expected):
    assert getattr(decisions, name)(*args) is expected
    assert bool(getattr(decisions_jit, name)(*args)) is expected


def test_takes_over_works_elementwise_for_the_twins():
    v = np.array([INF, 2.0, 1.0, 0.5])
    assert decisions.takes_over(v, 1.0).tolist() == [True, True, False, False]


def test_stuff_numbering_and_emptied_marking_plain_and_compiled():
    for fn in (decisions.number_stuff_segments, decisions_jit.number_stuff_segments):
        counts = np.array([0, 9, 4, 3, 7], np.int64)
        is_stuff = np.array([True, True, True, True, False])
        seg, cls = np.zeros(5, np.int64), np.zeros(5, np.int64)
        k = fn(counts, is_stuff, 4, 2, seg, cls)  # 4 free pixels are enough, 3 are not, 0 never
        assert (k, seg.tolist(), cls[:k].tolist()) == (2, [0, 3, 4, 0, 0], [1, 2])
        assert fn(counts, is_stuff, 0, 0, seg, cls) == 3  # stuff_area 0: still no empty class
    for fn in (decisions.mark_emptied, decisions_jit.mark_emptied):
        st_ = np.array([status.KEPT, status.KEPT, status.CANVAS, status.KEPT], np.int8)
        fn(st_, np.array([3, 0, 0, 0], np.int64), np.array([0, 1, 3], np.int64), 2)  # 3 is not among the first 2
        assert st_.tolist() == [status.KEPT, status.EMPTIED, status.CANVAS, status.KEPT]


def _checks_called(module) -> set[str]:
    """Names ``decide.<name>`` that a fusion path's source calls."""
    tree = ast.parse(inspect.getsource(module))
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "decide"
    }


@pytest.mark.parametrize("name", decisions_jit.__all__)
def test_one_definition_of_each_check(name):
    plain = getattr(decisions, name)
    jitted = getattr(decisions_jit, name)
    assert jitted.py_func is plain  # the kernels' helper is compiled from the plain function
    assert fusion.decide is sweep.decide is decisions_jit  # the kernels call the compiled build
    assert _reference_fusion.decide is _reference_sweep.decide is decisions  # the twins the plain one
    assert ocfusion.decide is decisions_jit and _reference_ocfusion.decide is decisions
    paths = (fusion, sweep, _reference_fusion, _reference_sweep, ocfusion, _reference_ocfusion)
    users = [m for m in paths if name in _checks_called(m)]
    if name == "overlap_may_be_excessive":  # a pruning bound of the run kernel only
        assert users == [fusion]
    elif name.startswith("ocf_"):  # OCFusion's own checks
        assert users == [ocfusion, _reference_ocfusion], name
    elif name in ("canvas_drop", "occupancy_drop", "mark_emptied"):  # shared with OCFusion
        assert users == list(paths), name
    else:
        assert users == [fusion, sweep, _reference_fusion, _reference_sweep], name


def _threshold_comparisons(module) -> list[str]:
    tree = ast.parse(inspect.getsource(module))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            names = {n.id for part in [node.left, *node.comparators] for n in ast.walk(part) if isinstance(n, ast.Name)}
            if names & {"tau", "gamma"}:
                found.append(f"{module.__name__}:{node.lineno}")
    return found


def test_no_fusion_path_compares_a_threshold_itself():
    for module in (fusion, sweep, _reference_fusion, _reference_sweep, ocfusion, _reference_ocfusion):
        assert _threshold_comparisons(module) == []
    assert _threshold_comparisons(decisions)  # the checks live here


def test_status_names_are_defined_once():
    from rapkit.core import fusion as core_fusion

    assert status.STATUS_NAMES[status.KEPT] == "kept" and status.STATUS_NAMES[status.UNSEEN] == "unseen"
    assert len(status.STATUS_NAMES) == 8
    assert core_fusion.STATUS_NAMES is status.STATUS_NAMES is fusion.STATUS_NAMES
    assert status.reported(np.array([7, 0, 6, 7], np.int8)).tolist() == [1, 0, 6, 1]


# --------------------------------------------------------------------------- four paths agree


@st.composite
def scenes(draw):
    """Small scenes drawn pixel by pixel (so failures shrink), with near-duplicate masks."""
    h = draw(st.integers(1, 8))
    w = draw(st.integers(1, 8))
    n = draw(st.integers(1, 7))
    masks = []
    for k in range(n):
        src = draw(st.integers(-1, k - 1))
        if src >= 0:  # a near-duplicate of an earlier mask
            m = masks[src].copy().ravel()
            for p in draw(st.lists(st.integers(0, h * w - 1), max_size=3)):
                m[p] = not m[p]
            m = m.reshape(h, w)
        else:
            m = np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w)), bool).reshape(h, w)
        masks.append(m)
    scores = np.array(draw(st.lists(st.sampled_from([0.3, 0.5, 0.8, 1.0]), min_size=n, max_size=n)))
    rels = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=n, max_size=n)), np.float64)
    labels = np.array(draw(st.lists(st.sampled_from([1, 2]), min_size=n, max_size=n)), np.int64)
    sem = np.array(draw(st.lists(st.sampled_from([0, 5, 6]), min_size=h * w, max_size=h * w)), np.uint8).reshape(h, w)
    return h, w, masks, scores, rels, labels, sem


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenes(),
    st.sampled_from(list(itertools.product([False, True], repeat=4))),
    st.sampled_from([0.0, 0.25, 0.5, 0.6, 1.0]),
    st.sampled_from([0.0, 0.5, 0.6, 1.0]),
)
def test_pixel_and_atom_paths_agree_with_each_other_and_their_twins(scene, flags, tau, gamma):
    h, w, masks, scores, rels, labels, sem = scene
    ra, ca, eo, reference = flags
    kw = {"tau": tau, "gamma": gamma, "ra": ra, "ca": ca, "eo": eo, "reference": reference}
    runs = runs_from_full(masks, h, w)
    boxes, areas = runs[0], runs[1]
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    order = np.ascontiguousarray(order[scores[order] >= 0.5])
    # pixels (column runs): kernel and twin
    canvas, st_px, vis_px, _ = fusion.fuse_runs(*runs, labels, rels, order, w, h, **kw)
    twin = ref_fuse_runs(*runs, labels, rels, order, w, h, **kw)
    assert np.array_equal(canvas, twin[0]) and np.array_equal(st_px, twin[1]) and np.array_equal(vis_px, twin[2])
    # atoms: kernel and twin
    overlaps = fusion.pairwise_overlaps(boxes, *runs[2:])
    keys = sweep.xmajor_keys(np.zeros((h, w), np.uint32), sem)
    weight, base, base_keys, ptr, idx = sweep.build_atoms(keys, h, boxes, *runs[2:])
    owner, st_at, vis_at = sweep.fuse_atoms(weight, ptr, idx, areas, boxes, labels, rels, order, overlaps, **kw)
    twin = ref_fuse_atoms(weight, ptr, idx, areas, boxes, labels, rels, order, overlaps, **kw)
    assert np.array_equal(owner, twin[0]) and np.array_equal(st_at, twin[1]) and np.array_equal(vis_at, twin[2])
    # the two paths: same decisions, same visible counts, same owner of every pixel
    assert np.array_equal(st_px, st_at)
    assert np.array_equal(vis_px, vis_at)
    atom_of = {}
    cover = [set() for _ in range(weight.shape[0])]
    for k in range(len(masks)):
        for a in idx[ptr[k] : ptr[k + 1]]:
            cover[int(a)].add(k)
    for a in range(weight.shape[0]):
        atom_of[(int(base_keys[base[a]]), frozenset(cover[a]))] = a
    for y in range(h):
        for x in range(w):
            sig = (int(keys[x * h + y]), frozenset(k for k in range(len(masks)) if masks[k][y, x]))
            assert canvas[y, x] - 1 == owner[atom_of[sig]], (y, x)
