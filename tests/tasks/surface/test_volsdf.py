"""VolSDF: the Laplace-CDF density against the formula, its gradients, and the rendering of rays through an SDF
against a loop over samples."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.tasks.surface.render import SurfaceModel, SurfaceOptions, render_rays
from inverse3d.tasks.surface.volsdf import LaplaceDensity, laplace_cdf, volsdf_density
from tests.reference import surface as ref

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("device", DEVICES)
def test_density_matches_the_formula(shape, device):
    torch.manual_seed(0)
    sdf = torch.randn(shape, dtype=torch.float64, device=device) * 0.3
    for beta in (0.01, 0.1, 0.5):
        got = volsdf_density(sdf, beta)
        torch.testing.assert_close(got.cpu(), ref.volsdf_density(sdf.cpu(), beta), rtol=1e-12, atol=1e-12)
    # alpha given explicitly, and the surface value alpha / 2
    torch.testing.assert_close(volsdf_density(sdf, 0.1, alpha=3.0).cpu(), ref.volsdf_density(sdf.cpu(), 0.1, 3.0))
    assert float(volsdf_density(torch.zeros(1, dtype=torch.float64), 0.2)) == pytest.approx(2.5)


def test_laplace_cdf_limits_and_no_overflow():
    s = torch.tensor([-1e6, -50.0, 0.0, 50.0, 1e6], dtype=torch.float64)
    out = laplace_cdf(s, 1e-3)
    assert torch.isfinite(out).all()
    assert out.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])
    assert bool((laplace_cdf(torch.linspace(-1, 1, 101), 0.1).diff() >= 0).all())  # a CDF: non-decreasing


def test_gradcheck_in_sdf_and_beta():
    torch.manual_seed(1)
    sdf = (torch.randn(6, dtype=torch.float64) * 0.2).requires_grad_(True)
    sdf.data[0] = 0.0  # the kink of |s|: both sides have slope 1 / (2 beta)
    beta = torch.tensor(0.15, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, b: volsdf_density(f, b), (sdf, beta))
    # the derivative at 0 is alpha / (2 beta) = 1 / (2 beta^2), not 0
    f0 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(volsdf_density(f0, 0.15).sum(), f0)
    assert float(g) == pytest.approx(-1 / (2 * 0.15**2))


def test_laplace_density_module():
    learned = LaplaceDensity(0.1)
    fixed = LaplaceDensity(0.1, learnable=False)
    assert [n for n, _ in learned.named_parameters()] == ["beta_param"] and not list(fixed.parameters())
    assert float(learned.beta.detach()) == pytest.approx(0.1) and float(fixed.beta) == pytest.approx(0.1)
    sdf = torch.linspace(-0.3, 0.3, 9)
    torch.testing.assert_close(learned(sdf).detach(), ref.volsdf_density(sdf, float(learned.beta.detach())))
    with torch.no_grad():
        learned.beta_param.fill_(-1.0)  # |param| + beta_min: always positive
    assert float(learned.beta.detach()) > 0
    assert "beta_param" in fixed.state_dict()  # a fixed beta is saved with the checkpoint too


@pytest.mark.parametrize("bad", [dict(beta=0.0), dict(beta=-1.0), dict(beta=float("nan")),
                                 dict(beta=0.1, beta_min=0.2)])
def test_bad_beta(bad):
    with pytest.raises(ValueError, match="beta"):
        LaplaceDensity(**bad)


def _sphere_model(method: str, n_samples: int = 12, skip_weight: float = 0.0) -> SurfaceModel:
    torch.manual_seed(0)
    opts = SurfaceOptions(method=method, sdf="mlp", mlp_layers=1, mlp_width=4, feature_dim=3, appearance_width=8,
                          appearance_layers=1, n_samples=n_samples, n_importance=0, beta=0.05, init_s=30.0,
                          skip_weight=skip_weight)
    model = SurfaceModel(opts, ([-1.0] * 3, [1.0] * 3), 1.0, 5.0)
    model.sdf = ref.SphereSDF(0.6)
    return model


@pytest.mark.parametrize("method", ["volsdf", "neus"])
def test_render_rays_matches_a_loop_over_samples(method):
    model = _sphere_model(method)
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.3, 0.2, 3.0], [0.0, 0.9, 3.0], [3.0, 3.0, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.1, -0.05, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0]])
    bg = torch.tensor([0.2, 0.4, 0.6])
    out = render_rays(model, origins, directions, background=bg)
    from inverse3d.renderer.implicit.utils import ray_box_range

    enter, leave = ray_box_range(origins, directions, model.bounds_lo, model.bounds_hi, 1.0, 5.0)
    S = model.options.n_samples
    for r in range(4):
        edges = torch.linspace(float(enter[r]), float(leave[r]), S + 1)
        t = 0.5 * (edges[1:] + edges[:-1])
        color, depth, opacity = ref.render_ray_loop(model, origins[r], directions[r], t, float(leave[r]), bg)
        torch.testing.assert_close(out["rgb"][r], color.float(), atol=2e-5, rtol=1e-5)
        assert float(out["depth"][r]) == pytest.approx(depth, abs=1e-4)
        assert float(out["opacity"][r]) == pytest.approx(opacity, abs=1e-5)
    assert float(out["opacity"][0]) > 0.99 and float(out["opacity"][3]) == 0.0  # hits / misses the box
    torch.testing.assert_close(out["rgb"][3], bg)
    # the composited normal of the central ray is the sphere's, facing the camera (+z)
    n = out["normal"][0] / out["normal"][0].norm()
    assert float(n[2]) > 0.99
    # the gradients returned for the eikonal term are the sphere's unit gradients
    assert out["gradients"].shape == (4 * S, 3)
    torch.testing.assert_close(out["gradients"].norm(dim=-1), torch.ones(4 * S), atol=1e-5, rtol=0)


def test_skipping_low_weight_samples():
    """VolSDF's skip_weight: samples of first-pass weight below it are not re-evaluated; the image changes by less
    than their summed weight, depth and opacity not at all (their first-pass SDF is composited), and the skipped
    samples are those in empty space and hidden behind the surface."""
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.3, 0.2, 3.0], [0.0, 0.9, 3.0], [0.5, 0.1, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.1, -0.05, -1.0], [0.0, 0.0, -1.0], [0.0, 0.05, -1.0]])
    full = render_rays(_sphere_model("volsdf", 32), origins, directions)
    model = _sphere_model("volsdf", 32, skip_weight=1e-3)
    out = render_rays(model, origins, directions)
    torch.testing.assert_close(out["opacity"], full["opacity"])
    torch.testing.assert_close(out["depth"], full["depth"])
    torch.testing.assert_close(out["sdf"], full["sdf"])
    assert float((out["rgb"] - full["rgb"]).abs().max()) < 32 * 1e-3
    assert out["gradients"].shape[0] < 0.4 * 4 * 32  # most samples skipped
    # with importance samples they are all evaluated, and training still reaches the SDF through the kept ones
    model.options.n_importance = 8
    out = render_rays(model, origins, directions, stratified=True, with_gradients=True)
    assert out["sdf"].shape == (4, 40) and 4 * 8 <= out["gradients"].shape[0] < 4 * 40


def test_depth_of_a_sharp_volsdf_sphere_is_its_surface():
    """With a small beta the expected depth of a central ray is the sphere's front (3 - 0.6), biased by < beta."""
    model = _sphere_model("volsdf", n_samples=400)
    model.density = LaplaceDensity(0.005, learnable=False)
    out = render_rays(model, torch.tensor([[0.0, 0.0, 3.0]]), torch.tensor([[0.0, 0.0, -1.0]]))
    assert float(out["opacity"][0]) == pytest.approx(1.0, abs=1e-4)
    assert abs(float(out["depth"][0]) - 2.4) < 0.01


def test_importance_samples_gather_at_the_surface():
    model = _sphere_model("volsdf", n_samples=16)
    model.options.n_importance = 64
    model.density = LaplaceDensity(0.01, learnable=False)
    torch.manual_seed(0)
    from inverse3d.tasks.surface.render import _importance

    o, d = torch.tensor([[0.0, 0.0, 3.0]]), torch.tensor([[0.0, 0.0, -1.0]])
    edges = torch.linspace(2.0, 4.0, 17)
    t = (0.5 * (edges[1:] + edges[:-1]))[None]
    t_fine = _importance(model, o, d, t, torch.tensor([[4.0]]), torch.ones(1, 1), 64, stratified=True)
    near_surface = ((t_fine - 2.4).abs() < 0.15).float().mean()
    assert float(near_surface) > 0.8


def test_render_rays_bad_shapes():
    model = _sphere_model("volsdf")
    with pytest.raises(ValueError, match="origins and directions"):
        render_rays(model, torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="origins and directions"):
        render_rays(model, torch.zeros(4, 2), torch.zeros(4, 2))


def test_train_step_moves_beta_and_sdf():
    """One backward pass through render_rays reaches beta, the SDF network and the appearance network."""
    torch.manual_seed(0)
    opts = SurfaceOptions(method="volsdf", sdf="hashgrid", hash_levels=2, hash_log2_size=8, hash_finest=16,
                          hash_hidden=8, feature_dim=2, appearance_width=8, n_samples=8, n_importance=4)
    model = SurfaceModel(opts, ([-1.0] * 3, [1.0] * 3), 1.0, 5.0)
    o = torch.tensor([[0.0, 0.0, 3.0]]).repeat(8, 1)
    d = torch.cat([torch.randn(8, 2) * 0.1, -torch.ones(8, 1)], 1)
    out = render_rays(model, o, d, stratified=True, with_gradients=True)
    from inverse3d.tasks.surface.losses import eikonal_loss

    (out["rgb"].sum() + eikonal_loss(out["gradients"])).backward()
    assert model.density.beta_param.grad is not None and math.isfinite(float(model.density.beta_param.grad))
    assert model.sdf.encoding.table.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.appearance.parameters())
