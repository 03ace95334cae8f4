"""Raymarchers (PyTorch3D's opacity form) and the density form of NeRF against loops over samples and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DEVICES
from reference.implicit import density_render_naive, emission_absorption_naive

from inverse3d.renderer import (
    AbsorptionOnlyRaymarcher,
    EmissionAbsorptionRaymarcher,
    FoVPerspectiveCameras,
    ImplicitRenderer,
    NDCMultinomialRaysampler,
    RayBundle,
    ray_bundle_to_ray_points,
)
from inverse3d.renderer.implicit import DensityRaymarcher, density_render, density_weights, ray_deltas

F64 = torch.float64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("thickness", [1, 2, 3])
def test_emission_absorption_matches_loop(device, thickness):
    densities = torch.rand(2, 3, 5, 1, dtype=F64, device=device)
    densities[0, 0] = 1.0  # fully opaque samples
    densities[0, 1, 2] = 0.0
    features = torch.rand(2, 3, 5, 4, dtype=F64, device=device)
    out = EmissionAbsorptionRaymarcher(surface_thickness=thickness)(densities, features)
    assert out.shape == (2, 3, 5) and out.device.type == device
    for b in range(2):
        for r in range(3):
            feats, opacity = emission_absorption_naive(
                densities[b, r, :, 0].tolist(), features[b, r].tolist(), thickness
            )
            torch.testing.assert_close(out[b, r].cpu(), torch.tensor(feats + [opacity], dtype=F64))
    ao = AbsorptionOnlyRaymarcher()(densities)
    assert ao.shape == (2, 3, 1)
    torch.testing.assert_close(ao, out[..., -1:])


def test_emission_absorption_first_opaque_sample_wins():
    densities = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=F64)[:, None]
    features = torch.eye(4, dtype=F64)
    out = EmissionAbsorptionRaymarcher()(densities, features)
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0, 1e-10, 0.0, 1.0], dtype=F64))


def test_raymarcher_gradcheck():
    densities = (torch.rand(2, 4, 1, dtype=F64) * 0.9 + 0.05).requires_grad_()
    features = torch.rand(2, 4, 3, dtype=F64, requires_grad=True)
    for thickness in (1, 2):
        marcher = EmissionAbsorptionRaymarcher(thickness)
        assert torch.autograd.gradcheck(lambda d, f: marcher(d, f), (densities, features))
    assert torch.autograd.gradcheck(lambda d: AbsorptionOnlyRaymarcher()(d), (densities,))


def test_raymarcher_bad_input():
    with pytest.warns(UserWarning, match="outside the valid range"):
        EmissionAbsorptionRaymarcher()(torch.full((2, 3, 1), 1.5), torch.rand(2, 3, 3))
    with pytest.warns(UserWarning, match="outside the valid range"):
        AbsorptionOnlyRaymarcher()(torch.full((2, 3, 1), -0.5))
    with pytest.raises(ValueError, match=r"\(\.\.\., n_points_per_ray, 1\)"):
        EmissionAbsorptionRaymarcher()(torch.rand(2, 3), torch.rand(2, 3, 3))
    with pytest.raises(ValueError, match="leading"):
        EmissionAbsorptionRaymarcher()(torch.rand(2, 3, 1), torch.rand(2, 4, 3))
    with pytest.raises(ValueError, match="rays_features"):
        EmissionAbsorptionRaymarcher()(torch.rand(2, 3, 1), None)
    with pytest.raises(ValueError, match="surface_thickness"):
        EmissionAbsorptionRaymarcher(0)


# ----------------------------------------------------------------------------------------------------------------
# density form


@pytest.mark.parametrize("device", DEVICES)
def test_density_render_matches_loop(device):
    sigmas = torch.rand(2, 3, 6, dtype=F64, device=device) * 3
    sigmas[0, 0, 2:] = 0.0
    features = torch.rand(2, 3, 6, 3, dtype=F64, device=device)
    lengths = torch.sort(torch.rand(2, 3, 6, dtype=F64, device=device) * 4 + 1, dim=-1).values
    directions = torch.randn(2, 3, 3, dtype=F64, device=device)
    background = [0.2, 0.5, 1.0]
    for far in (1e10, 0.3):
        out = density_render(sigmas, features, lengths, directions, background=background, far_delta=far)
        assert out.features.shape == (2, 3, 3) and out.depth.shape == out.opacity.shape == (2, 3)
        assert out.weights.shape == (2, 3, 6)
        for b in range(2):
            for r in range(3):
                colour, depth, opacity, weights = density_render_naive(
                    sigmas[b, r].tolist(), features[b, r].tolist(), lengths[b, r].tolist(),
                    float(directions[b, r].norm()), background, far,
                )
                torch.testing.assert_close(out.features[b, r].cpu(), torch.tensor(colour, dtype=F64))
                torch.testing.assert_close(out.depth[b, r].cpu(), torch.tensor(depth, dtype=F64))
                torch.testing.assert_close(out.opacity[b, r].cpu(), torch.tensor(opacity, dtype=F64))
                torch.testing.assert_close(out.weights[b, r].cpu(), torch.tensor(weights, dtype=F64))
    # without directions the intervals are length differences; weights + final transmittance = 1
    deltas = ray_deltas(lengths, far_delta=0.5)
    torch.testing.assert_close(deltas[..., :-1], lengths.diff(dim=-1))
    weights = density_weights(sigmas, deltas)
    passed = torch.exp(-(sigmas * deltas).sum(-1))
    torch.testing.assert_close(weights.sum(-1) + passed, torch.ones(2, 3, dtype=F64, device=device))


def test_density_constant_slab_closed_form():
    """Camera at the origin looking along +z through a slab a <= z < b of constant density s, other space empty:
    every pixel's opacity is 1 - exp(-s L) with L = (b - a) |d| the ray's path length in the slab."""
    s, a, b = 1.7, 2.0, 2.6
    cameras = FoVPerspectiveCameras(R=torch.eye(3, dtype=F64)[None], T=torch.zeros(1, 3, dtype=F64), fov=60.0)
    step = 0.05
    # samples at 1.025, 1.075, ...: the slab's faces fall halfway between two samples
    sampler = NDCMultinomialRaysampler(image_width=6, image_height=4, n_pts_per_ray=60, min_depth=1.0 + step / 2,
                                       max_depth=1.0 + step / 2 + 59 * step)

    def slab(ray_bundle, **kwargs):
        z = ray_bundle_to_ray_points(ray_bundle)[..., 2:3]
        sigma = torch.where((z >= a) & (z < b), torch.full_like(z, s), torch.zeros_like(z))
        return sigma, torch.ones_like(z).expand(*z.shape[:-1], 3)

    renderer = ImplicitRenderer(sampler, DensityRaymarcher(background_color=(0.0, 0.0, 0.0), return_depth=True))
    images, rays = renderer(cameras, slab)
    assert images.shape == (1, 4, 6, 5)
    path = (b - a) * rays.directions.norm(dim=-1)  # (1, 4, 6)
    expected = 1.0 - torch.exp(-s * path)
    torch.testing.assert_close(images[..., -1], expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(images[..., 0], expected, rtol=1e-10, atol=1e-10)  # white slab, black background
    depth = images[..., 3] / images[..., -1]  # expected view depth of the light that was absorbed
    assert bool(((depth > a) & (depth < b)).all())
    assert images.dtype == F64


def test_density_background_and_empty_space():
    sigmas = torch.zeros(3, 5, dtype=F64)
    features = torch.rand(3, 5, 3, dtype=F64)
    lengths = torch.linspace(1, 2, 5, dtype=F64).expand(3, 5)
    out = density_render(sigmas, features, lengths, background=torch.tensor([0.1, 0.2, 0.3], dtype=F64))
    torch.testing.assert_close(out.features, torch.tensor([[0.1, 0.2, 0.3]] * 3, dtype=F64))
    assert float(out.opacity.abs().max()) == 0.0
    # NeRF's far interval: any density at the last sample makes the ray opaque
    sigmas[:, -1] = 0.01
    torch.testing.assert_close(density_render(sigmas, features, lengths).opacity, torch.ones(3, dtype=F64))


def test_density_gradcheck():
    sigmas = (torch.rand(2, 4, dtype=F64) * 2).requires_grad_()
    features = torch.rand(2, 4, 3, dtype=F64, requires_grad=True)
    lengths = torch.sort(torch.rand(2, 4, dtype=F64) * 3 + 1, -1).values.requires_grad_()
    directions = torch.randn(2, 3, dtype=F64, requires_grad=True)

    def render(s, f, t, d):
        out = density_render(s, f, t, d, background=(1.0, 0.5, 0.0), far_delta=0.7)
        return out.features, out.depth, out.opacity

    assert torch.autograd.gradcheck(render, (sigmas, features, lengths, directions))


def test_density_raymarcher_output_and_errors():
    rays = RayBundle(torch.zeros(2, 3, 3), torch.tensor([0.0, 0.0, 2.0]).expand(2, 3, 3),
                     torch.linspace(1, 2, 4).expand(2, 3, 4), torch.zeros(2, 3, 2))
    densities, features = torch.rand(2, 3, 4, 1), torch.rand(2, 3, 4, 3)
    out = DensityRaymarcher()(densities, features, ray_bundle=rays)
    expected = density_render(densities[..., 0], features, rays.lengths, rays.directions)
    torch.testing.assert_close(out, torch.cat((expected.features, expected.opacity[..., None]), -1))
    with_depth = DensityRaymarcher(return_depth=True)(densities, features, ray_bundle=rays)
    torch.testing.assert_close(with_depth[..., 3], expected.depth)
    with pytest.raises(ValueError, match="ray_bundle"):
        DensityRaymarcher()(densities, features)
    with pytest.raises(ValueError, match=r"\(\.\.\., n_points_per_ray, 1\)"):
        DensityRaymarcher()(densities[..., 0], features, ray_bundle=rays)
    with pytest.raises(ValueError, match="one shape"):
        density_weights(torch.rand(2, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match="features"):
        density_render(torch.rand(2, 3), torch.rand(2, 4, 3), torch.rand(2, 3))
    with pytest.raises(ValueError, match="directions"):
        ray_deltas(torch.rand(2, 3), torch.rand(3, 3))
    assert math.isfinite(float(density_weights(torch.full((1, 3), 1e3), torch.full((1, 3), 1e10)).sum()))
