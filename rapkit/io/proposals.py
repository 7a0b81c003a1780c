"""Instance proposals in COCO results format -> :class:`~rapkit.types.Proposals` per image.

Input: the list every detection framework writes,
``[{image_id, category_id, score, segmentation: {size: [h, w], counts}, bbox?, relation?}]``
(``relation_val`` is accepted as an alias of ``relation``; a top-level object with an
``annotations`` list is accepted too). Masks are full-image RLE; uncompressed RLE (``counts``
as a list) is compressed on load.

Validation is strict and up front; each error (exit code 3) names the file, the image and the
proposal's index in the file: an image not in the image list, an unknown or stuff category,
a score that is missing, not finite or outside [0, 1], an RLE whose size differs from the
image, and (``require_relation=True``) a missing, null or NaN relation value.

The pair head's decisions (``pairs=True``, for ``--strategy ocfusion``): an entry may carry
``"occludes": [[k, logit], ...]``, ``k`` the 0-based index of another proposal among the
entries of the same ``image_id`` in file order, ``logit`` the head's logit that this
proposal occludes (is in front of) proposal ``k``. They become ``Proposals.pair_i``,
``pair_j``, ``pair_logit`` (entry order, then the list's order); an error names file, image
and proposal: not a list of ``[k, logit]``, ``k`` out of range, ``k`` the proposal itself,
a logit that is not a finite number, a ``k`` listed twice. Without ``pairs`` the field is
not read (and the three arrays stay ``None``).

>>> props = load_proposals("proposals.json", images, categories)   # doctest: +SKIP
>>> props[139].scores[:3]                                          # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import InputError
from ..types import Category, ImageInfo, Proposals
from .jsonio import load_json


def _num(v: Any) -> bool:
    t = type(v)
    if t is float or t is int:  # the JSON cases, checked without the slow ABC machinery
        return True
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    t = type(v)
    if t is int:
        return True
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_one(
    k: int,
    p: Any,
    images: Mapping[int, ImageInfo],
    categories: Mapping[int, Category],
    require_relation: bool,
    file: Any,
) -> tuple[int, dict, float, int, float]:
    """Validate proposal ``k`` in full: ``(image_id, rle, score, category_id, relation)`` or an
    :class:`InputError` naming what is wrong."""
    where = f"proposal #{k}"
    if not isinstance(p, dict):
        raise InputError(f"{where} is not an object", file=file)
    iid = p.get("image_id")
    if not _int(iid):
        raise InputError(f"{where} has no integer image_id", file=file)
    iid = int(iid)
    if iid not in images:
        raise InputError(f"{where} is for an image that is not in the image list", file=file, image_id=iid)
    info = images[iid]
    cid = p.get("category_id")
    if not _int(cid):
        raise InputError(f"{where} has no integer category_id", file=file, image_id=iid)
    cat = categories.get(int(cid))
    if cat is None:
        raise InputError(f"{where}: unknown category {cid}", file=file, image_id=iid)
    if not cat.isthing:
        raise InputError(
            f"{where}: category {cid} ({cat.name}) is a stuff category, not a thing", file=file, image_id=iid
        )
    s = p.get("score")
    if not _num(s) or not math.isfinite(s) or not 0.0 <= s <= 1.0:
        raise InputError(f"{where}: score must be a number in [0, 1], got {s!r}", file=file, image_id=iid)
    seg = p.get("segmentation")
    if not isinstance(seg, dict) or "size" not in seg or "counts" not in seg:
        raise InputError(f"{where}: segmentation must be an RLE {{size, counts}}", file=file, image_id=iid)
    size = seg["size"]
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not _num(size[0])
        or not _num(size[1])
        or size[0] != info.height
        or size[1] != info.width
    ):
        raise InputError(
            f"{where}: RLE size {size!r} differs from the image size [{info.height}, {info.width}] (height, width)",
            file=file,
            image_id=iid,
        )
    counts = seg["counts"]
    if isinstance(counts, list):
        try:
            rle = mask_utils.frPyObjects({"size": [info.height, info.width], "counts": counts}, info.height, info.width)
        except Exception as e:  # pycocotools raises bare exceptions
            raise InputError(f"{where}: bad uncompressed RLE: {e}", file=file, image_id=iid) from None
        counts = rle["counts"]
    elif not isinstance(counts, (str, bytes)):
        raise InputError(f"{where}: RLE counts must be a string or a list", file=file, image_id=iid)
    elif isinstance(counts, str) and not counts.isascii():
        raise InputError(f"{where}: malformed RLE counts (not ASCII)", file=file, image_id=iid)
    rel = p.get("relation", p.get("relation_val"))
    if rel is None:
        r = math.nan
    elif _num(rel):
        r = float(rel)
        if math.isinf(r):
            raise InputError(f"{where}: relation value must be finite, got {rel!r}", file=file, image_id=iid)
    else:
        raise InputError(f"{where}: relation value must be a number, got {rel!r}", file=file, image_id=iid)
    if require_relation and math.isnan(r):
        raise InputError(
            f"{where} has no relation value (missing, null or NaN); --strategy rap needs one "
            "(use --strategy heuristic or --no-ra)",
            file=file,
            image_id=iid,
        )
    return iid, {"size": [info.height, info.width], "counts": counts}, float(s), int(cid), r


def _entries(
    raw: Any,
    images: Mapping[int, ImageInfo],
    categories: Mapping[int, Category],
    require_relation: bool,
    file: Any,
) -> tuple[dict[int, list[int]], list, list[float], list[int], list[float]]:
    """Validate every entry of a parsed results list: ``(per, counts, scores, cids, rels)``,
    ``per[image_id]`` the entries of the image (indices into the four lists, in file order;
    every image of ``images`` has a list), ``counts`` each entry's compressed RLE string."""
    if isinstance(raw, dict) and isinstance(raw.get("annotations"), list):
        raw = raw["annotations"]
    if not isinstance(raw, list):
        raise InputError(
            "proposals must be a COCO results list of {image_id, category_id, score, segmentation}", file=file
        )
    # Fast path for the common, plainly valid entry (exact JSON types, in-range values); any
    # other entry goes through :func:`_check_one`, which accepts or rejects it in full.
    thing_ids = {c for c, cat in categories.items() if type(c) is int and cat.isthing}
    sizes = {iid: (info.height, info.width) for iid, info in images.items()}
    per: dict[int, list[int]] = {iid: [] for iid in images}
    rles: list = []
    scores: list[float] = []
    cids: list[int] = []
    rels: list[float] = []
    inf = math.inf
    for k, p in enumerate(raw):
        if type(p) is dict:
            iid = p.get("image_id")
            cid = p.get("category_id")
            s = p.get("score")
            seg = p.get("segmentation")
            rel = p.get("relation", p)
            ts = type(s)
            tr = type(rel)
            if (
                type(iid) is int
                and type(cid) is int
                and cid in thing_ids
                and (ts is float or ts is int)
                and 0.0 <= s <= 1.0
                and type(seg) is dict
                and (tr is float or tr is int)
                and -inf < rel < inf
            ):
                hw = sizes.get(iid)
                size = seg.get("size")
                counts = seg.get("counts")
                tc = type(counts)
                if (
                    hw is not None
                    and type(size) is list
                    and len(size) == 2
                    and type(size[0]) is int
                    and type(size[1]) is int
                    and size[0] == hw[0]
                    and size[1] == hw[1]
                    and (tc is str and counts.isascii() or tc is bytes)
                ):
                    per[iid].append(k)
                    rles.append(counts)
                    scores.append(float(s))
                    cids.append(cid)
                    rels.append(float(rel))
                    continue
        iid, rle, sc, ci, r = _check_one(k, p, images, categories, require_relation, file)
        per[iid].append(k)
        rles.append(rle["counts"])
        scores.append(sc)
        cids.append(ci)
        rels.append(r)
    return per, rles, scores, cids, rels


def parse_proposals(
    raw: Any,
    images: Mapping[int, ImageInfo],
    categories: Mapping[int, Category],
    *,
    require_relation: bool = False,
    pairs: bool = False,
    file: Any = None,
) -> dict[int, Proposals]:
    """Validate a parsed COCO results list; ``{image_id: Proposals}`` for EVERY image of
    ``images`` (in its order; images without proposals get an empty set). ``pairs`` reads
    each entry's ``occludes`` too (the module's docstring).

    >>> from rapkit.types import ImageInfo, Category
    >>> out = parse_proposals([{"image_id": 1, "category_id": 1, "score": 0.9, "relation": 0.1,
    ...     "segmentation": {"size": [2, 2], "counts": "04"}}], {1: ImageInfo(1, "a.jpg", 2, 2)},
    ...     {1: Category(1, "person", True)})
    >>> len(out[1]), out[1].relations.tolist()
    (1, [0.1])
    >>> e = {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": {"size": [2, 2], "counts": "04"}}
    >>> out = parse_proposals([dict(e, occludes=[[1, 2.5]]), e], {1: ImageInfo(1, "a.jpg", 2, 2)},
    ...     {1: Category(1, "person", True)}, pairs=True)
    >>> out[1].pair_i.tolist(), out[1].pair_j.tolist(), out[1].pair_logit.tolist()
    ([0], [1], [2.5])
    """
    if isinstance(raw, dict) and isinstance(raw.get("annotations"), list):
        raw = raw["annotations"]
    per, counts, scores, cids, rels = _entries(raw, images, categories, require_relation, file)
    all_scores = np.array(scores, np.float64)
    all_cids = np.array(cids, np.int64)
    all_rels = np.array(rels, np.float64)
    # every entry was appended (or raised) in file order: row k of the lists is proposal #k
    out: dict[int, Proposals] = {}
    for iid, ks in per.items():
        info = images[iid]
        idx = np.array(ks, np.int64)
        pair_arrays = _read_pairs(raw, ks, iid, file) if pairs else (None, None, None)
        out[iid] = Proposals(
            image_id=iid,
            height=info.height,
            width=info.width,
            scores=all_scores[idx],
            category_ids=all_cids[idx],
            relations=all_rels[idx],
            rles=[{"size": [info.height, info.width], "counts": counts[k]} for k in ks],
            source_index=idx,
            pair_i=pair_arrays[0],
            pair_j=pair_arrays[1],
            pair_logit=pair_arrays[2],
        )
    return out


@dataclass
class PackedProposals:
    """Every image's proposals in flat arrays, grouped by image (``rapkit fuse``'s form: one
    slice per image, no per-proposal Python objects). Image ``i`` (``image_ids[i]``, the order
    of the image list) holds proposals ``start[i] <= k < start[i + 1]``, in file order; the
    compressed RLE string of proposal ``k`` is ``chars[char_offsets[k]:char_offsets[k + 1]]``.
    ``source_index[k]`` is the proposal's index in the file.

    >>> from rapkit.types import ImageInfo, Category
    >>> e = {"image_id": 2, "category_id": 1, "score": 0.9, "segmentation": {"size": [2, 2], "counts": "04"}}
    >>> pk = parse_proposals_packed([e, dict(e, image_id=1, score=0.5)], {1: ImageInfo(1, "a.jpg", 2, 2),
    ...     2: ImageInfo(2, "b.jpg", 2, 2)}, {1: Category(1, "person", True)})
    >>> pk.start.tolist(), pk.scores.tolist(), pk.source_index.tolist(), bytes(pk.chars)
    ([0, 1, 2], [0.5, 0.9], [1, 0], b'0404')
    """

    image_ids: list
    start: np.ndarray
    scores: np.ndarray
    category_ids: np.ndarray
    relations: np.ndarray
    chars: np.ndarray
    char_offsets: np.ndarray
    source_index: np.ndarray

    @classmethod
    def of(cls, image_ids: list, start: np.ndarray, scores: Any, category_ids: Any, relations: Any,
           counts: list[str], perm: np.ndarray) -> PackedProposals:  # fmt: skip
        """The packed form of proposals given in file order (``scores``, ``category_ids``,
        ``relations``), ``perm`` putting them in image order, ``counts`` already in that
        order (ASCII RLE strings)."""
        char_offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, counts), np.int64, len(counts)), out=char_offsets[1:])
        return cls(
            image_ids=image_ids,
            start=start,
            scores=np.asarray(scores, np.float64)[perm],
            category_ids=np.asarray(category_ids, np.int64)[perm],
            relations=np.asarray(relations, np.float64)[perm],
            chars=np.frombuffer("".join(counts).encode("ascii"), np.uint8),
            char_offsets=char_offsets,
            source_index=perm,
        )


def parse_proposals_packed(
    raw: Any,
    images: Mapping[int, ImageInfo],
    categories: Mapping[int, Category],
    *,
    require_relation: bool = False,
    file: Any = None,
) -> PackedProposals:
    """:func:`parse_proposals` (the same checks and errors) into one :class:`PackedProposals`
    instead of a :class:`~rapkit.types.Proposals` per image (no pair logits)."""
    per, counts, scores, cids, rels = _entries(raw, images, categories, require_relation, file)
    sizes = np.fromiter(map(len, per.values()), np.int64, len(per))
    start = np.zeros(len(per) + 1, np.int64)
    np.cumsum(sizes, out=start[1:])
    n = int(start[-1])
    perm = np.fromiter(itertools.chain.from_iterable(per.values()), np.int64, n)
    ordered = [counts[k] for k in perm.tolist()]
    if not all(type(c) is str for c in ordered):  # uncompressed input became bytes (ASCII)
        ordered = [c if type(c) is str else bytes(c).decode("ascii") for c in ordered]
    return PackedProposals.of(list(per), start, scores, cids, rels, ordered, perm)


def load_proposals_packed(
    path: str | os.PathLike,
    images: Mapping[int, ImageInfo],
    categories: Mapping[int, Category],
    *,
    require_relation: bool = False,
) -> PackedProposals:
    """Read and validate a proposals JSON into a :class:`PackedProposals` (see
    :func:`parse_proposals_packed`).

    >>> pk = load_proposals_packed("proposals.json", images, categories)  # doctest: +SKIP
    """
    return parse_proposals_packed(
        load_json(path, "proposals"), images, categories, require_relation=require_relation, file=path
    )


def _read_pairs(raw: list, ks: list[int], iid: int, file: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pair_i, pair_j, pair_logit)`` of one image from its entries' ``occludes`` (``ks``:
    the entries' indices in the file, in file order)."""
    n = len(ks)
    pi: list[int] = []
    pj: list[int] = []
    pl: list[float] = []
    for a, k in enumerate(ks):
        occ = raw[k].get("occludes")
        if occ is None:
            continue
        where = f"proposal #{k} (#{a} of its image)"
        if not isinstance(occ, list):
            raise InputError(f"{where}: occludes must be a list of [k, logit], got {occ!r}", file=file, image_id=iid)
        seen: set[int] = set()
        for item in occ:
            if not isinstance(item, (list, tuple)) or len(item) != 2 or not _int(item[0]):
                raise InputError(f"{where}: occludes entry {item!r} is not [k, logit]", file=file, image_id=iid)
            b, logit = int(item[0]), item[1]
            if not 0 <= b < n:
                raise InputError(
                    f"{where}: occludes names proposal {b}, outside the image's {n} proposals (0..{n - 1})",
                    file=file,
                    image_id=iid,
                )
            if b == a:
                raise InputError(f"{where}: occludes names the proposal itself ({b})", file=file, image_id=iid)
            if not _num(logit) or not math.isfinite(logit):
                raise InputError(
                    f"{where}: occludes logit for proposal {b} must be a finite number, got {logit!r}",
                    file=file,
                    image_id=iid,
                )
            if b in seen:
                raise InputError(f"{where}: occludes lists proposal {b} twice", file=file, image_id=iid)
            seen.add(b)
            pi.append(a)
            pj.append(b)
            pl.append(float(logit))
    return np.array(pi, np.int64), np.array(pj, np.int64), np.array(pl, np.float64)


def load_proposals(
    path: str | os.PathLike,
    images: Mapping[int, ImageInfo],
    categories: Mapping[int, Category],
    *,
    require_relation: bool = False,
    pairs: bool = False,
) -> dict[int, Proposals]:
    """Read and validate a proposals JSON (see :func:`parse_proposals`).

    >>> props = load_proposals("proposals.json", images, categories, require_relation=True)  # doctest: +SKIP
    """
    return parse_proposals(
        load_json(path, "proposals"), images, categories, require_relation=require_relation, pairs=pairs, file=path
    )


def proposals_to_json(props: Proposals) -> list[dict]:
    """COCO results entries of one image's proposals (the inverse of :func:`parse_proposals`;
    the pair logits, when the proposals carry them, as each entry's ``occludes``).

    >>> p = Proposals(1, 2, 2, np.array([0.5]), np.array([3]), np.array([np.nan]), [{"size": [2, 2], "counts": "04"}])
    >>> proposals_to_json(p)[0]["category_id"], "relation" in proposals_to_json(p)[0]
    (3, False)
    """
    out = []
    for k in range(len(props)):
        c = props.rles[k]["counts"]
        d = {
            "image_id": int(props.image_id),
            "category_id": int(props.category_ids[k]),
            "score": float(props.scores[k]),
            "segmentation": {
                "size": [props.height, props.width],
                "counts": c.decode("ascii") if isinstance(c, bytes) else c,
            },
        }
        if not math.isnan(props.relations[k]):
            d["relation"] = float(props.relations[k])
        out.append(d)
    if props.pair_i is not None and props.pair_j is not None and props.pair_logit is not None:
        for a, b, logit in zip(props.pair_i.tolist(), props.pair_j.tolist(), props.pair_logit.tolist()):
            out[a].setdefault("occludes", []).append([b, logit])
    return out


def read_proposal_entries(path: str | os.PathLike) -> list[dict]:
    """The entries of a proposals JSON as they are (a COCO results list, or an object with
    an ``annotations`` list), in file order, each checked to be an object with an integer
    ``image_id`` and ``category_id``: for writers that copy every entry and change one field
    (``rapkit category-order``). An InputError (exit 3) names the file, image and proposal.

    >>> read_proposal_entries("proposals.json")[0]["category_id"]   # doctest: +SKIP
    1
    """
    data = load_json(path, "proposals")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise InputError("not a COCO results JSON (expected a list of detections)", file=path)
    for k, d in enumerate(data):
        if not isinstance(d, dict):
            raise InputError(f"proposal #{k} is not an object", file=path)
        for key in ("image_id", "category_id"):
            if not _int(d.get(key)):
                raise InputError(
                    f"proposal #{k}: needs an integer '{key}', got {d.get(key)!r}",
                    file=path,
                    image_id=d.get("image_id") if _int(d.get("image_id")) else None,
                )
    return data
