"""voxel_bce_loss: the course's class-balanced BCE with logits."""

from __future__ import annotations

import pytest
import torch

from inverse3d.loss import voxel_bce_loss


def _naive(logits, target, pos_weight):
    p = torch.sigmoid(logits)
    per_voxel = -(pos_weight * target * torch.log(p) + (1 - target) * torch.log(1 - p))
    return per_voxel.mean()


def test_balanced_matches_formula_and_seed():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 7, generator=gen, dtype=torch.float64)
    target = (torch.rand(2, 5, 6, 7, generator=gen) > 0.85).double()
    ours = voxel_bce_loss(logits, target)
    torch.testing.assert_close(ours, _naive(logits, target, 0.5 / target.mean()))
    seed = torch.nn.BCEWithLogitsLoss(reduction="mean", pos_weight=0.5 / target.mean())(logits, target)
    torch.testing.assert_close(ours, seed)
    torch.testing.assert_close(voxel_bce_loss(logits, target.bool()), ours)  # bool targets
    torch.testing.assert_close(voxel_bce_loss(logits, target, pos_weight=None), _naive(logits, target, 1.0))
    torch.testing.assert_close(voxel_bce_loss(logits, target, pos_weight=3.0), _naive(logits, target, 3.0))


def test_empty_target_and_gradients():
    logits = torch.randn(1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    empty = torch.zeros(1, 3, 3, 3, dtype=torch.float64)
    loss = voxel_bce_loss(logits, empty)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, _naive(logits, empty, 1.0))
    target = torch.zeros(1, 3, 3, 3, dtype=torch.float64)
    target[0, 1, 1, 1] = 1
    assert torch.autograd.gradcheck(lambda x: voxel_bce_loss(x, target), (logits,))


def test_bad_input():
    logits = torch.randn(1, 2, 2, 2)
    with pytest.raises(ValueError, match="same shape"):
        voxel_bce_loss(logits, torch.zeros(1, 2, 2, 3))
    with pytest.raises(ValueError, match="same shape"):
        voxel_bce_loss(logits[0], torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        voxel_bce_loss(logits, torch.full((1, 2, 2, 2), 2.0))
    with pytest.raises(ValueError, match="NaN"):
        voxel_bce_loss(torch.full((1, 2, 2, 2), float("nan")), torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match="pos_weight"):
        voxel_bce_loss(logits, torch.zeros(1, 2, 2, 2), pos_weight="auto")
