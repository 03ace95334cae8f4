"""The exponential and logarithm maps of SE(3), with PyTorch3D's names, layout and conventions.

An SE(3) matrix here is a 4x4 matrix for row vectors, as ``Transform3d`` stores it::

    [ R 0 ]
    [ T 1 ]

with ``R`` (3, 3) acting as ``p @ R`` and the translation ``T`` in the last row. Its logarithm is the 6-vector
``[log_translation | log_rotation]``. With the column-vector rotation ``M = R^T = so3_exp_map(log_rotation)``, the
translation is ``T = V @ log_translation``, where ``V = I + (1 - cos t) / t^2 hat(w) + (t - sin t) / t^3 hat(w)^2``
(``w = log_rotation``, ``t = |w|``; Blanco, "A tutorial on SE(3) transformation parameterizations", Sec. 9.4.2).
As in PyTorch3D, ``t`` is computed as ``sqrt(max(t^2, eps))`` in ``V``, which keeps it finite and differentiable
at the zero rotation.
"""

import torch

from inverse3d.transforms.so3 import _so3_exp_map, hat, so3_log_map


def _se3_V_matrix(
    log_rotation_hat: torch.Tensor, log_rotation_hat_square: torch.Tensor, rotation_angles: torch.Tensor
) -> torch.Tensor:
    """The matrices V of the module docstring.

    Args:
        log_rotation_hat: (N, 3, 3) ``hat(w)``.
        log_rotation_hat_square: (N, 3, 3) ``hat(w) @ hat(w)``.
        rotation_angles: (N,) ``t``, already clamped away from 0.
    Returns:
        (N, 3, 3).
    """
    t = rotation_angles[:, None, None]  # (N, 1, 1)
    eye = torch.eye(3, dtype=t.dtype, device=t.device)
    return eye + log_rotation_hat * ((1.0 - torch.cos(t)) / (t * t)) + log_rotation_hat_square * (
        (t - torch.sin(t)) / (t * t * t)
    )


def se3_exp_map(log_transform: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """SE(3) matrices (row-vector layout, see the module docstring) of 6-vectors ``[log_translation | log_rotation]``.

    For rotation angles in [0, 2 pi), ``se3_log_map(se3_exp_map(x)) == x`` (up to the angle wrapping past pi).

    Args:
        log_transform: (N, 6).
        eps: lower bound of the squared rotation angle inside ``V`` (see the module docstring).
    Returns:
        (N, 4, 4) matrices ``[[R, 0], [T, 1]]``.
    Raises:
        ValueError: ``log_transform`` is not (N, 6).
    """
    if not torch.jit.is_scripting():
        if not torch.is_tensor(log_transform):
            raise ValueError(f"Expected input to be of shape (N, 6); got {type(log_transform).__name__}")
    if log_transform.dim() != 2 or log_transform.shape[1] != 6:
        raise ValueError(f"Expected input to be of shape (N, 6); got {list(log_transform.shape)}")
    log_translation = log_transform[:, :3]  # (N, 3)
    log_rotation = log_transform[:, 3:]  # (N, 3)
    R, angles, skews, skews_square = _so3_exp_map(log_rotation, eps=eps)  # R: (N, 3, 3), column vectors
    V = _se3_V_matrix(skews, skews_square, angles)  # (N, 3, 3)
    T = torch.bmm(V, log_translation[:, :, None])  # (N, 3, 1)
    top = torch.cat((R.transpose(1, 2), torch.zeros_like(T)), 2)  # (N, 3, 4): [R^T | 0]
    bottom = torch.cat((T.transpose(1, 2), torch.ones_like(T[:, :1])), 2)  # (N, 1, 4): [T^T | 1]
    return torch.cat((top, bottom), 1)


def se3_log_map(transform: torch.Tensor, eps: float = 1e-4, cos_bound: float = 1e-4) -> torch.Tensor:
    """6-vectors ``[log_translation | log_rotation]`` of SE(3) matrices (row-vector layout), inverse of ``se3_exp_map``.

    Args:
        transform: (N, 4, 4) matrices ``[[R, 0], [T, 1]]``.
        eps: lower bound of the squared rotation angle inside ``V``.
        cos_bound: passed on to ``so3_log_map`` (which ignores it, as PyTorch3D's does).
    Returns:
        (N, 6).
    Raises:
        ValueError: ``transform`` is not (N, 4, 4), or its last column above the diagonal, ``transform[:, :3, 3]``,
            is not zero.
    """
    if not torch.jit.is_scripting():
        if not torch.is_tensor(transform):
            raise ValueError(f"Input tensor shape has to be (N, 4, 4); got {type(transform).__name__}")
    if transform.dim() != 3 or transform.shape[1] != 4 or transform.shape[2] != 4:
        raise ValueError(f"Input tensor shape has to be (N, 4, 4); got {list(transform.shape)}")
    if not torch.allclose(transform[:, :3, 3], torch.zeros_like(transform[:, :3, 3])):
        raise ValueError("All elements of `transform[:, :3, 3]` should be 0.")
    R = transform[:, :3, :3].permute(0, 2, 1)  # (N, 3, 3), column-vector rotation
    log_rotation = so3_log_map(R, eps=eps, cos_bound=cos_bound)  # (N, 3)
    T = transform[:, 3, :3]  # (N, 3)
    angles = torch.clamp((log_rotation * log_rotation).sum(1), eps).sqrt()
    skews = hat(log_rotation)
    V = _se3_V_matrix(skews, torch.bmm(skews, skews), angles)
    log_translation = torch.linalg.solve(V, T[:, :, None])[:, :, 0]  # (N, 3)
    return torch.cat((log_translation, log_rotation), 1)
