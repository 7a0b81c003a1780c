"""COCO instances I/O: decoding (polygons, RLE, crowd), strict validation, the real COCO sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from rapkit.errors import InputError
from rapkit.io.coco import decode_instances, full_mask, load_instances, parse_instances
from rapkit.io.panoptic import id2rgb, load_panoptic, read_id_map, rgb2id, segment_stats

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"
H, W = 40, 60


def reference_mask(seg, h=H, w=W) -> np.ndarray:
    """pycocotools' own full-image decode, the reference."""
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = seg
    return mask_utils.decode(rle).astype(bool)


def compressed(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def uncompressed(mask: np.ndarray) -> dict:
    flat = mask.reshape(-1, order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.r_[0, edges, flat.size]).tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": list(mask.shape), "counts": counts}


def doc(anns, cats=({"id": 1, "name": "a"}, {"id": 2, "name": "b"}), images=None):
    return {
        "images": images or [{"id": 7, "file_name": "x.jpg", "height": H, "width": W}],
        "annotations": anns,
        "categories": list(cats),
    }


def ann(i, seg, cat=1, crowd=0, image=7):
    return {"id": i, "image_id": image, "category_id": cat, "segmentation": seg, "iscrowd": crowd}


# --------------------------------------------------------------------------- decoding

POLY = [[5.5, 3.0, 30.2, 4.0, 28.0, 25.7, 8.0, 20.0]]
TWO_POLYS = [[1, 1, 10, 1, 10, 10], [40, 20, 55, 22, 50, 35, 41, 33]]


def test_polygon_rle_and_uncompressed_rle_decode_alike():
    m = reference_mask(POLY)
    anns = [ann(1, POLY), ann(2, compressed(m)), ann(3, uncompressed(m), crowd=1), ann(4, TWO_POLYS, cat=2)]
    ds = parse_instances(doc(anns), "mem.json")
    got = decode_instances(ds.by_image[7], H, W)
    assert [g.id for g in got] == [1, 2, 3, 4] and [g.iscrowd for g in got] == [0, 0, 1, 0]
    for g in got[:3]:
        assert np.array_equal(full_mask(g, H, W), m)
        assert g.area == m.sum() and g.mask.dtype == bool and g.mask.flags.c_contiguous
        ys, xs = np.nonzero(m)
        assert (g.x0, g.y0, g.mask.shape) == (xs.min(), ys.min(), (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))
    assert np.array_equal(full_mask(got[3], H, W), reference_mask(TWO_POLYS))


def test_polygon_outside_the_image_is_clipped_and_empty_masks_are_fine():
    out = [[-10, -10, 80, -5, 70, 50, -5, 45]]
    tiny = [[3.1, 3.1, 3.2, 3.1, 3.15, 3.2]]  # rasterises to nothing
    got = decode_instances([ann(1, out), ann(2, tiny)], H, W)
    assert np.array_equal(full_mask(got[0], H, W), reference_mask(out))
    assert got[1].area == 0 == reference_mask(tiny).sum() and got[1].mask.shape == (0, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, W + 5), st.floats(-5, H + 5)), min_size=3, max_size=9), st.booleans())
def test_random_polygons_match_pycocotools(points, as_rle):
    seg = [[v for p in points for v in p]]
    ref = reference_mask(seg)
    if as_rle:
        seg = compressed(ref) if ref.sum() % 2 else uncompressed(ref)
    (g,) = decode_instances([ann(1, seg)], H, W, validate=True)
    assert np.array_equal(full_mask(g, H, W), ref) and g.area == ref.sum()


# --------------------------------------------------------------------------- validation


def raises(data, *needles, image=None):
    with pytest.raises(InputError) as e:
        parse_instances(data, "inst.json")
    msg = str(e.value)
    assert msg.startswith("inst.json"), msg
    for n in needles:
        assert n in msg, msg
    if image is not None:
        assert f"image {image}" in msg
    return msg


def test_not_coco():
    raises([1, 2], "not a COCO instances JSON")
    raises({"images": []}, "not a COCO instances JSON", "annotations")
    raises({"images": [], "annotations": []}, "categories")
    raises({"images": [], "annotations": [{"image_id": 1, "segments_info": []}], "categories": []}, "panoptic JSON")


def test_annotation_errors_name_image_and_annotation():
    good = ann(5, POLY)
    raises(doc([good, dict(good)]), "annotation 5", "twice", image=7)
    raises(doc([ann(5, POLY, image=99)]), "annotation 5", "not in 'images'", image=99)
    raises(doc([ann(5, POLY, cat=77)]), "annotation 5", "unknown category 77", image=7)
    raises(doc([ann(5, [[1, 1, 5, 5]])]), "annotation 5", "2 point(s)", "at least 3", image=7)
    raises(doc([ann(5, [[1, 1, 5, 5, 7]])]), "odd number", image=7)
    raises(doc([ann(5, [])]), "empty segmentation", image=7)
    raises(doc([ann(5, [["a", 1, 2, 3, 4, 5]])]), "not a list of numbers", image=7)
    raises(doc([ann(5, {"size": [H + 1, W], "counts": "abc"})]), "annotation 5", f"{W}x{H + 1}", f"{W}x{H}", image=7)
    raises(doc([ann(5, {"size": [H, W], "counts": [3, 4]})]), "covers 7 pixels", image=7)
    raises(doc([ann(5, {"size": [H, W], "counts": 12})]), "counts", image=7)
    raises(doc([ann(5, POLY, crowd=2)]), "iscrowd", image=7)
    raises(doc([{"id": 5, "image_id": 7, "category_id": 1}]), "no 'segmentation'", image=7)
    raises(doc([{"id": "x", "image_id": 7, "category_id": 1, "segmentation": POLY}]), "integer 'id'")


def test_malformed_and_missing_files(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"images": [')
    with pytest.raises(InputError, match="bad.json: malformed JSON"):
        load_instances(p)
    with pytest.raises(InputError, match="not found"):
        load_instances(tmp_path / "nope.json")


def test_image_without_annotations_is_kept(tmp_path):
    images = [
        {"id": 7, "file_name": "x.jpg", "height": H, "width": W},
        {"id": 8, "file_name": "y.jpg", "height": H, "width": W},
    ]
    p = tmp_path / "i.json"
    p.write_text(json.dumps(doc([ann(1, POLY)], images=images)))
    ds = load_instances(p)
    assert list(ds.by_image) == [7, 8] and ds.by_image[8] == [] and ds.n_annotations == 1
    assert decode_instances(ds.by_image[8], H, W) == []


# --------------------------------------------------------------------------- real COCO sample


def test_coco_sample_png_round_trip_areas_and_bboxes():
    pan = load_panoptic(SAMPLE / "panoptic_examples.json")
    assert sorted(pan.annotations) == [142238, 439180]
    for iid, a in pan.annotations.items():
        info = pan.images[iid]
        ids = read_id_map(pan.png_path(iid), image_id=iid, shape=(info.height, info.width))
        rgb = id2rgb(ids)
        assert np.array_equal(rgb2id(rgb), ids)
        from PIL import Image

        with Image.open(pan.png_path(iid)) as im:
            assert np.array_equal(np.asarray(im.convert("RGB")), rgb)
        stats = segment_stats(ids)
        assert set(stats) == {s.id for s in a.segments}
        for s in a.segments:
            area, bbox = stats[s.id]
            assert area == s.area and bbox == tuple(s.bbox), s.id


def test_coco_sample_detection_format_loads_and_matches_the_panoptic_png():
    ds = load_instances(SAMPLE / "panoptic_coco_detection_format.json")
    pan = load_panoptic(SAMPLE / "panoptic_examples.json")
    assert ds.n_annotations == 50 and len(ds.categories) == 133
    for iid, anns in ds.by_image.items():
        info = ds.images[iid]
        ids = read_id_map(pan.png_path(iid))
        masks = decode_instances(anns, info.height, info.width, file=ds.path, image_id=iid)
        segs = pan.annotations[iid].segments
        assert len(masks) == len(segs)
        for m, a, s in zip(masks, anns, segs):  # same order in both files
            assert np.array_equal(full_mask(m, info.height, info.width), ids == s.id)
            assert m.area == a["area"] == s.area
            assert list(m.bbox) == [int(v) for v in a["bbox"]] == list(s.bbox)
            assert m.iscrowd == a["iscrowd"] == s.iscrowd
    assert sum(m["iscrowd"] for v in ds.by_image.values() for m in v) == 3
