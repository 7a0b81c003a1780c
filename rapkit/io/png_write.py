"""Fast, deterministic PNG writer for panoptic id maps (RGB, 8 bit).

Every row uses the PNG "Up" filter (most residuals of a segment map are zero). By default
the image data is written straight from the id map by a numba kernel
(:func:`rapkit.kernels.png_encode.png_idat`: one fixed-Huffman deflate block whose matches repeat
the previous pixel; about 0.4 ms for 640x480, files somewhat larger than zlib's). With
``level=1..12`` the filtered rows go through libdeflate (``deflate`` on PyPI) instead: about
3x slower, about half the size. The bytes depend only on the id map and ``level``; any PNG
reader (PIL, pyspng, panopticapi) decodes them.

>>> import numpy as np
>>> data = encode_id_map_png(np.array([[1, 2], [3, 4]], np.uint32))
>>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import deflate
import numpy as np

_SIG = b"\x89PNG\r\n\x1a\n"


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)


_IEND = _chunk(b"IEND", b"")
_LEN = struct.Struct(">I")
_CRC_IDAT = zlib.crc32(b"IDAT")


def _compress(raw: bytes | np.ndarray, level: int) -> bytes:
    try:
        return deflate.zlib_compress(raw, level)
    except ImportError:  # pragma: no cover - deflate is a dependency
        return zlib.compress(raw, max(1, min(level, 9)))


def encode_id_map_png(id_map: np.ndarray, level: int | None = None) -> bytes:
    """PNG bytes of an (H, W) id map (id = R + 256 G + 256^2 B, ids < 2**24).

    ``level=None``: the run-length encoder kernel; ``1..12``: libdeflate at that level.
    """
    ids = np.asarray(id_map)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"id map must be a 2-D integer array, got {ids.dtype} {ids.shape}")
    h, w = ids.shape
    if h == 0 or w == 0:
        raise ValueError("id map must not be empty")
    if int(ids.min()) < 0 or int(ids.max()) >= 1 << 24:
        raise ValueError("panoptic ids must lie in [0, 2**24)")
    ids = np.ascontiguousarray(ids, dtype=np.uint32)
    from ..kernels.png_encode import png_idat, png_up_rows

    if level is None:
        idat = png_idat(ids).tobytes()
    else:
        idat = _compress(png_up_rows(ids), level)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"".join([_SIG, _chunk(b"IHDR", ihdr), _chunk(b"IDAT", idat), _chunk(b"IEND", b"")])


def write_id_map_png_fast(path: str | os.PathLike, id_map: np.ndarray, level: int | None = None) -> Path:
    """Write :func:`encode_id_map_png` bytes to ``path`` (not atomic by itself)."""
    p = Path(path)
    p.write_bytes(encode_id_map_png(id_map, level))
    return p


def write_id_runs_png(path: str | os.PathLike, row_runs: tuple, height: int, width: int, *, check: bool = True) -> Path:
    """Write the PNG of an id map given as its runs along rows (``(row_ptr, run_x, run_v)``, as
    :func:`rapkit.kernels.fusion.compose` returns them): the bytes of
    :func:`write_id_map_png_fast` with ``level=None``, in time proportional to the runs.
    ``check=False`` trusts the runs' layout (runs that ``compose`` made: ``rapkit fuse``'s
    workers), which saves the scans that check it while holding the GIL."""
    from ..kernels.png_encode import png_idat_runs

    row_ptr, run_x, run_v = row_runs
    if row_ptr.shape[0] != height + 1:
        raise ValueError(f"row runs describe {row_ptr.shape[0] - 1} rows, not {height}")
    return Path(write_idat_png(path, png_idat_runs(row_ptr, run_x, run_v, width, check=check), height, width))


_HEADS: dict[tuple[int, int], bytes] = {}


def write_idat_png(path: str | os.PathLike, idat: np.ndarray, height: int, width: int) -> str | os.PathLike:
    """Write an 8-bit RGB PNG given its zlib stream ``idat`` (uint8, as
    :func:`rapkit.kernels.png_encode.png_idat` makes it): the signature, IHDR, one IDAT chunk
    and IEND. The bytes of :func:`write_id_map_png_fast` with ``level=None`` for that stream."""
    head = _HEADS.get((height, width))
    if head is None:  # the same few sizes again and again: built once each
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        head = _HEADS.setdefault((height, width), _SIG + _chunk(b"IHDR", ihdr))
    # the IDAT chunk from the kernel's buffer, without copies: its CRC runs on the tag, then
    # the data (zlib releases the GIL for it)
    crc = zlib.crc32(idat, _CRC_IDAT) & 0xFFFFFFFF
    _write_file(path, b"".join([head, _LEN.pack(idat.shape[0]), b"IDAT", idat, _LEN.pack(crc), _IEND]))
    return path


def _write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` (its system calls release the GIL; benchmarks/_gil_probe.py times it)."""
    with open(path, "wb") as f:
        f.write(data)
