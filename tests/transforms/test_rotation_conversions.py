"""Rotation conversions: values against scipy, round trips, gradients, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from conftest import DEVICES
from scipy.spatial.transform import Rotation

from inverse3d.transforms import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    euler_angles_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler_angles,
    matrix_to_quaternion,
    matrix_to_rotation_6d,
    quaternion_apply,
    quaternion_invert,
    quaternion_multiply,
    quaternion_raw_multiply,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    random_quaternions,
    random_rotation,
    random_rotations,
    rotation_6d_to_matrix,
    standardize_quaternion,
)

CONVENTIONS = ["".join(c) for c in itertools.product("XYZ", repeat=3) if c[1] != c[0] and c[1] != c[2]]


def test_twelve_conventions():
    assert len(CONVENTIONS) == 12
    assert {"XYZ", "ZYX", "XYX", "ZXZ"} <= set(CONVENTIONS)


def _is_rotation(m: torch.Tensor, atol: float = 1e-5) -> bool:
    eye = torch.eye(3, dtype=m.dtype, device=m.device).expand_as(m)
    return torch.allclose(m @ m.transpose(-1, -2), eye, atol=atol) and torch.allclose(
        torch.det(m), torch.ones((), dtype=m.dtype, device=m.device), atol=atol
    )


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_euler_matches_scipy_intrinsic(convention):
    angles = torch.rand(16, 3, dtype=torch.float64) * 2 * math.pi - math.pi
    ours = euler_angles_to_matrix(angles, convention)
    ref = Rotation.from_euler(convention, angles.numpy()).as_matrix()  # upper case: intrinsic
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("device", DEVICES)
def test_euler_round_trip(convention, device):
    R = random_rotations(32, dtype=torch.float64, device=device)
    angles = matrix_to_euler_angles(R, convention)
    assert angles.shape == (32, 3)
    torch.testing.assert_close(euler_angles_to_matrix(angles, convention), R, atol=1e-10, rtol=0)
    # angles in the principal range come back unchanged
    again = matrix_to_euler_angles(euler_angles_to_matrix(angles, convention), convention)
    torch.testing.assert_close(again, angles, atol=1e-8, rtol=0)
    central = angles[:, 1]
    if convention[0] != convention[2]:
        assert (central.abs() <= math.pi / 2 + 1e-9).all()
    else:
        assert ((central >= -1e-9) & (central <= math.pi + 1e-9)).all()


def test_euler_single_axis_values():
    # a rotation of +90 degrees about Z takes x to y (column vectors)
    m = euler_angles_to_matrix(torch.tensor([math.pi / 2, 0.0, 0.0]), "ZYX")
    torch.testing.assert_close(m @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    assert m.shape == (3, 3)


def test_quaternion_matches_scipy():
    R = random_rotations(20, dtype=torch.float64)
    q = matrix_to_quaternion(R)
    ref = Rotation.from_matrix(R.numpy()).as_quat()  # (x, y, z, w)
    ref = np.concatenate([ref[:, 3:], ref[:, :3]], 1)
    ref = ref * np.where(ref[:, :1] < 0, -1.0, 1.0)
    np.testing.assert_allclose(q.numpy(), ref, atol=1e-10)
    assert (q[:, 0] >= 0).all()
    torch.testing.assert_close(quaternion_to_matrix(q), R, atol=1e-12, rtol=0)


def test_matrix_to_quaternion_near_180_degrees():
    # angles near pi: the w-based formula is ill-conditioned; the chosen candidate must still be exact
    axes = torch.nn.functional.normalize(torch.randn(10, 3, dtype=torch.float64), dim=1)
    for angle in (math.pi, math.pi - 1e-7, 1e-9, 0.0):
        R = axis_angle_to_matrix(axes * angle)
        torch.testing.assert_close(quaternion_to_matrix(matrix_to_quaternion(R)), R, atol=1e-12, rtol=0)


def test_quaternion_algebra():
    a, b = random_quaternions(8, dtype=torch.float64), random_quaternions(8, dtype=torch.float64)
    Ra, Rb = quaternion_to_matrix(a), quaternion_to_matrix(b)
    torch.testing.assert_close(quaternion_to_matrix(quaternion_multiply(a, b)), Ra @ Rb)
    ab = quaternion_raw_multiply(a, b)
    torch.testing.assert_close(standardize_quaternion(ab), quaternion_multiply(a, b))
    ident = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).expand(8, 4)
    torch.testing.assert_close(quaternion_raw_multiply(a, quaternion_invert(a)), ident, atol=1e-12, rtol=0)
    p = torch.randn(8, 3, dtype=torch.float64)
    torch.testing.assert_close(quaternion_apply(a, p), (Ra @ p[:, :, None])[:, :, 0])
    neg = standardize_quaternion(-a)
    torch.testing.assert_close(neg, a)


def test_random_rotations():
    R = random_rotations(50)
    assert R.shape == (50, 3, 3) and R.dtype == torch.float32
    assert _is_rotation(R)
    q = random_quaternions(50, dtype=torch.float64)
    torch.testing.assert_close(q.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert (q[:, 0] >= 0).all()
    assert random_rotation().shape == (3, 3)


def test_axis_angle_matches_scipy_and_round_trips():
    aa = torch.randn(20, 3, dtype=torch.float64)
    aa = aa / aa.norm(dim=1, keepdim=True) * torch.rand(20, 1, dtype=torch.float64) * math.pi
    R = axis_angle_to_matrix(aa)
    np.testing.assert_allclose(R.numpy(), Rotation.from_rotvec(aa.numpy()).as_matrix(), atol=1e-12)
    torch.testing.assert_close(matrix_to_axis_angle(R), aa, atol=1e-9, rtol=0)
    q = axis_angle_to_quaternion(aa)
    torch.testing.assert_close(quaternion_to_matrix(q), R)
    torch.testing.assert_close(quaternion_to_axis_angle(q), aa)
    zero = torch.zeros(2, 3, dtype=torch.float64)
    torch.testing.assert_close(axis_angle_to_matrix(zero), torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    torch.testing.assert_close(matrix_to_axis_angle(torch.eye(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))


def test_rotation_6d():
    R = random_rotations(10, dtype=torch.float64)
    d6 = matrix_to_rotation_6d(R)
    assert d6.shape == (10, 6)
    torch.testing.assert_close(d6, R[:, :2, :].reshape(10, 6))  # the last row is dropped
    torch.testing.assert_close(rotation_6d_to_matrix(d6), R)
    # arbitrary 6-vectors give proper rotations
    assert _is_rotation(rotation_6d_to_matrix(torch.randn(10, 6, dtype=torch.float64)), atol=1e-10)


def test_batch_dims_are_kept():
    x = torch.randn(2, 5, 3)
    assert axis_angle_to_matrix(x).shape == (2, 5, 3, 3)
    assert euler_angles_to_matrix(x, "ZYX").shape == (2, 5, 3, 3)
    assert matrix_to_quaternion(axis_angle_to_matrix(x)).shape == (2, 5, 4)
    assert matrix_to_rotation_6d(axis_angle_to_matrix(x)).shape == (2, 5, 6)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: euler_angles_to_matrix(x, "XYZ"),
        lambda x: matrix_to_euler_angles(axis_angle_to_matrix(x), "ZXZ"),
        axis_angle_to_matrix,
        lambda x: matrix_to_axis_angle(axis_angle_to_matrix(x)),
        lambda x: quaternion_to_matrix(axis_angle_to_quaternion(x)),
        lambda x: matrix_to_quaternion(axis_angle_to_matrix(x)),
        lambda x: rotation_6d_to_matrix(torch.cat([x, x.flip(-1) + 1.0], -1)),
        lambda x: quaternion_apply(axis_angle_to_quaternion(x), x + 0.5),
    ],
)
def test_gradcheck(fn):
    x = (torch.rand(3, 3, dtype=torch.float64) * 2 - 1).requires_grad_()
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


def test_gradient_at_zero_rotation_is_finite():
    x = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    R = torch.eye(3, dtype=torch.float64)[None].requires_grad_()
    matrix_to_quaternion(R).sum().backward()
    assert torch.isfinite(R.grad).all()


def test_bad_input():
    with pytest.raises(ValueError):
        euler_angles_to_matrix(torch.zeros(4, 2), "XYZ")
    with pytest.raises(ValueError):
        euler_angles_to_matrix(torch.zeros(4, 3), "XXY")
    with pytest.raises(ValueError):
        euler_angles_to_matrix(torch.zeros(4, 3), "XYA")
    with pytest.raises(ValueError):
        euler_angles_to_matrix(torch.zeros(4, 3), "XY")
    with pytest.raises(ValueError):
        matrix_to_euler_angles(torch.zeros(4, 3, 2), "XYZ")
    with pytest.raises(ValueError):
        matrix_to_quaternion(torch.zeros(4, 4))
    with pytest.raises(ValueError):
        quaternion_to_matrix(torch.zeros(4, 3))
    with pytest.raises(ValueError):
        axis_angle_to_matrix(torch.zeros(4))
    with pytest.raises(ValueError):
        rotation_6d_to_matrix(torch.zeros(4, 5))
    with pytest.raises(ValueError):
        quaternion_apply(torch.zeros(4, 4), torch.zeros(4, 4))


# ---------------------------------------------------------------------------------------------------------------
# fast= paths and TorchScript, as in PyTorch3D


def _axis_angles_with_edge_cases(n: int) -> torch.Tensor:
    """(n + 12, 3) random axis-angles plus angles 0, 1e-9, pi - 1e-7, pi on random and coordinate axes."""
    axes = torch.nn.functional.normalize(torch.randn(n, 3, dtype=torch.float64), dim=1)
    aa = axes * torch.rand(n, 1, dtype=torch.float64) * math.pi
    special_axes = torch.cat([torch.eye(3, dtype=torch.float64)[:2], axes[:1]])  # x, y and a random axis
    angles = torch.tensor([0.0, 1e-9, math.pi - 1e-7, math.pi], dtype=torch.float64)
    special = (special_axes[:, None, :] * angles[None, :, None]).reshape(-1, 3)
    return torch.cat([aa, special])


@pytest.mark.parametrize("fast", [False, True])
def test_axis_angle_to_matrix_fast_matches_scipy(fast):
    aa = _axis_angles_with_edge_cases(20)
    R = axis_angle_to_matrix(aa, fast=fast)
    np.testing.assert_allclose(R.numpy(), Rotation.from_rotvec(aa.numpy()).as_matrix(), atol=1e-12)
    x = torch.randn(2, 5, 3)
    assert axis_angle_to_matrix(x, fast=fast).shape == (2, 5, 3, 3)


@pytest.mark.parametrize("fast", [False, True])
def test_matrix_to_axis_angle_fast_matches_scipy(fast):
    aa = _axis_angles_with_edge_cases(40)
    R = torch.from_numpy(Rotation.from_rotvec(aa.numpy()).as_matrix())
    got = matrix_to_axis_angle(R, fast=fast)
    ref = torch.from_numpy(Rotation.from_matrix(R.numpy()).as_rotvec())
    # at exactly pi, aa and -aa are the same rotation
    sign = torch.where((got * ref).sum(1, keepdim=True) < 0, -1.0, 1.0).to(got)
    at_pi = (ref.norm(dim=1) > math.pi - 1e-6)[:, None]
    torch.testing.assert_close(torch.where(at_pi, got * sign, got), ref, atol=1e-6, rtol=0)
    away = ref.norm(dim=1) < math.pi - 1e-3
    torch.testing.assert_close(got[away], ref[away], atol=1e-12, rtol=0)
    assert matrix_to_axis_angle(torch.randn(2, 5, 3, 3), fast=fast).shape == (2, 5, 3)


@pytest.mark.parametrize("fast", [False, True])
def test_axis_angle_fast_gradcheck(fast):
    aa = _axis_angles_with_edge_cases(3)[[0, 1, 2, 5, 6]].clone()  # random, 1e-9 and pi - 1e-7 about x
    aa[3] = torch.tensor([2.9, 0.1, -0.2], dtype=torch.float64)  # in the near-pi branch of the fast path
    aa[4] = torch.tensor([0.0, 0.3, 0.1], dtype=torch.float64)
    x = aa.requires_grad_()
    assert torch.autograd.gradcheck(lambda v: axis_angle_to_matrix(v, fast=fast), (x,))
    R = axis_angle_to_matrix(aa.detach()).requires_grad_()
    assert torch.autograd.gradcheck(lambda m: matrix_to_axis_angle(m, fast=fast), (R,))


SCRIPTABLE = [
    axis_angle_to_matrix, axis_angle_to_quaternion, euler_angles_to_matrix, matrix_to_axis_angle,
    matrix_to_euler_angles, matrix_to_quaternion, matrix_to_rotation_6d, quaternion_apply, quaternion_multiply,
    quaternion_raw_multiply, quaternion_invert, quaternion_to_matrix, quaternion_to_axis_angle, random_quaternions,
    random_rotation, random_rotations, rotation_6d_to_matrix, standardize_quaternion,
]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script is deprecated in recent PyTorch
@pytest.mark.parametrize("fn", SCRIPTABLE, ids=lambda f: f.__name__)
def test_scriptable(fn):
    scripted = torch.jit.script(fn)
    R = random_rotations(3, dtype=torch.float64)
    q = matrix_to_quaternion(R)
    args = {
        "axis_angle_to_matrix": (torch.randn(3, 3),),
        "axis_angle_to_quaternion": (torch.randn(3, 3),),
        "euler_angles_to_matrix": (torch.randn(3, 3), "ZYX"),
        "matrix_to_axis_angle": (R,),
        "matrix_to_euler_angles": (R, "XZX"),
        "matrix_to_quaternion": (R,),
        "matrix_to_rotation_6d": (R,),
        "quaternion_apply": (q, torch.randn(3, 3, dtype=torch.float64)),
        "quaternion_multiply": (q, q.flip(0)),
        "quaternion_raw_multiply": (q, q.flip(0)),
        "quaternion_invert": (q,),
        "quaternion_to_matrix": (q,),
        "quaternion_to_axis_angle": (q,),
        "rotation_6d_to_matrix": (torch.randn(3, 6),),
        "standardize_quaternion": (-q,),
    }.get(fn.__name__)
    if args is None:  # random: compare shapes and dtypes only
        out = scripted(4) if fn is not random_rotation else scripted()
        assert out.shape == fn(4).shape if fn is not random_rotation else out.shape == (3, 3)
        return
    torch.testing.assert_close(scripted(*args), fn(*args))
    if fn in (axis_angle_to_matrix, matrix_to_axis_angle):
        torch.testing.assert_close(scripted(args[0], True), fn(args[0], fast=True))
