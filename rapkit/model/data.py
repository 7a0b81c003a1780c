"""Training data of the relation head: images, GT boxes and known (front, back) pairs.

:func:`load_relation_dataset` reads a COCO instances JSON (:mod:`rapkit.io.coco`) and a
relations JSON, checks that every relation's annotation ids exist in the instances JSON
(same image) and that every image file exists, and maps dataset category ids to the
detector's contiguous labels (:func:`rapkit.model.detector.make_label_map`). Only
images with at least one known pair are kept, and per image only the instances that take
part in a pair (the others contribute nothing to the loss).

Training RoIs come from one of two schemes (``rapkit train --rois``):

* ``detector`` (the default; the authors' scheme): the frozen detector's own region
  proposals (RPN in eval mode, so deterministic), plus the GT boxes as torchvision's and
  Detectron's RoI samplers add them, each matched to the GT instance of highest IoU among
  *all* the image's annotations; a proposal is a positive of instance ``i`` when that IoU
  is >= ``min_iou`` (0.5) and ``i`` takes part in a known pair. The RPN is class-agnostic:
  the matched GT's category is the RoI's category (it picks the mask channel of the head
  input), so "same category" holds by construction. Up to ``k`` positives per image are
  kept, taken round-robin over the instances in a seeded order (every instance keeps a RoI
  when ``k`` >= the instances). Every pair of RoIs whose instances have a known relation is
  a pair of the loss (:func:`match_proposals`, :class:`RoiSet`).
* ``gt-jitter``: *draws*: draw 0 is the GT boxes, draw ``d > 0`` one jittered box per
  object with IoU >= ``min_iou`` to its GT box, drawn from a generator seeded with
  ``(seed, image_id, d)`` so every draw is reproducible (and cacheable).

>>> ds = load_relation_dataset("images/", "instances.json", "relations.json", num_classes=91)   # doctest: +SKIP
>>> ds.images[0].pairs        # local (front, back) indices                                     # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import InputError
from ..io.coco import annotation_rle, load_instances
from ..io.relations import read_relations
from .detector import make_label_map


@dataclass
class RelImage:
    """One training image: its RoI objects and known pairs (local indices)."""

    image_id: int
    path: Path
    height: int
    width: int
    ann_ids: np.ndarray  # int64 (n,)
    boxes: np.ndarray  # float32 (n, 4) x0, y0, x1, y1
    labels: np.ndarray  # int64 (n,) detector labels
    pairs: np.ndarray  # int64 (k, 2): (front, back) indices into the arrays above
    #: every annotation of the image (float32 (m, 4) xyxy) and, per annotation, its index
    #: into the arrays above or -1 (not in a known pair): what proposals are matched against
    all_boxes: np.ndarray | None = None
    all_local: np.ndarray | None = None
    #: the horizontally mirrored image (``--flip``): the reader mirrors the pixels, the boxes
    #: above are already mirrored; instances, labels and pairs are the image's own
    flipped: bool = False


def flip_image(img: RelImage) -> RelImage:
    """``img`` mirrored left-right (boxes ``x -> width - x``; pixels mirrored when read).
    Occlusion does not change under a mirror, so the pairs stay as they are.

    >>> img = RelImage(1, Path("x"), 10, 20, np.array([5]), np.array([[2, 1, 6, 9]], np.float32), np.array([1]),
    ...                np.zeros((0, 2), np.int64))
    >>> f = flip_image(img)
    >>> f.boxes.tolist(), f.flipped, flip_image(f).boxes.tolist() == img.boxes.tolist(), flip_image(f).flipped
    ([[14.0, 1.0, 18.0, 9.0]], True, True, False)
    """

    def mirror(b: np.ndarray | None) -> np.ndarray | None:
        if b is None:
            return None
        out = np.asarray(b, np.float32).copy()
        out[:, [0, 2]] = img.width - np.asarray(b, np.float32)[:, [2, 0]]
        return out

    return replace(img, boxes=mirror(img.boxes), all_boxes=mirror(img.all_boxes), flipped=not img.flipped)


@dataclass
class RoiSet:
    """The training RoIs of one image under ``--rois detector``: matched proposals and the
    pairs of the loss (indices into the RoIs)."""

    boxes: np.ndarray  # float32 (r, 4) xyxy, original pixels
    labels: np.ndarray  # int64 (r,) detector labels (the matched instance's)
    instance: np.ndarray  # int64 (r,) local instance index (into RelImage.boxes)
    iou: np.ndarray  # float32 (r,) IoU with that instance's GT box
    pairs: np.ndarray  # int64 (p, 2) (front RoI, back RoI)


@dataclass
class RelationDataset:
    images: list[RelImage]
    label_map: dict[int, int]  # detector label -> dataset category id
    n_pairs: int
    skipped_images: int = 0  # images of the relations JSON without a usable pair
    category_ids: list[int] = field(default_factory=list)  # the dataset's thing category ids
    notes: list[str] = field(default_factory=list)


def read_relation_pairs(path: str | os.PathLike) -> dict[int, list[tuple[int, int]]]:
    """``{image_id: [(front_ann_id, back_ann_id), ...]}`` from a relations JSON
    (:func:`rapkit.io.relations.read_relations`; images without relations map to ``[]``)."""
    rf = read_relations(path)
    return {int(iid): [(int(r.front), int(r.back)) for r in im.relations] for iid, im in rf.images.items()}


def _bbox_of(ann: dict, height: int, width: int) -> list[float]:
    bb = ann.get("bbox")
    if isinstance(bb, (list, tuple)) and len(bb) == 4 and all(isinstance(v, (int, float)) for v in bb):
        return [float(v) for v in bb]
    return [float(v) for v in mask_utils.toBbox(annotation_rle(ann["segmentation"], height, width))]


def load_relation_dataset(
    images_dir: str | os.PathLike,
    instances: str | os.PathLike,
    relations: str | os.PathLike,
    num_classes: int,
    label_mode: str = "auto",
    label_map: dict[int, int] | None = None,
    all_images: bool = False,
) -> RelationDataset:
    """Read and cross-check the training inputs (see the module docstring). With
    ``all_images`` the images of the relations JSON without a pair are kept too, with no RoI
    object and no pair (the authors drew batches from every training image; such an image
    adds nothing to the loss), else they are skipped.

    Errors (exit 3): a relation naming an annotation id that is not in the instances JSON
    (or belongs to another image), an image of the relations JSON that the instances JSON
    lacks, a missing image file, a category the detector has no label for.
    """
    inst = load_instances(instances)
    pairs_by_image = read_relation_pairs(relations)
    rel_path = Path(relations)
    thing_ids = sorted(c.id for c in inst.categories.values() if c.isthing)
    if label_map is None:
        label_map = make_label_map(num_classes, thing_ids or sorted(inst.categories), label_mode)
    cat_to_label = {c: lab for lab, c in label_map.items()}
    root = Path(images_dir)
    if not root.is_dir():
        raise InputError("image folder not found", file=root)
    out: list[RelImage] = []
    skipped = 0
    n_pairs = 0
    missing: list[tuple[int, str]] = []
    for iid in sorted(pairs_by_image):
        pairs = pairs_by_image[iid]
        if iid not in inst.images:
            raise InputError(
                f"image {iid} of the relations JSON is not in {Path(instances).name}", file=rel_path, image_id=iid
            )
        anns = {int(a["id"]): a for a in inst.by_image[iid]}
        for f, b in pairs:
            for aid in (f, b):
                if aid not in anns:
                    raise InputError(
                        f"annotation id {aid} is not an annotation of this image in {Path(instances).name}",
                        file=rel_path,
                        image_id=iid,
                    )
            if f == b:
                raise InputError(
                    f"relation with the same annotation {f} in front and back", file=rel_path, image_id=iid
                )
        if not pairs and not all_images:
            skipped += 1
            continue
        info = inst.images[iid]
        ids = sorted({a for p in pairs for a in p})
        index = {a: k for k, a in enumerate(ids)}
        boxes = np.zeros((len(ids), 4), np.float32)
        labels = np.zeros(len(ids), np.int64)
        for k, aid in enumerate(ids):
            ann = anns[aid]
            cid = int(ann["category_id"])
            if cid not in cat_to_label:
                raise InputError(
                    f"annotation {aid}: category {cid} has no detector label", file=Path(instances), image_id=iid
                )
            x, y, w, h = _bbox_of(ann, info.height, info.width)
            if not (w > 0 and h > 0):
                raise InputError(f"annotation {aid}: empty bounding box", file=Path(instances), image_id=iid)
            boxes[k] = (x, y, x + w, y + h)
            labels[k] = cat_to_label[cid]
        pr = np.array([(index[f], index[b]) for f, b in dict.fromkeys(pairs)], np.int64).reshape(-1, 2)
        path = root / info.file_name
        if not path.is_file():
            missing.append((iid, info.file_name))
            continue
        all_ids = sorted(anns)
        all_boxes = np.zeros((len(all_ids), 4), np.float32)
        for k, aid in enumerate(all_ids):
            x, y, w, h = _bbox_of(anns[aid], info.height, info.width)
            all_boxes[k] = (x, y, x + w, y + h)
        all_local = np.array([index.get(a, -1) for a in all_ids], np.int64)
        out.append(
            RelImage(
                iid, path, info.height, info.width, np.array(ids, np.int64), boxes, labels, pr, all_boxes, all_local
            )
        )
        n_pairs += len(pr)
    if missing:
        iid, name = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"image file {name} not found{more}", file=root, image_id=iid)
    if n_pairs == 0:
        raise InputError("no image with a known relation pair: nothing to train on", file=rel_path)
    cats = [c for c in (thing_ids or sorted(inst.categories)) if c in cat_to_label]
    return RelationDataset(out, dict(label_map), n_pairs, skipped, category_ids=cats)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of two (n, 4) xyxy box arrays.

    >>> float(box_iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]]))[0])
    0.3333333333333333
    """
    ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of every box of ``a`` with every box of ``b`` (xyxy).

    >>> box_iou_matrix(np.array([[0, 0, 2, 2.]]), np.array([[0, 0, 2, 2.], [1, 0, 3, 2.]])).round(3).tolist()
    [[1.0, 0.333]]
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def match_proposals(
    img: RelImage, proposals: np.ndarray, k: int, seed: int, min_iou: float = 0.5, add_gt: bool = True
) -> RoiSet:
    """The ``--rois detector`` training RoIs of ``img`` from its region ``proposals``
    ((n, 4) xyxy, original pixels; see the module docstring). A pure function of its
    arguments: the same proposals give the same RoIs and pairs.

    >>> img = RelImage(1, Path("x"), 100, 100, np.array([5, 6]), np.array([[0, 0, 40, 40], [30, 30, 90, 90]], np.float32),
    ...                np.array([1, 2]), np.array([[0, 1]]))
    >>> r = match_proposals(img, np.array([[2, 2, 40, 42], [60, 0, 99, 20], [31, 29, 88, 90]], np.float32), k=8, seed=0)
    >>> r.instance.tolist(), r.labels.tolist(), r.pairs.shape[0]
    ([0, 1, 0, 1], [1, 2, 1, 2], 4)
    """
    gt_all = img.all_boxes if img.all_boxes is not None else img.boxes
    local = img.all_local if img.all_local is not None else np.arange(len(img.boxes), dtype=np.int64)
    cand = np.asarray(proposals, np.float32).reshape(-1, 4)
    if add_gt:
        cand = np.concatenate([img.boxes.astype(np.float32), cand])
    iou = box_iou_matrix(cand, gt_all)
    if iou.shape[1] == 0 or iou.shape[0] == 0:
        best = np.zeros(len(cand), np.int64)
        best_iou = np.zeros(len(cand))
    else:
        best = iou.argmax(1)
        best_iou = iou[np.arange(len(cand)), best]
    inst = local[best] if len(local) else np.full(len(cand), -1, np.int64)
    pos = np.flatnonzero((best_iou >= min_iou) & (inst >= 0))
    # round-robin over instances, each instance's positives in a seeded random order
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(img.image_id) & 0xFFFFFFFF, 0x9015])
    order = rng.permutation(len(pos))
    pos = pos[order]
    rank = np.zeros(len(pos), np.int64)
    seen: dict[int, int] = {}
    for j, p in enumerate(pos):
        i = int(inst[p])
        rank[j] = seen.get(i, 0)
        seen[i] = rank[j] + 1
    pick = pos[np.lexsort((inst[pos], rank))][: int(k)]
    pick = np.sort(pick)  # candidate order (GT boxes first, then the RPN's ranking)
    r_inst = inst[pick].astype(np.int64)
    pairs = []
    for f, b in img.pairs:
        rf = np.flatnonzero(r_inst == f)
        rb = np.flatnonzero(r_inst == b)
        if len(rf) and len(rb):
            pairs.append(np.stack(np.meshgrid(rf, rb, indexing="ij"), -1).reshape(-1, 2))
    pr = np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)
    return RoiSet(
        cand[pick].astype(np.float32),
        img.labels[r_inst].astype(np.int64),
        r_inst,
        best_iou[pick].astype(np.float32),
        pr,
    )


def jitter_boxes(
    boxes: np.ndarray, rng: np.random.Generator, height: int, width: int, min_iou: float = 0.5, tries: int = 20
) -> np.ndarray:
    """One jittered box per GT box, each with IoU >= ``min_iou`` to its GT box (clipped to
    the image; a box that finds no valid jitter in ``tries`` draws stays the GT box).

    >>> b = np.array([[10, 10, 50, 70]], np.float32)
    >>> j = jitter_boxes(b, np.random.default_rng(0), 100, 100)
    >>> bool(box_iou(b, j)[0] >= 0.5)
    True
    """
    boxes = np.asarray(boxes, np.float64)
    n = len(boxes)
    out = boxes.copy()
    todo = np.arange(n)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    cx = boxes[:, 0] + w / 2
    cy = boxes[:, 1] + h / 2
    for _ in range(tries):
        if todo.size == 0:
            break
        r = rng.uniform(-1.0, 1.0, size=(todo.size, 4))
        ncx = cx[todo] + 0.2 * w[todo] * r[:, 0]
        ncy = cy[todo] + 0.2 * h[todo] * r[:, 1]
        nw = w[todo] * np.exp(0.25 * r[:, 2])
        nh = h[todo] * np.exp(0.25 * r[:, 3])
        cand = np.stack([ncx - nw / 2, ncy - nh / 2, ncx + nw / 2, ncy + nh / 2], 1)
        cand[:, [0, 2]] = np.clip(cand[:, [0, 2]], 0, width)
        cand[:, [1, 3]] = np.clip(cand[:, [1, 3]], 0, height)
        ok = (cand[:, 2] - cand[:, 0] > 1) & (cand[:, 3] - cand[:, 1] > 1) & (box_iou(cand, boxes[todo]) >= min_iou)
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return out.astype(np.float32)


def draw_boxes(img: RelImage, draw: int, seed: int, min_iou: float = 0.5) -> np.ndarray:
    """The RoIs of draw ``draw`` of ``img`` (0 = GT boxes).

    >>> draw_boxes(ds.images[0], 1, seed=0).shape   # doctest: +SKIP
    (6, 4)
    """
    if draw == 0:
        return img.boxes
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(img.image_id) & 0xFFFFFFFF, int(draw)])
    return jitter_boxes(img.boxes, rng, img.height, img.width, min_iou)


__all__ = [
    "RelImage",
    "RelationDataset",
    "RoiSet",
    "box_iou_matrix",
    "flip_image",
    "match_proposals",
    "read_relation_pairs",
    "load_relation_dataset",
    "box_iou",
    "jitter_boxes",
    "draw_boxes",
]
