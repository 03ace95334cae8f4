"""so3 maps and angles, acos_linear_extrapolation: references, PyTorch3D semantics, gradients, TorchScript."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from reference.transforms import naive_acos_linear_extrapolation, naive_rotation_angle

from inverse3d.transforms import (
    acos_linear_extrapolation,
    random_rotations,
    so3_exp_map,
    so3_exponential_map,
    so3_log_map,
    so3_relative_angle,
    so3_rotation_angle,
)
from inverse3d.transforms.so3 import hat, hat_inv


def test_exp_matches_scipy():
    log_rot = torch.randn(10, 3, dtype=torch.float64)
    ref = Rotation.from_rotvec(log_rot.numpy()).as_matrix()
    np.testing.assert_allclose(so3_exp_map(log_rot).numpy(), ref, atol=1e-12)


def test_exp_log_round_trip():
    R = random_rotations(40, dtype=torch.float64)
    log_rot = so3_log_map(R)
    assert log_rot.shape == (40, 3)
    assert (log_rot.norm(dim=1) <= math.pi + 1e-9).all()
    torch.testing.assert_close(so3_exp_map(log_rot), R)
    # near 0 and near pi
    axes = torch.nn.functional.normalize(torch.randn(4, 3, dtype=torch.float64), dim=1)
    for angle in (0.0, 1e-6, math.pi - 1e-6):
        log_rot = axes * angle
        torch.testing.assert_close(so3_log_map(so3_exp_map(log_rot)), log_rot, atol=1e-7, rtol=0)


def test_hat_and_angles():
    v = torch.randn(5, 3, dtype=torch.float64)
    u = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close((hat(v) @ u[:, :, None])[:, :, 0], torch.cross(v, u, dim=1))
    torch.testing.assert_close(hat_inv(hat(v)), v)
    log_rot = torch.tensor([[0.0, 0.0, 0.5], [1.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(so3_rotation_angle(so3_exp_map(log_rot)), torch.tensor([0.5, 1.0], dtype=torch.float64))
    R = random_rotations(3, dtype=torch.float64)
    # PyTorch3D's extrapolated arccosine: the identity gets acos(1 - b) - b / sqrt(1 - (1 - b)^2), b = cos_bound
    b = 1e-4
    at_identity = math.acos(1 - b) - b / math.sqrt(1 - (1 - b) ** 2)
    torch.testing.assert_close(so3_relative_angle(R, R), torch.full((3,), at_identity, dtype=torch.float64))
    torch.testing.assert_close(so3_relative_angle(R, R, cos_angle=True), torch.ones(3, dtype=torch.float64))


def test_gradcheck():
    x = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(so3_exp_map, (x,))
    assert torch.autograd.gradcheck(lambda y: so3_log_map(so3_exp_map(y)), (x,))


def test_bad_input():
    with pytest.raises(ValueError):
        so3_exp_map(torch.zeros(3))
    with pytest.raises(ValueError):
        so3_exp_map(torch.zeros(2, 4))
    with pytest.raises(ValueError):
        so3_log_map(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError):
        hat_inv(torch.ones(2, 3, 3))


# ---------------------------------------------------------------------------------------------------------------
# PyTorch3D's angle semantics, the extrapolated arccosine, TorchScript


def _rotations_with_edge_cases(n: int) -> torch.Tensor:
    """Random rotations plus the identity, a half turn and rotations within 1e-4 of both."""
    eye = torch.eye(3, dtype=torch.float64)
    half_turn = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    near = [torch.linalg.qr(eye + 1e-4 * torch.randn(3, 3, dtype=torch.float64))[0] for _ in range(3)]
    near = [q * torch.sign(torch.diagonal(q))[None] for q in near]  # proper rotations near the identity
    return torch.cat([random_rotations(n, dtype=torch.float64), torch.stack([eye, half_turn, *near])])


@pytest.mark.parametrize("cos_bound", [1e-4, 1e-2, 0.0])
def test_rotation_angle_matches_reference(cos_bound):
    R = _rotations_with_edge_cases(10)
    expected = torch.tensor([naive_rotation_angle(r.tolist(), cos_bound) for r in R], dtype=torch.float64)
    got = so3_rotation_angle(R, cos_bound=cos_bound)
    if cos_bound == 0.0:  # plain acos: NaN where rounding pushes the cosine past +-1, as in PyTorch3D
        finite = torch.isfinite(got)
        torch.testing.assert_close(got[finite], expected[finite])
    else:
        torch.testing.assert_close(got, expected)
    cos = so3_rotation_angle(R, cos_angle=True)
    torch.testing.assert_close(cos, (torch.diagonal(R, dim1=1, dim2=2).sum(1) - 1) / 2)


def test_relative_angle_is_angle_of_relative_rotation():
    R1, R2 = random_rotations(6, dtype=torch.float64), random_rotations(6, dtype=torch.float64)
    expected = [naive_rotation_angle((a @ b.T).tolist(), 1e-3) for a, b in zip(R1, R2)]
    got = so3_relative_angle(R1, R2, cos_bound=1e-3)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))
    # away from 0 and pi the angle is the exact geodesic distance
    log = so3_log_map(torch.bmm(R1, R2.transpose(1, 2)))
    inside = (log.norm(dim=1) > 0.1) & (log.norm(dim=1) < 3.0)
    torch.testing.assert_close(got[inside], log.norm(dim=1)[inside])


def test_rotation_angle_gradients_finite_only_with_cos_bound():
    R = _rotations_with_edge_cases(4).requires_grad_()
    so3_rotation_angle(R, cos_bound=1e-4).sum().backward()
    assert torch.isfinite(R.grad).all()
    R.grad = None
    so3_rotation_angle(R[:4], cos_bound=0.0).sum().backward()  # the random ones: finite also without the bound
    assert torch.isfinite(R.grad).all()
    R.grad = None
    so3_rotation_angle(R, cos_bound=0.0).sum().backward()  # at the identity and the half turn, acos' is infinite
    assert not torch.isfinite(R.grad).all()


def test_rotation_angle_gradcheck():
    log = torch.randn(4, 3, dtype=torch.float64)
    log = log / log.norm(dim=1, keepdim=True) * torch.tensor([[0.3], [1.0], [2.0], [3.0]], dtype=torch.float64)
    R = so3_exp_map(log).requires_grad_()
    assert torch.autograd.gradcheck(lambda r: so3_rotation_angle(r), (R,))
    R2 = random_rotations(4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda r: so3_relative_angle(r, R2, cos_bound=1e-2), (R,))


def test_rotation_angle_rejects_bad_traces():
    with pytest.raises(ValueError, match="trace outside valid range"):
        so3_rotation_angle(2.0 * torch.eye(3)[None])
    with pytest.raises(ValueError, match="batch of 3x3"):
        so3_rotation_angle(torch.eye(3))
    with pytest.raises(ValueError, match="batch of 3x3"):
        so3_relative_angle(torch.eye(3)[None], torch.eye(4)[None])


def test_acos_linear_extrapolation_matches_reference():
    x = torch.cat([torch.linspace(-1.5, 1.5, 301, dtype=torch.float64), torch.tensor([-0.9, 0.9, 0.5])])
    for lower, upper in [(-0.9, 0.9), (-1 + 1e-4, 1 - 1e-4), (-0.5, 0.2), (0.3, 0.3)]:
        expected = torch.tensor([naive_acos_linear_extrapolation(float(v), lower, upper) for v in x], dtype=x.dtype)
        torch.testing.assert_close(acos_linear_extrapolation(x, (lower, upper)), expected)
    # default bounds +-(1 - 1e-4); shapes and dtypes kept
    y = torch.rand(2, 3, 4) * 2 - 1
    out = acos_linear_extrapolation(y)
    assert out.shape == y.shape and out.dtype == torch.float32
    inside = y.abs() < 1 - 1e-4
    torch.testing.assert_close(out[inside], torch.acos(y[inside]))


def test_acos_linear_extrapolation_gradcheck_and_continuity():
    x = torch.tensor([-1.4, -0.95, -0.3, 0.0, 0.4, 0.95, 1.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: acos_linear_extrapolation(v, (-0.9, 0.9)), (x,))
    # continuous with a continuous derivative at the bounds
    for b in (-0.9, 0.9):
        t = torch.tensor([b - 1e-9, b, b + 1e-9], dtype=torch.float64, requires_grad=True)
        y = acos_linear_extrapolation(t, (-0.9, 0.9))
        (g,) = torch.autograd.grad(y.sum(), t)
        assert float((y.max() - y.min()).detach()) < 1e-8
        torch.testing.assert_close(g, torch.full_like(g, -1 / math.sqrt(1 - b * b)))


def test_acos_linear_extrapolation_bad_bounds():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="smaller or equal"):
        acos_linear_extrapolation(x, (0.5, 0.2))
    with pytest.raises(ValueError, match="within"):
        acos_linear_extrapolation(x, (-1.0, 0.5))
    with pytest.raises(ValueError, match="within"):
        acos_linear_extrapolation(x, (-0.5, 1.0))


def test_so3_exponential_map_is_deprecated_alias():
    log_rot = torch.randn(3, 3)
    with pytest.warns(PendingDeprecationWarning, match="so3_exp_map"):
        R = so3_exponential_map(log_rot)
    torch.testing.assert_close(R, so3_exp_map(log_rot))


def test_pytorch3d_error_messages():
    with pytest.raises(ValueError, match="Input tensor shape has to be Nx3"):
        so3_exp_map(torch.randn(5, 4))
    with pytest.raises(ValueError, match="Input has to be a batch of 3x3 Tensors"):
        so3_log_map(torch.randn(5, 3, 5))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script is deprecated in recent PyTorch
@pytest.mark.parametrize(
    "fn", [so3_exp_map, so3_log_map, hat, hat_inv, so3_rotation_angle, so3_relative_angle, acos_linear_extrapolation]
)
def test_scriptable(fn):
    scripted = torch.jit.script(fn)
    R = random_rotations(4, dtype=torch.float64)
    args = {
        so3_exp_map: (so3_log_map(R),),
        so3_log_map: (R,),
        hat: (torch.randn(4, 3),),
        hat_inv: (hat(torch.randn(4, 3)),),
        so3_rotation_angle: (R,),
        so3_relative_angle: (R, random_rotations(4, dtype=torch.float64)),
        acos_linear_extrapolation: (torch.linspace(-1.2, 1.2, 7),),
    }[fn]
    torch.testing.assert_close(scripted(*args), fn(*args))
