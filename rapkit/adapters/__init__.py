"""rapkit's PQ inside other frameworks' loops (torch only here and in :mod:`rapkit.model`).

* :mod:`rapkit.adapters.distributed`: :func:`~rapkit.adapters.distributed.all_gather_evaluator`,
  one :class:`~rapkit.PanopticEvaluator` per rank merged over ``torch.distributed``;
* :mod:`rapkit.adapters.detectron2`: :class:`~rapkit.adapters.detectron2.PanopticDatasetEvaluator`,
  detectron2's ``COCOPanopticEvaluator`` without files;
* :mod:`rapkit.adapters.torchmetrics`: :class:`~rapkit.adapters.torchmetrics.PanopticQuality`,
  a ``torchmetrics.Metric`` whose fixed-size states sum across DDP.

Importing this package imports nothing heavy; each module imports its framework.
"""
