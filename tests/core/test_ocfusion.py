"""``strategy="ocfusion"`` through the library: FusionParams, fuse_scene / fuse_image with the
proposals' pair logits, a scene decoded at rho, exact decisions on the synthetic world."""

from __future__ import annotations

import numpy as np
import pytest

from rapkit.core.fusion import decode_scene, fuse_image, fuse_scene, stuff_table
from rapkit.errors import ConfigError
from rapkit.kernels import _reference as ref
from rapkit.kernels.ocfusion import pair_matrix
from rapkit.types import Category, FusionParams

CATS = {46: Category(46, "wine glass", True), 67: Category(67, "dining table", True), 187: Category(187, "sky", False)}


def with_pairs(p, pairs: dict[tuple[int, int], float]):
    p.pair_i = np.array([i for i, _ in pairs], np.int64)
    p.pair_j = np.array([j for _, j in pairs], np.int64)
    p.pair_logit = np.array(list(pairs.values()), np.float64)
    return p


def test_params_of_ocfusion():
    p = FusionParams.of("ocfusion")
    assert (p.strategy, p.variant, p.rho, p.tau) == ("ocfusion", "reference", 0.5, 0.5)
    assert FusionParams.of("ocfusion", variant="original", tau=0.3).tau == 0.3
    assert FusionParams(strategy="ocfusion").variant == "reference"  # the field's default stands for it
    assert (
        FusionParams.of("rap").variant == "paper"
        and FusionParams.of("heuristic", variant="reference").variant == "reference"
    )
    assert FusionParams.of("ocfusion").switches() == (False, False, False, False)
    with pytest.raises(ConfigError, match="--variant paper does not apply to --strategy ocfusion"):
        FusionParams.of("ocfusion", variant="paper")
    with pytest.raises(ConfigError, match="strategy rap has no variant 'original'"):
        FusionParams(variant="original")


def test_glass_on_table_by_the_pair_head(scene_kit):
    h, w = 40, 60
    table = scene_kit.rect(h, w, 10, 40, 0, 60)
    glass = scene_kit.rect(h, w, 15, 25, 20, 28)  # entirely on the table
    sem = np.full((h, w), 187, np.uint8)
    p = scene_kit.props([table, glass], [0.95, 0.85], [67, 46], [np.nan, np.nan])
    # no pair logits: the glass cannot reclaim, its kept share is 0 and it is dropped
    _, segs = fuse_image(p, sem, FusionParams.of("ocfusion", stuff_area=0), CATS)
    assert [s.category_id for s in segs] == [67, 187]
    with_pairs(p, {(1, 0): 6.0, (0, 1): -6.0})
    for variant in ("reference", "original"):
        id_map, segs = fuse_image(p, sem, FusionParams.of("ocfusion", variant=variant, stuff_area=0), CATS)
        assert [s.category_id for s in segs] == [67, 46, 187]
        assert (id_map[glass] == 2).all() and segs[0].area == table.sum() - glass.sum()
        assert segs[0].relation is None and segs[1].score == 0.85
    # a raw logit of 0.4 is in front for the RAP authors' code (sigmoid > 0.5) only
    with_pairs(p, {(1, 0): 0.4})
    assert len(fuse_image(p, None, FusionParams.of("ocfusion"), CATS)[1]) == 2
    assert len(fuse_image(p, None, FusionParams.of("ocfusion", variant="original"), CATS)[1]) == 1
    # rho drops the glass before any pair is asked
    assert len(fuse_image(p, None, FusionParams.of("ocfusion", rho=0.9), CATS)[1]) == 1


@pytest.mark.parametrize("variant", ["reference", "original"])
def test_scene_decoded_at_rho_and_events_match_the_twin(variant):
    from rapkit.synth import SynthConfig, categories, generate_image

    cfg = SynthConfig(n_images=2, height=60, width=80, seed=5, render_images=False, things_per_image=8)
    table = stuff_table(categories())
    rng = np.random.default_rng(0)
    for k in range(cfg.n_images):
        img = generate_image(cfg, k)
        n = len(img.proposals)
        lg = rng.choice([np.nan, -2.0, 0.3, 2.0], size=(n, n))
        ii, jj = np.nonzero(~np.isnan(lg) & ~np.eye(n, dtype=bool))
        with_pairs(img.proposals, dict(zip(zip(ii.tolist(), jj.tolist()), lg[ii, jj].tolist())))
        params = FusionParams.of("ocfusion", variant=variant)
        whole = fuse_scene(decode_scene(img.proposals), img.semantic, params, table, record_events=True)
        scene = decode_scene(img.proposals, params.rho)
        at_rho = fuse_scene(scene, img.semantic, params, table, record_events=True)
        assert np.array_equal(whole.id_map, at_rho.id_map) and np.array_equal(whole.events, at_rho.events)
        assert [s.to_json() for s in whole.segments] == [s.to_json() for s in at_rho.segments]
        s = decode_scene(img.proposals)
        canvas, status, _, ev = ref.ref_fuse_ocfusion(
            s.boxes, s.areas, s.col_offsets, s.col_ptr, s.run_y0, s.run_y1, s.labels, s.candidates(params.rho),
            s.width, s.height, pair_matrix(n, *s.pairs), tau=params.tau, original=variant == "original",
            record_events=True,
        )  # fmt: skip
        assert np.array_equal(ev, whole.events)
        assert np.array_equal(whole.segment_of > 0, (canvas[..., None] == np.arange(1, n + 1)).any((0, 1)))


def test_exact_decisions_order_more_instances_than_the_heuristic():
    """Pair logits from the true depth order: more kept instances match their visible GT
    segment than with the heuristic's score order."""
    from rapkit.synth import SynthConfig, categories, generate_image

    cfg = SynthConfig(n_images=6, height=100, width=140, seed=11, render_images=False, things_per_image=9)
    table = stuff_table(categories())
    counts = {"ocfusion": 0, "heuristic": 0}
    for k in range(cfg.n_images):
        img = generate_image(cfg, k)
        depth = {i.id: i.depth for i in img.instances}
        scene = decode_scene(img.proposals)
        ov = scene.overlaps()
        inst = img.proposal_instance
        pairs = {}
        for a, b in zip(*np.nonzero(ov)):
            ia, ib = int(inst[a]), int(inst[b])
            if ia >= 0 and ib >= 0 and ia != ib:
                pairs[(int(a), int(b))] = 8.0 if depth[ia] < depth[ib] else -8.0
        with_pairs(img.proposals, pairs)
        scene = decode_scene(img.proposals)
        for name, params in (("ocfusion", FusionParams.of("ocfusion")), ("heuristic", FusionParams.heuristic())):
            res = fuse_scene(scene, img.semantic, params, table)
            for kk, sid in enumerate(res.segment_of.tolist()):
                i = int(inst[kk])
                if sid and i >= 0:
                    pred, gt = res.id_map == sid, img.id_map == i
                    counts[name] += int((pred & gt).sum() / (pred | gt).sum() > 0.5)
    print("instances matched:", counts)
    assert counts["ocfusion"] > counts["heuristic"], counts


def test_original_without_a_pair_in_front_is_the_heuristic():
    from rapkit.synth import SynthConfig, categories, generate_image

    cfg = SynthConfig(n_images=3, height=60, width=80, seed=9, render_images=False, things_per_image=8)
    table = stuff_table(categories())
    for k in range(cfg.n_images):
        img = generate_image(cfg, k)
        scene = decode_scene(img.proposals)
        for tau in (0.3, 0.5):
            a = fuse_scene(scene, img.semantic, FusionParams.of("ocfusion", variant="original", tau=tau), table)
            b = fuse_scene(scene, img.semantic, FusionParams.heuristic(tau=tau), table)
            assert np.array_equal(a.id_map, b.id_map) and np.array_equal(a.status, b.status)
