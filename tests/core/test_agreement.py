"""rapkit.core.agreement: where two panoptic results agree, pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest
from builders import planted_partitions

from rapkit.core.agreement import corresponding_pixels, differ_mask, segment_categories
from rapkit.errors import InputError


def test_differ_mask_marks_exactly_the_planted_pixels():
    a, ca, b, cb, expect = planted_partitions()
    got = differ_mask(a, ca, b, cb)
    assert np.array_equal(got, expect)
    assert np.array_equal(differ_mask(b, cb, a, ca), expect)  # symmetric


def test_differ_mask_category_only_change_and_renumbering():
    a = np.array([[1, 1, 2, 2]] * 3)
    ca = np.array([[5, 5, 6, 6]] * 3)
    assert not differ_mask(a, ca, a * 7, ca).any()
    cb = ca.copy()
    cb[:, 2:] = 9  # same partition, category of segment 2 differs
    assert np.array_equal(differ_mask(a, ca, a, cb), np.array([[False, False, True, True]] * 3))


def test_corresponding_pixels_ties_go_to_the_smaller_id():
    a = np.array([[1, 1, 2, 2]])
    b = np.array([[5, 5, 5, 5]])  # B's 5 overlaps A's 1 and 2 by 2 pixels each: 1 wins
    assert corresponding_pixels(a, b).tolist() == [[True, True, False, False]]
    with pytest.raises(ValueError):
        corresponding_pixels(a, b[:, :3])


def test_segment_categories_names_an_unknown_id():
    ids = np.array([[0, 4, 9]], np.uint32)
    assert segment_categories(ids, {4: 2, 9: 7}).tolist() == [[0, 2, 7]]
    with pytest.raises(InputError) as e:
        segment_categories(ids, {4: 2}, image_id=3)
    assert e.value.image_id == 3 and e.value.segment_id == 9
