"""The typed (msgspec) fast paths of ``rapkit fuse``'s two big JSON reads give exactly the
standard readers' results: ``load_proposals_packed_fast`` == ``load_proposals_packed``
array for array (same dtypes, same order), or both raise the same InputError;
``load_images_fast`` == ``load_images``. Checked on a synthetic world, on hand-made
documents with every variation the fast path must decline, and on generated documents."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.errors import InputError
from rapkit.io.images_fast import decode_images, load_images_fast
from rapkit.io.panoptic import load_categories, load_images
from rapkit.io.proposals import load_proposals_packed
from rapkit.io.proposals_fast import decode_packed, load_proposals_packed_fast
from rapkit.types import Category, ImageInfo

IMAGES = {1: ImageInfo(1, "a.jpg", 2, 2), 7: ImageInfo(7, "b.jpg", 2, 3), 3: ImageInfo(3, "c.jpg", 2, 2)}
CATS = {1: Category(1, "person", True), 2: Category(2, "car", True), 5: Category(5, "sky", False)}


def entry(**kw):
    e = {"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [2, 2], "counts": "04"}}
    e.update(kw)
    return e


def outcome(fn, *args, **kw):
    try:
        return "ok", fn(*args, **kw)
    except InputError as e:
        return "error", str(e)


def same_packed(a, b) -> bool:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if not (x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()):
                return False
        elif x != y:
            return False
    return True


def compare(tmp_path, data: bytes, require_relation: bool, images=IMAGES, cats=CATS) -> str:
    """Both readers on ``data``: equal results or the same error; returns which."""
    p = tmp_path / "proposals.json"
    p.write_bytes(data)
    old = outcome(load_proposals_packed, p, images, cats, require_relation=require_relation)
    new = outcome(load_proposals_packed_fast, p, images, cats, require_relation=require_relation)
    assert old[0] == new[0], (old, new)
    if old[0] == "ok":
        assert same_packed(old[1], new[1])
    else:
        assert old[1] == new[1]
    return old[0]


def test_equal_on_a_synthetic_world(tmp_path):
    from rapkit.synth import SynthConfig, make_world

    w = make_world(tmp_path / "w", SynthConfig(n_images=5, height=40, width=56, seed=2, render_images=False))
    images = load_images(w.panoptic)
    assert load_images_fast(w.panoptic) == images and list(load_images_fast(w.panoptic)) == list(images)
    assert decode_images(w.panoptic.read_bytes()) is not None  # the fast path itself ran
    cats = load_categories(w.categories)
    data = w.proposals.read_bytes()
    for rr in (False, True):
        pk = decode_packed(data, images, cats, require_relation=rr)
        assert pk is not None and same_packed(pk, load_proposals_packed(w.proposals, images, cats, require_relation=rr))
    # shuffled entries: the per-image order is the file's, as the standard reader has it
    entries = json.loads(data)
    shuffled = json.dumps(entries[::-1]).encode()
    assert decode_packed(shuffled, images, cats) is not None
    assert compare(tmp_path, shuffled, False, images, cats) == "ok"


ACCEPTED = [
    [],
    [entry(), entry(image_id=7, segmentation={"size": [2, 3], "counts": "06"}), entry(image_id=1, score=1)],
    [entry(relation=0.25), entry(relation=None), entry(relation=3), entry(score=0, relation=-0.0)],
    [entry(bbox=[0, 0, 1, 1], area=4, extra={"x": [1, "é"]}, segmentation={"size": [2, 2], "counts": "04", "o": 1})],
    [entry(relation=123456789012345678901234567890), entry(score=1e-300, relation=-1e300)],
]
DECLINED = [
    {"annotations": [entry()]},  # a top-level object: accepted by the standard reader
    [entry(image_id=True)],
    [entry(image_id=1.0)],
    [entry(image_id=99)],
    [entry(image_id=2**70)],
    [entry(category_id=5)],
    [entry(category_id=9)],
    [entry(category_id=1.0)],
    [entry(category_id=-(2**70))],
    [entry(score=True)],
    [entry(score=1.5)],
    [entry(score=-0.1)],
    [entry(score="0.5")],
    [entry(score=None)],
    [entry(relation=True)],
    [entry(relation="x")],
    [entry(relation_val=0.5)],
    [entry(relation=0.5, relation_val="bad")],
    [entry(occludes=[[1, 0.5]])],
    [entry(segmentation={"size": [2, 2], "counts": [0, 4]})],  # uncompressed: compressed by the standard reader
    [entry(segmentation={"size": [2, 2.0], "counts": "04"})],
    [entry(segmentation={"size": [2, 3], "counts": "04"})],
    [entry(segmentation={"size": [2, 2, 1], "counts": "04"})],
    [entry(segmentation={"size": [2, 2], "counts": "0é"})],
    [entry(segmentation={"size": [2, 2]})],
    [entry(segmentation=[[0, 0, 1, 1]])],
    [entry(segmentation={"size": [2**70, 2], "counts": "04"})],
    [{k: v for k, v in entry().items() if k != "score"}],
    [{k: v for k, v in entry().items() if k != "image_id"}],
    [entry(), 3],
    [entry(), None],
]


@pytest.mark.parametrize("doc", ACCEPTED, ids=range(len(ACCEPTED)))
def test_accepted_documents_equal(tmp_path, doc):
    data = json.dumps(doc).encode()
    assert decode_packed(data, IMAGES, CATS) is not None
    assert compare(tmp_path, data, False) == "ok"


@pytest.mark.parametrize("doc", DECLINED, ids=range(len(DECLINED)))
@pytest.mark.parametrize("require_relation", [False, True])
def test_declined_documents_go_the_standard_way(tmp_path, doc, require_relation):
    data = json.dumps(doc).encode()
    assert decode_packed(data, IMAGES, CATS, require_relation=require_relation) is None
    compare(tmp_path, data, require_relation)


@pytest.mark.parametrize(
    "data",
    [
        b'[{"image_id": 1, "category_id": 1, "score": NaN, "segmentation": {"size": [2, 2], "counts": "04"}}]',
        b'[{"image_id": 1, "category_id": 1, "score": 0.5, "relation": Infinity, '
        b'"segmentation": {"size": [2, 2], "counts": "04"}}]',
        b'[{"image_id": 1, "category_id": 1, "score": 0.5, "relation": 1e999, '
        b'"segmentation": {"size": [2, 2], "counts": "04"}}]',
        b'[{"image_id": 1, "category_id": 1, "score": 0.5, "bbox": "\xff", '
        b'"segmentation": {"size": [2, 2], "counts": "04"}}]',  # not UTF-8 in a skipped field
        b'[{"image_id": 1, "category_id": 1, "score": 0.5, "x": "\\ud800", '
        b'"segmentation": {"size": [2, 2], "counts": "04"}}]',  # a lone surrogate: json accepts it
        b"\xef\xbb\xbf[]",  # a byte order mark: json accepts it
        b"[1,]",
        b"",
        b'[{"image_id": 1, "image_id": 7, "category_id": 1, "score": 0.5, '
        b'"segmentation": {"size": [2, 3], "counts": "06"}}]',  # duplicate keys: the last wins
    ],
)
@pytest.mark.parametrize("require_relation", [False, True])
def test_raw_documents(tmp_path, data, require_relation):
    compare(tmp_path, data, require_relation)


def test_missing_file_same_error(tmp_path):
    old = outcome(load_proposals_packed, tmp_path / "no.json", IMAGES, CATS)
    assert outcome(load_proposals_packed_fast, tmp_path / "no.json", IMAGES, CATS) == old and old[0] == "error"
    assert outcome(load_images_fast, tmp_path / "no.json") == outcome(load_images, tmp_path / "no.json")
    assert outcome(load_images_fast, tmp_path) == outcome(load_images, tmp_path)


@pytest.mark.parametrize(
    "data",
    [
        b'{"images": [{"id": 1, "file_name": "\xc3\xa9.jpg", "height": 2, "width": 3}], "annotations": [{"x": 1}]}',
        b'{"annotations": [], "images": [{"id": "a_b", "height": 2.0, "width": 3}], "categories": []}',
        b'{"images": [{"id": 1, "height": 2, "width": 3}], "images": [{"id": 2, "height": 2, "width": 3}]}',
        b'{"images": [{"id": 1, "height": 2, "width": 3}], "annotations": ["\xff"]}',  # not UTF-8, skipped
        b'{"images": [{"id": 1, "height": 2, "width": 3}], "annotations": [NaN]}',
        b'{"images": [{"id": 1, "height": 2, "width": 3}, {"id": 1, "height": 2, "width": 3}]}',
        b'{"images": [{"id": 1, "height": 0, "width": 3}]}',
        b'{"images": [{"id": 18446744073709551617, "height": 2, "width": 3}]}',  # orjson: a float
        b'{"images": [[1, 2, 3]]}',
        b'{"images": {"id": 1}}',
        b'{"annotations": []}',
        b"[]",
        b'{"images": []',
    ],
)
def test_images_same_result_or_error(tmp_path, data):
    p = tmp_path / "panoptic.json"
    p.write_bytes(data)
    old = outcome(load_images, p)
    assert outcome(load_images_fast, p) == old
    if old[0] == "ok":
        assert list(load_images_fast(p)) == list(old[1])


VALUES = st.one_of(
    st.integers(-3, 9),
    st.sampled_from([True, False, None, 2**70, -(2**64), "1", 1.0, 2.0, 0.5, -0.0, 1e300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SIZES = st.one_of(st.sampled_from([[2, 2], [2, 3], [2.0, 2], [2], [2, 2, 2], "2x2", [2**70, 2]]), VALUES)
COUNTS = st.sampled_from(["04", "06", "", "0é", [0, 4], [4], None, 5])


@st.composite
def documents(draw):
    """Mostly valid entries; each field is something else (any JSON value) one time in 12."""

    def field(valid, other=VALUES):
        return draw(other) if draw(st.integers(0, 11)) == 0 else draw(valid)

    entries = []
    for _ in range(draw(st.integers(0, 4))):
        image_id = field(st.sampled_from([1, 7, 3]))
        e = {
            "image_id": image_id,
            "category_id": field(st.sampled_from([1, 2])),
            "score": field(st.one_of(st.floats(0, 1), st.sampled_from([0, 1]))),
            "segmentation": {
                "size": field(st.just([2, 3] if image_id == 7 else [2, 2]), SIZES),
                "counts": field(st.sampled_from(["04", "06", ""]), COUNTS),
            },
        }
        if draw(st.integers(0, 3)):
            e["relation"] = field(st.one_of(st.floats(-2, 2), st.none(), st.integers(-2, 2)))
        if draw(st.integers(0, 5)) == 0:
            key = draw(st.sampled_from(["image_id", "score", "segmentation", "relation_val", "occludes"]))
            if key in ("relation_val", "occludes"):
                e[key] = draw(VALUES)
            else:
                del e[key]
        entries.append(e)
    return entries


@settings(max_examples=150, deadline=None)
@given(documents(), st.booleans())
def test_generated_documents(tmp_path_factory, doc, require_relation):
    data = json.dumps(doc).encode()  # NaN and Infinity as Python's json writes them
    compare(tmp_path_factory.mktemp("gen"), data, require_relation)


def test_float_values_parse_alike():
    """The score and relation floats the decoder makes are Python's (correctly rounded)."""
    vals = [0.1, 1 / 3, 0.30000000000000004, 5e-324, 0.9999999999999999, 2.5e-08]
    doc = [entry(score=v, relation=v * 7) for v in vals]
    pk = decode_packed(json.dumps(doc).encode(), IMAGES, CATS)
    assert pk.scores.tolist() == vals and pk.relations.tolist() == [v * 7 for v in vals]
    assert not math.isnan(pk.relations[0])
