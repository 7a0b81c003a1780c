"""``rapkit.io.polyfill``: polygons filled as ``cv2.fillPoly`` fills them (the authors'
relation script). The literal masks below were drawn by OpenCV 4.14.0
(``cv2.fillPoly(img, [np.array(pts, np.int32)], 1)``); where OpenCV is installed, random
polygons are compared with it too."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.io.coco import decode_instances
from rapkit.io.polyfill import fill_polygon_opencv, fill_polygons_opencv

OPENCV_4_14 = [
    ("rectangle, outline included", [[1, 1], [6, 1], [6, 4], [1, 4]], 6, 8,
     ["00000000", "01111110", "01111110", "01111110", "01111110", "00000000"]),
    ("concave arrow", [[0, 0], [9, 3], [0, 6], [4, 3]], 7, 10,
     ["1100000000", "0111100000", "0001111100", "0000111111", "0001111100", "0111100000", "1100000000"]),
    ("steep triangle, a vertex at x = width", [[2, 0], [10, 7], [0, 5]], 8, 10,
     ["0010000000", "0011000000", "0111100000", "0111110000", "1111111000", "1111111100", "0001111110",
      "0000000111"]),
    ("self-intersecting bow tie", [[0, 0], [8, 6], [8, 0], [0, 6]], 7, 9,
     ["100000001", "111000011", "111101111", "111111111", "111101111", "111000011", "100000001"]),
    ("two points: the line only", [[1, 1], [5, 3]], 5, 7,
     ["0000000", "0110000", "0001100", "0000010", "0000000"]),
]  # fmt: skip


@pytest.mark.parametrize("name, pts, h, w, rows", OPENCV_4_14, ids=[c[0] for c in OPENCV_4_14])
def test_masks_drawn_by_opencv(name, pts, h, w, rows):
    want = np.array([[c == "1" for c in r] for r in rows])
    assert np.array_equal(fill_polygon_opencv(pts, h, w), want)


def test_coordinates_truncate_toward_zero_and_polygons_unite():
    """``np.array(seg).astype(np.int)``: 4.9 -> 4, -0.7 -> 0; two polygons: their union."""
    got = fill_polygons_opencv([[-0.7, 1.9, 5.9, 1.9, 5.9, 4.99, -0.7, 4.99], [7.5, 0, 7.5, 0.5]], 6, 8)
    want = np.zeros((6, 8), bool)
    want[1:5, 0:6] = True
    want[0, 7] = True
    assert np.array_equal(got, want)
    # the decoder's "opencv" fill is this one; pycocotools' differs
    ann = {"id": 1, "category_id": 1, "segmentation": [[0.9, 0.9, 4.9, 0.9, 4.9, 4.9, 0.9, 4.9]]}
    (m,) = decode_instances([ann], 8, 8, polygon_fill="opencv")
    (p,) = decode_instances([ann], 8, 8)
    assert (m.x0, m.y0, m.mask.shape, m.area) == (0, 0, (5, 5), 25) and p.area != 25


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_polygons_equal_opencv(data):
    """Vertices inside the image (OpenCV 4.x clips polygons that leave it in its own way: a
    vertex outside may change a border pixel)."""
    cv2 = pytest.importorskip("cv2")
    h, w = data.draw(st.integers(1, 24)), data.draw(st.integers(1, 24))
    pts = data.draw(st.lists(st.tuples(st.integers(0, w - 1), st.integers(0, h - 1)), min_size=1, max_size=12))
    img = np.zeros((h, w), np.uint8)
    cv2.fillPoly(img, [np.array(pts, np.int32)], 1)
    assert np.array_equal(fill_polygon_opencv(pts, h, w), img.astype(bool))
