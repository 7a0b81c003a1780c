"""The options of :func:`rapkit.model.train.train_head` (the CLI's options, one to one) and
their checks.

>>> TrainConfig(checkpoint="m.pth", images="imgs", instances="i.json", relations="r.json", output="head.pt").ckpt_path()
PosixPath('head.pt.ckpt')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

OPTIMIZERS = ("sgd", "adam")
ROI_SCHEMES = ("detector", "gt-jitter")
HEADS = ("rap", "ocfusion")
RPN_MODES = ("eval", "train")
#: ``--preset NAME``: options set at once (an option given explicitly wins). ``authors``: every
#: setting of the authors' training that rapkit departs from by default (docs/paper.md)
PRESETS: dict[str, dict[str, object]] = {
    "authors": {
        "val_fraction": 0.0,
        "select": "last",
        "bias_lr_factor": 2.0,
        "bias_weight_decay": 0.0,
        "rpn_mode": "train",
        "all_images": True,
        "flip": True,
    }
}


@dataclass
class TrainConfig:
    """Options of :func:`train_head` (the CLI's options, one to one)."""

    checkpoint: str
    images: str
    instances: str
    relations: str
    output: str
    head_type: str = "rap"  # rap: the relation head; ocfusion: the OCFusion pair head
    head_width: int = 512  # the OCFusion head's convolution width (the authors' 512)
    arch: str = "maskrcnn_resnet50_fpn"
    min_size: int = 800
    max_size: int = 1333
    labels: str = "auto"
    iterations: int = 5000
    batch_size: int = 16
    lr: float = 0.002
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_drop: float = 0.5
    optimizer: str = "sgd"
    bias_lr_factor: float = 1.0  # biases learn at lr x this (the authors: 2)
    bias_weight_decay: float | None = None  # biases' weight decay (None: --weight-decay; the authors: 0)
    flip: bool = False  # horizontal flip, p = 0.5 per sampled image (the authors')
    all_images: bool = False  # batches from every image of the relations JSON, not only those with pairs
    rpn_mode: str = "eval"  # --rois detector proposals: eval (test top-n, 1000) or train (training top-n, 2000)
    rois: str = "detector"
    rois_per_image: int = 128
    draws: int = 4
    min_iou: float = 0.5
    cache: bool = True
    cache_max_gb: float = 8.0
    val_fraction: float = 0.1
    eval_every: int = 100
    select: str = "best"
    #: ``select="best-pq"``: the held-out images' proposals (COCO results with masks) and GT panoptic JSON
    select_proposals: str | None = None
    select_panoptic: str | None = None
    bn_recalibrate: int = 0
    device: str = "auto"
    amp: bool | None = None
    workers: int = 0
    detector_batch: int = 4
    seed: int = 0
    checkpoint_every: int = 500
    checkpoint_path: str | None = None
    resume: bool = False
    log: str | None = None
    log_every: int = 20
    force: bool = False

    def validate(self) -> None:
        def pos(name: str, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            if v < 0 or (v == 0 and not allow_zero):
                raise ConfigError(f"--{name.replace('_', '-')} must be {'>= 0' if allow_zero else '> 0'}, got {v}")

        for n in (
            "iterations",
            "batch_size",
            "eval_every",
            "checkpoint_every",
            "log_every",
            "draws",
            "detector_batch",
            "rois_per_image",
            "head_width",
        ):
            pos(n)
        for n in ("lr", "cache_max_gb", "bias_lr_factor"):
            pos(n)
        for n in ("weight_decay", "momentum", "workers", "bn_recalibrate"):
            pos(n, allow_zero=True)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.bias_weight_decay is not None and self.bias_weight_decay < 0:
            raise ConfigError(f"--bias-weight-decay must be >= 0, got {self.bias_weight_decay}")
        if self.rpn_mode not in RPN_MODES:
            raise ConfigError(f"--rpn-mode must be one of {', '.join(RPN_MODES)}, got {self.rpn_mode!r}")
        if self.head_type not in HEADS:
            raise ConfigError(f"--head-type must be one of {', '.join(HEADS)}, got {self.head_type!r}")
        if self.rois not in ROI_SCHEMES:
            raise ConfigError(f"--rois must be one of {', '.join(ROI_SCHEMES)}, got {self.rois!r}")
        if self.select not in SELECTS:
            raise ConfigError(f"--select must be one of {', '.join(SELECTS)}, got {self.select!r}")
        if self.select == "best-pq" and not (self.select_proposals and self.select_panoptic):
            raise ConfigError(
                "--select best-pq needs --select-proposals (detections with masks of the held-out images) "
                "and --select-panoptic (their GT panoptic JSON)"
            )
        if self.select == "best-pq" and self.head_type != "rap":
            raise ConfigError(
                "--select best-pq scores the relation values of a RAP head (--head-type rap); for the "
                f"{self.head_type} pair head use --select best or --select last"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 < self.lr_drop <= 1.0:
            raise ConfigError(f"--lr-drop must be in (0, 1], got {self.lr_drop}")
        if not 0.0 < self.min_iou < 1.0:
            raise ConfigError(f"--min-iou must be in (0, 1), got {self.min_iou}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"--device must be auto, cpu or cuda, got {self.device!r}")

    def ckpt_path(self) -> Path:
        return Path(self.checkpoint_path) if self.checkpoint_path else Path(str(self.output) + ".ckpt")

    def log_path(self) -> Path | None:
        if self.log == "":
            return None
        return Path(self.log) if self.log else Path(self.output).with_suffix(".log.json")


#: how the kept head is chosen: best held-out pair accuracy, best held-out fusion PQ^Th, the last
SELECTS = ("best", "best-pq", "last")

__all__ = ["HEADS", "OPTIMIZERS", "PRESETS", "ROI_SCHEMES", "RPN_MODES", "SELECTS", "TrainConfig"]
