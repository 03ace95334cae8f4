"""The box fit: the differentiable renderer matches the scene's own, and the fit recovers a perturbed box."""

import math

import pytest
import torch

from inverse3d.datasets.scenes import BOX_BETA, BOX_CENTER, BOX_SIDES, look_at_c2w
from inverse3d.datasets.scenes.sdf_box import box_color, box_sdf, laplace_density, pixel_rays, render_sdf_box
from inverse3d.tasks.nerf.box import box_rays_from_scene, fit_box, render_box_rays


def _rays(size=12, n_views=4, dtype=torch.float32):
    angles = torch.arange(n_views) * 2 * math.pi / n_views + 0.4
    eyes = torch.stack([5 * torch.sin(angles), torch.full_like(angles, 2.5), 5 * torch.cos(angles)], 1)
    c2w = torch.as_tensor(look_at_c2w(eyes.numpy(), (0.0, 0.0, 0.0)), dtype=dtype)
    origins, dirs = pixel_rays(c2w, math.radians(45), size)
    return c2w, origins.reshape(-1, 3), dirs.reshape(-1, 3)


def _render_naive(origin, direction, center, sides, beta, t):
    """One ray, a Python loop over its samples: T and alpha accumulated one interval at a time."""
    color, opacity, trans = torch.zeros(3, dtype=t.dtype), 0.0, 1.0
    for k in range(len(t) - 1):
        p = origin + t[k] * direction
        sigma = float(laplace_density(box_sdf(p, center, sides), beta))
        alpha = 1.0 - math.exp(-sigma * float(t[k + 1] - t[k]))
        color = color + trans * alpha * box_color(p, center)
        opacity += trans * alpha
        trans *= 1.0 - alpha
    return color, opacity


def test_render_box_rays_matches_naive_loop():
    _, origins, dirs = _rays(6, 2, torch.float64)
    center, sides = torch.tensor(BOX_CENTER, dtype=torch.float64), torch.tensor(BOX_SIDES, dtype=torch.float64)
    beta, K = 0.05, 16
    rgb, acc = render_box_rays(origins, dirs, center, sides, beta, K)
    # the same samples (bin centres) and interval ends, recomputed here from the sampling rule
    from inverse3d.datasets.scenes.sdf_box import MARGIN_BETAS
    from inverse3d.tasks.nerf.box import _slab

    m = MARGIN_BETAS * beta
    near, far = _slab(origins, dirs, center - sides / 2 - m, center + sides / 2 + m)
    enter, leave = _slab(origins, dirs, center - sides / 2, center + sides / 2)
    far = torch.where(leave > enter, torch.minimum(far, enter + m), far)
    assert bool((acc > 0.5).any()) and bool((acc < 1e-6).any())  # some rays hit, some miss
    for r in range(origins.shape[0]):
        if far[r] <= near[r]:
            assert float(acc[r]) == 0.0
            continue
        t = near[r] + (far[r] - near[r]) * (torch.arange(K, dtype=torch.float64) + 0.5) / K
        t = torch.cat([t, far[r:r + 1]])
        c, a = _render_naive(origins[r], dirs[r], center, sides, beta, t)
        torch.testing.assert_close(rgb[r], c, atol=1e-9, rtol=1e-9)
        assert abs(float(acc[r]) - a) < 1e-9


def test_render_box_rays_matches_scene_renderer():
    c2w, origins, dirs = _rays(12, 2)
    ours_rgb, ours_acc = render_box_rays(origins, dirs, torch.tensor(BOX_CENTER), torch.tensor(BOX_SIDES), BOX_BETA,
                                         256)
    scene = render_sdf_box(c2w, math.radians(45), 12, n_samples=256).reshape(-1, 4)
    torch.testing.assert_close(ours_acc, scene[:, 3], atol=2e-2, rtol=0)
    torch.testing.assert_close(ours_rgb, scene[:, :3] * scene[:, 3:], atol=2e-2, rtol=0)


def test_gradients_flow_to_center_and_sides():
    _, origins, dirs = _rays(8, 2, torch.float64)
    center = torch.tensor(BOX_CENTER, dtype=torch.float64, requires_grad=True)
    sides = torch.tensor(BOX_SIDES, dtype=torch.float64, requires_grad=True)
    rgb, _ = render_box_rays(origins, dirs, center, sides, 0.1, 32)
    rgb.sum().backward()
    assert center.grad.abs().sum() > 0 and sides.grad.abs().sum() > 0
    fixed = (center.detach().clone(), sides.detach().clone())  # the samples stay put while gradcheck perturbs
    f = lambda c, s: render_box_rays(origins[:20], dirs[:20], c, s, 0.1, 8, sample_box=fixed)[0]
    assert torch.autograd.gradcheck(f, (center.detach().requires_grad_(), sides.detach().requires_grad_()))


def test_fit_recovers_perturbed_box():
    _, origins, dirs = _rays(12, 4)
    truth_c, truth_s = torch.tensor(BOX_CENTER), torch.tensor(BOX_SIDES)
    with torch.no_grad():
        target, _ = render_box_rays(origins, dirs, truth_c, truth_s, BOX_BETA, 128)
    init_c = (truth_c + torch.tensor([0.1, -0.08, 0.06])).tolist()
    init_s = (truth_s + torch.tensor([-0.15, 0.12, 0.1])).tolist()
    r = fit_box(origins, dirs, target, BOX_BETA, init_c, init_s, iterations=120, rays_per_step=256, n_samples=32,
                lr=0.02)
    assert max(abs(a - b) for a, b in zip(r.center, BOX_CENTER)) < 0.01, r.center
    assert max(abs(a - b) for a, b in zip(r.sides, BOX_SIDES)) < 0.01, r.sides
    assert r.losses[-1] < r.losses[0] / 10


def test_fit_on_the_box_scene(tiny_box):
    from inverse3d.datasets.scenes import load_scene

    scene = load_scene(tiny_box, "train", white_background=False)
    assert len(scene) == 4
    o, d, c = box_rays_from_scene(scene)
    r = fit_box(o, d, c, BOX_BETA, (0.15, 0.3, -0.05), (1.85, 1.6, 1.4), iterations=100, rays_per_step=256,
                n_samples=32)
    # 16 x 16 images carry less information than 128 x 128; still close
    assert max(abs(a - b) for a, b in zip(r.center, BOX_CENTER)) < 0.03, r.center
    assert max(abs(a - b) for a, b in zip(r.sides, BOX_SIDES)) < 0.03, r.sides
    with pytest.raises(ValueError, match="white_background=False"):
        box_rays_from_scene(load_scene(tiny_box, "train"))


def test_bad_inputs():
    o = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="colors"):
        fit_box(o, o + 1, torch.zeros(3, 3), 0.01)
    with pytest.raises(ValueError, match="NaN"):
        fit_box(o, o + 1, torch.full((4, 3), float("nan")), 0.01)
    with pytest.raises(ValueError, match=r"\(R, 3\)"):
        render_box_rays(o, torch.zeros(4, 2), torch.zeros(3), torch.ones(3), 0.01)
