"""Volume rendering of the course's box: the SDF against a naive closest-point loop, the density's shape, and images
that agree with the rasterised box (silhouette, colour at the surface) and are deterministic."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes.builtin import BOX_CENTER, BOX_SIDES, box_color, scene_spec
from inverse3d.datasets.scenes.layouts import look_at_c2w, spherical_positions
from inverse3d.datasets.scenes.raster import render_rasterized
from inverse3d.datasets.scenes.sdf_box import box_sdf, laplace_density, pixel_rays, render_sdf_box

FOV = math.radians(45.0)


def _naive_sdf(p, center, sides):
    """Distance to the closest point of the box surface, negative inside (a loop over faces for inside points)."""
    lo, hi = np.subtract(center, np.divide(sides, 2)), np.add(center, np.divide(sides, 2))
    if np.all(p > lo) and np.all(p < hi):
        return -min(min(p[k] - lo[k], hi[k] - p[k]) for k in range(3))
    return float(np.linalg.norm(p - np.clip(p, lo, hi)))


def test_box_sdf_matches_naive_loop():
    rng = np.random.default_rng(0)
    points = rng.uniform(-2.0, 2.5, size=(300, 3))
    got = box_sdf(torch.tensor(points), torch.tensor(BOX_CENTER, dtype=torch.float64),
                  torch.tensor(BOX_SIDES, dtype=torch.float64)).numpy()
    expected = [_naive_sdf(p, BOX_CENTER, BOX_SIDES) for p in points]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert (got < 0).any() and (got > 0).any()


def test_laplace_density():
    beta = 0.1
    d = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)
    sigma = laplace_density(d, beta)
    assert float(laplace_density(torch.zeros(1, dtype=torch.float64), beta)) == pytest.approx(0.5 / beta)
    assert bool((sigma[1:] <= sigma[:-1]).all()), "decreasing with the signed distance"
    assert float(sigma[0]) == pytest.approx(1 / beta, rel=1e-4) and float(sigma[-1]) < 1e-3
    torch.testing.assert_close(sigma + laplace_density(-d, beta), torch.full_like(d, 1 / beta))  # CDF symmetry
    torch.testing.assert_close(laplace_density(d, beta, alpha=2.0), sigma * 2.0 * beta)


def test_pixel_rays_point_through_pixel_centres():
    c2w = torch.tensor(look_at_c2w(spherical_positions([20.0], [30.0], 5.0), (0.0, 0.0, 0.0)))
    origins, dirs = pixel_rays(c2w, FOV, 8)
    assert origins.shape == dirs.shape == (1, 8, 8, 3)
    torch.testing.assert_close(dirs.norm(dim=-1), torch.ones(1, 8, 8, dtype=c2w.dtype))
    centre = dirs[0, 3:5, 3:5].mean(dim=(0, 1))  # the four rays around the image centre
    torch.testing.assert_close(centre / centre.norm(), -c2w[0, :3, 2], atol=1e-6, rtol=0)
    assert float(dirs[0, 0, 0] @ c2w[0, :3, 1]) > 0 and float(dirs[0, 0, 0] @ c2w[0, :3, 0]) < 0  # top-left


def _naive_ray(origin, direction, beta, far=12.0, steps=60_000):
    """Emission-absorption along the whole ray by a fine midpoint rule (no sampling tricks): (premultiplied rgb,
    opacity)."""
    t = (np.arange(steps) + 0.5) * (far / steps)
    points = origin + t[:, None] * direction
    lo, hi = np.subtract(BOX_CENTER, np.divide(BOX_SIDES, 2)), np.add(BOX_CENTER, np.divide(BOX_SIDES, 2))
    inside = np.all((points > lo) & (points < hi), axis=1)
    depth_inside = np.minimum(points - lo, hi - points).min(axis=1)  # distance to the nearest face
    sdf = np.where(inside, -depth_inside, np.linalg.norm(points - np.clip(points, lo, hi), axis=1))
    sigma = np.where(sdf > 0, 0.5 * np.exp(-sdf / beta), 1 - 0.5 * np.exp(sdf / beta)) / beta
    alpha = 1 - np.exp(-sigma * far / steps)
    weights = alpha * np.concatenate([[1.0], np.cumprod(1 - alpha)[:-1]])
    return (weights[:, None] * box_color(points)).sum(0), weights.sum()


def test_matches_naive_quadrature_along_whole_rays():
    c2w, size = _views(1), 16
    rgba = render_sdf_box(c2w, FOV, size).numpy()[0]
    origins, dirs = pixel_rays(torch.tensor(c2w), FOV, size)
    rng = np.random.default_rng(1)
    alpha = rgba[..., 3]
    edge = np.argwhere((alpha > 0.02) & (alpha < 0.98))
    assert len(edge) >= 1
    pixels = np.concatenate([edge[:3], rng.integers(0, size, size=(5, 2))])
    for i, j in pixels:
        rgb, opacity = _naive_ray(origins[0, i, j].numpy(), dirs[0, i, j].numpy(), 0.01)
        assert abs(alpha[i, j] - opacity) < 0.03, (i, j)
        np.testing.assert_allclose(rgba[i, j, :3] * alpha[i, j], rgb, atol=0.03)


def _views(n=2):
    return look_at_c2w(spherical_positions([30.0, -20.0][:n], [45.0, 160.0][:n], 5.0), BOX_CENTER)


def test_agrees_with_the_rasterised_box():
    c2w, size = _views(), 32
    rgba = render_sdf_box(c2w, FOV, size, n_samples=128)
    assert rgba.shape == (2, size, size, 4) and rgba.dtype == torch.float32
    spec = dataclasses.replace(scene_spec("box"), lights=[], ambient=1.0)  # unlit: colours are the vertex colours
    mesh = render_rasterized(spec, c2w, FOV, size, supersample=1)
    inside, outside = mesh.rgba[..., 3] == 1, mesh.rgba[..., 3] == 0
    # Away from the silhouette the volume is opaque where the mesh is, empty where it is not.
    ring = torch.nn.functional.max_pool2d(inside.float()[:, None], 3, 1, 1)[:, 0].bool() & \
        torch.nn.functional.max_pool2d(outside.float()[:, None], 3, 1, 1)[:, 0].bool()
    assert float(rgba[..., 3][inside & ~ring].min()) > 0.99
    assert float(rgba[..., 3][outside & ~ring].max()) < 0.01
    # Colour: the rainbow at the surface point, which the rasteriser's interpolated vertex colours equal.
    err = (rgba[..., :3] - mesh.rgba[..., :3]).abs()[inside & ~ring]
    assert float(err.mean()) < 0.02
    # ... and at one pixel, the colour of the box at the analytic hit point.
    origins, dirs = pixel_rays(torch.tensor(c2w, dtype=torch.float64), FOV, size)
    o, d = origins[0, 16, 16].numpy(), dirs[0, 16, 16].numpy()
    lo, hi = np.subtract(BOX_CENTER, np.divide(BOX_SIDES, 2)), np.add(BOX_CENTER, np.divide(BOX_SIDES, 2))
    t = np.max(np.minimum((lo - o) / d, (hi - o) / d))
    np.testing.assert_allclose(rgba[0, 16, 16, :3].numpy(), box_color(o + t * d), atol=0.03)


def test_deterministic_and_chunk_independent():
    c2w = _views(1)
    a = render_sdf_box(c2w, FOV, 16, n_samples=32, seed=3)
    torch.testing.assert_close(a, render_sdf_box(c2w, FOV, 16, n_samples=32, seed=3), rtol=0, atol=0)
    torch.testing.assert_close(a, render_sdf_box(c2w, FOV, 16, n_samples=32, seed=3, chunk=5), rtol=0, atol=0)
    assert not torch.equal(a, render_sdf_box(c2w, FOV, 16, n_samples=32, seed=4))


def test_straight_alpha_and_empty_rays():
    away = look_at_c2w([[0.0, 0.0, 10.0]], (0.0, 0.0, 20.0))  # looking away from the box
    assert (render_sdf_box(away, FOV, 8, n_samples=8) == 0).all()
    rgba = render_sdf_box(_views(1), FOV, 24, n_samples=64, beta=0.1)  # a wide soft edge
    edge = (rgba[..., 3] > 0.05) & (rgba[..., 3] < 0.5)
    assert int(edge.sum()) > 20
    # Straight colour: a faint edge pixel is as bright as the surface behind it, not darkened by its alpha.
    brightness = rgba[..., :3].max(-1).values
    assert float(brightness[edge].median()) > 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="image_size"):
        render_sdf_box(_views(1), FOV, 0)
    with pytest.raises(ValueError, match="beta"):
        render_sdf_box(_views(1), FOV, 8, beta=0.0)
    with pytest.raises(ValueError, match="n_samples"):
        render_sdf_box(_views(1), FOV, 8, n_samples=0)
    with pytest.raises(ValueError, match="c2w"):
        render_sdf_box(np.eye(4), FOV, 8)
    with pytest.raises(ValueError, match="sides"):
        render_sdf_box(_views(1), FOV, 8, sides=(1.0, -1.0, 1.0))
