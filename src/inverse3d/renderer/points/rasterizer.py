"""``PointsRasterizer``: world-space point clouds -> ``PointFragments`` (PyTorch3D semantics).

Points go world -> view (the camera's R, T) -> NDC (its projection); x and y are NDC, z stays the view-space
depth, and :func:`rasterize_points` finds the nearest ``points_per_pixel`` points at every pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from .rasterize_points import rasterize_points

_FAR_AWAY = 1e6  # NDC position given to points that do not project to a finite position


class PointFragments(NamedTuple):
    """What the point rasteriser found at each pixel (PyTorch3D's ``PointFragments``).

    Attributes:
        idx: (N, H, W, K) int64 packed point indices in ascending z, -1 where fewer than K points cover the pixel.
        zbuf: (N, H, W, K) view-space z of those points, -1 where idx is -1.
        dists: (N, H, W, K) squared NDC distance in x/y from the pixel centre to each point, -1 where idx is -1.
    """

    idx: torch.Tensor
    zbuf: torch.Tensor
    dists: torch.Tensor

    def detach(self) -> "PointFragments":
        return PointFragments(self.idx, self.zbuf.detach(), self.dists.detach())


@dataclass
class PointsRasterizationSettings:
    """Options of :class:`PointsRasterizer`.

    Attributes:
        image_size: int or (H, W) in pixels.
        radius: disk radius in NDC units, a float or a tensor (N, P) with one radius per point.
        points_per_pixel: K, the number of nearest points kept per pixel.
        bin_size: 0 for the dense path, None or > 0 for the sparse splatting path (same output).
        max_points_per_bin: accepted for PyTorch3D compatibility; no effect.
    """

    image_size: int | tuple[int, int] = 256
    radius: float | torch.Tensor = 0.01
    points_per_pixel: int = 8
    bin_size: int | None = None
    max_points_per_bin: int | None = None

    def __post_init__(self) -> None:
        """Checks the values (TypeError / ValueError naming the field); tensors of radii are checked when used."""
        from inverse3d.renderer.utils import check_count, check_image_size, check_nonnegative

        check_image_size(self.image_size)
        check_nonnegative(self.radius, "radius")
        check_count(self.points_per_pixel, "points_per_pixel")
        check_count(self.bin_size, "bin_size", minimum=0, optional=True)
        check_count(self.max_points_per_bin, "max_points_per_bin", minimum=0, optional=True)


class PointsRasterizer(nn.Module):
    """Rasterises a batch of point clouds seen by a batch of cameras.

    ``forward(point_clouds, **kwargs)`` takes world-space ``Pointclouds`` and returns :class:`PointFragments`;
    ``cameras`` and ``raster_settings`` given as keyword arguments override the ones given at construction, and
    other keyword arguments (``R``, ``T``, ...) are passed on to the cameras.
    """

    def __init__(self, cameras=None, raster_settings: PointsRasterizationSettings | None = None) -> None:
        super().__init__()
        self.cameras = cameras
        self.raster_settings = raster_settings if raster_settings is not None else PointsRasterizationSettings()

    def transform(self, point_clouds, **kwargs):
        """Returns a copy of ``point_clouds`` with points (x_ndc, y_ndc, z_view), shape (N, P, 3) padded."""
        cameras = kwargs.get("cameras", self.cameras)
        if cameras is None:
            raise ValueError("PointsRasterizer needs cameras, at construction or as forward(..., cameras=...)")
        if len(point_clouds) == 0:
            raise ValueError("PointsRasterizer: the Pointclouds batch is empty (0 clouds); pass at least one cloud "
                             "(a cloud without points renders as background)")
        cam_kwargs = {k: v for k, v in kwargs.items() if k not in ("cameras", "raster_settings", "eps")}
        eps = kwargs.get("eps", None)
        pts_world = point_clouds.points_padded()  # (N, P, 3)
        pts_view = cameras.get_world_to_view_transform(**cam_kwargs).transform_points(pts_world, eps=eps)
        to_ndc = cameras.get_projection_transform(**cam_kwargs).compose(cameras.get_ndc_camera_transform(**cam_kwargs))
        pts_ndc = to_ndc.transform_points(pts_view, eps=eps)  # (N, P, 3)
        xy = pts_ndc[..., :2]
        # A point on the camera plane projects to inf or NaN: move it far outside the image.
        xy = torch.where(torch.isfinite(xy), xy, torch.full_like(xy, _FAR_AWAY))
        pts = torch.cat([xy, pts_view[..., 2:3]], dim=-1)
        return point_clouds.update_padded(pts)

    def to(self, device):  # cameras are not an nn.Module
        if self.cameras is not None:
            self.cameras = self.cameras.to(device)
        return self

    def forward(self, point_clouds, **kwargs) -> PointFragments:
        points_proj = self.transform(point_clouds, **kwargs)
        settings = kwargs.get("raster_settings", self.raster_settings)
        idx, zbuf, dists = rasterize_points(
            points_proj,
            image_size=settings.image_size,
            radius=settings.radius,
            points_per_pixel=settings.points_per_pixel,
            bin_size=settings.bin_size,
            max_points_per_bin=settings.max_points_per_bin,
        )
        return PointFragments(idx=idx, zbuf=zbuf, dists=dists)
