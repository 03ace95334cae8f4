"""The exponential and logarithm maps of SO(3), with PyTorch3D's names.

``so3_exp_map`` takes a batch of axis-angle (log-rotation) vectors to rotation matrices, ``so3_log_map`` goes
back. Matrices follow the column-vector convention of ``rotation_conversions``.
"""

from __future__ import annotations

import torch

from inverse3d.transforms.rotation_conversions import axis_angle_to_matrix, matrix_to_axis_angle


def _check_rotations(R: torch.Tensor, name: str = "R") -> None:
    if not torch.is_tensor(R) or R.dim() != 3 or R.shape[1:] != (3, 3):
        shape = tuple(R.shape) if torch.is_tensor(R) else type(R).__name__
        raise ValueError(f"{name} has to be a batch of 3x3 tensors, shape (N, 3, 3); got {shape}")


def hat(v: torch.Tensor) -> torch.Tensor:
    """Skew-symmetric matrices ``hat(v)`` with ``hat(v) @ u = cross(v, u)``.

    Args:
        v: (N, 3).
    Returns:
        (N, 3, 3).
    """
    if not torch.is_tensor(v) or v.dim() != 2 or v.shape[1] != 3:
        raise ValueError(f"Input vectors have to be of shape (N, 3); got {getattr(v, 'shape', type(v))}")
    x, y, z = v.unbind(1)
    zero = torch.zeros_like(x)
    return torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), 1).view(-1, 3, 3)


def hat_inv(h: torch.Tensor) -> torch.Tensor:
    """The vectors of skew-symmetric matrices (inverse of ``hat``).

    Args:
        h: (N, 3, 3) skew-symmetric matrices.
    Returns:
        (N, 3).
    Raises:
        ValueError: wrong shape, or ``h`` is not skew-symmetric.
    """
    _check_rotations(h, "h")
    if h.numel() and float((h + h.permute(0, 2, 1)).abs().max()) > 1e-5:
        raise ValueError("One of the input matrices is not skew-symmetric.")
    return torch.stack((h[:, 2, 1], h[:, 0, 2], h[:, 1, 0]), 1)


def so3_exp_map(log_rot: torch.Tensor, eps: float = 0.0001) -> torch.Tensor:
    """Rotation matrices ``exp(hat(log_rot))`` (Rodrigues' formula).

    Args:
        log_rot: (N, 3) axis-angle vectors (axis times angle in radians).
        eps: kept for PyTorch3D compatibility; the formula used here is exact and smooth at the zero rotation.
    Returns:
        (N, 3, 3) rotation matrices.
    """
    if not torch.is_tensor(log_rot) or log_rot.dim() != 2 or log_rot.shape[1] != 3:
        raise ValueError(f"Input tensor shape has to be Nx3; got {getattr(log_rot, 'shape', type(log_rot))}")
    return axis_angle_to_matrix(log_rot)


def so3_log_map(R: torch.Tensor, eps: float = 0.0001, cos_bound: float = 1e-4) -> torch.Tensor:
    """Axis-angle vectors ``hat_inv(log(R))`` of rotation matrices, angle in [0, pi].

    Computed through unit quaternions, which stay accurate and differentiable near angles 0 and pi.

    Args:
        R: (N, 3, 3) rotation matrices.
        eps, cos_bound: kept for PyTorch3D compatibility.
    Returns:
        (N, 3).
    """
    _check_rotations(R)
    return matrix_to_axis_angle(R)


def so3_rotation_angle(R: torch.Tensor, eps: float = 1e-4, cos_angle: bool = False, cos_bound: float = 1e-4):
    """Rotation angles in [0, pi] of rotation matrices (or their cosines with ``cos_angle=True``).

    Args:
        R: (N, 3, 3).
    Returns:
        (N,).
    """
    _check_rotations(R)
    angle = matrix_to_axis_angle(R).norm(dim=1)
    return torch.cos(angle) if cos_angle else angle


def so3_relative_angle(R1: torch.Tensor, R2: torch.Tensor, cos_angle: bool = False, eps: float = 1e-4):
    """Angles of the relative rotations ``R1 @ R2^T``, shape (N,)."""
    _check_rotations(R1, "R1")
    _check_rotations(R2, "R2")
    return so3_rotation_angle(torch.bmm(R1, R2.permute(0, 2, 1)), cos_angle=cos_angle, eps=eps)
