"""io.panoptic.load_panoptic_arrays (the segments PQ reads, as arrays) == load_panoptic(compact=True):
the same segments for plain and unusual JSON, the same errors for bad JSON."""

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


def _same(path: Path, **kw) -> None:
    ds, arr = load_panoptic_arrays(path, **kw)
    want = load_panoptic(path, compact=True, check_categories=kw.get("check_categories", True))
    assert arr is not None and ds.categories == want.categories and ds.png_dir == want.png_dir
    assert arr.image_ids == list(want.annotations)
    assert arr.file_names == [a.file_name for a in want.annotations.values()]
    flat = [s for a in want.annotations.values() for s in a.segments]
    got = list(zip(arr.id.tolist(), arr.category_id.tolist(), arr.area.tolist(), arr.iscrowd.tolist()))
    if kw.get("areas", True):
        assert got == flat
    else:
        assert [g[:2] for g in got] == [f[:2] for f in flat]
    lens = [len(a.segments) for a in want.annotations.values()]
    assert (arr.offsets[1:] - arr.offsets[:-1]).tolist() == lens


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
        [{"id": -4, "category_id": 1, "area": 1, "iscrowd": 2}, {"id": 1 << 45, "category_id": 1, "area": 0}],
        [],
    ],
)
def test_unusual_segments_equal_compact_segments(tmp_path, segs):
    p = _write(
        tmp_path, [{"image_id": 5, "segments_info": segs}, {"image_id": 6, "file_name": "y.png", "segments_info": []}]
    )
    if any(isinstance(s.get("area"), int) and s["area"] >= 2**52 for s in segs):
        ds, arr = load_panoptic_arrays(p)
        assert arr is None and list(ds.annotations) == [5, 6]  # the caller keeps the Python path
        return
    _same(p)


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
        [{"image_id": "x", "segments_info": []}],
    ],
)
def test_errors_equal_load_panoptic(tmp_path, anns):
    p = _write(tmp_path, anns)
    with pytest.raises(InputError) as want:
        load_panoptic(p, compact=True)
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
