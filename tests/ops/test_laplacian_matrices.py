"""Laplacian matrices and Taubin smoothing against dense loops; gradients; batches of meshes."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.mesh_ops import cot_laplacian_dense, laplacian_dense, norm_laplacian_dense, taubin_naive

from inverse3d.ops import cot_laplacian, laplacian, norm_laplacian, taubin_smoothing
from inverse3d.structures import Meshes
from inverse3d.utils import ico_sphere


def _mesh(device="cpu"):
    gen = torch.Generator().manual_seed(0)
    m = ico_sphere(1)
    verts = m.verts_packed().double() + 0.05 * torch.randn(m.verts_packed().shape, generator=gen, dtype=torch.float64)
    return verts.to(device), m.faces_packed().to(device), Meshes([verts], [m.faces_packed()]).edges_packed().to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_laplacian_matches_dense(device):
    verts, faces, edges = _mesh(device)
    V = verts.shape[0]
    # an isolated vertex keeps only -1
    verts = torch.cat([verts, verts[:1]])
    L = laplacian(verts, edges)
    assert L.is_sparse and L.shape == (V + 1, V + 1) and L.dtype == torch.float64
    want = laplacian_dense(V + 1, edges.cpu())
    torch.testing.assert_close(L.to_dense().cpu(), want)
    assert L.to_dense()[V, V] == -1


@pytest.mark.parametrize("device", DEVICES)
def test_cot_and_norm_laplacians_match_dense(device):
    verts, faces, edges = _mesh(device)
    L, inv_areas = cot_laplacian(verts, faces)
    want_L, want_inv = cot_laplacian_dense(verts.cpu(), faces.cpu())
    torch.testing.assert_close(L.to_dense().cpu(), want_L)
    torch.testing.assert_close(inv_areas.cpu(), want_inv)
    torch.testing.assert_close(norm_laplacian(verts, edges).to_dense().cpu(), norm_laplacian_dense(verts.cpu(), edges.cpu()))


def test_cot_laplacian_vertex_without_face_and_gradcheck():
    verts, faces, edges = _mesh()
    verts = torch.cat([verts, torch.zeros(1, 3, dtype=torch.float64)])
    _, inv = cot_laplacian(verts, faces)
    assert inv[-1, 0] == 0
    small_v = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    small_f = torch.tensor([[0, 1, 2], [1, 3, 2], [2, 3, 4]])
    small_e = torch.tensor([[0, 1], [1, 2], [0, 2], [1, 3], [2, 3], [3, 4], [2, 4]])
    assert torch.autograd.gradcheck(lambda v: cot_laplacian(v, small_f)[0].to_dense(), (small_v,))
    assert torch.autograd.gradcheck(lambda v: cot_laplacian(v, small_f)[1], (small_v,))
    assert torch.autograd.gradcheck(lambda v: norm_laplacian(v, small_e).to_dense(), (small_v,))


def test_bad_inputs():
    v = torch.rand(4, 3)
    with pytest.raises(ValueError, match="edges"):
        laplacian(v, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="indices"):
        norm_laplacian(v, torch.tensor([[0, 7]]))
    with pytest.raises(ValueError, match="faces"):
        cot_laplacian(v, torch.tensor([[0, 1]]))


@pytest.mark.parametrize("device", DEVICES)
def test_taubin_matches_naive_on_a_batch(device):
    gen = torch.Generator().manual_seed(1)
    a, b = ico_sphere(1), ico_sphere(0)
    verts = [m.verts_packed().double() + 0.05 * torch.randn(m.verts_packed().shape, generator=gen, dtype=torch.float64) for m in (a, b)]
    meshes = Meshes([v.to(device) for v in verts], [a.faces_packed().to(device), b.faces_packed().to(device)])
    out = taubin_smoothing(meshes, lambd=0.5, mu=-0.52, num_iter=3)
    want = taubin_naive(meshes.verts_packed().cpu(), meshes.edges_packed().cpu(), 0.5, -0.52, 3)
    torch.testing.assert_close(out.verts_packed().cpu(), want)
    assert all(torch.equal(f1, f2) for f1, f2 in zip(out.faces_list(), meshes.faces_list()))
    # smoothing makes the noisy sphere rounder
    r0 = meshes.verts_list()[0].norm(dim=1).std()
    r1 = out.verts_list()[0].norm(dim=1).std()
    assert r1 < r0


def test_taubin_gradcheck_and_isolated_vertex():
    verts = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])  # vertex 4 in no face

    def smooth(v):
        return taubin_smoothing(Meshes([v], [faces]), num_iter=2).verts_packed()

    assert torch.autograd.gradcheck(smooth, (verts,))
    torch.testing.assert_close(smooth(verts)[4], verts[4])
