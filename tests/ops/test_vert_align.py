"""vert_align against point-by-point bilinear sampling; lists of maps, Meshes / Pointclouds, packing, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.point_features import bilinear_sample_naive

from inverse3d.ops import vert_align
from inverse3d.structures import Meshes, Pointclouds


@pytest.mark.parametrize("device", DEVICES)
def test_matches_naive_and_concatenates_maps(device):
    gen = torch.Generator().manual_seed(0)
    f1 = torch.rand(2, 3, 5, 7, generator=gen, dtype=torch.float64)
    f2 = torch.rand(2, 2, 4, 4, generator=gen, dtype=torch.float64)
    verts = torch.rand(2, 6, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2  # some outside [-1, 1]
    out = vert_align([f1.to(device), f2.to(device)], verts.to(device))
    assert out.shape == (2, 6, 5)
    for n in range(2):
        want = torch.cat([bilinear_sample_naive(f1[n], verts[n, :, :2]), bilinear_sample_naive(f2[n], verts[n, :, :2])], 1)
        torch.testing.assert_close(out[n].cpu(), want)


def test_meshes_packed_and_pointclouds():
    feats = torch.rand(2, 4, 6, 6)
    v = [torch.rand(5, 3) * 2 - 1, torch.rand(3, 3) * 2 - 1]
    meshes = Meshes(v, [torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 2]])])
    packed = vert_align(feats, meshes, return_packed=True)
    assert packed.shape == (8, 4)
    torch.testing.assert_close(packed[5:], vert_align(feats, meshes)[1, :3])
    pc = Pointclouds(v)
    torch.testing.assert_close(vert_align(feats, pc), vert_align(feats, meshes))
    assert vert_align(feats, pc, return_packed=True).shape == (10, 4)  # PyTorch3D: padded rows for clouds


def test_modes_and_gradcheck():
    feats = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    verts = (torch.rand(1, 3, 3, dtype=torch.float64) * 1.6 - 0.8).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f, v: vert_align(f, v), (feats, verts))
    nearest = vert_align(feats, verts, interp_mode="nearest", padding_mode="border", align_corners=False)
    assert nearest.shape == (1, 3, 2)


def test_bad_inputs():
    with pytest.raises(ValueError, match="3 dimensional"):
        vert_align(torch.rand(1, 2, 3, 3), torch.rand(4, 3))
    with pytest.raises(ValueError, match="batch dimension"):
        vert_align(torch.rand(2, 2, 3, 3), torch.rand(1, 4, 3))
    with pytest.raises(ValueError, match="N, C, H, W"):
        vert_align(torch.rand(2, 3, 3), torch.rand(2, 4, 3))
    with pytest.raises(ValueError, match="verts_padded"):
        vert_align(torch.rand(1, 2, 3, 3), [1, 2])
