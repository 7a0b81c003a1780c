"""The segmentation checks of ``load_instances`` (their fast paths give the same verdicts)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.errors import InputError
from rapkit.io import coco
from rapkit.io.coco import validate_segmentation

OK = [[0, 0, 4, 0, 4, 4]]


@pytest.mark.parametrize(
    ("seg", "message"),
    [
        ([[0.0, 0.0, float("nan"), 1.0, 2.0, 2.0]], "non-finite"),
        ([[0.0, 0.0, float("inf"), 1.0, 2.0, 2.0]], "non-finite"),
        ([[0.0, 0.0, 1.0, -float("inf"), 2.0, 2.0]], "non-finite"),
        ([[0, 0, 4, 0, 4, 400]], "far outside the 8x8 image (400; the limit is 144)"),
        ([[0, 0, 4, 0, -145.5, 4]], "far outside the 8x8 image (145.5; the limit is 144)"),
        ([[2**64 - 1, 0, 4, 0, 4, 4]], "far outside"),
        ([[True, False, True, True, False, False]], "not a list of numbers"),
        ([[0, 0, 4, 0, "4", 4]], "not a list of numbers"),
        ({"size": [8, 8], "counts": [10, 54]}, None),
        ({"size": [8, 8], "counts": [10, -1, 55]}, "non-negative"),
        ({"size": [8, 8], "counts": [10, True, 53]}, "non-negative"),
        ({"size": [8, 8], "counts": [10, 53]}, "covers 63 pixels"),
        ({"size": [8, 8], "counts": []}, "covers 0 pixels"),
        (OK, None),
        ([[0, 0, 4, 0, 4, 144]], None),
    ],
)
def test_verdicts(seg, message):
    if message is None:
        validate_segmentation(seg, 8, 8)
        return
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_segmentation(seg, 8, 8, ann_id=3)


@pytest.mark.parametrize(("bad", "message"), [("x", "could not convert string to float"), (float("nan"), "finite")])
def test_unchecked_polygons_name_the_bad_annotation(bad, message):
    """``decode_instances`` of annotations that did not come through ``load_instances``."""
    from rapkit.io.coco import decode_instances

    anns = [
        {"id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]},
        {"id": 2, "category_id": 1, "segmentation": [[0, 0, bad, 0, 4, 4]]},
    ]
    with pytest.raises(InputError, match=f"annotation 2: cannot decode segmentation: .*{message}"):
        decode_instances(anns, 8, 8)


_coord = st.one_of(
    st.floats(-200, 200),
    st.sampled_from([144.0, -144.0, 144.5, -144.0000001, float("nan"), float("inf"), -float("inf"), 1e308]),
    st.integers(-150, 150),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(seg=st.lists(st.lists(_coord, max_size=9), min_size=1, max_size=3))
def test_the_plain_polygon_check_agrees_with_the_full_one(seg):
    """validate_segmentation's quick check of plain float polygons (no numpy) gives what the
    full per-polygon check gives: the same kind, or the same error."""

    def outcome(quick: bool):
        real = coco._plain_polygon
        coco._plain_polygon = real if quick else (lambda poly, lim: False)
        try:
            return coco.validate_segmentation(seg, 8, 8, file="i.json", image_id=1, ann_id=7)
        except InputError as e:
            return str(e)
        finally:
            coco._plain_polygon = real

    assert outcome(True) == outcome(False)
