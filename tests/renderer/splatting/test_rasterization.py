"""rasterization / render_gaussians against the naive all-pairs loop (values and gradients), gradcheck, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DEVICES
from reference.splatting import rasterize_dense, rasterize_loop

from inverse3d.renderer.splatting import rasterization, spherical_harmonics
from inverse3d.renderer.splatting.sh import sh_basis
from reference.splatting import _sh_loop

F64 = torch.float64


def scene(n: int, n_cams: int, width: int, height: int, seed: int = 0, dtype=F64, sh_k: int | None = None,
          behind: bool = True):
    """Random Gaussians in front of (and some behind) C cameras looking down +z from near the origin."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=dtype) * 0.5
    means[:, 2] += 3.0
    if behind and n > 2:
        means[0, 2] = -1.0  # behind every camera
        means[1, 2] = 0.005  # in front of the camera but before the near plane
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.25 + 0.03
    opacities = torch.rand(n, generator=g, dtype=dtype) * 0.9 + 0.05
    colors = torch.randn(n, sh_k, 3, generator=g, dtype=dtype) * 0.4 if sh_k else torch.rand(n, 3, generator=g,
                                                                                             dtype=dtype)
    viewmats = torch.eye(4, dtype=dtype).repeat(n_cams, 1, 1)
    for c in range(1, n_cams):
        angle = 0.15 * c
        viewmats[c, :3, :3] = torch.tensor([[math.cos(angle), 0, math.sin(angle)], [0, 1, 0],
                                            [-math.sin(angle), 0, math.cos(angle)]], dtype=dtype)
        viewmats[c, :3, 3] = torch.tensor([0.1 * c, -0.05 * c, 0.2], dtype=dtype)
    f = 0.9 * max(width, height)
    Ks = torch.tensor([[f, 0, width / 2 + 0.3], [0, f * 1.05, height / 2 - 0.2], [0, 0, 1]], dtype=dtype)
    return means, quats, scales, opacities, colors, viewmats, Ks.repeat(n_cams, 1, 1)


@pytest.mark.parametrize("mode", ["RGB", "D", "ED", "RGB+D", "RGB+ED"])
def test_render_modes_match_loop(mode):
    means, quats, scales, opac, colors, viewmats, Ks = scene(9, 2, 13, 9)
    bg = torch.rand(2, 3, dtype=F64)
    img, alpha, meta = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 13, 9, backgrounds=bg,
                                     render_mode=mode, tile_size=4, return_median_depth=True)
    ref_img, ref_alpha, ref_median = rasterize_loop(means, quats, scales, opac, colors, viewmats, Ks, 13, 9,
                                                    backgrounds=bg, render_mode=mode)
    assert img.shape == ref_img.shape == (2, 9, 13, {"RGB": 3, "D": 1, "ED": 1}.get(mode, 4))
    assert alpha.shape == (2, 9, 13, 1)
    torch.testing.assert_close(img, ref_img, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(alpha, ref_alpha, atol=1e-12, rtol=0)
    torch.testing.assert_close(meta["render_median_depths"], ref_median, atol=1e-12, rtol=0)
    assert float(alpha.max()) > 0.5  # the scene is visible: the comparison is not between empty images


@pytest.mark.parametrize("n, width, height, tile_size", [(1, 5, 4, 16), (12, 23, 17, 8), (20, 16, 12, 4),
                                                         (15, 16, 16, 2)])
def test_sizes_and_tiles_match_loop(n, width, height, tile_size):
    means, quats, scales, opac, colors, viewmats, Ks = scene(n, 1, width, height, seed=n, behind=n > 2)
    if n == 1:
        means[0] = torch.tensor([0.0, 0.0, 3.0], dtype=F64)
    img, alpha, _ = rasterization(means, quats, scales, opac, colors, viewmats, Ks, width, height,
                                  tile_size=tile_size)
    ref_img, ref_alpha, _ = rasterize_loop(means, quats, scales, opac, colors, viewmats, Ks, width, height)
    torch.testing.assert_close(img, ref_img, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(alpha, ref_alpha, atol=1e-12, rtol=0)


def test_straddling_tile_borders_and_early_termination():
    # opaque Gaussians centred exactly on tile corners, stacked in depth so that pixels terminate (T < 1e-4)
    n = 12
    means = torch.tensor([[x, y, 3.0 + 0.1 * k] for k in range(3) for x in (-0.25, 0.0) for y in (-0.25, 0.0)],
                         dtype=F64)
    quats = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=F64).repeat(n, 1)
    scales = torch.full((n, 3), 0.2, dtype=F64)
    opac = torch.full((n,), 0.999, dtype=F64)  # clamped at 0.99
    colors = torch.rand(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    viewmats = torch.eye(4, dtype=F64)[None]
    Ks = torch.tensor([[[24.0, 0, 8.0], [0, 24.0, 8.0], [0, 0, 1]]], dtype=F64)  # centre on a 4 x 4 tile corner
    img, alpha, meta = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 16, 16, tile_size=4,
                                     return_median_depth=True)
    ref_img, ref_alpha, ref_median = rasterize_loop(means, quats, scales, opac, colors, viewmats, Ks, 16, 16)
    torch.testing.assert_close(img, ref_img, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(alpha, ref_alpha, atol=1e-12, rtol=0)
    torch.testing.assert_close(meta["render_median_depths"], ref_median)
    assert float(1 - alpha.max()) < 1e-3  # some pixels saturate: termination was exercised


def test_gradients_match_loop():
    means, quats, scales, opac, sh, viewmats, Ks = scene(8, 2, 11, 9, seed=5, sh_k=9)
    params = [t.clone().requires_grad_() for t in (means, quats, scales, opac, sh)]
    bg = torch.rand(2, 3, dtype=F64)
    w = torch.randn(2, 9, 11, 4, dtype=F64)
    wa = torch.randn(2, 9, 11, 1, dtype=F64)
    img, alpha, meta = rasterization(*params, viewmats, Ks, 11, 9, sh_degree=2, backgrounds=bg,
                                     render_mode="RGB+ED", tile_size=4)
    meta["means2d"].retain_grad()
    ((img * w).sum() + (alpha * wa).sum()).backward()
    ours = [p.grad for p in params]
    assert meta["means2d"].grad is not None and meta["means2d"].grad.shape == (2, 8, 2)
    assert float(meta["means2d"].grad.abs().sum()) > 0
    ref = [t.clone().requires_grad_() for t in (means, quats, scales, opac, sh)]
    r_img, r_alpha, _ = rasterize_loop(*ref, viewmats, Ks, 11, 9, sh_degree=2, backgrounds=bg,
                                       render_mode="RGB+ED")
    ((r_img * w).sum() + (r_alpha * wa).sum()).backward()
    for name, a, b in zip(("means", "quats", "scales", "opacities", "sh"), ours, [p.grad for p in ref]):
        assert float(b.abs().max()) > 0, name
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-7, msg=name)


def test_gradcheck_tiny():
    means, quats, scales, opac, colors, viewmats, Ks = scene(4, 2, 6, 5, seed=2, behind=False)
    bg = torch.rand(2, 3, dtype=F64)

    def f(m, q, s, o, c):
        img, alpha, _ = rasterization(m, q, s, o, c, viewmats, Ks, 6, 5, backgrounds=bg, render_mode="RGB+D",
                                      tile_size=4)
        return img, alpha

    inputs = [t.clone().requires_grad_() for t in (means, quats, scales, opac, colors)]
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, fast_mode=True)


def test_per_camera_colors_antialiased_and_chunking():
    means, quats, scales, opac, colors, viewmats, Ks = scene(20, 3, 18, 14, seed=7)
    per_cam = torch.rand(3, 20, 2, dtype=F64)
    a = rasterization(means, quats, scales, opac, per_cam, viewmats, Ks, 18, 14)
    b = rasterization(means, quats, scales, opac, per_cam, viewmats, Ks, 18, 14, chunk_elements=64)  # tiny chunks
    torch.testing.assert_close(a[0], b[0])
    for c in range(3):
        one = rasterization(means, quats, scales, opac, per_cam[c], viewmats[c:c + 1], Ks[c:c + 1], 18, 14)
        torch.testing.assert_close(a[0][c:c + 1], one[0])
    aa, aa_alpha, _ = rasterization(means, quats, scales, opac, per_cam, viewmats, Ks, 18, 14,
                                    rasterize_mode="antialiased")
    assert float(aa_alpha.sum()) < float(a[1].sum())  # compensation only lowers opacities


def test_dense_reference_agrees_float32():
    means, quats, scales, opac, colors, viewmats, Ks = scene(60, 1, 40, 24, seed=11, dtype=torch.float32)
    img, alpha, _ = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 40, 24)
    d_img, d_alpha = rasterize_dense(means, quats, scales, opac, colors, viewmats, Ks, 40, 24)
    torch.testing.assert_close(img, d_img, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(alpha, d_alpha, atol=2e-5, rtol=1e-4)


def test_meta_packed_and_culling():
    means, quats, scales, opac, colors, viewmats, Ks = scene(10, 2, 12, 10)
    _, _, meta = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 12, 10)
    assert meta["radii"].shape == (2, 10, 2) and meta["radii"].dtype == torch.int32
    assert (meta["radii"][0, :2] == 0).all()  # behind the camera / before the near plane
    assert meta["means2d"].shape == (2, 10, 2) and meta["depths"].shape == (2, 10)
    assert meta["gaussian_ids"] is None and meta["n_cameras"] == 2 and meta["width"] == 12
    img, alpha, packed = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 12, 10, packed=True)
    visible = (meta["radii"] > 0).all(-1)
    assert packed["means2d"].shape == (int(visible.sum()), 2)
    torch.testing.assert_close(packed["means2d"], meta["means2d"][packed["camera_ids"], packed["gaussian_ids"]])


def test_empty_and_all_culled():
    means, quats, scales, opac, colors, viewmats, Ks = scene(3, 1, 8, 8)
    bg = torch.tensor([[0.2, 0.3, 0.4]], dtype=F64)
    means = means.clone()
    means[:, 2] = -2.0  # all behind
    img, alpha, _ = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 8, 8, backgrounds=bg)
    assert (alpha == 0).all() and torch.allclose(img, bg.expand(64, 3).reshape(1, 8, 8, 3))
    img, alpha, _ = rasterization(means[:0], quats[:0], scales[:0], opac[:0], colors[:0], viewmats, Ks, 8, 8)
    assert img.shape == (1, 8, 8, 3) and (img == 0).all()


def test_spherical_harmonics_basis():
    dirs = torch.nn.functional.normalize(torch.randn(50, 3, dtype=F64), dim=-1)
    coeffs = torch.randn(50, 16, 2, dtype=F64)
    for degree in range(4):
        ours = spherical_harmonics(degree, dirs * 3.0, coeffs)  # directions need not be unit length
        ref = torch.stack([_sh_loop(degree, d, c) for d, c in zip(dirs, coeffs)])
        torch.testing.assert_close(ours, ref)
    # the basis is orthonormal on the sphere: Monte-Carlo estimate of the Gram matrix
    d = torch.nn.functional.normalize(torch.randn(40000, 3, dtype=F64, generator=torch.Generator().manual_seed(0)),
                                      dim=-1)
    b = sh_basis(3, d)
    gram = 4 * math.pi * b.T @ b / d.shape[0]
    torch.testing.assert_close(gram, torch.eye(16, dtype=F64), atol=0.06, rtol=0)



@pytest.mark.parametrize("degree", [0, 1, 3])
def test_spherical_harmonics_per_camera_and_gradcheck(degree):
    """(C, N, 3) directions with (N, K, D) coefficients (the batched-matmul path): values against the loop, and
    gradients of both inputs by gradcheck."""
    g = torch.Generator().manual_seed(3)
    dirs = torch.randn(2, 5, 3, dtype=F64, generator=g)
    coeffs = torch.randn(5, 16, 3, dtype=F64, generator=g)
    ours = spherical_harmonics(degree, dirs, coeffs)
    unit = torch.nn.functional.normalize(dirs, dim=-1)
    ref = torch.stack([torch.stack([_sh_loop(degree, d, c) for d, c in zip(unit[i], coeffs)]) for i in range(2)])
    torch.testing.assert_close(ours, ref)
    inputs = (dirs.clone().requires_grad_(), coeffs.clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda d, c: spherical_harmonics(degree, d, c), inputs)

@pytest.mark.parametrize("device", DEVICES)
def test_device_and_float32(device):
    means, quats, scales, opac, colors, viewmats, Ks = scene(10, 1, 10, 8, dtype=torch.float32)
    args = [t.to(device) for t in (means, quats, scales, opac, colors, viewmats, Ks)]
    img, alpha, _ = rasterization(*args, 10, 8)
    assert img.device.type == device and img.dtype == torch.float32
    ref_img, _, _ = rasterize_loop(*[t.double() for t in (means, quats, scales, opac, colors, viewmats, Ks)], 10, 8)
    torch.testing.assert_close(img.cpu().double(), ref_img, atol=1e-4, rtol=1e-4)


def test_bad_input():
    means, quats, scales, opac, colors, viewmats, Ks = scene(4, 1, 8, 8)
    ok = dict(means=means, quats=quats, scales=scales, opacities=opac, colors=colors, viewmats=viewmats, Ks=Ks,
              width=8, height=8)
    cases = [
        (dict(means=means[:, :2]), "means must have shape"),
        (dict(quats=quats[:3]), "quats must have shape"),
        (dict(opacities=opac[None]), "opacities must have shape"),
        (dict(viewmats=viewmats[:, :3]), "viewmats must have shape"),
        (dict(Ks=Ks.repeat(2, 1, 1)), "Ks must have shape"),
        (dict(means=means.masked_fill(torch.eye(4, 3, dtype=torch.bool), float("nan"))), "means has non-finite"),
        (dict(render_mode="RGBD"), "render_mode must be one of"),
        (dict(width=0), "width must be a positive int"),
        (dict(colors=None), "colors are needed"),
        (dict(sh_degree=2, colors=torch.zeros(4, 4, 3, dtype=F64)), "sh_degree 2 needs"),
        (dict(backgrounds=torch.zeros(1, 4, dtype=F64)), "backgrounds must have shape"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            rasterization(**{**ok, **change})


def test_backward_recomputing_chunks_equals_stored_chunks():
    from inverse3d.renderer.splatting.composite import composite_tiles
    from inverse3d.renderer.splatting.tiles import isect_tiles

    g = torch.Generator().manual_seed(4)
    p = 40
    means2d = (torch.rand(p, 2, generator=g, dtype=F64) * torch.tensor([19.0, 13.0], dtype=F64)).requires_grad_()
    a = torch.rand(p, 1, dtype=F64, generator=g) * 0.5 + 0.1
    conics = torch.cat([a, torch.zeros(p, 1, dtype=F64), a * 1.3], dim=1).requires_grad_()
    covars = torch.cat([1 / a, torch.zeros(p, 1, dtype=F64), 1 / (1.3 * a)], dim=1)
    opac = (torch.rand(p, dtype=F64, generator=g) * 0.9 + 0.05).requires_grad_()
    feats = torch.rand(p, 2, dtype=F64, generator=g).requires_grad_()
    depths = torch.rand(p, dtype=F64, generator=g)
    bins = isect_tiles(means2d.detach(), covars, opac.detach(), depths, torch.zeros(p, dtype=torch.long), 1, 19, 13,
                       4)
    weights = torch.randn(1, 13, 19, 2, dtype=F64, generator=g)
    grads = []
    for store in (1 << 24, 0):
        img, alpha, _ = composite_tiles(means2d, conics, opac, feats, bins, 19, 13, chunk_elements=300,
                                        store_elements=store)  # 300 entries: one tile per group, short chunks
        grads.append(torch.autograd.grad((img * weights).sum() + alpha.sum(), (means2d, conics, opac, feats)))
    full, _, _ = composite_tiles(means2d, conics, opac, feats, bins, 19, 13)
    torch.testing.assert_close(img, full)
    for x, y in zip(*grads):
        assert float(x.abs().max()) > 0
        torch.testing.assert_close(x, y, atol=1e-12, rtol=1e-10)
