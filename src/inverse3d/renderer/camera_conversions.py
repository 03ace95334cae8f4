"""Conversion between OpenCV / COLMAP cameras ``(R, tvec, K)`` and ``PerspectiveCameras`` (PyTorch3D semantics).

OpenCV: ``x_cam = R @ X + tvec`` (column vectors), camera axes +X right, +Y down, +Z forward, and pixel
coordinates ``u = fx x/z + cx``, ``v = fy y/z + cy``. PyTorch3D: ``X_view = X @ R + T`` (row vectors) with
+X left, +Y up. So ``R_p3d = R^T`` with its first two columns negated, ``T_p3d = tvec`` with x, y negated, and
focal length / principal point are rescaled from pixels to NDC (the shorter side spanning [-1, 1]). As in
PyTorch3D, the image centre is ``(W / 2, H / 2)`` (no half-pixel shift).
"""

from __future__ import annotations

import torch

from inverse3d.renderer.cameras import PerspectiveCameras


def _check(R: torch.Tensor, tvec: torch.Tensor, camera_matrix: torch.Tensor, image_size: torch.Tensor) -> None:
    for t, name in ((R, "R"), (tvec, "tvec"), (camera_matrix, "camera_matrix"), (image_size, "image_size")):
        if not torch.is_tensor(t):
            raise ValueError(f"{name} must be a tensor; got {type(t).__name__}")
    n = R.shape[0] if R.dim() == 3 else -1
    if R.dim() != 3 or R.shape[1:] != (3, 3):
        raise ValueError(f"R must have shape (N, 3, 3); got {tuple(R.shape)}")
    if tvec.shape != (n, 3):
        raise ValueError(f"tvec must have shape ({n}, 3); got {tuple(tvec.shape)}")
    if camera_matrix.shape != (n, 3, 3):
        raise ValueError(f"camera_matrix must have shape ({n}, 3, 3); got {tuple(camera_matrix.shape)}")
    if image_size.shape != (n, 2):
        raise ValueError(f"image_size must have shape ({n}, 2) as (height, width); got {tuple(image_size.shape)}")


def cameras_from_opencv_projection(
    R: torch.Tensor,
    tvec: torch.Tensor,
    camera_matrix: torch.Tensor,
    image_size: torch.Tensor,
) -> PerspectiveCameras:
    """``PerspectiveCameras`` (in NDC, with ``image_size`` stored) equivalent to OpenCV cameras.

    A world point projected with ``cv2.projectPoints(X, rvec, tvec, K, None)`` lands at the same pixel as
    ``cameras.transform_points_screen(X)``.

    Args:
        R: (N, 3, 3) OpenCV world-to-camera rotations.
        tvec: (N, 3) OpenCV translations.
        camera_matrix: (N, 3, 3) intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels.
        image_size: (N, 2) image sizes as (height, width).
    Returns:
        PerspectiveCameras of batch size N.
    """
    _check(R, tvec, camera_matrix, image_size)
    focal_length = torch.stack((camera_matrix[:, 0, 0], camera_matrix[:, 1, 1]), dim=-1)  # (N, 2) pixels
    principal_point = camera_matrix[:, :2, 2]  # (N, 2) pixels
    image_size_wh = image_size.to(R).flip(dims=(1,))  # (N, 2) width, height
    scale = image_size_wh.min(dim=1, keepdim=True).values / 2.0  # pixels per NDC unit
    centre = image_size_wh / 2.0
    focal_ndc = focal_length / scale
    principal_ndc = -(principal_point - centre) / scale
    flip = R.new_tensor([-1.0, -1.0, 1.0])
    R_p3d = R.permute(0, 2, 1) * flip  # negate the first two columns
    T_p3d = tvec * flip
    return PerspectiveCameras(
        R=R_p3d,
        T=T_p3d,
        focal_length=focal_ndc,
        principal_point=principal_ndc,
        image_size=image_size,
        device=R.device,
    )


def opencv_from_cameras_projection(
    cameras: PerspectiveCameras, image_size: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """OpenCV ``(R, tvec, camera_matrix)`` of ``PerspectiveCameras``; inverse of
    ``cameras_from_opencv_projection``.

    Args:
        cameras: PerspectiveCameras of batch size N, in NDC (or in screen space: its pixel focal length and
            principal point are then used as they are).
        image_size: (N, 2) or (2,) as (height, width).
    Returns:
        R: (N, 3, 3), tvec: (N, 3), camera_matrix: (N, 3, 3).
    """
    if not isinstance(cameras, PerspectiveCameras):
        raise ValueError(f"cameras must be PerspectiveCameras; got {type(cameras).__name__}")
    n = len(cameras)
    if not torch.is_tensor(image_size):
        image_size = torch.tensor(image_size, device=cameras.device)
    if image_size.dim() == 1:
        image_size = image_size[None]
    if image_size.dim() != 2 or image_size.shape[1] != 2 or image_size.shape[0] not in (1, n):
        raise ValueError(f"image_size must have shape ({n}, 2) as (height, width); got {tuple(image_size.shape)}")
    R_p3d, T_p3d = cameras.R, cameras.T
    flip = R_p3d.new_tensor([-1.0, -1.0, 1.0])
    R = (R_p3d * flip).permute(0, 2, 1)
    tvec = T_p3d * flip
    focal, principal = cameras.focal_length, cameras.principal_point  # (N, 2) each
    if cameras.in_ndc():
        image_size_wh = image_size.to(R).flip(dims=(1,)).expand(n, 2)
        scale = image_size_wh.min(dim=1, keepdim=True).values / 2.0
        centre = image_size_wh / 2.0
        principal = -principal * scale + centre
        focal = focal * scale
    camera_matrix = torch.zeros_like(R)
    camera_matrix[:, 0, 0] = focal[:, 0]
    camera_matrix[:, 1, 1] = focal[:, 1]
    camera_matrix[:, :2, 2] = principal
    camera_matrix[:, 2, 2] = 1.0
    return R, tvec, camera_matrix
