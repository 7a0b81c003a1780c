"""Relation values for detections: ``rapkit predict``.

Two modes:

* **detect** (default): run the frozen Mask R-CNN and the trained head over a folder of
  images and write COCO results (``image_id, category_id, score, bbox, segmentation``
  as compressed RLE with ``counts`` as text, ``relation``), ready for ``rapkit fuse``.
  Detector labels are mapped back to the dataset's category ids with the head file's label
  map; detections of labels outside the training dataset's categories are dropped.
* **proposals** (``proposals=in.json``): detections from another framework (boxes and/or
  RLE masks given) get a ``relation`` value; every input entry is kept, in order, with all
  its fields, and only ``relation`` is added (replaced when present).

With an OCFusion pair head (a head file of ``head_type`` ``ocfusion``) each entry gets
``occludes`` instead of ``relation``: ``[[k, logit], ...]`` for every other proposal ``k``
of its image (0-based, among that image's entries in file order) whose mask overlaps its
own by ``pair_overlap`` (:mod:`rapkit.model.occludes`; an entry without such a pair has no
``occludes``), the contract ``rapkit fuse --strategy ocfusion`` reads (docs/fusion.md). In
proposals mode every entry then needs an RLE ``segmentation``.

Image ids come from ``image_info`` (any COCO JSON with an ``images`` list, matched by
``file_name``), or else from the file names (``000000000139.jpg`` -> 139).

>>> summary = predict(PredictConfig(checkpoint="model.pth", head="head.pt",
...                   images="images/", output="proposals.json"))          # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils

from ..errors import ConfigError, InputError
from ..io._atomic import check_writable
from ..io.images import list_images, read_rgb
from ..io.jsonio import load_json, save_json
from ..io.panoptic import load_images
from ..types import ImageInfo
from .detector import load_detector
from .device import resolve_device
from .features import apply_buffers, detect, roi_inputs, to_tensor
from .head import load_head_file
from .inputs import collate_list, head_values
from .occludes import PAIR_BATCH, occludes_lists, overlap_matrix, replay_pairs
from .ocfusion import pair_logits


@dataclass
class PredictConfig:
    """Options of :func:`predict` (the CLI's options, one to one)."""

    checkpoint: str
    head: str
    images: str
    output: str
    arch: str | None = None
    proposals: str | None = None
    image_info: str | None = None
    score_threshold: float = 0.05
    mask_threshold: float = 0.5
    max_detections: int = 100
    rpn_top_n: int | None = None
    batch_size: int = 2
    device: str = "auto"
    amp: bool | None = None
    workers: int = 0
    force: bool = False
    pair_overlap: float = 0.2  # OCFusion head: |Mi∩Mj|/|Mi| or /|Mj| at least this -> the pair is scored


@dataclass
class PredictSummary:
    output: str
    mode: str
    images: int
    detections: int
    dropped_unknown_category: int
    device: str
    #: seconds summed over images: ``detector`` (the frozen Mask R-CNN's forward, the head
    #: inputs included), ``head`` (the relation head) or, with an OCFusion head, ``pair_head``
    #: (every overlapping pair, batched: the written logits) and ``pair_head_replay`` (one
    #: forward per overlap met in a replay of score order: timing only), ``other`` (image
    #: reading, masks to RLE, overlaps, ...) and ``total`` (the whole call, loading the models
    #: and writing the JSON included)
    seconds: dict[str, float] = field(default_factory=dict)
    head_type: str = "rap"
    pairs: int = 0  # ordered pairs written (OCFusion head)
    replay_calls: int = 0  # forwards of the replay strategy (OCFusion head)

    def ms_per_image(self) -> dict[str, float]:
        """Milliseconds per image of each timed part (paper Table 5's detector and head rows)."""
        n = max(self.images, 1)
        return {k: 1000.0 * v / n for k, v in self.seconds.items()}

    def to_dict(self) -> dict[str, Any]:
        """The run's summary as plain data, with the milliseconds per image of each part."""
        per_image = self.detections / self.images if self.images else 0.0
        return {
            "output": self.output,
            "mode": self.mode,
            "images": self.images,
            "detections": self.detections,
            "detections_per_image": round(per_image, 3),
            "dropped_unknown_category": self.dropped_unknown_category,
            "device": self.device,
            "head_type": self.head_type,
            "pairs": self.pairs,
            "replay_calls": self.replay_calls,
            "ms_per_image": {k: round(v, 3) for k, v in self.ms_per_image().items()},
        }


class _Clock:
    """Adds up the time of named parts (synchronising CUDA so a part's kernels count in it)."""

    def __init__(self, device: torch.device, parts: tuple[str, ...] = ("detector", "head")) -> None:
        self.cuda = device.type == "cuda"
        self.seconds = {p: 0.0 for p in parts}

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def add(self, part: str, since: float) -> float:
        t = self.now()
        self.seconds[part] += t - since
        return t


def _image_list(cfg: PredictConfig, wanted: set[int] | None) -> list[ImageInfo]:
    root = Path(cfg.images)
    if cfg.image_info:
        infos = list(load_images(cfg.image_info).values())
        if wanted is not None:
            infos = [i for i in infos if i.id in wanted]
        missing = [i for i in infos if not (root / i.file_name).is_file()]
        if not root.is_dir():
            raise InputError("image folder not found", file=root)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise InputError(f"image file {missing[0].file_name} not found{more}", file=root, image_id=missing[0].id)
        return infos
    out = []
    for p in list_images(root):
        if not p.stem.isdigit():
            raise InputError(
                f"cannot derive an image id from the file name {p.name!r}; pass --image-info (a COCO JSON with 'images')",
                file=p,
            )
        out.append(ImageInfo(int(p.stem), p.name, 0, 0))
    ids = [i.id for i in out]
    if len(set(ids)) != len(ids):
        raise InputError("two image files map to the same image id; pass --image-info", file=root)
    if wanted is not None:
        have = set(ids)
        lack = sorted(wanted - have)
        if lack:
            raise InputError(
                f"no image file for image {lack[0]} of the proposals (looked for <id>.jpg/png in the folder)",
                file=root,
                image_id=lack[0],
            )
        out = [i for i in out if i.id in wanted]
    return out


class _Reader(torch.utils.data.Dataset):
    def __init__(self, root: Path, infos: list[ImageInfo]) -> None:
        self.root, self.infos = root, infos

    def __len__(self) -> int:
        return len(self.infos)

    def __getitem__(self, k: int) -> tuple[int, np.ndarray]:
        info = self.infos[k]
        rgb = read_rgb(self.root / info.file_name, info.id)
        if info.height and (rgb.shape[0], rgb.shape[1]) != (info.height, info.width):
            raise InputError(
                f"image is {rgb.shape[1]}x{rgb.shape[0]} but the image list says {info.width}x{info.height}",
                file=self.root / info.file_name,
                image_id=info.id,
            )
        return k, rgb


def _batches(root: Path, infos: list[ImageInfo], batch: int, workers: int):
    yield from torch.utils.data.DataLoader(
        _Reader(root, infos), batch_size=batch, shuffle=False, num_workers=workers, collate_fn=collate_list
    )


def _rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode("ascii")}


def _load_raw_proposals(path: str) -> list[dict]:
    data = load_json(path, "proposals")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise InputError("not a COCO results JSON (expected a list of detections)", file=path)
    for k, d in enumerate(data):
        if not isinstance(d, dict):
            raise InputError(f"proposal #{k} is not an object", file=path)
        for key in ("image_id", "category_id"):
            if not isinstance(d.get(key), int) or isinstance(d.get(key), bool):
                raise InputError(f"proposal #{k}: needs an integer '{key}'", file=path)
        if "bbox" not in d and "segmentation" not in d:
            raise InputError(f"proposal #{k}: needs a 'bbox' or a 'segmentation'", file=path, image_id=d["image_id"])
    return data


def _box_of(d: dict, k: int, path: str) -> list[float]:
    bb = d.get("bbox")
    if bb is not None:
        if not (
            isinstance(bb, list) and len(bb) == 4 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bb)
        ):
            raise InputError(f"proposal #{k}: 'bbox' must be [x, y, width, height]", file=path, image_id=d["image_id"])
        x, y, w, h = (float(v) for v in bb)
        return [x, y, x + w, y + h]
    try:
        x, y, w, h = (float(v) for v in mask_utils.toBbox(_rle_of(d["segmentation"])))
    except Exception:  # noqa: BLE001
        raise InputError(
            f"proposal #{k}: 'segmentation' is not an RLE mask", file=path, image_id=d["image_id"]
        ) from None
    return [x, y, x + w, y + h]


def _rle_of(seg: Any) -> dict:
    rle = dict(seg)
    if isinstance(rle.get("counts"), list):
        rle = mask_utils.frPyObjects(rle, *rle["size"])
    elif isinstance(rle.get("counts"), str):
        rle["counts"] = rle["counts"].encode("ascii")
    return rle


def _mask_of(d: dict, k: int, path: str, shape: tuple[int, int]) -> np.ndarray:
    """The binary mask of proposal #k (an OCFusion head needs masks to find overlapping pairs)."""
    if d.get("segmentation") is None:
        raise InputError(
            f"proposal #{k}: an OCFusion pair head needs a 'segmentation' (RLE mask) to find the overlapping pairs",
            file=path,
            image_id=d["image_id"],
        )
    try:
        m = mask_utils.decode(_rle_of(d["segmentation"]))
    except Exception:  # noqa: BLE001
        raise InputError(
            f"proposal #{k}: 'segmentation' is not an RLE mask", file=path, image_id=d["image_id"]
        ) from None
    if m.shape[:2] != shape:
        raise InputError(
            f"proposal #{k}: mask is {m.shape[1]}x{m.shape[0]} but the image is {shape[1]}x{shape[0]}",
            file=path,
            image_id=d["image_id"],
        )
    return m.astype(bool)


def _score(d: dict) -> float:
    """A proposal's score for the replay order (0 when it has none)."""
    v = d.get("score")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else 0.0


def _image_pairs(
    head: torch.nn.Module,
    x: torch.Tensor,
    masks: torch.Tensor,
    scores: np.ndarray,
    theta: float,
    device: torch.device,
    amp: bool,
    clock: _Clock,
) -> tuple[list[list], int, int]:
    """One image's ``occludes`` lists (batched strategy: written), the number of ordered pairs
    and of the replay strategy's forwards (timed, not written; :mod:`rapkit.model.occludes`)."""
    ov = overlap_matrix(masks, theta)
    idx = ov.nonzero()
    first, second = idx[:, 0].contiguous(), idx[:, 1].contiguous()
    t = clock.now()
    logits = pair_logits(head, x, first, second, device, amp, chunk=PAIR_BATCH)
    clock.add("pair_head", t)
    met = replay_pairs(scores, ov)
    t = clock.now()
    for a, b in met:
        pair_logits(head, x, torch.tensor([a]), torch.tensor([b]), device, amp)
    clock.add("pair_head_replay", t)
    return occludes_lists(int(masks.shape[0]), first, second, logits), int(first.numel()), len(met)


def predict(cfg: PredictConfig, progress: Callable[[int], None] | None = None) -> PredictSummary:
    """Run detector + head (see the module docstring); writes ``cfg.output`` atomically."""
    t_start = time.perf_counter()
    if not 0.0 <= cfg.score_threshold <= 1.0:
        raise ConfigError(f"--score-threshold must be in [0, 1], got {cfg.score_threshold}")
    if not 0.0 < cfg.mask_threshold < 1.0:
        raise ConfigError(f"--mask-threshold must be in (0, 1), got {cfg.mask_threshold}")
    if cfg.batch_size < 1 or cfg.max_detections < 1:
        raise ConfigError("--batch-size and --max-detections must be >= 1")
    if not 0.0 < cfg.pair_overlap <= 1.0:
        raise ConfigError(f"--pair-overlap must be in (0, 1], got {cfg.pair_overlap}")
    check_writable(cfg.output, cfg.force)
    device = resolve_device(cfg.device)
    amp = bool(cfg.amp if cfg.amp is not None else device.type == "cuda") and device.type == "cuda"
    head, meta = load_head_file(cfg.head)
    pair_head = meta["head_type"] == "ocfusion"
    arch = cfg.arch or meta["arch"]
    if arch != meta["arch"]:
        raise ConfigError(f"--arch {arch} differs from the head's detector architecture {meta['arch']} ({cfg.head})")
    det = load_detector(cfg.checkpoint, arch, min_size=meta["min_size"], max_size=meta["max_size"])
    if det.num_classes != meta["num_classes"]:
        raise InputError(
            f"detector has {det.num_classes} classes but the head was trained with {meta['num_classes']}",
            file=cfg.checkpoint,
        )
    apply_buffers(det.model, meta.get("detector_buffers") or {})
    det.model.to(device)
    head.to(device)
    label_map: dict[int, int] = meta["label_map"]
    clock = _Clock(device, ("detector", "pair_head", "pair_head_replay") if pair_head else ("detector", "head"))
    n_pairs = n_calls = 0

    def timed(summary: PredictSummary) -> PredictSummary:
        total = time.perf_counter() - t_start
        summary.seconds = {**clock.seconds, "other": max(total - sum(clock.seconds.values()), 0.0), "total": total}
        summary.head_type, summary.pairs, summary.replay_calls = meta["head_type"], n_pairs, n_calls
        return summary

    known = set(int(c) for c in meta.get("category_ids", label_map.values()))
    root = Path(cfg.images)

    if cfg.proposals:
        props = _load_raw_proposals(cfg.proposals)
        cat_to_label = {c: lab for lab, c in label_map.items()}
        by_image: dict[int, list[int]] = {}
        for k, d in enumerate(props):
            if d["category_id"] not in cat_to_label:
                raise InputError(
                    f"proposal #{k}: category {d['category_id']} has no label in the head's label map",
                    file=cfg.proposals,
                    image_id=d["image_id"],
                )
            by_image.setdefault(d["image_id"], []).append(k)
        infos = _image_list(cfg, set(by_image))
        known_ids = {i.id for i in infos}
        lack = sorted(set(by_image) - known_ids)
        if lack:
            raise InputError("image of the proposals is not in --image-info", file=cfg.proposals, image_id=lack[0])
        values: dict[int, Any] = {}
        for chunk in _batches(root, infos, cfg.batch_size, cfg.workers):
            tens, boxes, labels, idxs, shapes = [], [], [], [], []
            for k, rgb in chunk:
                shapes.append((rgb.shape[0], rgb.shape[1]))
                iid = infos[k].id
                ks = by_image[iid]
                tens.append(to_tensor(rgb, device))
                boxes.append(
                    torch.tensor([_box_of(props[j], j, cfg.proposals) for j in ks], dtype=torch.float32).reshape(-1, 4)
                )
                labels.append(torch.tensor([cat_to_label[props[j]["category_id"]] for j in ks], dtype=torch.int64))
                idxs.extend(ks)
            t = clock.now()
            with torch.autocast(device.type, enabled=amp):
                x = roi_inputs(det.model, tens, boxes, labels)
            t = clock.add("detector", t)
            if pair_head:
                start = 0
                for (k, _), shape in zip(chunk, shapes):
                    ks = by_image[infos[k].id]
                    masks = torch.from_numpy(np.stack([_mask_of(props[j], j, cfg.proposals, shape) for j in ks]))
                    scores = np.array([_score(props[j]) for j in ks])
                    occ, n_p, n_c = _image_pairs(
                        head, x[start : start + len(ks)], masks.to(device), scores, cfg.pair_overlap, device, amp, clock
                    )
                    n_pairs, n_calls, start = n_pairs + n_p, n_calls + n_c, start + len(ks)
                    values.update(zip(ks, occ))
            else:
                v = head_values(head, x, device, amp)
                clock.add("head", t)
                for j, val in zip(idxs, v.tolist()):
                    values[j] = float(val)
            if progress is not None:
                progress(len(chunk))
        field_name = "occludes" if pair_head else "relation"
        out = []
        for k, d in enumerate(props):
            e = dict(d)
            e.pop(field_name, None)
            if not pair_head or values[k]:
                e[field_name] = values[k]
            out.append(e)
        save_json(cfg.output, out, cfg.force)
        return timed(PredictSummary(str(cfg.output), "proposals", len(infos), len(out), 0, str(device)))

    infos = _image_list(cfg, None)
    rh = det.model.roi_heads
    rh.score_thresh = float(cfg.score_threshold)
    rh.detections_per_img = int(cfg.max_detections)
    if cfg.rpn_top_n is not None:
        if cfg.rpn_top_n < 1:
            raise ConfigError(f"--rpn-top-n must be >= 1, got {cfg.rpn_top_n}")
        det.model.rpn._pre_nms_top_n["testing"] = int(cfg.rpn_top_n)
        det.model.rpn._post_nms_top_n["testing"] = int(cfg.rpn_top_n)
    out = []
    dropped = 0
    for chunk in _batches(root, infos, cfg.batch_size, cfg.workers):
        tens = [to_tensor(rgb, device) for _, rgb in chunk]
        t = clock.now()
        with torch.autocast(device.type, enabled=amp):
            dets = detect(det.model, tens)
        clock.add("detector", t)
        for (k, _), d in zip(chunk, dets):
            iid = infos[k].id
            on_device = d["masks"][:, 0] > cfg.mask_threshold
            masks = on_device.cpu().numpy()
            cids = [label_map.get(int(lab)) for lab in d["labels"]]
            keep = [j for j, c in enumerate(cids) if c is not None and c in known]
            dropped += len(cids) - len(keep)
            if pair_head:  # pairs among the written entries of the image: k indexes them
                kt = torch.tensor(keep, dtype=torch.int64)
                scores = d["scores"].float().cpu().numpy()[keep]
                occ, n_p, n_c = _image_pairs(
                    head,
                    d["head_input"][kt.to(d["head_input"].device)],
                    on_device[kt.to(on_device.device)],
                    scores,
                    cfg.pair_overlap,
                    device,
                    amp,
                    clock,
                )
                n_pairs, n_calls = n_pairs + n_p, n_calls + n_c
            else:
                t = clock.now()
                v = head_values(head, d["head_input"], device, amp).tolist()
                clock.add("head", t)
            for i, j in enumerate(keep):
                x0, y0, x1, y1 = (float(t) for t in d["boxes"][j].float().cpu())
                e: dict[str, Any] = {
                    "image_id": int(iid),
                    "category_id": int(cids[j]),
                    "score": float(d["scores"][j].float()),
                    "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                    "segmentation": _rle(masks[j]),
                }
                if pair_head:
                    if occ[i]:
                        e["occludes"] = occ[i]
                else:
                    e["relation"] = float(v[j])
                out.append(e)
        if progress is not None:
            progress(len(chunk))
    save_json(cfg.output, out, cfg.force)
    return timed(PredictSummary(str(cfg.output), "detect", len(infos), len(out), dropped, str(device)))


__all__ = ["PredictConfig", "PredictSummary", "predict"]
