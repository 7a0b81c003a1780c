"""Geometry and rendering of the synthetic world: shape polygons, rasterisation, RLE,
textures and the painted picture (used by :mod:`rapkit.synth.scene`).

Every function is deterministic given its ``rng``; the order of the random draws is part
of the world's definition (same seed -> same bytes), so do not reorder them.

>>> mask = ellipse_mask(8, 10, cx=4.0, cy=3.0, rx=2.0, ry=1.0)
>>> int(mask.sum()), mask_bbox(mask)        # bbox as COCO's [x, y, width, height]
(7, [2, 2, 5, 3])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

_RENDER_THING = {  # appearance colours differ from the palette colours on purpose
    47: (230, 80, 60),
    44: (40, 170, 90),
    73: (150, 150, 170),
    1: (210, 160, 120),
    18: (120, 80, 40),
    62: (60, 90, 200),
    67: (170, 120, 60),
    63: (200, 60, 160),
}
_RENDER_STUFF = {
    187: (140, 190, 235),
    199: (200, 195, 180),
    190: (120, 110, 100),
    193: (70, 150, 60),
    149: (85, 85, 90),
}

# --------------------------------------------------------------------------- geometry


def shape_polygon(rng: np.random.Generator, family: str, cx: float, cy: float, size: float) -> np.ndarray:
    """(K, 2) polygon vertices of a shape family centred at (cx, cy), ``size`` ~ diameter."""
    r = size / 2.0
    rot = rng.uniform(0, 2 * np.pi)
    aspect = rng.uniform(0.7, 1.3)
    if family == "ellipse":
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = np.stack([r * np.cos(t), r * aspect * np.sin(t)], 1)
    elif family == "rect":
        pts = np.array([[-0.45, -1.0], [0.45, -1.0], [0.45, 1.0], [-0.45, 1.0]]) * r
        rot = rng.uniform(-0.3, 0.3)
    elif family == "trapezoid":
        pts = np.array([[-1.0, 0.6], [1.0, 0.6], [0.7, -0.6], [-0.7, -0.6]]) * r
        rot = rng.uniform(-0.4, 0.4)
    elif family == "blob":
        t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
        rad = r * rng.uniform(0.7, 1.0, size=t.size)
        pts = np.stack([0.7 * rad * np.cos(t), rad * np.sin(t)], 1)
    elif family == "star":
        t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        rad = np.where(np.arange(10) % 2 == 0, r, 0.55 * r)
        pts = np.stack([rad * np.cos(t), rad * np.sin(t)], 1)
    elif family == "triangle":
        t = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3]) - np.pi / 2
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    elif family == "hexagon":
        t = np.linspace(0, 2 * np.pi, 6, endpoint=False)
        pts = np.stack([1.2 * r * np.cos(t), 0.8 * r * aspect * np.sin(t)], 1)
    elif family == "diamond":
        pts = np.array([[0.0, -0.8], [1.2, 0.0], [0.0, 0.8], [-1.2, 0.0]]) * r
        rot = rng.uniform(-0.3, 0.3)
    else:  # pragma: no cover - families are fixed above
        raise ValueError(family)
    c, s = np.cos(rot), np.sin(rot)
    pts = pts @ np.array([[c, s], [-s, c]])
    pts[:, 0] += cx
    pts[:, 1] += cy
    return pts


def clip_flat(pts: np.ndarray, h: int, w: int) -> list[float]:
    q = pts.copy()
    q[:, 0] = np.clip(q[:, 0], 0.0, float(w))
    q[:, 1] = np.clip(q[:, 1], 0.0, float(h))
    return [round(float(v), 2) for v in q.reshape(-1)]


def raster_polygon(flat: list[float], h: int, w: int) -> np.ndarray:
    rles = mask_utils.frPyObjects([flat], h, w)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def encode_rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.astype(np.uint8).reshape(-1, order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def mask_bbox(mask: np.ndarray) -> list[int]:
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    if ys.size == 0:
        return [0, 0, 0, 0]
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def ellipse_mask(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = np.ogrid[:h, :w]
    return ((xx - cx) / max(rx, 1e-6)) ** 2 + ((yy - cy) / max(ry, 1e-6)) ** 2 <= 1.0


def texture(rng: np.random.Generator, kind: str, h: int, w: int, phase: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    if kind == "hstripes":
        return ((yy + phase) // 4 % 2).astype(np.float32)
    if kind == "vstripes":
        return ((xx + phase) // 4 % 2).astype(np.float32)
    if kind == "checker":
        return (((xx + phase) // 6 + (yy + phase) // 6) % 2).astype(np.float32)
    if kind == "dots":
        return (((xx + phase) % 7 < 2) & ((yy + phase) % 7 < 2)).astype(np.float32)
    if kind == "diag":
        return ((xx + yy + phase) // 5 % 2).astype(np.float32)
    return np.zeros((h, w), np.float32)


def jitter_polygon(
    rng: np.random.Generator, pts: np.ndarray, size: float, noise: float, shift: float = 0.0, scale: float = 1.0
) -> np.ndarray:
    c = pts.mean(0)
    q = (pts - c) * scale + c
    q = q + rng.normal(0, noise * size, size=q.shape)
    q = q + rng.normal(0, shift * size, size=2)[None, :]
    return q


def render(
    rng: np.random.Generator,
    stuff_map: np.ndarray,
    void: np.ndarray,
    instances: list[Any],
    order: list[int],
    texture_of: dict[int, str],
) -> np.ndarray:
    """Paint the picture: textured stuff bands, VOID, things far to near with their own
    colour and texture and a dark outline (so occlusion boundaries are visible)."""
    h, w = stuff_map.shape
    img = np.zeros((h, w, 3), np.float32)
    for sid, col in _RENDER_STUFF.items():
        img[stuff_map == sid] = col
    img += rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)
    img[void] = (40, 40, 40)
    shade_y = np.linspace(0.9, 1.1, h, dtype=np.float32)[:, None]
    for i in order:
        inst = instances[i]
        if inst.iscrowd:
            col = np.array((150, 140, 130), np.float32)
            tex = np.zeros((h, w), np.float32)
        else:
            col = np.array(_RENDER_THING[inst.category_id], np.float32)
            tex = texture(rng, texture_of[inst.category_id], h, w, int(rng.integers(8)))
        m = inst.mask
        colour = col[None, None, :] * (0.75 + 0.25 * (1 - tex))[..., None] * shade_y[..., None]
        img[m] = colour[m]
        # a dark outline makes the occlusion boundary visible
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        img[edge] *= 0.5
    img += rng.normal(0, 4, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


__all__ = [
    "clip_flat",
    "ellipse_mask",
    "encode_rle",
    "jitter_polygon",
    "mask_bbox",
    "raster_polygon",
    "render",
    "shape_polygon",
    "texture",
    "uncompressed_rle",
]
