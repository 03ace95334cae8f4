"""The exponential and logarithm maps of SO(3) and rotation angles, with PyTorch3D's names and semantics.

``so3_exp_map`` takes a batch of axis-angle (log-rotation) vectors to rotation matrices, ``so3_log_map`` goes
back. Matrices follow the column-vector convention of ``rotation_conversions``. ``so3_exp_map`` and ``so3_log_map``
compile with ``torch.jit.script``.
"""

import warnings
from typing import Tuple

import torch

from inverse3d.transforms.math import acos_linear_extrapolation
from inverse3d.transforms.rotation_conversions import axis_angle_to_matrix, matrix_to_axis_angle


def _check_matrices(R: torch.Tensor) -> None:
    """Raises ValueError unless ``R`` is an (N, 3, 3) tensor (PyTorch3D's message)."""
    if not torch.jit.is_scripting():
        if not torch.is_tensor(R):
            raise ValueError(f"Input has to be a batch of 3x3 Tensors; got {type(R).__name__}")
    if R.dim() != 3 or R.shape[1] != 3 or R.shape[2] != 3:
        raise ValueError(f"Input has to be a batch of 3x3 Tensors; got shape {list(R.shape)}")


def _check_vectors(v: torch.Tensor) -> None:
    """Raises ValueError unless ``v`` is an (N, 3) tensor (PyTorch3D's message)."""
    if not torch.jit.is_scripting():
        if not torch.is_tensor(v):
            raise ValueError(f"Input tensor shape has to be Nx3; got {type(v).__name__}")
    if v.dim() != 2 or v.shape[1] != 3:
        raise ValueError(f"Input tensor shape has to be Nx3; got shape {list(v.shape)}")


def hat(v: torch.Tensor) -> torch.Tensor:
    """Skew-symmetric matrices ``hat(v)`` with ``hat(v) @ u = cross(v, u)``.

    Args:
        v: (N, 3).
    Returns:
        (N, 3, 3).
    """
    if not torch.jit.is_scripting():
        if not torch.is_tensor(v):
            raise ValueError(f"Input vectors have to be of shape (N, 3); got {type(v).__name__}")
    if v.dim() != 2 or v.shape[1] != 3:
        raise ValueError(f"Input vectors have to be of shape (N, 3); got {list(v.shape)}")
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
        ValueError: wrong shape, or ``h`` is not skew-symmetric (to 1e-5).
    """
    _check_matrices(h)
    if h.numel() > 0 and float((h + h.permute(0, 2, 1)).abs().max()) > 1e-5:
        raise ValueError("One of the input matrices is not skew-symmetric.")
    return torch.stack((h[:, 2, 1], h[:, 0, 2], h[:, 1, 0]), 1)


def _so3_exp_map(
    log_rot: torch.Tensor, eps: float = 0.0001
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``so3_exp_map`` plus the pieces ``se3_exp_map`` reuses.

    Returns:
        R: (N, 3, 3) rotation matrices.
        angles: (N,) rotation angles, ``sqrt(max(|log_rot|^2, eps))``.
        skews: (N, 3, 3) ``hat(log_rot)``.
        skews_square: (N, 3, 3) ``hat(log_rot) @ hat(log_rot)``.
    """
    _check_vectors(log_rot)
    angles = torch.clamp((log_rot * log_rot).sum(1), eps).sqrt()
    skews = hat(log_rot)
    skews_square = torch.bmm(skews, skews)
    return axis_angle_to_matrix(log_rot), angles, skews, skews_square


def so3_exp_map(log_rot: torch.Tensor, eps: float = 0.0001) -> torch.Tensor:
    """Rotation matrices ``exp(hat(log_rot))``.

    Args:
        log_rot: (N, 3) axis-angle vectors (axis times angle in radians).
        eps: kept for PyTorch3D compatibility; the conversion used is exact and smooth at the zero rotation (as
            PyTorch3D's is since it too calls ``axis_angle_to_matrix``).
    Returns:
        (N, 3, 3) rotation matrices.
    Raises:
        ValueError: ``log_rot`` is not (N, 3).
    """
    _check_vectors(log_rot)
    return axis_angle_to_matrix(log_rot)


def so3_exponential_map(log_rot: torch.Tensor, eps: float = 0.0001) -> torch.Tensor:
    """Deprecated name of ``so3_exp_map`` (warns with PendingDeprecationWarning, as PyTorch3D does)."""
    warnings.warn(
        "so3_exponential_map is deprecated, use so3_exp_map instead. "
        "so3_exponential_map will be removed in future releases.",
        PendingDeprecationWarning,
        stacklevel=2,
    )
    return so3_exp_map(log_rot, eps)


def so3_log_map(R: torch.Tensor, eps: float = 0.0001, cos_bound: float = 1e-4) -> torch.Tensor:
    """Axis-angle vectors ``hat_inv(log(R))`` of rotation matrices, angle in [0, pi].

    Computed through unit quaternions, which stay accurate and differentiable near angles 0 and pi.

    Args:
        R: (N, 3, 3) rotation matrices.
        eps, cos_bound: unused, kept for PyTorch3D compatibility (PyTorch3D ignores them too).
    Returns:
        (N, 3).
    Raises:
        ValueError: ``R`` is not (N, 3, 3).
    """
    _check_matrices(R)
    return matrix_to_axis_angle(R)


def so3_rotation_angle(
    R: torch.Tensor, eps: float = 1e-4, cos_angle: bool = False, cos_bound: float = 1e-4
) -> torch.Tensor:
    """Rotation angles ``acos((trace(R) - 1) / 2)`` of rotation matrices, as PyTorch3D computes them.

    With ``cos_bound > 0`` the arccosine is ``acos_linear_extrapolation`` with bounds ``+-(1 - cos_bound)``, so the
    angle and its gradient stay finite at 0 and pi; the price (PyTorch3D's too) is a small bias there: the identity
    gets the angle ``acos(1 - b) - b / sqrt(1 - (1 - b)^2)`` with ``b = cos_bound`` (about 0.0071 for 1e-4).
    ``cos_bound = 0`` gives the plain ``torch.acos`` (NaN where rounding pushes the cosine past +-1).

    Args:
        R: (N, 3, 3) rotation matrices.
        eps: tolerance of the trace check: traces outside [-1 - eps, 3 + eps] are rejected.
        cos_angle: return ``cos(angle) = (trace(R) - 1) / 2`` instead of the angle.
        cos_bound: see above.
    Returns:
        (N,) angles in radians, or their cosines.
    Raises:
        ValueError: wrong shape, or a trace outside [-1 - eps, 3 + eps].
    """
    _check_matrices(R)
    rot_trace = R[:, 0, 0] + R[:, 1, 1] + R[:, 2, 2]  # (N,)
    if bool(((rot_trace < -1.0 - eps) | (rot_trace > 3.0 + eps)).any()):
        raise ValueError("A matrix has trace outside valid range [-1-eps,3+eps].")
    phi_cos = (rot_trace - 1.0) * 0.5
    if cos_angle:
        return phi_cos
    if cos_bound > 0.0:
        bound = 1.0 - cos_bound
        return acos_linear_extrapolation(phi_cos, (-bound, bound))
    return torch.acos(phi_cos)


def so3_relative_angle(
    R1: torch.Tensor,
    R2: torch.Tensor,
    cos_angle: bool = False,
    cos_bound: float = 1e-4,
    eps: float = 1e-4,
) -> torch.Tensor:
    """Angles of the relative rotations ``R1 @ R2^T`` (the geodesic distance on SO(3)).

    Args:
        R1, R2: (N, 3, 3) rotation matrices.
        cos_angle, cos_bound, eps: as for ``so3_rotation_angle``.
    Returns:
        (N,) angles in radians, or their cosines.
    """
    _check_matrices(R1)
    _check_matrices(R2)
    R12 = torch.bmm(R1, R2.permute(0, 2, 1))
    return so3_rotation_angle(R12, cos_angle=cos_angle, cos_bound=cos_bound, eps=eps)
