"""RGB-D images to coloured point clouds, for any camera (FoV / intrinsics perspective, orthographic)."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from inverse3d.structures import Pointclouds


def ndc_pixel_centers(
    height: int, width: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """NDC ``(x, y)`` of every pixel centre of an ``height x width`` image (CONVENTIONS.md).

    +X points left and +Y up; the shorter side spans ``[-1, 1]``: column ``i`` sits at
    ``x = (W - 2 i - 1) / S`` and row ``j`` at ``y = (H - 2 j - 1) / S`` with ``S = min(H, W)``.

    Returns:
        (H, W, 2) float, ``out[j, i] = (x, y)``.
    """
    s = float(min(height, width))
    x = (width - 2 * torch.arange(width, device=device, dtype=dtype) - 1) / s  # (W,)
    y = (height - 2 * torch.arange(height, device=device, dtype=dtype) - 1) / s  # (H,)
    return torch.stack(torch.broadcast_tensors(x[None, :], y[:, None]), dim=-1)


def _unproject(cameras: Any, xy_depth: torch.Tensor) -> torch.Tensor:
    """``cameras.unproject_points`` with NDC input for every camera type, world coordinates out."""
    params = inspect.signature(cameras.unproject_points).parameters
    if "from_ndc" in params:  # cameras defined in screen or NDC space (PerspectiveCameras, OrthographicCameras)
        return cameras.unproject_points(xy_depth, world_coordinates=True, from_ndc=True)
    return cameras.unproject_points(xy_depth, world_coordinates=True)  # FoV cameras take NDC


def _depth_hw(depth: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
    """(..., H, W) or (..., H, W, 1) -> (..., H, W)."""
    if depth.dim() == len(shape) + 1 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if tuple(depth.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (or with a trailing 1), got {tuple(depth.shape)}")
    return depth


def _valid_mask(depth: torch.Tensor, mask: torch.Tensor | None, name: str) -> torch.Tensor:
    """Pixels to keep: mask > 0.5 (when given) and a finite, positive depth."""
    keep = torch.isfinite(depth) & (depth > 0)
    if mask is not None:
        mask = _depth_hw(mask, tuple(depth.shape), name)
        keep = keep & (mask > 0.5 if mask.dtype != torch.bool else mask)
    return keep


def unproject_depth_image(
    image: torch.Tensor, mask: torch.Tensor | None, depth: torch.Tensor, camera: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lifts the pixels of one RGB-D view to world points with their colours (the course's helper).

    Every pixel centre (its NDC position, ``ndc_pixel_centers``) with its depth goes through
    ``camera.unproject_points``, so any camera works: ``FoVPerspectiveCameras``, ``PerspectiveCameras``
    (NDC or screen space, e.g. built from intrinsics), ``FoVOrthographicCameras``, ``OrthographicCameras``.
    Depth is view-space z (what ``MeshRasterizer`` puts in ``zbuf``), not the distance along the ray.
    Differentiable with respect to ``depth`` and ``image``.

    Args:
        image: (H, W, C) float colours (C = 3 for RGB, any C works).
        mask: (H, W) or (H, W, 1): pixels with mask > 0.5 are kept; ``None`` keeps every pixel.
        depth: (H, W) or (H, W, 1) view-space depth; pixels with depth <= 0 or not finite are always dropped
            (the rasteriser's -1 background).
        camera: a cameras batch of one view.

    Returns:
        points: (P, 3) world coordinates of the kept pixels, row-major order.
        rgb: (P, C) their colours.
    """
    if image.dim() != 3:
        raise ValueError(f"unproject_depth_image: image must be (H, W, C), got {tuple(image.shape)}")
    H, W = image.shape[:2]
    depth = _depth_hw(depth, (H, W), "unproject_depth_image: depth")
    keep = _valid_mask(depth, mask, "unproject_depth_image: mask")
    if len(camera) != 1:
        raise ValueError(f"unproject_depth_image: camera must hold one view, got {len(camera)}")
    points, rgb = _lift(image[None], depth[None], keep[None], camera)
    return points[0], rgb[0]


def _lift(
    images: torch.Tensor, depths: torch.Tensor, keep: torch.Tensor, cameras: Any
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(N, H, W, C), (N, H, W), (N, H, W) bool -> per view: points (P_n, 3) and colours (P_n, C)."""
    N, H, W = depths.shape
    device = depths.device
    xy = ndc_pixel_centers(H, W, device=device, dtype=depths.dtype)  # (H, W, 2)
    xy_depth = torch.cat([xy[None].expand(N, H, W, 2), depths[..., None]], dim=-1)  # (N, H, W, 3)
    world = _unproject(cameras, xy_depth.reshape(N, H * W, 3)).reshape(N, H, W, 3)
    images = images.to(device)
    points = [world[n][keep[n]] for n in range(N)]
    colors = [images[n][keep[n]] for n in range(N)]
    return points, colors


def rgbd_to_pointclouds(
    images: torch.Tensor,
    depths: torch.Tensor,
    cameras: Any,
    masks: torch.Tensor | None = None,
    join: bool = True,
) -> Pointclouds:
    """Unprojects N views (one camera each) and joins them into one coloured point cloud.

    Args:
        images: (N, H, W, C) float colours (e.g. RGB or the RGB of an RGBA render).
        depths: (N, H, W) or (N, H, W, 1) view-space depth (``fragments.zbuf[..., 0]``; <= 0 means no surface).
        cameras: a batch of N cameras, view ``n`` seen by camera ``n``.
        masks: optional (N, H, W) or (N, H, W, 1); pixels with mask > 0.5 are kept (e.g. the alpha channel).
        join: True (default) gives one cloud of all views; False gives one cloud per view.

    Returns:
        ``Pointclouds`` with ``points`` in world coordinates and ``features`` the colours (C channels).
    """
    if images.dim() != 4:
        raise ValueError(f"rgbd_to_pointclouds: images must be (N, H, W, C), got {tuple(images.shape)}")
    N, H, W = images.shape[:3]
    depths = _depth_hw(depths, (N, H, W), "rgbd_to_pointclouds: depths")
    keep = _valid_mask(depths, masks, "rgbd_to_pointclouds: masks")
    if len(cameras) != N:
        raise ValueError(f"rgbd_to_pointclouds: {N} views need {N} cameras, got {len(cameras)}")
    points, colors = _lift(images, depths, keep, cameras)
    if join:
        points, colors = [torch.cat(points, dim=0)], [torch.cat(colors, dim=0)]
    return Pointclouds(points=points, features=colors)
