"""Fast reading of panoptic PNGs: chunk parsing, libdeflate inflate, numba unfiltering.

The fast path handles what panoptic maps are written as: 8-bit RGB or RGBA, not
interlaced. Everything else (palette, grayscale, 16-bit, interlaced, undecodable data) goes
through PIL exactly as :func:`rapkit.io.panoptic.read_id_map` reads it, so both paths give
the same ids.

* :func:`read_id_map_fast` -> the (H, W) uint32 id map of one PNG;
* :func:`read_gray8_fast` -> the pixels and value histogram of an 8-bit grayscale PNG
  (semantic label maps), or None where PIL must read it;
* :func:`read_pair_keys` -> the counted (GT id, predicted id) pixel pairs of a GT and a
  prediction PNG, in one fused pass without full-image temporaries (the input of
  :meth:`rapkit.core.pq.PairHistogram.from_keys`);
* :func:`read_pair_bytes` -> the bytes of many GT and prediction PNGs in one buffer (the
  chunk kernel :mod:`rapkit.kernels.pq_chunk` parses and decodes them);
* :func:`read_pair_maps` -> the two id maps of a GT and a prediction PNG, and
  :func:`read_pair_raw` -> their inflated rows (Boundary PQ decodes the whole maps).

>>> ids = read_id_map_fast("panoptic/000000000139.png")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deflate
import numpy as np

from ..errors import InputError
from .panoptic.check import shape_mismatch
from .panoptic.read import read_id_map

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK = struct.Struct(">I4s")
_CRC = struct.Struct(">I")
_IHDR = struct.Struct(">IIBBBBB")


@dataclass
class PngData:
    """A parsed PNG: header fields and the concatenated (still compressed) IDAT bytes (a
    memoryview of the file's bytes when the image data is one chunk)."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int
    idat: bytes | memoryview

    @property
    def fast(self) -> bool:
        """True when the numba path can decode it (8-bit RGB/RGBA, not interlaced)."""
        return self.bit_depth == 8 and self.color_type in (2, 6) and self.interlace == 0

    @property
    def gray8(self) -> bool:
        """True for an 8-bit grayscale image, not interlaced (:func:`read_gray8_fast`)."""
        return self.bit_depth == 8 and self.color_type == 0 and self.interlace == 0

    @property
    def bpp(self) -> int:
        if self.color_type == 0:
            return 1
        return 4 if self.color_type == 6 else 3


def _read_bytes(path: str | os.PathLike, image_id: Any) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size + 1)  # one read, unless the file changed size meanwhile
            if len(data) != size:
                data += b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        finally:
            os.close(fd)
        return data
    except FileNotFoundError:
        raise InputError("panoptic PNG not found", file=Path(path), image_id=image_id) from None
    except IsADirectoryError:
        raise InputError("expected a PNG file, found a folder", file=Path(path), image_id=image_id) from None
    except OSError as e:
        raise InputError(f"cannot read PNG: {e.strerror}", file=Path(path), image_id=image_id) from None


def parse_png(data: bytes) -> PngData | None:
    """Parse the chunks of PNG bytes; None when they are not a well-formed PNG (PIL then
    reports the precise problem)."""
    if data[:8] != PNG_SIGNATURE:
        return None
    pos = 8
    n = len(data)
    header = None
    view = memoryview(data)
    idat: list = []
    unpack = _CHUNK.unpack_from
    while pos + 8 <= n:
        length, ctype = unpack(data, pos)
        start = pos + 8
        end = start + length
        if end + 4 > n:
            return None
        if ctype == b"IDAT":
            idat.append(view[start:end])
        elif not idat and zlib.crc32(view[pos + 4 : end]) != _CRC.unpack_from(data, end)[0]:
            return None  # like PIL: chunks before the image data must have a valid CRC
        elif ctype == b"IHDR":
            if length != 13:
                return None
            header = _IHDR.unpack_from(data, start)
        elif ctype == b"IEND":
            break
        pos = end + 4  # IDAT CRCs are not checked (neither by PIL); zlib's adler32 checks the data
    if header is None or not idat:
        return None
    w, h, depth, ctype_, comp, filt, inter = header
    if comp != 0 or filt != 0 or w == 0 or h == 0:
        return None
    return PngData(w, h, depth, ctype_, inter, idat[0] if len(idat) == 1 else b"".join(idat))


def _inflate(png: PngData) -> np.ndarray | None:
    size = png.height * (1 + png.width * png.bpp)
    try:
        out = deflate.zlib_decompress(png.idat, size)
    except deflate.DeflateError:
        return None
    if len(out) != size:
        return None
    return np.frombuffer(out, np.uint8)


def _check_shape(ids_shape: tuple[int, int], shape: tuple[int, int] | None, path: Path, image_id: Any) -> None:
    bad = shape_mismatch(ids_shape, shape)
    if bad:
        raise InputError(bad, file=path, image_id=image_id)


def _pil_ids(path: Path, image_id: Any, shape: tuple[int, int] | None) -> np.ndarray:
    return read_id_map(path, image_id=image_id, shape=shape)


def _fast_ids(path: Path, image_id: Any) -> np.ndarray | None:
    png = parse_png(_read_bytes(path, image_id))
    if png is None or not png.fast:
        return None
    raw = _inflate(png)
    if raw is None:
        return None
    from ..kernels.png import decode_ids

    try:
        return decode_ids(raw, png.height, png.width, png.bpp)
    except ValueError:
        return None  # a bad filter byte: let PIL report it


def read_id_map_fast(
    path: str | os.PathLike,
    *,
    image_id: Any = None,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read a panoptic PNG as an (H, W) uint32 id map (``R + 256 G + 65536 B``).

    Same result as :func:`rapkit.io.panoptic.read_id_map` (PIL) for every PNG; 8-bit
    RGB/RGBA goes through libdeflate + numba, the rest through PIL. ``shape`` (H, W) is
    checked when given.

    >>> read_id_map_fast("gt/000000000139.png", image_id=139).dtype   # doctest: +SKIP
    dtype('uint32')
    """
    p = Path(path)
    ids = _fast_ids(p, image_id)
    if ids is None:
        return _pil_ids(p, image_id, shape)
    _check_shape(ids.shape, shape, p, image_id)
    return ids


def read_gray8_fast(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray] | None:
    """An 8-bit grayscale PNG (not interlaced) as ((H, W) uint8 pixels, (256,) int64 value
    histogram), through libdeflate + numba; the pixels equal PIL's ``np.asarray(Image.open(p))``.

    None for anything else (another pixel format, a file that cannot be read, undecodable
    data): the caller then reads it with PIL, which reports the precise problem.

    >>> px, hist = read_gray8_fast("semantic/000000000139.png")   # doctest: +SKIP
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    png = parse_png(data)
    if png is None or not png.gray8:
        return None
    raw = _inflate(png)
    if raw is None:
        return None
    from ..kernels.png import decode_gray

    try:
        return decode_gray(raw, png.height, png.width)
    except ValueError:
        return None  # a bad filter byte: let PIL report it


def read_pair_keys(
    gt_path: str | os.PathLike,
    pred_path: str | os.PathLike,
    *,
    image_id: Any = None,
    shape: tuple[int, int] | None = None,
    fast: bool = True,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The (GT id, predicted id) pixel pairs of a GT and a prediction PNG, counted:
    ``(keys, counts, (H, W))`` with ``keys = gt * 2**24 + pred`` (uint64, sorted, unique)
    and ``counts`` (int64) their pixel counts.

    With ``fast`` (default) both PNGs, when 8-bit RGB/RGBA, are unfiltered together by one
    numba kernel that folds runs of equal pairs into a hash table; otherwise (or with
    ``fast=False``) they are decoded by PIL and counted with ``np.unique``. Both give the
    same arrays. Raises :class:`InputError` for a missing or undecodable PNG, or when the two
    sizes (or ``shape``) differ. :meth:`rapkit.core.pq.PairHistogram.from_keys` turns the
    result into a pair histogram.

    >>> keys, counts, shape = read_pair_keys("gt/1.png", "pred/1.png", image_id=1)   # doctest: +SKIP
    """
    if fast:
        g = parse_png(_read_bytes(gt_path, image_id))
        p = parse_png(_read_bytes(pred_path, image_id))
        if g is not None and p is not None and g.fast and p.fast:
            if (g.height, g.width) != (p.height, p.width):
                raise InputError(
                    f"GT PNG is {g.width}x{g.height} but the prediction PNG is {p.width}x{p.height}",
                    file=Path(pred_path),
                    image_id=image_id,
                )
            if shape is not None:
                _check_shape((g.height, g.width), shape, Path(gt_path), image_id)
            rg = _inflate(g)
            rp = _inflate(p)
            if rg is not None and rp is not None:
                from ..kernels.pq import pair_keys_png

                try:
                    keys, counts = pair_keys_png(rg, g.bpp, rp, p.bpp, g.height, g.width)
                except ValueError:
                    keys = None
                if keys is not None:
                    return keys, counts, (g.height, g.width)
    gp, pp = Path(gt_path), Path(pred_path)
    gm = read_id_map_fast(gp, image_id=image_id) if fast else _pil_ids(gp, image_id, None)
    pm = read_id_map_fast(pp, image_id=image_id) if fast else _pil_ids(pp, image_id, None)
    if gm.shape != pm.shape:
        raise InputError(
            f"GT PNG is {gm.shape[1]}x{gm.shape[0]} but the prediction PNG is {pm.shape[1]}x{pm.shape[0]}",
            file=pp,
            image_id=image_id,
        )
    _check_shape(gm.shape, shape, gp, image_id)
    hw = (int(gm.shape[0]), int(gm.shape[1]))
    if fast:
        from ..kernels.pq import pair_keys_maps

        keys, counts = pair_keys_maps(gm, pm)
        return keys, counts, hw
    # the readable path: one key per pixel, counted by numpy
    key = gm.astype(np.uint64).ravel() * np.uint64(1 << 24) + pm.astype(np.uint64).ravel()
    keys, counts = np.unique(key, return_counts=True)
    return keys, counts.astype(np.int64), hw


def read_pair_raw(
    gt_path: str | os.PathLike,
    pred_path: str | os.PathLike,
    *,
    image_id: Any = None,
) -> tuple[np.ndarray, int, np.ndarray, int, int, int] | None:
    """The inflated rows of a GT and a prediction PNG, ``(raw_gt, bpp_gt, raw_pred, bpp_pred,
    h, w)``, when both are 8-bit RGB/RGBA and inflate cleanly (what the numba decoders take);
    None otherwise (read them with :func:`read_pair_maps`). :class:`InputError` naming the
    prediction when the sizes differ, or for a file that cannot be read.

    >>> raw = read_pair_raw("gt/1.png", "pred/1.png", image_id=1)   # doctest: +SKIP
    """
    g = parse_png(_read_bytes(gt_path, image_id))
    p = parse_png(_read_bytes(pred_path, image_id))
    if g is None or p is None or not (g.fast and p.fast):
        return None
    if (g.height, g.width) != (p.height, p.width):
        raise InputError(
            f"GT PNG is {g.width}x{g.height} but the prediction PNG is {p.width}x{p.height}",
            file=Path(pred_path),
            image_id=image_id,
        )
    rg = _inflate(g)
    rp = _inflate(p)
    if rg is None or rp is None:
        return None
    return rg, g.bpp, rp, p.bpp, g.height, g.width


def read_pair_maps(
    gt_path: str | os.PathLike,
    pred_path: str | os.PathLike,
    *,
    image_id: Any = None,
    fast: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The (H, W) uint32 id maps of a GT and a prediction PNG (libdeflate + numba with
    ``fast``, else PIL; same ids); :class:`InputError` naming the prediction when the sizes differ.

    >>> gt_ids, pred_ids = read_pair_maps("gt/1.png", "pred/1.png", image_id=1)   # doctest: +SKIP
    """
    gp, pp = Path(gt_path), Path(pred_path)
    gm = read_id_map_fast(gp, image_id=image_id) if fast else _pil_ids(gp, image_id, None)
    pm = read_id_map_fast(pp, image_id=image_id) if fast else _pil_ids(pp, image_id, None)
    if gm.shape != pm.shape:
        raise InputError(
            f"GT PNG is {gm.shape[1]}x{gm.shape[0]} but the prediction PNG is {pm.shape[1]}x{pm.shape[0]}",
            file=pp,
            image_id=image_id,
        )
    return gm, pm


def read_pair_bytes(pairs: list[tuple[Any, str | os.PathLike, str | os.PathLike]]) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of many (GT, prediction) PNG pairs ``(image_id, gt_path, pred_path)`` in one
    read-only uint8 buffer: pair ``j``'s GT PNG is ``buf[offs[2j]:offs[2j+1]]``, its
    prediction ``buf[offs[2j+1]:offs[2j+2]]`` (what :func:`rapkit.kernels.pq_chunk.pq_png_chunk`
    takes). :class:`InputError` naming the first file that cannot be read, in pair order.

    >>> buf, offs = read_pair_bytes([(1, "gt/1.png", "pred/1.png")])   # doctest: +SKIP
    """
    parts = []
    for image_id, gt_path, pred_path in pairs:
        parts.append(_read_bytes(gt_path, image_id))
        parts.append(_read_bytes(pred_path, image_id))
    offs = np.zeros(len(parts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, parts), np.int64, len(parts)), out=offs[1:])
    return np.frombuffer(b"".join(parts), np.uint8), offs


def png_kind(path: str | os.PathLike) -> str:
    """A short description of a PNG's pixel format from its header (``"RGB 8-bit"``,
    ``"palette 8-bit"``, ``"not a PNG"``...); OSError when the file cannot be read."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or len(head) < 29:
        return "not a PNG"
    _, _, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", head[16:29])
    name = {0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"}.get(ctype, f"type {ctype}")
    return f"{name} {depth}-bit" + (" interlaced" if inter else "")


__all__ = [
    "PngData",
    "parse_png",
    "png_kind",
    "read_id_map_fast",
    "read_gray8_fast",
    "read_pair_bytes",
    "read_pair_keys",
    "read_pair_maps",
    "read_pair_raw",
]
