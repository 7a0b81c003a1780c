"""``--matching bbox``: the authors' ground truth, exactly.

``authors_script`` below is an independent implementation of the authors'
``datasets/coco/retrieve_relation.py`` (RAPNet/RAP), written line by line after their code
(plain Python/numpy; the panoptic PNG read with PIL; polygons filled with ``cv2.fillPoly``
where OpenCV is installed, else with a transcription of its rule written here). ``--rule deficit --matching bbox`` must equal it relation
for relation on synthetic worlds (several seeds; one with a crowd region in every image and
crowded scenes, so that second and third claimants and crowd claims occur: counted), and
each quirk has a hand-built case.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from builders import rect
from PIL import Image

from rapkit.core.relations import BBOX_MAX_DISTANCE, extract_relations, match_by_bbox
from rapkit.errors import ConfigError
from rapkit.io.coco import decode_instances
from rapkit.types import InstanceMask, Segment

# --------------------------------------------------------------------------- the oracle


def _tdiv(a, b):
    """C's integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _line(img, x1, y1, x2, y2):
    """OpenCV's 8-connected line (LineIterator, left to right), clipped like its clipLine."""
    h, w = img.shape
    r, b = w - 1, h - 1

    def code(x, y):
        return (x < 0) + (x > r) * 2 + (y < 0) * 4 + (y > b) * 8

    c1, c2 = code(x1, y1), code(x2, y2)
    if c1 | c2:
        if c1 & c2:
            return
        if c1 & 12:
            a = 0 if c1 < 8 else b
            x1, y1 = x1 + _tdiv((a - y1) * (x2 - x1), y2 - y1), a
            c1 = code(x1, 0) & 3
        if c2 & 12:
            a = 0 if c2 < 8 else b
            x2, y2 = x2 + _tdiv((a - y2) * (x2 - x1), y2 - y1), a
            c2 = code(x2, 0) & 3
        if c1 & c2:
            return
        if c1:
            a = 0 if c1 == 1 else r
            x1, y1 = a, y1 + _tdiv((a - x1) * (y2 - y1), x2 - x1)
        if c2:
            a = 0 if c2 == 1 else r
            x2, y2 = a, y2 + _tdiv((a - x2) * (y2 - y1), x2 - x1)
    if x1 > x2:
        x1, y1, x2, y2 = x2, y2, x1, y1
    sx, sy = 1, (1 if y2 >= y1 else -1)
    dx, dy = x2 - x1, abs(y2 - y1)
    steep = dy > dx
    major, minor = (dy, dx) if steep else (dx, dy)
    err, x, y = major - 2 * minor, x1, y1
    for _ in range(major + 1):
        img[y, x] = 1
        diag = err < 0
        err += 2 * major * diag - 2 * minor
        if steep:
            y, x = y + sy, x + sx * diag
        else:
            x, y = x + sx, y + sy * diag


def _fill_poly(img, pts):
    """``cv2.fillPoly(img, [pts], 1)`` with integer vertices: the outline, then even-odd
    spans from 16.16 fixed-point edges (CollectPolyEdges + FillEdgeCollection), row by row."""
    h, w = img.shape
    edges = []
    for i in range(len(pts)):
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        _line(img, x0, y0, x1, y1)
        if y0 != y1:
            top_y, top_x = (y0, x0) if y0 < y1 else (y1, x1)
            edges.append((top_y, max(y0, y1), top_x << 16, _tdiv((x1 - x0) << 16, y1 - y0)))
    if len(edges) < 2:
        return
    for y in range(max(min(e[0] for e in edges), 0), min(max(e[1] for e in edges), h)):
        xs = sorted(x + (y - ya) * dx for ya, yb, x, dx in edges if ya <= y < yb)
        for a, b in zip(xs[0::2], xs[1::2]):
            lo, hi = max(-((-a) >> 16), 0), min(b >> 16, w - 1)
            if lo <= hi:
                img[y, lo : hi + 1] = 1


def _fill_polygons(segmentation, height, width):
    """Their ``cv2.fillPoly`` of each polygon, coordinates ``np.array(...).astype(np.int)``:
    OpenCV itself where it is installed, else the transcription above."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    out = np.zeros((height, width), np.uint8)
    for seg in segmentation:
        pts = [[seg[i * 2], seg[i * 2 + 1]] for i in range(len(seg) // 2)]
        arr = np.array([pts]).astype(np.int64)
        if cv2 is not None:
            cv2.fillPoly(out, arr, 1)
        else:
            _fill_poly(out, [(int(x), int(y)) for x, y in arr[0]])
    return out


def authors_script(instance_content: dict, panoptic_content: dict, png_dir: Path, stats: dict | None = None):
    """``{image_id: {occluded_id: [occluder_id, ...]}}`` as their script pickles it."""
    stats = stats if stats is not None else {}
    for k in ("conflicts", "third", "crowd_claims"):
        stats.setdefault(k, 0)
    category_thing = [a["id"] for a in panoptic_content["categories"] if a["isthing"]]
    image2instanceann: dict = {}
    for ann in instance_content["annotations"]:
        image2instanceann.setdefault(ann["image_id"], []).append(ann)
    image2panopticann = {ann["image_id"]: ann for ann in panoptic_content["annotations"]}
    result = {}
    for image in panoptic_content["images"]:
        image_id = image["id"]
        if image_id not in image2instanceann or image_id not in image2panopticann:
            continue
        img = np.asarray(Image.open(png_dir / image2panopticann[image_id]["file_name"]).convert("RGB"))
        width, height = image["width"], image["height"]
        instance_ann = image2instanceann[image_id]
        panoptic_ann = [a for a in image2panopticann[image_id]["segments_info"] if a["category_id"] in category_thing]

        panoptic_id_2_instance_id: dict = {}
        instance_id_2_panoptic_id: dict = {}
        claims: dict = {}
        for ann in panoptic_ann:
            bbox = np.array(ann["bbox"])
            instance_id = None
            min_dist = 9999
            for ins_ann in instance_ann:
                dist = np.sqrt(np.sum((bbox - np.array(ins_ann["bbox"])) ** 2))
                if dist < min_dist:
                    min_dist = dist
                    instance_id = ins_ann["id"]
            assert instance_id is not None  # (their script then fails its assert below)
            claims[instance_id] = claims.get(instance_id, 0) + 1
            stats["third"] += claims[instance_id] == 3
            stats["crowd_claims"] += any(a["id"] == instance_id and a["iscrowd"] for a in instance_ann)
            if instance_id in instance_id_2_panoptic_id:
                stats["conflicts"] += 1
                del panoptic_id_2_instance_id[instance_id_2_panoptic_id[instance_id]]
                del instance_id_2_panoptic_id[instance_id]
            else:
                instance_id_2_panoptic_id[instance_id] = ann["id"]
                panoptic_id_2_instance_id[ann["id"]] = instance_id

        if len(instance_id_2_panoptic_id) < len(panoptic_ann):
            panoptic_ann = [a for a in panoptic_ann if a["id"] in panoptic_id_2_instance_id]
            instance_ann = [a for a in instance_ann if a["id"] in instance_id_2_panoptic_id]
        if len(instance_ann) > len(panoptic_ann):
            instance_ann = [a for a in instance_ann if a["id"] in instance_id_2_panoptic_id]
        assert len(panoptic_ann) == len(instance_ann)

        pano_crowd = {ann["id"]: ann["iscrowd"] for ann in panoptic_ann}
        inst_crowd = {ann["id"]: ann["iscrowd"] for ann in instance_ann}
        panoptic_masks = {}
        for ann in panoptic_ann:
            if ann["iscrowd"] == 0 and inst_crowd[panoptic_id_2_instance_id[ann["id"]]] == 0:
                ann_img = np.zeros((height, width), np.uint8)
                x, y, w, h = ann["bbox"]
                area = img[y : y + h, x : x + w].astype(np.int32)
                area_sum = area[:, :, 2] * 256 * 256 + area[:, :, 1] * 256 + area[:, :, 0]  # RGB (theirs: BGR)
                ann_img[y : y + h, x : x + w] = (area_sum == ann["id"]).astype(np.uint8)
                panoptic_masks[ann["id"]] = ann_img
        instance_masks = {}
        for ann in instance_ann:
            if ann["iscrowd"] == 0 and pano_crowd[instance_id_2_panoptic_id[ann["id"]]] == 0:
                instance_masks[ann["id"]] = _fill_polygons(ann["segmentation"], height, width)
        assert len(panoptic_masks) == len(instance_masks)

        ids = list(instance_masks.keys())
        mask_areas = [np.sum(instance_masks[i] > 0) for i in ids]
        relation_result: dict = {}
        for i in range(len(ids)):
            id1, mask1, area1 = ids[i], instance_masks[ids[i]], mask_areas[i]
            for j in range(i + 1, len(ids)):
                id2, mask2, area2 = ids[j], instance_masks[ids[j]], mask_areas[j]
                area = np.sum(mask1 & mask2)
                with np.errstate(divide="ignore", invalid="ignore"):
                    candidate = area / area1 > 0.2 or area / area2 > 0.2
                if candidate:
                    delta1 = area1 - np.sum(panoptic_masks[instance_id_2_panoptic_id[id1]] > 0)
                    delta2 = area2 - np.sum(panoptic_masks[instance_id_2_panoptic_id[id2]] > 0)
                    if delta1 < delta2:
                        relation_result.setdefault(id2, []).append(id1)
                    elif delta2 < delta1:
                        relation_result.setdefault(id1, []).append(id2)
        result[image_id] = relation_result
    return result


def as_authors_dict(images) -> dict:
    """rapkit's per-image relations in the pickle's shape (pair order kept)."""
    out = {}
    for im in images:
        d: dict = {}
        for r in im.relations:
            d.setdefault(r.back, []).append(r.front)
        out[im.image_id] = d
    return out


# --------------------------------------------------------------------------- synthetic worlds


@pytest.mark.parametrize(
    "seed, config",
    [
        (1, {}),
        (4, {}),
        (7, {"crowd_prob": 1.0, "things_per_image": 12.0}),
    ],
)
def test_deficit_bbox_equals_the_authors_script_on_a_world(tmp_path, seed, config):
    import rapkit
    from rapkit.synth import SynthConfig, make_world

    cfg = SynthConfig(n_images=12, height=96, width=128, seed=seed, render_images=False, **config)
    w = make_world(tmp_path / "w", cfg)
    stats: dict = {}
    theirs = authors_script(
        json.loads(w.instances.read_text()), json.loads(w.panoptic.read_text()), w.panoptic_dir, stats
    )
    run = rapkit.extract_dataset_relations(w.instances, w.panoptic, rule="deficit", matching="bbox")
    ours = as_authors_dict(run.images)
    assert sum(map(len, (r for d in theirs.values() for r in d.values()))) > 10
    for iid, rel in ours.items():
        assert rel == theirs.get(iid, {}), iid  # relation for relation, in their order
    assert set(theirs) <= set(ours)
    if config:  # the claimant rules and crowd claims are exercised
        assert stats["conflicts"] > 0 and stats["third"] > 0 and stats["crowd_claims"] > 0, stats
    # the default matching gives other relations on the same world
    pixels = as_authors_dict(rapkit.extract_dataset_relations(w.instances, w.panoptic, rule="deficit").images)
    assert pixels != ours


# --------------------------------------------------------------------------- hand-built quirks


def seg(sid, cat, box, crowd=0):
    return Segment(sid, cat, 0, tuple(box), crowd)


def test_second_claimant_deletes_the_first_and_a_third_is_accepted():
    assert match_by_bbox([[0, 0, 4, 4]], [[0, 0, 4, 4]]) == [(0, 0)]
    assert match_by_bbox([[0, 0, 4, 4], [1, 0, 4, 4]], [[0, 0, 4, 4]]) == []
    assert match_by_bbox([[0, 0, 4, 4], [1, 0, 4, 4], [0, 1, 4, 4]], [[0, 0, 4, 4]]) == [(2, 0)]
    assert match_by_bbox([[0, 0, 4, 4]] * 4, [[0, 0, 4, 4]]) == []
    # nearest by Euclidean distance of [x, y, w, h]; equal distances: the first instance
    assert match_by_bbox([[10, 10, 5, 5]], [[0, 0, 5, 5], [10, 13, 5, 5], [13, 10, 5, 5]]) == [(0, 1)]
    # no box below the bound: nothing claimed (their script would stop at its assert)
    assert match_by_bbox([[0, 0, 4, 4]], [[BBOX_MAX_DISTANCE, 0, 4, 4]]) == []
    assert match_by_bbox([[0, 0, 4, 4]], [[BBOX_MAX_DISTANCE - 1, 0, 4, 4]]) == [(0, 0)]


H, W = 20, 30
BIG = rect(H, W, 0, 20, 0, 20)  # 400 px
SMALL = rect(H, W, 5, 15, 15, 30)  # 150 px, in front of BIG's columns 15-19 (50 px)
SEGS = [seg(101, 1, (0, 0, 20, 20)), seg(102, 2, (15, 5, 15, 10))]
# deficits: BIG 400 - 350 = 50, SMALL 150 - 150 = 0: SMALL is in front


def _image():
    ids = np.zeros((H, W), np.uint32)
    ids[BIG] = 101
    ids[SMALL] = 102
    return ids


def _inst(iid, cat, m, crowd=0):
    ys, xs = np.nonzero(m)
    y0, x0, y1, x1 = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
    return InstanceMask(iid, cat, crowd, int(x0), int(y0), np.ascontiguousarray(m[y0:y1, x0:x1]))


def pairs(r):
    return [(x.front, x.back) for x in r.relations]


def test_bbox_matching_gives_the_deficit_relation_and_ignores_categories():
    insts = [_inst(1, 7, BIG), _inst(2, 8, SMALL)]  # categories differ from the segments'
    r = extract_relations(insts, _image(), SEGS, rule="deficit", matching="bbox")
    assert pairs(r) == [(2, 1)]
    assert r.matches == {1: 101, 2: 102} and r.unmatched == []
    # the pixel matching needs the categories to agree: nothing matched
    p = extract_relations(insts, _image(), SEGS, rule="deficit")
    assert p.matches == {} and p.unmatched == [1, 2]


def test_a_crowd_annotation_is_a_candidate_and_its_claim_drops_the_pair():
    """A crowd annotation with BIG's box, listed first, takes segment 101 (equal distances
    go to the first annotation): BIG is left unmatched, so no relation."""
    insts = [_inst(9, 1, BIG, crowd=1), _inst(1, 1, BIG), _inst(2, 2, SMALL)]
    r = extract_relations(insts, _image(), SEGS, rule="deficit", matching="bbox")
    assert r.relations == [] and r.matches == {2: 102} and r.unmatched == [1]
    # listed after BIG, the crowd annotation claims nothing: BIG keeps its segment
    insts = [_inst(1, 1, BIG), _inst(9, 1, BIG, crowd=1), _inst(2, 2, SMALL)]
    r = extract_relations(insts, _image(), SEGS, rule="deficit", matching="bbox")
    assert pairs(r) == [(2, 1)]
    # a crowd segment: its pair gets no mask
    crowd_seg = [SEGS[0], seg(102, 2, (15, 5, 15, 10), crowd=1)]
    r = extract_relations([_inst(1, 1, BIG), _inst(2, 2, SMALL)], _image(), crowd_seg, rule="deficit", matching="bbox")
    assert r.relations == [] and r.matches == {1: 101} and r.unmatched == [2]


def test_a_second_claimant_unmatches_both_and_a_third_is_accepted():
    """Segments claim in segments_info order. 103 (SMALL's box) cancels 102's claim: no
    relation. A third claimant, 104 (SMALL's box, one pixel), is accepted: SMALL's deficit
    is then 149 > BIG's 50, and BIG is in front."""
    ids = _image()
    ids[0, 25] = 103
    ids[10, 25] = 104
    insts = [_inst(1, 1, BIG), _inst(2, 2, SMALL)]
    two = [*SEGS, seg(103, 2, (15, 5, 15, 10))]
    stuff_104 = seg(104, 5, (15, 5, 15, 10))  # not a thing: claims nothing
    r = extract_relations(insts, ids, [*two, stuff_104], rule="deficit", matching="bbox", things={1, 2})
    assert r.relations == [] and r.matches == {1: 101} and r.unmatched == [2]
    r = extract_relations(insts, ids, [*two, seg(104, 2, (15, 5, 15, 10))], rule="deficit", matching="bbox")
    assert r.matches == {1: 101, 2: 104} and pairs(r) == [(1, 2)]


def test_segment_pixels_are_counted_inside_the_segments_info_box():
    """Their panoptic mask is cut from the segment's bbox window: a box that misses part of
    the segment lowers its visible count, raises its deficit, and can move the front."""
    insts = [_inst(1, 1, BIG), _inst(2, 2, SMALL)]

    def front(box):
        return extract_relations(insts, _image(), [SEGS[0], seg(102, 2, box)], rule="deficit", matching="bbox")

    assert pairs(front((15, 5, 15, 10))) == [(2, 1)]  # 150 visible: deficit 0 < 50
    r = front((20, 5, 10, 10))  # 100 visible: deficit 50 = BIG's, a tie
    assert r.relations == [] and r.ties == [(1, 2)]
    assert pairs(front((25, 5, 5, 10))) == [(1, 2)]  # 50 visible: deficit 100 > 50
    assert pairs(front((25, 5, 6, 10))) == [(1, 2)]  # clipped to the image: 50 visible
    # the pixel matching counts the whole PNG whatever the box
    p = extract_relations(insts, _image(), [SEGS[0], seg(102, 2, (25, 5, 5, 10))], rule="deficit")
    assert pairs(p) == [(2, 1)]


def test_polygons_are_filled_as_opencv_fills_their_truncated_coordinates():
    """The authors' ``cv2.fillPoly(img, np.array([pts]).astype(np.int), 1)``: 5.9 is 5,
    -0.7 is 0, and the outline is painted (pycocotools' fill differs)."""
    differs = []
    for poly in ([0.9, 0.9, 5.9, 0.9, 5.9, 5.9, 0.9, 5.9], [-0.7, -0.7, 3.6, -0.7, 3.6, 6.8, -0.7, 6.8]):
        ann = {"id": 1, "category_id": 1, "segmentation": [poly]}
        (plain,) = decode_instances([ann], 8, 8)
        (theirs,) = decode_instances([ann], 8, 8, polygon_fill="opencv")
        want = _fill_polygons([poly], 8, 8).astype(bool)
        assert np.array_equal(full(theirs, 8, 8), want)
        differs.append(not np.array_equal(full(plain, 8, 8), want))
    assert differs == [True, False]  # the second: pycocotools happens to give the same pixels


def test_the_oracles_fill_equals_rapkits_on_random_polygons():
    """The test's own transcription of OpenCV's rule and rapkit.io.polyfill agree (both are
    compared with OpenCV itself in tests/io/test_polyfill.py where it is installed)."""
    from rapkit.io.polyfill import fill_polygon_opencv

    rng = np.random.default_rng(0)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 20, 2))
        pts = [(int(x), int(y)) for x, y in zip(rng.integers(-3, w + 3, 6), rng.integers(-3, h + 3, 6))]
        pts = pts[: int(rng.integers(1, 7))]
        img = np.zeros((h, w), np.uint8)
        _fill_poly(img, pts)
        assert np.array_equal(img.astype(bool), fill_polygon_opencv(pts, h, w)), (h, w, pts)


def full(m, h, w):
    out = np.zeros((h, w), bool)
    out[m.y0 : m.y0 + m.mask.shape[0], m.x0 : m.x0 + m.mask.shape[1]] = m.mask
    return out


def test_unknown_matching_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown matching 'iou'"):
        extract_relations([], np.zeros((2, 2), np.uint32), [], matching="iou")
