"""``rapkit predict`` before/after one mask pass: the whole call timed with today's
``features.detect`` (the mask branch runs once, inside ``roi_heads``, and forward hooks keep
its RoIAlign features and logits) and with the two-pass ``detect`` it replaced (roi_heads,
then RoIAlign + mask head + mask predictor again over the same boxes), in the same run.

Each round runs ``predict`` once per variant (order alternating round by round) over the
same image folder, detector checkpoint and relation head file, and reads the parts that
``predict`` reports: ``detector`` (the frozen Mask R-CNN with the head inputs), ``head``
(the RAP relation head) and ``total`` (the whole call). It prints the median of each part
per variant, the paired ratio old/new of each part (median of each round's ratio), and
checks that both variants wrote the same JSON (same detections, same relation values: the
head inputs are equal, tests/model/test_predict_one_pass.py checks them with torch.equal).

The detector is a randomly initialised (never downloaded) Mask R-CNN whose box classifier
is nudged to detect (background unlikely, one class likely, as tests/conftest.py's
``test_detector``): the mask branch then sees ``--max-detections`` boxes per image, as a
trained detector on a busy image would.

With ``--pair-width W`` it also runs ``predict`` with an (untrained) OCFusion pair head of
width W once per round and prints its parts apart: the detector, the pair head on every
overlapping pair batched (``pair_head``, what is written) and one forward per overlap met
in a replay of score order (``pair_head_replay``), with their ratio.

Run:  python benchmarks/predict.py                          # CPU, 4 images of 320 px
      python benchmarks/predict.py --pair-width 512         # and the OCFusion pair head's two strategies
      python benchmarks/predict.py --device cuda --min-size 800 --images 8 --rounds 5 --arch resnet50_fpn
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def two_pass_detect(model, images):
    """``rapkit.model.features.detect`` before the change (the mask branch run twice)."""
    import torch

    from rapkit.model.head import head_input

    with torch.no_grad():
        orig = [tuple(int(s) for s in im.shape[-2:]) for im in images]
        il, _ = model.transform(images)
        feats = model.backbone(il.tensors)
        proposals, _ = model.rpn(il, feats)
        dets, _ = model.roi_heads(feats, proposals, il.image_sizes)
        rh = model.roi_heads
        boxes = [d["boxes"] for d in dets]
        mf = rh.mask_roi_pool(feats, boxes, il.image_sizes)
        labels = torch.cat([d["labels"] for d in dets]) if dets else torch.zeros(0, dtype=torch.int64)
        x = head_input(mf, rh.mask_predictor(rh.mask_head(mf)), labels)
        dets = model.transform.postprocess(dets, il.image_sizes, orig)
        out, start = [], 0
        for d in dets:
            n = int(d["boxes"].shape[0])
            out.append({**d, "head_input": x[start : start + n]})
            start += n
        return out


def setup(root: Path, args) -> tuple[Path, Path, Path]:
    import numpy as np
    import torch
    from PIL import Image

    from rapkit.model.detector import build_detector, save_detector_checkpoint
    from rapkit.model.head import RelationHead, head_payload, save_head_file

    torch.manual_seed(0)
    det = build_detector(args.arch, 91, min_size=args.min_size, max_size=args.max_size)
    with torch.no_grad():  # detect: background unlikely, class 47 likely
        det.roi_heads.box_predictor.cls_score.bias[0] = -10.0
        det.roi_heads.box_predictor.cls_score.bias[47] = 8.0
    ckpt = save_detector_checkpoint(det, root / "detector.pth")
    payload = head_payload(
        RelationHead(),
        arch=args.arch,
        num_classes=91,
        min_size=args.min_size,
        max_size=args.max_size,
        label_map={k: k for k in range(1, 91)},
    )
    head = save_head_file(root / "head.pt", payload)
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    h, w = args.min_size, int(round(args.min_size * 4 / 3))
    for k in range(args.images):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(images / f"{k + 1:012d}.png")
    return Path(ckpt), Path(head), images


def pair_head_file(root: Path, args) -> Path:
    """An untrained OCFusion head file of width ``args.pair_width`` for the same detector."""
    import torch

    from rapkit.model.head import head_payload, save_head_file
    from rapkit.model.ocfusion import OcclusionHead

    torch.manual_seed(0)
    payload = head_payload(
        OcclusionHead(width=args.pair_width),
        arch=args.arch,
        num_classes=91,
        min_size=args.min_size,
        max_size=args.max_size,
        label_map={k: k for k in range(1, 91)},
    )
    return Path(save_head_file(root / "pair_head.pt", payload))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet18_fpn")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--min-size", type=int, default=320)
    ap.add_argument("--max-size", type=int, default=1333)
    ap.add_argument("--max-detections", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--pair-width", type=int, default=0, help="also time an OCFusion pair head of this width")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)

    import importlib

    import torch

    pred = importlib.import_module("rapkit.model.predict")  # the module (rapkit.model exports a function of that name)
    from rapkit.model.features import detect as one_pass_detect

    variants = {"one pass (new)": one_pass_detect, "two passes (old)": two_pass_detect}
    times: dict[str, dict[str, list[float]]] = {v: {"detector": [], "head": [], "total": []} for v in variants}
    outputs: dict[str, str] = {}
    n_dets = 0
    pair_times: dict[str, list[float]] = {"detector": [], "pair_head": [], "pair_head_replay": [], "total": []}
    pairs = calls = 0
    with tempfile.TemporaryDirectory(prefix="rapkit-bench-predict-") as tmp:
        root = Path(tmp)
        ckpt, head, images = setup(root, args)
        pair_head = pair_head_file(root, args) if args.pair_width else None
        names = list(variants)
        for r in range(args.rounds + 1):  # round 0 warms up (not counted)
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                pred.detect = variants[name]
                out = root / f"out-{r}-{name[:3]}.json"
                try:
                    s = pred.predict(
                        pred.PredictConfig(
                            checkpoint=str(ckpt),
                            head=str(head),
                            images=str(images),
                            output=str(out),
                            max_detections=args.max_detections,
                            batch_size=args.batch_size,
                            device=args.device,
                        )
                    )
                finally:
                    pred.detect = one_pass_detect
                text = out.read_text()
                if name in outputs and outputs[name] != text:
                    raise SystemExit(f"{name}: two runs wrote different outputs")
                outputs[name] = text
                n_dets = s.detections
                if r > 0:
                    for part in times[name]:
                        times[name][part].append(s.seconds[part])
            if pair_head is not None:
                s = pred.predict(
                    pred.PredictConfig(
                        checkpoint=str(ckpt),
                        head=str(pair_head),
                        images=str(images),
                        output=str(root / f"pairs-{r}.json"),
                        max_detections=args.max_detections,
                        batch_size=args.batch_size,
                        device=args.device,
                    )
                )
                pairs, calls = s.pairs, s.replay_calls
                if r > 0:
                    for part in pair_times:
                        pair_times[part].append(s.seconds[part])
        same = outputs[names[0]] == outputs[names[1]]
        relations = [d["relation"] for d in json.loads(outputs[names[0]])]
    med = {v: {p: statistics.median(ts) for p, ts in parts.items()} for v, parts in times.items()}
    ratio = {
        p: statistics.median(o / n for o, n in zip(times[names[1]][p], times[names[0]][p]) if n > 0)
        for p in ("detector", "head", "total")
    }
    result = {
        "device": args.device if args.device != "cpu" else f"cpu ({torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "arch": args.arch,
        "images": args.images,
        "image_size": [args.min_size, int(round(args.min_size * 4 / 3))],
        "detections": n_dets,
        "rounds": args.rounds,
        "ms_per_image": {
            v: {p: round(1000 * t / args.images, 1) for p, t in parts.items()} for v, parts in med.items()
        },
        "ratio_old_over_new": {p: round(v, 3) for p, v in ratio.items()},
        "same_output": same,
        "relations": len(relations),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.pair_width:
        result["pair_head"] = {
            "width": args.pair_width,
            "ordered_pairs": pairs,
            "replay_forwards": calls,
            "ms_per_image": {p: round(1000 * statistics.median(ts) / args.images, 1) for p, ts in pair_times.items()},
            "replay_over_batched": round(
                statistics.median(
                    a / b for a, b in zip(pair_times["pair_head_replay"], pair_times["pair_head"]) if b > 0
                ),
                3,
            ),
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"rapkit predict, {args.arch}, {args.images} images of {result['image_size'][1]}x{args.min_size}, "
            f"{n_dets} detections, {result['device']}, torch {torch.__version__}, "
            f"median of {args.rounds} rounds (ms per image)"
        )
        print(f"{'variant':<18}{'detector':>10}{'RAP head':>10}{'total':>10}")
        for v, parts in result["ms_per_image"].items():
            print(f"{v:<18}{parts['detector']:>10.1f}{parts['head']:>10.1f}{parts['total']:>10.1f}")
        print(
            f"old / new (paired):  detector {ratio['detector']:.3f}x  head {ratio['head']:.3f}x  "
            f"total {ratio['total']:.3f}x"
        )
        print(f"same output JSON both ways: {same}")
        if args.pair_width:
            ph = result["pair_head"]
            ms = ph["ms_per_image"]
            print(
                f"OCFusion pair head, width {ph['width']}: {ph['ordered_pairs']} ordered pairs, "
                f"{ph['replay_forwards']} replay forwards; ms per image: detector {ms['detector']}, "
                f"pair head batched {ms['pair_head']}, one forward per overlap {ms['pair_head_replay']}, "
                f"total {ms['total']}; replay / batched (paired) {ph['replay_over_batched']}x"
            )
        print(f"load average: {result['load_average']}")
    return 0 if same else 1


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    sys.exit(code)
