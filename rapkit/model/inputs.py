"""Head inputs of the training images: the frozen detector's per-RoI outputs (257x14x14:
the mask branch's RoIAlign features and the class's mask probability), computed with one
backbone pass per image. The detector never changes, so the training computes them once
and caches them on the CPU (:mod:`rapkit.model.train`); :func:`head_values` runs a head on
cached inputs.

>>> cache = compute_inputs(det, ds.images, [0, 1], seed=0, min_iou=0.5, device=torch.device("cpu"))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from ..errors import InputError
from ..io.images import read_rgb
from .data import RelImage, RoiSet, draw_boxes, match_proposals
from .detector import LoadedDetector
from .features import roi_inputs, rpn_proposals, to_tensor

#: the box draw of ``--rois gt-jitter``: ``(image, draw, seed, min_iou) -> (n, 4) boxes``
BoxDraw = Callable[[RelImage, int, int, float], np.ndarray]


class _ImageReader(torch.utils.data.Dataset):
    def __init__(self, images: list[RelImage]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, k: int) -> tuple[int, np.ndarray]:
        img = self.images[k]
        rgb = read_rgb(img.path, img.image_id)
        if rgb.shape[:2] != (img.height, img.width):
            raise InputError(
                f"image is {rgb.shape[1]}x{rgb.shape[0]} but the instances JSON says {img.width}x{img.height}",
                file=img.path,
                image_id=img.image_id,
            )
        if img.flipped:  # --flip: the mirrored copy (its boxes are mirrored in the RelImage)
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        return k, rgb


def collate_list(batch: list) -> list:
    """DataLoader collate function keeping the items as a list (picklable for worker processes)."""
    return batch


def iter_images(images: list[RelImage], batch: int, workers: int) -> Iterator[list[tuple[int, np.ndarray]]]:
    """``[(index, rgb), ...]`` chunks of ``batch`` images, read (and size-checked) by ``workers`` processes."""
    loader = torch.utils.data.DataLoader(
        _ImageReader(images), batch_size=batch, shuffle=False, num_workers=workers, collate_fn=collate_list
    )
    yield from loader


def image_batches(
    images: list[RelImage], batch: int, workers: int, device: torch.device
) -> Iterator[list[torch.Tensor]]:
    """The images as detector input tensors on ``device``, ``batch`` at a time."""
    for chunk in iter_images(images, batch, workers):
        yield [to_tensor(rgb, device) for _, rgb in chunk]


def read_image(img: RelImage) -> np.ndarray:
    """One image's RGB array (size-checked against the instances JSON)."""
    return _ImageReader([img])[0][1]


def compute_inputs(
    det: LoadedDetector,
    images: list[RelImage],
    draws: list[int],
    seed: int,
    min_iou: float,
    device: torch.device,
    *,
    detector_batch: int = 4,
    workers: int = 0,
    amp: bool = False,
    store_dtype: torch.dtype = torch.float16,
    on_image: Callable[[int], None] | None = None,
    draw: BoxDraw = draw_boxes,
) -> list[list[torch.Tensor]]:
    """Head inputs of every image for each draw: ``out[i][j]`` is (n_i, 257, 14, 14) for
    ``draws[j]`` (boxes from ``draw``), stored on the CPU as ``store_dtype``. The backbone
    runs once per image.

    >>> cache = compute_inputs(det, ds.images, [0, 1], seed=0, min_iou=0.5, device=torch.device("cpu"))   # doctest: +SKIP
    >>> cache[0][1].shape                                                                            # doctest: +SKIP
    torch.Size([6, 257, 14, 14])
    """
    out: list[list[torch.Tensor]] = [[] for _ in images]
    for chunk in iter_images(images, detector_batch, workers):
        tens, boxes, labels = [], [], []
        for k, rgb in chunk:
            img = images[k]
            tens.append(to_tensor(rgb, device))
            bx = np.concatenate([draw(img, d, seed, min_iou) for d in draws])
            boxes.append(torch.from_numpy(bx))
            labels.append(torch.from_numpy(np.tile(img.labels, len(draws))))
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            x = roi_inputs(det.model, tens, boxes, labels)
        x = x.to("cpu", store_dtype)
        start = 0
        for k, _ in chunk:
            n = len(images[k].labels)
            out[k] = list(x[start : start + n * len(draws)].split(n)) if n else [x[:0] for _ in draws]
            start += n * len(draws)
            if on_image is not None:
                on_image(1)
    return out


def compute_proposal_inputs(
    det: LoadedDetector,
    images: list[RelImage],
    k: int,
    seed: int,
    min_iou: float,
    device: torch.device,
    *,
    with_inputs: bool = True,
    detector_batch: int = 4,
    workers: int = 0,
    amp: bool = False,
    store_dtype: torch.dtype = torch.float16,
    on_image: Callable[[int], None] | None = None,
) -> tuple[list[RoiSet], list[torch.Tensor] | None]:
    """``--rois detector``: the frozen detector's region proposals of every image matched to
    its instances (:func:`rapkit.model.data.match_proposals`, up to ``k`` per image) and,
    with ``with_inputs``, their head inputs (r_i, 257, 14, 14) from the same backbone pass,
    stored on the CPU as ``store_dtype``.

    >>> rois, inputs = compute_proposal_inputs(det, ds.images, 128, 0, 0.5, torch.device("cpu"))   # doctest: +SKIP
    >>> rois[0].pairs.shape, inputs[0].shape                                                      # doctest: +SKIP
    ((412, 2), torch.Size([64, 257, 14, 14]))
    """
    rois: list[RoiSet | None] = [None] * len(images)
    out: list[torch.Tensor] | None = [torch.zeros(0)] * len(images) if with_inputs else None
    for chunk in iter_images(images, detector_batch, workers):
        idx = [k_ for k_, _ in chunk]
        tens = [to_tensor(rgb, device) for _, rgb in chunk]

        def choose(j: int, props: np.ndarray, idx: list[int] = idx) -> tuple[np.ndarray, np.ndarray]:
            r = match_proposals(images[idx[j]], props, k, seed, min_iou)
            rois[idx[j]] = r
            return r.boxes, r.labels

        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            if with_inputs:
                _, x = rpn_proposals(det.model, tens, choose)
            else:
                props, _ = rpn_proposals(det.model, tens)
                for j, p in enumerate(props):
                    choose(j, p)
                x = None
        if x is not None and out is not None:
            x = x.to("cpu", store_dtype)
            start = 0
            for i in idx:
                n = len(rois[i].boxes)  # type: ignore[union-attr]
                out[i] = x[start : start + n]
                start += n
        if on_image is not None:
            on_image(len(chunk))
    return [r for r in rois if r is not None], out


@torch.no_grad()
def head_values(
    head: torch.nn.Module, inputs: torch.Tensor, device: torch.device, amp: bool = False, chunk: int = 256
) -> torch.Tensor:
    """Relation values (float32, CPU) of cached head inputs, in chunks.

    >>> from rapkit.model.head import RelationHead
    >>> head_values(RelationHead().eval(), torch.zeros(3, 257, 14, 14), torch.device("cpu")).shape
    torch.Size([3])
    """
    vals = []
    for s in range(0, inputs.shape[0], chunk):
        x = inputs[s : s + chunk].to(device, torch.float32)
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            vals.append(head(x).float().cpu())
    return torch.cat(vals) if vals else torch.zeros(0)


__all__ = ["collate_list", "compute_inputs", "compute_proposal_inputs", "head_values", "image_batches", "read_image"]
