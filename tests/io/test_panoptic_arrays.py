"""io.panoptic.load_panoptic_arrays (PQ's one reader of panoptic JSON, the segments as arrays)
== load_panoptic's segments: the same segments for plain and unusual JSON (values beyond the
arrays kept exactly), the same errors for bad JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapkit.errors import InputError
from rapkit.io.panoptic import load_panoptic, load_panoptic_arrays

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"
CATS = [{"id": 1, "name": "a", "isthing": 1}, {"id": 7, "name": "b", "isthing": 0}]


def _write(tmp_path: Path, anns: list, name: str = "p.json") -> Path:
    p = tmp_path / name
    images = [{"id": 5, "file_name": "x.jpg", "height": 2, "width": 2}]
    p.write_text(json.dumps({"images": images, "annotations": anns, "categories": CATS}))
    return p


def _tuples(ds) -> list[list[tuple]]:
    return [[(s.id, s.category_id, s.area, s.iscrowd) for s in a.segments] for a in ds.annotations.values()]


def _same(path: Path, **kw) -> None:
    ds = load_panoptic_arrays(path, **kw)
    arr = ds.segments
    want = load_panoptic(path, check_categories=kw.get("check_categories", True))
    assert ds.categories == want.categories and ds.png_dir == want.png_dir and ds.images == want.images
    assert arr.image_ids == list(want.annotations)
    assert arr.file_names == [a.file_name for a in want.annotations.values()]
    got = [arr.segments(k) for k in range(len(arr.image_ids))]
    if kw.get("areas", True):
        assert got == _tuples(want)
    else:
        assert [[g[:2] for g in im] for im in got] == [[f[:2] for f in im] for im in _tuples(want)]
        assert not arr.area.any() and not arr.iscrowd.any()
    # images whose values the arrays cannot hold own no entries there and keep exact tuples
    lens = [0 if k in arr.exact else len(a.segments) for k, a in enumerate(want.annotations.values())]
    assert (arr.offsets[1:] - arr.offsets[:-1]).tolist() == lens
    flat = [s for k, im in enumerate(got) if k not in arr.exact for s in im]
    assert list(zip(arr.id.tolist(), arr.category_id.tolist(), arr.area.tolist(), arr.iscrowd.tolist())) == flat


def test_sample_arrays_equal_compact_segments():
    _same(SAMPLE / "panoptic_examples.json")
    _same(SAMPLE / "panoptic_examples.json", check_categories=False, areas=False)


@pytest.mark.parametrize(
    "segs",
    [
        [{"id": 3, "category_id": 1, "area": 2, "iscrowd": 0}, {"id": 9, "category_id": 7, "area": 1, "iscrowd": 1}],
        [{"id": 3, "category_id": 1}],  # no area, no iscrowd
        [{"id": 3.0, "category_id": "1", "area": 2.7, "iscrowd": True}],  # int() of each, as the slow path
        [{"id": 3, "category_id": 1, "area": 2**70}],  # does not fit int64
        [{"id": 3, "category_id": 1, "area": 2**60}],  # fits, but sums with it could wrap
        [{"id": 2**70, "category_id": 1, "area": 1}, {"id": 4, "category_id": 1, "area": 2}],  # an id beyond int64
        [{"id": -4, "category_id": 1, "area": 1, "iscrowd": 2}, {"id": 1 << 45, "category_id": 1, "area": 0}],
        [],
    ],
)
def test_unusual_segments_equal_compact_segments(tmp_path, segs):
    p = _write(
        tmp_path, [{"image_id": 5, "segments_info": segs}, {"image_id": 6, "file_name": "y.png", "segments_info": []}]
    )
    _same(p)
    _same(p, areas=False)
    beyond = any(s["area"] >= 2**52 or s["id"] >= 2**63 for s in segs if isinstance(s.get("area"), int))
    exact = load_panoptic_arrays(p).segments.exact
    assert list(exact) == ([0] if beyond else [])  # image 5 keeps Python ints (PQ: pq_stats), image 6 arrays


@pytest.mark.parametrize(
    "anns",
    [
        [{"image_id": 5, "segments_info": [{"id": 3, "category_id": 1}, {"id": 3, "category_id": 1}]}],
        [{"image_id": 5, "segments_info": [{"id": 0, "category_id": 1}]}],
        [{"image_id": 5, "segments_info": [{"id": 2, "category_id": 55}]}],
        [{"image_id": 5, "segments_info": [{"id": None, "category_id": 1}]}],
        [{"image_id": 5, "segments_info": [{"category_id": 1}]}],
        [{"image_id": 5}],
        [{"image_id": 5, "segments_info": []}, {"image_id": 5, "segments_info": []}],
        ["not a dict"],
        [{"image_id": [1], "segments_info": []}],  # neither an integer nor a string (Cityscapes ids are strings)
    ],
)
def test_errors_equal_load_panoptic(tmp_path, anns):
    p = _write(tmp_path, anns)
    with pytest.raises(InputError) as want:
        load_panoptic(p)
    with pytest.raises(InputError) as got:
        load_panoptic_arrays(p)
    assert (got.value.message, got.value.image_id, got.value.segment_id, got.value.file) == (
        want.value.message,
        want.value.image_id,
        want.value.segment_id,
        want.value.file,
    )


def test_unknown_category_allowed_without_check(tmp_path):
    p = _write(tmp_path, [{"image_id": 5, "segments_info": [{"id": 2, "category_id": 55}]}])
    _same(p, check_categories=False)
