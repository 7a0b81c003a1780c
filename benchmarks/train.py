"""Relation-head training speed: iterations/s at batch 16 and the paper's image size
(shorter side 800), the frozen detector forward and the head step timed separately.

Per configuration (CPU fp32; with CUDA also GPU fp32 and GPU mixed precision) it times
  * frozen forward: backbone + FPN + RoIAlign + mask branch -> 257x14x14 head inputs for
    every RoI of a batch (what the feature cache saves),
  * head step: forward + backward + SGD step of the relation head on cached inputs,
and prints iterations/s for training without the cache (forward + step, the baseline) and
with it (step only), and the ratio between them, all measured in the same run.

Run:  .venv/bin/python benchmarks/train.py                  # CPU (and GPU when present)
      .venv/bin/python benchmarks/train.py --iters 5 --arch maskrcnn_resnet50_fpn --json
The detector is randomly initialised (weights=None): speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(device_name: str, amp: bool, args) -> dict:
    import torch

    from rapkit.model.detector import build_detector, freeze
    from rapkit.model.features import roi_inputs
    from rapkit.model.head import RelationHead
    from rapkit.model.loss import relation_loss

    device = torch.device(device_name)
    torch.manual_seed(0)
    det = freeze(build_detector(args.arch, 91, min_size=args.min_size, max_size=args.max_size)).to(device)
    head = RelationHead().to(device)
    opt = torch.optim.SGD(head.parameters(), lr=0.002, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    g = torch.Generator().manual_seed(0)
    h, w = args.min_size, int(round(args.min_size * 4 / 3))
    images = [torch.rand(3, h, w, generator=g).to(device) for _ in range(args.batch)]
    k = args.objects
    boxes, labels = [], []
    for _ in range(args.batch):
        xy = torch.rand(k, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
        wh = (0.1 + 0.3 * torch.rand(k, 2, generator=g)) * torch.tensor([w, h])
        boxes.append(torch.cat([xy, xy + wh], 1))
        labels.append(torch.randint(1, 91, (k,), generator=g))
    n = args.batch * k
    front = torch.arange(0, n - 1, 2, device=device)
    back = torch.arange(1, n, 2, device=device)

    def forward():
        with torch.autocast(device.type, enabled=amp):
            return roi_inputs(det, images, boxes, labels)

    def step(x):
        with torch.autocast(device.type, enabled=amp):
            v = head(x)
        loss = relation_loss(v.float(), front, back)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    x = forward().float()  # warm-up
    step(x)
    _sync(device)
    t_fwd = t_step = 0.0
    for _ in range(args.iters):
        t0 = time.perf_counter()
        x = forward().float()
        _sync(device)
        t1 = time.perf_counter()
        step(x)
        _sync(device)
        t2 = time.perf_counter()
        t_fwd += t1 - t0
        t_step += t2 - t1
    fwd, stp = t_fwd / args.iters, t_step / args.iters
    return {
        "device": device_name,
        "amp": amp,
        "frozen_forward_s": fwd,
        "head_step_s": stp,
        "it_per_s_uncached": 1.0 / (fwd + stp),
        "it_per_s_cached": 1.0 / stp,
        "cache_speedup": (fwd + stp) / stp,
        "rois_per_iteration": n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=1, help="timed iterations per configuration (after one warm-up)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--min-size", type=int, default=800, help="image shorter side")
    ap.add_argument("--max-size", type=int, default=1333)
    ap.add_argument("--objects", type=int, default=7, help="RoIs per image")
    ap.add_argument("--arch", default="resnet50_fpn")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU configuration")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [] if args.no_cpu else [("cpu", False)]
    if torch.cuda.is_available():
        configs += [("cuda", False), ("cuda", True)]
    rows = [bench(d, a, args) for d, a in configs]
    meta = {
        "arch": args.arch,
        "batch": args.batch,
        "image": f"{int(round(args.min_size * 4 / 3))}x{args.min_size}",
        "iters": args.iters,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=1))
        return 0
    print(
        f"relation head training, {meta['arch']}, batch {args.batch}, images {meta['image']}, "
        f"{args.objects} RoIs/image, torch {meta['torch']}, {meta['cpu_threads']} CPU threads, GPU: {meta['gpu'] or 'none'}"
    )
    print(
        f"{'config':<12}{'frozen fwd s':>14}{'head step s':>13}{'it/s no cache':>15}{'it/s cached':>13}{'cache x':>9}"
    )
    for r in rows:
        name = r["device"] + (" amp" if r["amp"] else "")
        print(
            f"{name:<12}{r['frozen_forward_s']:>14.3f}{r['head_step_s']:>13.3f}{r['it_per_s_uncached']:>15.3f}"
            f"{r['it_per_s_cached']:>13.3f}{r['cache_speedup']:>9.1f}"
        )
    if not torch.cuda.is_available():
        print("no CUDA GPU available: GPU rows (fp32 and mixed precision) not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
