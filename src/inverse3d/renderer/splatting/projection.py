"""Projection of 3D Gaussians to the image plane (EWA splatting, as 3D Gaussian splatting and gsplat do it).

Cameras are gsplat's / OpenCV's: ``viewmats`` (C, 4, 4) world-to-camera with ``x_cam = R x_world + t`` (column
vectors), camera axes +X right, +Y down, +Z forward; ``Ks`` (C, 3, 3) pinhole intrinsics in pixels, pixel (i, j)
covering [i, i + 1) x [j, j + 1) (its centre at i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def quat_scale_to_covar(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """World covariances ``R S S R^T`` of Gaussians.

    Args:
        quats: (..., 4) quaternions (w, x, y, z), normalised here.
        scales: (..., 3) standard deviations along the rotated axes.
    Returns:
        (..., 3, 3) covariances.
    """
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    rot = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(quats.shape[:-1] + (3, 3))  # (..., 3, 3) rotation, columns = Gaussian axes
    m = rot * scales[..., None, :]  # R S
    return m @ m.transpose(-1, -2)


@dataclass(frozen=True)
class Projection:
    """Gaussians seen by C cameras (the stage between ``project_gaussians`` and tile binning).

    Attributes:
        means2d: (C, N, 2) projected centres in pixels.
        conics: (C, N, 3) inverse 2D covariances (a, b, c): the falloff is ``exp(-(a dx^2 + c dy^2) / 2 - b dx dy)``.
        covars2d: (C, N, 3) 2D covariances (xx, xy, yy) including the ``eps2d`` low-pass term.
        depths: (C, N) camera-space z.
        radii: (C, N, 2) int32 screen half-extents (x, y) in pixels, ``ceil(3.33 sigma)``; 0 where culled.
        compensations: (C, N) mip-splatting opacity factors ``sqrt(det / det_eps)`` (ones in "classic" mode).
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    covars2d: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor
    compensations: torch.Tensor


def project_gaussians(
    means: torch.Tensor,
    covars: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
) -> Projection:
    """Projects world Gaussians into C pinhole cameras with the EWA (local affine) approximation.

    The Jacobian of the projection is evaluated at the centre, with x/z and y/z clamped to 1.3 times the field of
    view (as 3DGS does, so Gaussians far outside the image do not blow up); ``eps2d`` is added to the diagonal of
    the 2D covariance (a low-pass filter giving every Gaussian at least about a pixel). Gaussians with depth outside
    (near_plane, far_plane), whose 3.33-sigma box misses the image, or with radius <= radius_clip get radius 0.

    Args:
        means: (N, 3) world centres. covars: (N, 3, 3) world covariances.
        viewmats: (C, 4, 4) world-to-camera (OpenCV). Ks: (C, 3, 3) intrinsics in pixels.
        width, height: image size in pixels.
    Returns:
        a ``Projection`` whose tensors are differentiable (except radii) and finite everywhere, culled entries
        included.
    """
    R = viewmats[:, :3, :3]  # (C, 3, 3)
    t = viewmats[:, :3, 3]  # (C, 3)
    means_c = torch.einsum("cij,nj->cni", R, means) + t[:, None, :]  # (C, N, 3)
    z = means_c[..., 2]  # (C, N)
    valid = (z > near_plane) & (z < far_plane)
    z_safe = torch.where(valid, z, torch.ones_like(z))  # keeps culled entries finite (and their gradients zero)
    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]  # (C, 1)
    cx, cy = Ks[:, 0, 2, None], Ks[:, 1, 2, None]
    u = means_c[..., 0] / z_safe  # (C, N) normalised image coordinates
    v = means_c[..., 1] / z_safe
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    u_c = torch.minimum(torch.maximum(u, -(cx / fx + 0.3 * tan_x)), (width - cx) / fx + 0.3 * tan_x)
    v_c = torch.minimum(torch.maximum(v, -(cy / fy + 0.3 * tan_y)), (height - cy) / fy + 0.3 * tan_y)
    zero = torch.zeros_like(z)
    J = torch.stack([fx / z_safe, zero, -fx * u_c / z_safe, zero, fy / z_safe, -fy * v_c / z_safe], dim=-1)
    J = J.reshape(z.shape + (2, 3))  # (C, N, 2, 3)
    JR = J @ R[:, None]  # (C, N, 2, 3): camera rotation folded into the Jacobian (fewer small matmuls)
    cov2d = JR @ covars[None] @ JR.transpose(-1, -2)  # (C, N, 2, 2)
    sxx, sxy, syy = cov2d[..., 0, 0], 0.5 * (cov2d[..., 0, 1] + cov2d[..., 1, 0]), cov2d[..., 1, 1]
    det_orig = sxx * syy - sxy * sxy
    sxx, syy = sxx + eps2d, syy + eps2d
    det = (sxx * syy - sxy * sxy).clamp_min(1e-10)
    compensations = (det_orig / det).clamp_min(0.0).sqrt()
    conics = torch.stack([syy / det, -sxy / det, sxx / det], dim=-1)  # (C, N, 3)
    means2d = torch.stack([fx * u + cx, fy * v + cy], dim=-1)  # (C, N, 2)
    with torch.no_grad():
        radius = torch.stack([torch.ceil(3.33 * sxx.sqrt()), torch.ceil(3.33 * syy.sqrt())], dim=-1)  # (C, N, 2)
        inside = ((means2d[..., 0] + radius[..., 0] > 0) & (means2d[..., 0] - radius[..., 0] < width)
                  & (means2d[..., 1] + radius[..., 1] > 0) & (means2d[..., 1] - radius[..., 1] < height))
        keep = valid & inside & (radius.amax(dim=-1) > radius_clip)
        radii = (radius * keep[..., None]).to(torch.int32)
    covars2d = torch.stack([sxx, sxy, syy], dim=-1)
    return Projection(means2d, conics, covars2d, z, radii, compensations)
