"""The chunk kernel of PQ (kernels/pq_chunk.py) == its twin (_reference_pq_chunk) on PNGs of
every kind it reads or leaves; evaluate's chunk path == the per-image path == PIL."""

from __future__ import annotations

import io
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

from rapkit.core.pq_arrays import PairTable
from rapkit.io.panoptic import id2rgb
from rapkit.kernels._reference_pq_chunk import ref_pq_png_chunk
from rapkit.kernels.pq_chunk import pq_png_chunk
from rapkit.pipeline.evaluate import evaluate_pq

from .test_png import _chunk, _random_ids, write_png

CATS = np.array([3, 7, 12], np.int64)


def _pil(ids: np.ndarray, mode: str = "RGB") -> bytes:
    b = io.BytesIO()
    Image.fromarray(id2rgb(ids)).convert(mode).save(b, "PNG")
    return b.getvalue()


def _own(tmp_path, ids: np.ndarray, filters, **kw) -> bytes:
    p = tmp_path / "x.png"
    write_png(p, id2rgb(ids), filters, **kw)
    return p.read_bytes()


def _bad_filter(ids: np.ndarray) -> bytes:
    px = id2rgb(ids)
    h, w = ids.shape
    raw = b"".join(b"\x07" + px[y].tobytes() for y in range(h))  # filter type 7 does not exist
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _pairs(tmp_path):
    """(GT bytes, prediction bytes, GT ids, predicted ids) of every kind."""
    rng = np.random.default_rng(5)
    out = []
    for k in range(12):
        h, w = int(rng.integers(3, 14)), int(rng.integers(3, 17))
        g = _random_ids(rng, h, w, n=4)
        p = g.copy()
        p[rng.random((h, w)) < 0.2] = g.flat[0]
        gb, pb = _pil(g), _pil(p)
        if k == 1:
            pb = _own(tmp_path, p, [0, 1, 2, 3, 4], idat_chunks=3)  # every filter, three IDATs
        elif k == 2:
            pb = _pil(p, "RGBA")  # RGB beside RGBA: left
        elif k == 3:
            pb = _pil(np.minimum(p, 200), "L")  # another pixel format: left
        elif k == 4:
            gb = gb[:16] + bytes([gb[16] ^ 1]) + gb[17:]  # IHDR with a bad CRC: left
        elif k == 5:
            pb = pb[: len(pb) // 2]  # truncated: left
        elif k == 6:
            pb = _bad_filter(p)  # a bad filter byte: left
        elif k == 7:
            pb = _pil(p[:, :-1])  # two sizes: left
        elif k == 8:
            pb = gb = _own(tmp_path, g, [4, 2], idat_chunks=2)
            p = g
        elif k == 10:
            gb, pb = _pil(g, "RGBA"), _pil(p, "RGBA")
        elif k == 9:
            z = pb.index(b"IEND") - 4  # trailing bytes after the zlib stream inside IDAT
            start = pb.index(b"IDAT") - 4
            n = struct.unpack(">I", pb[start : start + 4])[0]
            data = pb[start + 8 : start + 8 + n] + b"xyz"
            pb = pb[:start] + _chunk(b"IDAT", data) + pb[z:]
        out.append((gb, pb, g, p))
    return out


def _table(rng, pairs, drop: int) -> PairTable:
    g_off, p_off, gi, gc, ga, gz, pi, pc = [0], [0], [], [], [], [], [], []
    for j, (_, _, g, p) in enumerate(pairs):
        for v in np.unique(g).tolist():
            if v:
                gi.append(v), gc.append(int(rng.integers(0, 3))), ga.append(int((g == v).sum()))
                gz.append(int(rng.random() < 0.2))
        pv = [v for v in np.unique(p).tolist() if v]
        if j == drop:
            pv = pv[1:]  # a predicted id missing from the JSON: the matcher declines
        for v in pv:
            pi.append(v), pc.append(int(rng.integers(0, 3)))
        g_off.append(len(gi)), p_off.append(len(pi))
    a = lambda v: np.array(v, np.int64)  # noqa: E731
    return PairTable(CATS, np.ones(3, bool), a(g_off), a(gi), a(gc), a(ga), a(gz), a(p_off), a(pi), a(pc))


def test_chunk_kernel_equals_twin(tmp_path):
    pairs = _pairs(tmp_path)
    table = _table(np.random.default_rng(0), pairs, drop=0)
    parts = [b for gb, pb, _, _ in pairs for b in (gb, pb)]
    offs = np.zeros(len(parts) + 1, np.int64)
    np.cumsum([len(b) for b in parts], out=offs[1:])
    buf = np.frombuffer(b"".join(parts), np.uint8)
    got, want = [], []
    for fn, res in ((pq_png_chunk, got), (ref_pq_png_chunk, want)):
        status = np.zeros(len(pairs), np.int64)
        status[11] = 1  # left by the caller
        acc = [np.zeros(3, np.int64) for _ in range(3)]
        out = fn(buf, offs, table, status, *acc, np.full(3, -1, np.int64))
        res.extend([status, *acc, *out])
    assert got[0].tolist() == [1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    for x, y in zip(got, want):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_chunk_path_equals_per_image_path_and_pil(pq_bench, tmp_path):
    gt, pred = pq_bench(40, height=24, width=32, seed=3)
    root = tmp_path / "bench"
    shutil.copytree(gt.parent, root)  # the bench is shared: changed in a copy
    gt, pred = root / gt.name, root / pred.name
    pngs = sorted((root / "pred").glob("*.png"))
    Image.open(pngs[1]).convert("RGBA").save(pngs[1])  # RGBA beside RGB: the per-image kernel
    before = np.asarray(Image.open(pngs[2]).convert("RGB"))
    Image.open(pngs[2]).convert("P", palette=Image.Palette.ADAPTIVE).save(pngs[2])  # palette: left to PIL
    assert np.array_equal(np.asarray(Image.open(pngs[2]).convert("RGB")), before)
    runs = [
        evaluate_pq(gt, pred, workers=1),
        evaluate_pq(gt, pred, workers=2),
        evaluate_pq(gt, pred, per_image=True),
        evaluate_pq(gt, pred, fast=False),
    ]
    first = runs[0]
    for ev in runs[1:]:
        assert ev.result.to_panopticapi() == first.result.to_panopticapi()
        for k in ("order", "rank", "category", "iou", "orders"):
            assert np.array_equal(getattr(ev.stats, k), getattr(first.stats, k))
        assert (ev.stats.tp, ev.stats.fp, ev.stats.fn) == (first.stats.tp, first.stats.fp, first.stats.fn)


def test_the_chunk_kernel_loads_beside_the_json_parse_of_a_large_job(pq_bench, monkeypatch):
    """A GT JSON above PRELOAD_BYTES: the kernel loads in a thread while the JSON is read
    (joined before the images: no thread is left); a small one loads nothing beside it."""
    import threading

    from rapkit.pipeline import evaluate as ev

    gt, pred = pq_bench(40, height=24, width=32, seed=5)
    loads = []
    real = ev.alongside

    def spy(fn, *a, **k):
        loads.append(fn)
        return real(fn, *a, **k)

    monkeypatch.setattr(ev, "alongside", spy)
    monkeypatch.setattr(ev, "PRELOAD_BYTES", 0)
    before = threading.active_count()
    a = evaluate_pq(gt, pred, workers=2)
    assert loads[-1] is not None and threading.active_count() == before
    monkeypatch.setattr(ev, "PRELOAD_BYTES", 1 << 40)
    b = evaluate_pq(gt, pred, workers=2)
    assert loads[-1] is None
    assert a.result.to_panopticapi() == b.result.to_panopticapi()
    assert np.array_equal(a.stats.iou, b.stats.iou) and a.stats.tp == b.stats.tp
