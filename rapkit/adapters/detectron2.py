"""detectron2's ``DatasetEvaluator`` for panoptic segmentation, in memory:
:class:`PanopticDatasetEvaluator`, a drop-in for ``COCOPanopticEvaluator``.

detectron2's ``COCOPanopticEvaluator`` encodes every prediction as a PNG, writes them all to
a temporary folder on the main process and runs panopticapi's ``pq_compute``. This adapter
takes the same ``process(inputs, outputs)`` calls (``inputs``: the dataset dicts, with
``image_id``; ``outputs``: the model's, with ``panoptic_seg`` = ``(panoptic_img,
segments_info)``, or ``(labels, None)`` in the ``label_divisor`` encoding with -1 VOID),
converts the categories exactly as detectron2 does (contiguous -> dataset ids through
``thing_/stuff_dataset_id_to_contiguous_id``), matches each image against its GT at once
(the dataset's panoptic JSON and PNGs, read through :mod:`rapkit.io`) with a
:class:`~rapkit.PanopticEvaluator`, and ``evaluate()`` returns what ``COCOPanopticEvaluator``
returns: ``{"panoptic_seg": {"PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st",
"SQ_st", "RQ_st"}}``, floats in percent (100 x panopticapi's fractions). Nothing is written.
Only when asked (``metrics=("pq", "boundary", "pq-dagger")``) the dict also holds Boundary
PQ's ``BPQ``, ``BSQ``, ``BRQ``, ``BPQ_th``, ..., ``BRQ_st`` and PQ†'s ``PQdagger``,
``SQdagger``, ``RQdagger``, ``PQdagger_th``, ..., ``RQdagger_st`` (:data:`METRIC_KEYS`).

With detectron2 installed the class is a ``detectron2.evaluation.DatasetEvaluator``, finds the
metadata by dataset name in ``MetadataCatalog`` and gathers the ranks' statistics through
``detectron2.utils.comm`` (``evaluate`` returns on the main process only, None elsewhere, as
detectron2's). Without it, pass ``metadata=`` (any object with detectron2's metadata
attributes) and it runs in one process.

>>> from types import SimpleNamespace
>>> md = SimpleNamespace(panoptic_json="gt.json", panoptic_root="gt", label_divisor=1000,
...                      thing_dataset_id_to_contiguous_id={1: 0}, stuff_dataset_id_to_contiguous_id={})
>>> PanopticDatasetEvaluator(metadata=md).metadata.label_divisor
1000
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from ..core.boundary import DILATION_RATIO
from ..core.evaluator import PanopticEvaluator, as_metrics
from ..errors import InputError
from ..io.panoptic import load_panoptic, read_id_map

try:  # optional: detectron2's base class, metadata catalog and process group helpers
    from detectron2.data import MetadataCatalog
    from detectron2.evaluation import DatasetEvaluator as _Base
    from detectron2.utils import comm
except ImportError:  # without detectron2: a plain class, one process
    _Base, MetadataCatalog, comm = object, None, None

#: ``COCOPanopticEvaluator``'s result keys: (key, panopticapi split, measure)
KEYS = [
    (f"{m}{suffix}", split, m.lower())
    for suffix, split in (("", "All"), ("_th", "Things"), ("_st", "Stuff"))
    for m in ("PQ", "SQ", "RQ")
]

#: the keys of each metric: PQ's are :data:`KEYS`; Boundary PQ prefixes ``B``, PQ† appends ``dagger``
METRIC_KEYS = {
    "pq": KEYS,
    "boundary": [("B" + key, split, m) for key, split, m in KEYS],
    "pq-dagger": [(key.replace("Q", "Qdagger", 1), split, m) for key, split, m in KEYS],
}


class PanopticDatasetEvaluator(_Base):  # type: ignore[misc,valid-type]
    """PQ of a detectron2 model's panoptic outputs, ``==`` ``COCOPanopticEvaluator``'s
    (panopticapi one-process bits), without writing a file. ``dataset_name``: a registered
    detectron2 dataset (needs detectron2); or ``metadata``: an object with ``panoptic_json``,
    ``panoptic_root``, ``thing_dataset_id_to_contiguous_id``,
    ``stuff_dataset_id_to_contiguous_id`` and (for outputs without ``segments_info``)
    ``label_divisor``. ``metrics``: PQ is always computed; add ``"boundary"`` and/or
    ``"pq-dagger"`` for their keys (``dilation_ratio``: Boundary PQ's band width).

    >>> from types import SimpleNamespace
    >>> md = SimpleNamespace(panoptic_json="gt.json", panoptic_root="gt", thing_dataset_id_to_contiguous_id={},
    ...                      stuff_dataset_id_to_contiguous_id={})
    >>> PanopticDatasetEvaluator(metadata=md).reset()
    """

    def __init__(
        self,
        dataset_name: str | None = None,
        output_dir: str | None = None,
        *,
        metadata: Any = None,
        metrics: Any = ("pq",),
        dilation_ratio: float = DILATION_RATIO,
    ) -> None:
        if metadata is None:
            if dataset_name is None:
                raise ValueError("give dataset_name (a registered detectron2 dataset) or metadata=")
            if MetadataCatalog is None:
                raise ImportError("dataset_name needs detectron2 installed; without it pass metadata=")
            metadata = MetadataCatalog.get(dataset_name)
        for attr in ("panoptic_json", "panoptic_root", "thing_dataset_id_to_contiguous_id"):
            if not hasattr(metadata, attr):
                raise ValueError(f"the dataset's metadata has no {attr!r} (a COCO panoptic dataset has it)")
        self.metadata = metadata
        self.metrics = as_metrics(("pq", *as_metrics(metrics)))  # PQ always, the others when asked
        self.dilation_ratio = dilation_ratio
        self._thing = {v: k for k, v in metadata.thing_dataset_id_to_contiguous_id.items()}
        self._stuff = {v: k for k, v in getattr(metadata, "stuff_dataset_id_to_contiguous_id", {}).items()}
        self._gt: Any = None  # the GT JSON, loaded on first use
        self.evaluator: PanopticEvaluator | None = None

    def _ground_truth(self) -> Any:
        if self._gt is None:
            md = self.metadata
            # panopticapi accepts GT segments of categories it does not list: so do we
            self._gt = load_panoptic(md.panoptic_json, md.panoptic_root, check_categories=False)
        return self._gt

    def reset(self) -> None:
        """Forget every image processed."""
        if self.evaluator is not None:
            self.evaluator.reset()

    def _category(self, s: dict, image_id: Any) -> int:
        # detectron2's _convert_category_id: isthing True/False -> contiguous id to dataset id
        isthing = s.get("isthing")
        if isthing is None:
            return int(s["category_id"])
        table = self._thing if isthing else self._stuff
        c = int(s["category_id"])
        if c not in table:
            raise InputError(
                f"contiguous {'thing' if isthing else 'stuff'} category {c} is not in the dataset's metadata",
                image_id=image_id,
                segment_id=s.get("id"),
            )
        return table[c]

    def process(self, inputs: list[dict], outputs: list[dict]) -> None:
        """Match each image's ``output["panoptic_seg"]`` against the GT of ``input["image_id"]``."""
        gt = self._ground_truth()
        if self.evaluator is None:
            self.evaluator = self._new(gt)
        for inp, out in zip(inputs, outputs):
            iid = inp["image_id"]
            if iid not in gt.annotations:
                raise InputError("image_id is not in the dataset's panoptic JSON", file=gt.json_path, image_id=iid)
            img, segments = out["panoptic_seg"]
            if hasattr(img, "detach"):  # a torch tensor
                img = img.detach().cpu().numpy()
            img = np.asarray(img)
            if segments is None:  # label_divisor encoding, -1 VOID: ids label + 1, as detectron2
                div = int(self.metadata.label_divisor)
                things = set(self.metadata.thing_dataset_id_to_contiguous_id.values())
                labels = np.unique(img).tolist()
                segments = [
                    {"id": int(v) + 1, "category_id": int(v) // div, "isthing": int(v) // div in things}
                    for v in labels
                    if v != -1
                ]
                img = img.astype(np.int64) + 1
            pred_segs = [{"id": int(s["id"]), "category_id": self._category(s, iid)} for s in segments]
            ann = gt.annotations[iid]
            gt_ids = read_id_map(gt.png_path(iid), image_id=iid)
            self.evaluator.update(img, pred_segs, gt_ids, ann.segments, image_ids=[iid])

    def evaluate(self) -> OrderedDict | None:
        """``{"panoptic_seg": {PQ, SQ, RQ, PQ_th, ..., RQ_st}}`` in percent, as
        ``COCOPanopticEvaluator`` (None on the processes other than the main one)."""
        gt = self._ground_truth()
        ev = self.evaluator or self._new(gt)
        if comm is not None and comm.get_world_size() > 1:
            states = comm.gather(ev.state(), dst=0)
            if not comm.is_main_process():
                return None
            ev = self._new(gt)
            for s in states:
                ev.merge(s)
        res = ev.compute()
        out = {}
        for metric in self.metrics:
            r = (res if metric == "pq" and self.metrics == ("pq",) else res[metric]).result.to_panopticapi()
            out.update({key: 100 * r[split][m] for key, split, m in METRIC_KEYS[metric]})
        return OrderedDict({"panoptic_seg": out})

    def _new(self, gt: Any) -> PanopticEvaluator:
        return PanopticEvaluator(
            gt.categories, image_order=list(gt.annotations), metrics=self.metrics, dilation_ratio=self.dilation_ratio
        )


__all__ = ["KEYS", "METRIC_KEYS", "PanopticDatasetEvaluator"]
