"""COCO RLE decoding into box-cropped masks (numba).

A COCO RLE is column-major: its runs walk the image column by column (index ``x * H + y``),
starting with a run of zeros. rapkit keeps every decoded mask as a crop of its bounding box
stored the same way ("x-major"): the crop of proposal ``k`` is
``masks[offsets[k]:offsets[k + 1]].reshape(x1 - x0, y1 - y0)`` with ``boxes[k] = (x0, x1, y0, y1)``
(half-open). Decoding costs O(mask pixels + string length), not O(H x W).

>>> import numpy as np
>>> from pycocotools import mask as cm                       # doctest: +SKIP
>>> m = np.zeros((4, 5), np.uint8); m[1:3, 2:4] = 1          # doctest: +SKIP
>>> rle = cm.encode(np.asfortranarray(m))                     # doctest: +SKIP
>>> boxes, areas, offs, flat = decode_rles([rle["counts"]], 4, 5)  # doctest: +SKIP
>>> boxes[0].tolist(), int(areas[0])                          # doctest: +SKIP
([2, 4, 1, 3], 4)
"""

from __future__ import annotations

import numpy as np

from .._runtime.jit import njit


@njit
def _parse_counts(chars, start, stop, out, out_pos):
    """pycocotools ``rleFrString``: decode chars[start:stop] into out[out_pos:], return count."""
    p = start
    m = 0
    while p < stop:
        x = np.int64(0)
        k = 0
        more = True
        while more:
            if p >= stop:
                return -1
            c = np.int64(chars[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += out[out_pos + m - 2]
        out[out_pos + m] = x
        m += 1
    return m


@njit
def _scan_rles(chars, char_offs, height, width):
    """Parse every RLE of an image: (runs, run offsets, boxes, areas, status)."""
    n = char_offs.shape[0] - 1
    runs = np.empty(chars.shape[0] + 1, np.int64)
    run_offs = np.zeros(n + 1, np.int64)
    boxes = np.zeros((n, 4), np.int64)
    areas = np.zeros(n, np.int64)
    status = np.zeros(n, np.int64)  # 0 ok, 1 malformed, 2 counts do not sum to H*W
    total = np.int64(height) * np.int64(width)
    pos = 0
    for k in range(n):
        m = _parse_counts(chars, char_offs[k], char_offs[k + 1], runs, pos)
        if m < 0:
            status[k] = 1
            m = 0
        run_offs[k + 1] = pos + m
        s = np.int64(0)
        x0 = width
        x1 = -1
        y0 = height
        y1 = -1
        area = np.int64(0)
        for r in range(m):
            c = runs[pos + r]
            if c < 0:
                status[k] = 1
                break
            if r % 2 == 1 and c > 0:
                e = s + c - 1  # last pixel of the run
                if e >= total:
                    break
                area += c
                xa = s // height
                xb = e // height
                if xa < x0:
                    x0 = xa
                if xb > x1:
                    x1 = xb
                if xb > xa:  # crosses a column boundary: touches y = H - 1 and y = 0
                    y0 = 0
                    y1 = height - 1
                else:
                    ya = s % height
                    yb = e % height
                    if ya < y0:
                        y0 = ya
                    if yb > y1:
                        y1 = yb
            s += c
        if status[k] == 0 and s != total:
            status[k] = 2
        if area == 0 or status[k] != 0:
            boxes[k, 0] = 0
            boxes[k, 1] = 0
            boxes[k, 2] = 0
            boxes[k, 3] = 0
            area = 0
        else:
            boxes[k, 0] = x0
            boxes[k, 1] = x1 + 1
            boxes[k, 2] = y0
            boxes[k, 3] = y1 + 1
        areas[k] = area
        pos += m
    return runs, run_offs, boxes, areas, status


@njit
def _decode_batch(chars, char_offs, height, width):
    runs, run_offs, boxes, areas, status = _scan_rles(chars, char_offs, height, width)
    n = boxes.shape[0]
    offs = np.zeros(n + 1, np.int64)
    for k in range(n):
        offs[k + 1] = offs[k] + (boxes[k, 1] - boxes[k, 0]) * (boxes[k, 3] - boxes[k, 2])
    flat = np.zeros(offs[n], np.uint8)
    for k in range(n):
        if areas[k] == 0:
            continue
        x0 = boxes[k, 0]
        y0 = boxes[k, 2]
        bh = boxes[k, 3] - y0
        base = offs[k]
        s = np.int64(0)
        for r in range(run_offs[k + 1] - run_offs[k]):
            c = runs[run_offs[k] + r]
            if r % 2 == 1 and c > 0:
                p = s
                e = s + c
                while p < e:
                    x = p // height
                    y = p - x * height
                    stop = min(e - p, height - y)
                    row = flat[base + (x - x0) * bh + (y - y0) : base + (x - x0) * bh + (y - y0) + stop]
                    for t in range(stop):
                        row[t] = 1
                    p += stop
            s += c
    return boxes, areas, offs, flat, status


@njit
def _decode_runs(chars, char_offs, height, width, need):
    runs, run_offs, boxes, areas, status = _scan_rles(chars, char_offs, height, width)
    n = boxes.shape[0]
    col_offs = np.zeros(n + 1, np.int64)
    n_pieces = 0
    for k in range(n):
        bw = boxes[k, 1] - boxes[k, 0] if areas[k] > 0 and need[k] else 0
        col_offs[k + 1] = col_offs[k] + bw + 1
        if bw > 0:
            s = np.int64(0)
            for r in range(run_offs[k + 1] - run_offs[k]):
                c = runs[run_offs[k] + r]
                if r % 2 == 1 and c > 0:
                    n_pieces += (s + c - 1) // height - s // height + 1
                s += c
    col_ptr = np.empty(col_offs[n], np.int64)
    run_y0 = np.empty(n_pieces, np.int64)
    run_y1 = np.empty(n_pieces, np.int64)
    q = 0
    for k in range(n):
        base = col_offs[k]
        bw = col_offs[k + 1] - base - 1
        x0 = boxes[k, 0]
        cx = x0  # the next column whose first piece is not yet set
        if bw > 0:
            s = np.int64(0)
            for r in range(run_offs[k + 1] - run_offs[k]):
                c = runs[run_offs[k] + r]
                if r % 2 == 1 and c > 0:
                    p = s
                    e = s + c
                    while p < e:
                        x = p // height
                        y = p - x * height
                        stop = min(e - p, height - y)
                        while cx <= x:
                            col_ptr[base + cx - x0] = q
                            cx += 1
                        run_y0[q] = y
                        run_y1[q] = y + stop
                        q += 1
                        p += stop
                s += c
        while cx <= x0 + bw:
            col_ptr[base + cx - x0] = q
            cx += 1
    return boxes, areas, col_offs, col_ptr, run_y0, run_y1, status


def _to_bytes(counts) -> bytes:
    if isinstance(counts, bytes):
        return counts
    if isinstance(counts, str):
        return counts.encode("ascii")
    raise TypeError(f"RLE counts must be a compressed string, got {type(counts).__name__}")


def pack_counts(counts_list: list) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate compressed RLE ``counts`` strings into (chars uint8, offsets int64)."""
    if all(type(c) is str for c in counts_list):  # the JSON case: one join, one encode
        joined = "".join(counts_list).encode("ascii")  # non-ASCII raises as a single encode would
        offs = np.zeros(len(counts_list) + 1, np.int64)
        offs[1:] = np.cumsum(np.fromiter(map(len, counts_list), np.int64, len(counts_list)))
        return np.frombuffer(joined, dtype=np.uint8), offs
    bs = [_to_bytes(c) for c in counts_list]
    offs = np.zeros(len(bs) + 1, np.int64)
    if bs:
        offs[1:] = np.cumsum([len(b) for b in bs])
    chars = np.frombuffer(b"".join(bs), dtype=np.uint8) if bs else np.zeros(0, np.uint8)
    return np.ascontiguousarray(chars), offs


def decode_rles(counts_list: list, height: int, width: int):
    """Decode compressed COCO RLE strings of one image into box-cropped x-major masks.

    Returns ``(boxes (N,4) int64 [x0, x1, y0, y1), areas (N,) int64, offsets (N+1,) int64,
    flat uint8, status (N,) int64)``; ``status`` is 0 for a valid RLE, 1 when malformed,
    2 when its runs do not cover exactly ``height * width`` pixels (masks then count as empty).

    >>> boxes, areas, offs, flat, status = decode_rles([b"04"], 2, 2)  # doctest: +SKIP
    """
    chars, offs = pack_counts(counts_list)
    return decode_packed(chars, offs, height, width)


def decode_rle_runs(counts_list: list, height: int, width: int, need: np.ndarray | None = None):
    """Decode compressed COCO RLE strings of one image into column runs (no pixels written).

    Returns ``(boxes (N,4) int64 [x0, x1, y0, y1), areas (N,) int64, col_offsets (N+1,) int64,
    col_ptr int64, run_y0 int64, run_y1 int64, status (N,) int64)``. Column ``x`` of mask
    ``k`` (``x0 <= x < x1``) holds the pixels ``run_y0[r] <= y < run_y1[r]`` for
    ``col_ptr[col_offsets[k] + x - x0] <= r < col_ptr[col_offsets[k] + x - x0 + 1]``, in
    ascending ``y`` (pieces may touch: an RLE need not be minimal). Boxes, areas and status are
    those of :func:`decode_rles`; masks that are empty, invalid or have ``need[k]`` False get no
    runs (``col_offsets[k + 1] - col_offsets[k] == 1``).

    >>> out = decode_rle_runs([b"13", b"04"], 2, 2)
    >>> [a.tolist() for a in out[:2]], out[3].tolist(), out[4].tolist(), out[5].tolist()
    ([[[0, 2, 0, 2], [0, 2, 0, 2]], [3, 4]], [0, 1, 2, 2, 3, 4], [1, 0, 0, 0], [2, 2, 2, 2])
    """
    chars, offs = pack_counts(counts_list)
    return decode_packed_runs(chars, offs, height, width, need)


def decode_packed_runs(
    chars: np.ndarray, char_offsets: np.ndarray, height: int, width: int, need: np.ndarray | None = None
):
    """:func:`decode_rle_runs` on pre-packed counts (see :func:`pack_counts`)."""
    _check_packed(chars, char_offsets, height, width)
    n = char_offsets.shape[0] - 1
    if need is None:
        need = np.ones(n, np.bool_)
    elif need.dtype != np.bool_ or need.shape != (n,):
        raise ValueError(f"need must be a ({n},) bool array")
    return _decode_runs(
        chars, np.ascontiguousarray(char_offsets), np.int64(height), np.int64(width), np.ascontiguousarray(need)
    )


def _check_packed(chars: np.ndarray, char_offsets: np.ndarray, height: int, width: int) -> None:
    if chars.dtype != np.uint8 or chars.ndim != 1 or not chars.flags.c_contiguous:
        raise ValueError("chars must be a contiguous 1-D uint8 array")
    if char_offsets.dtype != np.int64 or char_offsets.ndim != 1 or char_offsets.shape[0] < 1:
        raise ValueError("char_offsets must be a 1-D int64 array with N + 1 entries")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")


def decode_packed(chars: np.ndarray, char_offsets: np.ndarray, height: int, width: int):
    """:func:`decode_rles` on pre-packed counts (see :func:`pack_counts`)."""
    _check_packed(chars, char_offsets, height, width)
    return _decode_batch(chars, np.ascontiguousarray(char_offsets), np.int64(height), np.int64(width))
