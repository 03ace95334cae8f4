"""efficient_pnp: exact recovery without noise, near-optimal reprojection with noise, weights, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

from inverse3d.ops import efficient_pnp
from inverse3d.ops.perspective_n_points import EpnpSolution
from inverse3d.transforms import random_rotations


def _scene(N, P, gen, noise=0.0):
    x = torch.randn(N, P, 3, generator=gen, dtype=torch.float64)
    R = random_rotations(N, dtype=torch.float64)
    T = torch.randn(N, 3, generator=gen, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 8.0], dtype=torch.float64)
    cam = x @ R + T[:, None]
    y = cam[..., :2] / cam[..., 2:]
    y = y + noise * torch.randn(y.shape, generator=gen, dtype=torch.float64)
    return x, y, R, T


def _reprojection(x, y, R, T):
    cam = x @ R + T[:, None]
    return (cam[..., :2] / cam[..., 2:] - y).norm(dim=-1).mean(-1)  # (N,)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("skip_quadratic_eq", [False, True])
def test_exact_recovery(device, skip_quadratic_eq):
    gen = torch.Generator().manual_seed(0)
    x, y, R, T = _scene(4, 20, gen)
    sol = efficient_pnp(x.to(device), y.to(device), skip_quadratic_eq=skip_quadratic_eq)
    assert isinstance(sol, EpnpSolution) and sol.x_cam.shape == (4, 20, 3)
    torch.testing.assert_close(sol.R.cpu(), R, atol=1e-6, rtol=0)
    torch.testing.assert_close(sol.T.cpu(), T, atol=1e-5, rtol=0)
    assert float(sol.err_2d.max()) < 1e-8 and float(sol.err_3d.max()) < 1e-8


@pytest.mark.filterwarnings("ignore::UserWarning")  # discarded EPnP candidates put points behind the camera
def test_noisy_solution_reprojects_about_as_well_as_the_truth():
    gen = torch.Generator().manual_seed(1)
    x, y, R, T = _scene(8, 30, gen, noise=0.002)
    sol = efficient_pnp(x, y)
    ours = _reprojection(x, y, sol.R, sol.T)
    truth = _reprojection(x, y, R, T)
    assert (ours <= 1.5 * truth).all()
    torch.testing.assert_close(ours, sol.err_2d)
    assert torch.allclose(torch.det(sol.R), torch.ones(8, dtype=torch.float64))


def test_weights_ignore_outliers():
    gen = torch.Generator().manual_seed(2)
    x, y, R, T = _scene(2, 24, gen)
    y[:, :4] += 0.5  # four wild outliers ...
    w = torch.ones(2, 24, dtype=torch.float64)
    w[:, :4] = 0  # ... weighted out
    sol = efficient_pnp(x, y, weights=w)
    torch.testing.assert_close(sol.R, R, atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore::UserWarning")  # discarded EPnP candidates put points behind the camera
def test_gradients():
    gen = torch.Generator().manual_seed(3)
    x, y, _, _ = _scene(1, 8, gen, noise=0.01)
    # the control points are taken from x without gradient (as PyTorch3D), so check exact gradients in y only
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda b: efficient_pnp(x, b, skip_quadratic_eq=True).T, (y,))
    assert torch.autograd.gradcheck(lambda b: efficient_pnp(x, b).R, (y,))
    x.requires_grad_(True)
    sol = efficient_pnp(x, y)
    (sol.R.sum() + sol.T.sum()).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_bad_shapes():
    with pytest.raises(ValueError, match="x \\(N, P, 3\\)"):
        efficient_pnp(torch.rand(1, 5, 2), torch.rand(1, 5, 2))
    with pytest.raises(ValueError, match="weights"):
        efficient_pnp(torch.rand(1, 5, 3), torch.rand(1, 5, 2), torch.rand(1, 4))
