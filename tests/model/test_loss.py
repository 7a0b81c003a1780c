"""Relation head and loss (paper eq. 1-2), head input, label maps, box jitter."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from rapkit.errors import InputError  # noqa: E402
from rapkit.model.data import box_iou, jitter_boxes  # noqa: E402
from rapkit.model.detector import make_label_map  # noqa: E402
from rapkit.model.head import RelationHead, head_input  # noqa: E402
from rapkit.model.loss import pair_correct, relation_loss, stable_softplus  # noqa: E402


def test_loss_equals_paper_formula_on_hand_values():
    v = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)
    front = torch.tensor([0, 1, 3])
    back = torch.tensor([2, 0, 1])
    # log(1 + exp(v_i - v_j)) for each (front i, back j), averaged over K = 3 pairs
    expect = (
        math.log(1 + math.exp(0.5 - 2.0)) + math.log(1 + math.exp(-1.0 - 0.5)) + math.log(1 + math.exp(0.0 + 1.0))
    ) / 3
    got = float(relation_loss(v, front, back))
    assert got == pytest.approx(expect, rel=1e-6)
    # the F_ij = -1 case of eq. 1 is the same pair listed the other way round
    assert float(relation_loss(v, back, front)) == pytest.approx(
        (math.log(1 + math.exp(2.0 - 0.5)) + math.log(1 + math.exp(0.5 + 1.0)) + math.log(1 + math.exp(-1.0))) / 3,
        rel=1e-6,
    )


def test_loss_finite_for_large_gaps():
    v = torch.tensor([1e4, -1e4, 0.0], dtype=torch.float32, requires_grad=True)
    loss = relation_loss(v, torch.tensor([0, 1]), torch.tensor([1, 0]))
    assert math.isfinite(loss.item())
    assert loss.item() == pytest.approx(2e4 / 2, rel=1e-6)  # softplus(2e4) = 2e4, softplus(-2e4) = 0
    loss.backward()
    assert torch.isfinite(v.grad).all()
    assert torch.all(stable_softplus(torch.tensor([-1e30, 1e30])) == torch.tensor([0.0, 1e30]))


def test_gradient_pushes_front_down_and_back_up():
    v = torch.tensor([0.3, 0.1], requires_grad=True)
    relation_loss(v, torch.tensor([0]), torch.tensor([1])).backward()
    assert v.grad[0] > 0  # gradient descent lowers the front instance's value
    assert v.grad[1] < 0  # and raises the back instance's value
    s = 1 / (1 + math.exp(-(0.3 - 0.1)))
    assert float(v.grad[0]) == pytest.approx(s, rel=1e-6)
    v2 = v.detach() - 0.5 * v.grad
    assert float(relation_loss(v2, torch.tensor([0]), torch.tensor([1]))) < float(
        relation_loss(v.detach(), torch.tensor([0]), torch.tensor([1]))
    )


def test_no_pairs_gives_zero_connected_loss():
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = relation_loss(v, torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(v.grad == 0)
    with pytest.raises(ValueError):
        relation_loss(v, torch.tensor([0]), torch.tensor([0, 1]))


def test_pair_correct():
    v = torch.tensor([0.0, 1.0, 1.0])
    assert pair_correct(v, torch.tensor([0, 1, 2]), torch.tensor([1, 0, 1])).tolist() == [True, False, False]


def test_head_architecture_and_shapes():
    head = RelationHead()
    convs = list(head.convs)
    assert [c.in_channels for c in convs] == [257, 256, 256, 256]
    assert [c.out_channels for c in convs] == [256] * 4
    assert [c.kernel_size for c in convs] == [(3, 3)] * 4
    assert [c.stride for c in convs] == [(1, 1), (1, 1), (1, 1), (2, 2)]
    assert (head.fc1.in_features, head.fc1.out_features) == (256 * 7 * 7, 1024)
    assert (head.fc2.in_features, head.fc2.out_features) == (1024, 1)
    out = head(torch.randn(3, 257, 14, 14))
    assert out.shape == (3,)


def test_head_input_uses_the_rois_class_mask_max_pooled():
    feats = torch.randn(2, 256, 14, 14)
    logits = torch.full((2, 4, 28, 28), -20.0)
    logits[0, 2, 0, 1] = 20.0  # class 2 of RoI 0: one confident pixel in the top-left 2x2 cell
    logits[1, 3] = 0.0  # class 3 of RoI 1: probability 0.5 everywhere
    x = head_input(feats, logits, torch.tensor([2, 3]))
    assert x.shape == (2, 257, 14, 14)
    assert torch.equal(x[:, :256], feats)
    assert float(x[0, 256, 0, 0]) == pytest.approx(1.0)  # max-pooled from 28x28 to 14x14
    assert float(x[0, 256, 0, 1]) == pytest.approx(0.0, abs=1e-6)
    assert torch.allclose(x[1, 256], torch.full((14, 14), 0.5))


def test_label_maps():
    assert make_label_map(91, [1, 3, 90]) == {i: i for i in range(1, 91)}
    assert make_label_map(4, [20, 5, 9]) == {1: 5, 2: 9, 3: 20}
    assert make_label_map(4, [1, 2, 3], "contiguous") == {1: 1, 2: 2, 3: 3}
    with pytest.raises(InputError, match="cannot map 2 dataset thing categories"):
        make_label_map(5, [20, 50])
    with pytest.raises(InputError, match="category id 95"):
        make_label_map(91, [95], "coco")


def test_jitter_boxes_keep_iou_and_are_reproducible():
    boxes = np.array([[10, 10, 60, 90], [0, 0, 20, 20], [100, 50, 159, 119]], np.float32)
    a = jitter_boxes(boxes, np.random.default_rng(5), 120, 160)
    b = jitter_boxes(boxes, np.random.default_rng(5), 120, 160)
    assert np.array_equal(a, b)
    for seed in range(20):
        j = jitter_boxes(boxes, np.random.default_rng(seed), 120, 160, min_iou=0.5)
        assert np.all(box_iou(j, boxes) >= 0.5)
        assert np.all(j[:, [0, 1]] >= 0) and np.all(j[:, 2] <= 160) and np.all(j[:, 3] <= 120)
    assert not np.array_equal(a, boxes)
