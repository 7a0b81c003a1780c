"""io.panoptic.typed (msgspec, the fast path of load_panoptic_arrays for large files) ==
the usual orjson reader: the same arrays, images, categories and names wherever it answers,
and for everything it declines the usual reader's result or error (same message)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.errors import InputError
from rapkit.io.panoptic import read as panoptic_read
from rapkit.io.panoptic.typed import typed_columns, typed_panoptic

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"
CATS = [{"id": 1, "name": "a", "isthing": 1}, {"id": 7, "name": "b", "isthing": 0}]
IMAGES = [
    {"id": 5, "file_name": "x.jpg", "height": 2, "width": 2},
    {"id": 6, "file_name": "y.jpg", "height": 2, "width": 2},
]


def _load(path: Path, typed: bool, monkeypatch, **kw):
    monkeypatch.setattr(panoptic_read, "TYPED_BYTES", 0 if typed else 1 << 62)
    try:
        return panoptic_read.load_panoptic_arrays(path, **kw)
    except InputError as e:
        return ("error", str(e))


def _fields(ds) -> tuple:
    if isinstance(ds, tuple):
        return ds
    s = ds.segments
    cols = tuple((c.dtype.str, c.tolist()) for c in (s.offsets, s.id, s.category_id, s.area, s.iscrowd))
    return (ds.json_path, ds.png_dir, ds.images, ds.categories, s.image_ids, s.file_names, cols, s.exact)


def _agree(path: Path, monkeypatch, **kw):
    """Both paths give the same; returns the typed path's answer (typed_columns' too)."""
    fast = _load(path, True, monkeypatch, **kw)
    slow = _load(path, False, monkeypatch, **kw)
    assert _fields(fast) == _fields(slow)
    try:
        cols = typed_columns(path.read_bytes(), path, kw.get("areas", True))
    except InputError:  # images or categories: raised as the usual reader raises them
        cols = None
    return fast, cols


def _load_full(path: Path, typed: bool, monkeypatch, **kw):
    monkeypatch.setattr(panoptic_read, "TYPED_BYTES", 0 if typed else 1 << 62)
    try:
        return panoptic_read.load_panoptic(path, **kw)
    except InputError as e:
        return ("error", str(e))


def _agree_full(path: Path, monkeypatch, **kw):
    """load_panoptic (Segment objects): both paths give the same; the typed answer."""
    fast = _load_full(path, True, monkeypatch, **kw)
    assert fast == _load_full(path, False, monkeypatch, **kw)
    try:
        return typed_panoptic(path.read_bytes(), path, kw.get("check_categories", True))
    except InputError:
        return None


def _write(tmp_path: Path, doc, name: str = "p.json") -> Path:
    p = tmp_path / name
    p.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    return p


def _doc(segs5: list, segs6: list | None = None, **ann) -> dict:
    anns = [{"image_id": 5, "file_name": "x.png", "segments_info": segs5, **ann}]
    if segs6 is not None:
        anns.append({"image_id": 6, "file_name": "y.png", "segments_info": segs6})
    return {"images": IMAGES, "annotations": anns, "categories": CATS}


def test_the_sample_and_a_synthetic_world_agree_and_take_the_typed_path(tmp_path, monkeypatch):
    for kw in ({}, {"check_categories": False, "areas": False}):
        _, cols = _agree(SAMPLE / "panoptic_examples.json", monkeypatch, **kw)
        assert cols is not None
    assert _agree_full(SAMPLE / "panoptic_examples.json", monkeypatch) is not None
    from rapkit.synth import SynthConfig, make_world

    w = make_world(tmp_path / "w", SynthConfig(n_images=6, height=32, width=32, render_images=False))
    for kw in ({}, {"check_categories": False, "areas": False}):
        ds, cols = _agree(Path(w.panoptic), monkeypatch, **kw)
        assert cols is not None and len(ds.segments.image_ids) == 6
    for kw in ({}, {"check_categories": False}):
        assert _agree_full(Path(w.panoptic), monkeypatch, **kw) is not None


PLAIN = {"id": 3, "category_id": 1, "area": 2, "iscrowd": 0}


@pytest.mark.parametrize(
    "doc",
    [
        _doc([PLAIN, {"id": 9, "category_id": 7, "area": 1, "iscrowd": 1}], [{"id": 4, "category_id": 1}]),
        _doc([{"id": 3, "category_id": 1}]),  # no area, no iscrowd
        _doc([{**PLAIN, "bbox": [0, 0, 1, 1], "score": 0.5, "relation": None, "extra": {"a": [1, "b"]}}]),
        _doc([PLAIN], file_name=""),  # the name from the image
        _doc([PLAIN], file_name=None),
        _doc([PLAIN], file_name=7),
        {"annotations": [{"image_id": 9, "segments_info": [PLAIN]}]},  # no images, no categories
        _doc([{"id": True, "category_id": 1}]),
        _doc([{"id": 3.0, "category_id": 1, "area": 2.5}]),
        _doc([{"id": "3", "category_id": 1}]),
        _doc([{"id": 3, "category_id": 1, "area": None}]),
        _doc([{"id": 2**63, "category_id": 1}]),
        _doc([{"id": -(2**63) - 1, "category_id": 1}]),
        _doc([{"id": 3, "category_id": 1, "area": 1 << 52}]),
        _doc([{"id": 3, "category_id": 1, "area": -(1 << 52)}]),
        _doc([{"id": 3, "category_id": 1, "area": -(2**63)}]),
        _doc([{"id": 3, "category_id": 1, "iscrowd": 2**64}]),
        _doc([{"id": 0, "category_id": 1}]),
        _doc([PLAIN, PLAIN]),  # a segment id twice
        _doc([{"id": 3, "category_id": 99}]),  # an unknown category
        _doc([{"category_id": 1}]),
        _doc([PLAIN], [PLAIN], image_id=6),  # one image twice
        {**_doc([PLAIN]), "annotations": [{"image_id": "5", "file_name": "x.png", "segments_info": [PLAIN]}]},
        {**_doc([PLAIN]), "annotations": [{"image_id": 2**70, "file_name": "x.png", "segments_info": [PLAIN]}]},
        {**_doc([PLAIN]), "annotations": [{"image_id": 5, "segments_info": {"id": 3}}]},
        {**_doc([PLAIN]), "annotations": [None]},
        {**_doc([PLAIN]), "annotations": {}},
        {"images": IMAGES, "categories": CATS},
        {**_doc([PLAIN]), "images": None},
        {**_doc([PLAIN]), "images": [{"id": 5}]},
        {**_doc([PLAIN]), "categories": [{"id": "x"}]},
        [],
    ],
)
def test_every_variation_agrees(tmp_path, monkeypatch, doc):
    p = _write(tmp_path, doc)
    for kw in ({}, {"check_categories": False, "areas": False}):
        _agree(p, monkeypatch, **kw)
    for kw in ({}, {"check_categories": False}):
        _agree_full(p, monkeypatch, **kw)


SEGMENT_VALUES = [  # (extra fields of a segment, whether the typed path answers)
    ({"bbox": [1.4, 2.5, 3.5, 4.6]}, True),
    ({"bbox": [1, 2, 3, 4], "score": 1, "relation": 0.25}, True),
    ({"bbox": []}, True),
    ({"bbox": None, "score": None, "relation": None}, True),
    ({"bbox": [1, 2]}, True),
    ({"bbox": [1e30, -0.5, 0.5, 2.5], "score": 10**30, "relation": -(10**25)}, True),
    ({"bbox": "1234"}, False),
    ({"bbox": [True, 1, 1, 1]}, False),
    ({"bbox": [1, 2, 3, None]}, False),
    ({"score": "0.5"}, False),
    ({"score": True}, False),
    ({"relation": [0.5]}, False),
    ({"area": 2.0}, False),
    ({"iscrowd": 1}, True),
    ({"iscrowd": 2}, True),
    ({"area": 2**63 - 1, "iscrowd": -(2**63)}, True),
    ({"area": 2**63}, False),  # beyond int64 (from 2**64 on orjson reads it as a float)
    ({"iscrowd": -(2**63) - 1}, False),
]


@pytest.mark.parametrize(("extra", "answers"), SEGMENT_VALUES)
def test_segment_values_agree(tmp_path, monkeypatch, extra, answers):
    p = _write(tmp_path, _doc([{**PLAIN, **extra}, {"id": 4, "category_id": 7}]))
    assert (_agree_full(p, monkeypatch) is not None) == answers


def test_integers_orjson_reads_as_floats_are_declined(tmp_path, monkeypatch):
    for images in ([{**IMAGES[0], "id": 2**64}], [{**IMAGES[0], "extra": {"n": [-(2**63) - 1]}}]):
        p = _write(tmp_path, {**_doc([PLAIN]), "images": images})
        assert typed_panoptic(p.read_bytes(), p, True) is None
        assert typed_columns(p.read_bytes(), p, True) is None
        _agree(p, monkeypatch)
        _agree_full(p, monkeypatch)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"annotations": [{"image_id": 5, "image_id": 6, "segments_info": [{"id": 1, "id": 2, "category_id": 1}]}]}',
        b'{"annotations": [], "annotations": [{"image_id": 5, "segments_info": []}]}',
        b'{"annotations": [{"image_id": 5, "file_name": "\\u00e9t\\u00e9.png", "segments_info": []}]}',
        '{"annotations": [{"image_id": 5, "file_name": "été.png", "segments_info": []}]}'.encode(),
        b'{"annotations": [{"image_id": 5, "segments_info": [{"id": 1, "category_id": 1, "area": NaN}]}]}',
        b'{"annotations": [{"image_id": 5, "segments_info": [{"id": 1, "category_id": 1, "bbox": [Infinity]}]}]}',
        b'{"annotations": [{"image_id": 5, "file_name": "\\ud800.png", "segments_info": []}]}',
        b'{"annotations": [{"image_id": 5, "segments_info": [],}]}',
        b'{"annotations": [{"image_id": 5, "segments_info": []}]} x',
        b'\xef\xbb\xbf{"annotations": []}',
        b'{"annotations": [{"image_id": 5, "file_name": "\xff.png", "segments_info": []}]}',
        b'{"annotations": [{"image_id": 5, "segments_info": [{"id": 1, "category_id": 1, "note": "\xff"}]}]}',
        b'{"info": {"a": "\xff"}, "annotations": [{"image_id": 5, "segments_info": []}]}',
        b'{"annotations": [{"image_id": 5, "segments_info": [{"id": 1, "category_id": 1, "note": 1e400}]}]}',
        b'{"annotations": [{"image_id": 05, "segments_info": []}]}',
        b'{"annotations": [{"image_id": -0, "segments_info": []}]}',
        b'{"annotations": [{"image_id": 5e0, "segments_info": []}]}',
        b"",
    ],
)
def test_json_edge_cases_agree(tmp_path, monkeypatch, raw):
    _agree(_write(tmp_path, raw), monkeypatch)
    _agree_full(_write(tmp_path, raw), monkeypatch)


def test_a_file_that_cannot_be_read_is_worded_by_the_usual_reader(tmp_path, monkeypatch):
    for path in (tmp_path / "missing.json", tmp_path):
        fast = _load(path, True, monkeypatch)
        assert fast == _load(path, False, monkeypatch) and fast[0] == "error"


def test_small_files_do_not_import_msgspec_or_take_the_typed_path(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("rapkit.io.panoptic.typed.typed_columns", lambda *a: seen.append(a))
    panoptic_read.load_panoptic_arrays(_write(tmp_path, _doc([PLAIN])))
    assert seen == [] and panoptic_read.TYPED_BYTES >= 64 * 1024


_ints = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([0, 1 << 52, -(1 << 52), 2**63 - 1, 2**63, -(2**63)]),
    st.sampled_from([True, 2.0, 2.5, "2", None]),
)
_value = st.one_of(_ints, st.floats(allow_nan=False, allow_infinity=False), st.lists(_ints, max_size=4))
_seg = st.dictionaries(
    st.sampled_from(["id", "category_id", "area", "iscrowd", "bbox", "score", "relation"]), _value, max_size=7
)
_ann = st.fixed_dictionaries(
    {
        "image_id": st.one_of(st.integers(4, 7), st.sampled_from(["5", True, None])),
        "segments_info": st.lists(_seg, max_size=4),
    },
    optional={"file_name": st.sampled_from(["a.png", "", None, 3])},
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(anns=st.lists(_ann, max_size=4), areas=st.booleans(), cats=st.booleans())
def test_generated_documents_agree(tmp_path, monkeypatch, anns, areas, cats):
    doc = {"images": IMAGES, "annotations": anns, "categories": CATS}
    p = _write(tmp_path, doc)
    _agree(p, monkeypatch, areas=areas, check_categories=cats)
    _agree_full(p, monkeypatch, check_categories=cats)


def test_columns_are_int64_and_contiguous():
    got = typed_columns(
        b'{"annotations": [{"image_id": 7, "segments_info": [{"id": 1, "category_id": 2, "area": 3}]}]}', "p.json", True
    )
    assert got is not None
    iids, names, lens, cols, images, cats = got
    assert (iids, names, lens, images, cats) == ([7], ["000000000007.png"], [1], {}, {})
    assert [c.tolist() for c in cols] == [[1], [2], [3], [0]]
    assert all(c.dtype == np.int64 and c.flags.c_contiguous for c in cols)
