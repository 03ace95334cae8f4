"""box3d_overlap against scipy's exact half-space intersection and Monte Carlo sampling; special cases; errors."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.iou_box3d import box3d_overlap_naive, intersection_volume_monte_carlo

from inverse3d.ops import box3d_overlap
from inverse3d.transforms import random_rotations

UNIT = torch.tensor(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=torch.float64
)


def _boxes(n, gen, spread=0.6):
    R = random_rotations(n, dtype=torch.float64)
    size = torch.rand(n, 1, 3, generator=gen, dtype=torch.float64) + 0.3
    centre = torch.rand(n, 1, 3, generator=gen, dtype=torch.float64) * spread
    return ((UNIT - 0.5) * size) @ R + centre


@pytest.mark.parametrize("device", DEVICES)
def test_random_oriented_boxes_match_exact_oracle(device):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    b1, b2 = _boxes(4, gen), _boxes(5, gen)
    b2 = torch.cat([b2, b1[:1], b1[1:2] + 5.0])  # one identical box, one far away
    vol, iou = box3d_overlap(b1.to(device), b2.to(device))
    want_vol, want_iou = box3d_overlap_naive(b1, b2)
    torch.testing.assert_close(vol.cpu(), want_vol, atol=1e-9, rtol=1e-7)
    torch.testing.assert_close(iou.cpu(), want_iou, atol=1e-9, rtol=1e-7)
    assert iou[0, 5] == pytest.approx(1.0) and vol[1, 6] == 0


def test_monte_carlo_agrees_float32():
    gen = torch.Generator().manual_seed(1)
    b1, b2 = _boxes(2, gen, 0.3), _boxes(2, gen, 0.3)
    vol, _ = box3d_overlap(b1.float(), b2.float())
    assert vol.dtype == torch.float32
    for i in range(2):
        for j in range(2):
            mc = intersection_volume_monte_carlo(b1[i].numpy(), b2[j].numpy())
            assert float(vol[i, j]) == pytest.approx(mc, abs=0.01)


def test_axis_aligned_cases():
    a = (UNIT * 2.0)[None]
    shifted = a + torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)  # shares the z faces' planes
    touching = a + torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64)
    inner = (UNIT * 0.5 + 0.5)[None]
    vol, iou = box3d_overlap(a, torch.cat([a, shifted, touching, inner]))
    torch.testing.assert_close(vol[0], torch.tensor([8.0, 2.0, 0.0, 0.125], dtype=torch.float64))
    torch.testing.assert_close(iou[0], torch.tensor([1.0, 2 / 14, 0.0, 0.125 / 8], dtype=torch.float64))


def test_symmetric_and_not_differentiable():
    gen = torch.Generator().manual_seed(2)
    b1, b2 = _boxes(3, gen), _boxes(2, gen)
    v12, _ = box3d_overlap(b1, b2)
    v21, _ = box3d_overlap(b2, b1)
    torch.testing.assert_close(v12, v21.T)
    out, _ = box3d_overlap(b1.requires_grad_(True), b2)
    assert not out.requires_grad


def test_errors():
    with pytest.raises(ValueError, match="8, 3"):
        box3d_overlap(torch.rand(2, 4, 3), UNIT[None])
    bent = UNIT.clone()
    bent[0] = torch.tensor([0.0, 0.0, -0.3], dtype=torch.float64)
    with pytest.raises(ValueError, match="coplanar"):
        box3d_overlap(bent[None], UNIT[None])
    flat = UNIT.clone()
    flat[:, 2] = 0
    with pytest.raises(ValueError, match="zero areas"):
        box3d_overlap(flat[None], UNIT[None])
