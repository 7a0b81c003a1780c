"""Relation accuracy: hand-built cases with known answers, merging, a synthetic world."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import inst, props, rect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.core.fusion import decode_scene
from rapkit.core.relation_acc import (
    RelationAccStats,
    image_relation_stats,
    match_proposals,
    relation_accuracy_image,
    summarize,
)
from rapkit.types import FusionParams

H, W = 40, 60
TABLE = rect(H, W, 10, 40, 0, 60)
GLASS = rect(H, W, 15, 25, 20, 28)
GT = [inst(10, 67, TABLE), inst(20, 46, GLASS)]


def test_glass_on_table_correct_relation_wrong_score_order():
    p = props([TABLE, GLASS], [0.9, 0.8], [67, 46], [5.0, 1.0])
    st = relation_accuracy_image(p, GT, [(20, 10)], FusionParams())
    assert (st.events, st.fusion_pairs, st.fusion_correct, st.fusion_score_correct) == (1, 1, 1, 0)
    assert (st.gt_pairs, st.pairs, st.pair_correct, st.pair_score_correct) == (1, 1, 1, 0)
    assert (st.matched, st.instances, st.proposals) == (2, 2, 2)


def test_wrong_relation_values_are_counted_even_when_the_proposal_is_then_dropped():
    p = props([TABLE, GLASS], [0.9, 0.8], [67, 46], [1.0, 5.0])
    st = relation_accuracy_image(p, GT, [(20, 10)], FusionParams())
    assert (st.fusion_pairs, st.fusion_correct, st.pair_correct) == (1, 0, 0)
    s = summarize(st)
    assert s["fusion_accuracy"] == 0.0 and s["pair_accuracy"] == 0.0


def test_ties_unknown_relations_unmatched_and_duplicates():
    dup = rect(H, W, 11, 40, 0, 60)  # a second table proposal, lower IoU: unmatched (one-to-one)
    other = rect(H, W, 0, 8, 0, 10)  # a false detection: no instance
    p = props([TABLE, GLASS, dup, other], [0.9, 0.8, 0.7, 0.95], [67, 46, 67, 1], [3.0, 3.0, 0.5, 2.0])
    scene = decode_scene(p)
    match = match_proposals(scene, GT)
    assert match.tolist() == [10, 20, -1, -1]
    st = relation_accuracy_image(p, GT, [(20, 10)], FusionParams(ca=False, eo=False, tau=0.0))
    assert st.fusion_pairs == 1 and st.fusion_ties == 1 and st.fusion_correct == 0
    assert st.pair_ties == 1
    # no known relation between the two instances: nothing counted
    st2 = relation_accuracy_image(p, GT, [], FusionParams(ca=False, eo=False, tau=0.0))
    assert st2.fusion_pairs == 0 and st2.pairs == 0 and st2.events == st.events


def test_matching_needs_same_category_iou_above_half_and_skips_crowd():
    p = props([TABLE, GLASS], [0.9, 0.8], [1, 46], [1.0, 2.0])
    scene = decode_scene(p)
    assert match_proposals(scene, GT).tolist() == [-1, 20]
    assert match_proposals(scene, [inst(20, 46, GLASS, crowd=1)]).tolist() == [-1, -1]
    half = rect(H, W, 15, 25, 20, 24)  # IoU exactly 0.5: not a match (strict)
    assert match_proposals(decode_scene(props([half], [0.9], [46], [0.0])), GT).tolist() == [-1]


def brute_force_match(masks, labels, gts, threshold=0.5):
    """match_proposals written out on full-image masks (IoU > threshold, greedy, one-to-one)."""
    cand = []
    for g in gts:
        full = np.zeros_like(masks[0])
        full[g.y0 : g.y0 + g.mask.shape[0], g.x0 : g.x0 + g.mask.shape[1]] = g.mask
        for k, m in enumerate(masks):
            if labels[k] != g.category_id or g.iscrowd:
                continue
            inter, union = int((m & full).sum()), int((m | full).sum())
            if union and inter / union > threshold:
                cand.append((-inter / union, k, g.id))
    out, used = [-1] * len(masks), set()
    for _, k, gid in sorted(cand):
        if out[k] < 0 and gid not in used:
            out[k] = gid
            used.add(gid)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_matching_from_the_runs_equals_full_mask_ious(data):
    """The IoUs come from the scene's column runs (box crops made from them): the same matches
    as full-image masks give, including ragged masks, ties and crowd instances."""
    h, w = data.draw(st.integers(2, 14)), data.draw(st.integers(2, 14))

    def drawn_mask():
        y0, y1 = sorted(data.draw(st.tuples(st.integers(0, h), st.integers(0, h))))
        x0, x1 = sorted(data.draw(st.tuples(st.integers(0, w), st.integers(0, w))))
        m = rect(h, w, y0, y1, x0, x1)
        holes = np.array(data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w)), bool).reshape(h, w)
        return m & ~holes if data.draw(st.booleans()) else m

    n = data.draw(st.integers(1, 6))
    masks = [drawn_mask() for _ in range(n)]
    labels = data.draw(st.lists(st.sampled_from([1, 2]), min_size=n, max_size=n))
    gts = []
    for gid in range(10, 10 + data.draw(st.integers(0, 4))):
        m = drawn_mask() if data.draw(st.booleans()) else masks[data.draw(st.integers(0, n - 1))].copy()
        if m.any():
            gts.append(inst(gid, data.draw(st.sampled_from([1, 2])), m, crowd=int(data.draw(st.booleans()))))
    scene = decode_scene(props(masks, [0.9] * n, labels, [0.0] * n))
    assert match_proposals(scene, gts).tolist() == brute_force_match(masks, labels, gts)


def test_events_only_from_the_pair_loop():
    # the glass proposal is dropped by the category-aware check before the pair loop: no event
    glass2 = rect(H, W, 15, 25, 20, 27)
    p = props([GLASS, glass2, TABLE], [0.9, 0.85, 0.8], [46, 46, 67], [1.0, 1.5, 5.0])
    st = relation_accuracy_image(p, GT, [(20, 10)], FusionParams())
    assert st.events == 1 and st.fusion_pairs == 1 and st.fusion_correct == 1 and st.fusion_score_correct == 1


def test_stats_merge_in_any_order():
    rng = np.random.default_rng(0)
    parts = [
        RelationAccStats(**{k: int(v) for k, v in zip(RelationAccStats().to_dict(), rng.integers(0, 9, 14))})
        for _ in range(5)
    ]
    a = parts[0] + parts[1] + parts[2] + parts[3] + parts[4]
    b = (parts[4] + parts[2]) + (parts[0] + (parts[3] + parts[1]))
    assert a == b and a.images == sum(p.images for p in parts)
    assert math.isnan(summarize(RelationAccStats())["pair_accuracy"])


def test_pair_accuracy_matches_the_simulated_relation_noise():
    """Synthetic world: relation = depth + N(0, s^2), so a pair with depth gap d is right with
    probability Phi(d / (s sqrt 2)); measured pair accuracy must be within sampling error."""
    from rapkit.synth import SynthConfig, generate_image

    sigma = 0.8
    cfg = SynthConfig(
        n_images=40, height=120, width=160, seed=5, render_images=False, things_per_image=8, relation_noise=sigma
    )
    total = RelationAccStats()
    expected = []
    for k in range(cfg.n_images):
        img = generate_image(cfg, k)
        depth = {g.id: g.depth for g in img.instances}
        gts = [inst(g.id, g.category_id, g.mask, g.iscrowd) for g in img.instances if g.mask.any()]
        things = [g for g in img.instances if not g.iscrowd]
        pairs = []
        for a in range(len(things)):
            for b in range(a + 1, len(things)):
                ga, gb = things[a], things[b]
                if (ga.mask & gb.mask).any() and ga.depth != gb.depth:
                    pairs.append((ga.id, gb.id) if ga.depth < gb.depth else (gb.id, ga.id))
        scene = decode_scene(img.proposals)
        match = match_proposals(scene, gts)
        st = image_relation_stats(scene, match, pairs, np.zeros((0, 2), np.int64))
        total = total + st
        matched = set(match[match >= 0].tolist())
        for f, b in pairs:
            if f in matched and b in matched:
                expected.append(0.5 * (1 + math.erf((depth[b] - depth[f]) / (sigma * math.sqrt(2)) / math.sqrt(2))))
    assert total.pairs == len(expected) and total.pairs >= 100
    exp = float(np.sum(expected))
    se = math.sqrt(float(np.sum([q * (1 - q) for q in expected])))
    print(
        "pair accuracy: measured", total.pair_correct, "expected", round(exp, 1), "se", round(se, 1), "of", total.pairs
    )
    assert abs(total.pair_correct - exp) <= 4 * se + 1, (total.pair_correct, exp, se)
    assert 0.6 < total.pair_correct / total.pairs < 0.99


def test_evaluate_relations_pipeline_on_a_world(tmp_path):
    from rapkit.cli import main
    from rapkit.pipeline.relation_acc import evaluate_relations
    from rapkit.synth import SynthConfig, make_world

    paths = make_world(tmp_path / "w", SynthConfig(n_images=6, height=96, width=128, seed=2, render_images=False))
    rel = tmp_path / "rel.json"
    with pytest.raises(SystemExit) as ex:
        main(
            [
                "extract-relations",
                "--instances",
                str(paths.instances),
                "--panoptic",
                str(paths.panoptic),
                "-o",
                str(rel),
                "-q",
                "--format",
                "json",
            ]
        )
    assert ex.value.code == 0
    ev = evaluate_relations(relations=rel, proposals=paths.proposals, instances=paths.instances, params=FusionParams())
    s1 = ev.stats
    s2 = evaluate_relations(relations=rel, proposals=paths.proposals, instances=paths.instances, workers=2).stats
    assert s1 == s2 and s1.images == 6 and s1.gt_pairs > 0 and s1.pairs > 0
    assert ev.to_dict()["relation_accuracy"]["pairs"] == s1.pairs == int(ev.to_frame().loc["pairs", "pairs"])
    from rapkit.errors import InputError

    with pytest.raises(InputError, match="relations"):
        evaluate_relations(relations=paths.proposals, proposals=paths.proposals, instances=paths.instances)
