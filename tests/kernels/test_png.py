"""Fast PNG path == PIL on many PNG kinds; numba kernels == their numpy twins."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rapkit.core.pq import PairHistogram, pair_histogram
from rapkit.errors import InputError
from rapkit.io.panoptic import id2rgb, read_id_map
from rapkit.io.png import parse_png, read_id_map_fast, read_pair_keys
from rapkit.kernels import _reference_pq as R
from rapkit.kernels import png as K
from rapkit.kernels import pq as KQ

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "panopticapi_sample"


def read_pair_histogram(gt, pred, **kw) -> PairHistogram:
    """What ``pipeline/evaluate.py`` builds from :func:`read_pair_keys`."""
    return PairHistogram.from_keys(*read_pair_keys(gt, pred, **kw))


# --------------------------------------------------------------------------- PNG writers


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _filter_row(ft: int, row: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    r = row.astype(np.int64)
    p = prev.astype(np.int64)
    a = np.concatenate([np.zeros(bpp, np.int64), r[:-bpp]])
    c = np.concatenate([np.zeros(bpp, np.int64), p[:-bpp]])
    if ft == 0:
        pred = np.zeros_like(r)
    elif ft == 1:
        pred = a
    elif ft == 2:
        pred = p
    elif ft == 3:
        pred = (a + p) >> 1
    else:
        pred = np.array([R.ref_paeth(int(x), int(y), int(z)) for x, y, z in zip(a, p, c)], np.int64)
    return ((r - pred) & 0xFF).astype(np.uint8)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path: Path, px: np.ndarray, filters, *, idat_chunks: int = 1, interlace: bool = False) -> None:
    """Write an 8-bit RGB/RGBA PNG with the given filter type per row (cycled), optionally
    Adam7-interlaced."""
    h, w, c = px.shape
    bpp = c
    raw = bytearray()
    passes = [px[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7] if interlace else [px]
    for sub in passes:
        if sub.size == 0:
            continue
        sh, sw = sub.shape[:2]
        rows = np.ascontiguousarray(sub).reshape(sh, sw * c)
        prev = np.zeros(sw * c, np.uint8)
        for y in range(sh):
            ft = filters[y % len(filters)]
            raw.append(ft)
            raw += _filter_row(ft, rows[y], prev, bpp).tobytes()
            prev = rows[y]
    comp = zlib.compress(bytes(raw), 6)
    parts = [comp[i * len(comp) // idat_chunks : (i + 1) * len(comp) // idat_chunks] for i in range(idat_chunks)]
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if c == 4 else 2, 0, 0, int(interlace))
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + b"".join(_chunk(b"IDAT", p) for p in parts)
        + _chunk(b"IEND", b"")
    )
    path.write_bytes(data)


def _random_ids(rng, h, w, n=12) -> np.ndarray:
    # blocky maps (like panoptic maps) with some noise, ids spanning all three channels
    ids = rng.choice(
        np.array([0] + [int(rng.integers(1, 1 << 24)) for _ in range(n)], np.uint32), size=(h // 4 + 1, w // 4 + 1)
    )
    m = np.kron(ids, np.ones((4, 4), np.uint32))[:h, :w]
    noise = rng.random((h, w)) < 0.05
    m[noise] = rng.integers(0, 1 << 24, size=int(noise.sum()))
    return np.ascontiguousarray(m.astype(np.uint32))


# --------------------------------------------------------------------------- kernels vs twins


@pytest.mark.parametrize("bpp", [3, 4])
def test_unfilter_kernel_equals_twin(bpp):
    rng = np.random.default_rng(bpp)
    for _ in range(20):
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        stride = w * bpp
        raw = rng.integers(0, 256, size=h * (stride + 1)).astype(np.uint8)
        raw[:: stride + 1] = rng.integers(0, 5, size=h)
        assert np.array_equal(K.unfilter(raw, h, w, bpp), R.ref_unfilter(raw, h, w, bpp))
        assert np.array_equal(K.decode_ids(raw, h, w, bpp), R.ref_decode_ids(raw, h, w, bpp))
        raw2 = rng.integers(0, 256, size=h * (3 * w + 1)).astype(np.uint8)
        raw2[:: 3 * w + 1] = rng.integers(0, 5, size=h)
        got = KQ.pair_keys_png(raw, bpp, raw2, 3, h, w, capacity=2)  # tiny table: forces rehashing
        want = R.ref_pair_keys_png(raw, bpp, raw2, 3, h, w)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _filtered_raw(px: np.ndarray, filters) -> np.ndarray:
    """Inflated PNG bytes of an (h, w, bpp) image with the given filter type per row."""
    h, w, bpp = px.shape
    rows = px.reshape(h, w * bpp)
    out = bytearray()
    prev = np.zeros(w * bpp, np.uint8)
    for y in range(h):
        out.append(filters[y])
        out += _filter_row(filters[y], rows[y], prev, bpp).tobytes()
        prev = rows[y]
    return np.frombuffer(bytes(out), np.uint8).copy()


def _px(ids: np.ndarray, bpp: int) -> np.ndarray:
    from rapkit.io.panoptic import id2rgb

    rgb = id2rgb(ids)
    if bpp == 4:
        rgb = np.dstack([rgb, np.full(ids.shape, 255, np.uint8)])
    return np.ascontiguousarray(rgb)


@pytest.mark.parametrize("bpp_g,bpp_p", [(3, 3), (3, 4), (4, 3), (4, 4)])
def test_pair_kernel_every_filter_at_every_row_position(bpp_g, bpp_p):
    # Every filter type in every row position (the first row included) on both sides, with
    # rows that repeat the row above (Up with zero residuals: the kernel skips them), widths
    # that are not a multiple of any vector width, 3- and 4-byte pixels: kernel == twin.
    rng = np.random.default_rng(10 * bpp_g + bpp_p)
    h = 10
    for w in (1, 2, 3, 5, 7, 13, 17, 31, 33, 65, 127):
        g = _random_ids(rng, h, w, n=4)
        p = _random_ids(rng, h, w, n=4)
        for rows in (g, p):  # repeat some rows: zero-residual Up rows in one, both or neither
            for y in rng.choice(np.arange(1, h), size=4, replace=False):
                rows[y] = rows[y - 1]
        for shift in range(5):
            fg = [(y + shift) % 5 for y in range(h)]
            fp = [(2 * y + shift) % 5 for y in range(h)]
            for filt_g, filt_p in ((fg, fp), ([2] * h, [2] * h), (fg, [2] * h), ([2] * h, fp)):
                rg = _filtered_raw(_px(g, bpp_g), filt_g)
                rp = _filtered_raw(_px(p, bpp_p), filt_p)
                got = KQ.pair_keys_png(rg, bpp_g, rp, bpp_p, h, w, capacity=2)
                want = R.ref_pair_keys_png(rg, bpp_g, rp, bpp_p, h, w)
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), (w, shift)
                assert int(got[1].sum()) == h * w


def test_pair_kernel_repeated_rows_and_bad_filter():
    # all rows after the first repeat in both PNGs; then a bad filter byte after a streak of
    # repeated rows is still reported, with its side and row
    rng = np.random.default_rng(7)
    h, w = 9, 11
    g = np.repeat(_random_ids(rng, 1, w), h, axis=0)
    p = np.repeat(_random_ids(rng, 1, w), h, axis=0)
    rg = _filtered_raw(_px(g, 3), [1] + [2] * (h - 1))
    rp = _filtered_raw(_px(p, 3), [4] + [2] * (h - 1))
    got = KQ.pair_keys_png(rg, 3, rp, 3, h, w)
    want = R.ref_pair_keys_png(rg, 3, rp, 3, h, w)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    for side in ("GT", "prediction"):
        bg, bp = rg.copy(), rp.copy()
        (bg if side == "GT" else bp)[6 * (1 + 3 * w)] = 9
        with pytest.raises(ValueError, match=f"{side} PNG row 6"):
            KQ.pair_keys_png(bg, 3, bp, 3, h, w)


def test_unknown_filter_type_rejected():
    raw = np.array([5, 1, 2, 3], np.uint8)
    with pytest.raises(ValueError, match="filter"):
        K.unfilter(raw, 1, 1, 3)
    with pytest.raises(ValueError):
        R.ref_unfilter(raw, 1, 1, 3)


def test_wrapper_validates_inputs():
    with pytest.raises(ValueError):
        K.unfilter(np.zeros(5, np.uint8), 1, 1, 3)
    with pytest.raises(ValueError):
        K.unfilter(np.zeros(4, np.int16), 1, 1, 3)
    with pytest.raises(ValueError):
        KQ.pair_keys_maps(np.zeros((2, 2), np.uint32), np.zeros((2, 3), np.uint32))
    with pytest.raises(ValueError):
        KQ.pair_keys_maps(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.uint32))


def test_paeth_branch_light_equals_specification():
    rng = np.random.default_rng(1)
    # every predictor input pattern is exercised through Paeth rows of random bytes
    vals = list(range(0, 256, 15)) + [1, 254, 255]
    for a in vals:
        for b in vals:
            for c in vals:
                assert K._paeth(a, b, c) == R.ref_paeth(a, b, c)
    t = rng.integers(0, 256, size=(2000, 3))
    for a, b, c in t.tolist():
        assert K._paeth(a, b, c) == R.ref_paeth(a, b, c)


def test_paeth_shortcut_when_up_equals_up_left():
    """The kernels predict the left byte wherever up == up-left: exact by the specification."""
    for a in range(256):
        for b in range(256):
            assert R.ref_paeth(a, b, b) == a


def test_paeth_rows_on_flat_and_ragged_data_equal_twin():
    rng = np.random.default_rng(11)
    for bpp in (3, 4):
        h, w = 9, 40
        px = np.repeat(rng.integers(0, 256, size=(h, 5, bpp)), 8, axis=1).astype(np.uint8)  # flat runs
        px[rng.random((h, w)) < 0.1] = rng.integers(0, 256, size=bpp)
        rows = px.reshape(h, w * bpp)
        raw = bytearray()
        prev = np.zeros(w * bpp, np.uint8)
        for y in range(h):
            raw.append(4)
            raw += _filter_row(4, rows[y], prev, bpp).tobytes()
            prev = rows[y]
        raw = np.frombuffer(bytes(raw), np.uint8)
        assert np.array_equal(K.unfilter(raw, h, w, bpp), rows)
        assert np.array_equal(R.ref_unfilter(raw, h, w, bpp), rows)


def test_pair_keys_maps_equals_twin():
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (7, 5), (40, 33)]:
        g = _random_ids(rng, *shape)
        p = _random_ids(rng, *shape)
        a = KQ.pair_keys_maps(g, p, capacity=1)
        b = R.ref_pair_keys_maps(g, p)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# --------------------------------------------------------------------------- fast path == PIL


@pytest.mark.parametrize("filters", [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4], [4, 2, 3]])
@pytest.mark.parametrize("channels", [3, 4])
def test_fast_reader_equals_pil_every_filter(tmp_path, filters, channels):
    rng = np.random.default_rng(len(filters) * 10 + channels)
    ids = _random_ids(rng, 23, 17)
    px = id2rgb(ids)
    if channels == 4:
        px = np.concatenate([px, rng.integers(0, 256, size=ids.shape + (1,)).astype(np.uint8)], axis=2)
    f = tmp_path / "x.png"
    write_png(f, px, filters, idat_chunks=3)
    fast = read_id_map_fast(f)
    assert np.array_equal(fast, read_id_map(f))
    assert np.array_equal(fast, ids)
    assert parse_png(f.read_bytes()).fast


def _pil_kinds(tmp_path: Path, ids: np.ndarray) -> list[Path]:
    rgb = id2rgb(ids)
    out = []
    for name, img, kw in [
        ("rgb_pil.png", Image.fromarray(rgb, "RGB"), {}),
        ("rgb_pil_l0.png", Image.fromarray(rgb, "RGB"), {"compress_level": 0}),
        ("rgb_pil_l9.png", Image.fromarray(rgb, "RGB"), {"compress_level": 9}),
        ("rgba.png", Image.fromarray(np.dstack([rgb, np.full(ids.shape, 255, np.uint8)]), "RGBA"), {}),
        ("palette.png", Image.fromarray(rgb, "RGB").quantize(16), {}),
        ("gray.png", Image.fromarray(rgb[..., 0], "L"), {}),
        ("gray_alpha.png", Image.fromarray(np.dstack([rgb[..., 0], rgb[..., 1]]), "LA"), {}),
        ("gray16.png", Image.fromarray((ids & 0xFFFF).astype(np.uint16)), {}),
        ("bilevel.png", Image.fromarray(rgb[..., 0] > 128), {}),
    ]:
        p = tmp_path / name
        img.save(p, format="PNG", **kw)
        out.append(p)
    p = tmp_path / "interlaced.png"
    write_png(p, rgb, [0, 1, 2, 3, 4], interlace=True)
    out.append(p)
    return out


def test_fast_reader_equals_pil_on_every_kind(tmp_path):
    rng = np.random.default_rng(7)
    ids = _random_ids(rng, 31, 29)
    kinds = _pil_kinds(tmp_path, ids)
    n_fast = 0
    for p in kinds:
        info = parse_png(p.read_bytes())
        n_fast += bool(info and info.fast)
        assert np.array_equal(read_id_map_fast(p), read_id_map(p)), p.name
    assert n_fast == 4  # the RGB and RGBA ones; the rest went through PIL
    assert np.array_equal(read_id_map_fast(kinds[-1]), ids)  # Adam7 through PIL
    for a in kinds:
        for b in kinds[:4] + kinds[4:6]:
            if a == b:
                continue
            want = read_pair_histogram(a, b, fast=False)
            assert read_pair_histogram(a, b) == want, (a.name, b.name)


def test_sample_data_fast_equals_pil():
    for p in sorted((SAMPLE / "panoptic_examples").glob("*.png")):
        assert np.array_equal(read_id_map_fast(p), read_id_map(p))
        assert read_pair_histogram(p, p) == read_pair_histogram(p, p, fast=False)
        assert read_pair_histogram(p, p, fast=False) == pair_histogram(read_id_map(p), read_id_map(p))


def test_corrupt_and_missing_pngs(tmp_path):
    with pytest.raises(InputError, match="not found") as e:
        read_id_map_fast(tmp_path / "nope.png", image_id=5)
    assert e.value.image_id == 5
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nrubbish")
    with pytest.raises(InputError, match="cannot decode"):
        read_id_map_fast(bad, image_id=6)
    # a valid header but broken compressed data: fast path declines, PIL reports it
    rng = np.random.default_rng(0)
    good = tmp_path / "good.png"
    write_png(good, id2rgb(_random_ids(rng, 8, 8)), [2])
    data = bytearray(good.read_bytes())
    i = data.index(b"IDAT") + 10
    data[i : i + 8] = b"\x00" * 8
    broken = tmp_path / "broken.png"
    broken.write_bytes(bytes(data))
    with pytest.raises(InputError):
        read_id_map_fast(broken, image_id=7)


def test_bad_header_crc_rejected_like_pil(tmp_path):
    rng = np.random.default_rng(2)
    good = tmp_path / "g.png"
    write_png(good, id2rgb(_random_ids(rng, 6, 6)), [4])
    data = bytearray(good.read_bytes())
    data[8 + 8 + 13] ^= 0xFF  # IHDR CRC
    bad = tmp_path / "b.png"
    bad.write_bytes(bytes(data))
    assert parse_png(bytes(data)) is None
    with pytest.raises(InputError):
        read_id_map(bad, image_id=1)
    with pytest.raises(InputError):
        read_id_map_fast(bad, image_id=1)


def test_shape_checks(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(a)
    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(b)
    with pytest.raises(InputError, match="5x4.*4x5") as e:
        read_pair_histogram(a, b, image_id=9)
    assert e.value.image_id == 9
    with pytest.raises(InputError):
        read_pair_histogram(a, b, image_id=9, fast=False)
    with pytest.raises(InputError, match="image entry"):
        read_id_map_fast(a, shape=(5, 5))


# --------------------------------------------------------------------------- 8-bit grayscale (semantic maps)


def write_gray_png(path: Path, px: np.ndarray, filters, *, idat_chunks: int = 1) -> None:
    """Write an 8-bit grayscale PNG with the given filter type per row (cycled)."""
    h, w = px.shape
    raw = bytearray()
    prev = np.zeros(w, np.uint8)
    for y in range(h):
        ft = filters[y % len(filters)]
        raw.append(ft)
        raw += _filter_row(ft, px[y], prev, 1).tobytes()
        prev = px[y]
    comp = zlib.compress(bytes(raw), 6)
    parts = [comp[i * len(comp) // idat_chunks : (i + 1) * len(comp) // idat_chunks] for i in range(idat_chunks)]
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + b"".join(_chunk(b"IDAT", p) for p in parts)
        + _chunk(b"IEND", b"")
    )


def _random_labels(rng, h, w) -> np.ndarray:
    # blocky label maps with noise, values over the whole byte range
    m = np.kron(rng.integers(0, 256, size=(h // 4 + 1, w // 4 + 1)), np.ones((4, 4), np.int64))[:h, :w]
    noise = rng.random((h, w)) < 0.05
    m[noise] = rng.integers(0, 256, size=int(noise.sum()))
    return np.ascontiguousarray(m.astype(np.uint8))


def test_decode_gray_kernel_equals_twin():
    rng = np.random.default_rng(11)
    for _ in range(40):
        h, w = int(rng.integers(1, 14)), int(rng.integers(1, 14))
        raw = rng.integers(0, 256, size=h * (w + 1)).astype(np.uint8)
        raw[:: w + 1] = rng.integers(0, 5, size=h)
        if rng.random() < 0.3:  # flat rows: runs and the Paeth shortcut (up == up-left)
            raw[1 : w + 1] = 9
            raw[w + 1 :: 1] = np.where(np.arange(raw.size - w - 1) % (w + 1) == 0, raw[w + 1 :: 1], 0)
        px, hist = K.decode_gray(raw, h, w)
        want_px, want_hist = R.ref_decode_gray(raw, h, w)
        assert np.array_equal(px, want_px) and np.array_equal(hist, want_hist)
        assert np.array_equal(px, R.ref_unfilter(raw, h, w, 1))
        assert hist.dtype == np.int64 and int(hist.sum()) == h * w
    raw = np.zeros(2 * 4, np.uint8)
    raw[4] = 5
    with pytest.raises(ValueError, match="row 1: unknown PNG filter type 5"):
        K.decode_gray(raw, 2, 3)
    with pytest.raises(ValueError):
        K.decode_gray(raw[:-1], 2, 3)
    with pytest.raises(ValueError):
        K.decode_gray(raw.astype(np.int16), 2, 3)


@pytest.mark.parametrize("filters", [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4], [4, 2, 3]])
def test_gray_fast_reader_equals_pil_every_filter(tmp_path, filters):
    from rapkit.io.png import read_gray8_fast

    rng = np.random.default_rng(len(filters) * 7 + filters[0])
    px = _random_labels(rng, 29, 19)
    f = tmp_path / "g.png"
    write_gray_png(f, px, filters, idat_chunks=2)
    with Image.open(f) as im:
        assert im.mode == "L"
        pil = np.asarray(im)
        pil_hist = np.asarray(im.histogram(), np.int64)
    got = read_gray8_fast(f)
    assert got is not None
    assert np.array_equal(got[0], pil) and np.array_equal(got[0], px)
    assert np.array_equal(got[1], pil_hist)


def test_gray_fast_reader_declines_other_kinds(tmp_path):
    from rapkit.io.png import read_gray8_fast

    rng = np.random.default_rng(3)
    px = _random_labels(rng, 17, 23)
    p = tmp_path / "pil_l.png"
    Image.fromarray(px, "L").save(p)  # PIL's own grayscale writer: fast path, same pixels
    got = read_gray8_fast(p)
    assert got is not None and np.array_equal(got[0], np.asarray(Image.open(p)))
    for name, img in [
        ("p.png", Image.fromarray(px, "L").convert("P")),
        ("i16.png", Image.fromarray(px.astype(np.uint16))),
        ("rgb.png", Image.fromarray(np.dstack([px] * 3), "RGB")),
    ]:
        img.save(tmp_path / name)
        assert read_gray8_fast(tmp_path / name) is None, name
    assert read_gray8_fast(tmp_path / "missing.png") is None
    bad = tmp_path / "badfilter.png"
    raw = bytes([7] + [0] * 3)  # one row, filter type 7
    bad.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 1, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )
    assert read_gray8_fast(bad) is None


def test_semantic_reader_fast_path_equals_pil_path(tmp_path):
    from rapkit.io.semantic import _read_png, _read_png_pil, known_labels
    from rapkit.types import Category, ImageInfo

    rng = np.random.default_rng(5)
    cats = {c: Category(c, f"c{c}", c < 100) for c in (1, 7, 150, 187, 190)}
    known = known_labels(cats)
    px = np.array([0, 1, 7, 150, 187, 190, 255], np.uint8)[rng.integers(0, 7, size=(21, 18))]
    info = ImageInfo(1, "a.jpg", 21, 18)
    for k, filters in enumerate([[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]]):
        f = tmp_path / f"s{k}.png"
        write_gray_png(f, px, filters)
        fast = _read_png(f, info, known)
        assert fast.dtype == np.uint8 and fast.flags.c_contiguous
        assert np.array_equal(fast, _read_png_pil(f, info, known)) and np.array_equal(fast, px)
    bad = px.copy()
    bad[3, 4] = 42  # not a category id: both paths reject it with the same message
    f = tmp_path / "bad.png"
    write_gray_png(f, bad, [4])
    msgs = []
    for reader in (_read_png, _read_png_pil):
        with pytest.raises(InputError) as e:
            reader(f, info, known)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] and "42" in msgs[0]
    with pytest.raises(InputError, match="but the image is"):
        _read_png(tmp_path / "s0.png", ImageInfo(1, "a.jpg", 20, 18), known)


# --------------------------------------------------------------------------- the pair kernel's fast paths


def _assert_pair_equal(rg, bpp_g, rp, bpp_p, h, w, capacity=2):
    got = KQ.pair_keys_png(rg, bpp_g, rp, bpp_p, h, w, capacity=capacity)
    want = R.ref_pair_keys_png(rg, bpp_g, rp, bpp_p, h, w)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), (h, w, bpp_g, bpp_p)
    assert int(got[1].sum()) == h * w


@pytest.mark.parametrize("bpp", [3, 4])
def test_pair_kernel_every_width_1_to_127_and_larger(bpp):
    # widths that are no multiple of any word, vector or bitmap-block size; random filters per
    # row (the first row included), alpha that changes where the ids do not (RGBA)
    rng = np.random.default_rng(100 + bpp)
    h = 6
    for w in [*range(1, 128), 171, 200, 257, 641]:
        g = _random_ids(rng, h, w, n=5)
        p = _random_ids(rng, h, w, n=5)
        p[2] = p[1]
        pg, pp = _px(g, bpp), _px(p, bpp)
        if bpp == 4:
            pg[..., 3] = rng.integers(250, 256, size=(h, w))
        rg = _filtered_raw(pg, rng.integers(0, 5, size=h).tolist())
        rp = _filtered_raw(pp, rng.integers(0, 5, size=h).tolist())
        _assert_pair_equal(rg, bpp, rp, bpp, h, w)


@pytest.mark.parametrize("bpp", [3, 4])
def test_paeth_rows_fill_and_copy_stretches(bpp):
    # Paeth rows made of stretches that repeat the row above (copied) and stretches whose left
    # pixel differs from the row above (filled: byte by byte when short, by words when long),
    # starting at every byte alignment; Up rows with zero and non-zero residuals between them
    rng = np.random.default_rng(7 * bpp)
    colours = rng.integers(1, 1 << 24, size=6).astype(np.uint32)
    for w in (5, 9, 30, 64, 101):
        for x0 in range(0, min(w, 19)):
            h = 7
            ids = np.full((h, w), colours[0], np.uint32)
            ids[1, x0:] = colours[1]  # a horizontal border: the rest of row 1 is filled
            ids[2] = ids[1]  # a repeated row
            ids[3, : max(1, x0 // 2)] = colours[2]  # a short stretch, then the row above again
            ids[3, max(1, x0 // 2) :] = ids[2, max(1, x0 // 2) :]
            ids[4, (x0 + 3) % w :] = colours[3]
            ids[5] = ids[4]
            ids[5, w // 2 :] = colours[4]  # Up row with non-zero residuals
            ids[6, x0:] = colours[5]
            px = _px(ids, bpp)
            filters = [4, 4, 2, 4, 4, 2, 4]
            for fp in ([4] * h, filters, [2] * h):
                _assert_pair_equal(_filtered_raw(px, filters), bpp, _filtered_raw(px, fp), bpp, h, w)


def test_pair_kernel_table_growth_and_repeated_streaks():
    # many distinct pairs per row (the table grows mid-image: the slots remembered for the
    # previous row's runs are dropped), then streaks of rows repeated in both PNGs
    rng = np.random.default_rng(5)
    h, w = 40, 97
    g = rng.integers(0, 1 << 24, size=(h, w)).astype(np.uint32)
    p = rng.integers(0, 1 << 24, size=(h, w)).astype(np.uint32)
    for y in (3, 4, 5, 20, 21, 39):
        g[y] = g[y - 1]
        p[y] = p[y - 1]
    for fg, fp in (([2] * h, [2] * h), ([4] * h, [2] * h), ([0, 1, 2, 3, 4] * 8, [2] * h)):
        rg = _filtered_raw(_px(g, 3), [0] + fg[1:])
        rp = _filtered_raw(_px(p, 3), [1] + fp[1:])
        for cap in (2, 16, 1 << 14):
            _assert_pair_equal(rg, 3, rp, 3, h, w, capacity=cap)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 12),
    w=st.integers(1, 90),
    bpp=st.sampled_from([3, 4]),
    n=st.integers(1, 6),
)
def test_pair_kernel_equals_twin_hypothesis(seed, h, w, bpp, n):
    # blocky maps with noise, rows repeated at random, every filter type at random positions
    rng = np.random.default_rng(seed)
    g = _random_ids(rng, h, w, n=n)
    p = _random_ids(rng, h, w, n=n)
    for rows in (g, p):
        for y in range(1, h):
            if rng.random() < 0.3:
                rows[y] = rows[y - 1]
    fg = rng.choice([0, 1, 2, 3, 4, 2, 4], size=h).tolist()
    fp = rng.choice([0, 1, 2, 3, 4, 2, 2], size=h).tolist()
    _assert_pair_equal(_filtered_raw(_px(g, bpp), fg), bpp, _filtered_raw(_px(p, bpp), fp), bpp, h, w)


def test_kernels_see_one_argument_type():
    # numba compiles once per argument type and read-only is part of it: writable input (the
    # warm-up, tests) and the read-only inflated bytes of io/png.py share one compiled kernel
    # (the chunk kernel compiles _pair_rows_kernel into itself for its own writable buffers:
    # that may add a signature in a process that compiles it; calls from Python add none)
    raw = np.zeros(2 * (1 + 2 * 3), np.uint8)
    raw_ro = np.frombuffer(raw.tobytes(), np.uint8)
    kernels = (KQ._pair_rows_kernel, K._ids_kernel, K._gray_kernel)
    before = {k: set(k.signatures) for k in kernels}
    for r in (raw, raw_ro):
        KQ.pair_keys_png(r, 3, r, 3, 2, 2)
        K.decode_ids(r, 2, 2, 3)
    gray = np.zeros(2 * 3, np.uint8)
    for r in (gray, np.frombuffer(gray.tobytes(), np.uint8)):
        K.decode_gray(r, 2, 2)
    for kernel in kernels:
        ro = [s for s in kernel.signatures if not s[0].mutable]
        assert len(ro) == 1, kernel.signatures
        assert set(kernel.signatures) - before[kernel] <= set(ro)  # nothing writable from Python
    assert raw.flags.writeable  # the caller's array is left as it was
