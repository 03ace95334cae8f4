"""One similarity transform aligning a set of cameras to another (PyTorch3D's ``corresponding_cameras_alignment``).

Cameras map world points with ``X_view = X @ R_i + T_i``. A similarity (R_A, T_A, s_A) of the world,
``X = (X' R_A + T_A) / s_A``, turns camera i into ``(R_A R_i, T_A R_i + s_A T_i)``; the function finds the
similarity that makes the source cameras match the target cameras best and returns the moved source cameras.

- ``mode="centers"``: Umeyama alignment of the camera centres (``corresponding_points_alignment``).
- ``mode="extrinsics"``: R_A from the SVD of ``mean_i R_i R'_i^T`` (no reflection), then s_A and T_A by least
  squares on ``s_A T_i R_i^T + T_A = T'_i R_i^T``.
"""

from __future__ import annotations

import torch

from inverse3d.ops.points_alignment import corresponding_points_alignment

__all__ = ["corresponding_cameras_alignment"]


def corresponding_cameras_alignment(cameras_src, cameras_tgt, estimate_scale: bool = True, mode: str = "extrinsics", eps: float = 1e-9):
    """The source cameras moved by the similarity that best aligns them with the target cameras.

    Args:
        cameras_src: N cameras (any ``CamerasBase``) to align.
        cameras_tgt: N target cameras.
        estimate_scale: estimate s_A (else 1: a rigid alignment).
        mode: "extrinsics" or "centers" (module docstring).
        eps: lower bound of divisors when estimating the scale.

    Returns:
        A clone of ``cameras_src`` with R = R_A R_i and T = T_A R_i + s_A T_i (differentiable in both inputs).
    """
    if cameras_src.R.shape[0] != cameras_tgt.R.shape[0]:
        raise ValueError("cameras_src and cameras_tgt have to contain the same number of cameras!")
    if mode == "centers":
        R_A, T_A, s_A = _align_centers(cameras_src, cameras_tgt, estimate_scale, eps)
    elif mode == "extrinsics":
        R_A, T_A, s_A = _align_extrinsics(cameras_src, cameras_tgt, estimate_scale, eps)
    else:
        raise ValueError("mode has to be one of (centers, extrinsics)")
    R = cameras_src.R  # (N, 3, 3)
    aligned = cameras_src.clone()
    aligned.R = R_A[None] @ R
    aligned.T = (T_A[None, None] @ R)[:, 0] + cameras_src.T * s_A
    return aligned


def _align_centers(cameras_src, cameras_tgt, estimate_scale: bool, eps: float):
    """(R_A (3, 3), T_A (3,), s_A) from the Umeyama alignment of the camera centres."""
    centers_src = cameras_src.get_camera_center()  # (N, 3)
    centers_tgt = cameras_tgt.get_camera_center()
    fit = corresponding_points_alignment(
        centers_src[None], centers_tgt[None], estimate_scale=estimate_scale, allow_reflection=False, eps=eps
    )
    # centres move by c' = s c R + T; the world change X = (X' R_A + T_A) / s_A is its inverse up to scale
    R_A = fit.R[0].transpose(0, 1)
    T_A = -(fit.T[0] @ R_A)
    return R_A, T_A, fit.s[0]


def _align_extrinsics(cameras_src, cameras_tgt, estimate_scale: bool, eps: float):
    """(R_A (3, 3), T_A (3,), s_A) from the cameras' rotations and translations."""
    R, R_tgt = cameras_src.R, cameras_tgt.R
    cov = (R @ R_tgt.transpose(1, 2)).mean(0)  # (3, 3)
    U, _, Vh = torch.linalg.svd(cov)
    R_A = Vh.transpose(0, 1) @ U.transpose(0, 1)  # V U^T
    # T_A R_i + s_A T_i = T'_i  <=>  s_A T_i R_i^T + T_A = T'_i R_i^T
    A = (R @ cameras_src.T[:, :, None])[:, :, 0]  # (N, 3)
    B = (R @ cameras_tgt.T[:, :, None])[:, :, 0]
    A_mean, B_mean = A.mean(0, keepdim=True), B.mean(0, keepdim=True)
    if estimate_scale and A.shape[0] > 1:
        Ac, Bc = A - A_mean, B - B_mean
        s_A = (Ac * Bc).mean() / Ac.square().mean().clamp(min=eps)
    else:
        s_A = torch.ones((), dtype=A.dtype, device=A.device)
    T_A = (B_mean - s_A * A_mean)[0]
    return R_A, T_A, s_A
