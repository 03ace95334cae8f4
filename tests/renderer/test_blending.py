"""Blending functions against per-pixel loops (tests/reference/shading.py), gradients in float64."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference import shading as ref

from inverse3d.renderer import BlendParams, hard_rgb_blend, sigmoid_alpha_blend, softmax_rgb_blend
from inverse3d.renderer.mesh.rasterizer import Fragments


def random_fragments(N=2, H=3, W=4, K=3, dtype=torch.float64, device="cpu", empty=0.3, sorted_depth=True):
    """Fragments with some empty slots (-1), sorted depths and small signed distances around 0."""
    p2f = torch.randint(0, 10, (N, H, W, K), device=device)
    p2f[torch.rand(N, H, W, K, device=device) < empty] = -1
    zbuf = torch.rand(N, H, W, K, dtype=dtype, device=device) * 5 + 1.5
    if sorted_depth:
        zbuf = zbuf.sort(dim=-1).values
    dists = (torch.rand(N, H, W, K, dtype=dtype, device=device) - 0.5) * 4e-4
    bary = torch.rand(N, H, W, K, 3, dtype=dtype, device=device)
    bary = bary / bary.sum(-1, keepdim=True)
    zbuf = torch.where(p2f < 0, -1.0, zbuf)
    dists = torch.where(p2f < 0, -1.0, dists)
    return Fragments(pix_to_face=p2f, zbuf=zbuf, bary_coords=bary, dists=dists)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(1, 2, 2, 1), (2, 3, 4, 3)])
def test_hard_rgb_blend_matches_loop(device, shape):
    frags = random_fragments(*shape, device=device, empty=0.4)
    colors = torch.rand(*shape, 3, dtype=torch.float64, device=device)
    bg = (0.1, 0.2, 0.3)
    out = hard_rgb_blend(colors, frags, BlendParams(background_color=bg))
    expected = ref.hard_rgb_blend(colors.cpu(), frags.pix_to_face.cpu(), bg)
    assert out.shape == (*shape[:3], 4)
    torch.testing.assert_close(out.cpu(), expected)


def test_hard_rgb_blend_default_and_tensor_background():
    frags = random_fragments(1, 2, 2, 1, empty=0.5)
    frags.pix_to_face[0, 0, 0, 0] = -1
    colors = torch.rand(1, 2, 2, 1, 3, dtype=torch.float64)
    out = hard_rgb_blend(colors, frags)  # PyTorch3D's old two-argument call: white background
    assert out[0, 0, 0].tolist() == [1.0, 1.0, 1.0, 0.0]
    out = hard_rgb_blend(colors, frags, BlendParams(background_color=torch.tensor([0.0, 0.5, 1.0])))
    assert out[0, 0, 0].tolist() == [0.0, 0.5, 1.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sigma", [1e-4, 3e-5])
def test_sigmoid_alpha_blend_matches_loop(device, sigma):
    frags = random_fragments(2, 3, 4, 3, device=device)
    colors = torch.rand(2, 3, 4, 3, 3, dtype=torch.float64, device=device)
    out = sigmoid_alpha_blend(colors, frags, BlendParams(sigma=sigma))
    expected = ref.sigmoid_alpha_blend(colors.cpu(), frags.pix_to_face.cpu(), frags.dists.cpu(), sigma)
    torch.testing.assert_close(out.cpu(), expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("gamma", [1e-4, 1e-2, 0.5])
def test_softmax_rgb_blend_matches_loop(device, gamma):
    frags = random_fragments(2, 3, 4, 3, device=device)
    colors = torch.rand(2, 3, 4, 3, 3, dtype=torch.float64, device=device)
    params = BlendParams(sigma=1e-4, gamma=gamma, background_color=(0.2, 0.4, 0.6))
    out = softmax_rgb_blend(colors, frags, params)
    expected = ref.softmax_rgb_blend(
        colors.cpu(), frags.pix_to_face.cpu(), frags.dists.cpu(), frags.zbuf.cpu(), 1e-4, gamma, (0.2, 0.4, 0.6)
    )
    torch.testing.assert_close(out.cpu(), expected)


def test_softmax_rgb_blend_tensor_depth_range():
    frags = random_fragments(2, 2, 3, 2)
    colors = torch.rand(2, 2, 3, 2, 3, dtype=torch.float64)
    znear, zfar = torch.tensor([0.5, 1.0], dtype=torch.float64), torch.tensor([10.0, 20.0], dtype=torch.float64)
    params = BlendParams(gamma=1e-2)
    out = softmax_rgb_blend(colors, frags, params, znear=znear, zfar=zfar)
    expected = ref.softmax_rgb_blend(
        colors, frags.pix_to_face, frags.dists, frags.zbuf, params.sigma, params.gamma, (1, 1, 1), znear, zfar
    )
    torch.testing.assert_close(out, expected)


def test_empty_pixels_are_background_with_zero_alpha():
    frags = random_fragments(1, 2, 2, 2, empty=1.0)
    colors = torch.rand(1, 2, 2, 2, 3, dtype=torch.float64)
    params = BlendParams(background_color=(0.3, 0.3, 0.3))
    for out in (hard_rgb_blend(colors, frags, params), softmax_rgb_blend(colors, frags, params)):
        torch.testing.assert_close(out[..., :3], torch.full_like(out[..., :3], 0.3))
        assert (out[..., 3] == 0).all()
    assert (sigmoid_alpha_blend(colors, frags, params)[..., 3] == 0).all()


def test_float32_stays_float32():
    frags = random_fragments(1, 2, 2, 2, dtype=torch.float32)
    colors = torch.rand(1, 2, 2, 2, 3)
    for fn in (hard_rgb_blend, sigmoid_alpha_blend, softmax_rgb_blend):
        assert fn(colors, frags, BlendParams()).dtype == torch.float32


def test_gradcheck_sigmoid_alpha_blend():
    frags = random_fragments(1, 2, 2, 3)
    dists = frags.dists.clone().requires_grad_(True)
    colors = torch.rand(1, 2, 2, 3, 3, dtype=torch.float64, requires_grad=True)

    def fn(dists, colors):
        f = Fragments(frags.pix_to_face, frags.zbuf, frags.bary_coords, dists)
        return sigmoid_alpha_blend(colors, f, BlendParams(sigma=1e-4))

    assert torch.autograd.gradcheck(fn, (dists, colors))


def test_gradcheck_softmax_rgb_blend():
    frags = random_fragments(1, 2, 2, 3)
    dists = frags.dists.clone().requires_grad_(True)
    zbuf = frags.zbuf.clone().requires_grad_(True)
    colors = torch.rand(1, 2, 2, 3, 3, dtype=torch.float64, requires_grad=True)

    def fn(dists, zbuf, colors):
        f = Fragments(frags.pix_to_face, zbuf, frags.bary_coords, dists)
        return softmax_rgb_blend(colors, f, BlendParams(sigma=1e-4, gamma=1e-1, background_color=(0.1, 0.2, 0.3)))

    assert torch.autograd.gradcheck(fn, (dists, zbuf, colors))


def test_fully_covered_pixel_has_finite_gradient():
    # A fragment deep inside a face has prob == 1 exactly: prod(1 - prob) hits 0, gradients must stay finite.
    p2f = torch.zeros(1, 1, 1, 2, dtype=torch.long)
    dists = torch.tensor([[[[-1.0, -1e-5]]]], dtype=torch.float64, requires_grad=True)
    frags = Fragments(p2f, torch.ones(1, 1, 1, 2, dtype=torch.float64), torch.rand(1, 1, 1, 2, 3), dists)
    out = sigmoid_alpha_blend(torch.ones(1, 1, 1, 2, 3, dtype=torch.float64), frags, BlendParams())
    out[..., 3].sum().backward()
    assert torch.isfinite(dists.grad).all()


def test_bad_inputs_raise():
    frags = random_fragments(1, 2, 2, 2)
    with pytest.raises(ValueError, match="colors must have shape"):
        hard_rgb_blend(torch.rand(1, 2, 2, 3), frags)
    with pytest.raises(ValueError, match="background_color"):
        hard_rgb_blend(torch.rand(1, 2, 2, 2, 3), frags, BlendParams(background_color=(1.0, 1.0)))
    with pytest.raises(ValueError, match="sigma"):
        sigmoid_alpha_blend(torch.rand(1, 2, 2, 2, 3), frags, BlendParams(sigma=0.0))
    with pytest.raises(ValueError, match="gamma"):
        softmax_rgb_blend(torch.rand(1, 2, 2, 2, 3), frags, BlendParams(gamma=-1.0))
