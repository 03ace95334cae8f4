"""mesh_normal_consistency against the naive loop, on flat meshes, a cube and a non-manifold edge."""

from __future__ import annotations

import torch
from reference.mesh_losses import CUBE_FACES, CUBE_VERTS, grid, mesh_normal_consistency_naive, random_batch

from inverse3d.loss import mesh_normal_consistency
from inverse3d.structures import Meshes


def test_matches_reference_values_and_gradients():
    verts, faces = random_batch()
    # a fin: a third face on the edge (0, 1) of the first cube face, so one edge is shared by three faces
    verts[1] = torch.cat([verts[1], torch.tensor([[0.0, -2.0, -1.5]], dtype=torch.float64)])
    faces[1] = torch.cat([faces[1], torch.tensor([[0, 8, 2]])])
    ours_v = [v.clone().requires_grad_() for v in verts]
    ref_v = [v.clone().requires_grad_() for v in verts]
    ours = mesh_normal_consistency(Meshes(ours_v, faces))
    ref = mesh_normal_consistency_naive(ref_v, faces)
    torch.testing.assert_close(ours, ref)
    ours.backward()
    ref.backward()
    for a, b in zip(ours_v, ref_v):
        torch.testing.assert_close(a.grad, b.grad)


def test_known_values():
    verts, faces = grid(4, flip_some=True)  # flat, with mixed winding: still consistent
    assert mesh_normal_consistency(Meshes([verts], [faces])).abs() < 1e-12
    cube = Meshes([CUBE_VERTS], [CUBE_FACES])
    # 12 edges between perpendicular faces (1 - cos = 1), 6 diagonals inside flat squares (0)
    torch.testing.assert_close(mesh_normal_consistency(cube), torch.tensor(12 / 18, dtype=torch.float64))


def test_gradcheck_and_empty():
    verts, faces = random_batch(2)
    v = verts[1].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: mesh_normal_consistency(Meshes([x], [faces[1]])), (v,))
    empty = Meshes([torch.zeros(0, 3)], [torch.zeros(0, 3, dtype=torch.int64)])
    loss = mesh_normal_consistency(empty)
    assert loss.shape == (1,) and loss.item() == 0
