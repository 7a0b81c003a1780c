"""io/png_numpy.py: the numpy twin of read_pair_keys gives the fast path's arrays (and
errors) on the PNG kinds panoptic maps are written as, with every filter Pillow picks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rapkit.errors import InputError
from rapkit.io.panoptic import id2rgb
from rapkit.io.png import read_pair_keys
from rapkit.io.png_numpy import read_pair_keys_numpy


def _maps(seed: int, h: int = 23, w: int = 37) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 5, (h, w)).astype(np.uint32) * 70001  # ids in all three channels
    p = np.where(rng.random((h, w)) < 0.3, rng.integers(0, 2**24, (h, w)), g).astype(np.uint32)
    return g, p


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L"])
def test_twin_equals_fast_path(tmp_path, mode):
    for seed in range(3):
        g, p = _maps(seed)
        files = []
        for name, m in (("g", g), ("p", p)):
            rgb = id2rgb(m)
            if mode == "RGBA":
                im = Image.fromarray(np.dstack([rgb, np.full(m.shape, 255, np.uint8)]), "RGBA")
            elif mode == "P":
                im = Image.fromarray(rgb, "RGB").quantize(16)
            elif mode == "L":
                im = Image.fromarray(rgb[..., 0], "L")
            else:
                im = Image.fromarray(rgb, "RGB")
            f = tmp_path / f"{name}{seed}.png"
            im.save(f, optimize=seed == 1, compress_level=[6, 9, 1][seed])
            files.append(f)
        want = read_pair_keys(*files, image_id=seed)
        got = read_pair_keys_numpy(*files, image_id=seed)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and got[2] == want[2]
        assert got[0].dtype == np.uint64 and got[1].dtype == np.int64


def test_shape_argument_and_size_mismatch(tmp_path):
    g, p = _maps(0)
    Image.fromarray(id2rgb(g)).save(tmp_path / "g.png")
    Image.fromarray(id2rgb(p[:, :-1])).save(tmp_path / "p.png")
    Image.fromarray(id2rgb(p)).save(tmp_path / "q.png")
    for args, kw in (
        ((tmp_path / "g.png", tmp_path / "p.png"), {}),
        ((tmp_path / "g.png", tmp_path / "q.png"), {"shape": (5, 5)}),
    ):
        msgs = []
        for f in (read_pair_keys, read_pair_keys_numpy):
            with pytest.raises(InputError) as e:
                f(*args, image_id=3, **kw)
            msgs.append((str(e.value), e.value.file))
        assert msgs[0] == msgs[1]
