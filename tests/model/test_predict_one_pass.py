"""``features.detect`` runs the mask branch once: the head inputs it builds from the tensors
``roi_heads`` computed are ``torch.equal`` to the two-pass computation it replaced (kept
here as the reference), and the detections are the detector's own."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.model.detector import load_detector  # noqa: E402
from rapkit.model.features import detect  # noqa: E402
from rapkit.model.head import head_input  # noqa: E402


@torch.no_grad()
def two_pass_detect(model, images):
    """``detect`` before the change: roi_heads, then RoIAlign + mask head + predictor again."""
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


def test_one_mask_pass_gives_the_two_pass_head_inputs(test_detector):
    det = load_detector(test_detector.detecting_path, test_detector.arch, min_size=64, max_size=96)
    model = det.model
    model.roi_heads.detections_per_img = 6
    model.rpn._post_nms_top_n["testing"] = 40
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 48, 64, generator=g), torch.rand(3, 56, 40, generator=g)]  # two sizes: padding
    calls = {"mask_head": 0}
    counter = model.roi_heads.mask_head.register_forward_hook(
        lambda *a: calls.__setitem__("mask_head", calls["mask_head"] + 1)
    )
    try:
        ours = detect(model, images)
        assert calls["mask_head"] == 1  # one pass for the batch
        theirs = two_pass_detect(model, images)
        assert calls["mask_head"] == 3  # the old way: twice
    finally:
        counter.remove()
    rh = model.roi_heads
    assert not rh.mask_roi_pool._forward_hooks and not rh.mask_predictor._forward_hooks  # hooks removed
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys() == {"boxes", "labels", "scores", "masks", "head_input"}
        assert a["boxes"].shape[0] > 0  # the test detector detects
        for k in a:
            assert torch.equal(a[k], b[k]), k
    rh.score_thresh = 1.1  # nothing passes: the mask branch still runs, on no boxes
    empty = detect(model, images)
    assert [tuple(d["head_input"].shape) for d in empty] == [(0, 257, 14, 14)] * 2
