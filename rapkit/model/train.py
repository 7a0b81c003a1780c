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
With ``head_type="ocfusion"`` the same run (same frozen detector, same cached RoI inputs, same
schedule, resume, AMP and DDP) trains the OCFusion pair head instead
(:mod:`rapkit.model.ocfusion`: binary cross-entropy over the pairs and their flipped copies,
at most 128 per image); the held-out yardstick is then the share of known pairs whose
(front, back) logit is > 0.

Defaults are the paper's: SGD lr 0.002, momentum 0.9, weight decay 1e-4, 5000 iterations
at batch 16, lr / 10 at half. A held-out fraction of the images (``val_fraction``) gives
the pair accuracy shown in the progress output and picks the kept head (``select="best"``);
``select="best-pq"`` picks it by the held-out images' fusion PQ^Th instead
(:mod:`rapkit.model.select_pq`).
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
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, InputError
from ..io._atomic import check_writable
from ..io.jsonio import save_json
from .batches import Batch, BatchSource, make_batch, sample_batch
from .checkpoint import head_state, load_resume_state, save_checkpoint
from .data import RelationDataset, RelImage, RoiSet, draw_boxes, flip_image, load_relation_dataset
from .detector import LoadedDetector, load_detector
from .device import Dist, dist_setup
from .features import recalibrate_bn, set_rpn_mode
from .head import head_payload, new_head, save_head_file
from .inputs import compute_inputs, compute_proposal_inputs, head_values, image_batches
from .learner import Learner, lr_at, make_learner, ocfusion_batch_loss, relation_head_loss, train_step
from .ocfusion import PAIR_CAP, ocfusion_pair_accuracy
from .pairs import evaluate_pairs, pair_accuracy
from .select_pq import PQSelector
from .select_pq import criterion as pq_criterion
from .train_config import OPTIMIZERS, ROI_SCHEMES, TrainConfig


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
    head_type: str = "rap"  # the head trained: rap or ocfusion

    def to_dict(self) -> dict[str, Any]:
        """The run's summary as plain data (fractions; the per-iteration log: ``records``)."""
        return {
            "output": self.output,
            "head_type": self.head_type,
            "iterations": self.iterations,
            "selected_iteration": self.best_iteration,
            "val_pair_accuracy": self.val_pair_accuracy,
            "train_images": self.n_train_images,
            "train_pairs": self.n_train_pairs,
            "rois": self.rois,
            "train_rois": self.n_train_rois,
            "train_roi_pairs": self.n_train_roi_pairs,
            "val_pairs": self.n_val_pairs,
            "seconds": round(self.seconds, 2),
            "device": self.device,
            "world_size": self.world_size,
        }


# --------------------------------------------------------------------------- the run
#
# train_head() runs these steps; this module wires them (it names every collaborator a step
# calls, so a test can replace one here):
#   resume    checkpoint.load_resume_state   the saved state of an interrupted run (checked against the options)
#   prepare   _prepare                       detector, dataset, held-out split, BN re-estimation, this rank's share
#   cache     _compute_inputs                head inputs of every training image/draw (or none) and of the held-out
#                                            images (inputs.compute_inputs, inputs.compute_proposal_inputs)
#   step      batches.make_batch, learner.train_step   one iteration
#   evaluate  _evaluate, _record             held-out pair accuracy (pairs.pair_accuracy), the log record, the best head
#   finalize  _finalize                      pick the head, write the head file and the JSON log
# The state that a checkpoint saves lives in one object (learner.Learner).


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
    selector: PQSelector | None = None  # --select best-pq: the held-out images to fuse and score


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
    resume_state = load_resume_state(cfg, dist.world, run.say)
    data = _prepare(run)
    inputs = _compute_inputs(run, data, on_cache)
    if cfg.select == "best-pq":  # every rank scores all held-out images: the same numbers everywhere
        run.say(f"--select best-pq: fusing and scoring the {len(data.val)} held-out image(s) at each evaluation")
        inputs.selector = PQSelector.build(
            cfg.select_proposals, cfg.select_panoptic, data.det, data.dataset.label_map, data.val, run.device, run.amp
        )
    source = _batch_source(run, data, inputs)
    learner = make_learner(
        cfg,
        dist,
        run.device,
        run.amp,
        resume_state,
        new_head=lambda: new_head(cfg.head_type, cfg.head_width),
        loss_fn=ocfusion_batch_loss if cfg.head_type == "ocfusion" else relation_head_loss,
    )
    learner.n_rois, learner.n_roi_pairs = inputs.n_rois, inputs.n_roi_pairs
    for it in range(learner.start_it, cfg.iterations):
        batch = make_batch(source, it)
        lr = lr_at(cfg, it)
        loss = train_step(learner, batch, lr)
        n = it + 1
        if not math.isfinite(loss):
            raise ConfigError(f"training diverged at iteration {n} (loss {loss}); lower --lr")
        rec = _record(run, data, inputs, learner, n, loss, lr)
        if on_step is not None:
            on_step(rec if rec is not None else {"iteration": n, "loss": loss, "lr": lr})
        if n % cfg.checkpoint_every == 0 and n < cfg.iterations:
            if dist.rank == 0:
                save_checkpoint(cfg, dist.world, n, learner.state())
            dist.barrier()
    return _finalize(run, data, learner)


def _check_outputs(run: _Run) -> None:
    """Refuse early what would fail at the end: an existing output without --force, a
    batch that the processes cannot share."""
    cfg, dist = run.cfg, run.dist
    if dist.rank == 0:
        check_writable(cfg.output, cfg.force)
        log_path = cfg.log_path()
        if log_path is not None:
            check_writable(log_path, cfg.force)
    if cfg.batch_size % dist.world:
        raise ConfigError(f"--batch-size {cfg.batch_size} is not divisible by the {dist.world} processes")


# ---- prepare


def _split(images: list[RelImage], frac: float, seed: int) -> tuple[list[RelImage], list[RelImage]]:
    n_val = int(math.floor(frac * len(images)))
    if frac > 0 and n_val == 0 and len(images) >= 2:
        n_val = 1
    perm = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED]).permutation(len(images))
    val = sorted(perm[:n_val].tolist())
    tr = sorted(perm[n_val:].tolist())
    return [images[i] for i in tr], [images[i] for i in val]


def _prepare(run: _Run) -> _Data:
    """Load the frozen detector and the dataset, hold out the validation images, re-estimate
    batch norm if asked (same images on every rank, so all ranks agree), take this rank's share."""
    cfg, dist, device, say = run.cfg, run.dist, run.device, run.say
    det = load_detector(cfg.checkpoint, cfg.arch, min_size=cfg.min_size, max_size=cfg.max_size)
    det.model.to(device)
    set_rpn_mode(det.model, cfg.rpn_mode)
    dataset = load_relation_dataset(
        cfg.images, cfg.instances, cfg.relations, det.num_classes, cfg.labels, all_images=cfg.all_images
    )
    train_imgs, val_imgs = _split(dataset.images, cfg.val_fraction, cfg.seed)
    if not train_imgs:
        raise InputError("no training image left after holding out the validation images", file=cfg.relations)
    buffers: dict[str, torch.Tensor] = {}
    if cfg.bn_recalibrate > 0:
        bn_imgs = train_imgs[: cfg.bn_recalibrate]
        say(f"re-estimating backbone batch-norm statistics on {len(bn_imgs)} image(s)")
        buffers = recalibrate_bn(det.model, image_batches(bn_imgs, max(cfg.detector_batch, 8), cfg.workers, device))
    my_train = train_imgs[dist.rank :: dist.world]
    if cfg.flip:  # the mirrored copies after the images (batches.BatchSource.flip)
        my_train = my_train + [flip_image(i) for i in my_train]
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
            compute_inputs(data.det, data.my_train, draws, cfg.seed, cfg.min_iou, device, draw=draw_boxes, **common)
            if use_cache
            else None
        )
    val = compute_inputs(data.det, data.my_val, [0], cfg.seed, cfg.min_iou, device, draw=draw_boxes, **common)
    return _Inputs(cache, [x[0] for x in val], rois, int(n_r), int(n_p))


def _batch_source(run: _Run, data: _Data, inputs: _Inputs) -> BatchSource:
    """What this rank's batches are made from (:func:`rapkit.model.batches.make_batch`)."""
    cfg = run.cfg
    return BatchSource(
        data.det,
        data.my_train,
        inputs.cache,
        inputs.rois,
        cfg.seed,
        run.dist.rank,
        cfg.batch_size // run.dist.world,
        cfg.draws,
        cfg.min_iou,
        run.device,
        run.amp,
        draw_boxes,
        PAIR_CAP if cfg.head_type == "ocfusion" else None,
        cfg.flip,
    )


# ---- evaluate


def _evaluate(run: _Run, data: _Data, inputs: _Inputs, learner: Learner) -> float | None:
    """Held-out pair accuracy on GT boxes, summed over the ranks (None without held-out pairs)."""
    if run.cfg.head_type == "ocfusion":
        pairs = [img.pairs for img in data.my_val]
        c, t = ocfusion_pair_accuracy(learner.head, pairs, inputs.val, run.device, run.amp)
    else:
        c, t = pair_accuracy(learner.head, data.my_val, inputs.val, run.device, run.amp)
    c, t = run.dist.sum([float(c), float(t)], run.device)
    return (c / t) if t > 0 else None


def _record(run: _Run, data: _Data, inputs: _Inputs, learner: Learner, n: int, loss: float, lr: float) -> dict | None:
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
        crit = acc
        if inputs.selector is not None:  # best-pq: learner.best_acc holds the best PQ^Th
            rec.update(inputs.selector.score(learner.head))
            crit = pq_criterion(rec)
        if crit is not None and crit > learner.best_acc:
            learner.best_acc, learner.best_iteration, learner.best_state = crit, n, head_state(learner.head)
    learner.records.append(rec)
    return rec


# ---- finalize


def _finalize(run: _Run, data: _Data, learner: Learner) -> TrainResult:
    """Keep the best (or the last) head; rank 0 writes the head file and the JSON log."""
    cfg, dist, device = run.cfg, run.dist, run.device
    final_state = head_state(learner.head)
    chosen_it = cfg.iterations
    records = learner.records
    val_acc = records[-1].get("val_pair_accuracy") if records else None
    if cfg.select in ("best", "best-pq") and learner.best_state is not None and learner.best_acc >= 0:
        final_state = learner.best_state
        chosen_it = learner.best_iteration
        val_acc = learner.best_acc
        if cfg.select == "best-pq":  # the pair accuracy of the iteration kept
            val_acc = next((r.get("val_pair_accuracy") for r in records if r["iteration"] == chosen_it), None)
    out_head = new_head(cfg.head_type, cfg.head_width)
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
        "head_type": cfg.head_type,
        "head_width": cfg.head_width if cfg.head_type == "ocfusion" else None,
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
        cfg.head_type,
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
    "OPTIMIZERS",
    "ROI_SCHEMES",
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
