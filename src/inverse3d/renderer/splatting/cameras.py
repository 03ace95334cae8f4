"""Our PyTorch3D-style cameras <-> gsplat's ``(viewmats, Ks)`` (OpenCV world-to-camera matrices and pixel intrinsics).

PyTorch3D: row vectors ``X_view = X_world @ R + T`` with +X left, +Y up, +Z forward, NDC with the shorter image side
in [-1, 1]. gsplat / OpenCV: ``x_cam = R_cv x_world + t`` with +X right, +Y down, +Z forward, pixel intrinsics.
The conversion is ``inverse3d.renderer.opencv_from_cameras_projection`` (``R_cv = R^T`` with its first two rows
negated, ``t = T`` with x and y negated, focal length and principal point rescaled to pixels); FoV cameras go
through the ``PerspectiveCameras`` with the same projection. A point lands on the same pixel either way, and the
pixel grids agree (pixel (i, j) centred at (i + 0.5, j + 0.5) in gsplat's coordinates).
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

from inverse3d.renderer.camera_conversions import cameras_from_opencv_projection, opencv_from_cameras_projection
from inverse3d.renderer.cameras import FoVPerspectiveCameras, PerspectiveCameras

ImageSize = Union[int, Sequence[int], torch.Tensor]


def _image_size(image_size: ImageSize, n: int, device) -> torch.Tensor:
    """(n, 2) long (height, width) from an int, a (height, width) pair or an (n, 2) tensor."""
    size = torch.as_tensor(image_size if not isinstance(image_size, int) else (image_size, image_size),
                           device=device)
    if size.dim() == 1:
        size = size[None].expand(n, 2)
    if size.shape != (n, 2) or size.is_floating_point() and not bool((size == size.round()).all()):
        raise ValueError(f"image_size must be an int, (height, width) or an ({n}, 2) tensor; got {image_size!r}")
    if bool((size <= 0).any()):
        raise ValueError(f"image_size must be positive; got {image_size!r}")
    return size.long()


def viewmats_from_cameras(cameras, image_size: ImageSize) -> tuple[torch.Tensor, torch.Tensor]:
    """gsplat's ``(viewmats, Ks)`` of our cameras.

    Args:
        cameras: ``FoVPerspectiveCameras`` or ``PerspectiveCameras`` (NDC or screen space) of batch size C.
        image_size: (height, width), an int for square images, or a (C, 2) tensor.
    Returns:
        viewmats (C, 4, 4) world-to-camera (OpenCV), Ks (C, 3, 3) in pixels; differentiable w.r.t. R and T.
    """
    n = len(cameras)
    size = _image_size(image_size, n, cameras.device)
    if isinstance(cameras, FoVPerspectiveCameras):
        m = cameras.get_projection_transform().get_matrix()  # (C, 4, 4) row-vector layout: x_ndc = m00 x/z + m20
        cameras = PerspectiveCameras(
            focal_length=torch.stack([m[:, 0, 0], m[:, 1, 1]], dim=-1),
            principal_point=torch.stack([m[:, 2, 0], m[:, 2, 1]], dim=-1),
            R=cameras.R, T=cameras.T, device=cameras.device,
        )
    elif not isinstance(cameras, PerspectiveCameras):
        raise ValueError(f"cameras must be FoVPerspectiveCameras or PerspectiveCameras; got {type(cameras).__name__}")
    R, tvec, K = opencv_from_cameras_projection(cameras, size)
    viewmats = torch.zeros(n, 4, 4, dtype=R.dtype, device=R.device)
    viewmats[:, :3, :3] = R
    viewmats[:, :3, 3] = tvec
    viewmats[:, 3, 3] = 1.0
    return viewmats, K


def cameras_from_viewmats(viewmats: torch.Tensor, Ks: torch.Tensor, image_size: ImageSize) -> PerspectiveCameras:
    """``PerspectiveCameras`` (NDC, image size stored) equivalent to gsplat cameras.

    Args:
        viewmats: (C, 4, 4) world-to-camera (OpenCV). Ks: (C, 3, 3) pixel intrinsics.
        image_size: (height, width), an int, or a (C, 2) tensor.
    """
    if not torch.is_tensor(viewmats) or viewmats.dim() != 3 or viewmats.shape[1:] != (4, 4):
        raise ValueError(f"viewmats must have shape (C, 4, 4); got {getattr(viewmats, 'shape', type(viewmats))}")
    n = viewmats.shape[0]
    if not torch.is_tensor(Ks) or Ks.shape != (n, 3, 3):
        raise ValueError(f"Ks must have shape ({n}, 3, 3); got {getattr(Ks, 'shape', type(Ks))}")
    size = _image_size(image_size, n, viewmats.device)
    return cameras_from_opencv_projection(viewmats[:, :3, :3], viewmats[:, :3, 3], Ks, size)
