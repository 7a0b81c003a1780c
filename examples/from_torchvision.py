"""torchvision Mask R-CNN output -> rapkit's inputs (proposals JSON + image list).

What it shows: the few lines that turn a torchvision detection model's output into the files
``rapkit fuse`` / ``rapkit predict --proposals`` read, through the library adapters
(``rapkit.io.ProposalWriter``, ``write_semantic_png``, ``write_image_info``), which check the
arrays as strictly as rapkit's readers check files.

torchvision's documented output (``model.eval(); outputs = model(list_of_CHW_float_tensors)``):
one dict per image,

    {"boxes":  FloatTensor[N, 4] (x1, y1, x2, y2),
     "labels": Int64Tensor[N]    -- COCO-trained models: the 91-index COCO space, label = COCO
                                    category id (label_map "coco91"); a model with K + 1
                                    classes trained on your categories: label i = the i-th
                                    smallest category id (contiguous_label_map(ids, start=1),
                                    `rapkit train --labels contiguous`),
     "scores": FloatTensor[N]    in [0, 1],
     "masks":  FloatTensor[N, 1, H, W] mask probabilities -> masks[:, 0] > 0.5}

Detection models have no semantic output; a torchvision segmentation model
(``deeplabv3_*``, ``fcn_*``) returns ``{"out": FloatTensor[B, C, H, W]}`` logits, converted
with ``write_semantic_png(path, out[b], label_map=...)`` (``--demo`` shows it).

Usage:
  python examples/from_torchvision.py --detector model.pth --arch maskrcnn_resnet50_fpn \
      --images coco/val2017 --image-info instances_val2017.json --categories panoptic_val2017.json -o tv-out
  python examples/from_torchvision.py --demo --image-info world/panoptic.json --categories world/categories.json -o tv-out
then
  rapkit fuse --proposals tv-out/proposals.json --image-info tv-out/images.json --categories world/categories.json \
      --strategy heuristic -o fused       (or add relation values first: rapkit predict ... --proposals tv-out/proposals.json)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rapkit.io import (
    ProposalWriter,
    contiguous_label_map,
    resolve_label_map,
    semantic_png_name,
    write_image_info,
    write_semantic_png,
)
from rapkit.io.panoptic import load_categories, load_images


def numpy(x):
    """A torch tensor (any device) or an array -> numpy."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def convert(outputs, images, categories, label_map, out: Path, force: bool = False, semantic=None, stuff_map=None):
    """``outputs``: (image_id, torchvision output dict) pairs. Detections whose label is not
    a thing category of ``categories`` are dropped (counted); everything else is checked."""
    things = {c for c, cat in categories.items() if cat.isthing}
    lmap = resolve_label_map(label_map)  # {label: category id}, None = labels are category ids
    dropped = 0
    out.mkdir(parents=True, exist_ok=True)
    with ProposalWriter(
        out / "proposals.json", label_map=label_map, categories=categories, images=images, force=force
    ) as w:
        for iid, o in outputs:
            labels = numpy(o["labels"])
            keep = np.array([(lmap.get(int(v)) if lmap is not None else int(v)) in things for v in labels], bool)
            dropped += int((~keep).sum())
            masks = numpy(o["masks"])[keep, 0] > 0.5  # N x 1 x H x W probabilities -> N x H x W bool
            w.add(iid, masks, numpy(o["scores"])[keep], labels[keep])
    if semantic is not None:  # {image_id: C x H x W logits} of a segmentation model
        (out / "semantic").mkdir(exist_ok=True)
        for iid, logits in semantic.items():
            write_semantic_png(
                out / "semantic" / semantic_png_name(images[iid].file_name),
                numpy(logits),
                label_map=stuff_map,
                categories=categories,
                image_id=iid,
                force=force,
            )
    write_image_info(out / "images.json", images.values(), categories=categories, force=force)
    return w.n_proposals, dropped


def run_model(args, images, categories):
    """Run a torchvision Mask R-CNN checkpoint (loaded as `rapkit predict` does) image by image."""
    import torch
    from PIL import Image

    from rapkit.model.detector import load_detector, make_label_map

    det = load_detector(args.detector, args.arch, min_size=args.min_size, max_size=args.max_size)
    det.model.roi_heads.score_thresh = args.score_threshold
    det.model.roi_heads.detections_per_img = args.max_detections
    if args.rpn_top_n:  # region proposals per image and FPN level (torchvision's default: 1000)
        det.model.rpn._pre_nms_top_n["testing"] = det.model.rpn._post_nms_top_n["testing"] = args.rpn_top_n
    things = sorted(c for c, cat in categories.items() if cat.isthing)
    label_map = make_label_map(det.num_classes, things, args.labels)  # same choice as `rapkit train --labels`
    with torch.no_grad():
        for iid, info in images.items():
            rgb = np.asarray(Image.open(Path(args.images) / info.file_name).convert("RGB"))
            x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255.0
            yield iid, det.model([x])[0], label_map


def demo_outputs(images, categories, seed=0):
    """Outputs shaped like torchvision's (numpy instead of tensors): labels in the 91-index
    COCO space (the dataset's thing ids are COCO ids, as the synthetic world's), masks
    N x 1 x H x W float; deeplab-style logits (class 0 = background -> void)."""
    rng = np.random.default_rng(seed)
    things = sorted(c for c, cat in categories.items() if cat.isthing)
    stuff = sorted(c for c, cat in categories.items() if not cat.isthing)
    dets, sem = [], {}
    for iid, info in images.items():
        h, w = info.height, info.width
        n = int(rng.integers(2, 7))
        y, x = np.mgrid[:h, :w]
        masks = np.zeros((n, 1, h, w), np.float32)
        for k in range(n):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.3) * min(h, w)
            masks[k, 0] = np.clip(1.5 - np.hypot(x - cx, y - cy) / r, 0, 1)
        dets.append(
            (
                iid,
                {
                    "boxes": np.zeros((n, 4), np.float32),
                    "labels": rng.choice(things, n),
                    "scores": rng.uniform(0.3, 1.0, n).astype(np.float32),
                    "masks": masks,
                },
            )
        )
        logits = rng.normal(0, 0.1, (1 + len(stuff), h, w)).astype(np.float32)
        logits[1 + int(rng.integers(len(stuff))), : h // 2] += 1.0  # class 0 = background (void)
        logits[1 + int(rng.integers(len(stuff))), h // 2 :] += 1.0
        sem[iid] = logits
    return dets, sem, [0, *stuff]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-info", required=True, help="COCO JSON with the 'images' to convert")
    ap.add_argument("--categories", required=True, help="COCO panoptic categories (a list, or a JSON with them)")
    ap.add_argument("-o", "--output", required=True, help="output folder: proposals.json, images.json, semantic/")
    ap.add_argument("--demo", action="store_true", help="fabricate torchvision-shaped outputs (no torch needed)")
    ap.add_argument("--detector", help="torchvision Mask R-CNN checkpoint")
    ap.add_argument("--arch", default="maskrcnn_resnet50_fpn")
    ap.add_argument("--images", help="folder of the images")
    ap.add_argument("--labels", default="auto", choices=["auto", "coco", "contiguous"])
    ap.add_argument("--min-size", type=int, default=800)
    ap.add_argument("--max-size", type=int, default=1333)
    ap.add_argument("--score-threshold", type=float, default=0.05)
    ap.add_argument("--max-detections", type=int, default=100)
    ap.add_argument("--rpn-top-n", type=int, default=None)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    images, categories = load_images(args.image_info), load_categories(args.categories)
    out = Path(args.output)
    if args.demo:
        dets, sem, stuff_map = demo_outputs(images, categories)
        n, dropped = convert(dets, images, categories, "coco91", out, args.force, sem, stuff_map)
    else:
        if not (args.detector and args.images):
            ap.error("--detector and --images are needed without --demo")
        runs = list(run_model(args, images, categories))
        label_map = runs[0][2] if runs else contiguous_label_map([], start=1)
        n, dropped = convert(((iid, o) for iid, o, _ in runs), images, categories, label_map, out, args.force)
    print(
        f"wrote {n} proposal(s) for {len(images)} image(s) to {out} ({dropped} with a label outside the categories dropped)"
    )


if __name__ == "__main__":
    main()
