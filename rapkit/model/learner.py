"""The learning side of a training run: the head, its optimiser and grad scaler (one
:class:`Learner`, whose :meth:`~Learner.state` is what a checkpoint saves), the learning-rate
schedule, and one optimiser step on a :class:`~rapkit.model.batches.Batch`.

The head is made by a factory and scored by a batch loss, both parameters of
:func:`make_learner` (default: the paper's :class:`~rapkit.model.head.RelationHead` and
:func:`relation_head_loss`; the OCFusion pair head: :class:`~rapkit.model.ocfusion.OcclusionHead`
and :func:`ocfusion_batch_loss`), so the step itself knows no head type.

>>> lr_at(TrainConfig("m.pth", "imgs", "i.json", "r.json", "head.pt", iterations=10), 5)
0.0002
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .batches import Batch
from .checkpoint import head_state
from .device import Dist
from .head import RelationHead
from .loss import relation_loss
from .ocfusion import ocfusion_loss
from .train_config import TrainConfig

#: ``(model, x, batch, amp) -> loss``: a head's loss on a batch's head inputs ``x`` (float32,
#: on the device) and the batch's pairs (``batch.front``/``back``, indices into ``x``, and for
#: the OCFusion head ``target``/``weight``; the loss moves them to ``x``'s device).
BatchLoss = Callable[[nn.Module, torch.Tensor, Batch, bool], torch.Tensor]


def relation_head_loss(model: nn.Module, x: torch.Tensor, batch: Batch, amp: bool) -> torch.Tensor:
    """The relation head's loss (paper 3.3): one value per RoI (forward under autocast with
    ``amp``), then the mean of ``softplus(v_front - v_back)`` over the pairs, in float32.

    >>> b = Batch([1], [0], torch.zeros(2, 257, 14, 14), torch.tensor([0]), torch.tensor([1]))
    >>> round(relation_head_loss(RelationHead(), b.inputs, b, False).item(), 4)
    0.6931
    """
    with torch.autocast(x.device.type, enabled=amp):
        v = model(x)
    return relation_loss(v.float(), batch.front.to(x.device), batch.back.to(x.device))


def ocfusion_batch_loss(model: nn.Module, x: torch.Tensor, batch: Batch, amp: bool) -> torch.Tensor:
    """The OCFusion pair head's loss on a batch of ordered samples (a source with ``pair_cap``):
    :func:`rapkit.model.ocfusion.ocfusion_loss`.

    >>> from rapkit.model.ocfusion import OcclusionHead
    >>> b = Batch([1], [0], torch.zeros(2, 257, 14, 14), torch.tensor([0, 1]), torch.tensor([1, 0]),
    ...           target=torch.tensor([1.0, 0.0]), weight=torch.ones(2))
    >>> round(ocfusion_batch_loss(OcclusionHead(8), b.inputs, b, False).item(), 4)
    0.6931
    """
    if batch.target is None or batch.weight is None:
        raise ValueError("the OCFusion loss needs a batch of ordered samples (BatchSource.pair_cap)")
    dev = x.device
    return ocfusion_loss(
        model, x, batch.front.to(dev), batch.back.to(dev), batch.target.to(dev), batch.weight.to(dev), amp
    )


@dataclass
class Learner:
    """The head and everything a training checkpoint saves."""

    head: nn.Module
    model: nn.Module  # the head, or its DDP wrapper
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    amp: bool
    loss_fn: BatchLoss = relation_head_loss
    start_it: int = 0
    records: list[dict] = field(default_factory=list)
    best_acc: float = -1.0
    best_iteration: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    window: list[float] = field(default_factory=list)  # losses since the last record
    n_rois: int = 0  # training RoIs (all ranks)
    n_roi_pairs: int = 0  # RoI pairs of the loss (all ranks)

    def state(self) -> dict[str, Any]:
        """What a checkpoint saves of the learner (:func:`rapkit.model.checkpoint.save_checkpoint`)."""
        return {
            "head": head_state(self.head),
            "optimizer": self.opt.state_dict(),
            "scaler": self.scaler.state_dict() if self.amp else {},
            "records": self.records,
            "best_acc": self.best_acc,
            "best_iteration": self.best_iteration,
            "best_head": self.best_state,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state` (and its ``iteration``)."""
        self.head.load_state_dict(state["head"])
        self.opt.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.start_it = int(state["iteration"])
        self.records = list(state["records"])
        self.best_acc = float(state["best_acc"])
        self.best_iteration = int(state["best_iteration"])
        self.best_state = state.get("best_head")


def make_learner(
    cfg: TrainConfig,
    dist: Dist,
    device: torch.device,
    amp: bool,
    resume_state: dict | None,
    *,
    new_head: Callable[[], nn.Module] = RelationHead,
    loss_fn: BatchLoss = relation_head_loss,
) -> Learner:
    """The head (``new_head()``, initialised from ``cfg.seed``), its optimiser and grad
    scaler, restored from ``resume_state`` when resuming."""
    torch.manual_seed(cfg.seed)
    head = new_head().to(device)
    head.train()
    model: nn.Module = head
    if dist.active:
        model = nn.parallel.DistributedDataParallel(head, device_ids=[device.index] if device.type == "cuda" else None)
    groups = param_groups(head, cfg)
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    else:
        opt = torch.optim.Adam(groups, lr=cfg.lr)
    learner = Learner(head, model, opt, torch.amp.GradScaler("cuda", enabled=amp), device, amp, loss_fn)
    if resume_state is not None:
        learner.restore(resume_state)
    return learner


def param_groups(head: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the weights (``cfg.weight_decay``), then, when
    ``bias_lr_factor`` or ``bias_weight_decay`` sets them apart, the biases (lr x
    ``bias_lr_factor``, ``bias_weight_decay``), as the authors' maskrcnn-benchmark solver
    (``BIAS_LR_FACTOR`` 2, ``WEIGHT_DECAY_BIAS`` 0). Each group's ``lr_factor`` scales the
    schedule's lr (:func:`train_step`).

    >>> cfg = TrainConfig("m.pth", "imgs", "i.json", "r.json", "head.pt", bias_lr_factor=2.0, bias_weight_decay=0.0)
    >>> [(len(g["params"]), g["lr_factor"], g["weight_decay"]) for g in param_groups(RelationHead(), cfg)]
    [(6, 1.0, 0.0001), (6, 2.0, 0.0)]
    """
    bias_wd = cfg.weight_decay if cfg.bias_weight_decay is None else cfg.bias_weight_decay
    named = list(head.named_parameters())
    if cfg.bias_lr_factor == 1.0 and bias_wd == cfg.weight_decay:
        return [{"params": [p for _, p in named], "lr_factor": 1.0, "weight_decay": cfg.weight_decay}]
    weights = [p for n, p in named if not n.endswith("bias")]
    biases = [p for n, p in named if n.endswith("bias")]
    return [
        {"params": weights, "lr_factor": 1.0, "weight_decay": cfg.weight_decay},
        {"params": biases, "lr_factor": float(cfg.bias_lr_factor), "weight_decay": bias_wd},
    ]


def lr_at(cfg: TrainConfig, it: int) -> float:
    """The learning rate of iteration ``it``: ``cfg.lr``, / 10 from ``lr_drop`` of the run on."""
    return cfg.lr * (0.1 if it >= int(round(cfg.lr_drop * cfg.iterations)) and cfg.lr_drop < 1.0 else 1.0)


def train_step(learner: Learner, batch: Batch, lr: float) -> float:
    """One optimiser step of the head on ``batch`` at learning rate ``lr``; returns the loss."""
    device = learner.device
    x = batch.inputs.to(device, torch.float32, non_blocking=True)
    for g in learner.opt.param_groups:
        g["lr"] = lr * g.get("lr_factor", 1.0)
    loss = learner.loss_fn(learner.model, x, batch, learner.amp)
    learner.opt.zero_grad(set_to_none=True)
    learner.scaler.scale(loss).backward()
    learner.scaler.step(learner.opt)
    learner.scaler.update()
    return float(loss.detach())


__all__ = [
    "BatchLoss",
    "Learner",
    "lr_at",
    "make_learner",
    "ocfusion_batch_loss",
    "param_groups",
    "relation_head_loss",
    "train_step",
]
