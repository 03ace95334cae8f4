"""so3_exp_map / so3_log_map: round trips, known values, gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from inverse3d.transforms import random_rotations, so3_exp_map, so3_log_map
from inverse3d.transforms.so3 import hat, hat_inv, so3_relative_angle, so3_rotation_angle


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
    torch.testing.assert_close(so3_relative_angle(R, R), torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)


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
