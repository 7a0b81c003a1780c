"""Relations files: rapkit's relations JSON and both of the authors' formats.

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

The authors' two formats (RAP repository):

* ``--rap-instances``: the input instances JSON unchanged except for an ``overlap`` list on
  every annotation, the ids of the instances in front of it (their training format,
  ``instances_*_with_relation.json``);
* ``--authors-pickle``: the pickle of their ``retrieve_relation.py``,
  ``{image_id: {occluded_ann_id: [occluder_ann_id, ...]}}``. It is read with a restricted
  unpickler (:func:`read_authors_pickle`) that builds only dicts, lists, tuples, ints and
  strs and never imports anything: a pickle from elsewhere cannot run code.

:func:`read_relations` reads any of the three, recognised by content.

>>> write_relations("relations.json", rels, theta=0.2, rule="paper", totals=t)   # doctest: +SKIP
>>> rf = read_relations("relations.json")                                         # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import os
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..types import ImageRelations, Relation
from ._atomic import atomic_path, check_writable
from .jsonio import dumps, loads_json

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
    #: the format read: ``"relations"`` (rapkit's JSON), ``"authors-pickle"`` or
    #: ``"rap-instances"`` (the authors' formats hold the pairs only: ``theta`` is NaN,
    #: ``rule`` and ``matching`` are ``"unknown"``, each relation's counts are 0)
    source: str = "relations"

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
    """Read relations in any of the three formats, recognised by content (not by the
    file's extension): rapkit's relations JSON (:func:`write_relations`), the authors'
    pickle (:func:`read_authors_pickle`) or an instances JSON with ``overlap`` lists
    (:func:`parse_rap_instances`). Anything else is an :class:`InputError` naming the file."""
    p = Path(path)
    try:
        head = p.read_bytes()
    except FileNotFoundError:
        raise InputError("relations file not found", file=p) from None
    except IsADirectoryError:
        raise InputError("expected a relations file, found a folder", file=p) from None
    except OSError as e:
        raise InputError(f"cannot read relations file: {e.strerror}", file=p) from None
    if head.lstrip()[:1] not in (b"{", b"["):
        return parse_authors_pickle(head, file=p)
    data = loads_json(head, p, "relations")
    if isinstance(data, dict) and "kind" not in data and isinstance(data.get("annotations"), list):
        anns = data["annotations"]
        if anns and isinstance(anns[0], dict) and "segments_info" in anns[0]:
            raise InputError("not a relations file: a COCO panoptic JSON", file=p)
        return parse_rap_instances(data, file=p)
    if not isinstance(data, dict) or data.get("kind") != "relations":
        raise InputError(
            "not a relations file: expected rapkit's relations JSON (kind 'relations'), the authors' "
            "relations pickle or an instances JSON with 'overlap' lists",
            file=p,
        )
    return parse_relations(data, file=p)


def _authors_relations(image_id: int, occluders_of: Iterable[tuple[int, Iterable[int]]]) -> ImageRelations:
    """One image of the authors' formats: ``(back, [front, ...])`` -> an ImageRelations whose
    relations carry the pairs only (counts 0)."""
    rels = [Relation(image_id, int(f), int(b), 0, 0.0, 0.0, 0, 0) for b, fronts in occluders_of for f in fronts]
    return ImageRelations(image_id=image_id, relations=rels, candidate_pairs=len(rels))


def _pairs_file(source: str, images: dict[int, ImageRelations]) -> RelationsFile:
    totals = dict.fromkeys(TOTAL_KEYS, 0)
    totals["images"] = len(images)
    totals["relations"] = totals["candidate_pairs"] = sum(len(r.relations) for r in images.values())
    return RelationsFile(math.nan, "unknown", totals, images, matching="unknown", source=source)


# --------------------------------------------------------------------------- the authors' pickle


class _PlainUnpickler(pickle.Unpickler):
    """Builds what pickle's own opcodes build (dicts, lists, tuples, numbers, strings...)
    and refuses every global: no class, no function, so nothing can be called."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name} (only dicts, lists, ints, strs)")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused: a persistent id")


def _plain_int(v: Any) -> int | None:
    """An id: an int (not a bool) or a str of decimal digits; None otherwise."""
    if type(v) is int:
        return v
    if type(v) is str and v.strip().lstrip("-").isdigit():
        return int(v)
    return None


def parse_authors_pickle(data: bytes, file: Any = None) -> RelationsFile:
    """The authors' relations pickle (see :func:`read_authors_pickle`) from its bytes.

    >>> rf = parse_authors_pickle(pickle.dumps({139: {40: [12, 13]}, 285: {}}))
    >>> rf.pairs(), rf.source
    ([(139, 12, 40), (139, 13, 40)], 'authors-pickle')
    """
    try:
        obj = _PlainUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, MemoryError, RecursionError, UnicodeDecodeError) as e:  # fmt: skip
        raise InputError(f"not a relations file (neither JSON nor a plain relations pickle: {e})", file=file) from None
    if type(obj) is not dict:
        raise InputError(
            f"the authors' relations pickle must hold a dict {{image_id: {{occluded: [occluders]}}}}, got {type(obj).__name__}",
            file=file,
        )
    images: dict[int, ImageRelations] = {}
    for key, per_image in obj.items():
        iid = _plain_int(key)
        if iid is None:
            raise InputError(f"image id {key!r:.40} is not an integer", file=file)
        if type(per_image) is not dict:
            raise InputError(
                f"expected {{occluded: [occluders]}}, got {type(per_image).__name__}", file=file, image_id=iid
            )
        items = []
        for back, fronts in per_image.items():
            b = _plain_int(back)
            if b is None or type(fronts) not in (list, tuple) or any(_plain_int(f) is None for f in fronts):
                raise InputError(
                    f"entry {back!r:.40}: expected an annotation id and a list of annotation ids, got {fronts!r:.60}",
                    file=file,
                    image_id=iid,
                )
            items.append((b, [_plain_int(f) for f in fronts]))
        if iid in images:
            raise InputError("image appears twice", file=file, image_id=iid)
        images[iid] = _authors_relations(iid, items)
    return _pairs_file("authors-pickle", images)


def read_authors_pickle(path: str | os.PathLike) -> RelationsFile:
    """Read the pickle of the authors' ``retrieve_relation.py``,
    ``{image_id: {occluded_ann_id: [occluder_ann_id, ...]}}`` (ids: ints, or strs of
    digits), into a :class:`RelationsFile` (``source="authors-pickle"``).

    The unpickler is restricted: it refuses every global (class or function), so it builds
    only pickle's plain values, and the result must be dicts, lists/tuples and ints/strs in
    that shape; anything else is an :class:`InputError`. A pickle from elsewhere cannot run
    code through this reader (Python's ``pickle.load`` would run it)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError("relations pickle not found", file=p) from None
    except OSError as e:
        raise InputError(f"cannot read relations pickle: {e.strerror}", file=p) from None
    return parse_authors_pickle(data, file=p)


def authors_pickle_document(images: Iterable[ImageRelations]) -> dict[int, dict[int, list[int]]]:
    """``{image_id: {back: [front, ...]}}`` in relation order: every image with an
    annotation (crowd included), as the authors' script lists the images with instance
    annotations; an image without relations maps to ``{}``.

    >>> authors_pickle_document([ImageRelations(7, [Relation(7, 2, 1, 5, .5, .5, 5, 0)], n_instances=2)])
    {7: {1: [2]}}
    """
    out: dict[int, dict[int, list[int]]] = {}
    for im in images:
        if im.n_instances + im.n_crowd == 0 and not im.relations:
            continue
        d: dict[int, list[int]] = {}
        for r in im.relations:
            d.setdefault(int(r.back), []).append(int(r.front))
        out[int(im.image_id)] = d
    return out


def authors_pickle_bytes(images: Iterable[ImageRelations]) -> bytes:
    """:func:`authors_pickle_document` pickled (protocol 4: plain dicts, lists and ints)."""
    return pickle.dumps(authors_pickle_document(images), protocol=4)


def write_authors_pickle(path: str | os.PathLike, images: Iterable[ImageRelations], *, force: bool = False) -> Path:
    """Write the authors' relations pickle atomically (no overwrite without ``force``)."""
    data = authors_pickle_bytes(images)
    with atomic_path(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# --------------------------------------------------------------------------- instances with overlap


def parse_rap_instances(data: Any, file: Any = None) -> RelationsFile:
    """The relations of an instances JSON with ``overlap`` lists (``--rap-instances``, the
    authors' ``instances_*_with_relation.json``): for every annotation, one relation
    ``(front, annotation)`` per id in its ``overlap``. Every image of ``images`` gets an
    entry. A front that is not an annotation of the same image is an :class:`InputError`,
    and so is an instances JSON without any ``overlap``.

    >>> rf = parse_rap_instances({"images": [{"id": 1}], "annotations": [
    ...     {"id": 5, "image_id": 1, "overlap": [6]}, {"id": 6, "image_id": 1, "overlap": []}]})
    >>> rf.pairs(), rf.source
    ([(1, 6, 5)], 'rap-instances')
    """
    anns = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(anns, list) or not any(isinstance(a, dict) and "overlap" in a for a in anns):
        raise InputError(
            "not a relations file: an instances JSON without 'overlap' lists (write one with "
            "rapkit extract-relations --rap-instances)",
            file=file,
        )
    image_of: dict[int, int] = {}
    for k, a in enumerate(anns):
        aid, iid = (_plain_int(a.get("id")), _plain_int(a.get("image_id"))) if isinstance(a, dict) else (None, None)
        if aid is None or iid is None:
            raise InputError(f"annotations entry #{k} needs an integer id and image_id", file=file)
        image_of[aid] = iid
    per_image: dict[int, list[tuple[int, list[int]]]] = {}
    for im in data.get("images") or []:
        iid = _plain_int(im.get("id")) if isinstance(im, dict) else None
        if iid is not None:
            per_image.setdefault(iid, [])
    for a in anns:
        aid, iid = int(a["id"]), int(a["image_id"])
        fronts = a.get("overlap", [])
        if type(fronts) is not list or any(_plain_int(f) is None for f in fronts):
            raise InputError(f"annotation {aid}: 'overlap' must be a list of annotation ids", file=file, image_id=iid)
        fronts = [_plain_int(f) for f in fronts]
        for f in fronts:
            if image_of.get(f) != iid:
                raise InputError(
                    f"annotation {aid}: 'overlap' names {f}, not an annotation of this image", file=file, image_id=iid
                )
        per_image.setdefault(iid, []).append((aid, fronts))
    return _pairs_file("rap-instances", {iid: _authors_relations(iid, items) for iid, items in per_image.items()})


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
    authors_pickle: str | os.PathLike | None = None,
) -> None:
    """Check the outputs of ``rapkit extract-relations`` before any work: each is writable
    (an existing file needs ``force``), they differ, and none is one of ``inputs``
    (:class:`~rapkit.errors.ConfigError`, exit 2)."""
    check_writable(output, force)
    outs = {Path(output).resolve()}
    for opt, extra in (("--rap-instances", rap_instances), ("--authors-pickle", authors_pickle)):
        if extra is None:
            continue
        check_writable(extra, force)
        if Path(extra).resolve() in outs:
            raise ConfigError(f"{extra}: {opt} must differ from the other outputs")
        outs.add(Path(extra).resolve())
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
    authors_pickle: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Write the relations JSON and, when ``rap_instances`` is given, the authors'
    instances-with-``overlap`` JSON built from ``instances`` (the raw instances JSON), and
    when ``authors_pickle`` is given, the authors' relations pickle.

    Every document is serialised before anything is written; each file is written
    atomically, the authors' files inside the relations file's write, so a failure leaves
    neither a partial file nor a relations JSON without its companions. Returns
    ``{"relations": path, "rap_instances": path, "authors_pickle": path}`` (those written).
    """
    rel_bytes = dumps(relations_document(images, theta=theta, rule=rule, totals=totals, matching=matching))
    rap_bytes = None
    if rap_instances is not None:
        if instances is None:
            raise ValueError("rap_instances needs the instances JSON object")
        rap_bytes = dumps(rap_instances_document(instances, images))
    pkl_bytes = authors_pickle_bytes(images) if authors_pickle is not None else None
    written: dict[str, str] = {}
    with atomic_path(output, force) as tmp:
        tmp.write_bytes(rel_bytes)
        if rap_bytes is not None:
            with atomic_path(rap_instances, force) as tmp2:  # type: ignore[arg-type]
                tmp2.write_bytes(rap_bytes)
            written["rap_instances"] = str(rap_instances)
        if pkl_bytes is not None:
            with atomic_path(authors_pickle, force) as tmp3:  # type: ignore[arg-type]
                tmp3.write_bytes(pkl_bytes)
            written["authors_pickle"] = str(authors_pickle)
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
    "read_authors_pickle",
    "parse_authors_pickle",
    "authors_pickle_document",
    "authors_pickle_bytes",
    "write_authors_pickle",
    "parse_rap_instances",
    "rap_instances_document",
    "write_rap_instances",
    "check_relations_outputs",
    "write_relations_outputs",
]
