"""render_gaussians / GaussianRasterizer with our cameras, and the camera conversion to gsplat's form."""

from __future__ import annotations

import pytest
import torch

from inverse3d.renderer import FoVPerspectiveCameras, PerspectiveCameras, look_at_view_transform
from inverse3d.renderer.splatting import (GaussianRasterizationSettings, GaussianRasterizer, cameras_from_viewmats,
                                          rasterization, render_gaussians, viewmats_from_cameras)
from inverse3d.structures import Gaussians
from inverse3d.structures.gaussians import rgb_to_sh

F64 = torch.float64


def cameras(kind: str):
    R, T = look_at_view_transform(dist=3.0, elev=torch.tensor([10.0, -20.0]), azim=torch.tensor([30.0, 200.0]))
    R, T = R.double(), T.double()
    if kind == "fov":
        return FoVPerspectiveCameras(R=R, T=T, fov=torch.tensor([50.0, 35.0], dtype=F64))
    return PerspectiveCameras(R=R, T=T, focal_length=torch.tensor([[2.0, 2.2], [1.5, 1.5]], dtype=F64),
                              principal_point=torch.tensor([[0.1, -0.05], [0.0, 0.2]], dtype=F64))


def project(viewmats, Ks, points):
    x = torch.einsum("cij,nj->cni", viewmats[:, :3, :3], points) + viewmats[:, None, :3, 3]
    uv = torch.einsum("cij,cnj->cni", Ks, x)
    return uv[..., :2] / uv[..., 2:]


@pytest.mark.parametrize("kind", ["fov", "perspective"])
@pytest.mark.parametrize("size", [(20, 30), (32, 24)])
def test_conversion_projects_like_our_cameras_and_round_trips(kind, size):
    cams = cameras(kind)
    viewmats, Ks = viewmats_from_cameras(cams, size)
    assert viewmats.shape == (2, 4, 4) and Ks.shape == (2, 3, 3)
    pts = torch.randn(10, 3, dtype=F64, generator=torch.Generator().manual_seed(0)) * 0.5
    ours = cams.transform_points_screen(pts[None].expand(2, 10, 3), image_size=size)[..., :2]
    torch.testing.assert_close(project(viewmats, Ks, pts), ours)
    back = cameras_from_viewmats(viewmats, Ks, size)
    torch.testing.assert_close(back.transform_points_screen(pts[None].expand(2, 10, 3))[..., :2], ours)
    v2, k2 = viewmats_from_cameras(back, size)
    torch.testing.assert_close(v2, viewmats)
    torch.testing.assert_close(k2, Ks)
    # and the other way round: from gsplat cameras to ours and back
    v3, k3 = viewmats_from_cameras(cameras_from_viewmats(viewmats, Ks, torch.tensor([size, size])), size)
    torch.testing.assert_close(v3, viewmats)


def test_render_gaussians_puts_a_gaussian_where_the_camera_projects_it():
    cams = cameras("fov")
    centre = torch.tensor([[0.3, -0.2, 0.1]], dtype=F64)
    g = Gaussians(centre, torch.tensor([[1.0, 0, 0, 0]], dtype=F64), torch.full((1, 3), -3.5, dtype=F64),
                  torch.tensor([3.0], dtype=F64), rgb_to_sh(torch.tensor([[1.0, 0.5, 0.0]], dtype=F64))[:, None])
    size = (24, 36)
    out = render_gaussians(g, cams, size, background=(0.0, 0.0, 1.0))
    assert out.images.shape == (2, 24, 36, 3) and out.depths.shape == out.median_depths.shape == (2, 24, 36, 1)
    xy = cams.transform_points_screen(centre[None].expand(2, 1, 3), image_size=size)[:, 0, :2]  # (2, 2) x, y
    for c in range(2):
        peak = int(out.alphas[c, ..., 0].argmax())
        row, col = divmod(peak, 36)
        assert abs(col + 0.5 - float(xy[c, 0])) <= 1.0 and abs(row + 0.5 - float(xy[c, 1])) <= 1.0
        depth = float(cams.get_world_to_view_transform().transform_points(centre[None].expand(2, 1, 3))[c, 0, 2])
        assert abs(float(out.depths[c, row, col, 0]) - depth) < 1e-9
        assert abs(float(out.median_depths[c, row, col, 0]) - depth) < 1e-9
        torch.testing.assert_close(out.images[c, 0, 0], torch.tensor([0.0, 0.0, 1.0], dtype=F64))  # background
    viewmats, Ks = viewmats_from_cameras(cams, size)
    img, alpha, _ = rasterization(g.means, g.quats, g.scales, g.opacities, g.sh, viewmats, Ks, 36, 24, sh_degree=0,
                                  backgrounds=torch.tensor([[0.0, 0, 1]] * 2, dtype=F64))
    torch.testing.assert_close(out.images, img)
    torch.testing.assert_close(out.alphas, alpha)


def test_rasterizer_module_and_gradients():
    g = Gaussians.from_points(torch.randn(30, 3, dtype=F64, generator=torch.Generator().manual_seed(1)) * 0.4,
                              torch.rand(30, 3, dtype=F64), sh_degree=1, opacity=0.6)
    gen = torch.Generator().manual_seed(2)
    g = Gaussians(g.means, torch.randn(30, 4, dtype=F64, generator=gen),
                  g.log_scales + 0.3 * torch.randn(30, 3, dtype=F64, generator=gen), g.opacity_logits, g.sh)
    params = [t.requires_grad_() for t in (g.means, g.quats, g.log_scales, g.opacity_logits, g.sh)]
    r = GaussianRasterizer(cameras("perspective"), GaussianRasterizationSettings(image_size=(16, 20), background=0.5))
    out = r(g)
    (out.images.sum() + out.depths.sum()).backward()
    for p in params:
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().sum()) > 0
    lower = r(g.detach(), sh_degree=0, image_size=8)
    assert lower.images.shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="unknown options"):
        r(g, colour=1)
    with pytest.raises(ValueError, match="no cameras"):
        GaussianRasterizer()(g)


def test_bad_input():
    g = Gaussians.from_points(torch.randn(5, 3))
    cams = cameras("fov")
    with pytest.raises(ValueError, match="must be Gaussians"):
        render_gaussians(torch.zeros(5, 3), cams, 8)
    with pytest.raises(ValueError, match="sh_degree must be in 0..0"):
        render_gaussians(g.to(F64), cams, 8, sh_degree=2)
    with pytest.raises(ValueError, match="background must be"):
        render_gaussians(g.to(F64), cams, 8, background=(1.0, 0.0))
    with pytest.raises(ValueError, match="image_size must be positive"):
        viewmats_from_cameras(cams, (0, 5))
    with pytest.raises(ValueError, match="FoVPerspectiveCameras or PerspectiveCameras"):
        from inverse3d.renderer import FoVOrthographicCameras

        viewmats_from_cameras(FoVOrthographicCameras(), 8)
    with pytest.raises(ValueError, match="viewmats must have shape"):
        cameras_from_viewmats(torch.eye(4), torch.eye(3)[None], 8)
