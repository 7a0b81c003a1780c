"""The command table of the command line: name -> (module, short help). A command's module is
imported only when the command runs or shows its help (``rapkit --help`` imports none)."""

from __future__ import annotations

# name -> (module, short help). Modules expose a click command named ``command``.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("rapkit.cli.synth", "Write a synthetic COCO world with known depth order."),
    "extract-relations": ("rapkit.cli.extract_relations", "Extract occlusion relations from instance + panoptic GT."),
    "train": ("rapkit.cli.train", "Fine-tune the relation head on a frozen Mask R-CNN."),
    "predict": ("rapkit.cli.predict", "Score proposals with a trained relation head."),
    "fuse": ("rapkit.cli.fuse", "Fuse proposals (+ semantic) into COCO panoptic output."),
    "evaluate": ("rapkit.cli.evaluate", "PQ/SQ/RQ, relation accuracy, threshold sweeps."),
    "check": ("rapkit.cli.check", "Sanity report for a dataset or a prediction."),
    "show": ("rapkit.cli.show", "Pictures: overlay, compare, relations, charts (PNG files)."),
    "demo": ("rapkit.cli.demo", "The whole pipeline on a synthetic world, in one command."),
}

__all__ = ["COMMANDS"]
