"""Lights and materials: PyTorch3D defaults, hand-computed Phong values, batching and errors."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DEVICES
from reference import shading as ref

from inverse3d.renderer import AmbientLights, DirectionalLights, Materials, PointLights, diffuse, specular


def test_defaults_match_pytorch3d():
    lights = PointLights()
    assert lights.location.tolist() == [[0.0, 1.0, 0.0]]
    assert lights.ambient_color.tolist() == [[0.5] * 3]
    assert torch.allclose(lights.diffuse_color, torch.tensor([[0.3] * 3]))
    assert torch.allclose(lights.specular_color, torch.tensor([[0.2] * 3]))
    assert DirectionalLights().direction.tolist() == [[0.0, 1.0, 0.0]]
    assert AmbientLights().ambient_color.tolist() == [[1.0, 1.0, 1.0]]
    materials = Materials()
    assert materials.shininess.tolist() == [64.0]
    assert materials.ambient_color.tolist() == materials.diffuse_color.tolist() == [[1.0, 1.0, 1.0]]


def test_hand_computed_phong_values():
    # Point at the origin facing +z, light at (0, 0, 2) (straight above), camera at (0, 0, 5):
    # cos = 1, the reflection points at the camera -> specular = 1 ** shininess = 1.
    lights = PointLights(location=[[0.0, 0.0, 2.0]])
    points = torch.zeros(1, 1, 3)
    normals = torch.tensor([[[0.0, 0.0, 2.0]]])  # not unit length: renormalised
    cam = torch.tensor([[0.0, 0.0, 5.0]])
    assert torch.allclose(lights.diffuse(normals, points), torch.full((1, 1, 3), 0.3))
    assert torch.allclose(lights.specular(normals, points, cam, torch.tensor([10.0])), torch.full((1, 1, 3), 0.2))
    # Light at 60 degrees from the normal: diffuse = 0.3 * cos(60) = 0.15; camera along the mirror direction.
    s = math.sin(math.radians(60))
    lights = PointLights(location=[[s, 0.0, 0.5]])
    mirror = torch.tensor([[-s * 4, 0.0, 0.5 * 4]])
    assert torch.allclose(lights.diffuse(normals, points), torch.full((1, 1, 3), 0.15), atol=1e-6)
    assert torch.allclose(lights.specular(normals, points, mirror, torch.tensor([64.0])), torch.full((1, 1, 3), 0.2), atol=1e-5)
    # Light behind the surface: no diffuse, no specular.
    lights = PointLights(location=[[0.0, 0.0, -1.0]])
    assert lights.diffuse(normals, points).abs().max() == 0
    assert lights.specular(normals, points, -cam, torch.tensor([1.0])).abs().max() == 0


@pytest.mark.parametrize("device", DEVICES)
def test_point_lights_match_reference_per_fragment(device):
    N, H, W, K = 2, 3, 2, 2
    points = torch.randn(N, H, W, K, 3, dtype=torch.float64, device=device)
    normals = torch.randn(N, H, W, K, 3, dtype=torch.float64, device=device)
    loc = torch.randn(N, 3, dtype=torch.float64, device=device) * 3
    cam = torch.randn(N, 3, dtype=torch.float64, device=device) * 3
    lights = PointLights(location=loc, diffuse_color=[[0.3, 0.4, 0.5]], specular_color=[[0.2, 0.1, 0.3]], device=device)
    shininess = torch.tensor([8.0, 20.0], device=device)
    dif = lights.diffuse(normals, points)
    spe = lights.specular(normals, points, cam, shininess)
    assert dif.shape == spe.shape == (N, H, W, K, 3)
    for idx in [(0, 0, 0, 0), (1, 2, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1)]:
        n = idx[0]
        expected = ref.phong_point(
            points[idx].tolist(), normals[idx].tolist(), loc[n].tolist(), cam[n].tolist(),
            [0, 0, 0], [0.3, 0.4, 0.5], [0.2, 0.1, 0.3], float(shininess[n]), [1, 1, 1],
        )  # fmt: skip
        torch.testing.assert_close((dif + spe)[idx].cpu(), torch.tensor(expected, dtype=torch.float64))


def test_directional_lights_and_packed_inputs():
    normals = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    lights = DirectionalLights(direction=[[0.0, 1.0, 0.0]])
    out = lights.diffuse(normals)
    assert torch.allclose(out[:, 0], torch.tensor([0.3, 0.0, 0.0]))
    # Functions with packed (P, 3) inputs and per-point colours / directions.
    color = torch.rand(3, 3)
    assert torch.allclose(diffuse(normals, color, normals), color)
    spec = specular(normals, normals, normals, color, normals * 2, torch.ones(3))
    assert torch.allclose(spec, color)


def test_ambient_lights_are_ambient_only():
    lights = AmbientLights(ambient_color=[[0.2, 0.3, 0.4]])
    pts = torch.rand(2, 4, 3)
    assert lights.diffuse(pts, pts).abs().max() == 0
    assert lights.specular(pts, pts, torch.zeros(1, 3), torch.ones(1)).shape == (2, 4, 3)


def test_gradients_are_finite_at_grazing_and_zero_specular():
    pts = torch.zeros(1, 2, 3, dtype=torch.float64, requires_grad=True)
    nrm = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]], dtype=torch.float64, requires_grad=True)
    shin = torch.tensor([64.0], dtype=torch.float64, requires_grad=True)
    lights = PointLights(location=[[1.0, 0.0, 0.0]])  # grazing: cos = 0
    out = lights.specular(nrm, pts, torch.tensor([[0.0, 0.0, 3.0]]), shin) + lights.diffuse(nrm, pts)
    out.sum().backward()
    for t in (pts, nrm, shin):
        assert torch.isfinite(t.grad).all()


def test_gradcheck_point_lights():
    points = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)
    normals = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)
    loc = torch.tensor([[0.5, 2.0, 1.0]], dtype=torch.float64, requires_grad=True)

    def fn(points, normals, loc):
        lights = PointLights(location=loc)
        return lights.diffuse(normals, points) + lights.specular(normals, points, loc.detach() * 0 + 3, torch.tensor([4.0]))

    assert torch.autograd.gradcheck(fn, (points, normals, loc))


def test_batching_broadcasts_and_clone_to():
    lights = PointLights(location=torch.rand(4, 3), diffuse_color=[[0.1, 0.2, 0.3]])
    assert len(lights) == 4 and lights.diffuse_color.shape == (4, 3)
    other = lights.clone()
    assert isinstance(other, PointLights) and torch.equal(other.location, lights.location)
    other.location.add_(1)
    assert not torch.equal(other.location, lights.location)
    assert lights.to("cpu") is lights
    materials = Materials(shininess=torch.tensor([1.0, 2.0]), ambient_color=[[0.1, 0.1, 0.1]])
    assert materials.ambient_color.shape == (2, 3) and isinstance(materials.clone(), Materials)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="location"):
        PointLights(location=[[0.0, 1.0]])
    with pytest.raises(ValueError, match="direction"):
        DirectionalLights(direction=[[0.0, 1.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="NaN"):
        PointLights(location=[[float("nan"), 0.0, 0.0]])
    with pytest.raises(ValueError, match="channels"):
        PointLights(ambient_color=[[0.5, 0.5]])
    with pytest.raises(ValueError, match="shininess"):
        Materials(shininess=[[1.0, 2.0]])
    with pytest.raises(ValueError):
        PointLights(location=torch.rand(2, 3), diffuse_color=torch.rand(3, 3))
    with pytest.raises(ValueError, match="same shape"):
        specular(torch.rand(2, 3), torch.rand(3, 3), torch.rand(1, 3), torch.rand(1, 3), torch.rand(1, 3), torch.ones(1))
