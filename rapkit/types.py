"""Plain dataclasses shared across rapkit (no numba, no torch)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import ConfigError

# --------------------------------------------------------------------------- foundation


@dataclass(frozen=True)
class Category:
    """A COCO panoptic category: ``Category(1, "person", True, (220, 20, 60))``."""

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
    """One panoptic segment (``segments_info`` entry). ``bbox`` is COCO ``[x, y, w, h]``."""

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
    """A COCO ``images`` entry."""

    id: int
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

STRATEGIES = ("rap", "heuristic")
VARIANTS = ("paper", "reference")


@dataclass
class Proposals:
    """Instance proposals of one image (COCO results entries).

    ``rles`` are pycocotools RLE dicts (``{"size": [h, w], "counts": bytes|str}``);
    ``relations`` holds NaN where a proposal has no relation value.
    """

    image_id: int
    height: int
    width: int
    scores: np.ndarray  # float64 (N,)
    category_ids: np.ndarray  # int64 (N,)
    relations: np.ndarray  # float64 (N,), NaN = missing
    rles: list[dict]
    source_index: np.ndarray | None = None  # position of each proposal in the input file

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True)
class FusionParams:
    """Parameters of a fusion run. ``FusionParams()`` is the paper's best RAP setting.

    >>> FusionParams(strategy="heuristic", rho=0.5, tau=0.5).strategy
    'heuristic'
    """

    strategy: Literal["rap", "heuristic"] = "rap"
    rho: float = 0.6
    tau: float = 0.6
    gamma: float = 0.5
    stuff_area: int = 4096
    ra: bool = True
    ca: bool = True
    eo: bool = True
    variant: Literal["paper", "reference"] = "paper"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def switches(self) -> tuple[bool, bool, bool, bool]:
        """``(ra, ca, eo, reference)`` as the fusion kernels take them; the heuristic is
        Algorithm 1 with all three parts off.

        >>> FusionParams.heuristic().switches()
        (False, False, False, False)
        """
        if self.strategy == "rap":
            return self.ra, self.ca, self.eo, self.variant == "reference"
        return False, False, False, False


# --------------------------------------------------------------------------- relations


@dataclass(frozen=True)
class Relation:
    """``front`` occludes ``back`` (instance annotation ids) in image ``image_id``."""

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
# PQStats / PQResult live in rapkit.core.pq (re-exported here lazily to keep numpy-only import).


def __getattr__(name: str):  # pragma: no cover - thin re-export
    if name in ("PQStats", "PQResult"):
        from .core import pq

        return getattr(pq, name)
    raise AttributeError(name)
