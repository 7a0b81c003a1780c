"""Fine-tune the relation head on a frozen Mask R-CNN (paper 3.2-3.3).

The detector is frozen (no gradients, eval mode): only the head learns. The training RoIs
are (``rois``) the detector's own region proposals matched to the GT instances
(``"detector"``, the default, as the authors trained: :func:`rapkit.model.data.match_proposals`)
or the GT boxes and jittered copies of them (``"gt-jitter"``, in ``draws``). Because the
detector never changes, its per-RoI outputs (the 257x14x14 head inputs) are computed once
per image (and box draw) and cached (``cache=True``, the default): the backbone runs once
per image. The matched proposals themselves are always computed once, before training
(``--no-cache`` then recomputes only the head inputs of the same boxes). Every iteration
takes ``batch_size`` images (one random draw each under gt-jitter) and minimises the mean of
``softplus(v_front - v_back)`` over their pairs of RoIs whose instances have a known relation.

Defaults are the paper's: SGD lr 0.002, momentum 0.9, weight decay 1e-4, 5000 iterations
at batch 16, lr / 10 at half. A held-out fraction of the images (``val_fraction``) gives
the pair accuracy shown in the progress output and picks the kept head (``select="best"``).
Under ``torchrun`` the run is data-parallel (DDP; gloo on CPU, nccl on GPU): each rank
caches and samples its own share of the images, rank 0 writes every file.

>>> result = train_head(TrainConfig(checkpoint="model.pth", arch="resnet50_fpn",
...     images="images/", instances="instances.json", relations="relations.json",
...     output="head.pt"))                                          # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .data import RelationDataset, RelImage, RoiSet, draw_boxes, load_relation_dataset, match_proposals
from .detector import LoadedDetector, load_detector
from .device import Dist, dist_setup
from .features import recalibrate_bn, roi_inputs, rpn_proposals, to_tensor
from .head import RelationHead, head_payload, save_head_file
from .loss import pair_correct, relation_loss

OPTIMIZERS = ("sgd", "adam")
ROI_SCHEMES = ("detector", "gt-jitter")

# Options that must match between a run and the run it resumes.
_RESUME_KEYS = (
    "arch",
    "min_size",
    "max_size",
    "labels",
    "iterations",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "lr_drop",
    "optimizer",
    "draws",
    "min_iou",
    "val_fraction",
    "bn_recalibrate",
    "seed",
    "rois",
    "rois_per_image",
)


@dataclass
class TrainConfig:
    """Options of :func:`train_head` (the CLI's options, one to one)."""

    checkpoint: str
    images: str
    instances: str
    relations: str
    output: str
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
    rois: str = "detector"
    rois_per_image: int = 128
    draws: int = 4
    min_iou: float = 0.5
    cache: bool = True
    cache_max_gb: float = 8.0
    val_fraction: float = 0.1
    eval_every: int = 100
    select: str = "best"
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
        ):
            pos(n)
        for n in ("lr", "cache_max_gb"):
            pos(n)
        for n in ("weight_decay", "momentum", "workers", "bn_recalibrate"):
            pos(n, allow_zero=True)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.rois not in ROI_SCHEMES:
            raise ConfigError(f"--rois must be one of {', '.join(ROI_SCHEMES)}, got {self.rois!r}")
        if self.select not in ("best", "last"):
            raise ConfigError(f"--select must be best or last, got {self.select!r}")
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


@dataclass
class TrainResult:
    output: str
    iterations: int
    best_iteration: int
    val_pair_accuracy: float | None
    n_train_images: int
    n_train_pairs: int
    n_val_pairs: int
    seconds: float
    device: str
    world_size: int
    records: list[dict] = field(default_factory=list)
    rois: str = "detector"
    n_train_rois: int = 0  # training RoIs (detector: matched proposals; gt-jitter: boxes per draw x draws)
    n_train_roi_pairs: int = 0  # pairs of the loss over all training images (gt-jitter: per draw)


# --------------------------------------------------------------------------- features


class _ImageReader(torch.utils.data.Dataset):
    def __init__(self, images: list[RelImage]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, k: int) -> tuple[int, np.ndarray]:
        from ..io.images import read_rgb

        img = self.images[k]
        rgb = read_rgb(img.path, img.image_id)
        if rgb.shape[:2] != (img.height, img.width):
            raise InputError(
                f"image is {rgb.shape[1]}x{rgb.shape[0]} but the instances JSON says {img.width}x{img.height}",
                file=img.path,
                image_id=img.image_id,
            )
        return k, rgb


def collate_list(batch: list) -> list:
    """DataLoader collate function keeping the items as a list (picklable for worker processes)."""
    return batch


def _iter_images(images: list[RelImage], batch: int, workers: int):
    loader = torch.utils.data.DataLoader(
        _ImageReader(images), batch_size=batch, shuffle=False, num_workers=workers, collate_fn=collate_list
    )
    yield from loader


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
) -> list[list[torch.Tensor]]:
    """Head inputs of every image for each draw: ``out[i][j]`` is (n_i, 257, 14, 14) for
    ``draws[j]``, stored on the CPU as ``store_dtype``. The backbone runs once per image.

    >>> cache = compute_inputs(det, ds.images, [0, 1], seed=0, min_iou=0.5, device=torch.device("cpu"))   # doctest: +SKIP
    >>> cache[0][1].shape                                                                            # doctest: +SKIP
    torch.Size([6, 257, 14, 14])
    """
    out: list[list[torch.Tensor]] = [[] for _ in images]
    for chunk in _iter_images(images, detector_batch, workers):
        tens, boxes, labels = [], [], []
        for k, rgb in chunk:
            img = images[k]
            tens.append(to_tensor(rgb, device))
            bx = np.concatenate([draw_boxes(img, d, seed, min_iou) for d in draws])
            boxes.append(torch.from_numpy(bx))
            labels.append(torch.from_numpy(np.tile(img.labels, len(draws))))
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            x = roi_inputs(det.model, tens, boxes, labels)
        x = x.to("cpu", store_dtype)
        start = 0
        for k, _ in chunk:
            n = len(images[k].labels)
            out[k] = list(x[start : start + n * len(draws)].split(n))
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
    for chunk in _iter_images(images, detector_batch, workers):
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

    >>> head_values(RelationHead().eval(), torch.zeros(3, 257, 14, 14), torch.device("cpu")).shape
    torch.Size([3])
    """
    vals = []
    for s in range(0, inputs.shape[0], chunk):
        x = inputs[s : s + chunk].to(device, torch.float32)
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            vals.append(head(x).float().cpu())
    return torch.cat(vals) if vals else torch.zeros(0)


def pair_accuracy(
    head: torch.nn.Module, images: list[RelImage], inputs: list[torch.Tensor], device: torch.device, amp: bool = False
) -> tuple[int, int]:
    """``(correct, total)`` over the known pairs of ``images`` given their GT-box head inputs.

    >>> pair_accuracy(head, ds.images, [x[0] for x in cache], torch.device("cpu"))   # doctest: +SKIP
    (87, 100)
    """
    was = head.training
    head.eval()
    correct = total = 0
    for img, x in zip(images, inputs):
        v = head_values(head, x, device, amp)
        pr = torch.from_numpy(img.pairs)
        correct += int(pair_correct(v, pr[:, 0], pr[:, 1]).sum())
        total += int(pr.shape[0])
    head.train(was)
    return correct, total


def evaluate_pairs(
    det: LoadedDetector,
    head: torch.nn.Module,
    dataset: RelationDataset,
    device: torch.device | str = "cpu",
    *,
    detector_batch: int = 4,
    workers: int = 0,
) -> tuple[int, int]:
    """Pair accuracy of ``head`` on a dataset (GT boxes): ``(correct, total)``.

    >>> correct, total = evaluate_pairs(det, head, load_relation_dataset(...))   # doctest: +SKIP
    """
    device = torch.device(device)
    head = head.to(device)
    inputs = compute_inputs(
        det,
        dataset.images,
        [0],
        0,
        0.5,
        device,
        detector_batch=detector_batch,
        workers=workers,
        store_dtype=torch.float32,
    )
    return pair_accuracy(head, dataset.images, [x[0] for x in inputs], device)


# --------------------------------------------------------------------------- training
#
# train_head() runs these steps, each a function (or two) below:
#   resume    _load_resume_state   the saved state of an interrupted run (checked against the options)
#   prepare   _prepare             detector, dataset, held-out split, BN re-estimation, this rank's share
#   cache     _compute_inputs      head inputs of every training image/draw (or none) and of the held-out images
#   step      sample_batch, make_batch, train_step   one iteration
#   evaluate  _evaluate, _record   held-out pair accuracy, the log record, the best head so far
#   finalize  _finalize            pick the head, write the head file and the JSON log
# The state that a checkpoint saves lives in one object (_Learner).


@dataclass
class _Run:
    """What every step needs: the options and where the run happens."""

    cfg: TrainConfig
    dist: Dist
    device: torch.device
    amp: bool
    say: Callable[[str], None]
    t0: float


@dataclass
class _Data:
    """The detector and the images: all of them, and this rank's share."""

    det: LoadedDetector
    dataset: RelationDataset
    train: list[RelImage]
    val: list[RelImage]
    my_train: list[RelImage]
    my_val: list[RelImage]
    buffers: dict[str, torch.Tensor]  # re-estimated batch-norm statistics (or empty)


@dataclass
class _Inputs:
    """Head inputs: ``cache[k][d]`` of training image k, draw d (None = computed every
    iteration), and the GT-box inputs of the held-out images."""

    cache: list[list[torch.Tensor]] | None
    val: list[torch.Tensor]
    rois: list[RoiSet] | None = None  # --rois detector: the matched proposals of each training image
    n_rois: int = 0  # training RoIs over all ranks (gt-jitter: boxes of one draw)
    n_roi_pairs: int = 0  # RoI pairs of the loss over all ranks (gt-jitter: of one draw)


@dataclass
class Batch:
    """One iteration's batch on this rank: the sampled images and box draws, their head
    inputs (CPU, float16 as cached) and the known pairs as indices into ``inputs``."""

    image_ids: list[int]
    draws: list[int]
    inputs: torch.Tensor  # (n, 257, 14, 14)
    front: torch.Tensor  # int64 (K,)
    back: torch.Tensor  # int64 (K,)
    boxes: list[np.ndarray] | None = None  # the RoIs of each sampled image, in ``inputs`` order


@dataclass
class _Learner:
    """The head and everything a training checkpoint saves."""

    head: RelationHead
    model: torch.nn.Module  # the head, or its DDP wrapper
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    amp: bool
    start_it: int = 0
    records: list[dict] = field(default_factory=list)
    best_acc: float = -1.0
    best_iteration: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    window: list[float] = field(default_factory=list)  # losses since the last record
    n_rois: int = 0  # training RoIs (all ranks)
    n_roi_pairs: int = 0  # RoI pairs of the loss (all ranks)


def _lr_at(cfg: TrainConfig, it: int) -> float:
    return cfg.lr * (0.1 if it >= int(round(cfg.lr_drop * cfg.iterations)) and cfg.lr_drop < 1.0 else 1.0)


def _split(images: list[RelImage], frac: float, seed: int) -> tuple[list[RelImage], list[RelImage]]:
    n_val = int(math.floor(frac * len(images)))
    if frac > 0 and n_val == 0 and len(images) >= 2:
        n_val = 1
    perm = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED]).permutation(len(images))
    val = sorted(perm[:n_val].tolist())
    tr = sorted(perm[n_val:].tolist())
    return [images[i] for i in tr], [images[i] for i in val]


def _state_fingerprint(cfg: TrainConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in _RESUME_KEYS}


def _save_torch_atomic(obj: Any, path: Path) -> None:
    from ..io._atomic import atomic_path

    with atomic_path(path, force=True) as tmp:
        torch.save(obj, tmp)


def _head_state(head: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}


def train_head(
    cfg: TrainConfig,
    *,
    on_step: Callable[[dict], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    on_cache: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train the relation head; write the head file (and JSON log) atomically at the end.

    ``on_step(record)`` is called after every iteration with ``{"iteration", "loss", "lr"}``
    and, at evaluation points, ``"val_pair_accuracy"``; ``on_status(text)`` receives status
    lines; ``on_cache(n)`` advances by n images while head inputs are being computed.
    Raising from ``on_step`` (e.g. KeyboardInterrupt) stops the run; the last periodic
    checkpoint stays and ``resume=True`` continues from it.
    """
    t0 = time.perf_counter()
    cfg.validate()
    dist, device = dist_setup(cfg.device)
    try:
        amp = bool(cfg.amp if cfg.amp is not None else device.type == "cuda") and device.type == "cuda"
        run = _Run(cfg, dist, device, amp, on_status or (lambda s: None), t0)
        return _train(run, on_step, on_cache)
    finally:
        if dist.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(run: _Run, on_step: Callable[[dict], None] | None, on_cache: Callable[[int], None] | None) -> TrainResult:
    """The run, step by step (see the table above)."""
    cfg, dist = run.cfg, run.dist
    _check_outputs(run)
    resume_state = _load_resume_state(run)
    data = _prepare(run)
    inputs = _compute_inputs(run, data, on_cache)
    learner = _make_learner(run, resume_state)
    learner.n_rois, learner.n_roi_pairs = inputs.n_rois, inputs.n_roi_pairs
    for it in range(learner.start_it, cfg.iterations):
        batch = make_batch(run, data, inputs, it)
        lr = _lr_at(cfg, it)
        loss = train_step(learner, batch, lr)
        n = it + 1
        if not math.isfinite(loss):
            raise ConfigError(f"training diverged at iteration {n} (loss {loss}); lower --lr")
        rec = _record(run, data, inputs, learner, n, loss, lr)
        if on_step is not None:
            on_step(rec if rec is not None else {"iteration": n, "loss": loss, "lr": lr})
        if n % cfg.checkpoint_every == 0 and n < cfg.iterations:
            _save_checkpoint(run, learner, n)
            dist.barrier()
    return _finalize(run, data, learner)


# ---- resume


def _check_outputs(run: _Run) -> None:
    """Refuse early what would fail at the end: an existing output without --force, a
    batch that the processes cannot share."""
    from ..io._atomic import check_writable

    cfg, dist = run.cfg, run.dist
    if dist.rank == 0:
        check_writable(cfg.output, cfg.force)
        log_path = cfg.log_path()
        if log_path is not None:
            check_writable(log_path, cfg.force)
    if cfg.batch_size % dist.world:
        raise ConfigError(f"--batch-size {cfg.batch_size} is not divisible by the {dist.world} processes")


def _load_resume_state(run: _Run) -> dict | None:
    """The saved state to continue from with ``--resume`` (None: start at iteration 0).
    Refuses a checkpoint saved with other training options or another process count."""
    cfg, dist, say = run.cfg, run.dist, run.say
    if not cfg.resume:
        return None
    ckpt_path = cfg.ckpt_path()
    if not ckpt_path.is_file():
        say(f"no checkpoint at {ckpt_path}; starting from iteration 0")
        return None
    try:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot read the training checkpoint ({type(e).__name__})", file=ckpt_path) from None
    if not isinstance(state, dict) or state.get("format") != "rapkit-train-checkpoint":
        raise InputError("not a rapkit training checkpoint", file=ckpt_path)
    want = _state_fingerprint(cfg)
    diff = [k for k, v in want.items() if state["config"].get(k) != v]
    if diff:
        raise ConfigError(
            f"{ckpt_path}: cannot resume, options differ from the saved run: "
            + ", ".join(f"{k} (saved {state['config'].get(k)!r}, now {want[k]!r})" for k in diff)
        )
    if int(state.get("world_size", 1)) != dist.world:
        raise ConfigError(f"{ckpt_path}: saved with {state.get('world_size')} processes, resumed with {dist.world}")
    say(f"resuming from {ckpt_path} at iteration {int(state['iteration'])}")
    return state


def _save_checkpoint(run: _Run, learner: _Learner, it: int) -> None:
    """Rank 0 writes the state after iteration ``it`` atomically (what :func:`_load_resume_state` reads)."""
    if run.dist.rank != 0:
        return
    _save_torch_atomic(
        {
            "format": "rapkit-train-checkpoint",
            "iteration": it,
            "config": _state_fingerprint(run.cfg),
            "world_size": run.dist.world,
            "head": _head_state(learner.head),
            "optimizer": learner.opt.state_dict(),
            "scaler": learner.scaler.state_dict() if learner.amp else {},
            "records": learner.records,
            "best_acc": learner.best_acc,
            "best_iteration": learner.best_iteration,
            "best_head": learner.best_state,
        },
        run.cfg.ckpt_path(),
    )


# ---- prepare


def _image_batches(images: list[RelImage], batch: int, workers: int, device: torch.device):
    for chunk in _iter_images(images, batch, workers):
        yield [to_tensor(rgb, device) for _, rgb in chunk]


def _prepare(run: _Run) -> _Data:
    """Load the frozen detector and the dataset, hold out the validation images, re-estimate
    batch norm if asked (same images on every rank, so all ranks agree), take this rank's share."""
    cfg, dist, device, say = run.cfg, run.dist, run.device, run.say
    det = load_detector(cfg.checkpoint, cfg.arch, min_size=cfg.min_size, max_size=cfg.max_size)
    det.model.to(device)
    dataset = load_relation_dataset(cfg.images, cfg.instances, cfg.relations, det.num_classes, cfg.labels)
    train_imgs, val_imgs = _split(dataset.images, cfg.val_fraction, cfg.seed)
    if not train_imgs:
        raise InputError("no training image left after holding out the validation images", file=cfg.relations)
    buffers: dict[str, torch.Tensor] = {}
    if cfg.bn_recalibrate > 0:
        bn_imgs = train_imgs[: cfg.bn_recalibrate]
        say(f"re-estimating backbone batch-norm statistics on {len(bn_imgs)} image(s)")
        buffers = recalibrate_bn(det.model, _image_batches(bn_imgs, max(cfg.detector_batch, 8), cfg.workers, device))
    my_train = train_imgs[dist.rank :: dist.world]
    my_val = val_imgs[dist.rank :: dist.world]
    if not my_train:
        raise InputError(f"{len(train_imgs)} training image(s) cannot feed {dist.world} processes", file=cfg.relations)
    return _Data(det, dataset, train_imgs, val_imgs, my_train, my_val, buffers)


# ---- cache


def _compute_inputs(run: _Run, data: _Data, on_cache: Callable[[int], None] | None) -> _Inputs:
    """Head inputs of every training image and draw (when they fit in ``cache_max_gb``) and
    of the held-out images' GT boxes, computed once: the detector is frozen."""
    cfg, dist, device, say = run.cfg, run.dist, run.device, run.say
    draws = list(range(cfg.draws))
    if cfg.rois == "detector":  # an upper bound: every image with k matched proposals
        n_rois = sum(min(cfg.rois_per_image, 4096) for _ in data.my_train) + sum(len(i.labels) for i in data.my_val)
    else:
        n_rois = sum(len(i.labels) for i in data.my_train) * len(draws) + sum(len(i.labels) for i in data.my_val)
    est_gb = n_rois * 257 * 14 * 14 * 2 / 1e9
    use_cache = cfg.cache and est_gb <= cfg.cache_max_gb
    if cfg.cache and not use_cache:
        say(
            f"head-input cache would need {est_gb:.1f} GB (> --cache-max-gb {cfg.cache_max_gb}); computing features every iteration"
        )
    say(
        f"{len(data.train)} training image(s) ({sum(len(i.pairs) for i in data.train)} pairs), "
        f"{len(data.val)} validation image(s) ({sum(len(i.pairs) for i in data.val)} pairs); device {device}"
        + (f", {dist.world} processes" if dist.active else "")
    )
    common: dict[str, Any] = {
        "detector_batch": cfg.detector_batch,
        "workers": cfg.workers,
        "amp": run.amp,
        "on_image": on_cache,
    }
    rois = None
    n_r = float(sum(len(i.labels) for i in data.my_train))
    n_p = float(sum(len(i.pairs) for i in data.my_train))
    if cfg.rois == "detector":
        say(
            f"training RoIs: the detector's region proposals with IoU >= {cfg.min_iou:g} to an instance of a known pair "
            f"(and the GT boxes), up to {cfg.rois_per_image} per image"
        )
        rois, xs = compute_proposal_inputs(
            data.det, data.my_train, cfg.rois_per_image, cfg.seed, cfg.min_iou, device, with_inputs=use_cache, **common
        )
        cache = [[x] for x in xs] if xs is not None else None
        n_r, n_p = float(sum(len(r.boxes) for r in rois)), float(sum(len(r.pairs) for r in rois))
    n_r, n_p = run.dist.sum([n_r, n_p], device)
    if cfg.rois == "detector":
        say(f"{int(n_r)} training RoIs, {int(n_p)} RoI pairs with a known relation")
    else:
        cache = (
            compute_inputs(data.det, data.my_train, draws, cfg.seed, cfg.min_iou, device, **common)
            if use_cache
            else None
        )
    val = [x[0] for x in compute_inputs(data.det, data.my_val, [0], cfg.seed, cfg.min_iou, device, **common)]
    return _Inputs(cache, val, rois, int(n_r), int(n_p))


# ---- step


def sample_batch(
    seed: int, rank: int, it: int, n_images: int, per_rank: int, n_draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which of this rank's training images (indices) and which box draw of each iteration
    ``it`` uses: a function of ``(seed, rank, it)`` only, so a resumed run samples the same.

    >>> pick, draw = sample_batch(0, 0, 7, n_images=10, per_rank=4, n_draws=2)
    >>> len(pick), len(set(pick.tolist())), bool(((draw >= 0) & (draw < 2)).all())
    (4, 4, True)
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, rank, it])
    pick = rng.choice(n_images, size=min(per_rank, n_images), replace=False)
    draws = rng.integers(0, n_draws, size=len(pick))
    return pick, draws


def make_batch(run: _Run, data: _Data, inputs: _Inputs, it: int) -> Batch:
    """The batch of iteration ``it``: sampled images and draws, their head inputs (from the
    cache, or computed now by the frozen detector) and their known pairs."""
    cfg, device = run.cfg, run.device
    my_train = data.my_train
    if inputs.rois is not None:
        return _make_proposal_batch(run, data, inputs, it)
    pick, dsel = sample_batch(cfg.seed, run.dist.rank, it, len(my_train), cfg.batch_size // run.dist.world, cfg.draws)
    if inputs.cache is not None:
        xs = [inputs.cache[k][d] for k, d in zip(pick, dsel)]
    else:
        xs = []
        for k, d in zip(pick, dsel):
            xs.extend(
                x[0]
                for x in compute_inputs(data.det, [my_train[k]], [int(d)], cfg.seed, cfg.min_iou, device, amp=run.amp)
            )
    fronts, backs = [], []
    off = 0
    for k in pick:
        pr = my_train[k].pairs
        fronts.append(pr[:, 0] + off)
        backs.append(pr[:, 1] + off)
        off += len(my_train[k].labels)
    return Batch(
        [my_train[k].image_id for k in pick],
        [int(d) for d in dsel],
        torch.cat(xs),
        torch.from_numpy(np.concatenate(fronts)),
        torch.from_numpy(np.concatenate(backs)),
        [draw_boxes(my_train[k], int(d), cfg.seed, cfg.min_iou) for k, d in zip(pick, dsel)],
    )


def _make_proposal_batch(run: _Run, data: _Data, inputs: _Inputs, it: int) -> Batch:
    """``--rois detector``: the sampled images' matched proposals, their head inputs (cached,
    or computed now for the same boxes) and every RoI pair with a known relation."""
    cfg, device = run.cfg, run.device
    rois = inputs.rois
    assert rois is not None
    pick, _ = sample_batch(cfg.seed, run.dist.rank, it, len(data.my_train), cfg.batch_size // run.dist.world, 1)
    xs = []
    for k in pick:
        if inputs.cache is not None:
            xs.append(inputs.cache[k][0])
        else:
            img, r = data.my_train[k], rois[k]
            with torch.autocast(device.type, enabled=run.amp and device.type == "cuda"):
                x = roi_inputs(
                    data.det.model,
                    [to_tensor(_read_image(img), device)],
                    [torch.from_numpy(r.boxes)],
                    [torch.from_numpy(r.labels)],
                )
            xs.append(x.to("cpu", torch.float16))
    fronts, backs = [], []
    off = 0
    for k in pick:
        pr = rois[k].pairs
        fronts.append(pr[:, 0] + off)
        backs.append(pr[:, 1] + off)
        off += len(rois[k].boxes)
    return Batch(
        [data.my_train[k].image_id for k in pick],
        [0] * len(pick),
        torch.cat(xs),
        torch.from_numpy(np.concatenate(fronts)),
        torch.from_numpy(np.concatenate(backs)),
        [rois[k].boxes for k in pick],
    )


def _read_image(img: RelImage) -> np.ndarray:
    return _ImageReader([img])[0][1]


def _make_learner(run: _Run, resume_state: dict | None) -> _Learner:
    """The head (initialised from ``seed``), its optimiser and grad scaler, restored from
    ``resume_state`` when resuming."""
    cfg, dist, device = run.cfg, run.dist, run.device
    torch.manual_seed(cfg.seed)
    head = RelationHead().to(device)
    head.train()
    model: torch.nn.Module = head
    if dist.active:
        model = torch.nn.parallel.DistributedDataParallel(
            head, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            head.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    else:
        opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    learner = _Learner(head, model, opt, torch.amp.GradScaler("cuda", enabled=run.amp), device, run.amp)
    if resume_state is not None:
        head.load_state_dict(resume_state["head"])
        opt.load_state_dict(resume_state["optimizer"])
        if resume_state.get("scaler"):
            learner.scaler.load_state_dict(resume_state["scaler"])
        learner.start_it = int(resume_state["iteration"])
        learner.records = list(resume_state["records"])
        learner.best_acc = float(resume_state["best_acc"])
        learner.best_iteration = int(resume_state["best_iteration"])
        learner.best_state = resume_state.get("best_head")
    return learner


def train_step(learner: _Learner, batch: Batch, lr: float) -> float:
    """One optimiser step of the head on ``batch`` at learning rate ``lr``; returns the loss."""
    device = learner.device
    x = batch.inputs.to(device, torch.float32, non_blocking=True)
    front = batch.front.to(device)
    back = batch.back.to(device)
    for g in learner.opt.param_groups:
        g["lr"] = lr
    with torch.autocast(device.type, enabled=learner.amp):
        v = learner.model(x)
    loss = relation_loss(v.float(), front, back)
    learner.opt.zero_grad(set_to_none=True)
    learner.scaler.scale(loss).backward()
    learner.scaler.step(learner.opt)
    learner.scaler.update()
    return float(loss.detach())


# ---- evaluate


def _evaluate(run: _Run, data: _Data, inputs: _Inputs, learner: _Learner) -> float | None:
    """Held-out pair accuracy on GT boxes, summed over the ranks (None without held-out pairs)."""
    c, t = pair_accuracy(learner.head, data.my_val, inputs.val, run.device, run.amp)
    c, t = run.dist.sum([float(c), float(t)], run.device)
    return (c / t) if t > 0 else None


def _record(run: _Run, data: _Data, inputs: _Inputs, learner: _Learner, n: int, loss: float, lr: float) -> dict | None:
    """After iteration ``n`` (with this ``loss``): at log points the mean loss since the last
    record; at evaluation points also the held-out accuracy, keeping the best head so far."""
    cfg = run.cfg
    learner.window.append(loss)
    log_now = n % cfg.log_every == 0 or n == cfg.iterations
    eval_now = n % cfg.eval_every == 0 or n == cfg.iterations
    if not (log_now or eval_now):
        return None
    mean = run.dist.sum([sum(learner.window), float(len(learner.window))], run.device)
    rec: dict[str, Any] = {
        "iteration": n,
        "loss": mean[0] / max(mean[1], 1.0),
        "lr": lr,
        "elapsed_s": round(time.perf_counter() - run.t0, 3),
    }
    learner.window = []
    if eval_now:
        acc = _evaluate(run, data, inputs, learner)
        rec["val_pair_accuracy"] = acc
        if acc is not None and acc > learner.best_acc:
            learner.best_acc, learner.best_iteration, learner.best_state = acc, n, _head_state(learner.head)
    learner.records.append(rec)
    return rec


# ---- finalize


def _finalize(run: _Run, data: _Data, learner: _Learner) -> TrainResult:
    """Keep the best (or the last) head; rank 0 writes the head file and the JSON log."""
    cfg, dist, device = run.cfg, run.dist, run.device
    final_state = _head_state(learner.head)
    chosen_it = cfg.iterations
    records = learner.records
    val_acc = records[-1].get("val_pair_accuracy") if records else None
    if cfg.select == "best" and learner.best_state is not None and learner.best_acc >= 0:
        final_state = learner.best_state
        chosen_it = learner.best_iteration
        val_acc = learner.best_acc
    out_head = RelationHead()
    out_head.load_state_dict(final_state)
    seconds = time.perf_counter() - run.t0
    info = {
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("force",)},
        "iterations": cfg.iterations,
        "selected_iteration": chosen_it,
        "val_pair_accuracy": val_acc,
        "n_train_images": len(data.train),
        "n_val_images": len(data.val),
        "world_size": dist.world,
        "device": str(device),
        "rois": cfg.rois,
        "n_train_rois": learner.n_rois,
        "n_train_roi_pairs": learner.n_roi_pairs,
    }
    n_train_pairs = sum(len(i.pairs) for i in data.train)
    n_val_pairs = sum(len(i.pairs) for i in data.val)
    if dist.rank == 0:
        det = data.det
        payload = head_payload(
            out_head,
            arch=det.arch,
            num_classes=det.num_classes,
            min_size=det.min_size,
            max_size=det.max_size,
            label_map=data.dataset.label_map,
            detector_buffers=data.buffers,
            train_info=info,
            category_ids=data.dataset.category_ids,
        )
        save_head_file(cfg.output, payload, cfg.force)
        log_path = cfg.log_path()
        if log_path is not None:
            from ..io.jsonio import save_json

            log = {
                "schema_version": 1,
                "kind": "train-log",
                **info,
                "n_train_pairs": n_train_pairs,
                "n_val_pairs": n_val_pairs,
                "seconds": round(seconds, 3),
                "records": records,
            }
            save_json(log_path, _json_safe(log), cfg.force, indent=1)
    dist.barrier()
    return TrainResult(
        str(cfg.output),
        cfg.iterations,
        chosen_it,
        val_acc,
        len(data.train),
        n_train_pairs,
        n_val_pairs,
        seconds,
        str(device),
        dist.world,
        records,
        cfg.rois,
        learner.n_rois,
        learner.n_roi_pairs,
    )


def _json_safe(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_safe(v) for v in o]
    return o


__all__ = [
    "Batch",
    "TrainConfig",
    "TrainResult",
    "compute_inputs",
    "compute_proposal_inputs",
    "evaluate_pairs",
    "head_values",
    "make_batch",
    "pair_accuracy",
    "sample_batch",
    "train_head",
    "train_step",
]
