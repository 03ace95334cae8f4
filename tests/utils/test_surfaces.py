"""Parametric surfaces land on their shapes; implicit surfaces mesh to closed, outward surfaces at the level set."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh
from conftest import DEVICES

from inverse3d.utils import (
    implicit_sphere,
    implicit_to_mesh,
    implicit_torus,
    parametric_sphere,
    parametric_torus,
    sample_parametric_surface,
    sphere_sdf,
    torus_sdf,
)


@pytest.mark.parametrize("n", [5, 50])
def test_parametric_sphere_on_radius(n: int) -> None:
    cloud = parametric_sphere(n, radius=2.0, center=(1.0, 0.0, -1.0))
    points = cloud.points_packed()
    assert points.shape == (n * n, 3)
    torch.testing.assert_close((points - torch.tensor([1.0, 0.0, -1.0])).norm(dim=1), torch.full((n * n,), 2.0))
    colours = cloud.features_packed()
    assert colours.shape == (n * n, 3) and colours.min() >= 0 and colours.max() <= 1


def test_parametric_torus_satisfies_implicit_equation() -> None:
    R, r = 1.0, 0.4
    p = parametric_torus(30, R=R, r=r).points_packed()
    values = torus_sdf(R, r)(p[:, 0], p[:, 1], p[:, 2])
    assert values.abs().max() < 1e-5


def test_normals_feature_points_outward() -> None:
    cloud = sample_parametric_surface(
        lambda u, v: (torch.sin(v) * torch.cos(u), torch.cos(v), torch.sin(v) * torch.sin(u)),
        (16, 12),
        v_range=(0.2, math.pi - 0.2),
        features="normals",
    )
    points, normals = cloud.points_packed(), cloud.normals_packed()
    assert points.shape == (16 * 12, 3)
    # d/du x d/dv = sin(v) p for this parametrisation (the one of parametric_sphere): outward.
    torch.testing.assert_close(normals, points, atol=2e-3, rtol=0)
    torch.testing.assert_close(cloud.features_packed(), (normals + 1) / 2)


def test_uv_features_and_custom_ranges() -> None:
    cloud = sample_parametric_surface(lambda u, v: torch.stack([u, v, u * v], -1), (3, 2), (0.0, 1.0), (2.0, 4.0))
    p = cloud.points_packed()
    torch.testing.assert_close(p[:, 0], torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]))  # u-major
    torch.testing.assert_close(p[:, 1], torch.tensor([2.0, 4.0, 2.0, 4.0, 2.0, 4.0]))
    feats = cloud.features_packed()
    torch.testing.assert_close(feats[:, 0], torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]))
    plain = sample_parametric_surface(lambda u, v: torch.stack([u, v, u], -1), 4, features=None)
    assert plain.features_packed() is None


@pytest.mark.parametrize("grid", [20, 30])
def test_implicit_sphere_mesh(grid: int) -> None:
    mesh = implicit_to_mesh(sphere_sdf(0.8), grid, bounds=(-1.0, 1.0))
    v, f = mesh.verts_packed(), mesh.faces_packed()
    cell = 2.0 / (grid - 1)
    assert (v.norm(dim=1) - 0.8).abs().max() < 0.1 * cell
    tm = trimesh.Trimesh(v.numpy(), f.numpy(), process=False)
    assert tm.is_watertight and tm.euler_number == 2 and tm.volume > 0


def test_implicit_torus_genus_one_and_coloured() -> None:
    mesh = implicit_torus(30, R=1.0, r=0.4)
    v, f = mesh.verts_packed(), mesh.faces_packed()
    tm = trimesh.Trimesh(v.numpy(), f.numpy(), process=False)
    assert tm.is_watertight and tm.euler_number == 0 and tm.volume > 0
    assert torus_sdf(1.0, 0.4)(v[:, 0], v[:, 1], v[:, 2]).abs().max() < 0.02
    colours = mesh.textures.verts_features_packed()
    assert colours.shape == v.shape and colours.min() >= 0 and colours.max() <= 1


def test_implicit_sphere_helper_and_course_formula() -> None:
    mesh = implicit_sphere(24, radius=0.5, features=None)
    assert mesh.textures is None
    assert (mesh.verts_packed().norm(dim=1) - 0.5).abs().max() < 0.01
    # The course's torus (not a distance): same zero set.
    course = implicit_to_mesh(lambda x, y, z: (1.0 - torch.sqrt(x**2 + y**2)) ** 2 + z**2 - 0.5**2, 40, (-1.7, 1.7))
    assert torus_sdf(1.0, 0.5)(*course.verts_packed().unbind(1)).abs().max() < 0.03


def test_implicit_level_not_crossed_gives_empty_mesh() -> None:
    mesh = implicit_to_mesh(sphere_sdf(5.0), 8, bounds=(-1.0, 1.0), features="position")
    assert mesh.num_faces_per_mesh().tolist() == [0]


@pytest.mark.parametrize("device", DEVICES)
def test_devices(device: str) -> None:
    assert parametric_sphere(4, device=device).points_packed().device.type == device
    assert implicit_to_mesh(sphere_sdf(0.5), 8, device=device).verts_packed().device.type == device


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="n_samples"):
        parametric_sphere(0)
    with pytest.raises(ValueError, match="features"):
        parametric_sphere(4, features="rainbow")
    with pytest.raises(ValueError, match="must return"):
        sample_parametric_surface(lambda u, v: u, 4)
    with pytest.raises(ValueError, match="NaN"):
        sample_parametric_surface(lambda u, v: torch.stack([u, v, u / 0 * 0], -1), 4)
    with pytest.raises(ValueError, match="grid_size"):
        implicit_to_mesh(sphere_sdf(), 1)
    with pytest.raises(ValueError, match="values of shape"):
        implicit_to_mesh(lambda x, y, z: x[0], 8)
