"""``rapkit demo``: the whole pipeline on a synthetic world, in one call.

synth -> extract-relations -> a small threshold sweep (paper Table 1) -> fuse (heuristic and
RAP) -> evaluate (PQ, Boundary PQ, relation accuracy) -> ablation (paper Table 2) -> [learn relations ->
held-out comparison] -> pictures. One baseline throughout: the heuristic at rho = tau = 0.5,
as in the paper. RAP runs at the sweep's best setting (chosen on this same world with the
simulated values: a demonstration, not a held-out result), in the comparison, the ablation,
the relation accuracy and the held-out comparison alike. The first tables use the world's
simulated relation values.

**Learning** (when torch and torchvision import, ``train=True`` and the world has images):
the world is split by image order into a training split (the first
:data:`TRAIN_SHARE` of the images) and a held-out test split (the rest). A relation head is
trained on the training split on a *stand-in detector*, a randomly initialised
ResNet-18-FPN Mask R-CNN (:mod:`rapkit.model.demo`; random features, not COCO-trained), and
scores the test split's proposals through ``predict --proposals``. The test split is fused
five ways: the heuristic; at the same RAP setting, RAP with the simulated values, with
category-level values (a Bradley-Terry fit of the training split's relations,
:func:`rapkit.fit_category_order`) and with the learned values; and OCFusion (reference
variant, rho = tau = 0.5) with the pair logits of an OCFusion pair head trained the same way
(width :attr:`LearnSettings.pair_width <rapkit.model.demo.LearnSettings>`, 32: the authors'
512 is too slow for the demo). Each is scored (PQ, Boundary PQ and the Table-4 accuracies),
and the relation inference per image of the two heads is timed. Without torch the
demo says how to install it and stops at the simulated values; ``render_images=False``
(``--no-render``) leaves no images to train on and skips the step too.

Everything is written into OUT (atomically: an interrupted demo leaves nothing behind).
Metrics in the report are percentages; in :class:`DemoResult`, fractions.

>>> res = run_demo("demo-out", images=20)      # doctest: +SKIP
>>> res.pq["rap"]["Things"]["pq"]              # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.sweep import ablation_grid, make_grid
from ..io._atomic import atomic_path
from ..io.folders import make_folder
from ..io.jsonio import load_json, save_json
from ..io.pictures import picture_folder
from ..io.tables import write_dataframe
from ..synth import SynthConfig, make_world, world_summary
from ..types import FusionParams
from .category_order import fit_category_order
from .evaluate import evaluate_metrics
from .fuse import fuse
from .relation_acc import evaluate_relations
from .relations import extract_dataset_relations
from .show import show_compare, show_overlay, show_relations
from .sweep import run_sweep, without_unused_gamma

#: the hint printed when the learning step cannot run for want of torch
INSTALL_HINT = "pip install 'rapkit[train]'"
#: share of the world's images (the first ones, by image order) that train the relation head
TRAIN_SHARE = 0.6
#: fewest training-split images the learning step runs with
MIN_TRAIN_IMAGES = 8
#: training iterations of the learning step (``rapkit demo --train-iterations``)
TRAIN_ITERATIONS = 60
LEARNED_NOTE = "relation values learned on the training split (stand-in detector)"

RAP = FusionParams(strategy="rap", rho=0.6, tau=0.6, gamma=0.5)  # the paper's setting; the sweep's starting point
HEURISTIC = FusionParams.heuristic()  # rho = tau = 0.5: the one baseline
#: OCFusion in the held-out comparison: the RAP authors' re-implementation at the defaults (rho = tau = 0.5)
OCFUSION = FusionParams.of("ocfusion")
SWEEP_VALUES = {"rho": [0.5, 0.6], "tau": [0.5, 0.6], "gamma": [0.5, 0.6]}
RELATIONS_NOTE = "simulated relation values (synthetic world)"
#: the "next" block: the same pipeline on your own data
NEXT_STEPS = [
    "rapkit extract-relations --instances instances.json --panoptic panoptic.json -o relations.json",
    "rapkit fuse --proposals proposals.json --image-info panoptic.json --categories categories.json "
    "--semantic semantic/ -o fused",
    "rapkit evaluate --gt panoptic.json --pred fused/panoptic.json",
]


def setting_label(p: FusionParams) -> str:
    """``rho=0.6 tau=0.6 gamma=0.5`` (no gamma for the heuristic and OCFusion)."""
    if p.strategy in ("heuristic", "ocfusion"):
        return f"rho={p.rho:g} tau={p.tau:g}"
    return f"rho={p.rho:g} tau={p.tau:g} gamma={p.gamma:g}"


@dataclass
class DemoResult:
    """What :func:`run_demo` made and measured (metrics as fractions); its report (the
    paper-shaped tables) is :func:`rapkit.report.demo.demo_report`."""

    out: Path
    steps: list[tuple[str, str, float]] = field(default_factory=list)
    pq: dict[str, Any] = field(default_factory=dict)
    relation_accuracy: dict[str, Any] = field(default_factory=dict)
    rap_params: FusionParams = RAP
    ablation: Any = None
    sweep: Any = None
    pictures: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    #: the learning step: training summary, or ``{"skipped": reason}``
    learned: dict[str, Any] = field(default_factory=dict)
    #: the held-out comparison: split sizes and one row per fusion (fractions); empty when skipped
    heldout: dict[str, Any] = field(default_factory=dict)
    #: the PQ results of the heuristic and RAP fusions of the whole world
    evaluations: dict[str, Any] = field(default_factory=dict)
    #: their Boundary PQ results (PQResult), and as plain data (fractions)
    boundary_evaluations: dict[str, Any] = field(default_factory=dict)
    boundary_pq: dict[str, Any] = field(default_factory=dict)
    #: totals of the extracted GT relations
    relation_totals: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The demo's results as plain data (fractions; ``--format json`` prints them x100)."""
        return {
            "out": str(self.out),
            "seconds": self.seconds,
            "steps": [{"step": s, "result": w, "seconds": t} for s, w, t in self.steps],
            "baseline": HEURISTIC.to_dict(),
            "rap_params": self.rap_params.to_dict(),
            "relation_values": RELATIONS_NOTE,
            "relations": self.relation_totals,
            "pq": self.pq,
            "boundary_pq": self.boundary_pq,
            "relation_accuracy": self.relation_accuracy,
            "ablation": _rows_json(self.ablation.table),
            "sweep": _rows_json(self.sweep.table),
            "pictures": self.pictures,
            "learned": self.learned,
            "heldout": self.heldout,
            "next": NEXT_STEPS,
        }


def learning_unavailable() -> str | None:
    """Why the learning step cannot run here (torch or torchvision not importable), else None.
    Looks the modules up without importing them (``sys.modules[name] = None`` counts as
    missing)."""
    for name in ("torch", "torchvision"):
        try:
            if importlib.util.find_spec(name) is None:
                return f"{name} is not installed"
        except (ImportError, ValueError):
            return f"{name} is not importable"
    return None


def split_images(image_ids: list[int], share: float = TRAIN_SHARE) -> tuple[list[int], list[int]]:
    """The training split (the first ``round(share * n)`` ids, in the given order) and the
    held-out test split (the rest); each keeps at least one image when ``n >= 2``.

    >>> split_images([5, 6, 7, 8, 9])
    ([5, 6, 7], [8, 9])
    """
    n = len(image_ids)
    k = min(max(int(round(share * n)), 1), n - 1) if n >= 2 else n
    return list(image_ids[:k]), list(image_ids[k:])


def run_demo(
    out: str | os.PathLike,
    *,
    images: int = 100,
    height: int = 480,
    width: int = 640,
    seed: int = 0,
    workers: int = 1,
    force: bool = False,
    render_images: bool = True,
    train: bool = True,
    learn: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> DemoResult:
    """Run the demo pipeline into ``out``; returns its results (:class:`DemoResult`; its
    tables: :func:`rapkit.report.demo.demo_report`).

    ``train=False`` skips the learning step (as does ``render_images=False``, or torch not
    being installed: then the reason, with the install command, is logged and in the report).
    ``learn`` overrides fields of :class:`rapkit.model.demo.LearnSettings` (e.g.
    ``{"iterations": 50}``)."""

    say = log or (lambda s: None)
    bar = progress or (lambda name, total: lambda n=1: None)
    t_start = time.perf_counter()
    steps: list[tuple[str, str, float]] = []
    res = DemoResult(Path(out))
    skip = _skip_reason(train, render_images, images)
    n_steps = 8 if skip else 12

    def step(name: str, what: str, t0: float) -> None:
        dt = time.perf_counter() - t0
        steps.append((name, what, dt))
        say(f"[{len(steps)}/{n_steps}] {name}: {what} ({dt:.1f} s)")

    with atomic_path(out, force, directory=True) as tmp:
        t0 = time.perf_counter()
        cfg = SynthConfig(n_images=images, height=height, width=width, seed=seed, render_images=render_images)
        world = make_world(tmp / "world", cfg, workers=workers, progress=bar("synth", images))
        ws = world_summary(world)
        step("synth", f"{ws['images']} images, {ws['instances']} instances, {ws['proposals']} proposals", t0)

        t0 = time.perf_counter()
        rel = extract_dataset_relations(
            world.instances,
            world.panoptic,
            output=tmp / "relations.json",
            theta=0.2,
            workers=workers,
            progress=bar("relations", images),
        )
        step("extract-relations", f"{rel.totals['relations']} relations (theta 0.2)", t0)

        t0 = time.perf_counter()
        grid = make_grid(["rho", "tau", "gamma"], RAP, **SWEEP_VALUES)
        sw = run_sweep(
            world.panoptic,
            world.proposals,
            grid,
            semantic=world.semantic,
            workers=workers,
            swept=["rho", "tau", "gamma"],
            progress=bar("sweep", images),
        )
        write_dataframe(without_unused_gamma(sw.table), tmp / "sweep.csv")
        res.sweep = sw
        rap = res.rap_params = sw.grid[sw.best()]
        step("sweep", f"{len(grid)} settings + baseline -> sweep.csv; best {setting_label(rap)}", t0)

        evals, bevals = {}, {}
        for name, params in (("heuristic", HEURISTIC), ("rap", rap)):
            t0 = time.perf_counter()
            fdir = tmp / f"fused_{name}"
            summary = fuse(
                world.proposals,
                world.panoptic,
                world.categories,
                fdir,
                params,
                semantic=world.semantic,
                workers=workers,
                progress=bar(f"fuse {name}", images),
            )
            evs = evaluate_metrics(  # PQ and Boundary PQ from one read of each PNG pair
                world.panoptic,
                fdir / "panoptic.json",
                metrics=("pq", "boundary"),
                workers=workers,
                progress=bar(f"evaluate {name}", images),
            )
            evals[name], bevals[name] = evs["pq"].result, evs["boundary"].result
            step(
                f"fuse + evaluate ({name} {setting_label(params)})",
                f"kept {summary.kept} of {summary.proposals}, PQ {100 * evals[name].all.pq:.1f}, "
                f"Boundary PQ {100 * bevals[name].all.pq:.1f}",
                t0,
            )
        res.pq = {k: v.to_dict() for k, v in evals.items()}
        res.boundary_pq = {k: v.to_dict() for k, v in bevals.items()}
        res.boundary_evaluations = bevals

        t0 = time.perf_counter()
        racc = evaluate_relations(
            relations=tmp / "relations.json",
            proposals=world.proposals,
            instances=world.instances,
            params=rap,
            workers=workers,
            progress=bar("relation accuracy", images),
        ).summary
        res.relation_accuracy = racc
        step("relation accuracy", f"{racc['pairs']} matched GT pairs", t0)

        t0 = time.perf_counter()
        # Table 2's RAP rows at the chosen setting; the heuristic row is the baseline (rho = tau = 0.5)
        rows = [(lab, p) for lab, p in ablation_grid(rap) if p.strategy != "heuristic"]
        abl = run_sweep(
            world.panoptic,
            world.proposals,
            rows,
            semantic=world.semantic,
            workers=workers,
            progress=bar("ablation", images),
        )
        write_dataframe(without_unused_gamma(abl.table), tmp / "ablation.csv")
        res.ablation = abl
        step("ablation", "3 RAP rows + the heuristic baseline -> ablation.csv", t0)

        if skip:
            res.learned = {"skipped": skip}
            say(f"learning step skipped: {skip}")
        else:
            _learn_and_compare(
                tmp, world, res, rap, seed=seed, workers=workers, learn=learn, step=step, say=say, bar=bar
            )

        t0 = time.perf_counter()
        res.pictures = _pictures(tmp, world, workers, n=min(3, images))
        step("pictures", f"{sum(len(v) for v in res.pictures.values())} PNGs -> pictures/", t0)

    res.steps = steps
    res.seconds = time.perf_counter() - t_start
    res.evaluations = evals
    res.relation_totals = dict(rel.totals)
    return res


def _skip_reason(train: bool, render_images: bool, images: int) -> str | None:
    """Why the learning step does not run (None: it runs)."""
    if not train:
        return "--no-train"
    if not render_images:
        return "--no-render: the world has no images to train on (drop --no-render to learn relation values)"
    if round(TRAIN_SHARE * images) < MIN_TRAIN_IMAGES:
        need = math.ceil((MIN_TRAIN_IMAGES - 0.5) / TRAIN_SHARE)
        return f"too few images to train on (the training split needs {MIN_TRAIN_IMAGES}; use -n {need} or more)"
    missing = learning_unavailable()
    if missing:
        return f"{missing}; {INSTALL_HINT} to learn relation values (the demo goes on with the simulated ones)"
    return None


def _subset_coco(doc: dict[str, Any], keep: set[int]) -> dict[str, Any]:
    """A COCO JSON (instances or panoptic) restricted to the images in ``keep``."""
    out = dict(doc)
    out["images"] = [im for im in doc["images"] if im["id"] in keep]
    out["annotations"] = [a for a in doc["annotations"] if a["image_id"] in keep]
    return out


def _subset_relations(doc: dict[str, Any], keep: set[int]) -> dict[str, Any]:
    """A relations JSON restricted to the images in ``keep``, its totals recounted."""
    out = dict(doc)
    ims = [im for im in doc["images"] if im["image_id"] in keep]
    count = {
        "instances": lambda im: im["instances"],
        "crowd": lambda im: im["crowd"],
        "matched": lambda im: im["matched"],
        "unmatched": lambda im: len(im["unmatched"]),
        "candidate_pairs": lambda im: im["candidate_pairs"],
        "relations": lambda im: len(im["relations"]),
        "ties": lambda im: len(im["ties"]),
        "hidden": lambda im: len(im["hidden"]),
    }
    out["totals"] = {"images": len(ims), **{k: int(sum(f(im) for im in ims)) for k, f in count.items()}}
    out["images"] = ims
    return out


def _learn_and_compare(
    tmp: Path,
    world: Any,
    res: DemoResult,
    rap: FusionParams,
    *,
    seed: int,
    workers: int,
    learn: dict[str, Any] | None,
    step: Callable[[str, str, float], None],
    say: Callable[[str], None],
    bar: Callable[[str, int], Callable[[int], None]],
) -> None:
    """Steps 8-11: split, train the relation head and the OCFusion pair head on the training
    split, predict the test split's relation values and pair logits, fit the category-level
    values, fuse and score the test split five ways (fills ``res.learned`` / ``res.heldout``)."""
    from ..model.demo import STANDIN_NOTE, LearnInputs, LearnSettings, learn_relations  # torch: optional extra

    t0 = time.perf_counter()
    settings = dataclasses.replace(LearnSettings(), **{"iterations": TRAIN_ITERATIONS, **(learn or {})})
    inst = load_json(world.instances, "instances")
    ids = [int(im["id"]) for im in inst["images"]]
    train_ids, test_ids = split_images(ids)
    tr, te = set(train_ids), set(test_ids)
    rel = load_json(tmp / "relations.json", "relations")
    ldir, hdir = tmp / "learn", tmp / "heldout"
    make_folder(ldir)
    make_folder(hdir)
    save_json(ldir / "relations_train.json", _subset_relations(rel, tr))
    save_json(hdir / "relations.json", _subset_relations(rel, te))
    save_json(hdir / "instances.json", _subset_coco(inst, te))
    save_json(hdir / "panoptic.json", _subset_coco(load_json(world.panoptic, "panoptic"), te))
    props = [p for p in load_json(world.proposals, "proposals") if int(p["image_id"]) in te]
    save_json(hdir / "proposals_simulated.json", props)
    say(
        f"  split: {len(train_ids)} training images (ids {train_ids[0]}-{train_ids[-1]}), "
        f"{len(test_ids)} held-out test images (ids {test_ids[0]}-{test_ids[-1]})"
    )
    say(f"  {STANDIN_NOTE}")
    n_things = sum(1 for c in inst["categories"] if c.get("isthing", 1))
    inputs = LearnInputs(
        folder=ldir,
        images=Path(world.images_dir),
        instances=Path(world.instances),
        train_relations=ldir / "relations_train.json",
        num_classes=n_things + 1,
        test_image_info=hdir / "panoptic.json",
        test_proposals=hdir / "proposals_simulated.json",
        head=ldir / "head.pt",
        learned_proposals=hdir / "proposals_learned.json",
        pair_head=ldir / "pair_head.pt",
        pair_proposals=hdir / "proposals_ocfusion.json",
    )
    tick = bar("train head", settings.iterations)

    def trained(tr_res: Any, seconds: float) -> None:
        acc = tr_res.val_pair_accuracy
        sel = f"{100 * acc:.1f}% at iteration {tr_res.best_iteration}" if acc is not None else "none"
        step(
            "train relation head",
            f"{tr_res.n_train_images} training images, {tr_res.n_train_pairs} pairs, {settings.iterations} iterations "
            f"({settings.rois}); validation pair accuracy {sel} -> learn/head.pt",
            t0,
        )

    out = learn_relations(
        inputs,
        settings,
        seed=seed,
        on_trained=trained,
        on_cache=bar("head inputs", len(train_ids)),
        on_step=lambda r: tick(1),
        on_predict=bar("predict", len(test_ids)),
    )
    step(
        "predict --proposals",
        f"learned relation values for {out.predict.detections} proposals of the {len(test_ids)} test images",
        time.perf_counter() - out.predict_seconds,
    )
    pt = out.pair_train
    step(
        f"train OCFusion pair head (width {settings.pair_width}) + predict",
        f"{pt.n_train_pairs} pairs, {settings.iterations} iterations; occludes logits for "
        f"{out.pair_predict.pairs} ordered pairs of the test images -> learn/pair_head.pt",
        time.perf_counter() - out.pair_train_seconds - out.pair_predict_seconds,
    )
    rap_ms = out.predict.ms_per_image()
    pair_ms = out.pair_predict.ms_per_image()
    tr_res = out.train
    res.learned = {
        "detector": STANDIN_NOTE,
        "arch": "resnet18_fpn",
        "settings": settings.to_dict(),
        "train_images": len(train_ids),
        "test_images": len(test_ids),
        "head": "learn/head.pt",
        "log": "learn/head.log.json",
        "train_images_used": tr_res.n_train_images,
        "train_pairs": tr_res.n_train_pairs,
        "val_pairs": tr_res.n_val_pairs,
        "val_pair_accuracy": tr_res.val_pair_accuracy,
        "best_iteration": tr_res.best_iteration,
        "train_seconds": out.train_seconds,
        "predict_seconds": out.predict_seconds,
        "pair_head": "learn/pair_head.pt",
        "pair_width": settings.pair_width,
        "pair_train_pairs": pt.n_train_pairs,
        "pair_val_accuracy": pt.val_pair_accuracy,
        "pair_train_seconds": out.pair_train_seconds,
        "pair_predict_seconds": out.pair_predict_seconds,
        "pairs_scored": out.pair_predict.pairs,
        "replay_calls": out.pair_predict.replay_calls,
    }
    # relation inference per test image (paper Table 5's first column), and the detector's forward
    timing = {
        "rap_head_ms": rap_ms.get("head", 0.0),
        "pair_head_batched_ms": pair_ms.get("pair_head", 0.0),
        "pair_head_replay_ms": pair_ms.get("pair_head_replay", 0.0),
        "detector_ms": rap_ms.get("detector", 0.0),
    }

    t0 = time.perf_counter()
    fit_category_order(
        train_relations=ldir / "relations_train.json",
        train_instances=world.instances,
        proposals=hdir / "proposals_simulated.json",
        output=hdir / "proposals_category.json",
    )

    rows = []
    for name, params, values, proposals in (
        ("heuristic", HEURISTIC, "none (score order)", hdir / "proposals_simulated.json"),
        ("rap_simulated", rap, "simulated", hdir / "proposals_simulated.json"),
        ("category_order", rap, "per category (Bradley-Terry, training split)", hdir / "proposals_category.json"),
        (
            "ocfusion_learned",
            OCFUSION,
            f"learned pair logits (pair head width {settings.pair_width})",
            hdir / "proposals_ocfusion.json",
        ),
        ("rap_learned", rap, "learned", hdir / "proposals_learned.json"),
    ):
        fdir = hdir / f"fused_{name}"
        fuse(
            proposals,
            hdir / "panoptic.json",
            world.categories,
            fdir,
            params,
            semantic=world.semantic,
            workers=workers,
        )
        evs = evaluate_metrics(
            hdir / "panoptic.json",
            fdir / "panoptic.json",
            gt_dir=world.panoptic_dir,
            metrics=("pq", "boundary"),
            workers=workers,
        )
        acc = evaluate_relations(
            relations=hdir / "relations.json",
            proposals=proposals,
            instances=hdir / "instances.json",
            params=params,
            workers=workers,
        ).summary
        r, b = evs["pq"].result, evs["boundary"].result
        if params.strategy == "heuristic":  # no relation values: only the score order is an order
            acc["fusion_accuracy"] = acc["pair_accuracy"] = float("nan")
        if params.strategy == "ocfusion":  # pair decisions, no relation values to compare over all GT pairs
            acc["pair_accuracy"] = float("nan")
        rows.append(
            {
                "fusion": name,
                "relation_values": values,
                "params": params.to_dict(),
                "pq": r.all.pq,
                "sq": r.all.sq,
                "rq": r.all.rq,
                "pq_th": r.things.pq,
                "pq_st": r.stuff.pq,
                "bpq": b.all.pq,
                "bpq_th": b.things.pq,
                "bpq_st": b.stuff.pq,
                **{
                    k: acc[k]
                    for k in (
                        "fusion_accuracy",
                        "fusion_score_order_accuracy",
                        "pair_accuracy",
                        "pair_score_order_accuracy",
                    )
                },
                "fusion_pairs": acc["fusion_pairs"],
                "pairs": acc["pairs"],
            }
        )
    res.heldout = {
        "train_images": len(train_ids),
        "test_images": len(test_ids),
        "test_image_ids": [test_ids[0], test_ids[-1]],
        "rap_params": rap.to_dict(),
        "ocfusion_params": OCFUSION.to_dict(),
        "pair_width": settings.pair_width,
        "timing": timing,
        "rows": rows,
    }
    by = {r["fusion"]: r for r in rows}
    step(
        "held-out comparison",
        f"{len(test_ids)} test images fused {len(rows)} ways; PQ_th heuristic {100 * by['heuristic']['pq_th']:.1f}, "
        f"category-level {100 * by['category_order']['pq_th']:.1f}, "
        f"OCFusion learned {100 * by['ocfusion_learned']['pq_th']:.1f}, "
        f"RAP learned {100 * by['rap_learned']['pq_th']:.1f} -> heldout/",
        t0,
    )


def _pictures(tmp: Path, world: Any, workers: int, n: int) -> dict[str, list[str]]:
    """``pictures/overlay`` (RAP's result on the first ``n`` images), ``pictures/compare``
    (heuristic vs RAP against the GT on the ``n`` images where their PQ differs most) and
    ``pictures/relations`` (the GT relations, coloured by the simulated relation values)."""

    pics = picture_folder(tmp / "pictures")
    images = world.images_dir if Path(world.images_dir).is_dir() else None
    made = {
        "overlay": show_overlay(
            tmp / "fused_rap" / "panoptic.json", pics / "overlay", images_dir=images, first=n, workers=workers
        ),
        "compare": show_compare(
            tmp / "fused_heuristic" / "panoptic.json",
            tmp / "fused_rap" / "panoptic.json",
            pics / "compare",
            gt_path=world.panoptic,
            labels=("heuristic", "rap"),
            images_dir=images,
            top=n,
            workers=workers,
        ),
        "relations": show_relations(
            tmp / "relations.json",
            world.instances,
            pics / "relations",
            images_dir=images,
            proposals_path=world.proposals,
            first=n,
            workers=workers,
        ),
    }
    return {kind: [f"pictures/{kind}/{Path(p['path']).name}" for p in r.pictures] for kind, r in made.items()}


def _rows_json(df: Any) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for _, row in without_unused_gamma(df).iterrows()
    ]
