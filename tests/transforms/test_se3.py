"""se3_exp_map / se3_log_map / Transform3d.get_se3_log against scipy's matrix exponential and logarithm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference.transforms import naive_se3_exp, naive_se3_log

from inverse3d.transforms import (
    Rotate,
    Transform3d,
    Translate,
    random_rotations,
    se3_exp_map,
    se3_log_map,
    so3_exp_map,
)


def _log_transforms(n: int, max_angle: float = 3.0) -> torch.Tensor:
    """(n, 6) [log_translation | log_rotation] with rotation angles in (0, max_angle) plus a zero rotation."""
    v = torch.randn(n, 3, dtype=torch.float64)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, dtype=torch.float64), dim=1)
    w = axis * torch.rand(n, 1, dtype=torch.float64) * max_angle
    w[0] = 0.0
    return torch.cat([v, w], 1)


def test_exp_matches_matrix_exponential():
    x = _log_transforms(12)
    expected = np.stack([naive_se3_exp(row) for row in x.numpy()])
    got = se3_exp_map(x)
    assert got.shape == (12, 4, 4)
    # rotations are exact; the translation carries PyTorch3D's eps clamp only for tiny angles (none here but 0)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)


def test_exp_layout_is_row_vector():
    x = _log_transforms(5)
    M = se3_exp_map(x)
    torch.testing.assert_close(M[:, :3, :3], so3_exp_map(x[:, 3:]).transpose(1, 2))
    torch.testing.assert_close(M[:, :3, 3], torch.zeros(5, 3, dtype=torch.float64))
    torch.testing.assert_close(M[:, 3, 3], torch.ones(5, dtype=torch.float64))
    # zero rotation: the translation is the log translation itself
    torch.testing.assert_close(M[0, 3, :3], x[0, :3])


def test_log_matches_matrix_logarithm_and_round_trips():
    x = _log_transforms(12)
    M = se3_exp_map(x)
    expected = np.stack([naive_se3_log(m) for m in M.numpy()])
    got = se3_log_map(M)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-8)
    torch.testing.assert_close(got, x, atol=1e-8, rtol=0)
    torch.testing.assert_close(se3_exp_map(got), M)


def test_small_angles_follow_pytorch3d_eps_clamp():
    # For |w|^2 < eps PyTorch3D evaluates V at the angle sqrt(eps): the result differs from the exact exponential
    # by O(eps) in the coefficients, and the map stays finite and differentiable at w = 0.
    x = torch.tensor([[1.0, 2.0, 3.0, 1e-4, -2e-4, 3e-4]], dtype=torch.float64, requires_grad=True)
    M = se3_exp_map(x)
    np.testing.assert_allclose(M.detach().numpy()[0], naive_se3_exp(x.detach().numpy()[0]), atol=1e-4)
    zero = torch.zeros(2, 6, dtype=torch.float64, requires_grad=True)
    se3_exp_map(zero).sum().backward()
    assert torch.isfinite(zero.grad).all()
    identity = torch.eye(4, dtype=torch.float64)[None]
    torch.testing.assert_close(se3_log_map(identity), torch.zeros(1, 6, dtype=torch.float64))


def test_gradcheck():
    x = _log_transforms(3, max_angle=2.5)
    x[0, 3:] = torch.tensor([0.3, -0.2, 0.1])
    x.requires_grad_()
    assert torch.autograd.gradcheck(se3_exp_map, (x,))
    # perturb all but the last column, which must stay (0, 0, 0, 1)
    M34 = se3_exp_map(x.detach())[:, :, :3].clone().requires_grad_()
    last = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64).expand(3, 4)[:, :, None]
    assert torch.autograd.gradcheck(lambda m: se3_log_map(torch.cat([m, last], 2)), (M34,))


def test_get_se3_log_of_rigid_transform3d():
    R = random_rotations(4, dtype=torch.float64)
    T = torch.randn(4, 3, dtype=torch.float64)
    t = Rotate(R).compose(Translate(T))
    log = t.get_se3_log()
    assert log.shape == (4, 6)
    torch.testing.assert_close(se3_exp_map(log), t.get_matrix())
    torch.testing.assert_close(log, se3_log_map(t.get_matrix()))
    with pytest.raises(ValueError, match=r"transform\[:, :3, 3\]"):
        Transform3d(matrix=torch.randn(2, 4, 4, dtype=torch.float64)).get_se3_log()


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        se3_exp_map(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        se3_exp_map(torch.zeros(6))
    with pytest.raises(ValueError, match=r"\(N, 4, 4\)"):
        se3_log_map(torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"\(N, 4, 4\)"):
        se3_log_map(torch.zeros(2, 3, 4))


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_scriptable():
    x = _log_transforms(3)
    torch.testing.assert_close(torch.jit.script(se3_exp_map)(x), se3_exp_map(x))
    M = se3_exp_map(x)
    torch.testing.assert_close(torch.jit.script(se3_log_map)(M), se3_log_map(M))


def test_angle_near_pi():
    axis = torch.nn.functional.normalize(torch.randn(3, 3, dtype=torch.float64), dim=1)
    x = torch.cat([torch.randn(3, 3, dtype=torch.float64), axis * (math.pi - 1e-3)], 1)
    M = se3_exp_map(x)
    np.testing.assert_allclose(M.numpy(), np.stack([naive_se3_exp(r) for r in x.numpy()]), atol=1e-10)
    torch.testing.assert_close(se3_log_map(M), x, atol=1e-7, rtol=0)
