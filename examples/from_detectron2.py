"""detectron2 output -> rapkit's inputs (proposals JSON, semantic PNGs, image list).

What it shows: the few lines that turn a detectron2 model's output (Mask R-CNN, or Panoptic
FPN with its semantic head) into the files ``rapkit fuse`` and ``rapkit predict --proposals``
read, through the library adapters (``rapkit.io.ProposalWriter``, ``write_semantic_png``,
``write_image_info``), which check the arrays as strictly as rapkit's readers check files.

detectron2's documented output (``DefaultPredictor(cfg)(bgr_image)``, or ``model(inputs)[i]``):
a dict per image,

    {"instances": Instances with
         pred_masks:   BoolTensor[N, H, W]
         scores:       Tensor[N] in [0, 1]
         pred_classes: Tensor[N]  contiguous thing labels 0..K-1 (on COCO: the 80 thing
                                  classes -> label_map "coco80"; in general the dataset's
                                  thing ids in increasing order: contiguous_label_map(ids))
     "sem_seg": Tensor[C, H, W] semantic logits (Panoptic FPN / semantic models; on COCO
                panoptic C = 54: class 0 = all things, 1..53 = the stuff ids in increasing
                order -> label map [0, *stuff_ids], class 0 becomes void)}

Usage (with detectron2 installed; the model path is not run by rapkit's tests):
  python examples/from_detectron2.py --config-file COCO-PanopticSegmentation/panoptic_fpn_R_50_3x.yaml \
      --weights model_final.pkl --images coco/val2017 --image-info panoptic_val2017.json \
      --categories panoptic_val2017.json -o d2-out
Without detectron2 (fabricated outputs of the same shapes, as the tests run it):
  python examples/from_detectron2.py --demo --image-info world/panoptic.json --categories world/categories.json -o d2-out
then: rapkit fuse --proposals d2-out/proposals.json --image-info d2-out/images.json \
          --categories world/categories.json --semantic d2-out/semantic --strategy heuristic -o fused
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rapkit.io import (
    ProposalWriter,
    contiguous_label_map,
    semantic_png_name,
    write_image_info,
    write_semantic_png,
)
from rapkit.io.panoptic import load_categories, load_images


def numpy(x):
    """A torch tensor (any device) or an array -> numpy."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def convert(outputs, images, categories, out: Path, force: bool = False) -> int:
    """``outputs``: (image_id, detectron2 output dict) pairs -> proposals.json, semantic/, images.json."""
    things = sorted(c for c, cat in categories.items() if cat.isthing)
    stuff = sorted(c for c, cat in categories.items() if not cat.isthing)
    sem_map = [0, *stuff]  # sem_seg class 0 = "things" -> void; 1.. = stuff ids in increasing order
    (out / "semantic").mkdir(parents=True, exist_ok=True)
    with ProposalWriter(
        out / "proposals.json",
        label_map=contiguous_label_map(things),
        categories=categories,
        images=images,
        force=force,
    ) as w:
        for iid, o in outputs:
            inst = o["instances"]
            w.add(iid, numpy(inst.pred_masks), numpy(inst.scores), numpy(inst.pred_classes))
            if "sem_seg" in o:
                write_semantic_png(
                    out / "semantic" / semantic_png_name(images[iid].file_name),
                    numpy(o["sem_seg"]),
                    label_map=sem_map,
                    categories=categories,
                    image_id=iid,
                    force=force,
                )
    write_image_info(out / "images.json", images.values(), categories=categories, force=force)
    return w.n_proposals


def run_model(args, images):
    """detectron2's DefaultPredictor over the images (BGR input, as detectron2 expects)."""
    import cv2
    from detectron2 import model_zoo
    from detectron2.config import get_cfg
    from detectron2.engine import DefaultPredictor

    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file(args.config_file))
    cfg.MODEL.WEIGHTS = args.weights
    predictor = DefaultPredictor(cfg)
    for iid, info in images.items():
        yield iid, predictor(cv2.imread(str(Path(args.images) / info.file_name)))


def demo_outputs(images, categories, seed=0):
    """Outputs shaped like detectron2's (numpy instead of tensors)."""
    rng = np.random.default_rng(seed)
    k_things = sum(1 for c in categories.values() if c.isthing)
    n_stuff = sum(1 for c in categories.values() if not c.isthing)
    for iid, info in images.items():
        h, w = info.height, info.width
        n = int(rng.integers(2, 7))
        y, x = np.mgrid[:h, :w]
        masks = np.stack(
            [
                np.hypot(x - rng.uniform(0, w), y - rng.uniform(0, h)) < rng.uniform(0.1, 0.3) * min(h, w)
                for _ in range(n)
            ]
        )
        inst = SimpleNamespace(
            pred_masks=masks,
            scores=rng.uniform(0.3, 1.0, n).astype(np.float32),
            pred_classes=rng.integers(0, k_things, n),
            pred_boxes=np.zeros((n, 4), np.float32),
        )
        sem = rng.normal(0, 0.1, (1 + n_stuff, h, w)).astype(np.float32)
        sem[1 + int(rng.integers(n_stuff)), : h // 2] += 1.0
        sem[1 + int(rng.integers(n_stuff)), h // 2 :] += 1.0
        yield iid, {"instances": inst, "sem_seg": sem}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-info", required=True, help="COCO JSON with the 'images' to convert")
    ap.add_argument("--categories", required=True, help="COCO panoptic categories (a list, or a JSON with them)")
    ap.add_argument("-o", "--output", required=True, help="output folder: proposals.json, images.json, semantic/")
    ap.add_argument("--demo", action="store_true", help="fabricate detectron2-shaped outputs (no detectron2 needed)")
    ap.add_argument("--config-file", help="detectron2 model-zoo config")
    ap.add_argument("--weights", help="detectron2 weights")
    ap.add_argument("--images", help="folder of the images")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    images, categories = load_images(args.image_info), load_categories(args.categories)
    if args.demo:
        outputs = demo_outputs(images, categories)
    elif args.config_file and args.weights and args.images:
        outputs = run_model(args, images)
    else:
        ap.error("give --config-file, --weights and --images, or --demo")
    n = convert(outputs, images, categories, Path(args.output), args.force)
    print(f"wrote {n} proposal(s) and {len(images)} semantic map(s) to {args.output}")


if __name__ == "__main__":
    main()
