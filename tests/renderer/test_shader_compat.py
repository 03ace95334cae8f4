"""PyTorch3D's other shaders: SoftDepthShader (against a loop, gradients), TexturedSoftPhongShader, and the error
every shader that needs cameras raises without them."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.renderer import (BlendParams, FoVPerspectiveCameras, HardDepthShader, HardFlatShader,
                                HardGouraudShader, HardPhongShader, PerspectiveCameras, SoftDepthShader,
                                SoftGouraudShader, SoftPhongShader, SplatterPhongShader, TexturedSoftPhongShader,
                                TexturesVertex)
from inverse3d.renderer.mesh.rasterizer import Fragments
from inverse3d.structures import Meshes

F64 = torch.float64


def tiny_mesh():
    """Two triangles of a bent quad with vertex colours."""
    verts = torch.tensor([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.2], [1.0, 1.0, 0.0], [-1.0, 1.0, -0.3]], dtype=F64)
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=F64)
    return Meshes([verts], [torch.tensor([[0, 2, 1], [0, 3, 2]])], textures=TexturesVertex([colors]))


def tiny_fragments(N=1, H=2, W=3, K=2, num_faces=2, seed=0):
    """Random fragments of N images (image n pointing at mesh n's faces), some empty, depths sorted."""
    g = torch.Generator().manual_seed(seed)
    p2f = torch.randint(0, num_faces, (N, H, W, K), generator=g) + (torch.arange(N) * num_faces).view(N, 1, 1, 1)
    p2f[torch.rand(N, H, W, K, generator=g) < 0.25] = -1
    p2f[0, 0, 0] = torch.arange(K) % num_faces
    bary = torch.rand(N, H, W, K, 3, generator=g, dtype=F64) + 0.1
    zbuf = (torch.rand(N, H, W, K, generator=g, dtype=F64) + 2.0).sort(-1).values
    dists = (torch.rand(N, H, W, K, generator=g, dtype=F64) - 0.5) * 2e-2
    return Fragments(p2f, zbuf, bary / bary.sum(-1, keepdim=True), dists)


def camera():
    return FoVPerspectiveCameras(R=torch.eye(3, dtype=F64)[None], T=torch.tensor([[0.1, -0.2, 3.0]], dtype=F64))


def soft_depth_naive(pix_to_face, zbuf, dists, sigma, zfar):
    """Front to back, each fragment takes what its coverage adds to the covered share (capped at 1); zfar gets
    the rest."""
    N, H, W, K = pix_to_face.shape
    out = torch.zeros(N, H, W, 1, dtype=zbuf.dtype)
    for n in range(N):
        far = float(zfar[n]) if torch.is_tensor(zfar) else float(zfar)
        for y in range(H):
            for x in range(W):
                covered, depth = 0.0, 0.0
                for k in range(K):
                    p = 0.0 if int(pix_to_face[n, y, x, k]) < 0 else 1.0 / (1.0 + math.exp(float(dists[n, y, x, k]) / sigma))
                    depth += (min(1.0, covered + p) - min(1.0, covered)) * float(zbuf[n, y, x, k])
                    covered += p
                depth += (1.0 - min(1.0, covered)) * far
                out[n, y, x, 0] = depth
    return out


@pytest.mark.parametrize("K", [1, 3])
def test_soft_depth_matches_loop(K):
    frags = tiny_fragments(N=2, H=3, W=2, K=K)
    mesh = tiny_mesh().extend(2)
    cams = FoVPerspectiveCameras(zfar=torch.tensor([20.0, 40.0]), R=torch.eye(3, dtype=F64).expand(2, 3, 3),
                                 T=torch.tensor([[0.0, 0.0, 3.0]] * 2, dtype=F64))
    sigma = 5e-3
    out = SoftDepthShader(blend_params=BlendParams(sigma=sigma))(frags, mesh, cameras=cams)
    expected = soft_depth_naive(frags.pix_to_face, frags.zbuf, frags.dists, sigma, torch.tensor([20.0, 40.0]))
    torch.testing.assert_close(out, expected)
    # zfar given to forward wins over the cameras'; a camera without zfar gives 100 (as PyTorch3D).
    out = SoftDepthShader(blend_params=BlendParams(sigma=sigma))(frags, mesh, cameras=cams, zfar=7.0)
    torch.testing.assert_close(out, soft_depth_naive(frags.pix_to_face, frags.zbuf, frags.dists, sigma, 7.0))
    plain = PerspectiveCameras(R=torch.eye(3)[None].expand(2, 3, 3), T=torch.tensor([[0.0, 0.0, 3.0]] * 2))
    out = SoftDepthShader(blend_params=BlendParams(sigma=sigma))(frags, mesh, cameras=plain)
    torch.testing.assert_close(out, soft_depth_naive(frags.pix_to_face, frags.zbuf, frags.dists, sigma, 100.0))


def test_soft_depth_gradcheck_and_errors():
    frags = tiny_fragments(H=2, W=2, K=2)
    mesh = tiny_mesh()

    def fn(zbuf, dists):
        f = Fragments(frags.pix_to_face, zbuf, frags.bary_coords, dists)
        return SoftDepthShader(cameras=camera(), blend_params=BlendParams(sigma=1e-2))(f, mesh)

    inputs = (frags.zbuf.clone().requires_grad_(True), frags.dists.clone().requires_grad_(True))
    assert torch.autograd.gradcheck(fn, inputs)
    with pytest.raises(ValueError, match="SoftDepthShader requires Fragments.dists to be present."):
        SoftDepthShader(cameras=camera())(Fragments(frags.pix_to_face, frags.zbuf, frags.bary_coords, None), mesh)


CAMERA_SHADERS = [HardDepthShader, HardFlatShader, HardGouraudShader, HardPhongShader, SoftDepthShader,
                  SoftGouraudShader, SoftPhongShader, SplatterPhongShader]


@pytest.mark.parametrize("shader_cls", CAMERA_SHADERS, ids=lambda c: c.__name__)
def test_shaders_that_need_cameras_raise_pytorch3ds_error(shader_cls):
    frags, mesh = tiny_fragments(), tiny_mesh()
    shader = shader_cls()
    assert shader.cameras is None
    with pytest.raises(ValueError, match="Cameras must be specified either at initialization"):
        shader(frags, mesh)
    with pytest.raises(ValueError, match="Cameras must be"):
        shader._get_cameras()
    assert shader._get_cameras(cameras=camera()) is not None


def test_textured_soft_phong_shader_is_a_deprecated_soft_phong_shader():
    with pytest.warns(PendingDeprecationWarning, match="TexturedSoftPhongShader is now deprecated"):
        shader = TexturedSoftPhongShader(cameras=camera(), blend_params=BlendParams(sigma=1e-3))
    assert type(shader) is SoftPhongShader and shader.blend_params.sigma == 1e-3
    frags, mesh = tiny_fragments(), tiny_mesh()
    torch.testing.assert_close(shader(frags, mesh),
                               SoftPhongShader(cameras=camera(), blend_params=BlendParams(sigma=1e-3))(frags, mesh))
