"""Umeyama alignment against a numpy loop; ICP recovers known transforms; Pointclouds, weights, errors."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.alignment import umeyama_naive

from inverse3d.ops import corresponding_points_alignment, iterative_closest_point
from inverse3d.ops.points_alignment import ICPSolution, SimilarityTransform
from inverse3d.structures import Pointclouds
from inverse3d.transforms import random_rotations


def _transformed(N, P, dim=3, scale=True, gen=None):
    X = torch.randn(N, P, dim, generator=gen, dtype=torch.float64)
    R = random_rotations(N, dtype=torch.float64) if dim == 3 else torch.eye(dim, dtype=torch.float64).expand(N, dim, dim)
    T = torch.randn(N, dim, generator=gen, dtype=torch.float64)
    s = torch.rand(N, generator=gen, dtype=torch.float64) + 0.5 if scale else torch.ones(N, dtype=torch.float64)
    return X, s[:, None, None] * X @ R + T[:, None], (R, T, s)


@pytest.mark.parametrize("estimate_scale", [False, True])
@pytest.mark.parametrize("allow_reflection", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_naive(estimate_scale, allow_reflection, weighted):
    gen = torch.Generator().manual_seed(0)
    X, Y, _ = _transformed(3, 20, gen=gen)
    Y = Y + 0.3 * torch.randn(Y.shape, generator=gen, dtype=torch.float64)
    w = torch.rand(3, 20, generator=gen, dtype=torch.float64) if weighted else None
    got = corresponding_points_alignment(X, Y, w, estimate_scale, allow_reflection)
    want = umeyama_naive(X, Y, w, estimate_scale, allow_reflection)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    assert isinstance(got, SimilarityTransform)


@pytest.mark.parametrize("device", DEVICES)
def test_recovers_exact_similarity(device):
    gen = torch.Generator().manual_seed(1)
    X, Y, (R, T, s) = _transformed(4, 30, gen=gen)
    got = corresponding_points_alignment(X.to(device), Y.to(device), estimate_scale=True)
    torch.testing.assert_close(got.R.cpu(), R)
    torch.testing.assert_close(got.T.cpu(), T)
    torch.testing.assert_close(got.s.cpu(), s)
    assert torch.allclose(torch.det(got.R.cpu()), torch.ones(4, dtype=torch.float64))


def test_reflection_only_when_allowed():
    X = torch.randn(1, 10, 3, dtype=torch.float64)
    Y = X * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)  # a mirror image
    assert torch.det(corresponding_points_alignment(X, Y).R)[0] > 0
    assert torch.det(corresponding_points_alignment(X, Y, allow_reflection=True).R)[0] < 0


def test_pointclouds_and_list_weights_and_ragged():
    gen = torch.Generator().manual_seed(2)
    X, Y, _ = _transformed(2, 12, gen=gen)
    Y = Y + 0.1 * torch.randn(Y.shape, generator=gen, dtype=torch.float64)
    lengths = [12, 7]
    Xp = Pointclouds([X[0], X[1, :7]])
    Yp = Pointclouds([Y[0], Y[1, :7]])
    got = corresponding_points_alignment(Xp, Yp, estimate_scale=True)
    mask = (torch.arange(12)[None] < torch.tensor(lengths)[:, None]).double()
    want = umeyama_naive(X, Y, mask, estimate_scale=True)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    w = [torch.rand(12, dtype=torch.float64), torch.rand(7, dtype=torch.float64)]
    got = corresponding_points_alignment(Xp, Yp, weights=w)
    padded = torch.zeros(2, 12, dtype=torch.float64)
    padded[0], padded[1, :7] = w[0], w[1]
    for a, b in zip(got, umeyama_naive(X, Y, padded * mask)):
        torch.testing.assert_close(a, b)


def test_gradcheck():
    gen = torch.Generator().manual_seed(3)
    X, Y, _ = _transformed(2, 8, gen=gen)
    Y = Y + 0.2 * torch.randn(Y.shape, generator=gen, dtype=torch.float64)
    X.requires_grad_(True)
    Y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: corresponding_points_alignment(a, b, estimate_scale=True), (X, Y))


def test_errors_and_warnings():
    with pytest.raises(ValueError, match="same number"):
        corresponding_points_alignment(torch.rand(1, 5, 3), torch.rand(1, 6, 3))
    with pytest.raises(ValueError, match="weights"):
        corresponding_points_alignment(torch.rand(1, 5, 3), torch.rand(1, 5, 3), torch.rand(1, 4))
    with pytest.warns(UserWarning, match="unique rotation"):
        corresponding_points_alignment(torch.rand(1, 3, 3), torch.rand(1, 3, 3))


@pytest.mark.parametrize("device", DEVICES)
def test_icp_recovers_small_motion(device):
    gen = torch.Generator().manual_seed(4)
    Y = torch.rand(2, 200, 3, generator=gen, dtype=torch.float64)
    angle = torch.tensor(0.1, dtype=torch.float64)
    c, s = torch.cos(angle), torch.sin(angle)
    R = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)
    X = (Y - 0.02) @ R.T  # Y = X R + 0.02
    sol = iterative_closest_point(X.to(device), Y.to(device), max_iterations=100)
    assert isinstance(sol, ICPSolution) and sol.converged
    torch.testing.assert_close(sol.Xt.cpu(), Y, atol=1e-6, rtol=0)
    torch.testing.assert_close(sol.RTs.R[0].cpu(), R, atol=1e-6, rtol=0)
    assert len(sol.t_history) >= 1 and sol.rmse.shape == (2,)


def test_icp_pointclouds_init_transform_and_errors():
    gen = torch.Generator().manual_seed(5)
    Y = [torch.rand(50, 3, generator=gen, dtype=torch.float64), torch.rand(30, 3, generator=gen, dtype=torch.float64)]
    X = [y[:40] + 0.01 if len(y) > 40 else y + 0.01 for y in Y]
    sol = iterative_closest_point(Pointclouds(X), Pointclouds(Y), estimate_scale=True)
    assert isinstance(sol.Xt, Pointclouds) and sol.Xt.num_points_per_cloud().tolist() == [40, 30]
    assert float(sol.rmse.max()) < 1e-6
    init = SimilarityTransform(torch.eye(3, dtype=torch.float64)[None].repeat(2, 1, 1),
                               torch.full((2, 3), -0.01, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    sol = iterative_closest_point(Pointclouds(X), Pointclouds(Y), init_transform=init, max_iterations=2)
    assert float(sol.rmse.max()) < 1e-6
    with pytest.raises(ValueError, match="init_transform"):
        iterative_closest_point(Pointclouds(X), Pointclouds(Y), init_transform=(1, 2))
    with pytest.raises(ValueError, match="same number of batches"):
        iterative_closest_point(torch.rand(2, 5, 3), torch.rand(1, 5, 3))
