"""Fine-tune the relation head on a frozen Mask R-CNN (paper 3.2-3.3).

The detector is frozen (no gradients, eval mode): only the head learns. Because the
detector never changes, its per-RoI outputs (the 257x14x14 head inputs) are computed
once per image and box draw and cached (``cache=True``, the default): the backbone runs
once per image for all draws. Every iteration takes ``batch_size`` images, one random draw
each, and minimises the mean of ``softplus(v_front - v_back)`` over their known pairs.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .data import RelImage, RelationDataset, draw_boxes, load_relation_dataset
from .detector import LoadedDetector, load_detector
from .device import Dist, dist_setup, resolve_device
from .features import recalibrate_bn, roi_inputs, to_tensor
from .head import RelationHead, head_payload, save_head_file
from .loss import pair_correct, relation_loss

OPTIMIZERS = ("sgd", "adam")

# Options that must match between a run and the run it resumes.
_RESUME_KEYS = (
    "arch", "min_size", "max_size", "labels", "iterations", "batch_size", "lr", "momentum",
    "weight_decay", "lr_drop", "optimizer", "draws", "min_iou", "val_fraction", "bn_recalibrate", "seed",
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

        for n in ("iterations", "batch_size", "eval_every", "checkpoint_every", "log_every", "draws", "detector_batch"):
            pos(n)
        for n in ("lr", "cache_max_gb"):
            pos(n)
        for n in ("weight_decay", "momentum", "workers", "bn_recalibrate"):
            pos(n, allow_zero=True)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
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


@torch.no_grad()
def head_values(head: torch.nn.Module, inputs: torch.Tensor, device: torch.device, amp: bool = False, chunk: int = 256) -> torch.Tensor:
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


def pair_accuracy(head: torch.nn.Module, images: list[RelImage], inputs: list[torch.Tensor], device: torch.device, amp: bool = False) -> tuple[int, int]:
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
    inputs = compute_inputs(det, dataset.images, [0], 0, 0.5, device, detector_batch=detector_batch, workers=workers, store_dtype=torch.float32)
    return pair_accuracy(head, dataset.images, [x[0] for x in inputs], device)


# --------------------------------------------------------------------------- training


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
    from ..io._atomic import check_writable

    t0 = time.perf_counter()
    cfg.validate()
    say = on_status or (lambda s: None)
    dist, device = dist_setup(cfg.device)
    try:
        return _train(cfg, dist, device, say, on_step, on_cache, t0, check_writable)
    finally:
        if dist.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(cfg, dist: Dist, device, say, on_step, on_cache, t0, check_writable) -> TrainResult:
    amp = bool(cfg.amp if cfg.amp is not None else device.type == "cuda") and device.type == "cuda"
    log_path = cfg.log_path()
    if dist.rank == 0:
        check_writable(cfg.output, cfg.force)
        if log_path is not None:
            check_writable(log_path, cfg.force)
    if cfg.batch_size % dist.world:
        raise ConfigError(f"--batch-size {cfg.batch_size} is not divisible by the {dist.world} processes")
    ckpt_path = cfg.ckpt_path()
    resume_state = None
    if cfg.resume:
        if ckpt_path.is_file():
            try:
                resume_state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            except Exception as e:  # noqa: BLE001
                raise InputError(f"cannot read the training checkpoint ({type(e).__name__})", file=ckpt_path) from None
            if not isinstance(resume_state, dict) or resume_state.get("format") != "rapkit-train-checkpoint":
                raise InputError("not a rapkit training checkpoint", file=ckpt_path)
            want = _state_fingerprint(cfg)
            diff = [k for k, v in want.items() if resume_state["config"].get(k) != v]
            if diff:
                raise ConfigError(
                    f"{ckpt_path}: cannot resume, options differ from the saved run: "
                    + ", ".join(f"{k} (saved {resume_state['config'].get(k)!r}, now {want[k]!r})" for k in diff)
                )
            if int(resume_state.get("world_size", 1)) != dist.world:
                raise ConfigError(f"{ckpt_path}: saved with {resume_state.get('world_size')} processes, resumed with {dist.world}")
            say(f"resuming from {ckpt_path} at iteration {int(resume_state['iteration'])}")
        else:
            say(f"no checkpoint at {ckpt_path}; starting from iteration 0")

    det = load_detector(cfg.checkpoint, cfg.arch, min_size=cfg.min_size, max_size=cfg.max_size)
    det.model.to(device)
    data = load_relation_dataset(cfg.images, cfg.instances, cfg.relations, det.num_classes, cfg.labels)
    train_imgs, val_imgs = _split(data.images, cfg.val_fraction, cfg.seed)
    if not train_imgs:
        raise InputError("no training image left after holding out the validation images", file=cfg.relations)

    # Optional batch-norm re-estimation (same images on every rank, so all ranks agree).
    buffers: dict[str, torch.Tensor] = {}
    if cfg.bn_recalibrate > 0:
        bn_imgs = train_imgs[: cfg.bn_recalibrate]
        say(f"re-estimating backbone batch-norm statistics on {len(bn_imgs)} image(s)")

        def batches():
            for chunk in _iter_images(bn_imgs, max(cfg.detector_batch, 8), cfg.workers):
                yield [to_tensor(rgb, device) for _, rgb in chunk]

        buffers = recalibrate_bn(det.model, batches())

    my_train = train_imgs[dist.rank :: dist.world]
    my_val = val_imgs[dist.rank :: dist.world]
    if not my_train:
        raise InputError(f"{len(train_imgs)} training image(s) cannot feed {dist.world} processes", file=cfg.relations)
    draws = list(range(cfg.draws))
    n_rois = sum(len(i.labels) for i in my_train) * len(draws) + sum(len(i.labels) for i in my_val)
    est_gb = n_rois * 257 * 14 * 14 * 2 / 1e9
    use_cache = cfg.cache and est_gb <= cfg.cache_max_gb
    if cfg.cache and not use_cache:
        say(f"head-input cache would need {est_gb:.1f} GB (> --cache-max-gb {cfg.cache_max_gb}); computing features every iteration")
    say(
        f"{len(train_imgs)} training image(s) ({sum(len(i.pairs) for i in train_imgs)} pairs), "
        f"{len(val_imgs)} validation image(s) ({sum(len(i.pairs) for i in val_imgs)} pairs); device {device}"
        + (f", {dist.world} processes" if dist.active else "")
    )
    cache: list[list[torch.Tensor]] | None = None
    if use_cache:
        cache = compute_inputs(det, my_train, draws, cfg.seed, cfg.min_iou, device, detector_batch=cfg.detector_batch,
                               workers=cfg.workers, amp=amp, on_image=on_cache)
    val_inputs = [x[0] for x in compute_inputs(det, my_val, [0], cfg.seed, cfg.min_iou, device, detector_batch=cfg.detector_batch,
                                               workers=cfg.workers, amp=amp, on_image=on_cache)]

    torch.manual_seed(cfg.seed)
    head = RelationHead().to(device)
    head.train()
    model: torch.nn.Module = head
    if dist.active:
        model = torch.nn.parallel.DistributedDataParallel(head, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(head.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    start_it = 0
    records: list[dict] = []
    best = {"acc": -1.0, "iteration": 0, "state": None}
    if resume_state is not None:
        head.load_state_dict(resume_state["head"])
        opt.load_state_dict(resume_state["optimizer"])
        if resume_state.get("scaler"):
            scaler.load_state_dict(resume_state["scaler"])
        start_it = int(resume_state["iteration"])
        records = list(resume_state["records"])
        best = {"acc": float(resume_state["best_acc"]), "iteration": int(resume_state["best_iteration"]), "state": resume_state.get("best_head")}

    per_rank = cfg.batch_size // dist.world
    window: list[float] = []
    cache_hits = [len(i.labels) for i in my_train]

    def evaluate() -> float | None:
        c, t = pair_accuracy(head, my_val, val_inputs, device, amp)
        c, t = dist.sum([float(c), float(t)], device)
        return (c / t) if t > 0 else None

    def save_checkpoint(it: int) -> None:
        if dist.rank != 0:
            return
        _save_torch_atomic(
            {
                "format": "rapkit-train-checkpoint",
                "iteration": it,
                "config": _state_fingerprint(cfg),
                "world_size": dist.world,
                "head": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
                "optimizer": opt.state_dict(),
                "scaler": scaler.state_dict() if amp else {},
                "records": records,
                "best_acc": best["acc"],
                "best_iteration": best["iteration"],
                "best_head": best["state"],
            },
            ckpt_path,
        )

    for it in range(start_it, cfg.iterations):
        rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, dist.rank, it])
        pick = rng.choice(len(my_train), size=min(per_rank, len(my_train)), replace=False)
        dsel = rng.integers(0, len(draws), size=len(pick))
        if cache is not None:
            xs = [cache[k][d] for k, d in zip(pick, dsel)]
        else:
            xs = []
            for k, d in zip(pick, dsel):
                xs.extend(x[0] for x in compute_inputs(det, [my_train[k]], [int(d)], cfg.seed, cfg.min_iou, device, amp=amp))
        fronts, backs = [], []
        off = 0
        for k in pick:
            pr = my_train[k].pairs
            fronts.append(pr[:, 0] + off)
            backs.append(pr[:, 1] + off)
            off += cache_hits[k]
        x = torch.cat(xs).to(device, torch.float32, non_blocking=True)
        front = torch.from_numpy(np.concatenate(fronts)).to(device)
        back = torch.from_numpy(np.concatenate(backs)).to(device)
        lr = _lr_at(cfg, it)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device.type, enabled=amp):
            v = model(x)
        loss = relation_loss(v.float(), front, back)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        lv = float(loss.detach())
        if not math.isfinite(lv):
            raise ConfigError(f"training diverged at iteration {it + 1} (loss {lv}); lower --lr")
        window.append(lv)
        n = it + 1
        rec: dict[str, Any] | None = None
        if n % cfg.log_every == 0 or n % cfg.eval_every == 0 or n == cfg.iterations:
            mean = dist.sum([sum(window), float(len(window))], device)
            rec = {"iteration": n, "loss": mean[0] / max(mean[1], 1.0), "lr": lr, "elapsed_s": round(time.perf_counter() - t0, 3)}
            window = []
        if n % cfg.eval_every == 0 or n == cfg.iterations:
            acc = evaluate()
            assert rec is not None
            rec["val_pair_accuracy"] = acc
            if acc is not None and acc > best["acc"]:
                best = {"acc": acc, "iteration": n, "state": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}}
        if rec is not None:
            records.append(rec)
        if on_step is not None:
            on_step(rec if rec is not None else {"iteration": n, "loss": lv, "lr": lr})
        if n % cfg.checkpoint_every == 0 and n < cfg.iterations:
            save_checkpoint(n)
            dist.barrier()

    final_state = {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}
    chosen_it = cfg.iterations
    val_acc = records[-1].get("val_pair_accuracy") if records else None
    if cfg.select == "best" and best["state"] is not None and best["acc"] >= 0:
        final_state = best["state"]
        chosen_it = best["iteration"]
        val_acc = best["acc"]
    out_head = RelationHead()
    out_head.load_state_dict(final_state)
    seconds = time.perf_counter() - t0
    info = {
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("force",)},
        "iterations": cfg.iterations,
        "selected_iteration": chosen_it,
        "val_pair_accuracy": val_acc,
        "n_train_images": len(train_imgs),
        "n_val_images": len(val_imgs),
        "world_size": dist.world,
        "device": str(device),
    }
    n_train_pairs = sum(len(i.pairs) for i in train_imgs)
    n_val_pairs = sum(len(i.pairs) for i in val_imgs)
    if dist.rank == 0:
        payload = head_payload(out_head, arch=det.arch, num_classes=det.num_classes, min_size=det.min_size, max_size=det.max_size,
                               label_map=data.label_map, detector_buffers=buffers, train_info=info,
                               category_ids=data.category_ids)
        save_head_file(cfg.output, payload, cfg.force)
        if log_path is not None:
            from ..io.jsonio import save_json

            log = {"schema_version": 1, "kind": "train-log", **info, "n_train_pairs": n_train_pairs, "n_val_pairs": n_val_pairs,
                   "seconds": round(seconds, 3), "records": records}
            save_json(log_path, _json_safe(log), cfg.force, indent=1)
    dist.barrier()
    return TrainResult(str(cfg.output), cfg.iterations, chosen_it, val_acc, len(train_imgs), n_train_pairs, n_val_pairs,
                       seconds, str(device), dist.world, records)


def _json_safe(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_safe(v) for v in o]
    return o


__all__ = ["TrainConfig", "TrainResult", "train_head", "resolve_device", "compute_inputs", "pair_accuracy", "evaluate_pairs"]
