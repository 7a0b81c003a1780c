"""parse_proposals: the fast path for plainly valid entries gives exactly what the full
per-entry validation gives, and invalid entries raise the same errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rapkit.errors import InputError
from rapkit.io.proposals import _check_one, parse_proposals
from rapkit.types import Category, ImageInfo

IMAGES = {1: ImageInfo(1, "a.jpg", 2, 3), 5: ImageInfo(5, "b.jpg", 4, 1), 9: ImageInfo(9, "c.jpg", 2, 2)}
CATS = {1: Category(1, "person", True), 3: Category(3, "car", True), 187: Category(187, "sky", False)}


def _entries() -> list[dict]:
    seg1 = {"size": [2, 3], "counts": "06"}
    seg5 = {"size": [4, 1], "counts": "04"}
    return [
        {"image_id": 1, "category_id": 1, "score": 0.9, "relation": 0.25, "segmentation": seg1},
        {"image_id": 5, "category_id": 3, "score": 1, "relation": -2, "segmentation": seg5},  # int score/relation
        {"image_id": 1, "category_id": 3, "score": 0.0, "relation_val": 1.5, "segmentation": seg1},  # alias
        {"image_id": 1, "category_id": 1, "score": 0.5, "relation": None, "relation_val": 3.0, "segmentation": seg1},
        {"image_id": 5, "category_id": 1, "score": 0.4, "segmentation": seg5},  # no relation
        {
            "image_id": 5,
            "category_id": 1,
            "score": 0.4,
            "relation": 0.1,
            "segmentation": {"size": [4.0, 1.0], "counts": "04"},
        },
        {
            "image_id": 1,
            "category_id": 3,
            "score": 0.7,
            "relation": 0.3,
            "segmentation": {"size": [2, 3], "counts": [0, 6]},
        },
        {
            "image_id": 1,
            "category_id": 3,
            "score": 0.7,
            "relation": 0.3,
            "segmentation": {"size": (2, 3), "counts": b"06"},
        },
        {"image_id": 5, "category_id": 3, "score": 0.2, "relation": 7.0, "segmentation": seg5, "bbox": [0, 0, 1, 1]},
    ]


def _reference(raw, require_relation=False):
    """What parse_proposals returns, built from the full per-entry validation only."""
    per = {iid: [] for iid in IMAGES}
    for k, p in enumerate(raw):
        iid, rle, s, c, r = _check_one(k, p, IMAGES, CATS, require_relation, "f.json")
        per[iid].append((k, rle, s, c, r))
    return per


def test_fast_path_equals_full_validation():
    raw = _entries()
    got = parse_proposals(raw, IMAGES, CATS, file="f.json")
    want = _reference(raw)
    assert list(got) == list(IMAGES)
    for iid, items in want.items():
        p = got[iid]
        assert (p.image_id, p.height, p.width) == (iid, IMAGES[iid].height, IMAGES[iid].width)
        assert p.scores.dtype == np.float64 and p.category_ids.dtype == np.int64 and p.relations.dtype == np.float64
        assert p.source_index.dtype == np.int64
        assert p.source_index.tolist() == [t[0] for t in items]
        assert p.scores.tolist() == [t[2] for t in items]
        assert p.category_ids.tolist() == [t[3] for t in items]
        assert np.array_equal(p.relations, np.array([t[4] for t in items], np.float64), equal_nan=True)
        assert p.rles == [t[1] for t in items]
        for rle in p.rles:
            assert type(rle["size"]) is list and all(type(v) is int for v in rle["size"])
    assert len(got[9]) == 0 and got[9].scores.dtype == np.float64
    # an explicit null relation is missing (the relation_val alias is not consulted then)
    assert got[1].relations.tolist()[:2] == [0.25, 1.5] and math.isnan(got[1].relations[2])


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"image_id": 2, "category_id": 1, "score": 0.5, "relation": 0.1}, "not in the image list"),
        ({"image_id": True, "category_id": 1, "score": 0.5, "relation": 0.1}, "no integer image_id"),
        ({"image_id": 1, "category_id": 187, "score": 0.5, "relation": 0.1}, "stuff category"),
        ({"image_id": 1, "category_id": 4, "score": 0.5, "relation": 0.1}, "unknown category 4"),
        ({"image_id": 1, "category_id": 1, "score": 1.5, "relation": 0.1}, "score must be a number"),
        ({"image_id": 1, "category_id": 1, "score": math.nan, "relation": 0.1}, "score must be a number"),
        ({"image_id": 1, "category_id": 1, "score": 0.5, "relation": math.inf}, "must be finite"),
        ({"image_id": 1, "category_id": 1, "score": 0.5, "relation": "x"}, "must be a number"),
        ({"image_id": 1, "category_id": 1, "score": 0.5, "relation": math.nan}, "no relation value"),
        ({"image_id": 1, "category_id": 1, "score": 0.5}, "no relation value"),
        (
            {"image_id": 1, "category_id": 1, "score": 0.5, "relation": 0.1, "size": [3, 2]},
            "differs from the image size",
        ),
    ],
)
def test_invalid_entry_raises_like_full_validation(bad, message):
    entry = dict(bad)
    seg = {"size": entry.pop("size", [2, 3]), "counts": "06"}
    entry["segmentation"] = seg
    raw = _entries()[:2] + [entry] + _entries()
    with pytest.raises(InputError) as e:
        parse_proposals(raw, IMAGES, CATS, require_relation=True, file="f.json")
    assert message in str(e.value) and "proposal #2" in str(e.value)
    with pytest.raises(InputError) as e2:
        _check_one(2, entry, IMAGES, CATS, True, "f.json")
    assert str(e2.value) == str(e.value)


# ---------------------------------------------------------------- the pair head's "occludes"


def _with_occludes() -> list[dict]:
    raw = _entries()
    raw[0]["occludes"] = [[1, 2.5], [2, -1]]  # image 1: entries #0, #2, #3, #6, #7 are 0..4
    raw[2]["occludes"] = [[0, -2.5]]
    raw[4]["occludes"] = []  # image 5: entries #1, #4, #5, #8 are 0..3
    raw[5]["occludes"] = [[3, 0.0]]
    return raw


def test_occludes_read_only_when_asked_and_nothing_else_changes():
    raw = _with_occludes()
    plain = parse_proposals(raw, IMAGES, CATS, file="f.json")
    with_pairs = parse_proposals(raw, IMAGES, CATS, pairs=True, file="f.json")
    for iid in IMAGES:
        a, b = plain[iid], with_pairs[iid]
        assert a.pair_i is None and a.pair_j is None and a.pair_logit is None
        for name in ("scores", "category_ids", "relations", "source_index"):
            assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)
        assert a.rles == b.rles
    assert with_pairs[1].pair_i.tolist() == [0, 0, 1] and with_pairs[1].pair_j.tolist() == [1, 2, 0]
    assert with_pairs[1].pair_logit.tolist() == [2.5, -1.0, -2.5]
    assert (with_pairs[5].pair_i.tolist(), with_pairs[5].pair_j.tolist()) == ([2], [3])
    assert with_pairs[9].pair_i.tolist() == [] and with_pairs[9].pair_i.dtype == np.int64
    # a bad field is not looked at unless asked for
    raw[0]["occludes"] = "junk"
    assert len(parse_proposals(raw, IMAGES, CATS)[1]) == 5


def test_occludes_round_trip_through_proposals_to_json():
    from rapkit.io.proposals import proposals_to_json

    props = parse_proposals(_with_occludes(), IMAGES, CATS, pairs=True)
    entries = proposals_to_json(props[1])
    assert entries[0]["occludes"] == [[1, 2.5], [2, -1.0]] and "occludes" not in entries[2]
    again = parse_proposals(entries, IMAGES, CATS, pairs=True)[1]
    assert again.pair_logit.tolist() == props[1].pair_logit.tolist()


@pytest.mark.parametrize(
    "occ, message",
    [
        ([[5, 1.0]], r"proposal #0 \(#0 of its image\): occludes names proposal 5, outside the image's 5"),
        ([[-1, 1.0]], "outside the image's 5 proposals"),
        ([[0, 1.0]], "occludes names the proposal itself"),
        ([[1, math.nan]], "logit for proposal 1 must be a finite number"),
        ([[1, math.inf]], "must be a finite number"),
        ([[1, "2"]], "must be a finite number"),
        ([[1, 1.0], [1, 2.0]], "lists proposal 1 twice"),
        ([[1.0, 1.0]], r"is not \[k, logit\]"),
        ([[1]], r"is not \[k, logit\]"),
        ({"1": 2.0}, "occludes must be a list"),
    ],
)
def test_bad_occludes_names_file_image_and_proposal(occ, message):
    raw = _entries()
    raw[0]["occludes"] = occ
    with pytest.raises(InputError, match=message) as e:
        parse_proposals(raw, IMAGES, CATS, pairs=True, file="f.json")
    assert e.value.image_id == 1 and "f.json" in str(e.value)


def test_packed_proposals_hold_what_parse_proposals_gives():
    from rapkit.io.proposals import parse_proposals_packed

    raw = _entries()
    per = parse_proposals(raw, IMAGES, CATS)
    pk = parse_proposals_packed(raw, IMAGES, CATS)
    assert pk.image_ids == list(per)
    for i, iid in enumerate(pk.image_ids):
        a, b = int(pk.start[i]), int(pk.start[i + 1])
        p = per[iid]
        assert np.array_equal(pk.scores[a:b], p.scores) and np.array_equal(pk.category_ids[a:b], p.category_ids)
        assert np.array_equal(pk.relations[a:b], p.relations, equal_nan=True)
        assert np.array_equal(pk.source_index[a:b], p.source_index)
        strings = [bytes(pk.chars[pk.char_offsets[k] : pk.char_offsets[k + 1]]) for k in range(a, b)]
        assert strings == [c if isinstance(c, bytes) else c.encode() for c in (r["counts"] for r in p.rles)]
    with pytest.raises(InputError, match="proposal #0"):
        parse_proposals_packed([{"image_id": 2}], IMAGES, CATS)
