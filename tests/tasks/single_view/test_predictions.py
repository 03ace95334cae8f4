"""Conversion of single-view predictions to surfaces: marching cubes on voxel grids, surface points of every kind."""

from __future__ import annotations

import torch

from inverse3d.tasks.single_view.predictions import surface_points, voxels_to_meshes


def test_voxels_to_meshes_box_surface():
    """A block of occupied cells meshes to a closed surface at the cell faces (level 0.5 between centres)."""
    R = 8
    probs = torch.zeros(1, R, R, R)
    probs[0, 2:6, 2:6, 2:6] = 1.0  # cells 2..5: world [-0.25, 0.25] on every axis
    verts, faces = voxels_to_meshes(probs)
    assert faces[0].shape[0] > 0
    torch.testing.assert_close(verts[0].abs().max(), torch.tensor(0.25), atol=1e-5, rtol=0)
    # an occupied cell at the border still gives a closed surface (padding)
    probs = torch.ones(1, 4, 4, 4)
    verts, faces = voxels_to_meshes(probs)
    torch.testing.assert_close(verts[0].abs().max(), torch.tensor(0.5), atol=1e-5, rtol=0)
    empty_v, empty_f = voxels_to_meshes(torch.zeros(1, 4, 4, 4))
    assert empty_f[0].shape == (0, 3)


def test_surface_points_all_kinds():
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    v, f = ico_sphere_verts_faces(1)
    pts, n = surface_points({"verts": (v * 0.3)[None].expand(2, -1, -1), "faces": f}, 50)
    assert pts.shape == (2, 50, 3) and n.tolist() == [50, 50]
    assert 0.25 < float(pts.norm(dim=-1).min()) and float(pts.norm(dim=-1).max()) <= 0.3 + 1e-5  # on the faces
    logits = torch.full((2, 8, 8, 8), -5.0)
    logits[0, 2:6, 2:6, 2:6] = 5.0
    pts, n = surface_points({"voxel_logits": logits}, 30)
    assert n.tolist() == [30, 0] and pts.shape == (2, 30, 3)
    cloud = torch.rand(2, 17, 3)
    pts, n = surface_points({"points": cloud}, 5)
    assert pts is cloud and n.tolist() == [17, 17]
