"""Dataset-level PQ evaluation and the panoptic sanity check (io + core + process pool).

:func:`evaluate_pq` matches GT and prediction annotations by image id, streams the images
through a bounded process pool (each worker reads both PNGs with the fused fast path and
returns a per-image :class:`~rapkit.core.pq.PQStats`), merges the statistics and summarizes
them: the numbers ``==`` panopticapi's ``pq_compute`` run with one process.

:func:`check_panoptic` reports what makes PQ wrong or crash: GT ``area`` fields that
disagree with the PNG (the cause of PQ > 100), ids in the PNG but not in the JSON, segments
in the JSON but not in the PNG, duplicate segment ids, unknown categories, PNG sizes that
disagree with the ``images`` entry, missing or undecodable PNGs.

>>> ev, report = evaluate_pq("gt/panoptic.json", "out/panoptic.json", workers=2)   # doctest: +SKIP
>>> ev.result.all.pq                                                              # doctest: +SKIP
0.4312...
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.parallel import imap_ordered
from ..core.pq import PQResult, PQStats, merge_stats, summarize
from ..errors import InputError
from ..io.jsonio import load_json
from ..io.panoptic import PanopticDataset, load_panoptic
from ..report import Report, Table
from ..types import Category

# --------------------------------------------------------------------------- evaluation


@dataclass
class PQEvaluation:
    """What :func:`evaluate_pq` found: the summary, the merged statistics, bookkeeping."""

    result: PQResult
    stats: PQStats
    categories: dict[int, Category]
    n_images: int
    ignored_pred_images: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = self.result.to_dict()
        d["ignored_pred_images"] = list(self.ignored_pred_images)
        d["warnings"] = list(self.warnings)
        return d


# modules the forkserver loads once for all workers (kernels from numba's cache, the task code)
_PRELOAD = ("rapkit.kernels.warm", "rapkit.io.png", "rapkit.core.pq", "rapkit.pipeline.evaluate")


def _image_task(task: tuple, category_ids: frozenset[int]) -> PQStats:
    order, image_id, gt_png, pred_png, gt_segs, pred_segs, fast = task
    from ..core.pq import pq_stats
    from ..io.png import read_pair_histogram

    hist = read_pair_histogram(gt_png, pred_png, image_id=image_id, fast=fast)
    try:
        return pq_stats(hist, gt_segs, pred_segs, category_ids, image_id=image_id, order=order)
    except InputError as e:
        raise e.with_context(file=pred_png)


def _chunk_task(job: tuple[frozenset[int], list[tuple]]) -> tuple[int, PQStats]:
    # several images per task: fewer round trips and one merged result to send back
    category_ids, chunk = job
    return len(chunk), merge_stats([_image_task(t, category_ids) for t in chunk])


def _tune_worker_allocator() -> None:
    # Each image inflates two ~1 MB buffers; with glibc's defaults a fresh worker maps and
    # unmaps them per image (hundreds of page faults each). Keep them in the heap.
    from .fuse import tune_allocator

    tune_allocator()


def _chunks(items: Any, size: int) -> Any:
    buf: list = []
    for it in items:
        buf.append(it)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def load_gt_pred(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
) -> tuple[PanopticDataset, PanopticDataset, dict[int, Category]]:
    """Load a GT and a prediction panoptic JSON; categories come from the GT (as panopticapi).
    Segments are compact ``(id, category_id, area, iscrowd)`` tuples (what PQ needs)."""
    gt = load_panoptic(gt_json, gt_dir, compact=True)
    if not gt.categories:
        raise InputError("the GT panoptic JSON has no 'categories' list (PQ needs isthing per class)", file=gt_json)
    pred = load_panoptic(pred_json, pred_dir, check_categories=False, compact=True)
    for d, what in ((gt, "GT"), (pred, "prediction")):
        if not d.png_dir.is_dir():
            raise InputError(f"{what} PNG folder {d.png_dir} does not exist (pass --{'gt' if what == 'GT' else 'pred'}-dir)", file=d.json_path)
    return gt, pred, gt.categories


def evaluate_pq(
    gt_json: str | os.PathLike,
    pred_json: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    *,
    workers: int = 1,
    per_class: bool = False,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[PQEvaluation, Report]:
    """PQ / SQ / RQ of a panoptic prediction against a panoptic GT (panopticapi-exact).

    Images are evaluated in the order of the GT ``annotations``; every GT image needs a
    prediction (else :class:`InputError`); predictions for images not in the GT are ignored,
    counted and warned about. ``workers`` > 1 uses a process pool; the result is the same
    bit for bit. ``progress(n)`` is called as images complete.

    >>> ev, rep = evaluate_pq("gt.json", "pred.json")   # doctest: +SKIP
    """
    if workers > 1 and fast:
        from ..core.parallel import prestart

        # fork (single-threaded caller): workers inherit the kernels loaded here; otherwise
        # the forkserver loads them once, booting while the JSON files are read
        prestart(_PRELOAD, prefer_fork=True)
        if threading.active_count() == 1 and not os.environ.get("RAPKIT_MP_START"):
            import rapkit.kernels.warm  # noqa: F401
    gt, pred, cats = load_gt_pred(gt_json, pred_json, gt_dir, pred_dir)
    ignored = [iid for iid in pred.annotations if iid not in gt.annotations]
    warnings = []
    if ignored:
        shown = ", ".join(str(i) for i in ignored[:5]) + (", ..." if len(ignored) > 5 else "")
        warnings.append(f"{len(ignored)} predicted image(s) not in the GT were ignored: {shown}")
    missing = [iid for iid in gt.annotations if iid not in pred.annotations]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"no prediction for this GT image{more}", file=pred_json, image_id=missing[0])

    def tasks():
        for order, (iid, ga) in enumerate(gt.annotations.items()):
            pa = pred.annotations[iid]
            yield (
                order,
                iid,
                str(gt.png_dir / ga.file_name),
                str(pred.png_dir / pa.file_name),
                ga.segments,
                pa.segments,
                fast,
            )

    n = len(gt.annotations)
    size = 1 if workers <= 1 else max(1, min(32, n // (8 * workers)))
    parts = []
    cat_ids = frozenset(cats)
    for k, st in imap_ordered(
        _chunk_task,
        ((cat_ids, chunk) for chunk in _chunks(tasks(), size)),
        workers,
        initializer=_tune_worker_allocator if workers > 1 else None,
        preload=(_PRELOAD if fast else ()),
        prefer_fork=True,
    ):
        parts.append(st)
        if progress is not None:
            progress(k)
    stats = merge_stats(parts)
    result = summarize(stats, cats)
    ev = PQEvaluation(result, stats, cats, stats.n_images, ignored, warnings)
    return ev, pq_report(ev, per_class=per_class)


def pq_compute(
    gt_json_file: str | os.PathLike,
    pred_json_file: str | os.PathLike,
    gt_folder: str | os.PathLike | None = None,
    pred_folder: str | os.PathLike | None = None,
    *,
    workers: int = 1,
) -> dict[str, Any]:
    """Drop-in for ``panopticapi.evaluation.pq_compute``: same arguments, same return dict
    (``All``/``Things``/``Stuff`` with ``pq sq rq n``, ``per_class``), values ``==``
    panopticapi run with one process. Prints nothing; errors are :class:`InputError`.

    >>> res = pq_compute("panoptic_val2017.json", "predictions.json")   # doctest: +SKIP
    >>> res["All"]["pq"]                                              # doctest: +SKIP
    """
    ev, _ = evaluate_pq(gt_json_file, pred_json_file, gt_folder, pred_folder, workers=workers)
    return ev.result.to_panopticapi()


def _pct(v: float) -> float:
    return 100.0 * v


def pq_report(ev: PQEvaluation, per_class: bool = False) -> Report:
    """The familiar PQ table (All / Things / Stuff x PQ SQ RQ N, x100), per-class rows with
    TP/FP/FN when ``per_class``; JSON data with fractions."""
    r = ev.result
    rows = [[name, _pct(s.pq), _pct(s.sq), _pct(s.rq), s.n] for name, s in (("All", r.all), ("Things", r.things), ("Stuff", r.stuff))]
    tables = [Table("pq", ["", "PQ", "SQ", "RQ", "N"], rows, title=f"Panoptic quality ({ev.n_images} images)")]
    if per_class:
        present = [c for c in r.per_class.values() if c.tp + c.fp + c.fn > 0]
        crow = [
            [c.name, c.category_id, "thing" if c.isthing else "stuff", _pct(c.pq), _pct(c.sq), _pct(c.rq), c.tp, c.fp, c.fn]
            for c in present
        ]
        absent = len(r.per_class) - len(present)
        title = "Per class" + (f" ({absent} classes absent from GT and prediction not shown)" if absent else "")
        tables.append(Table("per_class", ["class", "id", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"], crow, title=title))
    data = ev.to_dict()
    if not per_class:
        data.pop("per_class", None)
    return Report("evaluate", data, tables)


# --------------------------------------------------------------------------- the command


@dataclass
class EvaluateOutput:
    """What ``rapkit evaluate`` (plain mode) prints: one combined report, plus the parts."""

    report: Report
    evaluation: PQEvaluation | None
    relation_stats: Any = None
    checks: list[tuple[str, CheckResult]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def combine_reports(kind: str, parts: list[tuple[str | None, Report]]) -> Report:
    """One report from several: tables concatenated; data of a named part under its name,
    of an unnamed part at top level."""
    data: dict[str, Any] = {}
    tables: list[Table] = []
    notes: list[str] = []
    for key, r in parts:
        if key is None:
            data.update(r.data)
        else:
            data[key] = r.data
        tables.extend(r.tables)
        notes.extend(r.notes)
    return Report(kind, data, tables, notes)


def evaluate_command(
    gt_json: str | os.PathLike | None,
    pred_json: str | os.PathLike | None,
    *,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    workers: int = 1,
    per_class: bool = False,
    fast: bool = True,
    check: bool = False,
    relations: tuple | None = None,
    progress: Callable[[int], None] | None = None,
    on_report: Callable[[Report], None] | None = None,
) -> EvaluateOutput:
    """Everything ``rapkit evaluate`` does in plain mode, as one call.

    ``check`` first runs :func:`check_panoptic` on the GT and the prediction (when the
    evaluation then fails, the check report is handed to ``on_report`` before the error
    propagates). ``relations`` = ``(relations.json, proposals.json, instances.json,
    FusionParams)`` adds relation accuracy.

    >>> out = evaluate_command("gt.json", "pred.json", check=True)   # doctest: +SKIP
    """
    parts: list[tuple[str | None, Report]] = []
    checks: list[tuple[str, CheckResult]] = []
    ev = None
    warnings: list[str] = []
    if check and gt_json is not None and pred_json is not None:
        from ..io.panoptic import load_categories

        gt_res = check_panoptic(gt_json, gt_dir, gt=True, workers=workers, progress=progress)
        try:
            cats = load_categories(gt_json)
        except InputError:
            cats = None
        pred_res = check_panoptic(pred_json, pred_dir, gt=False, categories=cats, workers=workers, progress=progress)
        checks = [("GT", gt_res), ("prediction", pred_res)]
        parts.append(("check", check_report(checks)))
    try:
        if gt_json is not None and pred_json is not None:
            ev, rep = evaluate_pq(gt_json, pred_json, gt_dir, pred_dir, workers=workers, per_class=per_class,
                                  fast=fast, progress=progress)
            warnings.extend(ev.warnings)
            parts.append((None, rep))
    except InputError:
        if parts and on_report is not None:
            on_report(combine_reports("check", parts))
        raise
    rel_stats = None
    if relations is not None:
        from .relation_acc import evaluate_relations

        rel_path, prop_path, inst_path, params = relations
        rel_stats, rrep = evaluate_relations(prop_path, inst_path, rel_path, params, workers=workers, progress=progress)
        parts.append((None, rrep))
    return EvaluateOutput(combine_reports("evaluate", parts), ev, rel_stats, checks, warnings)


# --------------------------------------------------------------------------- gates

GATE_KEYS = {
    "PQ": ("all", "pq"), "SQ": ("all", "sq"), "RQ": ("all", "rq"),
    "PQ_th": ("things", "pq"), "SQ_th": ("things", "sq"), "RQ_th": ("things", "rq"),
    "PQ_st": ("stuff", "pq"), "SQ_st": ("stuff", "sq"), "RQ_st": ("stuff", "rq"),
}


def parse_gates(spec: str | None) -> dict[str, float]:
    """``"PQ=50,PQ_th=40"`` -> ``{"PQ": 50.0, "PQ_th": 40.0}`` (values x100, keys
    case-insensitive: PQ SQ RQ, with _th / _st for Things / Stuff).

    >>> parse_gates("pq=50, RQ_st=40.5")
    {'PQ': 50.0, 'RQ_st': 40.5}
    """
    from ..errors import ConfigError

    out: dict[str, float] = {}
    if not spec:
        return out
    lookup = {k.lower(): k for k in GATE_KEYS}
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        k = lookup.get(key.strip().lower())
        if not sep or k is None:
            raise ConfigError(f"--fail-under: {part!r} is not KEY=VALUE with KEY one of {', '.join(GATE_KEYS)}")
        try:
            out[k] = float(val)
        except ValueError:
            raise ConfigError(f"--fail-under: {val.strip()!r} is not a number (in {part!r})") from None
    return out


def check_gates(result: PQResult, gates: dict[str, float]) -> list[str]:
    """The gates ``result`` fails (NaN fails), as messages; empty when all pass.

    >>> from rapkit.core.pq import PQStats, summarize
    >>> check_gates(summarize(PQStats(), {}), {"PQ": 1.0})
    ['PQ nan < 1']
    """
    failed = []
    for key, bar in gates.items():
        split, metric = GATE_KEYS[key]
        v = 100.0 * getattr(result.split(split), metric)
        if not v >= bar:
            failed.append(f"{key} {v:.4g} < {bar:g}")
    return failed


# --------------------------------------------------------------------------- check


@dataclass(frozen=True)
class Issue:
    """One finding of :func:`check_panoptic`. ``level`` is ``error`` (PQ wrong or crash) or
    ``warning``."""

    level: str
    kind: str
    image_id: Any
    segment_id: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "kind": self.kind, "image_id": self.image_id, "segment_id": self.segment_id, "message": self.message}


@dataclass
class CheckResult:
    """Findings of :func:`check_panoptic` for one panoptic JSON + PNG folder."""

    json_path: str
    png_dir: str
    n_images: int
    n_segments: int
    issues: list[Issue]
    png_kinds: dict[str, int]

    @property
    def n_errors(self) -> int:
        return sum(1 for i in self.issues if i.level == "error")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.issues:
            out[i.kind] = out.get(i.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "json": self.json_path,
            "png_dir": self.png_dir,
            "n_images": self.n_images,
            "n_segments": self.n_segments,
            "n_errors": self.n_errors,
            "counts": self.counts(),
            "png_kinds": self.png_kinds,
            "issues": [i.to_dict() for i in self.issues],
        }


def _check_task(task: tuple) -> tuple[list[Issue], str]:
    iid, png, segs, shape, is_gt = task
    import numpy as np

    from ..io.png import png_kind, read_id_map_fast

    issues: list[Issue] = []
    kind = "missing"
    try:
        kind = png_kind(png)
        ids = read_id_map_fast(png, image_id=iid)
    except InputError as e:
        return [Issue("error", "png", iid, None, e.message + f" ({png})")], kind
    except OSError as e:
        return [Issue("error", "png", iid, None, f"cannot read PNG {png}: {e.strerror}")], kind
    if shape is not None and tuple(ids.shape) != tuple(shape):
        issues.append(Issue("error", "size", iid, None, f"PNG is {ids.shape[1]}x{ids.shape[0]}, the images entry says {shape[1]}x{shape[0]}"))
    uniq, cnt = np.unique(ids, return_counts=True)
    area = dict(zip(uniq.tolist(), cnt.tolist()))
    json_ids = {s["id"] for s in segs}
    for sid in sorted(area):
        if sid != 0 and sid not in json_ids:
            issues.append(Issue("error", "id_not_in_json", iid, sid, f"id in the PNG ({area[sid]} pixels) but not in the JSON"))
    for s in segs:
        sid = s["id"]
        if sid not in area:
            issues.append(Issue("error" if not is_gt else "warning", "segment_not_in_png", iid, sid, "segment in the JSON but not in the PNG"))
        elif is_gt and s.get("area") is not None and s["area"] != area[sid]:
            issues.append(
                Issue("error", "area_mismatch", iid, sid, f"JSON area {s['area']} but the PNG has {area[sid]} pixels (can push PQ above 100)")
            )
    return issues, kind


def check_panoptic(
    json_path: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    *,
    gt: bool = True,
    categories: dict[int, Category] | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> CheckResult:
    """Sanity report of a panoptic JSON + PNG folder (GT when ``gt``, else a prediction).

    Never raises for data problems (except an unreadable JSON): each becomes an
    :class:`Issue`. For a GT, ``area`` fields are compared with the PNG.

    >>> res = check_panoptic("panoptic_val2017.json")   # doctest: +SKIP
    >>> res.counts()                                     # doctest: +SKIP
    {'area_mismatch': 3}
    """
    from ..io.panoptic import default_png_dir, parse_categories, parse_images

    data = load_json(json_path, "panoptic")
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise InputError("not a COCO panoptic JSON (no 'annotations' list)", file=json_path)
    pdir = Path(png_dir) if png_dir is not None else default_png_dir(json_path)
    issues: list[Issue] = []
    try:
        images = parse_images(data, json_path) if "images" in data else {}
    except InputError as e:
        issues.append(Issue("error", "images", e.image_id, None, e.message))
        images = {}
    cats = categories
    if cats is None and "categories" in data:
        try:
            cats = parse_categories(data["categories"], json_path)
        except InputError as e:
            issues.append(Issue("error", "categories", None, None, e.message))
    if gt and not cats:
        issues.append(Issue("error", "categories", None, None, "no categories: PQ needs the GT 'categories' list"))
    tasks = []
    n_segments = 0
    seen_images: set[int] = set()
    for k, a in enumerate(data["annotations"]):
        if not isinstance(a, dict) or "image_id" not in a or not isinstance(a.get("segments_info"), list):
            issues.append(Issue("error", "annotation", None, None, f"annotation #{k} needs image_id and a segments_info list"))
            continue
        iid = a["image_id"]
        if iid in seen_images:
            issues.append(Issue("error", "duplicate_image", iid, None, "two annotations for this image"))
            continue
        seen_images.add(iid)
        segs = []
        ids_seen: set[Any] = set()
        for s in a["segments_info"]:
            n_segments += 1
            if not isinstance(s, dict) or "id" not in s or "category_id" not in s:
                issues.append(Issue("error", "segment", iid, None, "segments_info entry needs id and category_id"))
                continue
            sid = s["id"]
            if sid in ids_seen:
                issues.append(Issue("error", "duplicate_segment_id", iid, sid, "duplicate segment id"))
                continue
            ids_seen.add(sid)
            if sid == 0:
                issues.append(Issue("error", "segment_id_zero", iid, 0, "segment id 0 is VOID"))
            if cats and s["category_id"] not in cats:
                issues.append(Issue("error", "unknown_category", iid, sid, f"unknown category_id {s['category_id']}"))
            if gt and "area" not in s:
                issues.append(Issue("error", "no_area", iid, sid, "GT segment without 'area' (panopticapi needs it)"))
            if s.get("iscrowd", 0) not in (0, 1):
                issues.append(Issue("warning", "iscrowd", iid, sid, f"iscrowd is {s.get('iscrowd')!r} (only 1 counts as crowd)"))
            segs.append({"id": sid, "area": s.get("area")})
        info = images.get(iid) if isinstance(iid, int) else None
        fname = a.get("file_name") or f"{iid:012d}.png"
        tasks.append((iid, str(pdir / fname), segs, (info.height, info.width) if info else None, gt))
    png_kinds: dict[str, int] = {}
    for found, kind in imap_ordered(_check_task, tasks, workers, on_result=(lambda r: progress(1)) if progress else None):
        issues.extend(found)
        png_kinds[kind] = png_kinds.get(kind, 0) + 1
    return CheckResult(str(json_path), str(pdir), len(tasks), n_segments, issues, png_kinds)


def check_report(results: list[tuple[str, CheckResult]], max_rows: int = 50) -> Report:
    """A Report of one or more :class:`CheckResult` (summary counts + the first issues)."""
    summary = []
    detail = []
    for label, res in results:
        counts = res.counts()
        summary.append([label, res.n_images, res.n_segments, res.n_errors, len(res.issues) - res.n_errors,
                        ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-",
                        ", ".join(f"{k} {v}" for k, v in sorted(res.png_kinds.items()))])
        for i in res.issues[:max_rows]:
            detail.append([label, i.level, i.kind, "-" if i.image_id is None else str(i.image_id),
                           "-" if i.segment_id is None else str(i.segment_id), i.message])
    tables = [Table("check", ["input", "images", "segments", "errors", "warnings", "issues", "PNG kinds"], summary, title="Check")]
    notes = []
    if detail:
        tables.append(Table("issues", ["input", "level", "kind", "image", "segment", "message"], detail, title="Issues"))
        total = sum(len(r.issues) for _, r in results)
        if total > len(detail):
            notes.append(f"{total - len(detail)} more issue(s) not shown (use --format json for all)")
    data = {label: res.to_dict() for label, res in results}
    return Report("check", {"inputs": data}, tables, notes=notes)


def run_check(
    gt_json: str | os.PathLike | None,
    pred_json: str | os.PathLike | None,
    *,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    workers: int = 1,
    max_rows: int = 50,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[tuple[str, CheckResult]], Report]:
    """``rapkit check``: check a GT and/or a prediction; the prediction's categories are
    checked against the GT's when both are given.

    >>> results, report = run_check("gt.json", "pred.json")   # doctest: +SKIP
    """
    from ..io.panoptic import load_categories

    results: list[tuple[str, CheckResult]] = []
    cats = None
    if gt_json is not None:
        results.append(("GT", check_panoptic(gt_json, gt_dir, gt=True, workers=workers, progress=progress)))
        try:
            cats = load_categories(gt_json)
        except InputError:
            cats = None
    if pred_json is not None:
        results.append(("prediction", check_panoptic(pred_json, pred_dir, gt=False, categories=cats, workers=workers,
                                                     progress=progress)))
    return results, check_report(results, max_rows=max_rows)


__all__ = [
    "PQEvaluation",
    "evaluate_pq",
    "pq_compute",
    "pq_report",
    "EvaluateOutput",
    "evaluate_command",
    "combine_reports",
    "parse_gates",
    "check_gates",
    "load_gt_pred",
    "Issue",
    "CheckResult",
    "check_panoptic",
    "check_report",
    "run_check",
]
