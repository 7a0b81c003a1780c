"""Ground-truth occlusion relations: hand-built cases, synthetic worlds, the deficit rule,
the matching, and the dataset pipeline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.core.relations import extract_relations, match_instances, max_weight_matching
from rapkit.errors import ConfigError, InputError
from rapkit.types import InstanceMask, Segment


def crop(mask: np.ndarray, id_: int, cat: int, crowd: int = 0) -> InstanceMask:
    """An InstanceMask from a full-image mask (independent of rapkit.io.coco)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return InstanceMask(id_, cat, crowd, 0, 0, np.zeros((0, 0), bool))
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return InstanceMask(id_, cat, crowd, int(x0), int(y0), np.ascontiguousarray(mask[y0:y1, x0:x1]))


def rect(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def segs_of(id_map: np.ndarray, cats: dict[int, int], crowd: set[int] = frozenset()) -> list[Segment]:
    out = []
    for sid in np.unique(id_map).tolist():
        if sid:
            out.append(Segment(sid, cats[sid], int((id_map == sid).sum()), (0, 0, 1, 1), int(sid in crowd)))
    return out


def pairs(r):
    return [(x.front, x.back) for x in r.relations]


# --------------------------------------------------------------------------- hand-built cases

H, W = 20, 30


def test_ratio_exactly_at_theta_gives_no_relation():
    a = rect(H, W, 0, 0, 10, 10)  # 100 px
    b = rect(H, W, 8, 0, 18, 10)  # 100 px, overlap 2 rows x 10 = 20 px -> ratios 0.2 / 0.2
    id_map = np.zeros((H, W), np.uint32)
    id_map[a] = 1
    id_map[b] = 2  # b painted last: b in front
    masks = [crop(a, 1, 5), crop(b, 2, 5)]
    segs = segs_of(id_map, {1: 5, 2: 5})
    r = extract_relations(masks, id_map, segs, theta=0.2)
    assert r.relations == [] and r.candidate_pairs == 0 and r.ties == []
    r = extract_relations(masks, id_map, segs, theta=0.19)
    assert pairs(r) == [(2, 1)]
    rel = r.relations[0]
    assert (rel.overlap, rel.ratio_front, rel.ratio_back, rel.front_pixels, rel.back_pixels) == (20, 0.2, 0.2, 20, 0)


def test_tie_gives_no_relation():
    a = rect(H, W, 0, 0, 10, 10)
    b = rect(H, W, 0, 6, 10, 16)  # overlap columns 6..9 (40 px)
    id_map = np.zeros((H, W), np.uint32)
    id_map[a] = 1
    id_map[b] = 2
    id_map[0:5, 6:10] = 1  # half of the overlap to a, half to b
    segs = segs_of(id_map, {1: 3, 2: 4})
    r = extract_relations([crop(a, 1, 3), crop(b, 2, 4)], id_map, segs, theta=0.2)
    assert r.relations == [] and r.ties == [(1, 2)] and r.candidate_pairs == 1 and r.hidden == []
    # the deficit rule on the same image: a lost 20 px, b lost 20 px -> also a tie
    r = extract_relations([crop(a, 1, 3), crop(b, 2, 4)], id_map, segs, theta=0.2, rule="deficit")
    assert r.relations == [] and r.ties == [(1, 2)]


def test_overlap_hidden_by_a_third_instance_is_not_a_relation():
    a = rect(H, W, 0, 0, 10, 10)
    b = rect(H, W, 0, 5, 10, 15)
    c = rect(H, W, 0, 4, 10, 11)  # covers the whole overlap of a and b
    id_map = np.zeros((H, W), np.uint32)
    for k, m in ((1, a), (2, b), (3, c)):
        id_map[m] = k
    segs = segs_of(id_map, {1: 1, 2: 2, 3: 3})
    r = extract_relations([crop(a, 1, 1), crop(b, 2, 2), crop(c, 3, 3)], id_map, segs, theta=0.2)
    assert (1, 2) in r.hidden
    assert all({x.front, x.back} != {1, 2} for x in r.relations)
    assert sorted(pairs(r)) == [(3, 1), (3, 2)]
    assert r.candidate_pairs == len(r.relations) + len(r.ties) + len(r.hidden)


def _three_way_overlap(to_a: int, to_b: int):
    """a and b overlap on 40 px (rows 0-9, columns 6-9); the panoptic map gives ``to_a`` of
    them (column-major from the top of column 6) to a, the next ``to_b`` to b and the rest
    to a third instance c, drawn over the overlap only (so c is in front of a and b)."""
    a = rect(H, W, 0, 0, 10, 10)  # 100 px
    b = rect(H, W, 0, 6, 10, 16)  # 100 px, O = 40 px
    o_cells = [(y, x) for x in range(6, 10) for y in range(10)]
    c = np.zeros((H, W), bool)
    id_map = np.zeros((H, W), np.uint32)
    id_map[a & ~b] = 1
    id_map[b & ~a] = 2
    for k, (y, x) in enumerate(o_cells):
        if k < to_a:
            id_map[y, x] = 1
        elif k < to_a + to_b:
            id_map[y, x] = 2
        else:
            id_map[y, x] = 3
            c[y, x] = True
    masks = [crop(a, 1, 3), crop(b, 2, 4)] + ([crop(c, 3, 5)] if c.any() else [])
    cats = {1: 3, 2: 4, 3: 5}
    return masks, id_map, segs_of(id_map, cats)


def test_majority_rule_needs_more_than_half_of_the_overlap():
    # O = 40 px: 15 to a, 10 to b, 15 to a third instance -> plurality: a in front;
    # majority: nobody holds more than 20 of the 40 px -> no relation (a tie)
    masks, id_map, segs = _three_way_overlap(15, 10)
    paper = extract_relations(masks, id_map, segs, theta=0.2, rule="paper")
    major = extract_relations(masks, id_map, segs, theta=0.2, rule="majority")
    assert [(x.front, x.back) for x in paper.relations if {x.front, x.back} == {1, 2}] == [(1, 2)]
    assert all({x.front, x.back} != {1, 2} for x in major.relations)
    assert (1, 2) in major.ties and (1, 2) not in major.hidden
    assert major.candidate_pairs == paper.candidate_pairs
    assert major.candidate_pairs == len(major.relations) + len(major.ties) + len(major.hidden)
    # exactly half (20 of 40) is not a majority; 21 of 40 is
    masks, id_map, segs = _three_way_overlap(20, 5)
    r = extract_relations(masks, id_map, segs, theta=0.2, rule="majority")
    assert (1, 2) in r.ties
    r = extract_relations(masks, id_map, segs, theta=0.2, rule="paper")
    assert (1, 2) in pairs(r)
    masks, id_map, segs = _three_way_overlap(21, 4)
    r = extract_relations(masks, id_map, segs, theta=0.2, rule="majority")
    rel = [x for x in r.relations if {x.front, x.back} == {1, 2}]
    assert [(x.front, x.back, x.front_pixels, x.back_pixels, x.overlap) for x in rel] == [(1, 2, 21, 4, 40)]
    # b with the majority: b in front under both rules
    masks, id_map, segs = _three_way_overlap(5, 30)
    for rule in ("paper", "majority"):
        r = extract_relations(masks, id_map, segs, theta=0.2, rule=rule)
        assert [(x.front, x.back) for x in r.relations if {x.front, x.back} == {1, 2}] == [(2, 1)]
    # the whole overlap given to a third instance: hidden under both rules
    masks, id_map, segs = _three_way_overlap(0, 0)
    for rule in ("paper", "majority"):
        r = extract_relations(masks, id_map, segs, theta=0.2, rule=rule)
        assert (1, 2) in r.hidden and (1, 2) not in r.ties


def test_majority_rule_without_a_third_segment_equals_the_paper_rule_up_to_exact_halves():
    """With O split between the two instances only, plurality and majority agree."""
    masks, id_map, segs = _three_way_overlap(22, 18)
    for kernels in ("numba", "numpy"):
        a = extract_relations(masks, id_map, segs, theta=0.2, rule="paper", kernels=kernels)
        b = extract_relations(masks, id_map, segs, theta=0.2, rule="majority", kernels=kernels)
        assert pairs(a) == pairs(b) == [(1, 2)]


def test_majority_rule_through_the_cli_records_the_rule(tmp_path):
    import json

    from rapkit.cli import main
    from rapkit.synth import SynthConfig, make_world

    paths = make_world(tmp_path / "w", SynthConfig(n_images=4, height=96, width=128, seed=3, render_images=False))
    counts = {}
    for rule in ("paper", "majority"):
        out = tmp_path / f"{rule}.json"
        with pytest.raises(SystemExit) as ex:
            main(
                [
                    "extract-relations",
                    "--instances",
                    str(paths.instances),
                    "--panoptic",
                    str(paths.panoptic),
                    "--rule",
                    rule,
                    "-o",
                    str(out),
                    "-q",
                    "--format",
                    "json",
                ]
            )
        assert ex.value.code == 0
        doc = json.loads(out.read_text())
        assert doc["parameters"]["rule"] == rule
        t = doc["totals"]
        assert t["candidate_pairs"] == t["relations"] + t["ties"] + t["hidden"]
        counts[rule] = t
    # the strict reading never finds more relations than the plurality
    assert counts["majority"]["relations"] <= counts["paper"]["relations"]
    assert counts["majority"]["candidate_pairs"] == counts["paper"]["candidate_pairs"]


def test_crowd_annotation_is_excluded():
    a = rect(H, W, 0, 0, 10, 10)
    crowd = rect(H, W, 0, 0, 20, 30)
    id_map = np.zeros((H, W), np.uint32)
    id_map[crowd] = 9
    id_map[a] = 1
    segs = segs_of(id_map, {1: 1, 9: 1}, crowd={9})
    r = extract_relations([crop(a, 1, 1), crop(crowd, 9, 1, crowd=1)], id_map, segs, theta=0.05)
    assert r.relations == [] and r.candidate_pairs == 0
    assert r.n_instances == 1 and r.n_crowd == 1 and r.matches == {1: 1} and r.unmatched == []


def test_crowd_segment_is_never_matched():
    a = rect(H, W, 0, 0, 10, 10)
    id_map = np.zeros((H, W), np.uint32)
    id_map[a] = 9  # only a crowd segment covers the instance
    segs = segs_of(id_map, {9: 1}, crowd={9})
    r = extract_relations([crop(a, 1, 1)], id_map, segs)
    assert r.matches == {} and r.unmatched == [1]


def test_instance_without_panoptic_segment_is_unmatched_not_a_crash():
    a = rect(H, W, 0, 0, 10, 10)
    b = rect(H, W, 2, 2, 8, 8)  # fully hidden behind a: no segment of its own
    c = rect(H, W, 12, 20, 18, 28)  # category 7 has no segment at all
    id_map = np.zeros((H, W), np.uint32)
    id_map[a] = 1
    segs = segs_of(id_map, {1: 1})
    r = extract_relations([crop(a, 1, 1), crop(b, 2, 2), crop(c, 3, 7)], id_map, segs, theta=0.2)
    assert r.unmatched == [2, 3] and r.matches == {1: 1}
    assert pairs(r) == [(1, 2)]  # the unmatched instance owns no pixel: a is in front


def test_same_category_small_object_in_front_of_big_one():
    big = rect(H, W, 0, 0, 20, 20)
    small = rect(H, W, 5, 5, 10, 10)
    id_map = np.zeros((H, W), np.uint32)
    id_map[big] = 11
    id_map[small] = 22
    segs = segs_of(id_map, {11: 1, 22: 1})
    r = extract_relations([crop(big, 100, 1), crop(small, 200, 1)], id_map, segs, theta=0.2)
    assert r.matches == {100: 11, 200: 22}
    assert pairs(r) == [(200, 100)]
    rel = r.relations[0]
    assert rel.ratio_front == 1.0 and rel.ratio_back == 25 / 400 and rel.front_pixels == 25


def test_same_category_matching_is_one_to_one_and_global():
    # instance B's mask contains all of A's visible segment, but A keeps it (B has its own).
    a = rect(H, W, 0, 0, 10, 10)
    b = rect(H, W, 0, 0, 20, 30)
    id_map = np.zeros((H, W), np.uint32)
    id_map[b] = 2
    id_map[a] = 1
    segs = segs_of(id_map, {1: 4, 2: 4})
    r = extract_relations([crop(b, 20, 4), crop(a, 10, 4)], id_map, segs)
    assert r.matches == {10: 1, 20: 2} and pairs(r) == [(10, 20)]


def test_image_with_no_instances():
    id_map = np.zeros((H, W), np.uint32)
    id_map[:5] = 77
    r = extract_relations([], id_map, [Segment(77, 190, 150, (0, 0, 30, 5))], image_id=3)
    assert r.image_id == 3 and r.relations == [] and r.n_instances == 0 and r.candidate_pairs == 0


def test_id_in_png_but_not_in_segments_info():
    id_map = np.zeros((H, W), np.uint32)
    id_map[3, 4] = 4242
    with pytest.raises(InputError) as e:
        extract_relations([], id_map, [])
    assert e.value.segment_id == 4242


def test_bad_arguments():
    id_map = np.zeros((H, W), np.uint32)
    with pytest.raises(ConfigError, match="paper, majority, deficit"):
        extract_relations([], id_map, [], rule="nearest")
    with pytest.raises(ConfigError):
        extract_relations([], id_map, [], theta=1.5)
    with pytest.raises(InputError):
        extract_relations([InstanceMask(1, 1, 0, 25, 0, np.ones((2, 10), bool))], id_map, [])


# --------------------------------------------------------------------------- matching


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_max_weight_matching_is_optimal(n_r, n_c, data):
    w = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n_r * n_c, max_size=n_r * n_c))).reshape(n_r, n_c)
    got = max_weight_matching(w)
    assert len({r for r, _ in got}) == len(got) == len({c for _, c in got})
    best = 0
    for perm in itertools.permutations(range(max(n_r, n_c)), n_r):
        best = max(best, sum(w[r, c] for r, c in enumerate(perm) if c < n_c))
    assert sum(w[r, c] for r, c in got) == best
    assert all(w[r, c] > 0 for r, c in got)
    comp = match_instances(w)
    assert sum(w[r, c] for r, c in comp) == best


# --------------------------------------------------------------------------- synthetic worlds


def synth_images(n: int, seed: int, h: int = 120, w: int = 160, things: float = 7.0):
    from rapkit.synth import SynthConfig, generate_image

    cfg = SynthConfig(n_images=n, height=h, width=w, seed=seed, things_per_image=things, render_images=False)
    return [generate_image(cfg, i) for i in range(n)]


def true_relations(img, theta: float) -> set[tuple[int, int]]:
    """The generator's truth, from the amodal masks and depths only."""
    out = set()
    things = [i for i in img.instances if not i.iscrowd]
    for a, b in itertools.combinations(things, 2):
        o = a.mask & b.mask
        ov = int(o.sum())
        if ov == 0 or not (ov / a.mask.sum() > theta or ov / b.mask.sum() > theta):
            continue
        front, back = (a, b) if a.depth < b.depth else (b, a)
        if (img.id_map[o] == front.id).any():  # a visible pixel of the front instance in O
            out.add((front.id, back.id))
    return out


@pytest.mark.parametrize("theta", [0.05, 0.2, 0.5])
@pytest.mark.parametrize("kernels", ["numba", "numpy"])
def test_synthetic_world_precision_and_recall_are_one(theta, kernels):
    n_rel = 0
    for img in synth_images(25, seed=11):
        masks = [crop(i.mask, i.id, i.category_id, i.iscrowd) for i in img.instances]
        r = extract_relations(masks, img.id_map, img.segments, theta=theta, image_id=img.image_id, kernels=kernels)
        got = set(pairs(r))
        assert len(got) == len(r.relations)
        assert got == true_relations(img, theta), img.image_id
        visible = {s.id for s in img.segments}
        # pixel matching finds each visible instance's own segment (segment id == annotation id)
        assert r.matches == {i.id: i.id for i in img.instances if not i.iscrowd and i.id in visible}
        assert set(r.unmatched) == {i.id for i in img.instances if not i.iscrowd and i.id not in visible}
        assert r.ties == []  # painting by depth never splits an overlap
        n_rel += len(got)
    assert n_rel > 20  # the world really has overlaps at every theta


def deficit_reference(img, theta: float) -> tuple[set, set]:
    """The authors' rule, re-implemented on full-image masks (segment id == annotation id)."""
    rels, ties = set(), set()
    things = [i for i in img.instances if not i.iscrowd]
    pano_area = {i.id: int((img.id_map == i.id).sum()) for i in things}
    for a, b in itertools.combinations(things, 2):
        area1, area2 = int(a.mask.sum()), int(b.mask.sum())
        ov = int((a.mask & b.mask).sum())
        if ov == 0 or not (ov / area1 > theta or ov / area2 > theta):
            continue
        d1, d2 = area1 - pano_area[a.id], area2 - pano_area[b.id]
        if d1 < d2:
            rels.add((a.id, b.id))
        elif d2 < d1:
            rels.add((b.id, a.id))
        else:
            ties.add((a.id, b.id))
    return rels, ties


@pytest.mark.parametrize("theta", [0.05, 0.2])
def test_deficit_rule_matches_an_independent_implementation(theta):
    differs = 0
    for img in synth_images(25, seed=5):
        masks = [crop(i.mask, i.id, i.category_id, i.iscrowd) for i in img.instances]
        r = extract_relations(masks, img.id_map, img.segments, theta=theta, rule="deficit", image_id=img.image_id)
        rels, ties = deficit_reference(img, theta)
        assert set(pairs(r)) == rels and set(r.ties) == ties
        paper = extract_relations(masks, img.id_map, img.segments, theta=theta, image_id=img.image_id)
        differs += set(pairs(paper)) != rels
    assert differs > 0  # the two rules really differ somewhere


def test_relation_fields_are_consistent_on_a_synthetic_world():
    for img in synth_images(6, seed=2):
        masks = [crop(i.mask, i.id, i.category_id, i.iscrowd) for i in img.instances]
        r = extract_relations(masks, img.id_map, img.segments, theta=0.05, image_id=img.image_id)
        by_id = {i.id: i for i in img.instances}
        for rel in r.relations:
            f, b = by_id[rel.front].mask, by_id[rel.back].mask
            o = f & b
            assert rel.image_id == img.image_id
            assert rel.overlap == o.sum()
            assert rel.ratio_front == rel.overlap / f.sum() and rel.ratio_back == rel.overlap / b.sum()
            assert rel.front_pixels == (img.id_map[o] == rel.front).sum()
            assert rel.back_pixels == (img.id_map[o] == rel.back).sum()
        assert r.candidate_pairs == len(r.relations) + len(r.ties) + len(r.hidden)


@pytest.mark.parametrize("encoding", ["compressed", "uncompressed"])
def test_polygon_and_rle_inputs_give_the_same_relations(encoding):
    from pycocotools import mask as mask_utils

    from rapkit.io.coco import decode_instances

    def as_rle(m: np.ndarray) -> dict:
        if encoding == "compressed":
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        flat = m.reshape(-1, order="F").astype(np.int8)
        edges = np.flatnonzero(np.diff(flat)) + 1
        counts = np.diff(np.r_[0, edges, flat.size]).tolist()
        return {"size": list(m.shape), "counts": ([0] + counts) if flat[0] else counts}

    n = 0
    for img in synth_images(6, seed=4):
        polys = [
            {
                "id": i.id,
                "category_id": i.category_id,
                "iscrowd": i.iscrowd,
                "segmentation": [i.polygon] if i.polygon is not None else as_rle(i.mask),
            }
            for i in img.instances
        ]
        rles = [dict(a, segmentation=as_rle(i.mask)) for a, i in zip(polys, img.instances)]
        got = []
        for anns in (polys, rles):
            masks = decode_instances(anns, img.height, img.width, validate=True)
            got.append(extract_relations(masks, img.id_map, img.segments, theta=0.1, image_id=img.image_id))
        assert got[0] == got[1]
        assert set(pairs(got[0])) == true_relations(img, 0.1)
        n += len(got[0].relations)
    assert n > 0


def test_relations_json_round_trip_and_rejects_other_json(tmp_path):
    from rapkit.io.relations import read_relations, write_relations
    from rapkit.pipeline.relations import totals_of

    imgs = []
    for img in synth_images(4, seed=8):
        masks = [crop(i.mask, i.id, i.category_id, i.iscrowd) for i in img.instances]
        imgs.append(extract_relations(masks, img.id_map, img.segments, theta=0.05, image_id=img.image_id))
    p = tmp_path / "r.json"
    write_relations(p, imgs, theta=0.05, rule="paper", totals=totals_of(imgs))
    rf = read_relations(p)
    assert rf.theta == 0.05 and rf.rule == "paper" and rf.totals == totals_of(imgs)
    for r in imgs:
        back = rf.images[r.image_id]
        assert back.relations == r.relations and back.unmatched == r.unmatched
        assert back.ties == r.ties and back.hidden == r.hidden and back.candidate_pairs == r.candidate_pairs
    with pytest.raises(ConfigError):  # no overwrite without force
        write_relations(p, imgs, theta=0.05, rule="paper", totals=totals_of(imgs))
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [], "annotations": []}')
    with pytest.raises(InputError, match="not a relations file: an instances JSON without .overlap. lists"):
        read_relations(bad)
    bad.write_text('{"kind": "relations", "schema_version": 99, "images": []}')
    with pytest.raises(InputError, match="schema_version"):
        read_relations(bad)
