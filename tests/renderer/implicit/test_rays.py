"""Ray bundles, HarmonicEmbedding and the raysamplers against loops over pixels and PyTorch3D's documented semantics."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DEVICES
from reference.implicit import fov_perspective_ray_naive, harmonic_embedding_naive, pixel_centre_ndc

from inverse3d.renderer import (
    FoVOrthographicCameras,
    FoVPerspectiveCameras,
    GridRaysampler,
    HarmonicEmbedding,
    HeterogeneousRayBundle,
    MonteCarloRaysampler,
    MultinomialRaysampler,
    NDCGridRaysampler,
    NDCMultinomialRaysampler,
    RayBundle,
    look_at_view_transform,
    ray_bundle_to_ray_points,
    ray_bundle_variables_to_ray_points,
)

F64 = torch.float64


def _cameras(n=2, device="cpu", cls=FoVPerspectiveCameras, **kwargs):
    R, T = look_at_view_transform(dist=torch.linspace(2.5, 3.5, n), elev=torch.linspace(10, -25, n),
                                  azim=torch.linspace(30, 160, n))
    return cls(R=R.to(F64), T=T.to(F64), device=device, **kwargs)


def _view_points(cameras, points):
    """(B, ..., 3) world points -> view coordinates, row vectors."""
    flat = points.reshape(points.shape[0], -1, 3)
    return cameras.get_world_to_view_transform().transform_points(flat).reshape(points.shape)


def test_ray_points_match_loop():
    origins, directions = torch.randn(2, 3, 3, dtype=F64), torch.randn(2, 3, 3, dtype=F64)
    lengths = torch.rand(2, 3, 4, dtype=F64)
    points = ray_bundle_to_ray_points(RayBundle(origins, directions, lengths, torch.zeros(2, 3, 2)))
    assert points.shape == (2, 3, 4, 3)
    for b in range(2):
        for r in range(3):
            for k in range(4):
                torch.testing.assert_close(points[b, r, k], origins[b, r] + lengths[b, r, k] * directions[b, r])
    torch.testing.assert_close(ray_bundle_variables_to_ray_points(origins, directions, lengths), points)
    with pytest.raises(ValueError, match="end in 3"):
        ray_bundle_variables_to_ray_points(origins[..., :2], directions, lengths)


@pytest.mark.parametrize("kwargs", [{}, {"n_harmonic_functions": 3, "omega_0": 0.5, "logspace": False,
                                         "append_input": False}])
def test_harmonic_embedding_matches_loop(kwargs):
    embed = HarmonicEmbedding(**kwargs)
    n, append = kwargs.get("n_harmonic_functions", 6), kwargs.get("append_input", True)
    omega = kwargs.get("omega_0", 1.0)
    if kwargs.get("logspace", True):
        freqs = [omega * 2.0**k for k in range(n)]
    else:
        freqs = [omega * (1 + k * (2.0 ** (n - 1) - 1) / (n - 1)) for k in range(n)]
    x, cov = torch.randn(4, 3, dtype=F64), torch.rand(4, 3, dtype=F64)
    out, out_cov = embed(x), embed(x, diag_cov=cov)
    assert out.shape == (4, embed.get_output_dim(3)) == (4, HarmonicEmbedding.get_output_dim_static(3, n, append))
    for i in range(4):
        expected = harmonic_embedding_naive(x[i].tolist(), freqs, append)
        torch.testing.assert_close(out[i], torch.tensor(expected, dtype=F64), rtol=1e-6, atol=1e-6)
        expected = harmonic_embedding_naive(x[i].tolist(), freqs, append, cov[i].tolist())
        torch.testing.assert_close(out_cov[i], torch.tensor(expected, dtype=F64), rtol=1e-6, atol=1e-6)
    assert HarmonicEmbedding()(torch.randn(2, 5, 3)).shape == (2, 5, 39)
    assert torch.autograd.gradcheck(lambda v: embed(v, diag_cov=cov[:2]), (x[:2].clone().requires_grad_(),))
    with pytest.raises(ValueError, match="diag_cov"):
        embed(x, diag_cov=cov[:, :2])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("hw", [(4, 6), (7, 4), (5, 5)])
def test_ndc_grid_rays_match_pixel_loop(device, hw):
    """Pixel [i, j]: xys at the rasterisers' pixel centre, the ray from the camera centre through it, lengths = view
    depths from min_depth to max_depth, directions not normalised (view z = 1)."""
    H, W = hw
    cameras = _cameras(2, device, fov=50.0)
    sampler = NDCMultinomialRaysampler(image_width=W, image_height=H, n_pts_per_ray=5, min_depth=0.5, max_depth=4.0)
    rays = sampler(cameras)
    assert isinstance(rays, RayBundle)
    assert rays.origins.shape == rays.directions.shape == (2, H, W, 3)
    assert rays.lengths.shape == (2, H, W, 5) and rays.xys.shape == (2, H, W, 2)
    assert rays.origins.dtype == F64 and rays.origins.device.type == device
    rays = RayBundle(*(t.cpu() for t in rays))
    for b in range(2):
        Rb, Tb = cameras.R[b].tolist(), cameras.T[b].tolist()
        for i in range(H):
            for j in range(W):
                x, y = pixel_centre_ndc(j, W, H), pixel_centre_ndc(i, H, W)
                torch.testing.assert_close(rays.xys[b, i, j], torch.tensor([x, y], dtype=F64))
                origin, direction = fov_perspective_ray_naive(Rb, Tb, 50.0, 1.0, x, y)
                torch.testing.assert_close(rays.origins[b, i, j], torch.tensor(origin, dtype=F64))
                torch.testing.assert_close(rays.directions[b, i, j], torch.tensor(direction, dtype=F64))
    torch.testing.assert_close(rays.lengths, torch.linspace(0.5, 4.0, 5, dtype=F64).expand(2, H, W, 5))
    # the points sit at view depth = length and project back onto their pixel centre
    cpu_cameras = cameras.to("cpu")
    points = ray_bundle_to_ray_points(rays)  # (2, H, W, 5, 3)
    torch.testing.assert_close(_view_points(cpu_cameras, points)[..., 2], rays.lengths)
    ndc = cpu_cameras.transform_points(points.reshape(2, -1, 3)).reshape(2, H, W, 5, 3)[..., :2]
    torch.testing.assert_close(ndc, rays.xys[:, :, :, None].expand(-1, -1, -1, 5, -1))
    assert not torch.allclose(rays.directions.norm(dim=-1), torch.ones(2, H, W, dtype=F64))


def test_multinomial_grid_bounds_and_orthographic():
    cameras = _cameras(1, cls=FoVOrthographicCameras)
    sampler = MultinomialRaysampler(min_x=0.8, max_x=-0.4, min_y=0.6, max_y=-0.9, image_width=4, image_height=3,
                                    n_pts_per_ray=3, min_depth=1.0, max_depth=2.0)
    rays = sampler(cameras)
    torch.testing.assert_close(rays.xys[0, 0, :, 0], torch.linspace(0.8, -0.4, 4, dtype=F64))
    torch.testing.assert_close(rays.xys[0, :, 0, 1], torch.linspace(0.6, -0.9, 3, dtype=F64))
    assert sampler._xy_grid.shape == (3, 4, 2)
    # orthographic: parallel rays, origins on the view plane z = 0
    view_origins = _view_points(cameras, rays.origins)
    torch.testing.assert_close(view_origins[..., 2], torch.zeros(1, 3, 4, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(rays.directions, rays.directions[:, :1, :1].expand_as(rays.directions))


def _full_grid_ray(full, b, xy):
    """Origin and direction of the full-grid ray of camera b whose xys equal ``xy``."""
    match = (full.xys[b] - xy).abs().sum(-1) < 1e-9
    assert int(match.sum()) == 1, "a drawn ray is not on the pixel grid"
    return full.origins[b][match][0], full.directions[b][match][0]


def test_random_pixel_subsets():
    cameras = _cameras(2)
    kw = dict(image_width=5, image_height=4, n_pts_per_ray=3, min_depth=1.0, max_depth=2.0)
    full = NDCMultinomialRaysampler(**kw)(cameras)
    rays = NDCMultinomialRaysampler(**kw, n_rays_per_image=7)(cameras)
    assert rays.origins.shape == (2, 7, 1, 3) and rays.lengths.shape == (2, 7, 1, 3) and rays.xys.shape == (2, 7, 1, 2)
    for b in range(2):
        assert len({tuple(v) for v in rays.xys[b, :, 0].tolist()}) == 7  # without replacement
        for r in range(7):
            origin, direction = _full_grid_ray(full, b, rays.xys[b, r, 0])
            torch.testing.assert_close(rays.origins[b, r, 0], origin)
            torch.testing.assert_close(rays.directions[b, r, 0], direction)
    # more rays than pixels: with replacement
    assert NDCMultinomialRaysampler(**kw, n_rays_per_image=30)(cameras).xys.shape == (2, 30, 1, 2)


def test_mask_sampling():
    cameras = _cameras(2)
    kw = dict(image_width=5, image_height=4, n_pts_per_ray=2, min_depth=1.0, max_depth=2.0)
    mask = torch.zeros(2, 4, 5, dtype=torch.bool)
    mask[0, 1:3, 1:4] = True  # 6 pixels
    mask[1, 0, :] = True  # 5 pixels
    sampler = NDCMultinomialRaysampler(**kw)
    full = sampler(cameras)
    rays = sampler(cameras, mask=mask)
    assert rays.xys.shape == (2, 5, 1, 2)  # as many rays as the smallest mask has pixels
    for b in range(2):
        allowed = {tuple(v) for v in full.xys[b][mask[b]].tolist()}
        drawn = [tuple(v) for v in rays.xys[b, :, 0].tolist()]
        assert set(drawn) <= allowed and len(set(drawn)) == 5
    assert sampler(cameras, mask=mask.float(), n_rays_per_image=3).xys.shape == (2, 3, 1, 2)
    with pytest.raises(ValueError, match="mask must have shape"):
        sampler(cameras, mask=mask[:, :3])
    with pytest.raises(ValueError, match="no non-zero"):
        sampler(cameras, mask=torch.zeros(2, 4, 5))


def test_stratified_sampling():
    cameras = _cameras(2)
    kw = dict(image_width=3, image_height=2, n_pts_per_ray=6, min_depth=1.0, max_depth=3.5)
    centres = torch.linspace(1.0, 3.5, 6, dtype=F64)
    mids = (centres[1:] + centres[:-1]) / 2
    lower, upper = torch.cat((centres[:1], mids)), torch.cat((mids, centres[-1:]))
    sampler = NDCMultinomialRaysampler(**kw, stratified_sampling=True)
    a, b = sampler(cameras).lengths, sampler(cameras).lengths
    for lengths in (a, b):
        assert bool(((lengths >= lower) & (lengths <= upper)).all())
        assert bool((lengths.diff(dim=-1) >= 0).all())
    assert not torch.equal(a, b) and not torch.equal(a, centres.expand_as(a))
    # per-ray draws, and the flag of forward overrides the constructor's
    assert not torch.equal(a[0, 0, 0], a[0, 0, 1])
    torch.testing.assert_close(sampler(cameras, stratified_sampling=False).lengths, centres.expand_as(a))
    plain = NDCMultinomialRaysampler(**kw)
    assert not torch.equal(plain(cameras, stratified_sampling=True).lengths, centres.expand_as(a))
    # forward overrides of depths and counts
    over = plain(cameras, min_depth=2.0, max_depth=3.0, n_pts_per_ray=3).lengths
    torch.testing.assert_close(over, torch.tensor([2.0, 2.5, 3.0], dtype=F64).expand(2, 2, 3, 3))
    assert plain(cameras, n_pts_per_ray=0).lengths.shape == (2, 2, 3, 0)


def test_unit_directions():
    cameras = _cameras(2)
    rays = NDCMultinomialRaysampler(image_width=4, image_height=3, n_pts_per_ray=2, min_depth=1.0, max_depth=2.0,
                                    unit_directions=True)(cameras)
    torch.testing.assert_close(rays.directions.norm(dim=-1), torch.ones(2, 3, 4, dtype=F64))


@pytest.mark.parametrize("sampler_cls", ["multinomial", "montecarlo"])
def test_n_rays_total_heterogeneous(sampler_cls):
    cameras = _cameras(3)
    if sampler_cls == "multinomial":
        sampler = NDCMultinomialRaysampler(image_width=5, image_height=4, n_pts_per_ray=3, min_depth=1.0,
                                           max_depth=2.0, n_rays_total=11)
        shape = (11, 1, 1)
    else:
        sampler = MonteCarloRaysampler(-1.0, 1.0, -0.5, 0.5, None, 3, 1.0, 2.0, n_rays_total=11)
        shape = (11, 1)
    rays = sampler(cameras)
    assert isinstance(rays, HeterogeneousRayBundle)
    assert rays.origins.shape == (*shape, 3) and rays.lengths.shape == (*shape, 3) and rays.xys.shape == (*shape, 2)
    assert int(rays.camera_counts.sum()) == 11 and bool((rays.camera_ids.diff() > 0).all())
    centres = cameras.get_camera_center()
    ray_camera = torch.repeat_interleave(rays.camera_ids, rays.camera_counts)  # camera of each packed ray
    torch.testing.assert_close(rays.origins.reshape(11, 3), centres[ray_camera])
    # each ray goes through its xy in its own camera
    points = ray_bundle_to_ray_points(rays).reshape(11, 3, 3)
    for r in range(11):
        cam = cameras[int(ray_camera[r])]
        ndc = cam.transform_points(points[r][None])[0, :, :2]
        torch.testing.assert_close(ndc, rays.xys.reshape(11, 2)[r].expand(3, 2))


def test_montecarlo_rays():
    cameras = _cameras(2)
    rays = MonteCarloRaysampler(-0.5, 0.25, -1.0, 0.75, 40, 4, 1.0, 3.0)(cameras)
    assert rays.origins.shape == (2, 40, 3) and rays.lengths.shape == (2, 40, 4) and rays.xys.shape == (2, 40, 2)
    x, y = rays.xys[..., 0], rays.xys[..., 1]
    assert bool(((x >= -0.5) & (x <= 0.25) & (y >= -1.0) & (y <= 0.75)).all())
    assert x.std() > 0.1 and y.std() > 0.2
    points = ray_bundle_to_ray_points(rays)  # (2, 40, 4, 3)
    torch.testing.assert_close(_view_points(cameras, points)[..., 2], rays.lengths)
    ndc = cameras.transform_points(points.reshape(2, -1, 3)).reshape(2, 40, 4, 3)[..., :2]
    torch.testing.assert_close(ndc, rays.xys[:, :, None].expand(-1, -1, 4, -1))
    with pytest.raises(ValueError, match="exactly one"):
        MonteCarloRaysampler(-1.0, 1.0, -1.0, 1.0, 5, 4, 1.0, 3.0, n_rays_total=3)(cameras)


def test_deprecated_aliases():
    cameras = _cameras(1)
    with pytest.warns(PendingDeprecationWarning, match="NDCMultinomialRaysampler"):
        old = NDCGridRaysampler(image_width=4, image_height=3, n_pts_per_ray=2, min_depth=1.0, max_depth=2.0)
    new = NDCMultinomialRaysampler(image_width=4, image_height=3, n_pts_per_ray=2, min_depth=1.0, max_depth=2.0)
    torch.testing.assert_close(old(cameras).directions, new(cameras).directions)
    with pytest.warns(PendingDeprecationWarning, match="MultinomialRaysampler"):
        grid = GridRaysampler(-1.0, 1.0, -1.0, 1.0, 3, 3, 2, 1.0, 2.0)
    assert isinstance(grid, MultinomialRaysampler) and grid(cameras).xys.shape == (1, 3, 3, 2)


def test_bad_input():
    kw = dict(image_width=4, image_height=3, n_pts_per_ray=2, min_depth=1.0, max_depth=2.0)
    with pytest.raises(ValueError, match="cannot both"):
        NDCMultinomialRaysampler(**kw, n_rays_per_image=2, n_rays_total=3)(_cameras(1))
    with pytest.raises(ValueError, match="image_width"):
        NDCMultinomialRaysampler(**{**kw, "image_width": 0})
    with pytest.raises(ValueError, match="n_pts_per_ray"):
        NDCMultinomialRaysampler(**{**kw, "n_pts_per_ray": -1})
    with pytest.raises(ValueError, match="CamerasBase"):
        NDCMultinomialRaysampler(**kw)(torch.eye(3))


def test_float32_cameras_give_float32_rays():
    R, T = look_at_view_transform(3.0, 0.0, 0.0)
    rays = NDCMultinomialRaysampler(image_width=3, image_height=2, n_pts_per_ray=2, min_depth=1.0,
                                    max_depth=2.0)(FoVPerspectiveCameras(R=R, T=T))
    assert all(t.dtype == torch.float32 for t in rays)
    assert math.isclose(float(rays.xys[0, 0, 0, 0]), 1.5 * (1.0 - 1.0 / 3), rel_tol=1e-6)  # 3 x 2 image: u_x = 1.5


def test_harmonic_embedding_of_no_points():
    from inverse3d.renderer import HarmonicEmbedding

    emb = HarmonicEmbedding(n_harmonic_functions=4)
    assert emb(torch.zeros(0, 3)).shape == (0, 2 * 3 * 4 + 3)
    assert emb(torch.zeros(2, 0, 3)).shape == (2, 0, 27)
