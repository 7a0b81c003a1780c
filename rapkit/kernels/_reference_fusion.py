"""Plain-numpy twins of the RLE and fusion kernels (full-image masks, per-proposal loops).

Same arguments and results as :mod:`rapkit.kernels.rle` and :mod:`rapkit.kernels.fusion`;
they are the executable specification the kernels are tested against.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ref_rle_counts", "ref_full_mask", "crops_from_full", "ref_decode_rles", "full_masks",
    "ref_pairwise_overlaps", "ref_fuse_instances", "ref_compose", "ref_png_up_rows", "ref_png_idat",
]

# ----------------------------------------------------------------------------- RLE


def ref_rle_counts(counts: bytes | str) -> list[int]:
    """pycocotools ``rleFrString`` in Python: compressed string -> run lengths."""
    s = counts.encode("ascii") if isinstance(counts, str) else counts
    cnts: list[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            if p >= len(s):
                raise ValueError("truncated RLE string")
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return cnts


def ref_full_mask(counts: bytes | str, height: int, width: int) -> np.ndarray | None:
    """(H, W) bool mask of one compressed RLE, or None when malformed / wrong total."""
    try:
        runs = ref_rle_counts(counts)
    except ValueError:
        return None
    if any(r < 0 for r in runs) or sum(runs) != height * width:
        return None
    vals = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(vals, runs)
    return flat.reshape(width, height).T.copy()


def crops_from_full(full: list[np.ndarray | None], height: int, width: int):
    """Full (H, W) masks -> (boxes, areas, offsets, flat) in the kernels' x-major crop layout."""
    n = len(full)
    boxes = np.zeros((n, 4), np.int64)
    areas = np.zeros(n, np.int64)
    parts = []
    for k, m in enumerate(full):
        if m is None or not m.any():
            parts.append(np.zeros(0, np.uint8))
            continue
        ys, xs = np.nonzero(m)
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        boxes[k] = (x0, x1, y0, y1)
        areas[k] = int(m.sum())
        parts.append(np.ascontiguousarray(m[y0:y1, x0:x1].T).astype(np.uint8).ravel())
    offs = np.zeros(n + 1, np.int64)
    offs[1:] = np.cumsum([p.size for p in parts]) if parts else []
    flat = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return boxes, areas, offs, flat


def ref_decode_rles(counts_list: list, height: int, width: int):
    """Twin of :func:`rapkit.kernels.rle.decode_rles`."""
    full = [ref_full_mask(c, height, width) for c in counts_list]
    status = np.zeros(len(full), np.int64)
    for k, c in enumerate(counts_list):
        if full[k] is None:
            try:
                runs = ref_rle_counts(c)
                status[k] = 1 if any(r < 0 for r in runs) else 2
            except ValueError:
                status[k] = 1
    boxes, areas, offs, flat = crops_from_full(full, height, width)
    return boxes, areas, offs, flat, status


def full_masks(boxes, offsets, masks, height: int, width: int) -> np.ndarray:
    """Box crops -> (N, H, W) bool full-image masks."""
    n = boxes.shape[0]
    out = np.zeros((n, height, width), bool)
    for k in range(n):
        x0, x1, y0, y1 = (int(v) for v in boxes[k])
        if x1 > x0 and y1 > y0:
            crop = masks[offsets[k]:offsets[k + 1]].reshape(x1 - x0, y1 - y0).T
            out[k, y0:y1, x0:x1] = crop.astype(bool)
    return out


# ----------------------------------------------------------------------------- fusion


def ref_pairwise_overlaps(boxes, offsets, masks) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.fusion.pairwise_overlaps`."""
    n = boxes.shape[0]
    if n == 0:
        return np.zeros((0, 0), np.int64)
    h = int(boxes[:, 3].max()) if n else 0
    w = int(boxes[:, 1].max()) if n else 0
    fm = full_masks(boxes, offsets, masks, max(h, 1), max(w, 1)).reshape(n, -1).astype(np.int64)
    out = fm @ fm.T
    np.fill_diagonal(out, 0)
    return out


def ref_fuse_instances(boxes, areas, offsets, masks, labels, relations, order, width, height, *,
                       tau, gamma, ra, ca, eo, reference, overlaps=None, record_events=False):
    """Twin of :func:`rapkit.kernels.fusion.fuse_instances`: Algorithm 1 on full-image masks."""
    n = boxes.shape[0]
    fm = full_masks(boxes, offsets, masks, height, width)
    seg = np.zeros((height, width), np.int64)  # proposal index + 1, 0 = free
    P = np.zeros((height, width), np.int64)  # label canvas, -1 = empty
    P[:] = -1
    V = np.full((height, width), np.inf)
    status = np.full(n, 7, np.int8)
    kept: list[int] = []
    events: list[tuple[int, int]] = []
    labels = np.asarray(labels)
    rel = np.asarray(relations)
    for i in (int(v) for v in order):
        I = fm[i]
        area = int(I.sum())
        if area == 0:
            status[i] = 2
            continue
        if ca:
            share = int((I & (P == labels[i])).sum()) / area
            if (share > tau) if reference else (share >= tau):
                status[i] = 3
                continue
        drop = False
        for j in kept:
            o = int((I & fm[j]).sum())
            if o == 0:
                continue
            if record_events:
                events.append((i, j))
            if eo and not drop:
                if reference:
                    vis_j = seg == j + 1
                    nv = int(vis_j.sum())
                    if nv == 0:
                        continue
                    ov = int((I & vis_j).sum())
                    drop = ov / area >= gamma and ov / nv >= gamma
                else:
                    drop = o / area >= gamma and o / int(fm[j].sum()) >= gamma
        if drop:
            status[i] = 4
            continue
        if ra:
            C = I & (V > rel[i])
            if int(C.sum()) / area <= tau:
                status[i] = 5
                continue
        else:
            if int((I & (seg > 0)).sum()) / area > tau:
                status[i] = 5
                continue
            C = I & (seg == 0)
        P[C] = labels[i]
        V[C] = rel[i]
        seg[C] = i + 1
        status[i] = 0
        kept.append(i)
    visible = np.bincount(seg.ravel(), minlength=n + 1)[1:].astype(np.int64)
    for j in kept:
        if visible[j] == 0:
            status[j] = 6
    ev = np.array(events, np.int64).reshape(-1, 2)
    return seg.astype(np.int32), status, visible, ev


def ref_compose(canvas, semantic, is_stuff, stuff_area, thing_lut, n_things):
    """Twin of :func:`rapkit.kernels.fusion.compose`."""
    img = canvas
    out = thing_lut[img].astype(np.uint32)
    classes = []
    if semantic is not None:
        free = img == 0
        for c in range(256):
            if not is_stuff[c]:
                continue
            m = free & (semantic == c)
            a = int(m.sum())
            if a == 0 or a < stuff_area:
                continue
            classes.append(c)
            out[m] = n_things + len(classes)
    n_ids = n_things + len(classes)
    area = np.bincount(out.ravel(), minlength=n_ids + 1).astype(np.int64)
    bbox = np.zeros((n_ids + 1, 4), np.int64)
    for v in range(n_ids + 1):
        if area[v]:
            ys, xs = np.nonzero(out == v)
            bbox[v] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    return np.ascontiguousarray(out), np.array(classes, np.int64), area, bbox


def ref_png_up_rows(ids: np.ndarray) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.fusion.png_up_rows`."""
    h, w = ids.shape
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], -1).astype(np.uint8).reshape(h, 3 * w)
    res = rgb.copy()
    res[1:] = rgb[1:] - rgb[:-1]  # uint8 arithmetic wraps mod 256
    return np.concatenate([np.full((h, 1), 2, np.uint8), res], axis=1)


def ref_png_idat(ids: np.ndarray) -> np.ndarray:
    """Twin of :func:`rapkit.kernels.fusion.png_idat` (same symbols, same bytes), in Python."""
    import zlib

    from .fusion import IDAT_TABLES

    codes, lens, lsym, lext, lval = (t.tolist() for t in IDAT_TABLES)
    bits: list[tuple[int, int]] = [(3, 3)]  # BFINAL, fixed Huffman

    def lit(v: int) -> None:
        bits.append((codes[v], lens[v]))

    def repeat(n: int, dist_bits: int) -> None:
        while n > 0:
            m = min(n, 258)
            if n - m in (1, 2):
                m = n - 3
            bits.append((codes[lsym[m]], lens[lsym[m]]))
            if lext[m]:
                bits.append((lval[m], lext[m]))
            bits.append((dist_bits, 5))
            n -= m

    h, w = ids.shape
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], -1).astype(np.int64)
    res = rgb.copy()
    res[1:] = (rgb[1:] - rgb[:-1]) % 256
    last = -1
    for y in range(h):
        lit(2)
        last = 2
        trip = [tuple(int(v) for v in res[y, x]) for x in range(w)]
        x = 0
        while x < w:
            d = trip[x]
            k = 1
            while x + k < w and trip[x + k] == d:
                k += 1
            if d == (0, 0, 0) and last == 0:
                repeat(3 * k, 0)
            else:
                for v in d:
                    lit(v)
                if k > 1:
                    repeat(3 * (k - 1), 8)
            last = d[2]
            x += k
    bits.append((0, 7))
    acc = nb = 0
    out = bytearray(b"\x78\x01")
    for value, n in bits:
        acc |= value << nb
        nb += n
        while nb >= 8:
            out.append(acc & 255)
            acc >>= 8
            nb -= 8
    if nb:
        out.append(acc & 255)
    raw = ref_png_up_rows(ids.astype(np.uint32)).tobytes()
    out += zlib.adler32(raw).to_bytes(4, "big")
    return np.frombuffer(bytes(out), np.uint8)
