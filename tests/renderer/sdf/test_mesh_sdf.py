"""Mesh SDF (exact distance, winding-number sign) against the brute-force reference (closest point per triangle,
ray-parity sign)."""

from __future__ import annotations

import pytest
import torch

from inverse3d.renderer.sdf import MeshSDF, Union, mesh_sdf, winding_number
from inverse3d.utils import ico_sphere
from inverse3d.utils.primitives import cube
from tests.reference import sdf as ref


def _check_against_reference(verts, faces, points):
    out = mesh_sdf(points, verts, faces)
    vl, fl = verts.tolist(), faces.tolist()
    expected = torch.tensor([ref.mesh_sdf(p, vl, fl) for p in points.tolist()], dtype=points.dtype)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    assert (out < 0).any() and (out > 0).any()


def test_cube_mesh_sdf_matches_reference_and_analytic_box():
    mesh = cube(size=1.0)
    verts, faces = mesh.verts_list()[0].double(), mesh.faces_list()[0]
    g = torch.Generator().manual_seed(0)
    points = (torch.rand(60, 3, generator=g, dtype=torch.float64) - 0.5) * 1.6
    _check_against_reference(verts, faces, points)
    half = (verts.amax(0) - verts.amin(0)) / 2
    expected = torch.tensor([ref.box(p, half.tolist()) for p in points.tolist()], dtype=torch.float64)
    torch.testing.assert_close(mesh_sdf(points, verts, faces), expected, atol=1e-6, rtol=0)


def test_sphere_mesh_sdf_matches_reference():
    mesh = ico_sphere(1)
    verts, faces = mesh.verts_list()[0].double() * 0.4, mesh.faces_list()[0]
    g = torch.Generator().manual_seed(1)
    points = (torch.rand(40, 3, generator=g, dtype=torch.float64) - 0.5) * 1.2
    _check_against_reference(verts, faces, points)


def test_winding_number_chunks_and_union_of_parts():
    mesh = cube(size=0.5)
    verts, faces = mesh.verts_list()[0], mesh.faces_list()[0]
    points = torch.tensor([[0.0, 0.0, 0.0], [0.1, -0.2, 0.05], [0.6, 0.0, 0.0], [0.0, 0.0, -2.0]])
    w = winding_number(points, verts, faces, chunk_pairs=13)  # one point per chunk
    torch.testing.assert_close(w, torch.tensor([1.0, 1.0, 0.0, 0.0]), atol=1e-5, rtol=0)
    # two overlapping closed parts: winding number 2 in the overlap, still inside
    both = torch.cat([verts, verts + 0.1]), torch.cat([faces, faces + verts.shape[0]])
    assert float(winding_number(torch.tensor([[0.05, 0.05, 0.05]]), *both)) == pytest.approx(2.0, abs=1e-4)
    union = Union([MeshSDF(verts, faces), MeshSDF(verts + 0.1, faces)])
    d = union(torch.tensor([[0.05, 0.05, 0.05], [1.0, 1.0, 1.0]]))
    assert d.shape == (2, 1) and float(d[0]) < 0 < float(d[1])


def test_mesh_sdf_gradient_points_away_from_surface():
    mesh = cube(size=1.0)
    sdf = MeshSDF.from_meshes(mesh).double()
    p = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.1, 0.0]], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(sdf(p).sum(), p)
    torch.testing.assert_close(g, torch.tensor([[1.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64))


def test_bad_mesh():
    verts = torch.rand(4, 3)
    with pytest.raises(ValueError, match="no faces"):
        mesh_sdf(torch.rand(2, 3), verts, torch.zeros(0, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="faces index vertices outside"):
        mesh_sdf(torch.rand(2, 3), verts, torch.tensor([[0, 1, 7]]))
    with pytest.raises(ValueError, match="NaN"):
        mesh_sdf(torch.rand(2, 3), torch.full((4, 3), float("nan")), torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="points must be a tensor"):
        winding_number(torch.rand(2, 2), verts, torch.tensor([[0, 1, 2]]))
