"""Adaptive density control against the loop reference: statistics, clone / split / prune with the optimiser's
moments carried over, opacity reset, the cap; and the model's conversions."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.tasks.splat.density import (DensityOptions, accumulate_grad2d, append_gaussians, densify_and_prune,
                                           keep_gaussians, reset_opacity)
from inverse3d.tasks.splat.model import BUFFERS, PARAMETERS, GaussianModel, init_from_points

from .reference import accumulate_loop, densify_loop


def random_model(n: int, seed: int, degree: int = 1) -> tuple[GaussianModel, torch.optim.Adam]:
    """Random Gaussians (some tiny, some large, some transparent), random statistics, and an Adam optimiser that
    has taken two steps (so its moments are not zero)."""
    g = torch.Generator().manual_seed(seed)
    model = GaussianModel(n, degree, dtype=torch.float64)
    with torch.no_grad():
        model.means.copy_(torch.randn(n, 3, generator=g, dtype=torch.float64))
        model.quats.copy_(torch.randn(n, 4, generator=g, dtype=torch.float64))
        model.log_scales.copy_(torch.empty(n, 3, dtype=torch.float64).uniform_(-6, 0, generator=g))
        model.opacity_logits.copy_(torch.empty(n, dtype=torch.float64).uniform_(-7, 3, generator=g))
        model.sh_dc.copy_(torch.randn(n, 1, 3, generator=g, dtype=torch.float64))
        model.sh_rest.copy_(torch.randn(*model.sh_rest.shape, generator=g, dtype=torch.float64))
        model.grad2d_count.copy_(torch.randint(0, 4, (n,), generator=g).double())
        model.grad2d_sum.copy_(model.grad2d_count * torch.rand(n, generator=g, dtype=torch.float64) * 6e-4)
        model.max_radii.copy_(torch.rand(n, generator=g, dtype=torch.float64) * 0.3)
    opt = torch.optim.Adam([{"params": [getattr(model, k)], "lr": 0.01, "name": k} for k in PARAMETERS], eps=1e-15)
    for _ in range(2):
        for k in PARAMETERS:
            p = getattr(model, k)
            p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64)
        opt.step()
    return model, opt


def as_list(model: GaussianModel, opt: torch.optim.Adam) -> list[dict]:
    out = []
    for i in range(len(model)):
        d = {}
        for k in PARAMETERS:
            p = getattr(model, k)
            d[k] = p[i].detach().reshape(-1).tolist() if p[i].dim() else float(p[i].detach())
            st = opt.state[p]
            for key, short in (("exp_avg", "m_"), ("exp_avg_sq", "v_")):
                d[short + k] = st[key][i].reshape(-1).tolist() if st[key][i].dim() else float(st[key][i])
        d["opacity_logits"] = float(model.opacity_logits[i].detach())
        d["sum"], d["count"], d["max_radius"] = (float(model.grad2d_sum[i]), float(model.grad2d_count[i]),
                                                 float(model.max_radii[i]))
        out.append(d)
    return out


def assert_matches(model: GaussianModel, opt: torch.optim.Adam, expected: list[dict]) -> None:
    assert len(model) == len(expected)
    got = as_list(model, opt)
    for i, (a, b) in enumerate(zip(got, expected)):
        for key, value in b.items():
            torch.testing.assert_close(torch.tensor(a[key], dtype=torch.float64),
                                       torch.tensor(value, dtype=torch.float64), msg=f"Gaussian {i}, {key}")


@pytest.mark.parametrize("seed, step, cap", [(0, 300, 10_000), (1, 1500, 10_000), (2, 1500, 14), (3, 200, 5)])
def test_densify_and_prune_matches_the_loop(seed, step, cap):
    model, opt = random_model(10, seed)
    options = DensityOptions(start=100, stop=3000, reset_every=1000, max_gaussians=cap, percent_dense=0.01,
                             prune_opacity=0.005, prune_scale=0.1, prune_screen=0.15)
    extent = 4.0
    before = as_list(model, opt)
    torch.manual_seed(seed)
    stats = densify_and_prune(model, opt, options, extent, step)
    grads = [g["sum"] / max(g["count"], 1) for g in before]
    n_split = sum(1 for i, g in enumerate(before) if grads[i] >= options.grad_threshold
                  and max(math.exp(v) for v in g["log_scales"]) > 0.01 * extent)
    torch.manual_seed(seed)
    noise = torch.randn(min(n_split, stats.split), 2, 3, dtype=torch.float64)
    expected = densify_loop(before, options, extent, step, noise)
    assert_matches(model, opt, expected)
    assert stats.after == len(model) <= max(cap, 10)
    assert stats.cloned + stats.split > 0 or cap <= 10
    # the optimiser holds the model's new parameters and keeps its step count; a step runs
    for group, name in zip(opt.param_groups, PARAMETERS):
        assert group["params"][0] is getattr(model, name)
        assert float(opt.state[group["params"][0]]["step"]) == 2
    for name in BUFFERS:
        assert bool((getattr(model, name) == 0).all())
    loss = sum(getattr(model, k).sum() for k in PARAMETERS)
    loss.backward()
    opt.step()


def test_grows_and_prunes_as_documented():
    model, opt = random_model(6, 5)
    with torch.no_grad():
        model.log_scales.copy_(torch.tensor([[-6.0] * 3, [0.0] * 3, [-6.0] * 3, [0.0] * 3, [-6.0] * 3,
                                             [-6.0] * 3], dtype=torch.float64))
        model.opacity_logits.copy_(torch.tensor([2.0, 2.0, 2.0, 2.0, -9.0, 2.0], dtype=torch.float64))
        model.grad2d_count.fill_(1)
        model.grad2d_sum.copy_(torch.tensor([1e-3, 1e-3, 0, 0, 0, 0], dtype=torch.float64))
        model.max_radii.zero_()
    stats = densify_and_prune(model, opt, DensityOptions(), extent=4.0, step=200)
    # 0 cloned (small), 1 split into two (large, removed), 4 pruned (transparent)
    assert (stats.cloned, stats.split, stats.pruned) == (1, 1, 1)
    assert len(model) == 6 - 1 - 1 + 1 + 2


def test_statistics_match_the_loop():
    model, _ = random_model(7, 3)
    sums, counts, maxr = (model.grad2d_sum.tolist(), model.grad2d_count.tolist(), model.max_radii.tolist())
    g = torch.Generator().manual_seed(4)
    for _ in range(3):
        grad = torch.randn(1, 7, 2, generator=g, dtype=torch.float64)
        radii = torch.randint(0, 3, (1, 7), generator=g) * torch.randint(1, 9, (1, 7), generator=g)
        accumulate_grad2d(model, grad, radii, 40, 30)
        accumulate_loop(sums, counts, maxr, grad[0].tolist(), radii[0].tolist(), 40, 30)
    torch.testing.assert_close(model.grad2d_sum, torch.tensor(sums, dtype=torch.float64))
    torch.testing.assert_close(model.grad2d_count, torch.tensor(counts, dtype=torch.float64))
    torch.testing.assert_close(model.max_radii, torch.tensor(maxr, dtype=torch.float64))
    # gsplat's newer (C, N, 2) radii: the larger of the two
    before = model.max_radii.clone()
    accumulate_grad2d(model, torch.zeros(1, 7, 2, dtype=torch.float64), torch.full((1, 7, 2), 400), 40, 30)
    assert bool((model.max_radii == 10.0).all()) and bool((before <= 10).all())


def test_keep_append_and_reset_carry_the_moments():
    model, opt = random_model(5, 7)
    m_before = opt.state[model.means]["exp_avg"].clone()
    keep_gaussians(model, opt, torch.tensor([True, False, True, True, False]))
    torch.testing.assert_close(opt.state[model.means]["exp_avg"], m_before[[0, 2, 3]])
    extra = {k: getattr(model, k).detach()[:2].clone() for k in PARAMETERS}
    append_gaussians(model, opt, extra)
    assert len(model) == 5
    torch.testing.assert_close(opt.state[model.means]["exp_avg"][:3], m_before[[0, 2, 3]])
    assert bool((opt.state[model.means]["exp_avg"][3:] == 0).all())
    assert bool((opt.state[model.sh_rest]["exp_avg_sq"][3:] == 0).all())
    scales_m = opt.state[model.log_scales]["exp_avg"].clone()
    reset_opacity(model, opt, 0.01)
    assert bool((model.opacities <= 0.01 + 1e-12).all())
    assert bool((opt.state[model.opacity_logits]["exp_avg"] == 0).all())
    torch.testing.assert_close(opt.state[model.log_scales]["exp_avg"], scales_m)
    # state_dict round trip into a fresh model of the new size
    fresh = GaussianModel(len(model), 1, dtype=torch.float64)
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh.means, model.means)


def test_never_empties_the_scene_and_rejects_bad_options():
    model, opt = random_model(4, 9)
    with torch.no_grad():
        model.opacity_logits.fill_(-20.0)
        model.opacity_logits[2] = -19.0
        model.grad2d_sum.zero_()
    densify_and_prune(model, opt, DensityOptions(), extent=1.0, step=200)
    assert len(model) == 1 and float(model.opacity_logits.detach()[0]) == -19.0
    with pytest.raises(ValueError, match="--max-gaussians"):
        DensityOptions(max_gaussians=0).check()
    with pytest.raises(ValueError, match="--grad-threshold"):
        DensityOptions(grad_threshold=float("nan")).check()


def test_init_from_points_subsets_and_converts():
    torch.manual_seed(0)
    pts = torch.randn(50, 3)
    rgb = torch.rand(50, 3)
    model = init_from_points(pts, rgb, 2, num=20)
    assert len(model) == 20 and model.sh_rest.shape == (20, 8, 3)
    assert bool((model.opacities - 0.1).abs().max() < 1e-6)
    g = model.to_gaussians()
    again = GaussianModel.from_gaussians(g)
    torch.testing.assert_close(again.sh, model.sh)
    with pytest.raises(ValueError, match="NaN"):
        init_from_points(torch.full((3, 3), float("nan")), None, 0)
    with pytest.raises(ValueError, match="P > 0"):
        init_from_points(torch.zeros(0, 3), None, 0)
