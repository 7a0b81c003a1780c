"""The panoptic sanity check behind ``rapkit check`` and ``rapkit evaluate --check``.

:func:`check_panoptic` reports what makes PQ wrong or crash: GT ``area`` fields that
disagree with the PNG (the cause of PQ > 100), ids in the PNG but not in the JSON, segments
in the JSON but not in the PNG, duplicate segment ids, unknown categories, PNG sizes that
disagree with the ``images`` entry, missing or undecodable PNGs.

The JSON is validated by :func:`rapkit.io.panoptic.scan_panoptic` (the checks of
:func:`~rapkit.io.panoptic.load_panoptic`, collected instead of raised); this module adds
the comparison of each PNG with its ``segments_info``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._runtime.pool import imap_ordered
from ..errors import ConfigError, InputError
from ..io.panoptic import Issue, load_categories, scan_panoptic, shape_mismatch
from ..io.png import png_kind, read_id_map_fast
from ..types import Category

# --------------------------------------------------------------------------- check


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

    issues: list[Issue] = []
    kind = "missing"
    try:
        kind = png_kind(png)
        ids = read_id_map_fast(png, image_id=iid)
    except InputError as e:
        return [Issue("error", "png", iid, None, e.message + f" ({png})")], kind
    except OSError as e:
        return [Issue("error", "png", iid, None, f"cannot read PNG {png}: {e.strerror}")], kind
    bad = shape_mismatch(ids.shape, shape)
    if bad:
        issues.append(Issue("error", "size", iid, None, bad))
    uniq, cnt = np.unique(ids, return_counts=True)
    area = dict(zip(uniq.tolist(), cnt.tolist()))
    json_ids = {s["id"] for s in segs}
    for sid in sorted(area):
        if sid != 0 and sid not in json_ids:
            issues.append(
                Issue("error", "id_not_in_json", iid, sid, f"id in the PNG ({area[sid]} pixels) but not in the JSON")
            )
    for s in segs:
        sid = s["id"]
        if sid not in area:
            issues.append(
                Issue(
                    "error" if not is_gt else "warning",
                    "segment_not_in_png",
                    iid,
                    sid,
                    "segment in the JSON but not in the PNG",
                )
            )
        elif is_gt and s.get("area") is not None and s["area"] != area[sid]:
            issues.append(
                Issue(
                    "error",
                    "area_mismatch",
                    iid,
                    sid,
                    f"JSON area {s['area']} but the PNG has {area[sid]} pixels (can push PQ above 100)",
                )
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
    on_start: Callable[[int], None] | None = None,
) -> CheckResult:
    """Sanity report of a panoptic JSON + PNG folder (GT when ``gt``, else a prediction).

    Never raises for data problems (except an unreadable JSON): each becomes an
    :class:`Issue`. For a GT, ``area`` fields are compared with the PNG. ``on_start(n_images)``
    is called once the JSON is read, ``progress(1)`` after each image.

    >>> res = check_panoptic("panoptic_val2017.json")   # doctest: +SKIP
    >>> res.counts()                                     # doctest: +SKIP
    {'area_mismatch': 3}
    """
    scan = scan_panoptic(json_path, png_dir, categories=categories, gt=gt)
    pdir = scan.png_dir
    issues: list[Issue] = scan.issues
    tasks = []
    for e in scan.annotations:
        info = scan.images.get(e.image_id)
        segs = [{"id": sid, "area": raw.get("area")} for sid, _, raw in e.segments]
        tasks.append((e.image_id, str(pdir / e.file_name), segs, (info.height, info.width) if info else None, gt))
    n_segments = sum(e.n_entries for e in scan.annotations)
    if on_start is not None:
        on_start(len(tasks))
    png_kinds: dict[str, int] = {}
    for found, kind in imap_ordered(
        _check_task, tasks, workers, on_result=(lambda r: progress(1)) if progress else None
    ):
        issues.extend(found)
        png_kinds[kind] = png_kinds.get(kind, 0) + 1
    return CheckResult(str(json_path), str(pdir), len(tasks), n_segments, issues, png_kinds)


def check_verdict(results: list[tuple[str, CheckResult]]) -> tuple[str, InputError | None]:
    """The one-line verdict of a check, and the error to exit with (exit 3, naming the file,
    image and segment of the first error-level issue) or None.

    >>> check_verdict([])
    ('check: no problems found in 0 images', None)
    """
    n_err = sum(r.n_errors for _, r in results)
    n_issues = sum(len(r.issues) for _, r in results)
    n_images = max((r.n_images for _, r in results), default=0)
    if n_issues == 0:
        return f"check: no problems found in {n_images} images", None
    verdict = f"check: {n_issues} problem(s) ({n_err} error(s), {n_issues - n_err} warning(s)) in {n_images} images"
    if not n_err:
        return verdict, None
    res, first = next((r, i) for _, r in results for i in r.issues if i.level == "error")
    return verdict, InputError(
        f"{n_err} error(s) found; first: {first.kind}: {first.message}",
        file=res.json_path,
        image_id=first.image_id,
        segment_id=first.segment_id,
    )


def _step(on_start: Callable[[int, str], None] | None, name: str) -> Callable[[int], None] | None:
    return None if on_start is None else (lambda n: on_start(n, name))


def run_check(
    gt_json: str | os.PathLike | None,
    pred_json: str | os.PathLike | None,
    *,
    gt_dir: str | os.PathLike | None = None,
    pred_dir: str | os.PathLike | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int, str], None] | None = None,
) -> list[tuple[str, CheckResult]]:
    """``rapkit check``: check a GT and/or a prediction; the prediction's categories are
    checked against the GT's when both are given. ``on_start(n_images, label)`` starts
    each input's step ("GT", "prediction").

    >>> results = run_check("gt.json", "pred.json")   # doctest: +SKIP
    """
    if gt_json is None and pred_json is None:
        raise ConfigError("give --gt and/or --pred")
    results: list[tuple[str, CheckResult]] = []
    cats = None
    if gt_json is not None:
        results.append(
            (
                "GT",
                check_panoptic(
                    gt_json, gt_dir, gt=True, workers=workers, progress=progress, on_start=_step(on_start, "check GT")
                ),
            )
        )
        try:
            cats = load_categories(gt_json)
        except InputError:
            cats = None
    if pred_json is not None:
        results.append(
            (
                "prediction",
                check_panoptic(
                    pred_json,
                    pred_dir,
                    gt=False,
                    categories=cats,
                    workers=workers,
                    progress=progress,
                    on_start=_step(on_start, "check prediction"),
                ),
            )
        )
    return results


__all__ = ["Issue", "CheckResult", "check_panoptic", "check_verdict", "run_check"]
