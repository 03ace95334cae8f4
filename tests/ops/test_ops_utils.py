"""ops.utils helpers: wmean, eyes, padded views of clouds, covariances, masked gathers; and mesh_face_areas_normals."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.mesh_ops import face_areas_normals_naive

from inverse3d.ops import (
    convert_pointclouds_to_tensor,
    eyes,
    get_point_covariances,
    is_pointclouds,
    mesh_face_areas_normals,
    wmean,
)
from inverse3d.ops.utils import masked_gather
from inverse3d.structures import Pointclouds
from inverse3d.utils import ico_sphere


def test_wmean_matches_loops():
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    w = torch.rand(2, 5, dtype=torch.float64)
    got = wmean(x, w)
    for n in range(2):
        want = sum(w[n, i] * x[n, i] for i in range(5)) / w[n].sum()
        torch.testing.assert_close(got[n, 0], want)
    torch.testing.assert_close(wmean(x), x.mean(-2, keepdim=True))
    torch.testing.assert_close(wmean(x, w, dim=(0, 1), keepdim=False), (x * w[..., None]).sum((0, 1)) / w.sum())
    assert torch.equal(wmean(x, torch.zeros(2, 5, dtype=torch.float64)), torch.zeros(2, 1, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="broadcast"):
        wmean(x, torch.rand(3, 5))
    xg = x.clone().requires_grad_(True)
    wg = w.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: wmean(a, b), (xg, wg))


def test_eyes_are_independent():
    e = eyes(3, 4, dtype=torch.float64)
    assert e.shape == (4, 3, 3) and torch.equal(e[2], torch.eye(3, dtype=torch.float64))
    e[0, 0, 0] = 5
    assert e[1, 0, 0] == 1


def test_convert_pointclouds_to_tensor():
    clouds = Pointclouds([torch.rand(4, 3), torch.rand(2, 3)])
    x, n = convert_pointclouds_to_tensor(clouds)
    assert x.shape == (2, 4, 3) and n.tolist() == [4, 2]
    t = torch.rand(3, 5, 3)
    x, n = convert_pointclouds_to_tensor(t)
    assert x is t and n.tolist() == [5, 5, 5] and n.dtype == torch.int64
    assert is_pointclouds(clouds) and not is_pointclouds(t)
    with pytest.raises(ValueError):
        convert_pointclouds_to_tensor([1, 2])


def test_get_point_covariances_matches_loops():
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(2, 12, 3, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([12, 8])
    cov, knn = get_point_covariances(pts, lengths, 4)
    assert cov.shape == (2, 12, 3, 3) and knn.shape == (2, 12, 4, 3)
    for n, L in enumerate(lengths.tolist()):
        for i in range(L):
            d = ((pts[n, :L] - pts[n, i]) ** 2).sum(1)
            nn = pts[n, :L][d.argsort()[:4]]
            c = nn - nn.mean(0)
            torch.testing.assert_close(cov[n, i], c.T @ c / 4)


def test_masked_gather():
    pts = torch.arange(12.0).view(1, 4, 3).requires_grad_(True)
    idx = torch.tensor([[2, -1, 0]])
    out = masked_gather(pts, idx)
    assert torch.equal(out[0, 1], torch.zeros(3)) and torch.equal(out[0, 0], pts[0, 2].detach())
    out.sum().backward()
    assert pts.grad[0, :, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert masked_gather(pts.detach(), torch.tensor([[[1, -1]]])).shape == (1, 1, 2, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_mesh_face_areas_normals(device):
    mesh = ico_sphere(1).to(device)
    verts = mesh.verts_packed().double()
    faces = mesh.faces_packed()
    # one degenerate face
    faces = torch.cat([faces, torch.tensor([[0, 0, 1]], device=device)])
    areas, normals = mesh_face_areas_normals(verts, faces)
    want_a, want_n = face_areas_normals_naive(verts.cpu(), faces.cpu())
    torch.testing.assert_close(areas.cpu(), want_a)
    torch.testing.assert_close(normals.cpu(), want_n)
    assert areas[-1] == 0 and torch.equal(normals[-1], torch.zeros(3, dtype=torch.float64, device=device))
    torch.testing.assert_close(areas[:-1], mesh.faces_areas_packed().double())


def test_mesh_face_areas_normals_gradcheck_and_errors():
    verts = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    faces = torch.tensor([[0, 1, 2], [1, 3, 4], [0, 4, 2]])
    assert torch.autograd.gradcheck(lambda v: mesh_face_areas_normals(v, faces), (verts,))
    with pytest.raises(ValueError, match="Fx3"):
        mesh_face_areas_normals(verts, faces[:, :2])
    with pytest.raises(ValueError, match="int64"):
        mesh_face_areas_normals(verts, faces.int())
    with pytest.raises(ValueError, match="outside"):
        mesh_face_areas_normals(verts, faces + 3)
