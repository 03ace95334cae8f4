"""Point-mesh distances against PyTorch3D's scalar formulas evaluated pair by pair: values, gradients, batches."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.point_mesh import (
    closest_naive,
    point_mesh_edge_distance_naive,
    point_mesh_face_distance_naive,
    point_segment_sq,
    point_triangle_sq,
)

from inverse3d.loss import point_mesh_edge_distance, point_mesh_face_distance
from inverse3d.loss.point_mesh_distance import (
    edge_point_distance,
    face_point_distance,
    point_edge_distance,
    point_face_distance,
)
from inverse3d.ops import _closest
from inverse3d.structures import Meshes, Pointclouds
from inverse3d.utils import ico_sphere

KERNELS = [
    (point_face_distance, True, 3),
    (face_point_distance, False, 3),
    (point_edge_distance, True, 2),
    (edge_point_distance, False, 2),
]


@pytest.fixture(params=[1, 3, 32])
def block(request, monkeypatch):
    """Runs each test with tiny blocks (deep kd-trees, much pruning) and with the default size."""
    monkeypatch.setattr(_closest, "_BLOCK", request.param)
    monkeypatch.setattr(_closest, "_SEED", 1 if request.param == 1 else 4)
    return request.param


def _batch(gen, P_counts, H_counts, corners, dtype=torch.float64):
    points = torch.rand(sum(P_counts), 3, generator=gen, dtype=dtype)
    hulls = torch.rand(sum(H_counts), corners, 3, generator=gen, dtype=dtype)
    first = lambda c: torch.tensor([sum(c[:i]) for i in range(len(c))], dtype=torch.int64)  # noqa: E731
    return points, first(P_counts), hulls, first(H_counts)


@pytest.mark.parametrize("kernel, points_are_queries, corners", KERNELS)
def test_kernels_match_naive_ragged(block, kernel, points_are_queries, corners):
    gen = torch.Generator().manual_seed(1)
    # ragged batch with an empty cloud and an empty mesh
    points, pf, hulls, hf = _batch(gen, [40, 0, 25, 7], [30, 12, 0, 19], corners)
    got = kernel(points, pf, hulls, hf)
    want = torch.tensor(closest_naive(points, pf, hulls, hf, points_are_queries), dtype=torch.float64)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_scalar_formulas():
    # inside the triangle: plane distance; outside: nearest edge; tiny triangle: edges only
    tri = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert point_triangle_sq([0.2, 0.2, 0.5], *tri, 5e-3) == pytest.approx(0.25)
    assert point_triangle_sq([2.0, 0.0, 0.0], *tri, 5e-3) == pytest.approx(1.0)
    small = [[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.0, 0.05, 0.0]]  # area 1.25e-3 < 5e-3
    assert point_triangle_sq([0.01, 0.01, 0.5], *small, 5e-3) == pytest.approx(0.5**2 + 0.01**2)
    assert point_segment_sq([0.5, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]) == pytest.approx(1.0)


def test_min_triangle_area_changes_the_answer():
    tris = torch.tensor([[[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.0, 0.05, 0.0]]], dtype=torch.float64)
    p = torch.tensor([[0.01, 0.01, 0.5]], dtype=torch.float64)
    z = torch.zeros(1, dtype=torch.int64)
    plane = point_face_distance(p, z, tris, z, None, 1e-4)
    edges = point_face_distance(p, z, tris, z)  # default 5e-3: through the edges
    torch.testing.assert_close(plane, torch.tensor([0.25], dtype=torch.float64), rtol=1e-4, atol=0)  # n = c / (|c| + 1e-8)
    assert float(edges) > float(plane)


@pytest.mark.parametrize("kernel, points_are_queries, corners", KERNELS)
def test_gradcheck(kernel, points_are_queries, corners):
    gen = torch.Generator().manual_seed(3)
    points, pf, hulls, hf = _batch(gen, [5, 3], [4, 2], corners)
    points.requires_grad_(True)
    hulls.requires_grad_(True)
    # tiny min area: smooth plane branch included
    extra = (None, 1e-6) if corners == 3 else (None,)
    assert torch.autograd.gradcheck(lambda p, h: kernel(p, pf, h, hf, *extra), (points, hulls))


def test_losses_match_naive_and_gradcheck():
    gen = torch.Generator().manual_seed(4)
    verts = [torch.rand(6, 3, generator=gen, dtype=torch.float64), torch.rand(5, 3, generator=gen, dtype=torch.float64)]
    faces = [torch.tensor([[0, 1, 2], [1, 3, 2], [3, 4, 5], [0, 5, 4]]), torch.tensor([[0, 1, 2], [2, 3, 4]])]
    clouds = [torch.rand(9, 3, generator=gen, dtype=torch.float64), torch.rand(4, 3, generator=gen, dtype=torch.float64)]
    meshes, pcls = Meshes(verts, faces), Pointclouds(clouds)
    for fn, naive in ((point_mesh_face_distance, point_mesh_face_distance_naive),
                      (point_mesh_edge_distance, point_mesh_edge_distance_naive)):
        assert float(fn(meshes, pcls)) == pytest.approx(naive(meshes, pcls), rel=1e-9)

    def loss(v0, v1, p0, p1):
        return point_mesh_face_distance(Meshes([v0, v1], faces), Pointclouds([p0, p1]), min_triangle_area=1e-6)

    args = [verts[0], verts[1][:5], clouds[0][:4], clouds[1][:2]]
    args = [t.clone().requires_grad_(True) for t in args]
    assert torch.autograd.gradcheck(loss, args)


def test_empty_cloud_or_mesh_in_the_batch():
    mesh = ico_sphere(1)
    empty_mesh = Meshes([torch.zeros(0, 3)], [torch.zeros(0, 3, dtype=torch.int64)])
    from inverse3d.structures import join_meshes_as_batch

    meshes = join_meshes_as_batch([mesh, empty_mesh, mesh])
    pcls = Pointclouds([torch.rand(10, 3), torch.rand(4, 3), torch.zeros(0, 3)])
    for fn in (point_mesh_face_distance, point_mesh_edge_distance):
        value = fn(meshes, pcls)
        assert torch.isfinite(value)
        # an element with nothing on one side contributes 0 to that side (PyTorch3D: FLT_MAX)
        alone = fn(mesh, Pointclouds([torch.rand(10, 3)]))
        assert value > 0 and alone > 0


def test_surface_points_have_zero_distance_and_batch_mismatch_raises():
    mesh = ico_sphere(2)
    pcl = Pointclouds([mesh.verts_packed()])
    assert float(point_mesh_face_distance(mesh, pcl)) < 1e-10
    with pytest.raises(ValueError, match="equal sized batches"):
        point_mesh_face_distance(mesh.extend(2), pcl)


@pytest.mark.parametrize("device", DEVICES)
def test_large_cloud_memory_bounded_and_exact(device, monkeypatch):
    # many points against many faces, chunks much smaller than P x F: same answer as a dense computation
    monkeypatch.setattr(_closest, "_BUDGET", 1 << 11)
    gen = torch.Generator().manual_seed(5)
    mesh = ico_sphere(3).to(device)  # 1280 faces
    pts = (torch.randn(1500, 3, generator=gen) * 0.7).to(device)
    tris = mesh.verts_packed()[mesh.faces_packed()]
    z = torch.zeros(1, dtype=torch.int64, device=device)
    got = point_face_distance(pts, z, tris, z)
    from inverse3d.loss.point_mesh_distance import _point_triangle_sq, _triangle_features

    dense = _point_triangle_sq(pts[:, :, None], _triangle_features(tris, 5e-3).T[None]).amin(1)  # (P,)
    torch.testing.assert_close(got, dense)
