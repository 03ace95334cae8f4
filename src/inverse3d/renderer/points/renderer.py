"""``PointsRenderer``: rasterise point clouds, weight each point by its distance, composite its features.

As in PyTorch3D, a point at squared NDC distance ``d2`` from a pixel centre weighs ``1 - d2 / r**2`` there (1 at
the centre, 0 at the rim), and the compositor blends the features of the K nearest points with these weights.
"""

from __future__ import annotations

import torch
from torch import nn


class PointsRenderer(nn.Module):
    """A points rasteriser followed by a compositor (PyTorch3D's ``PointsRenderer``).

    ``forward(point_clouds, **kwargs)`` takes world-space ``Pointclouds`` with features (P, C) and returns images
    (N, H, W, C); keyword arguments reach the rasteriser (cameras, raster_settings, R, T) and the compositor
    (background_color). Differentiable with respect to point positions (through the distances) and features.
    """

    def __init__(self, rasterizer: nn.Module, compositor: nn.Module) -> None:
        super().__init__()
        self.rasterizer = rasterizer
        self.compositor = compositor

    def to(self, device):  # the rasteriser's cameras are not an nn.Module
        self.rasterizer = self.rasterizer.to(device)
        self.compositor = self.compositor.to(device)
        return self

    def forward(self, point_clouds, **kwargs) -> torch.Tensor:
        features = point_clouds.features_packed()  # (P, C)
        if features is None:
            raise ValueError("PointsRenderer needs point features (e.g. colours): Pointclouds(points, features=...)")
        fragments = self.rasterizer(point_clouds, **kwargs)
        settings = kwargs.get("raster_settings", self.rasterizer.raster_settings)
        r2 = _radius_squared(settings.radius, point_clouds, fragments.idx)  # scalar or (N, H, W, K)
        weights = (1 - fragments.dists / r2).clamp(0.0, 1.0)  # (N, H, W, K)
        images = self.compositor(
            fragments.idx.permute(0, 3, 1, 2),
            weights.permute(0, 3, 1, 2),
            features.permute(1, 0),
            **kwargs,
        )  # (N, C, H, W)
        return images.permute(0, 2, 3, 1)


def _radius_squared(radius, point_clouds, idx: torch.Tensor) -> float | torch.Tensor:
    """r**2 as a float, or per pixel and slot (N, H, W, K) when the radius is given per point."""
    if not torch.is_tensor(radius) and not isinstance(radius, (list, tuple)):
        return float(radius) ** 2
    from .rasterize_points import format_radius

    r = format_radius(radius, point_clouds)  # (P,)
    if r.numel() == 0:
        return 1.0
    return (r[idx.clamp(min=0)] ** 2).clamp(min=torch.finfo(r.dtype).tiny)
