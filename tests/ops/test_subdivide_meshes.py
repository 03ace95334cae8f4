"""SubdivideMeshes against the edge-by-edge loop: vertices, faces, order, features, batches, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.mesh_ops import subdivide_naive

from inverse3d.ops import SubdivideMeshes
from inverse3d.structures import Meshes
from inverse3d.utils import ico_sphere


def _batch(device="cpu"):
    gen = torch.Generator().manual_seed(0)
    a, b = ico_sphere(0), ico_sphere(1)
    verts = [m.verts_packed() + 0.01 * torch.randn(m.verts_packed().shape, generator=gen) for m in (a, b)]
    tri = (torch.rand(3, 3, generator=gen), torch.tensor([[0, 1, 2]]))
    return Meshes([verts[0].to(device), tri[0].to(device), verts[1].to(device)],
                  [a.faces_packed().to(device), tri[1].to(device), b.faces_packed().to(device)])


@pytest.mark.parametrize("device", DEVICES)
def test_heterogeneous_matches_naive(device):
    meshes = _batch(device)
    feats = torch.arange(meshes.verts_packed().shape[0] * 2, dtype=torch.float32, device=device).view(-1, 2)
    out, new_feats = SubdivideMeshes()(meshes, feats)
    firsts = meshes.mesh_to_verts_packed_first_idx().tolist()
    for n, (v, f) in enumerate(zip(meshes.verts_list(), meshes.faces_list())):
        want_v, want_f = subdivide_naive(v.cpu(), f.cpu())
        torch.testing.assert_close(out.verts_list()[n].cpu(), want_v)
        assert torch.equal(out.faces_list()[n].cpu(), want_f)
    # features are subdivided like the vertices, mesh after mesh
    first_new = out.mesh_to_verts_packed_first_idx().tolist()
    for n, v in enumerate(meshes.verts_list()):
        fv, _ = subdivide_naive(feats[firsts[n] : firsts[n] + len(v)].cpu(), meshes.faces_list()[n].cpu())
        torch.testing.assert_close(new_feats[first_new[n] : first_new[n] + len(fv)].cpu(), fv)


def test_winding_and_area_are_kept():
    mesh = ico_sphere(1)
    out = SubdivideMeshes()(mesh)
    assert out.num_faces_per_mesh().item() == 4 * mesh.num_faces_per_mesh().item()
    torch.testing.assert_close(out.faces_areas_packed().sum(), mesh.faces_areas_packed().sum())
    centres = out.verts_packed()[out.faces_packed()].mean(1)
    assert ((out.faces_normals_packed() * centres).sum(1) > 0).all()  # still outward


def test_homogeneous_precomputed_topology():
    mesh = ico_sphere(1)
    verts = torch.stack([mesh.verts_packed(), 2 * mesh.verts_packed()])
    batch = Meshes(verts, mesh.faces_packed()[None].expand(2, -1, -1))
    sub = SubdivideMeshes(mesh)
    out, feats = sub(batch, torch.ones(2 * verts.shape[1], 4))
    want_v, want_f = subdivide_naive(mesh.verts_packed(), mesh.faces_packed())
    torch.testing.assert_close(out.verts_padded()[1], 2 * want_v)
    assert torch.equal(out.faces_padded()[0], want_f)
    assert feats.shape == (2, want_v.shape[0], 4)
    # the same as the heterogeneous path
    het = SubdivideMeshes()(batch)
    torch.testing.assert_close(het.verts_packed(), out.verts_packed())
    assert "_subdivided_faces" in dict(sub.named_buffers())


def test_gradcheck():
    verts = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])

    def run(v):
        return SubdivideMeshes()(Meshes([v], [faces])).verts_packed()

    assert torch.autograd.gradcheck(run, (verts,))
