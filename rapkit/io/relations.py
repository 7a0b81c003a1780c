"""Relations JSON (rapkit's format, never pickle) and the authors' instances-with-``overlap``.

Relations JSON::

    {"schema_version": 1, "kind": "relations",
     "parameters": {"theta": 0.2, "rule": "paper", "matching": "pixels"},
     "totals": {"images": .., "instances": .., "crowd": .., "matched": .., "unmatched": ..,
                "candidate_pairs": .., "relations": .., "ties": .., "hidden": ..},
     "images": [{"image_id": 139, "instances": 7, "crowd": 0, "matched": 7, "unmatched": [],
                 "candidate_pairs": 3,
                 "relations": [{"front": 12, "back": 40, "overlap": 812, "ratio_front": 0.31,
                                "ratio_back": 0.05, "front_pixels": 790, "back_pixels": 0}],
                 "ties": [[a, b]], "hidden": [[c, d]]}]}

``--rap-instances`` writes the input instances JSON unchanged except for an ``overlap`` list
on every annotation: the ids of the instances in front of it (RAP's training format).

>>> write_relations("relations.json", rels, theta=0.2, rule="paper", totals=t)   # doctest: +SKIP
>>> rf = read_relations("relations.json")                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..types import ImageRelations, Relation
from ._atomic import atomic_path, check_writable
from .jsonio import dumps, load_json

SCHEMA_VERSION = 1
TOTAL_KEYS = ("images", "instances", "crowd", "matched", "unmatched", "candidate_pairs", "relations", "ties", "hidden")


@dataclass
class RelationsFile:
    """A read relations JSON: parameters, totals and ``{image_id: ImageRelations}``."""

    theta: float
    rule: str
    totals: dict[str, int]
    images: dict[int, ImageRelations] = field(default_factory=dict)
    matching: str = "pixels"

    def pairs(self) -> list[tuple[int, int, int]]:
        """Every relation as ``(image_id, front, back)``."""
        return [(r.image_id, r.front, r.back) for im in self.images.values() for r in im.relations]


def image_record(r: ImageRelations) -> dict[str, Any]:
    """One image's entry of the relations JSON."""
    return {
        "image_id": int(r.image_id),
        "instances": int(r.n_instances),
        "crowd": int(r.n_crowd),
        "matched": len(r.matches),
        "unmatched": [int(v) for v in r.unmatched],
        "candidate_pairs": int(r.candidate_pairs),
        "relations": [
            {
                "front": int(x.front),
                "back": int(x.back),
                "overlap": int(x.overlap),
                "ratio_front": float(x.ratio_front),
                "ratio_back": float(x.ratio_back),
                "front_pixels": int(x.front_pixels),
                "back_pixels": int(x.back_pixels),
            }
            for x in r.relations
        ],
        "ties": [[int(a), int(b)] for a, b in r.ties],
        "hidden": [[int(a), int(b)] for a, b in r.hidden],
    }


def relations_document(
    images: Iterable[ImageRelations], *, theta: float, rule: str, totals: dict[str, int], matching: str = "pixels"
) -> dict[str, Any]:
    """The relations JSON as a Python object (field order is part of the format)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "relations",
        "parameters": {"theta": float(theta), "rule": rule, "matching": matching},
        "totals": {k: int(totals.get(k, 0)) for k in TOTAL_KEYS},
        "images": [image_record(r) for r in images],
    }


def write_relations(
    path: str | os.PathLike,
    images: Iterable[ImageRelations],
    *,
    theta: float,
    rule: str,
    totals: dict[str, int],
    force: bool = False,
    matching: str = "pixels",
) -> Path:
    """Write the relations JSON atomically (no overwrite without ``force``)."""
    data = dumps(relations_document(images, theta=theta, rule=rule, totals=totals, matching=matching))
    with atomic_path(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def parse_relations(data: Any, file: Any = None) -> RelationsFile:
    """Validate a parsed relations JSON (see :func:`read_relations`)."""
    if not isinstance(data, dict) or data.get("kind") != "relations" or not isinstance(data.get("images"), list):
        raise InputError("not a rapkit relations JSON (needs kind 'relations' and an 'images' list)", file=file)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            f"relations schema_version {data.get('schema_version')!r} is not supported (expected {SCHEMA_VERSION})",
            file=file,
        )
    params = data.get("parameters") or {}
    try:
        theta = float(params["theta"])
        rule = str(params["rule"])
    except (KeyError, TypeError, ValueError):
        raise InputError("relations JSON needs parameters.theta and parameters.rule", file=file) from None
    totals = data.get("totals") or {}
    try:
        out = RelationsFile(
            theta, rule, {str(k): int(v) for k, v in totals.items()}, matching=str(params.get("matching", "pixels"))
        )
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise InputError(f"relations 'totals' must map names to counts, got {totals!r:.80}", file=file) from None
    for k, im in enumerate(data["images"]):
        try:
            iid = int(im["image_id"])
            rels = [
                Relation(
                    iid,
                    int(x["front"]),
                    int(x["back"]),
                    int(x["overlap"]),
                    float(x["ratio_front"]),
                    float(x["ratio_back"]),
                    int(x["front_pixels"]),
                    int(x["back_pixels"]),
                )
                for x in im["relations"]
            ]
            r = ImageRelations(
                image_id=iid,
                relations=rels,
                n_instances=int(im.get("instances", 0)),
                n_crowd=int(im.get("crowd", 0)),
                unmatched=[int(v) for v in im.get("unmatched", [])],
                candidate_pairs=int(im.get("candidate_pairs", len(rels))),
                ties=[(int(a), int(b)) for a, b in im.get("ties", [])],
                hidden=[(int(a), int(b)) for a, b in im.get("hidden", [])],
            )
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
            raise InputError(
                f"images entry #{k} is malformed (needs image_id and relations of front/back/overlap...)", file=file
            ) from None
        if iid in out.images:
            raise InputError("image appears twice", file=file, image_id=iid)
        out.images[iid] = r
    return out


def read_relations(path: str | os.PathLike) -> RelationsFile:
    """Read a relations JSON written by :func:`write_relations`."""
    return parse_relations(load_json(path, "relations"), file=path)


def rap_instances_document(instances: dict[str, Any], images: Iterable[ImageRelations]) -> dict[str, Any]:
    """The instances JSON with ``overlap`` (ids of the instances in front) on every annotation.

    The input object is not modified.

    >>> doc = rap_instances_document({"annotations": [{"id": 1}, {"id": 2}]},
    ...                              [ImageRelations(0, [Relation(0, 2, 1, 5, .5, .5, 5, 0)])])
    >>> [a["overlap"] for a in doc["annotations"]]
    [[2], []]
    """
    on_top: dict[int, list[int]] = {}
    for im in images:
        for r in im.relations:
            on_top.setdefault(int(r.back), []).append(int(r.front))
    out = dict(instances)
    out["annotations"] = [dict(a, overlap=on_top.get(int(a["id"]), [])) for a in instances.get("annotations", [])]
    return out


def write_rap_instances(
    path: str | os.PathLike,
    instances: dict[str, Any],
    images: Iterable[ImageRelations],
    *,
    force: bool = False,
) -> Path:
    """Write the authors' instances-with-``overlap`` JSON atomically."""
    data = dumps(rap_instances_document(instances, images))
    with atomic_path(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def check_relations_outputs(
    output: str | os.PathLike,
    rap_instances: str | os.PathLike | None,
    inputs: Iterable[str | os.PathLike],
    force: bool = False,
) -> None:
    """Check the outputs of ``rapkit extract-relations`` before any work: each is writable
    (an existing file needs ``force``), the two differ, and neither is one of ``inputs``
    (:class:`~rapkit.errors.ConfigError`, exit 2)."""
    check_writable(output, force)
    if rap_instances is not None:
        check_writable(rap_instances, force)
        if Path(rap_instances).resolve() == Path(output).resolve():
            raise ConfigError(f"{output}: --rap-instances must differ from the relations output")
    outs = {Path(output).resolve()} | ({Path(rap_instances).resolve()} if rap_instances is not None else set())
    for src in inputs:
        if Path(src).resolve() in outs:
            raise ConfigError(f"{src}: an output would overwrite this input")


def write_relations_outputs(
    output: str | os.PathLike,
    images: Sequence[ImageRelations],
    *,
    theta: float,
    rule: str,
    totals: dict[str, int],
    matching: str = "pixels",
    rap_instances: str | os.PathLike | None = None,
    instances: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, str]:
    """Write the relations JSON and, when ``rap_instances`` is given, the authors'
    instances-with-``overlap`` JSON built from ``instances`` (the raw instances JSON).

    Both documents are serialised before anything is written; each file is written
    atomically, the RAP file inside the relations file's write, so a failure leaves neither
    a partial file nor a relations JSON without its RAP companion. Returns
    ``{"relations": path, "rap_instances": path}`` (the second only when written).
    """
    rel_bytes = dumps(relations_document(images, theta=theta, rule=rule, totals=totals, matching=matching))
    rap_bytes = None
    if rap_instances is not None:
        if instances is None:
            raise ValueError("rap_instances needs the instances JSON object")
        rap_bytes = dumps(rap_instances_document(instances, images))
    written: dict[str, str] = {}
    with atomic_path(output, force) as tmp:
        tmp.write_bytes(rel_bytes)
        if rap_bytes is not None:
            with atomic_path(rap_instances, force) as tmp2:  # type: ignore[arg-type]
                tmp2.write_bytes(rap_bytes)
            written["rap_instances"] = str(rap_instances)
    written["relations"] = str(output)
    return written


__all__ = [
    "SCHEMA_VERSION",
    "TOTAL_KEYS",
    "RelationsFile",
    "image_record",
    "relations_document",
    "write_relations",
    "parse_relations",
    "read_relations",
    "rap_instances_document",
    "write_rap_instances",
    "check_relations_outputs",
    "write_relations_outputs",
]
