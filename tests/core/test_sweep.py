"""The atom-based sweep equals pixel fusion + PQ for every setting (and its kernels their twins)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.core.fusion import decode_scene, fuse_scene, stuff_table
from rapkit.core.pq import merge_stats, pq_stats, summarize
from rapkit.core.sweep import (
    GTArrays,
    ablation_grid,
    fuse_prepared,
    image_grid_counts,
    image_stats,
    image_stats_grid,
    make_grid,
    prepare_image,
)
from rapkit.core.sweep_totals import GridTotals, StatsTotals
from rapkit.errors import ConfigError
from rapkit.kernels import sweep as K
from rapkit.kernels._reference_sweep import (
    canonical_atoms,
    ref_add_grid,
    ref_build_atoms,
    ref_fuse_atoms,
    ref_fuse_atoms_grid,
    ref_pair_counts,
    ref_pred_ids,
    ref_xmajor_keys,
)
from rapkit.synth import SynthConfig, categories, generate_image
from rapkit.types import FusionParams, Proposals

CATS = {c.id: c for c in categories()}
IS_STUFF = stuff_table(CATS)


def _all_settings():
    out = []
    for rho, tau, gamma in itertools.product([0.3, 0.6], [0.4, 0.6], [0.5, 0.8]):
        out.append(FusionParams(strategy="heuristic", rho=rho, tau=tau))
        for ra, ca, eo, var in itertools.product([True, False], repeat=3 + 1):
            out.append(
                FusionParams(
                    rho=rho, tau=tau, gamma=gamma, ra=ra, ca=ca, eo=eo, variant="reference" if var else "paper"
                )
            )
    return out


@pytest.fixture(scope="module")
def world():
    cfg = SynthConfig(
        n_images=4,
        height=96,
        width=128,
        seed=11,
        things_per_image=9,
        p_dup_same=0.4,
        p_dup_other=0.3,
        false_per_image=1.0,
        render_images=False,
    )
    return [generate_image(cfg, k) for k in range(cfg.n_images)]


def test_atoms_sweep_equals_pixel_fusion_and_pq(world):
    settings_ = _all_settings()
    for pos, img in enumerate(world):
        scene = decode_scene(img.proposals)
        prep = prepare_image(scene, img.semantic, img.id_map, img.segments, pos)
        assert int(prep.weight.sum()) == img.height * img.width
        for p in settings_:
            res = fuse_scene(scene, img.semantic, p, CATS)
            want = pq_stats(
                img.id_map, img.segments, res.segments, CATS, pred_map=res.id_map, image_id=img.image_id, order=pos
            )
            got = image_stats(prep, p, CATS, IS_STUFF)
            assert got == want, (img.image_id, p)
            _, segs, status = fuse_prepared(prep, p, IS_STUFF)
            assert np.array_equal(status, res.status), p  # same statuses, unseen reported as score
            assert [(s["id"], s["category_id"]) for s in segs] == [(s.id, s.category_id) for s in res.segments]


def test_grid_stats_and_running_totals_equal_the_merged_per_image_stats(world):
    """What the pipeline keeps (one statistics object per distinct outcome of an image, then
    running totals per setting) gives the results of every per-image statistics merged."""
    grid = _all_settings() + [FusionParams.of("ocfusion", rho=r, tau=t) for r in (0.3, 0.6) for t in (0.4, 0.6)]
    parts = [[] for _ in grid]
    totals = [StatsTotals() for _ in grid]
    together = GridTotals(len(grid))
    cat_ids = np.array(sorted(CATS), np.int64)
    as_arrays = GridTotals(len(grid), cat_ids.tolist())
    for pos, img in enumerate(world):
        prep = prepare_image(decode_scene(img.proposals), img.semantic, img.id_map, img.segments, pos)
        got = image_stats_grid(prep, grid, CATS, IS_STUFF)
        assert len({id(g) for g in got}) < len(grid)  # outcomes are shared
        for k, p in enumerate(grid):
            want = image_stats(prep, p, CATS, IS_STUFF)
            assert got[k] == want, (img.image_id, p)
            parts[k].append(want)
            totals[k].add(got[k])
        together.add(got)
        seg = np.array([(g.id, g.category_id, g.area, g.iscrowd) for g in img.segments], np.int64).reshape(-1, 4)
        gt = GTArrays(cat_ids, np.ones(cat_ids.size, bool), seg[:, 0], np.searchsorted(cat_ids, seg[:, 1]), seg[:, 2], seg[:, 3])  # fmt: skip
        as_arrays.add_image(image_grid_counts(prep, grid, gt, CATS, IS_STUFF))  # the kernel matcher
    for k in range(len(grid)):
        a = summarize(totals[k].to_stats(), CATS)
        b = summarize(merge_stats(parts[k]), CATS)
        c = summarize(together.to_stats(k), CATS)
        d = summarize(as_arrays.to_stats(k), CATS)
        assert repr(a.to_dict()) == repr(b.to_dict()) == repr(c.to_dict()) == repr(d.to_dict()), grid[
            k
        ]  # every float equal (NaN too)
        assert a.n_images == c.n_images == len(world)
        x, y = together.to_stats(k), totals[k].to_stats()
        assert dict(zip(x.category.tolist(), x.iou.tolist())) == dict(zip(y.category.tolist(), y.iou.tolist()))
    with pytest.raises(ValueError, match="increasing position"):
        totals[0].add(parts[0][1])
    with pytest.raises(ValueError, match="increasing position"):
        together.add([parts[k][1] for k in range(len(grid))])
    assert summarize(StatsTotals().to_stats(), CATS).n_images == 0


def _scene_from_masks(masks, scores, labels, rels):
    from pycocotools import mask as mu

    h, w = masks[0].shape
    rles = []
    for m in masks:
        r = mu.encode(np.asfortranarray(m.astype(np.uint8)))
        rles.append({"size": [h, w], "counts": r["counts"].decode()})
    p = Proposals(1, h, w, np.array(scores, float), np.array(labels, np.int64), np.array(rels, float), rles)
    return decode_scene(p)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_kernels_equal_twins(data):
    h = data.draw(st.integers(3, 12))
    w = data.draw(st.integers(3, 12))
    n = data.draw(st.integers(1, 6))
    masks = []
    for _ in range(n):
        bits = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
        masks.append(np.array(bits, bool).reshape(h, w))
    scores = data.draw(st.lists(st.sampled_from([0.2, 0.5, 0.7, 0.9]), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.sampled_from([1, 2]), min_size=n, max_size=n))
    rels = data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=n, max_size=n))
    scene = _scene_from_masks(masks, scores, labels, rels)
    gt = np.array(data.draw(st.lists(st.integers(0, 3), min_size=h * w, max_size=h * w)), np.uint32).reshape(h, w)
    sem = np.array(
        data.draw(st.lists(st.sampled_from([0, 187, 190]), min_size=h * w, max_size=h * w)), np.uint8
    ).reshape(h, w)
    keys = K.xmajor_keys(gt, sem)
    assert np.array_equal(keys, ref_xmajor_keys(gt, sem))
    runs = (scene.boxes, scene.col_offsets, scene.col_ptr, scene.run_y0, scene.run_y1)
    got = K.build_atoms(keys, h, *runs)
    ref = ref_build_atoms(keys, h, *runs)
    assert canonical_atoms(*got) == canonical_atoms(*ref)
    weight, base, base_keys, ptr, idx = got
    ov = scene.overlaps()
    tau = data.draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    gamma = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
    sw = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()))
    kw = dict(tau=tau, gamma=gamma, ra=sw[0], ca=sw[1], eo=sw[2], reference=sw[3])
    a = K.fuse_atoms(weight, ptr, idx, scene.areas, scene.boxes, scene.labels, scene.relations, scene.order, ov, **kw)
    b = ref_fuse_atoms(weight, ptr, idx, scene.areas, scene.boxes, scene.labels, scene.relations, scene.order, ov, **kw)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    # every setting of a small grid in one call, outcomes grouped: the twin's answer
    n_set = data.draw(st.integers(1, 5))
    grid = [data.draw(st.tuples(st.sampled_from([0.0, 0.5, 0.8]), st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([0.5, 1.0]), st.tuples(*[st.booleans()] * 4), st.sampled_from([0, 3]))) for _ in range(n_set)]  # fmt: skip
    rho, taus, gammas, sws, stuff = (np.array(v) for v in zip(*grid))
    args = (weight, ptr, idx, scene.areas, scene.boxes, scene.labels, scene.relations, scene.scores, scene.order, ov)
    g1 = K.fuse_atoms_grid(*args, rho, taus, gammas, sws, stuff)
    g2 = ref_fuse_atoms_grid(*args, rho, taus, gammas, sws, stuff)
    for x, y in zip(g1, g2):
        assert np.array_equal(x, y)
    s0 = grid[0]
    one = K.fuse_atoms(*args[:7], scene.order[scene.scores[scene.order] >= s0[0]], ov, tau=s0[1], gamma=s0[2], ra=s0[3][0], ca=s0[3][1], eo=s0[3][2], reference=s0[3][3])  # fmt: skip
    assert np.array_equal(g1[0][0], one[0]) and np.array_equal(g1[1][0], one[1])
    # the running totals' kernel and its twin: same integers, same float sums bit for bit
    tot = [np.zeros((n_set, 3), t) for t in (np.int64, np.int64, np.int64, np.float64, np.bool_)]
    tot2 = [t.copy() for t in tot]
    mp = np.array([0, n_set], np.int64)
    mem = np.arange(n_set, dtype=np.int64)
    ious = np.array(data.draw(st.lists(st.floats(0.5, 1.0), min_size=1, max_size=6)), np.float64)
    pc = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(ious), max_size=len(ious))), np.int64)
    cnt = (np.array([0, 2], np.int64), np.array([0, 2], np.int64), np.array([1, 0], np.int64), np.array([2, 1], np.int64), np.array([0, 3], np.int64))  # fmt: skip
    for _ in range(2):
        K.add_grid(*tot, mp, mem, *cnt, np.array([0, len(ious)], np.int64), pc, ious)
        ref_add_grid(*tot2, mp, mem, *cnt, np.array([0, len(ious)], np.int64), pc, ious)
    for x, y in zip(tot, tot2):
        assert np.array_equal(x, y)
    owner = a[0]
    lut = np.arange(1, n + 1, dtype=np.int64)
    atom_sem = (base_keys[base] & np.uint64(255)).astype(np.uint8)
    p1 = K.pred_ids(owner, weight, atom_sem, lut, IS_STUFF, 3, n)
    p2 = ref_pred_ids(owner, weight, atom_sem, lut, IS_STUFF, 3, n)
    assert np.array_equal(p1[0], p2[0]) and np.array_equal(p1[1], p2[1])
    atom_gt = (base_keys[base] >> np.uint64(8)).astype(np.int64)
    c1 = K.pair_counts(atom_gt, p1[0], weight)
    c2 = ref_pair_counts(atom_gt, p1[0], weight)
    assert np.array_equal(c1[0], c2[0]) and np.array_equal(c1[1], c2[1])


def test_make_grid_defaults_and_errors():
    g = make_grid(["rho", "tau", "gamma"])
    assert len(g) == 4 * 4 * 4
    assert {(p.rho, p.tau, p.gamma) for p in g} >= {(0.5, 0.5, 0.5), (0.6, 0.6, 0.5), (0.6, 0.5, 0.6)}
    g = make_grid(["rho"], rho=[0.5, 0.7], tau=[0.4])
    assert [(p.rho, p.tau) for p in g] == [(0.5, 0.4), (0.7, 0.4)]
    with pytest.raises(ConfigError, match="sweep"):
        make_grid(["alpha"])
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        make_grid(["rho"], rho=[1.5])
    with pytest.raises(ConfigError, match="empty"):
        make_grid(["rho"], rho=[])
    with pytest.raises(ConfigError, match="not swept"):
        make_grid(["rho"], tau=[0.4, 0.5])
    rows = ablation_grid(FusionParams(rho=0.6, tau=0.6, gamma=0.5))
    assert [n for n, _ in rows] == ["heuristic", "RA", "RA+CA", "RA+CA+EO"]
    assert rows[0][1].strategy == "heuristic" and rows[3][1].eo


def test_grid_counts_name_a_gt_problem_as_pq_stats_does(world):
    """An outcome the kernel matcher declines (here: two GT segments with one id) goes to the
    readable matcher, which names the image and the segment."""
    from rapkit.errors import InputError

    img = world[0]
    prep = prepare_image(decode_scene(img.proposals), img.semantic, img.id_map, img.segments, 0)
    cat_ids = np.array(sorted(CATS), np.int64)
    seg = np.array([(g.id, g.category_id, g.area, g.iscrowd) for g in img.segments], np.int64)
    seg[1, 0] = seg[0, 0]
    prep.gt_segments[1]["id"] = prep.gt_segments[0]["id"]
    gt = GTArrays(cat_ids, np.ones(cat_ids.size, bool), seg[:, 0], np.searchsorted(cat_ids, seg[:, 1]), seg[:, 2], seg[:, 3])  # fmt: skip
    with pytest.raises(InputError, match="duplicate segment id in the GT") as e:
        image_grid_counts(prep, make_grid(["tau"], tau=[0.5]), gt, CATS, IS_STUFF)
    assert e.value.segment_id == int(seg[0, 0]) and e.value.image_id == img.image_id
