"""mmdetection output -> rapkit's inputs (proposals JSON, semantic PNGs, image list).

What it shows: the few lines that turn an mmdetection (3.x) instance-segmentation result, and
optionally an mmsegmentation label map, into the files ``rapkit fuse`` and ``rapkit predict
--proposals`` read, through the library adapters (``rapkit.io.ProposalWriter``,
``write_semantic_png``, ``write_image_info``), which check the arrays as strictly as
rapkit's readers check files.

mmdetection's documented output (``inference_detector(model, image)``): a ``DetDataSample``
per image with

    pred_instances.masks:  BoolTensor[N, H, W]
    pred_instances.scores: Tensor[N] in [0, 1]
    pred_instances.labels: Tensor[N]   contiguous labels 0..K-1 (COCO: the 80 thing classes
                                       -> label_map "coco80"; in general the dataset's thing
                                       ids in increasing order: contiguous_label_map(ids))
    pred_instances.bboxes: Tensor[N, 4]

and mmsegmentation's (``inference_model(model, image)``): a ``SegDataSample`` with
``pred_sem_seg.data``: Tensor[1, H, W] label map (contiguous classes over the dataset's
categories in increasing id order, as mmseg's COCO-Stuff datasets; 255 = ignore -> void) or
``seg_logits.data``: Tensor[C, H, W].

Usage (with mmdet installed; the model path is not run by rapkit's tests):
  python examples/from_mmdet.py --config mask-rcnn_r50_fpn_1x_coco.py --checkpoint mask_rcnn.pth \
      --images coco/val2017 --image-info instances_val2017.json --categories panoptic_val2017.json -o mm-out
Without mmdet (fabricated outputs of the same shapes, as the tests run it):
  python examples/from_mmdet.py --demo --image-info world/panoptic.json --categories world/categories.json -o mm-out
then: rapkit fuse --proposals mm-out/proposals.json --image-info mm-out/images.json \
          --categories world/categories.json --semantic mm-out/semantic --strategy heuristic -o fused
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


def convert(results, images, categories, out: Path, semantic=None, force: bool = False) -> int:
    """``results``: (image_id, DetDataSample) pairs; ``semantic``: {image_id: SegDataSample}."""
    things = sorted(c for c, cat in categories.items() if cat.isthing)
    seg_map = contiguous_label_map(categories)  # mmseg class k -> k-th smallest category id
    seg_map[255] = 0  # ignore -> void
    (out / "semantic").mkdir(parents=True, exist_ok=True)
    with ProposalWriter(
        out / "proposals.json",
        label_map=contiguous_label_map(things),
        categories=categories,
        images=images,
        force=force,
    ) as w:
        for iid, sample in results:
            p = sample.pred_instances
            w.add(iid, numpy(p.masks), numpy(p.scores), numpy(p.labels))
    for iid, seg in (semantic or {}).items():
        write_semantic_png(
            out / "semantic" / semantic_png_name(images[iid].file_name),
            numpy(seg.pred_sem_seg.data)[0],
            label_map=seg_map,
            categories=categories,
            image_id=iid,
            force=force,
        )
    write_image_info(out / "images.json", images.values(), categories=categories, force=force)
    return w.n_proposals


def run_model(args, images):
    from mmdet.apis import inference_detector, init_detector

    model = init_detector(args.config, args.checkpoint, device=args.device)
    for iid, info in images.items():
        yield iid, inference_detector(model, str(Path(args.images) / info.file_name))


def demo_outputs(images, categories, seed=0):
    """DetDataSample- and SegDataSample-shaped outputs (numpy instead of tensors)."""
    rng = np.random.default_rng(seed)
    k_things = sum(1 for c in categories.values() if c.isthing)
    stuff_classes = [k for k, c in enumerate(sorted(categories)) if not categories[c].isthing]
    dets, segs = [], {}
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
            masks=masks,
            scores=rng.uniform(0.3, 1.0, n).astype(np.float32),
            labels=rng.integers(0, k_things, n),
            bboxes=np.zeros((n, 4), np.float32),
        )
        dets.append((iid, SimpleNamespace(pred_instances=inst)))
        label = np.where(np.arange(h)[:, None] < h // 2, rng.choice(stuff_classes), rng.choice(stuff_classes))
        label = np.broadcast_to(label, (h, w)).copy()
        label[: h // 8, : w // 8] = 255  # an ignored corner
        segs[iid] = SimpleNamespace(pred_sem_seg=SimpleNamespace(data=label[None].astype(np.int64)))
    return dets, segs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-info", required=True, help="COCO JSON with the 'images' to convert")
    ap.add_argument("--categories", required=True, help="COCO panoptic categories (a list, or a JSON with them)")
    ap.add_argument("-o", "--output", required=True, help="output folder: proposals.json, images.json, semantic/")
    ap.add_argument("--demo", action="store_true", help="fabricate mmdet-shaped outputs (no mmdet needed)")
    ap.add_argument("--config", help="mmdet config file")
    ap.add_argument("--checkpoint", help="mmdet checkpoint")
    ap.add_argument("--images", help="folder of the images")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    images, categories = load_images(args.image_info), load_categories(args.categories)
    semantic = None
    if args.demo:
        results, semantic = demo_outputs(images, categories)
    elif args.config and args.checkpoint and args.images:
        results = run_model(args, images)
    else:
        ap.error("give --config, --checkpoint and --images, or --demo")
    n = convert(results, images, categories, Path(args.output), semantic, args.force)
    print(f"wrote {n} proposal(s) for {len(images)} image(s) to {args.output}")


if __name__ == "__main__":
    main()
