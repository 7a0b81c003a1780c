"""Fusion semantics: paper Fig. 2 cases, the panopticapi rule, perfect proposals, synthetic world."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as cm

from rapkit.core.fusion import decode_scene, fuse_image, fuse_scene, stuff_table
from rapkit.errors import InputError
from rapkit.io.panoptic import load_categories, read_id_map
from rapkit.types import Category, FusionParams, Proposals

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"

CATS = {
    1: Category(1, "person", True),
    44: Category(44, "bottle", True),
    46: Category(46, "wine glass", True),
    67: Category(67, "dining table", True),
    187: Category(187, "sky", False),
    199: Category(199, "wall", False),
}


def rle_of(m: np.ndarray) -> dict:
    r = cm.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": list(r["size"]), "counts": r["counts"].decode("ascii")}


def props(masks, scores, labels, rels=None, image_id=1) -> Proposals:
    h, w = masks[0].shape if masks else (8, 8)
    n = len(masks)
    return Proposals(
        image_id,
        h,
        w,
        np.asarray(scores, float),
        np.asarray(labels, np.int64),
        np.full(n, np.nan) if rels is None else np.asarray(rels, float),
        [rle_of(m) for m in masks],
    )


def rect(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def category_map(id_map, segments):
    lut = {0: 0, **{s.id: s.category_id for s in segments}}
    return np.vectorize(lut.get)(id_map) if id_map.size else id_map


# --------------------------------------------------------------------------- Fig. 2


def test_fig2_ab_wine_glass_on_dining_table():
    h, w = 40, 60
    table = rect(h, w, 10, 40, 0, 60)
    glass = rect(h, w, 15, 25, 20, 28)  # entirely on the table
    p = props([table, glass], [0.95, 0.85], [67, 46], [5.0, 1.0])
    id_h, seg_h = fuse_image(p, None, FusionParams.heuristic(), CATS)
    assert [s.category_id for s in seg_h] == [67]  # the heuristic drops the glass
    id_r, seg_r = fuse_image(p, None, FusionParams(), CATS)
    assert [s.category_id for s in seg_r] == [67, 46]  # RAP keeps both ...
    cat = category_map(id_r, seg_r)
    assert (cat[glass] == 46).all()  # ... with the glass on top
    assert (cat[table & ~glass] == 67).all()
    assert seg_r[0].area == table.sum() - glass.sum() and seg_r[1].area == glass.sum()
    # relation values say the table is in front: the glass is hidden and dropped
    p2 = props([table, glass], [0.95, 0.85], [67, 46], [1.0, 5.0])
    assert [s.category_id for s in fuse_image(p2, None, FusionParams(), CATS)[1]] == [67]


def test_fig2_c_same_category_duplicates_category_aware_check():
    h, w = 40, 60
    a = rect(h, w, 5, 35, 10, 40)
    b = rect(h, w, 7, 37, 12, 42)  # a second proposal of the same person, in front by relation
    p = props([a, b], [0.9, 0.8], [1, 1], [2.0, 1.0])
    scene = decode_scene(p)
    res = fuse_scene(scene, None, FusionParams(), CATS)
    assert len(res.segments) == 1 and res.status.tolist() == [0, 3]  # dropped by the category-aware check
    off = fuse_scene(scene, None, FusionParams(ca=False, eo=False), CATS)
    assert len(off.segments) == 2  # without the check both survive (a sliver of the first)


def test_fig2_d_different_category_duplicates_excessive_overlap_check():
    h, w = 40, 60
    a = rect(h, w, 5, 35, 10, 40)
    b = rect(h, w, 6, 36, 11, 41)
    p = props([a, b], [0.9, 0.8], [1, 44], [2.0, 1.0])
    scene = decode_scene(p)
    res = fuse_scene(scene, None, FusionParams(), CATS)
    assert [s.category_id for s in res.segments] == [1] and res.status.tolist() == [0, 4]
    off = fuse_scene(scene, None, FusionParams(eo=False), CATS)
    assert len(off.segments) == 2
    assert res.counts()["overlap"] == 1


def test_paper_vs_reference_variant_category_check_equality():
    # |I ∩ (P == l)| / |I| == tau exactly: paper (>=) drops, reference (>) keeps
    h, w = 10, 10
    a = rect(h, w, 0, 10, 0, 5)  # 50 px
    b = rect(h, w, 0, 10, 2, 7)  # 50 px, 30 on a (share 0.6)
    p = props([a, b], [0.9, 0.8], [1, 1], [1.0, 0.5])
    paper = fuse_scene(decode_scene(p), None, FusionParams(tau=0.6, eo=False), CATS)
    ref = fuse_scene(decode_scene(p), None, FusionParams(tau=0.6, eo=False, variant="reference"), CATS)
    assert paper.status.tolist() == [0, 3] and ref.status.tolist() == [0, 0]


def test_reference_variant_excessive_overlap_uses_visible_segment():
    h, w = 20, 20
    big = rect(h, w, 0, 20, 0, 20)  # 400 px
    front = rect(h, w, 0, 20, 0, 8)  # 160 px in front of big: 0.4 of it
    dup = rect(h, w, 0, 20, 12, 20)  # 160 px of another category over big's visible remainder
    p = props([big, front, dup], [0.9, 0.8, 0.7], [67, 1, 44], [5.0, 1.0, 4.0])
    paper = fuse_scene(decode_scene(p), None, FusionParams(tau=0.3, gamma=0.5), CATS)
    ref = fuse_scene(decode_scene(p), None, FusionParams(tau=0.3, gamma=0.5, variant="reference"), CATS)
    # paper: |dup ∩ big| / |big| = 160 / 400 < gamma -> kept;
    # reference: 160 of big's 240 visible pixels (0.67 >= gamma) -> dropped
    assert paper.status.tolist() == [0, 0, 0]
    assert ref.status.tolist() == [0, 0, 4]


def test_emptied_segments_are_removed_and_ids_are_sequential():
    h, w = 10, 10
    small = rect(h, w, 2, 4, 2, 4)
    big = rect(h, w, 0, 10, 0, 10)
    p = props([small, big], [0.9, 0.8], [46, 67], [5.0, 1.0])  # the big one is in front of all of small
    res = fuse_scene(decode_scene(p), None, FusionParams(ca=False), CATS)
    assert res.status.tolist() == [6, 0]
    assert [(s.id, s.category_id, s.area) for s in res.segments] == [(1, 67, 100)]
    assert set(np.unique(res.id_map).tolist()) == {1}


def test_ablation_all_off_is_the_heuristic():
    rng = np.random.default_rng(3)
    h, w = 30, 40
    masks = [
        rect(h, w, *sorted(rng.integers(0, h, 2) + [0, 3]), *sorted(rng.integers(0, w, 2) + [0, 3])) for _ in range(12)
    ]
    p = props(masks, rng.choice([0.55, 0.7, 0.9], 12), rng.choice([1, 44, 46], 12), rng.random(12))
    sem = rng.choice(np.array([0, 187, 199], np.uint8), (h, w))
    a = fuse_image(p, sem, FusionParams(rho=0.5, tau=0.5, ra=False, ca=False, eo=False, stuff_area=5), CATS)
    b = fuse_image(p, sem, FusionParams.heuristic(stuff_area=5), CATS)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_missing_relation_is_an_error_for_rap_only():
    m = rect(8, 8, 0, 4, 0, 4)
    p = props([m], [0.9], [1], None, image_id=5)
    with pytest.raises(InputError, match="no relation value") as e:
        fuse_image(p, None, FusionParams(), CATS)
    assert e.value.image_id == 5
    assert len(fuse_image(p, None, FusionParams.heuristic(), CATS)[1]) == 1
    assert len(fuse_image(p, None, FusionParams(ra=False), CATS)[1]) == 1


def test_segments_carry_area_bbox_score_relation_and_stuff():
    h, w = 80, 80
    m = rect(h, w, 10, 20, 30, 45)
    sem = np.zeros((h, w), np.uint8)
    sem[:40] = 187
    sem[40:] = 199
    sem[0:2, 0:2] = 1  # thing ids in the semantic map are ignored
    p = props([m], [0.75], [1], [0.25])
    id_map, segs = fuse_image(p, sem, FusionParams(stuff_area=100), CATS)
    assert segs[0].to_json() == {
        "id": 1,
        "category_id": 1,
        "area": 150,
        "bbox": [30, 10, 15, 10],
        "iscrowd": 0,
        "score": 0.75,
        "relation": 0.25,
    }
    assert [(s.id, s.category_id, s.area) for s in segs[1:]] == [(2, 187, 40 * 80 - 150 - 4), (3, 199, 40 * 80)]
    assert id_map.dtype == np.uint32 and (id_map[0:2, 0:2] == 0).all()
    id2, segs2 = fuse_image(p, sem, FusionParams(stuff_area=3200), CATS)  # sky has 3046 free pixels
    assert [s.category_id for s in segs2] == [1, 199]


# --------------------------------------------------------------------------- panopticapi's rule


def panopticapi_rule(anns, semantic, stuff_ids, h, w, confidence_thr, overlap_thr, stuff_area_limit):
    """Independent re-implementation of panopticapi's combine_semantic_and_instance_predictions
    (full-image masks, per-instance loop): returns the category map and the segment map."""
    cat_map = np.zeros((h, w), np.int64)
    seg_map = np.zeros((h, w), np.int64)
    used = np.zeros((h, w), bool)
    next_id = 1
    for ann in sorted(anns, key=lambda a: -a["score"]):
        if ann["score"] < confidence_thr:
            continue
        mask = cm.decode({"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}) == 1
        area = mask.sum()
        if area == 0:
            continue
        intersect = (mask & used).sum()
        if intersect / area > overlap_thr:
            continue
        mask = mask & ~used
        used |= mask
        cat_map[mask] = ann["category_id"]
        seg_map[mask] = next_id
        next_id += 1
    if semantic is not None:
        for c in np.unique(semantic):
            if c not in stuff_ids:
                continue
            mask_left = (semantic == c) & ~used
            if mask_left.sum() < stuff_area_limit or mask_left.sum() == 0:
                continue
            used |= mask_left
            cat_map[mask_left] = c
            seg_map[mask_left] = next_id
            next_id += 1
    return cat_map, seg_map


def same_partition(a, b):
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def check_heuristic(p: Proposals, sem, rho, tau, stuff_area):
    anns = [
        {"score": float(p.scores[k]), "category_id": int(p.category_ids[k]), "segmentation": p.rles[k]}
        for k in range(len(p))
    ]
    want_cat, want_seg = panopticapi_rule(anns, sem, {187, 199}, p.height, p.width, rho, tau, stuff_area)
    id_map, segs = fuse_image(p, sem, FusionParams(strategy="heuristic", rho=rho, tau=tau, stuff_area=stuff_area), CATS)
    assert np.array_equal(category_map(id_map, segs), want_cat)
    assert same_partition(id_map, want_seg)
    assert len(segs) == len(np.unique(want_seg[want_seg > 0]))


@st.composite
def heuristic_scenes(draw) -> tuple[Proposals, np.ndarray]:
    """Rectangles (some ragged, some empty) with tied scores over a semantic map with stuff,
    things, unlabelled and ignored pixels."""
    h, w = draw(st.integers(4, 29)), draw(st.integers(4, 29))
    n = draw(st.integers(0, 11))
    # rows, columns (two edges each, in any order), ragged or not, score, category of each
    rects = st.tuples(
        st.integers(0, h),
        st.integers(0, h),
        st.integers(0, w),
        st.integers(0, w),
        st.booleans(),
        st.sampled_from([0.2, 0.5, 0.7, 0.9]),
        st.sampled_from([1, 44, 46]),
    )
    drawn = draw(st.lists(rects, min_size=n, max_size=n))
    masks = []
    for y0, y1, x0, x1, ragged, _, _ in drawn:
        m = rect(h, w, *sorted([y0, y1]), *sorted([x0, x1]))
        if ragged:  # with holes, any set of them: about a quarter of it (the AND of two drawn bit planes)
            nbytes = 2 * -(-h * w // 8)
            planes = np.unpackbits(np.frombuffer(draw(st.binary(min_size=nbytes, max_size=nbytes)), np.uint8))
            m &= ~planes.reshape(2, -1)[:, : h * w].all(axis=0).reshape(h, w)
        masks.append(m)
    scores = [r[5] for r in drawn]
    labels = [r[6] for r in drawn]
    p = props(masks, scores, labels) if n else Proposals(1, h, w, np.zeros(0), np.zeros(0, np.int64), np.zeros(0), [])
    values = np.array([0, 1, 187, 199, 255], np.uint8)
    sem = values[np.frombuffer(draw(st.binary(min_size=h * w, max_size=h * w)), np.uint8) % values.size]
    return p, sem.reshape(h, w)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    heuristic_scenes(),
    st.sampled_from([0.0, 0.3, 0.5, 0.7]),
    st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    st.sampled_from([0, 1, 30]),
)
def test_heuristic_equals_panopticapi_rule_random(scene, rho, tau, stuff_area):
    p, sem = scene
    check_heuristic(p, sem, rho, tau, stuff_area)


def test_heuristic_equals_panopticapi_rule_on_synthetic_proposals():
    from rapkit.synth import SynthConfig, generate_image

    cfg = SynthConfig(n_images=3, height=96, width=128, seed=4, render_images=False, things_per_image=9)
    for k in range(3):
        img = generate_image(cfg, k)
        for rle in img.proposals.rles:
            if isinstance(rle["counts"], bytes):
                rle["counts"] = rle["counts"].decode()
        check_heuristic(img.proposals, img.semantic, 0.5, 0.5, 64)


# --------------------------------------------------------------------------- perfect proposals


def test_perfect_proposals_fuse_back_to_the_panoptic_ground_truth():
    det = json.loads((SAMPLE / "panoptic_coco_detection_format.json").read_text())
    cats = load_categories(SAMPLE / "panoptic_coco_categories.json")
    gt = json.loads((SAMPLE / "panoptic_examples.json").read_text())
    for im in gt["images"]:
        iid, h, w = im["id"], im["height"], im["width"]
        anns = [a for a in det["annotations"] if int(a["image_id"]) == iid]
        things, sem = [], np.zeros((h, w), np.uint8)
        for a in anns:
            seg = ast.literal_eval(a["segmentation"]) if isinstance(a["segmentation"], str) else a["segmentation"]
            cid = int(a["category_id"])
            if cats[cid].isthing:
                things.append((seg, cid))
            else:
                sem[cm.decode({"size": seg["size"], "counts": seg["counts"].encode()}) == 1] = cid
        p = Proposals(
            iid,
            h,
            w,
            np.ones(len(things)),
            np.array([c for _, c in things], np.int64),
            np.zeros(len(things)),
            [s for s, _ in things],
        )
        gt_ann = next(a for a in gt["annotations"] if a["image_id"] == iid)
        gt_ids = read_id_map(SAMPLE / "panoptic_examples" / gt_ann["file_name"])
        gt_cat = category_map(
            gt_ids, [type("S", (), {"id": s["id"], "category_id": s["category_id"]}) for s in gt_ann["segments_info"]]
        )
        for params in (
            FusionParams(stuff_area=0),
            FusionParams.heuristic(stuff_area=0),
            FusionParams(stuff_area=0, variant="reference"),
        ):
            id_map, segs = fuse_image(p, sem, params, cats)
            assert np.array_equal(category_map(id_map, segs), gt_cat)
            assert same_partition(id_map, gt_ids)


# --------------------------------------------------------------------------- synthetic world


def correctly_ordered_instances(img, res) -> int:
    """Kept true proposals whose fused segment has IoU > 0.5 with its instance's visible GT segment."""
    n = 0
    seen = set()
    for k, sid in enumerate(res.segment_of.tolist()):
        inst = int(img.proposal_instance[k])
        if sid == 0 or inst < 0 or inst in seen:
            continue
        pred = res.id_map == sid
        gt = img.id_map == inst
        inter = (pred & gt).sum()
        if inter / ((pred | gt).sum()) > 0.5:
            n += 1
            seen.add(inst)
    return n


def test_rap_keeps_more_correctly_ordered_instances_than_the_heuristic():
    from rapkit.synth import SynthConfig, categories, generate_image

    cfg = SynthConfig(
        n_images=12, height=120, width=160, seed=11, render_images=False, things_per_image=9, relation_noise=0.05
    )
    table = stuff_table(categories())
    rap = heu = 0
    for k in range(cfg.n_images):
        img = generate_image(cfg, k)
        scene = decode_scene(img.proposals)
        rap += correctly_ordered_instances(img, fuse_scene(scene, img.semantic, FusionParams(rho=0.5), table))
        heu += correctly_ordered_instances(img, fuse_scene(scene, img.semantic, FusionParams.heuristic(), table))
    print("correctly ordered instances: rap", rap, "heuristic", heu)
    assert rap > heu * 1.05, (rap, heu)


# --------------------------------------------------------------------------- scenes decoded for one rho


def same_result(a, b) -> None:
    assert np.array_equal(a.id_map, b.id_map)
    assert [s.to_json() for s in a.segments] == [s.to_json() for s in b.segments]
    for name in ("status", "segment_of", "events"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.n_stuff, a.void_pixels) == (b.n_stuff, b.void_pixels)
    for x, y in zip(a.row_runs, b.row_runs):
        assert np.array_equal(x, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    heuristic_scenes(),
    st.sampled_from([0.0, 0.5, 0.7]),
    st.sampled_from(["rap", "paper-reference", "heuristic"]),
    st.booleans(),
)
def test_scene_decoded_at_rho_fuses_like_the_whole_scene(scene, rho, kind, events):
    """What ``rapkit fuse`` and ``fuse_image`` decode (runs of the proposals scored >= rho only)
    fuses like a scene with every mask (what the sweep, relation accuracy and ``show`` decode)."""
    p, sem = scene
    p.relations = np.linspace(0.0, 2.0, len(p)) if len(p) else p.relations
    params = {
        "rap": FusionParams(rho=rho),
        "paper-reference": FusionParams(rho=rho, variant="reference"),
        "heuristic": FusionParams.heuristic(rho=rho),
    }[kind]
    want = fuse_scene(decode_scene(p), sem, params, CATS, record_events=events)
    got = fuse_scene(decode_scene(p, rho), sem, params, CATS, record_events=events)
    same_result(got, want)
    id_map, segs = fuse_image(p, sem, params, CATS)
    assert np.array_equal(id_map, want.id_map) and segs == want.segments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heuristic_scenes())
def test_scene_gives_each_mask_as_runs_crop_and_full_mask(scene):
    p, _ = scene
    s = decode_scene(p)
    fm = [cm.decode({"size": r["size"], "counts": r["counts"].encode()}).astype(bool) for r in p.rles]
    for k, m in enumerate(fm):
        assert np.array_equal(s.mask(k), m)
        x0, x1, y0, y1 = s.boxes[k].tolist()
        assert np.array_equal(s.crop(k), m[y0:y1, x0:x1].T) and s.areas[k] == m.sum()
        xs, ya, yb = s.runs(k)
        assert int((yb - ya).sum()) == m.sum() and all(m[a:b, x].all() for x, a, b in zip(xs, ya, yb))
    if len(p):
        n = len(p)
        flat = np.array(fm).reshape(n, -1).astype(np.int64)
        want = flat @ flat.T
        np.fill_diagonal(want, 0)
        assert np.array_equal(s.overlaps(), want)


def test_scene_checks_every_rle_and_refuses_a_lower_rho():
    m = rect(8, 8, 0, 4, 0, 4)
    p = props([m, m], [0.9, 0.1], [1, 1], [0.5, 0.5], image_id=3)
    p.rles[1] = {"size": [8, 8], "counts": "0"}  # below rho, still checked
    with pytest.raises(InputError, match="proposal #1: RLE runs do not cover") as e:
        decode_scene(p, 0.5)
    assert e.value.image_id == 3
    p.rles[1] = p.rles[0]
    s = decode_scene(p, 0.5)
    assert s.col_offsets.tolist() == [0, 5, 6]  # proposal 1 (below rho) has no runs
    with pytest.raises(ValueError, match="rho"):
        fuse_scene(s, None, FusionParams(rho=0.05), CATS)
    with pytest.raises(ValueError, match="no runs"):
        s.mask(1)
    with pytest.raises(ValueError, match="no runs"):
        s.overlaps()
    assert decode_scene(p).overlaps().tolist() == [[0, 16], [16, 0]]
