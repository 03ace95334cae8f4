"""mesh_laplacian_smoothing (uniform, cot, cotcurv) against the naive loop, invariances and known values."""

from __future__ import annotations

import pytest
import torch
from reference.mesh_losses import grid, mesh_laplacian_smoothing_naive, random_batch

from inverse3d.loss import mesh_laplacian_smoothing
from inverse3d.structures import Meshes
from inverse3d.utils import ico_sphere

METHODS = ["uniform", "cot", "cotcurv"]


@pytest.mark.parametrize("method", METHODS)
def test_matches_reference_values_and_gradients(method):
    verts, faces = random_batch()
    # an isolated vertex in the cube (no faces): the uniform Laplacian row is just -v
    verts[1] = torch.cat([verts[1], torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)])
    ours_v = [v.clone().requires_grad_() for v in verts]
    ref_v = [v.clone().requires_grad_() for v in verts]
    ours = mesh_laplacian_smoothing(Meshes(ours_v, faces), method=method)
    ref = mesh_laplacian_smoothing_naive(ref_v, faces, method=method)
    torch.testing.assert_close(ours, ref)
    ours.backward()
    ref.backward()  # the Laplacian weights are constants in both
    for a, b in zip(ours_v, ref_v):
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("method", METHODS)
def test_translation_invariance_and_gradcheck(method):
    verts, faces = random_batch(3)
    mesh = Meshes(verts, faces)
    moved = Meshes([v + torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64) for v in verts], faces)
    torch.testing.assert_close(mesh_laplacian_smoothing(mesh, method), mesh_laplacian_smoothing(moved, method))
    if method == "uniform":  # cot weights are constants by design (as PyTorch3D), which gradcheck cannot see
        v = verts[0].clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda x: mesh_laplacian_smoothing(Meshes([x], [faces[0]]), method), (v,))


def test_known_values():
    # flat grid: each interior vertex of a regular grid is the cotangent-weighted mean of its neighbours,
    # so only the boundary contributes; the curvature estimate on a sphere of radius r is about 1 / (3 r)
    # in PyTorch3D's normalisation (area = sum of the adjacent faces' areas)
    sphere = ico_sphere(3)
    for r in (1.0, 2.0):
        m = Meshes([sphere.verts_packed() * r], [sphere.faces_packed()])
        torch.testing.assert_close(mesh_laplacian_smoothing(m, "cotcurv").item(), 1 / (3 * r), rtol=0.02, atol=0)
    verts, faces = grid(4, flip_some=False)
    flat = Meshes([verts], [faces])
    inner = mesh_laplacian_smoothing(flat, "cotcurv")
    bumped = verts.clone()
    bumped[12, 2] += 0.5  # lift the centre vertex
    assert mesh_laplacian_smoothing(Meshes([bumped], [faces]), "cotcurv") > inner


def test_bad_method_and_empty():
    with pytest.raises(ValueError, match="uniform, cot, cotcurv"):
        mesh_laplacian_smoothing(ico_sphere(0), method="mean")
    empty = Meshes([torch.zeros(0, 3)], [torch.zeros(0, 3, dtype=torch.int64)])
    loss = mesh_laplacian_smoothing(empty)
    assert loss.shape == (1,) and loss.item() == 0
