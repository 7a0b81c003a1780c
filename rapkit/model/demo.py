"""The torch side of ``rapkit demo``'s learning step (:mod:`rapkit.pipeline.demo`).

A **stand-in detector**: a randomly initialised ResNet-18-FPN Mask R-CNN built in process
(:func:`rapkit.model.detector.build_detector`; nothing is downloaded). Its features are
random, not COCO-trained: it stands in for the user's checkpoint. On it, a relation head is
trained on the world's training split (:func:`rapkit.model.train.train_head`) and then
scores the test split's proposals through ``predict --proposals``
(:func:`rapkit.model.predict.predict`), which keeps every proposal and only replaces its
``relation`` value. The checkpoint is written into the demo's (temporary) output folder for
those two calls and removed afterwards (about 120 MB); the head file and its log stay.

With ``LearnInputs.pair_head`` set, an OCFusion pair head (``head_type="ocfusion"``) is
trained the same way on the same stand-in detector and training split, at
``LearnSettings.pair_width`` (32, not the authors' 512: their width costs about 5 GFLOPs per
pair per training step, too much for the demo's 2-core minute), and writes the test split's
``occludes`` pair logits (``LearnInputs.pair_proposals``).

>>> res = learn_relations(LearnInputs(...), LearnSettings())   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
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
    #: the OCFusion pair head's convolution width (the authors' 512 is too slow for the demo)
    pair_width: int = 32

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
    pair_head: Path | None = None  # output: an OCFusion pair head trained the same way (None: none)
    pair_proposals: Path | None = None  # output: the test split's proposals with its ``occludes`` logits


@dataclass
class LearnResult:
    train: TrainResult
    predict: PredictSummary
    head: Path
    log: Path
    train_seconds: float
    predict_seconds: float
    #: the OCFusion pair head's training and prediction (None without ``LearnInputs.pair_head``)
    pair_train: TrainResult | None = None
    pair_predict: PredictSummary | None = None
    pair_train_seconds: float = 0.0
    pair_predict_seconds: float = 0.0


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
    on_pair_trained: Callable[[TrainResult, float], None] | None = None,
) -> LearnResult:
    """Build the stand-in detector (weights drawn from ``seed``), train a head on the training
    split, give the test split's proposals learned relation values. ``on_trained(result,
    seconds)`` is called between training and prediction. With ``inputs.pair_head``, an
    OCFusion pair head of width ``settings.pair_width`` is then trained with the same
    configuration and predicts ``inputs.pair_proposals`` (``on_pair_trained(result,
    seconds)`` between the two)."""
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
        summary = _predict(ckpt, inputs.head, inputs, inputs.learned_proposals, on_predict)
        t2 = time.perf_counter()
        pair = None
        if inputs.pair_head is not None:
            if inputs.pair_proposals is None:
                raise ValueError("LearnInputs.pair_head needs pair_proposals")
            pair_log = Path(inputs.pair_head).with_suffix(".log.json")
            pcfg = replace(
                cfg, head_type="ocfusion", head_width=s.pair_width, output=str(inputs.pair_head), log=str(pair_log)
            )
            p_trained = train_head(pcfg, on_status=on_status)
            t3 = time.perf_counter()
            if on_pair_trained is not None:
                on_pair_trained(p_trained, t3 - t2)
            p_summary = _predict(ckpt, inputs.pair_head, inputs, inputs.pair_proposals, None)
            pair = (p_trained, p_summary, t3 - t2, time.perf_counter() - t3)
    finally:
        ckpt.unlink(missing_ok=True)
    res = LearnResult(trained, summary, Path(inputs.head), log, t1 - t0, t2 - t1)
    if pair is not None:
        res.pair_train, res.pair_predict, res.pair_train_seconds, res.pair_predict_seconds = pair
    return res


def _predict(
    ckpt: Path, head: Path, inputs: LearnInputs, output: Path, progress: Callable[[int], None] | None
) -> PredictSummary:
    """``predict --proposals``: the test split's proposals with the head's values."""
    return predict(
        PredictConfig(
            checkpoint=str(ckpt),
            head=str(head),
            images=str(inputs.images),
            output=str(output),
            proposals=str(inputs.test_proposals),
            image_info=str(inputs.test_image_info),
            device="auto",
            workers=0,
        ),
        progress=progress,
    )


__all__ = ["STANDIN_ARCH", "STANDIN_NOTE", "LearnSettings", "LearnInputs", "LearnResult", "learn_relations"]
