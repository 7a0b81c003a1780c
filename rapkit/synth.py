"""A small synthetic world in real COCO formats, with a known depth order.

Each image has a few stuff bands (sky/wall above, floor/grass/road below), a handful of
thing instances drawn from eight COCO categories, sometimes a crowd region, and a little
VOID. Every thing has a depth: ``category rank + N(0, depth_noise**2)`` (cups sit in front
of tables, as in real scenes), so the order is learnable from appearance. Instance
annotations are the full (amodal) polygons; the panoptic map paints them far to near, so
the panoptic GT shows only the visible part, exactly as the RAP paper's relation
extraction expects.

The world also carries what a detector would dump: proposals in COCO results format
(compressed RLE, score, category, ``relation`` = depth + noise), with knobs for missed
and false detections, duplicates of the same and of another category and mask noise,
and predicted semantic label maps with noise.

>>> img = generate_image(SynthConfig(n_images=1, height=96, width=128, seed=1), 0)
>>> img.id_map.shape
(96, 128)

Smaller depth = closer to the camera = in front. Smaller relation value = in front.
Generation is deterministic: image ``k`` depends only on ``(seed, k)`` and the config.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import ConfigError
from .types import Category, Proposals, Segment

# --------------------------------------------------------------------------- categories
# (id, name, color) copied from COCO's panoptic_coco_categories.json.
# Things: (id, name, color, depth rank, shape family, size range as a fraction of min(H, W),
#          texture kind)
THINGS: list[tuple[int, str, tuple[int, int, int], int, str, tuple[float, float], str]] = [
    (47, "cup", (255, 99, 164), 0, "ellipse", (0.10, 0.18), "plain"),
    (44, "bottle", (0, 143, 149), 1, "rect", (0.08, 0.14), "hstripes"),
    (73, "laptop", (134, 134, 103), 2, "trapezoid", (0.18, 0.28), "checker"),
    (1, "person", (220, 20, 60), 3, "blob", (0.22, 0.36), "vstripes"),
    (18, "dog", (0, 0, 230), 4, "star", (0.18, 0.30), "dots"),
    (62, "chair", (153, 69, 1), 5, "triangle", (0.24, 0.36), "diag"),
    (67, "dining table", (96, 96, 96), 6, "hexagon", (0.32, 0.48), "plain"),
    (63, "couch", (255, 179, 240), 7, "diamond", (0.34, 0.50), "hstripes"),
]
# Stuff: (id, name, color, band: "top" | "bottom")
STUFF: list[tuple[int, str, tuple[int, int, int], str]] = [
    (187, "sky-other-merged", (70, 130, 180), "top"),
    (199, "wall-other-merged", (102, 102, 156), "top"),
    (190, "floor-other-merged", (96, 96, 96), "bottom"),
    (193, "grass-merged", (152, 251, 152), "bottom"),
    (149, "road", (128, 64, 128), "bottom"),
]
_RENDER_THING = {  # appearance colours differ from the palette colours on purpose
    47: (230, 80, 60), 44: (40, 170, 90), 73: (150, 150, 170), 1: (210, 160, 120),
    18: (120, 80, 40), 62: (60, 90, 200), 67: (170, 120, 60), 63: (200, 60, 160),
}
_RENDER_STUFF = {187: (140, 190, 235), 199: (200, 195, 180), 190: (120, 110, 100), 193: (70, 150, 60), 149: (85, 85, 90)}
_THING_BY_ID = {t[0]: t for t in THINGS}


def categories() -> list[Category]:
    """The world's categories (things then stuff) with real COCO panoptic ids."""
    out = [Category(t[0], t[1], True, t[2]) for t in THINGS]
    out += [Category(s[0], s[1], False, s[2]) for s in STUFF]
    return out


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the synthetic world. Defaults: COCO-like (640x480, about 7 things)."""

    n_images: int = 20
    height: int = 480
    width: int = 640
    seed: int = 0
    things_per_image: float = 7.0
    depth_noise: float = 0.6  # sigma of depth around the category rank
    crowd_prob: float = 0.15  # chance of one crowd region per image
    void_blobs: float = 1.0  # mean number of VOID blobs per image
    render_images: bool = True
    # simulated detector
    relation_noise: float = 0.3  # sigma of relation value around the true depth
    score_noise: float = 0.5  # sigma of the detector's score logit
    p_miss: float = 0.05
    p_dup_same: float = 0.15
    p_dup_other: float = 0.10
    false_per_image: float = 0.5
    mask_noise: float = 0.03  # vertex jitter as a fraction of the object size
    # simulated semantic segmentation
    semantic_noise: float = 0.02  # share of stuff pixels relabelled in blobs
    semantic_shift: int = 3  # max shift (px) of stuff boundaries

    def __post_init__(self) -> None:
        if self.n_images < 1 or self.n_images > 16000:
            raise ConfigError(f"n_images must be in [1, 16000], got {self.n_images}")
        if self.height < 32 or self.width < 32:
            raise ConfigError(f"image size must be at least 32x32, got {self.width}x{self.height}")
        if self.things_per_image < 0:
            raise ConfigError("things_per_image must be >= 0")
        for name in ("crowd_prob", "p_miss", "p_dup_same", "p_dup_other"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {v}")
        for name in ("depth_noise", "relation_noise", "score_noise", "mask_noise", "semantic_noise",
                     "void_blobs", "false_per_image"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- records


@dataclass
class SynthInstance:
    id: int
    category_id: int
    depth: float
    iscrowd: int
    mask: np.ndarray  # bool (H, W), amodal
    polygon: list[float] | None  # flat xy list (None for crowd RLE)


@dataclass
class SynthImage:
    image_id: int
    file_name: str
    height: int
    width: int
    instances: list[SynthInstance]
    id_map: np.ndarray  # uint32 panoptic ids
    segments: list[Segment]
    semantic: np.ndarray  # uint8 predicted label map
    proposals: Proposals
    proposal_instance: np.ndarray  # int64, -1 = false detection
    proposal_kind: list[str]
    rgb: np.ndarray | None = None


@dataclass
class WorldPaths:
    root: Path
    images_dir: Path
    instances: Path
    panoptic: Path
    panoptic_dir: Path
    categories: Path
    proposals: Path
    semantic: Path
    truth: Path

    @classmethod
    def under(cls, root: str | Path) -> "WorldPaths":
        r = Path(root)
        return cls(r, r / "images", r / "instances.json", r / "panoptic.json", r / "panoptic",
                   r / "categories.json", r / "proposals.json", r / "semantic", r / "truth.json")


# --------------------------------------------------------------------------- geometry


def _shape_polygon(rng: np.random.Generator, family: str, cx: float, cy: float, size: float) -> np.ndarray:
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


def _clip_flat(pts: np.ndarray, h: int, w: int) -> list[float]:
    q = pts.copy()
    q[:, 0] = np.clip(q[:, 0], 0.0, float(w))
    q[:, 1] = np.clip(q[:, 1], 0.0, float(h))
    return [round(float(v), 2) for v in q.reshape(-1)]


def _raster_polygon(flat: list[float], h: int, w: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    rles = mask_utils.frPyObjects([flat], h, w)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _encode(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.astype(np.uint8).reshape(-1, order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def _bbox(mask: np.ndarray) -> list[int]:
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    if ys.size == 0:
        return [0, 0, 0, 0]
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def _ellipse_mask(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = np.ogrid[:h, :w]
    return ((xx - cx) / max(rx, 1e-6)) ** 2 + ((yy - cy) / max(ry, 1e-6)) ** 2 <= 1.0


# --------------------------------------------------------------------------- one image


def _stuff_layout(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, list[int], np.ndarray]:
    """A stuff label map of two or three horizontal wavy bands; returns (map, ids, boundary params)."""
    top = [s for s in STUFF if s[3] == "top"]
    bottom = [s for s in STUFF if s[3] == "bottom"]
    t_id = top[rng.integers(len(top))][0]
    b_ids = [b[0] for b in bottom]
    rng.shuffle(b_ids)
    n_bottom = 1 + int(rng.random() < 0.5)
    frac = rng.uniform(0.35, 0.55)
    amp = rng.uniform(0.0, 0.06) * h
    freq = rng.uniform(0.5, 2.0)
    phase = rng.uniform(0, 2 * np.pi)
    split_x = rng.uniform(0.3, 0.7) * w
    params = np.array([frac, amp, freq, phase, split_x, n_bottom], dtype=np.float64)
    ids = [t_id] + b_ids[:n_bottom]
    return _paint_stuff(params, ids, h, w, 0.0), ids, params


def _paint_stuff(params: np.ndarray, ids: list[int], h: int, w: int, shift: float) -> np.ndarray:
    frac, amp, freq, phase, split_x, n_bottom = params
    xs = np.arange(w)
    boundary = frac * h + amp * np.sin(2 * np.pi * freq * xs / w + phase) + shift
    yy = np.arange(h)[:, None]
    lab = np.where(yy < boundary[None, :], ids[0], ids[1]).astype(np.uint8)
    if int(n_bottom) == 2:
        right = (np.arange(w)[None, :] >= split_x + shift) & (yy >= boundary[None, :])
        lab[right] = ids[2]
    return lab


def _texture(rng: np.random.Generator, kind: str, h: int, w: int, phase: int) -> np.ndarray:
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


def _jitter_polygon(rng: np.random.Generator, pts: np.ndarray, size: float, noise: float,
                    shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    c = pts.mean(0)
    q = (pts - c) * scale + c
    q = q + rng.normal(0, noise * size, size=q.shape)
    q = q + rng.normal(0, shift * size, size=2)[None, :]
    return q


def generate_image(cfg: SynthConfig, index: int) -> SynthImage:
    """Generate image ``index`` (0-based) of the world described by ``cfg``, in memory."""
    h, w = cfg.height, cfg.width
    rng = np.random.default_rng([cfg.seed, index, 7])
    image_id = index + 1
    base = image_id * 1000
    dim = min(h, w)

    stuff_map, stuff_ids, stuff_params = _stuff_layout(rng, h, w)

    # ---- things: clustered placement so overlaps span a wide ratio range
    n_things = int(rng.poisson(cfg.things_per_image)) if cfg.things_per_image > 0 else 0
    n_things = min(n_things, 40)
    n_clusters = int(rng.integers(1, 4))
    centres = np.stack([rng.uniform(0.2, 0.8, n_clusters) * w, rng.uniform(0.25, 0.8, n_clusters) * h], 1)
    instances: list[SynthInstance] = []
    polys: dict[int, tuple[np.ndarray, float]] = {}
    k = 0
    for _ in range(n_things):
        t = THINGS[int(rng.integers(len(THINGS)))]
        cid, _, _, rank, family, (smin, smax), _ = t
        size = rng.uniform(smin, smax) * dim
        cc = centres[int(rng.integers(n_clusters))]
        cx = float(np.clip(cc[0] + rng.normal(0, 0.12 * w), 0.05 * w, 0.95 * w))
        cy = float(np.clip(cc[1] + rng.normal(0, 0.12 * h), 0.05 * h, 0.95 * h))
        pts = _shape_polygon(rng, family, cx, cy, size)
        flat = _clip_flat(pts, h, w)
        mask = _raster_polygon(flat, h, w)
        if mask.sum() < 16:
            continue
        k += 1
        depth = float(rank + rng.normal(0, cfg.depth_noise))
        instances.append(SynthInstance(base + k, cid, depth, 0, mask, flat))
        polys[base + k] = (pts, size)

    # ---- an optional crowd region (RLE), a group of people far away
    if rng.random() < cfg.crowd_prob:
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.6) * h
        m = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(3, 7))):
            m |= _ellipse_mask(h, w, cx + rng.normal(0, 0.06 * w), cy + rng.normal(0, 0.04 * h),
                               rng.uniform(0.02, 0.05) * w, rng.uniform(0.05, 0.1) * h)
        if m.sum() >= 16:
            k += 1
            instances.append(SynthInstance(base + k, 1, float(8.0 + rng.normal(0, 0.3)), 1, m, None))

    # ---- panoptic map: stuff, VOID blobs on stuff, things painted far -> near
    id_map = np.zeros((h, w), np.uint32)
    stuff_seg_id = {sid: base + 900 + j for j, sid in enumerate(stuff_ids)}
    for sid, seg in stuff_seg_id.items():
        id_map[stuff_map == sid] = seg
    void = np.zeros((h, w), bool)
    for _ in range(int(rng.poisson(cfg.void_blobs))):
        void |= _ellipse_mask(h, w, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.02, 0.08) * w,
                              rng.uniform(0.02, 0.08) * h)
    id_map[void] = 0
    order = sorted(range(len(instances)), key=lambda i: (-instances[i].depth, instances[i].id))
    for i in order:
        id_map[instances[i].mask] = instances[i].id

    ids, areas = np.unique(id_map, return_counts=True)
    area_of = dict(zip(ids.tolist(), areas.tolist()))
    segments: list[Segment] = []
    for inst in sorted(instances, key=lambda s: s.id):
        a = area_of.get(inst.id, 0)
        if a > 0:
            segments.append(Segment(inst.id, inst.category_id, int(a), tuple(_bbox(id_map == inst.id)), inst.iscrowd))
    for sid in stuff_ids:
        seg = stuff_seg_id[sid]
        a = area_of.get(seg, 0)
        if a > 0:
            segments.append(Segment(seg, sid, int(a), tuple(_bbox(id_map == seg)), 0))

    # ---- predicted semantic map: thing ids on thing pixels, stuff elsewhere, with noise
    sem_stuff = _paint_stuff(stuff_params, stuff_ids, h, w, float(rng.integers(-cfg.semantic_shift, cfg.semantic_shift + 1)))
    semantic = sem_stuff.copy()
    if cfg.semantic_noise > 0:
        target = cfg.semantic_noise * h * w
        got = 0
        tries = 0
        while got < target and tries < 20:
            tries += 1
            rx, ry = rng.uniform(0.02, 0.06) * w, rng.uniform(0.02, 0.06) * h
            blob = _ellipse_mask(h, w, rng.uniform(0, w), rng.uniform(0, h), rx, ry)
            semantic[blob] = STUFF[int(rng.integers(len(STUFF)))][0]
            got += int(blob.sum())
    for inst in instances:
        if not inst.iscrowd:
            vis = id_map == inst.id
            semantic[vis] = inst.category_id

    # ---- simulated detector output
    p_masks: list[np.ndarray] = []
    p_scores: list[float] = []
    p_cats: list[int] = []
    p_rel: list[float] = []
    p_inst: list[int] = []
    p_kind: list[str] = []
    med = 0.1 * h * w

    def score_for(area: float, factor: float = 1.0) -> float:
        z = 2.2 + 0.5 * math.log(max(area, 1.0) / med) + rng.normal(0, cfg.score_noise)
        return float(np.clip(factor / (1.0 + math.exp(-z)), 0.05, 1.0))

    def add(mask: np.ndarray, score: float, cid: int, rel: float, inst_id: int, kind: str) -> None:
        if mask.sum() < 4:
            return
        p_masks.append(mask)
        p_scores.append(round(score, 4))
        p_cats.append(cid)
        p_rel.append(round(rel, 4))
        p_inst.append(inst_id)
        p_kind.append(kind)

    for inst in instances:
        if inst.iscrowd or area_of.get(inst.id, 0) == 0:
            continue
        if rng.random() < cfg.p_miss:
            continue
        pts, size = polys[inst.id]
        m = _raster_polygon(_clip_flat(_jitter_polygon(rng, pts, size, cfg.mask_noise), h, w), h, w)
        area = float(inst.mask.sum())
        add(m, score_for(area), inst.category_id, inst.depth + rng.normal(0, cfg.relation_noise), inst.id, "true")
        if rng.random() < cfg.p_dup_same:
            m2 = _raster_polygon(_clip_flat(_jitter_polygon(rng, pts, size, cfg.mask_noise, 0.08, rng.uniform(0.85, 1.1)), h, w), h, w)
            add(m2, score_for(area, rng.uniform(0.6, 0.95)), inst.category_id,
                inst.depth + rng.normal(0, cfg.relation_noise), inst.id, "dup_same")
        if rng.random() < cfg.p_dup_other:
            others = [t[0] for t in THINGS if t[0] != inst.category_id]
            m3 = _raster_polygon(_clip_flat(_jitter_polygon(rng, pts, size, cfg.mask_noise, 0.04), h, w), h, w)
            add(m3, score_for(area, rng.uniform(0.5, 0.9)), int(others[int(rng.integers(len(others)))]),
                inst.depth + rng.normal(0, cfg.relation_noise), inst.id, "dup_other")
    for _ in range(int(rng.poisson(cfg.false_per_image))):
        t = THINGS[int(rng.integers(len(THINGS)))]
        size = rng.uniform(t[5][0], t[5][1]) * dim
        pts = _shape_polygon(rng, t[4], rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h, size)
        m = _raster_polygon(_clip_flat(pts, h, w), h, w)
        add(m, float(rng.uniform(0.3, 0.75)), t[0], float(rng.uniform(0, 8)), -1, "false")

    n = len(p_masks)
    proposals = Proposals(
        image_id=image_id,
        height=h,
        width=w,
        scores=np.asarray(p_scores, np.float64).reshape(n),
        category_ids=np.asarray(p_cats, np.int64).reshape(n),
        relations=np.asarray(p_rel, np.float64).reshape(n),
        rles=[_encode(m) for m in p_masks],
        source_index=None,
    )

    rgb = _render(rng, cfg, stuff_map, void, instances, order) if cfg.render_images else None
    return SynthImage(image_id, f"{image_id:012d}.jpg", h, w, instances, id_map, segments, semantic,
                      proposals, np.asarray(p_inst, np.int64).reshape(n), p_kind, rgb)


def _render(rng: np.random.Generator, cfg: SynthConfig, stuff_map: np.ndarray, void: np.ndarray,
            instances: list[SynthInstance], order: list[int]) -> np.ndarray:
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
            tex = _texture(rng, _THING_BY_ID[inst.category_id][6], h, w, int(rng.integers(8)))
        m = inst.mask
        colour = col[None, None, :] * (0.75 + 0.25 * (1 - tex))[..., None] * shade_y[..., None]
        img[m] = colour[m]
        # a dark outline makes the occlusion boundary visible
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        img[edge] *= 0.5
    img += rng.normal(0, 4, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- writing


def _image_records(cfg: SynthConfig, index: int) -> dict[str, Any]:
    """Generate one image and turn it into JSON records + encoded files (picklable)."""
    from PIL import Image

    from .io.panoptic import id2rgb

    img = generate_image(cfg, index)
    image_entry = {"id": img.image_id, "file_name": img.file_name, "height": img.height, "width": img.width}
    anns = []
    for inst in sorted(img.instances, key=lambda s: s.id):
        if inst.iscrowd:
            seg: Any = _uncompressed_rle(inst.mask)
        else:
            seg = [inst.polygon]
        anns.append({
            "id": inst.id, "image_id": img.image_id, "category_id": inst.category_id, "segmentation": seg,
            "area": int(inst.mask.sum()), "bbox": _bbox(inst.mask), "iscrowd": inst.iscrowd,
        })
    png_name = f"{img.image_id:012d}.png"
    pan = {"image_id": img.image_id, "file_name": png_name, "segments_info": [s.to_json() for s in img.segments]}
    props = []
    for j in range(len(img.proposals)):
        rle = img.proposals.rles[j]
        from pycocotools import mask as mask_utils

        props.append({
            "image_id": img.image_id, "category_id": int(img.proposals.category_ids[j]),
            "score": float(img.proposals.scores[j]), "segmentation": rle,
            "bbox": [float(v) for v in mask_utils.toBbox(dict(rle, counts=rle["counts"].encode("ascii")))],
            "relation": float(img.proposals.relations[j]),
        })
    buf = io.BytesIO()
    Image.fromarray(id2rgb(img.id_map), "RGB").save(buf, format="PNG", compress_level=1)
    pan_png = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(img.semantic, "L").save(buf, format="PNG", compress_level=1)
    sem_png = buf.getvalue()
    jpg = None
    if img.rgb is not None:
        buf = io.BytesIO()
        Image.fromarray(img.rgb, "RGB").save(buf, format="JPEG", quality=92)
        jpg = buf.getvalue()
    truth = {
        "image_id": img.image_id,
        "instances": [{"id": i.id, "category_id": i.category_id, "depth": round(i.depth, 6), "iscrowd": i.iscrowd}
                      for i in sorted(img.instances, key=lambda s: s.id)],
        "proposal_instance": img.proposal_instance.tolist(),
        "proposal_kind": img.proposal_kind,
    }
    return {"image": image_entry, "anns": anns, "pan": pan, "props": props, "png_name": png_name,
            "pan_png": pan_png, "sem_png": sem_png, "jpg": jpg, "truth": truth}


def _records_task(args: tuple[SynthConfig, int]) -> dict[str, Any]:
    return _image_records(*args)


def relation_ceiling(truth_images: list[dict], pairs: list[tuple[int, int, int]]) -> float:
    """Accuracy of a perfect per-category ranking on ``pairs`` (image_id, a, b): the best a
    category-only cue can do; same-category pairs count as a coin flip."""
    rank = {t[0]: t[3] for t in THINGS}
    depth = {(im["image_id"], i["id"]): (i["depth"], i["category_id"]) for im in truth_images for i in im["instances"]}
    if not pairs:
        return float("nan")
    score = 0.0
    for iid, a, b in pairs:
        (da, ca), (db, cb) = depth[(iid, a)], depth[(iid, b)]
        if ca == cb:
            score += 0.5
        else:
            score += 1.0 if (rank[ca] < rank[cb]) == (da < db) else 0.0
    return score / len(pairs)


def _overlap_pairs(cfg: SynthConfig, index: int, theta: float = 0.2) -> list[tuple[int, int, int]]:
    img = generate_image(SynthConfig(**{**cfg.to_dict(), "render_images": False}), index)
    inst = [i for i in img.instances if not i.iscrowd]
    out = []
    for a in range(len(inst)):
        for b in range(a + 1, len(inst)):
            o = int(np.count_nonzero(inst[a].mask & inst[b].mask))
            if o and (o / inst[a].mask.sum() > theta or o / inst[b].mask.sum() > theta):
                out.append((img.image_id, inst[a].id, inst[b].id))
    return out


def make_world(
    out: str | Path,
    cfg: SynthConfig | None = None,
    *,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> WorldPaths:
    """Write a synthetic world under ``out`` (atomically) and return its paths.

    >>> paths = make_world("world", SynthConfig(n_images=4, height=120, width=160))  # doctest: +SKIP
    """
    from .core.parallel import imap_ordered
    from .io._atomic import atomic_path
    from .io.jsonio import dumps

    cfg = cfg or SynthConfig()
    cats = [c.to_json() for c in categories()]
    thing_cats = [dict(c, supercategory="synthetic") for c in cats if c["isthing"]]
    images, anns, pans, props, truth = [], [], [], [], []
    with atomic_path(out, force, directory=True) as tmp:
        p = WorldPaths.under(tmp)
        for d in (p.images_dir, p.panoptic_dir, p.semantic):
            d.mkdir()
        tasks = [(cfg, i) for i in range(cfg.n_images)]
        for rec in imap_ordered(_records_task, tasks, workers):
            images.append(rec["image"])
            anns.extend(rec["anns"])
            pans.append(rec["pan"])
            props.extend(rec["props"])
            truth.append(rec["truth"])
            (p.panoptic_dir / rec["png_name"]).write_bytes(rec["pan_png"])
            (p.semantic / rec["png_name"]).write_bytes(rec["sem_png"])
            if rec["jpg"] is not None:
                (p.images_dir / rec["image"]["file_name"]).write_bytes(rec["jpg"])
            if progress is not None:
                progress(1)
        info = {"description": "rapkit synthetic world", "version": "1", "seed": cfg.seed}
        p.instances.write_bytes(dumps({"info": info, "images": images, "annotations": anns, "categories": thing_cats}))
        p.panoptic.write_bytes(dumps({"info": info, "images": images, "annotations": pans, "categories": cats}))
        p.categories.write_bytes(dumps(cats))
        p.proposals.write_bytes(dumps(props))
        # the ceiling of a category-only cue on overlapping pairs of the first images
        sample = [pr for i in range(min(cfg.n_images, 50)) for pr in _overlap_pairs(cfg, i)]
        ceiling = relation_ceiling(truth, sample)
        p.truth.write_bytes(dumps({
            "schema_version": 1,
            "config": cfg.to_dict(),
            "depth_rank": {str(t[0]): t[3] for t in THINGS},
            "category_ceiling": None if math.isnan(ceiling) else round(ceiling, 4),
            "images": truth,
        }))
    return WorldPaths.under(out)


def world_summary(paths: WorldPaths) -> dict[str, Any]:
    """Counts of a written world (for the CLI summary)."""
    from .io.jsonio import load_json

    inst = load_json(paths.instances)
    props = load_json(paths.proposals)
    truth = load_json(paths.truth)
    crowd = sum(1 for a in inst["annotations"] if a["iscrowd"])
    return {
        "images": len(inst["images"]),
        "instances": len(inst["annotations"]) - crowd,
        "crowd": crowd,
        "proposals": len(props),
        "category_ceiling": truth.get("category_ceiling"),
        "out": str(paths.root),
    }


def config_fields() -> list[str]:
    return [f.name for f in fields(SynthConfig)]
