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
from rapkit.io.panoptic.typed import typed_columns

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
    from rapkit.synth import SynthConfig, make_world

    w = make_world(tmp_path / "w", SynthConfig(n_images=6, height=32, width=32, render_images=False))
    for kw in ({}, {"check_categories": False, "areas": False}):
        ds, cols = _agree(Path(w.panoptic), monkeypatch, **kw)
        assert cols is not None and len(ds.segments.image_ids) == 6


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
    for kw in ({}, {"check_categories": False, "areas": False}):
        _agree(_write(tmp_path, doc), monkeypatch, **kw)


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
        b'{"annotations": [{"image_id": 05, "segments_info": []}]}',
        b'{"annotations": [{"image_id": -0, "segments_info": []}]}',
        b'{"annotations": [{"image_id": 5e0, "segments_info": []}]}',
        b"",
    ],
)
def test_json_edge_cases_agree(tmp_path, monkeypatch, raw):
    _agree(_write(tmp_path, raw), monkeypatch)


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
_seg = st.dictionaries(st.sampled_from(["id", "category_id", "area", "iscrowd", "bbox"]), _ints, max_size=5)
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
    _agree(_write(tmp_path, doc), monkeypatch, areas=areas, check_categories=cats)


def test_columns_are_int64_and_contiguous():
    got = typed_columns(
        b'{"annotations": [{"image_id": 7, "segments_info": [{"id": 1, "category_id": 2, "area": 3}]}]}', "p.json", True
    )
    assert got is not None
    iids, names, lens, cols, images, cats = got
    assert (iids, names, lens, images, cats) == ([7], ["000000000007.png"], [1], {}, {})
    assert [c.tolist() for c in cols] == [[1], [2], [3], [0]]
    assert all(c.dtype == np.int64 and c.flags.c_contiguous for c in cols)
