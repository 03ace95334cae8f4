"""Splatting blend (SplatterBlender, SplatterPhongShader) against a per-pixel loop, gradients, and behaviour."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from reference.splatter import splat_blend_naive

from inverse3d.renderer import (AmbientLights, BlendParams, FoVPerspectiveCameras, HardPhongShader, Materials,
                                MeshRasterizer, MeshRenderer, RasterizationSettings, SplatterBlender,
                                SplatterPhongShader, TexturesVertex, look_at_view_transform)
from inverse3d.renderer.splatter_blend import occlusion_layers, splat_blend, splat_kernel_normalization
from inverse3d.structures import Meshes

F64 = torch.float64


def _inputs(N=2, H=4, W=5, K=3, seed=0, dtype=F64, jitter=0.2):
    """Fragments near pixel centres (unflipped screen coordinates), random depths, some background."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.arange(H, dtype=dtype)[:, None].expand(H, W)
    cols = torch.arange(W, dtype=dtype)[None, :].expand(H, W)
    centre = torch.stack([-(cols + 0.5), -(rows + 0.5)], dim=-1)  # (H, W, 2)
    xy = centre[None, :, :, None] + (torch.rand(N, H, W, K, 2, generator=g, dtype=dtype) - 0.5) * 2 * jitter
    depth = (torch.rand(N, H, W, K, generator=g, dtype=dtype) * 0.5 + 0.3).sort(dim=-1).values
    coords = torch.cat([xy, depth[..., None]], dim=-1)
    colors = torch.rand(N, H, W, K, 3, generator=g, dtype=dtype)
    mask = torch.rand(N, H, W, K, generator=g) < 0.25
    mask[..., 1:] |= mask[..., :1].clone()  # background stays background further back
    return colors, coords, mask


def test_kernel_normalization():
    # PyTorch3D's values: 0.6503 for sigma 0.5; a tiny sigma keeps only the centre, (1 + 0.05) / 1.
    assert abs(splat_kernel_normalization(0.5) - 0.6503) < 1e-4
    assert abs(splat_kernel_normalization(0.01) - 1.05) < 1e-6
    with pytest.raises(ValueError, match="Only positive standard deviations"):
        splat_kernel_normalization(0.0)


@pytest.mark.parametrize("K,seed", [(1, 0), (3, 1), (4, 2)])
def test_matches_loop_reference(K, seed):
    colors, coords, mask = _inputs(K=K, seed=seed)
    bg = torch.tensor([0.2, 0.3, 0.4], dtype=F64)
    out = splat_blend(colors, coords, mask, 0.5, bg)
    ref = splat_blend_naive(colors, coords, mask, 0.5, bg)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
    assert out.shape == (2, 4, 5, 4)


def test_occlusion_layers_follow_pytorch3ds_window_order():
    # q at the centre of a 3 x 3 image with layers (0.71, 0.8, 1.0); p in direction d has (0.5, 0.7, 0.9): p's
    # middle layer lies on q's top one (1), and seen from p, q's top lies on p's middle layer (-1). The neighbour
    # of direction d for this test is at (row, col) offset (d // 3 - 1, d % 3 - 1), as PyTorch3D's unfold.
    for d in range(9):
        if d == 4:
            continue
        a, b = d // 3 - 1, d % 3 - 1
        depths = torch.zeros(1, 3, 3, 3)
        depths[0, 1, 1] = torch.tensor([0.71, 0.8, 1.0])
        depths[0, 1 + a, 1 + b] = torch.tensor([0.5, 0.7, 0.9])
        layers = occlusion_layers(depths)
        assert int(layers[0, 1, 1, d]) == 1
        assert int(layers[0, 1 + a, 1 + b, 8 - d]) == -1
    # One layer, or equal depths: every splat is on the surface.
    assert (occlusion_layers(torch.rand(2, 3, 4, 1)) == 0).all()
    assert (occlusion_layers(torch.full((2, 3, 4, 5), 0.1234)) == 0).all()


def test_background_and_opaque_surfaces():
    colors, coords, mask = _inputs(K=2)
    bg = torch.tensor([0.2, 0.3, 0.4], dtype=F64)
    everything_background = torch.ones_like(mask)
    out = splat_blend(colors, coords, everything_background, 0.5, bg)
    torch.testing.assert_close(out, torch.tensor([0.2, 0.3, 0.4, 0.0], dtype=F64).expand_as(out))
    # One flat layer at the pixel centres, one colour: inside the image (all 9 neighbours send, total weight
    # 1.05 > 1, normalised) the colour comes back, alpha 1; on the image border the weights do not reach 1 and
    # are not normalised: the colour fades with the missing neighbours.
    colour = torch.tensor([0.9, 0.1, 0.5], dtype=F64)
    flat = coords.clone()
    flat[..., :2] = torch.floor(coords[..., :2]) + 0.5
    flat[..., 2] = 0.5
    out = splat_blend(colour.expand_as(colors)[..., :1, :], flat[..., :1, :], torch.zeros_like(mask[..., :1]), 0.5, bg)
    inner = out[:, 1:-1, 1:-1]
    torch.testing.assert_close(inner, torch.cat([colour, torch.ones(1, dtype=F64)]).expand_as(inner))
    corner_alpha = 1.05 * sum(math.exp(-(a * a + b * b) / 0.5) for a in (0, 1) for b in (0, 1)) / sum(
        math.exp(-(a * a + b * b) / 0.5) for a in (-1, 0, 1) for b in (-1, 0, 1))
    torch.testing.assert_close(out[:, 0, 0, 3], torch.full((2,), corner_alpha, dtype=F64))


def test_gradcheck():
    colors, coords, mask = _inputs(N=1, H=3, W=3, K=2, seed=3)
    bg = torch.tensor([0.1, 0.2, 0.3], dtype=F64)
    colors.requires_grad_(True)
    coords.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c, p: splat_blend(c, p, mask, 0.5, bg), (colors, coords), fast_mode=True)
    # and the gradients agree with the loop's
    out = splat_blend(colors, coords, mask, 0.5, bg)
    ref = splat_blend_naive(colors, coords, mask, 0.5, bg)
    w = torch.rand(out.shape, dtype=F64)
    g = torch.autograd.grad((out * w).sum(), (colors, coords))
    g_ref = torch.autograd.grad((ref * w).sum(), (colors, coords))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-9)


def _flat_square(dtype=torch.float32):
    verts = torch.tensor([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]], dtype=dtype)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return verts, faces


def _renderer(shader_cls, K=1, size=24, **kwargs):
    R, T = look_at_view_transform(2.0, 0.0, 180.0)  # looking at the square's front (+z towards the camera)
    cameras = FoVPerspectiveCameras(R=R, T=T)
    rasterizer = MeshRasterizer(cameras, RasterizationSettings(image_size=size, faces_per_pixel=K))
    shader = shader_cls(cameras=cameras, lights=AmbientLights(), materials=Materials(),
                        blend_params=BlendParams(sigma=0.5, background_color=(0.0, 0.0, 0.0)), **kwargs)
    return MeshRenderer(rasterizer, shader)


def test_splatter_phong_shader_on_a_flat_square():
    verts, faces = _flat_square()
    colour = torch.tensor([0.8, 0.4, 0.2])
    mesh = Meshes([verts], [faces], textures=TexturesVertex([colour.expand(4, 3)]))
    out = _renderer(SplatterPhongShader)(mesh)
    hard = _renderer(HardPhongShader)(mesh)
    inner = torch.nn.functional.max_pool2d(1 - hard[None, ..., 3], 3, 1, 1)[0] == 0  # 1 pixel from any edge
    assert inner.sum() > 50
    # Away from the edges every splat has the same colour: the image is the hard one.
    torch.testing.assert_close(out[inner], hard[inner], atol=1e-5, rtol=0)
    # Near the edges alpha falls off smoothly into the background.
    edge = (hard[..., 3] == 0) & (out[..., 3] > 0)
    assert edge.any() and (out[..., 3][edge] < 1).all()


def test_splatter_gradients_reach_the_vertices_through_detached_fragments():
    verts, faces = _flat_square()
    verts = verts.clone().requires_grad_(True)
    mesh = Meshes([verts], [faces], textures=TexturesVertex([torch.ones(4, 3)]))
    renderer = _renderer(SplatterPhongShader, K=2)
    frags = renderer.rasterizer(mesh).detach()  # the rasteriser gives no gradient at all
    image = renderer.shader(frags, mesh)
    (g,) = torch.autograd.grad(image[..., 3].sum(), verts)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_splatter_shader_warns_on_sigma_and_needs_cameras():
    verts, faces = _flat_square()
    mesh = Meshes([verts], [faces], textures=TexturesVertex([torch.ones(4, 3)]))
    renderer = _renderer(SplatterPhongShader)
    frags = renderer.rasterizer(mesh)
    with pytest.warns(UserWarning, match="SplatterPhongShader received sigma=0.0001"):
        renderer.shader(frags, mesh, blend_params=BlendParams(sigma=1e-4))
    with pytest.raises(ValueError, match="Cameras must be specified"):
        SplatterPhongShader()(frags, mesh)
    # A blender is made for the fragments' shape, and remade when it changes.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renderer.shader(frags, mesh)
    assert renderer.shader.splatter_blender.input_shape == (1, 24, 24, 1)
    renderer.shader(renderer.rasterizer(mesh, raster_settings=RasterizationSettings(image_size=12)), mesh)
    assert renderer.shader.splatter_blender.input_shape == (1, 12, 12, 1)
    assert isinstance(SplatterBlender((1, 2, 3, 4), "cpu").to("cpu"), SplatterBlender)


def test_splatter_blender_projects_with_the_cameras():
    # SplatterBlender.forward = project the points with transform_points_screen(with_xyflip=False), then
    # splat_blend: pixel-centred world points give the same image as their screen coordinates given directly.
    R, T = look_at_view_transform(2.0, 0.0, 180.0)
    cameras = FoVPerspectiveCameras(R=R, T=T)
    colors, _, mask = _inputs(N=1, H=6, W=6, K=1, dtype=torch.float32)
    ndc = torch.stack(torch.meshgrid(1 - (2 * torch.arange(6) + 1) / 6, 1 - (2 * torch.arange(6) + 1) / 6,
                                     indexing="ij"), dim=-1).flip(-1)  # (row, col) -> (x, y) NDC of centres
    points = cameras.unproject_points(torch.cat([ndc.reshape(-1, 2), torch.full((36, 1), 2.0)], dim=1),
                                      world_coordinates=True, from_ndc=True)
    pts = points.reshape(1, 6, 6, 1, 3)
    out = SplatterBlender((1, 6, 6, 1), "cpu")(colors, pts, cameras, mask, BlendParams(sigma=0.5))
    screen = cameras.transform_points_screen(pts.reshape(1, -1, 3), image_size=(6, 6), with_xyflip=False)
    ref = splat_blend(colors, screen.reshape(1, 6, 6, 1, 3), mask, 0.5, torch.ones(3))
    torch.testing.assert_close(out, ref)
    assert torch.allclose(screen[..., :2].reshape(6, 6, 2), -(torch.stack(torch.meshgrid(
        torch.arange(6.0), torch.arange(6.0), indexing="ij"), -1).flip(-1) + 0.5), atol=1e-4)
    assert not math.isnan(float(out.sum()))
