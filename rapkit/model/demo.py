"""The torch side of ``rapkit demo``'s learning step (:mod:`rapkit.pipeline.demo`).

A **stand-in detector**: a randomly initialised ResNet-18-FPN Mask R-CNN built in process
(:func:`rapkit.model.detector.build_detector`; nothing is downloaded). Its features are
random, not COCO-trained: it stands in for the user's checkpoint. On it, a relation head is
trained on the world's training split (:func:`rapkit.model.train.train_head`) and then
scores the test split's proposals through ``predict --proposals``
(:func:`rapkit.model.predict.predict`), which keeps every proposal and only replaces its
``relation`` value. The checkpoint is written into the demo's (temporary) output folder for
those two calls and removed afterwards (about 120 MB); the head file and its log stay.

>>> res = learn_relations(LearnInputs(...), LearnSettings())   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .detector import build_detector, save_detector_checkpoint
from .predict import PredictConfig, PredictSummary, predict
from .train import TrainConfig, TrainResult, train_head

#: the stand-in detector's architecture (torchvision ``MaskRCNN(resnet_fpn_backbone("resnet18"))``)
STANDIN_ARCH = "resnet18_fpn"
STANDIN_NOTE = (
    "stand-in detector: a randomly initialised ResNet-18-FPN Mask R-CNN built in process "
    "(random features, not COCO-trained; nothing downloaded), in place of your checkpoint"
)


@dataclass
class LearnSettings:
    """How the demo trains its head: chosen for the demo's time budget (a few minutes on 2
    CPU cores), not the paper's schedule (``rapkit train``'s defaults)."""

    min_size: int = 240  # the stand-in detector's internal input size (images are resized to it)
    max_size: int = 320
    rois: str = "gt-jitter"
    rois_per_image: int = 16
    draws: int = 2
    iterations: int = 60
    batch_size: int = 8
    optimizer: str = "adam"
    lr: float = 3e-4
    lr_drop: float = 0.75
    val_fraction: float = 0.15
    eval_every: int = 20
    bn_recalibrate: int = 32
    detector_batch: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LearnInputs:
    """The paths of the learning step (the pipeline writes the split's files)."""

    folder: Path  # where the stand-in checkpoint lives while it is needed
    images: Path  # the world's images
    instances: Path  # the world's instances JSON (all images)
    train_relations: Path  # relations of the training split only
    num_classes: int  # detector classes, background included
    test_image_info: Path  # a COCO JSON listing the test split's images
    test_proposals: Path  # the test split's proposals (simulated relation values, replaced)
    head: Path  # output: the head file (its log beside it, .log.json)
    learned_proposals: Path  # output: the test split's proposals with learned relation values


@dataclass
class LearnResult:
    train: TrainResult
    predict: PredictSummary
    head: Path
    log: Path
    train_seconds: float
    predict_seconds: float


def learn_relations(
    inputs: LearnInputs,
    settings: LearnSettings | None = None,
    *,
    seed: int = 0,
    on_status: Callable[[str], None] | None = None,
    on_trained: Callable[[TrainResult, float], None] | None = None,
    on_cache: Callable[[int], None] | None = None,
    on_step: Callable[[dict], None] | None = None,
    on_predict: Callable[[int], None] | None = None,
) -> LearnResult:
    """Build the stand-in detector (weights drawn from ``seed``), train a head on the training
    split, give the test split's proposals learned relation values. ``on_trained(result,
    seconds)`` is called between training and prediction."""
    s = settings or LearnSettings()
    t0 = time.perf_counter()
    ckpt = Path(inputs.folder) / "standin_detector.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_detector(STANDIN_ARCH, inputs.num_classes, min_size=s.min_size, max_size=s.max_size)
    save_detector_checkpoint(model, ckpt, force=True)
    del model
    log = Path(inputs.head).with_suffix(".log.json")
    try:
        cfg = TrainConfig(
            checkpoint=str(ckpt),
            arch=STANDIN_ARCH,
            images=str(inputs.images),
            instances=str(inputs.instances),
            relations=str(inputs.train_relations),
            output=str(inputs.head),
            min_size=s.min_size,
            max_size=s.max_size,
            labels="contiguous",
            iterations=s.iterations,
            batch_size=s.batch_size,
            optimizer=s.optimizer,
            lr=s.lr,
            lr_drop=s.lr_drop,
            rois=s.rois,
            rois_per_image=s.rois_per_image,
            draws=s.draws,
            val_fraction=s.val_fraction,
            eval_every=s.eval_every,
            select="best",
            bn_recalibrate=s.bn_recalibrate,
            detector_batch=s.detector_batch,
            device="auto",
            workers=0,
            seed=seed,
            checkpoint_every=s.iterations + 1,  # no periodic training checkpoint: the demo is one short run
            log=str(log),
            log_every=max(s.iterations, 1),
        )
        trained = train_head(cfg, on_step=on_step, on_status=on_status, on_cache=on_cache)
        t1 = time.perf_counter()
        if on_trained is not None:
            on_trained(trained, t1 - t0)
        summary = predict(
            PredictConfig(
                checkpoint=str(ckpt),
                head=str(inputs.head),
                images=str(inputs.images),
                output=str(inputs.learned_proposals),
                proposals=str(inputs.test_proposals),
                image_info=str(inputs.test_image_info),
                device="auto",
                workers=0,
            ),
            progress=on_predict,
        )
        t2 = time.perf_counter()
    finally:
        ckpt.unlink(missing_ok=True)
    return LearnResult(trained, summary, Path(inputs.head), log, t1 - t0, t2 - t1)


__all__ = ["STANDIN_ARCH", "STANDIN_NOTE", "LearnSettings", "LearnInputs", "LearnResult", "learn_relations"]
