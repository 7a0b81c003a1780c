"""``rapkit train --select best-pq``: keep the head whose held-out fusion PQ is best.

At every evaluation point the held-out images' proposals (``select_proposals``, a COCO
results JSON with masks: the detections ``rapkit fuse --proposals`` takes) get the current
head's relation values, are fused with Algorithm 1 at the paper's setting (rho 0.6, tau 0.6,
gamma 0.5; :func:`rapkit.core.fusion.fuse_image`, no stuff fill) and scored in memory
against the GT panoptic segmentation (``select_panoptic``) with
:func:`rapkit.core.pq.pq_stats`: nothing is written. The criterion is PQ^Th (the held-out
pair accuracy is reported beside it). The proposals' head inputs are computed once (the
detector is frozen), so a score costs one head pass and one fusion per held-out image.

>>> sel = PQSelector.build(cfg, det, label_map, val_images, device)   # doctest: +SKIP
>>> sel.score(head)                                                     # doctest: +SKIP
{'val_pq_th': 0.41, 'val_pq': 0.29}
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.fusion import fuse_image
from ..core.pq import pq_stats, summarize
from ..errors import ConfigError, InputError
from ..io.panoptic import load_panoptic, read_id_map
from ..io.proposals import load_proposals
from ..types import FusionParams, Proposals, merge_stats
from .data import RelImage
from .detector import LoadedDetector
from .features import roi_inputs, to_tensor
from .inputs import head_values, read_image
from .predict import _box_of, _load_raw_proposals

__all__ = ["PQSelector"]


@dataclass
class _Held:
    """One held-out image: its proposals, their head inputs, its GT id map and segments."""

    order: int
    proposals: Proposals
    inputs: torch.Tensor
    gt_map: np.ndarray
    gt_segments: list


@dataclass
class PQSelector:
    """The held-out images, ready to be fused and scored with any head (:meth:`score`)."""

    held: list[_Held]
    categories: dict[int, Any]
    params: FusionParams
    device: torch.device
    amp: bool = False

    @classmethod
    def build(
        cls,
        proposals_path: str,
        panoptic_path: str,
        det: LoadedDetector,
        label_map: dict[int, int],
        val_images: list[RelImage],
        device: torch.device,
        amp: bool = False,
    ) -> PQSelector:
        """Read the proposals and the GT of the held-out images and compute the proposals'
        head inputs once. InputError for a held-out image missing from the GT or a proposal
        of a category without a detector label."""
        if not val_images:
            raise ConfigError("--select best-pq needs held-out images (--val-fraction > 0)")
        gt = load_panoptic(panoptic_path)
        if not gt.categories:
            raise InputError("the GT panoptic JSON has no 'categories' list", file=panoptic_path)
        raw = _load_raw_proposals(proposals_path)
        props = load_proposals(proposals_path, gt.images, gt.categories)
        cat_to_label = {c: lab for lab, c in label_map.items()}
        held = []
        for k, img in enumerate(val_images):
            if img.image_id not in gt.annotations:
                raise InputError(
                    "held-out image not in the GT panoptic JSON", file=panoptic_path, image_id=img.image_id
                )
            p = props.get(img.image_id) or Proposals(
                img.image_id,
                img.height,
                img.width,
                np.zeros(0),
                np.zeros(0, np.int64),
                np.zeros(0),
                [],
                np.zeros(0, np.int64),
            )
            src = p.source_index.tolist() if p.source_index is not None else []
            labels = []
            for j in src:
                lab = cat_to_label.get(int(raw[j]["category_id"]))
                if lab is None:
                    raise InputError(
                        f"proposal #{j}: category {raw[j]['category_id']} has no label in the detector's label map",
                        file=proposals_path,
                        image_id=img.image_id,
                    )
                labels.append(lab)
            boxes = torch.tensor([_box_of(raw[j], j, proposals_path) for j in src], dtype=torch.float32).reshape(-1, 4)
            if src:
                with torch.no_grad(), torch.autocast(device.type, enabled=amp and device.type == "cuda"):
                    x = roi_inputs(
                        det.model,
                        [to_tensor(read_image(img), device)],
                        [boxes.to(device)],
                        [torch.tensor(labels, dtype=torch.int64, device=device)],
                    )
                x = x.to("cpu", torch.float16)
            else:
                x = torch.zeros(0, 257, 14, 14, dtype=torch.float16)
            ann = gt.annotations[img.image_id]
            held.append(_Held(k, p, x, read_id_map(gt.png_path(img.image_id), image_id=img.image_id), ann.segments))
        return cls(held, gt.categories, FusionParams(), device, amp)

    def score(self, head: torch.nn.Module) -> dict[str, float]:
        """``{val_pq_th, val_pq}`` (fractions; NaN where no class is present) of the held-out
        images fused with ``head``'s relation values."""
        was = head.training
        head.eval()
        parts = []
        try:
            with torch.no_grad():
                for h in self.held:
                    v = head_values(head, h.inputs, self.device, self.amp).double().numpy()
                    p = dataclasses.replace(h.proposals, relations=v)
                    ids, segs = fuse_image(p, None, self.params, self.categories)
                    parts.append(pq_stats(h.gt_map, h.gt_segments, segs, self.categories, pred_map=ids, order=h.order))
        finally:
            head.train(was)
        r = summarize(merge_stats(parts), self.categories)
        return {"val_pq_th": r.things.pq, "val_pq": r.all.pq}


def criterion(scores: dict[str, float]) -> float:
    """The selection criterion of ``best-pq``: PQ^Th (-1 where it is NaN)."""
    v = scores["val_pq_th"]
    return -1.0 if math.isnan(v) else float(v)
