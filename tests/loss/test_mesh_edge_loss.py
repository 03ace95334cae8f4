"""mesh_edge_loss against the naive loop and on meshes with known edge lengths."""

from __future__ import annotations

import math

import pytest
import torch
from reference.mesh_losses import CUBE_FACES, CUBE_VERTS, mesh_edge_loss_naive, random_batch

from inverse3d.loss import mesh_edge_loss
from inverse3d.structures import Meshes


@pytest.mark.parametrize("target_length", [0.0, 0.7])
def test_matches_reference_values_and_gradients(target_length):
    verts, faces = random_batch()
    ours_v = [v.clone().requires_grad_() for v in verts]
    ref_v = [v.clone().requires_grad_() for v in verts]
    ours = mesh_edge_loss(Meshes(ours_v, faces), target_length)
    ref = mesh_edge_loss_naive(ref_v, faces, target_length)
    torch.testing.assert_close(ours, ref)
    ours.backward()
    ref.backward()
    for a, b in zip(ours_v, ref_v):
        torch.testing.assert_close(a.grad, b.grad)


def test_known_values():
    cube = Meshes([CUBE_VERTS], [CUBE_FACES])
    # 12 edges of length 2 and 6 face diagonals of length 2 sqrt 2
    torch.testing.assert_close(mesh_edge_loss(cube), torch.tensor((12 * 4 + 6 * 8) / 18, dtype=torch.float64))
    tetra = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    assert mesh_edge_loss(Meshes([tetra], [faces]), target_length=math.sqrt(8)).abs() < 1e-12


def test_gradcheck_and_empty():
    verts, faces = random_batch(1)
    v = verts[1].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: mesh_edge_loss(Meshes([x], [faces[1]]), 0.5), (v,))
    empty = Meshes([torch.zeros(0, 3)], [torch.zeros(0, 3, dtype=torch.int64)])
    loss = mesh_edge_loss(empty)
    assert loss.shape == (1,) and loss.item() == 0 and loss.requires_grad
