"""Plain dataclasses shared across rapkit (no numba, no torch): panoptic data, fusion
parameters, relations, and PQ's statistics and results."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import ConfigError

# --------------------------------------------------------------------------- foundation


@dataclass(frozen=True)
class Category:
    """A COCO panoptic category.

    >>> Category(1, "person", True, (220, 20, 60)).isthing
    True
    """

    id: int
    name: str
    isthing: bool
    color: tuple[int, int, int] | None = None
    supercategory: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "name": self.name, "isthing": int(self.isthing)}
        if self.color is not None:
            d["color"] = list(self.color)
        if self.supercategory is not None:
            d["supercategory"] = self.supercategory
        return d


@dataclass
class Segment:
    """One panoptic segment (``segments_info`` entry). ``bbox`` is COCO ``[x, y, w, h]``.

    >>> Segment(id=5, category_id=1, area=12, bbox=(0, 0, 4, 3)).category_id
    1
    """

    id: int
    category_id: int
    area: int
    bbox: tuple[int, int, int, int]
    iscrowd: int = 0
    score: float | None = None
    relation: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": int(self.id),
            "category_id": int(self.category_id),
            "area": int(self.area),
            "bbox": [int(v) for v in self.bbox],
            "iscrowd": int(self.iscrowd),
        }
        if self.score is not None:
            d["score"] = float(self.score)
        if self.relation is not None:
            d["relation"] = float(self.relation)
        return d


@dataclass
class ImageInfo:
    """A COCO ``images`` entry (``id`` an integer, or a string as in Cityscapes)."""

    id: int | str
    file_name: str
    height: int
    width: int


@dataclass
class PanopticImage:
    """One annotation of a panoptic JSON: the image and its segments (PNG read separately)."""

    image_id: int
    file_name: str
    segments: list[Segment] = field(default_factory=list)
    height: int | None = None
    width: int | None = None


# --------------------------------------------------------------------------- fusion

STRATEGIES = ("rap", "heuristic", "ocfusion")
VARIANTS = ("paper", "reference", "original")
#: the variants each strategy takes, its default first: Algorithm 1 as in the paper or as in
#: the RAP authors' code; OCFusion as in the RAP authors' re-implementation
#: (``combine_to_panoptic_ocfusion``) or as in OCFusion's own code (docs/fusion.md)
STRATEGY_VARIANTS = {
    "rap": ("paper", "reference"),
    "heuristic": ("paper", "reference"),
    "ocfusion": ("reference", "original"),
}


@dataclass
class Proposals:
    """Instance proposals of one image (COCO results entries).

    ``rles`` are pycocotools RLE dicts (``{"size": [h, w], "counts": bytes|str}``);
    ``relations`` holds NaN where a proposal has no relation value.

    ``pair_i``, ``pair_j``, ``pair_logit`` (read only when asked for, e.g. by
    ``--strategy ocfusion``; ``None`` otherwise) are the pair head's logits: pair ``q`` says
    how strongly proposal ``pair_i[q]`` occludes (is in front of) ``pair_j[q]``, both indices
    into this image's proposals (file order); see :mod:`rapkit.io.proposals`.

    >>> import numpy as np
    >>> p = Proposals(7, 2, 2, np.array([0.9]), np.array([1]), np.array([0.5]), [{"size": [2, 2], "counts": "04"}])
    >>> len(p), p.image_id
    (1, 7)
    """

    image_id: int
    height: int
    width: int
    scores: np.ndarray  # float64 (N,)
    category_ids: np.ndarray  # int64 (N,)
    relations: np.ndarray  # float64 (N,), NaN = missing
    rles: list[dict]
    source_index: np.ndarray | None = None  # position of each proposal in the input file
    pair_i: np.ndarray | None = None  # int64 (P,): the occluding proposal of each pair
    pair_j: np.ndarray | None = None  # int64 (P,): the occluded one
    pair_logit: np.ndarray | None = None  # float64 (P,): the pair head's logit

    def __len__(self) -> int:
        return int(self.scores.shape[0])


#: ``rho`` and ``tau`` of a strategy when not given: the paper's best RAP setting, and
#: panopticapi's / detectron2's heuristic; OCFusion at the RAP authors' (and OCFusion's COCO)
#: configuration, 0.5 and 0.5
DEFAULT_THRESHOLD = {"rap": 0.6, "heuristic": 0.5, "ocfusion": 0.5}


@dataclass(frozen=True)
class FusionParams:
    """Parameters of a fusion run. ``FusionParams()`` is the paper's best RAP setting.

    ``strategy="ocfusion"`` (pairwise occlusion decisions, docs/fusion.md) uses ``rho``,
    ``tau``, ``stuff_area`` and ``variant`` (``"reference"``, the RAP authors' re-implementation,
    or ``"original"``, OCFusion's own code); the field's default ``"paper"`` stands for its
    default, ``"reference"`` (the paper does not specify OCFusion's fusion).

    >>> FusionParams(strategy="heuristic", rho=0.5, tau=0.5).strategy
    'heuristic'
    >>> FusionParams(strategy="ocfusion", rho=0.5, tau=0.5).variant
    'reference'
    """

    strategy: Literal["rap", "heuristic", "ocfusion"] = "rap"
    rho: float = 0.6
    tau: float = 0.6
    gamma: float = 0.5
    stuff_area: int = 4096
    ra: bool = True
    ca: bool = True
    eo: bool = True
    variant: Literal["paper", "reference", "original"] = "paper"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.strategy == "ocfusion" and self.variant == "paper":  # the field's default
            object.__setattr__(self, "variant", "reference")
        if self.variant not in STRATEGY_VARIANTS[self.strategy]:
            raise ConfigError(
                f"strategy {self.strategy} has no variant {self.variant!r}; "
                f"choose {' or '.join(STRATEGY_VARIANTS[self.strategy])}"
            )
        for name in ("rho", "tau", "gamma"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or math.isnan(v) or not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be a number in [0, 1], got {v!r}")
        if int(self.stuff_area) != self.stuff_area or self.stuff_area < 0:
            raise ConfigError(f"stuff_area must be a non-negative integer, got {self.stuff_area!r}")

    @classmethod
    def heuristic(cls, rho: float = 0.5, tau: float = 0.5, stuff_area: int = 4096) -> FusionParams:
        """The panopticapi/detectron2 baseline (rho = tau = 0.5)."""
        return cls(strategy="heuristic", rho=rho, tau=tau, stuff_area=stuff_area)

    @classmethod
    def of(
        cls,
        strategy: str = "rap",
        *,
        rho: float | None = None,
        tau: float | None = None,
        gamma: float = 0.5,
        stuff_area: int = 4096,
        ra: bool = True,
        ca: bool = True,
        eo: bool = True,
        variant: str | None = None,
    ) -> FusionParams:
        """The parameters as ``rapkit fuse`` takes them: ``rho``/``tau`` left out take the
        strategy's default (RAP: the paper's 0.6; heuristic: panopticapi's 0.5; OCFusion: the
        authors' 0.5), and ``variant`` left out the strategy's first (``paper``; OCFusion
        ``reference``). A variant the strategy does not have is a :class:`ConfigError`.

        >>> FusionParams.of("heuristic").rho, FusionParams.of("rap", tau=0.7).tau
        (0.5, 0.7)
        >>> FusionParams.of("ocfusion", variant="original").tau
        0.5
        """
        default = DEFAULT_THRESHOLD.get(strategy, 0.6)
        if variant is None:
            variant = STRATEGY_VARIANTS.get(strategy, VARIANTS)[0]
        elif strategy in STRATEGY_VARIANTS and variant in VARIANTS and variant not in STRATEGY_VARIANTS[strategy]:
            raise ConfigError(
                f"--variant {variant} does not apply to --strategy {strategy}; "
                f"choose {' or '.join(STRATEGY_VARIANTS[strategy])}"
            )
        return cls(
            strategy=strategy,  # type: ignore[arg-type]
            rho=default if rho is None else rho,
            tau=default if tau is None else tau,
            gamma=gamma,
            stuff_area=stuff_area,
            ra=ra,
            ca=ca,
            eo=eo,
            variant=variant,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def switches(self) -> tuple[bool, bool, bool, bool]:
        """``(ra, ca, eo, reference)`` as the fusion kernels take them; the heuristic is
        Algorithm 1 with all three parts off (OCFusion takes none of them: all False).

        >>> FusionParams.heuristic().switches()
        (False, False, False, False)
        """
        if self.strategy == "rap":
            return self.ra, self.ca, self.eo, self.variant == "reference"
        return False, False, False, False


# --------------------------------------------------------------------------- relations


@dataclass(frozen=True)
class Relation:
    """``front`` occludes ``back`` (instance annotation ids) in image ``image_id``.

    >>> r = Relation(1, front=10, back=11, overlap=40, ratio_front=0.2, ratio_back=0.5, front_pixels=30, back_pixels=10)
    >>> (r.front, r.back)
    (10, 11)
    """

    image_id: int
    front: int
    back: int
    overlap: int  # |I_front ∩ I_back| in pixels
    ratio_front: float  # overlap / |I_front|
    ratio_back: float  # overlap / |I_back|
    front_pixels: int  # overlap pixels the panoptic map gives to front
    back_pixels: int  # overlap pixels the panoptic map gives to back


@dataclass
class InstanceMask:
    """A decoded instance annotation, its mask cropped to the mask's bounding box.

    ``mask`` is a C-contiguous bool array of shape ``(h, w)`` whose top-left pixel is image
    pixel ``(y0, x0)``; ``area`` is its pixel count.

    >>> m = InstanceMask(7, 1, 0, 2, 3, np.ones((2, 2), bool))
    >>> (m.area, m.bbox)
    (4, (2, 3, 2, 2))
    """

    id: int
    category_id: int
    iscrowd: int
    x0: int
    y0: int
    mask: np.ndarray
    area: int = -1

    def __post_init__(self) -> None:
        if self.area < 0:
            self.area = int(np.count_nonzero(self.mask))

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """The crop as COCO ``(x, y, w, h)``."""
        return (self.x0, self.y0, int(self.mask.shape[1]), int(self.mask.shape[0]))


@dataclass
class ImageRelations:
    """Ground-truth relations of one image and how they were found (see ``core.relations``).

    ``matches`` maps instance id -> panoptic segment id; ``unmatched`` lists non-crowd
    instances with no segment; ``ties`` / ``hidden`` list candidate pairs (ratio > theta) that
    gave no relation (equal counts > 0 / no overlap pixel visible for either instance).
    """

    image_id: int
    relations: list[Relation] = field(default_factory=list)
    n_instances: int = 0  # non-crowd instances
    n_crowd: int = 0
    matches: dict[int, int] = field(default_factory=dict)
    unmatched: list[int] = field(default_factory=list)
    candidate_pairs: int = 0
    ties: list[tuple[int, int]] = field(default_factory=list)
    hidden: list[tuple[int, int]] = field(default_factory=list)


# --------------------------------------------------------------------------- evaluation
# PQ's statistics and results (computed by rapkit.core.pq, laid out by rapkit.pipeline.pq_report).


_EMPTY_I = np.zeros(0, np.int64)
_EMPTY_F = np.zeros(0, np.float64)


@dataclass
class PQStats:
    """Sufficient statistics of PQ over a set of images; ``a + b`` merges them.

    ``tp``/``fp``/``fn`` map category id -> count; the matched pairs are kept as parallel
    arrays (image position ``order``, rank in the image ``rank``, ``category``, ``iou``) so
    that :func:`rapkit.core.pq.summarize` sums the IoUs in panopticapi's order. ``image_ids`` and
    ``orders`` list the images covered (an image position may appear in only one operand
    of a merge).

    >>> import numpy as np
    >>> from rapkit.core.pq import pq_stats
    >>> m = np.array([[1, 2]], np.uint32)
    >>> segs = [Segment(1, 1, 1, (0, 0, 1, 1)), Segment(2, 1, 1, (1, 0, 1, 1))]
    >>> st = pq_stats(m, segs, segs, {1: Category(1, "a", True)}, pred_map=m)
    >>> st.tp, (st + PQStats()).tp
    ({1: 2}, {1: 2})
    """

    tp: dict[int, int] = field(default_factory=dict)
    fp: dict[int, int] = field(default_factory=dict)
    fn: dict[int, int] = field(default_factory=dict)
    order: np.ndarray = field(default_factory=lambda: _EMPTY_I.copy())
    rank: np.ndarray = field(default_factory=lambda: _EMPTY_I.copy())
    category: np.ndarray = field(default_factory=lambda: _EMPTY_I.copy())
    iou: np.ndarray = field(default_factory=lambda: _EMPTY_F.copy())
    orders: np.ndarray = field(default_factory=lambda: _EMPTY_I.copy())
    image_ids: list = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return int(self.orders.size)

    def merge(self, other: PQStats) -> PQStats:
        """A new PQStats covering both operands (commutative and associative).

        >>> (PQStats() + PQStats()).n_images
        0
        """
        if not isinstance(other, PQStats):
            raise TypeError(f"cannot merge PQStats with {type(other).__name__}")
        return merge_stats([self, other])

    def __add__(self, other: PQStats) -> PQStats:
        return self.merge(other)

    def __radd__(self, other: Any) -> PQStats:  # sum([...]) starts from 0
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def _canonical(self) -> tuple:
        idx = np.lexsort((self.rank, self.order))
        nz = lambda d: {k: v for k, v in d.items() if v}  # noqa: E731
        return (
            nz(self.tp),
            nz(self.fp),
            nz(self.fn),
            self.order[idx].tolist(),
            self.rank[idx].tolist(),
            self.category[idx].tolist(),
            self.iou[idx].tolist(),
            sorted(self.orders.tolist()),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PQStats):
            return NotImplemented
        return self._canonical() == other._canonical()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (exact: IoUs as floats, which JSON round-trips)."""
        return {
            "tp": {str(k): v for k, v in self.tp.items()},
            "fp": {str(k): v for k, v in self.fp.items()},
            "fn": {str(k): v for k, v in self.fn.items()},
            "order": self.order.tolist(),
            "rank": self.rank.tolist(),
            "category": self.category.tolist(),
            "iou": self.iou.tolist(),
            "orders": self.orders.tolist(),
            "image_ids": list(self.image_ids),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PQStats:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tp={int(k): int(v) for k, v in d["tp"].items()},
            fp={int(k): int(v) for k, v in d["fp"].items()},
            fn={int(k): int(v) for k, v in d["fn"].items()},
            order=np.asarray(d["order"], np.int64),
            rank=np.asarray(d["rank"], np.int64),
            category=np.asarray(d["category"], np.int64),
            iou=np.asarray(d["iou"], np.float64),
            orders=np.asarray(d["orders"], np.int64),
            image_ids=list(d.get("image_ids", [])),
        )


def merge_stats(parts: list[PQStats]) -> PQStats:
    """Merge many per-image statistics at once (linear time; same as ``sum(parts)``).

    >>> merge_stats([]).n_images
    0
    """
    if not parts:
        return PQStats()
    if len(parts) == 1:
        return parts[0]
    tp: dict[int, int] = {}
    fp: dict[int, int] = {}
    fn: dict[int, int] = {}
    for p in parts:
        for src, dst in ((p.tp, tp), (p.fp, fp), (p.fn, fn)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
    order = np.concatenate([p.order for p in parts])
    rank = np.concatenate([p.rank for p in parts])
    orders = np.concatenate([p.orders for p in parts])
    s = np.sort(orders)  # (np.unique without counts would import numpy.ma: start-up)
    if (s[1:] == s[:-1]).any():
        raise ValueError("cannot merge PQStats covering the same image positions twice")
    idx = np.lexsort((rank, order))
    oidx = np.argsort(orders, kind="stable")
    ids = [i for p in parts for i in p.image_ids]
    return PQStats(
        tp=tp,
        fp=fp,
        fn=fn,
        order=order[idx],
        rank=rank[idx],
        category=np.concatenate([p.category for p in parts])[idx],
        iou=np.concatenate([p.iou for p in parts])[idx],
        orders=orders[oidx],
        image_ids=[ids[i] for i in oidx.tolist()] if len(ids) == orders.size else ids,
    )


@dataclass(frozen=True)
class SplitResult:
    """PQ, SQ, RQ (fractions) and the number of classes ``n`` of All, Things or Stuff."""

    pq: float
    sq: float
    rq: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"pq": self.pq, "sq": self.sq, "rq": self.rq, "n": self.n}


@dataclass(frozen=True)
class ClassResult:
    """Per-class PQ, SQ, RQ (0 for a class absent from GT and prediction) with counts."""

    category_id: int
    name: str
    isthing: bool
    pq: float
    sq: float
    rq: float
    tp: int
    fp: int
    fn: int
    iou: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "category_id": self.category_id,
            "name": self.name,
            "isthing": self.isthing,
            "pq": self.pq,
            "sq": self.sq,
            "rq": self.rq,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "iou": self.iou,
        }


@dataclass(frozen=True)
class PQResult:
    """All / Things / Stuff summary plus per-class results (category order of the GT).

    >>> import numpy as np
    >>> from rapkit.core.pq import pq_stats, summarize
    >>> m = np.array([[1, 1, 2, 2]], np.uint32)
    >>> segs = [Segment(1, 1, 2, (0, 0, 2, 1)), Segment(2, 1, 2, (2, 0, 2, 1))]
    >>> r = summarize(pq_stats(m, segs, segs[:1], [Category(1, "a", True)], pred_map=m * (m == 1)), [Category(1, "a", True)])
    >>> round(r.all.pq, 4), r.things.n, r.per_class[1].fn
    (0.6667, 1, 1)
    """

    all: SplitResult
    things: SplitResult
    stuff: SplitResult
    per_class: dict[int, ClassResult]
    n_images: int = 0

    def split(self, name: str) -> SplitResult:
        return {"all": self.all, "things": self.things, "stuff": self.stuff}[name.lower()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_images": self.n_images,
            "All": self.all.to_dict(),
            "Things": self.things.to_dict(),
            "Stuff": self.stuff.to_dict(),
            "per_class": {str(k): v.to_dict() for k, v in self.per_class.items()},
        }

    def to_panopticapi(self) -> dict[str, Any]:
        """The dict ``panopticapi.evaluation.pq_compute`` returns (same keys and values)."""
        out: dict[str, Any] = {}
        for name, s in (("All", self.all), ("Things", self.things), ("Stuff", self.stuff)):
            out[name] = {"pq": s.pq, "sq": s.sq, "rq": s.rq, "n": s.n}
        out["per_class"] = {k: {"pq": c.pq, "sq": c.sq, "rq": c.rq} for k, c in self.per_class.items()}
        return out
