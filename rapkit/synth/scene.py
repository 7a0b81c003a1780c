"""One image of the synthetic world, in memory: categories, the config, and
:func:`generate_image`.

Each image has a few stuff bands (sky/wall above, floor/grass/road below), a handful of
thing instances drawn from eight COCO categories, sometimes a crowd region, and a little
VOID. Every thing has a depth: ``category rank + N(0, depth_noise**2)`` (cups sit in front
of tables, as in real scenes), so the order is learnable from appearance. Instance
annotations are the full (amodal) polygons; the panoptic map paints them far to near, so
the panoptic GT shows only the visible part, exactly as the RAP paper's relation
extraction expects.

The image also carries what a detector would dump: proposals in COCO results format
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

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..types import Category, Proposals, Segment
from .shapes import (
    clip_flat,
    ellipse_mask,
    encode_rle,
    jitter_polygon,
    mask_bbox,
    raster_polygon,
    render,
    shape_polygon,
)

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


def categories() -> list[Category]:
    """The world's categories (things then stuff) with real COCO panoptic ids."""
    out = [Category(t[0], t[1], True, t[2]) for t in THINGS]
    out += [Category(s[0], s[1], False, s[2]) for s in STUFF]
    return out


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the synthetic world. Defaults: COCO-like (640x480, about 7 things).

    >>> SynthConfig(n_images=4, height=120, width=160).depth_noise
    0.6
    """

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
        for name in (
            "depth_noise",
            "relation_noise",
            "score_noise",
            "mask_noise",
            "semantic_noise",
            "void_blobs",
            "false_per_image",
        ):
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
        pts = shape_polygon(rng, family, cx, cy, size)
        flat = clip_flat(pts, h, w)
        mask = raster_polygon(flat, h, w)
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
            m |= ellipse_mask(
                h,
                w,
                cx + rng.normal(0, 0.06 * w),
                cy + rng.normal(0, 0.04 * h),
                rng.uniform(0.02, 0.05) * w,
                rng.uniform(0.05, 0.1) * h,
            )
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
        void |= ellipse_mask(
            h, w, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.02, 0.08) * w, rng.uniform(0.02, 0.08) * h
        )
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
            segments.append(
                Segment(inst.id, inst.category_id, int(a), tuple(mask_bbox(id_map == inst.id)), inst.iscrowd)
            )
    for sid in stuff_ids:
        seg = stuff_seg_id[sid]
        a = area_of.get(seg, 0)
        if a > 0:
            segments.append(Segment(seg, sid, int(a), tuple(mask_bbox(id_map == seg)), 0))

    # ---- predicted semantic map: thing ids on thing pixels, stuff elsewhere, with noise
    sem_stuff = _paint_stuff(
        stuff_params, stuff_ids, h, w, float(rng.integers(-cfg.semantic_shift, cfg.semantic_shift + 1))
    )
    semantic = sem_stuff.copy()
    if cfg.semantic_noise > 0:
        target = cfg.semantic_noise * h * w
        got = 0
        tries = 0
        while got < target and tries < 20:
            tries += 1
            rx, ry = rng.uniform(0.02, 0.06) * w, rng.uniform(0.02, 0.06) * h
            blob = ellipse_mask(h, w, rng.uniform(0, w), rng.uniform(0, h), rx, ry)
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
        m = raster_polygon(clip_flat(jitter_polygon(rng, pts, size, cfg.mask_noise), h, w), h, w)
        area = float(inst.mask.sum())
        add(m, score_for(area), inst.category_id, inst.depth + rng.normal(0, cfg.relation_noise), inst.id, "true")
        if rng.random() < cfg.p_dup_same:
            m2 = raster_polygon(
                clip_flat(jitter_polygon(rng, pts, size, cfg.mask_noise, 0.08, rng.uniform(0.85, 1.1)), h, w), h, w
            )
            add(
                m2,
                score_for(area, rng.uniform(0.6, 0.95)),
                inst.category_id,
                inst.depth + rng.normal(0, cfg.relation_noise),
                inst.id,
                "dup_same",
            )
        if rng.random() < cfg.p_dup_other:
            others = [t[0] for t in THINGS if t[0] != inst.category_id]
            m3 = raster_polygon(clip_flat(jitter_polygon(rng, pts, size, cfg.mask_noise, 0.04), h, w), h, w)
            add(
                m3,
                score_for(area, rng.uniform(0.5, 0.9)),
                int(others[int(rng.integers(len(others)))]),
                inst.depth + rng.normal(0, cfg.relation_noise),
                inst.id,
                "dup_other",
            )
    for _ in range(int(rng.poisson(cfg.false_per_image))):
        t = THINGS[int(rng.integers(len(THINGS)))]
        size = rng.uniform(t[5][0], t[5][1]) * dim
        pts = shape_polygon(rng, t[4], rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h, size)
        m = raster_polygon(clip_flat(pts, h, w), h, w)
        add(m, float(rng.uniform(0.3, 0.75)), t[0], float(rng.uniform(0, 8)), -1, "false")

    n = len(p_masks)
    proposals = Proposals(
        image_id=image_id,
        height=h,
        width=w,
        scores=np.asarray(p_scores, np.float64).reshape(n),
        category_ids=np.asarray(p_cats, np.int64).reshape(n),
        relations=np.asarray(p_rel, np.float64).reshape(n),
        rles=[encode_rle(m) for m in p_masks],
        source_index=None,
    )

    rgb = render(rng, stuff_map, void, instances, order, {t[0]: t[6] for t in THINGS}) if cfg.render_images else None
    return SynthImage(
        image_id,
        f"{image_id:012d}.jpg",
        h,
        w,
        instances,
        id_map,
        segments,
        semantic,
        proposals,
        np.asarray(p_inst, np.int64).reshape(n),
        p_kind,
        rgb,
    )


__all__ = ["STUFF", "THINGS", "SynthConfig", "SynthImage", "SynthInstance", "categories", "generate_image"]
