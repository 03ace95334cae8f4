"""Primitives: closed ones watertight with outward faces and the right Euler characteristic; counts and sizes."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh
from conftest import DEVICES

from inverse3d.utils import cube, plane, tetrahedron, torus, uv_sphere

CLOSED = {
    "cube": (lambda: cube(2.0), 2, 8.0),
    "tetrahedron": (lambda: tetrahedron(), 2, 8 / (9 * math.sqrt(3))),
    "torus": (lambda: torus(0.25, 1.0, 24, 48), 0, 2 * math.pi**2 * 1.0 * 0.25**2),
    "uv_sphere": (lambda: uv_sphere(24, 48), 2, 4 / 3 * math.pi),
}


def _trimesh(mesh) -> trimesh.Trimesh:
    return trimesh.Trimesh(mesh.verts_packed().double().numpy(), mesh.faces_packed().numpy(), process=False)


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_closed_watertight_outward(name: str) -> None:
    make, euler, volume = CLOSED[name]
    mesh = make()
    tm = _trimesh(mesh)
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.euler_number == euler
    # Positive signed volume = normals point outward; close to the analytic volume.
    assert tm.volume > 0
    assert abs(tm.volume - volume) / volume < 0.05
    assert mesh.verts_packed().dtype == torch.float32 and mesh.faces_packed().dtype == torch.int64


@pytest.mark.parametrize("name", ["cube", "tetrahedron", "uv_sphere"])
def test_convex_face_normals_point_away_from_centre(name: str) -> None:
    mesh = CLOSED[name][0]()
    v, f = mesh.verts_packed(), mesh.faces_packed()
    normals = mesh.faces_normals_packed()
    assert ((normals * v[f].mean(dim=1)).sum(dim=1) > 0).all()


def test_cube_geometry() -> None:
    v = cube(3.0).verts_packed()
    assert v.shape == (8, 3)
    torch.testing.assert_close(v.abs(), torch.full((8, 3), 1.5))
    torch.testing.assert_close(v[7], torch.tensor([1.5, 1.5, 1.5]))


def test_tetrahedron_regular_on_sphere() -> None:
    v = tetrahedron(2.0).verts_packed()
    torch.testing.assert_close(v.norm(dim=1), torch.full((4,), 2.0))
    d = torch.cdist(v, v)[~torch.eye(4, dtype=torch.bool)]
    torch.testing.assert_close(d, torch.full_like(d, d[0].item()))


def test_torus_matches_pytorch3d_layout() -> None:
    r, R, sides, rings = 0.3, 1.0, 5, 7
    mesh = torus(r, R, sides, rings)
    v, f = mesh.verts_packed(), mesh.faces_packed()
    assert v.shape == (sides * rings, 3) and f.shape == (2 * sides * rings, 3)
    i, j = 2, 3  # vertex i * sides + j
    p, t = 2 * math.pi * i / rings, 2 * math.pi * j / sides
    expected = torch.tensor([(R + r * math.cos(t)) * math.cos(p), (R + r * math.cos(t)) * math.sin(p), r * math.sin(t)])
    torch.testing.assert_close(v[i * sides + j], expected)
    # Distance to the tube's centre circle is r for every vertex.
    tube = ((v[:, :2].norm(dim=1) - R) ** 2 + v[:, 2] ** 2).sqrt()
    torch.testing.assert_close(tube, torch.full_like(tube, r))


def test_uv_sphere_counts_and_poles() -> None:
    mesh = uv_sphere(6, 10, radius=2.0)
    v = mesh.verts_packed()
    assert v.shape == (5 * 10 + 2, 3) and mesh.faces_packed().shape == (2 * 5 * 10, 3)
    torch.testing.assert_close(v.norm(dim=1), torch.full((52,), 2.0))
    torch.testing.assert_close(v[0], torch.tensor([0.0, 2.0, 0.0]))
    torch.testing.assert_close(v[-1], torch.tensor([0.0, -2.0, 0.0]))


@pytest.mark.parametrize("normal", ["+x", "-x", "+y", "-y", "+z", "-z"])
def test_plane_faces_the_asked_side(normal: str) -> None:
    mesh = plane(2.0, segments=3, normal=normal)
    v = mesh.verts_packed()
    assert v.shape == (16, 3) and mesh.faces_packed().shape == (18, 3)
    axis = "xyz".index(normal[1])
    sign = 1.0 if normal[0] == "+" else -1.0
    expected = torch.zeros(3)
    expected[axis] = sign
    torch.testing.assert_close(mesh.faces_normals_packed(), expected.expand(18, 3))
    assert torch.all(v[:, axis] == 0) and v.abs().max() == 1.0
    tm = _trimesh(mesh)
    assert not tm.is_watertight and tm.is_winding_consistent and tm.euler_number == 1
    assert abs(tm.area - 4.0) < 1e-6


@pytest.mark.parametrize("device", DEVICES)
def test_devices(device: str) -> None:
    for make in (cube, tetrahedron, torus, uv_sphere, plane):
        mesh = make(device=device)
        assert mesh.verts_packed().device.type == device and mesh.faces_packed().device.type == device


@pytest.mark.parametrize(
    "call",
    [lambda: cube(0), lambda: cube(-1), lambda: tetrahedron(float("nan")), lambda: torus(sides=2), lambda: torus(r=-1),
     lambda: uv_sphere(1, 8), lambda: uv_sphere(4, 2), lambda: plane(segments=0), lambda: plane(normal="up")],
)  # fmt: skip
def test_bad_arguments(call) -> None:
    with pytest.raises(ValueError):
        call()
