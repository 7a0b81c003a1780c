"""The training checkpoint (``--save-every``, ``--resume-from``): what an interrupted run
saved, checked against the options of the run that continues it, and atomic torch saves.

A checkpoint is one ``torch.save`` dict: ``format``, ``iteration``, ``config`` (the options
that must match, :data:`RESUME_KEYS`), ``world_size``, then the learner's state (the head,
optimiser, grad scaler, log records and the best head so far:
:meth:`rapkit.model.learner.Learner.state`).

>>> sorted(state_fingerprint(TrainConfig("m.pth", "imgs", "i.json", "r.json", "head.pt")))[:3]
['all_images', 'arch', 'batch_size']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, InputError
from ..io._atomic import atomic_path
from .train_config import TrainConfig

CHECKPOINT_FORMAT = "rapkit-train-checkpoint"

#: Options that must match between a run and the run it resumes.
RESUME_KEYS = (
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
    "head_type",
    "head_width",
    "bias_lr_factor",
    "bias_weight_decay",
    "rpn_mode",
    "all_images",
    "flip",
)
#: what a checkpoint saved before a key existed ran with
RESUME_DEFAULTS = {
    "head_type": "rap",
    "head_width": 512,
    "bias_lr_factor": 1.0,
    "bias_weight_decay": None,
    "rpn_mode": "eval",
    "all_images": False,
    "flip": False,
}


def state_fingerprint(cfg: TrainConfig) -> dict[str, Any]:
    """The options a checkpoint records and a resumed run must repeat."""
    return {k: getattr(cfg, k) for k in RESUME_KEYS}


def save_torch_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary sibling, renamed when complete (replaces ``path``)."""
    with atomic_path(path, force=True) as tmp:
        torch.save(obj, tmp)


def head_state(head: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``head``'s weights.

    >>> sorted(head_state(torch.nn.Linear(2, 1)))
    ['bias', 'weight']
    """
    return {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}


def load_resume_state(cfg: TrainConfig, world: int, say: Callable[[str], None]) -> dict | None:
    """The saved state to continue from with ``--resume`` (None: start at iteration 0).
    Refuses a checkpoint saved with other training options or another process count."""
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
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError("not a rapkit training checkpoint", file=ckpt_path)
    want = state_fingerprint(cfg)
    saved = {**RESUME_DEFAULTS, **state["config"]}
    diff = [k for k, v in want.items() if saved.get(k) != v]
    if diff:
        raise ConfigError(
            f"{ckpt_path}: cannot resume, options differ from the saved run: "
            + ", ".join(f"{k} (saved {saved.get(k)!r}, now {want[k]!r})" for k in diff)
        )
    if int(state.get("world_size", 1)) != world:
        raise ConfigError(f"{ckpt_path}: saved with {state.get('world_size')} processes, resumed with {world}")
    say(f"resuming from {ckpt_path} at iteration {int(state['iteration'])}")
    return state


def save_checkpoint(cfg: TrainConfig, world: int, it: int, learner_state: dict[str, Any]) -> None:
    """Write the state after iteration ``it`` atomically (what :func:`load_resume_state` reads)."""
    save_torch_atomic(
        {
            "format": CHECKPOINT_FORMAT,
            "iteration": it,
            "config": state_fingerprint(cfg),
            "world_size": world,
            **learner_state,
        },
        cfg.ckpt_path(),
    )


__all__ = [
    "CHECKPOINT_FORMAT",
    "RESUME_KEYS",
    "head_state",
    "load_resume_state",
    "save_checkpoint",
    "save_torch_atomic",
    "state_fingerprint",
]
