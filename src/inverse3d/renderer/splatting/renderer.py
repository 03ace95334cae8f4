"""PyTorch3D-style splatting: ``render_gaussians(gaussians, cameras, image_size)`` and ``GaussianRasterizer``.

Takes a ``Gaussians`` scene and our cameras (``FoVPerspectiveCameras`` / ``PerspectiveCameras``, PyTorch3D
conventions), converts the cameras with ``viewmats_from_cameras`` and calls ``rasterization`` once for colour and
expected depth ("RGB+ED"), returning colour, alpha, expected depth and median depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
from torch import nn

from inverse3d.renderer.splatting.cameras import ImageSize, _image_size, viewmats_from_cameras
from inverse3d.renderer.splatting.rasterization import rasterization
from inverse3d.structures.gaussians import Gaussians


@dataclass(frozen=True)
class GaussianRender:
    """What ``render_gaussians`` returns (C cameras, H x W pixels).

    Attributes:
        images: (C, H, W, 3) colours, background composited behind.
        alphas: (C, H, W, 1) coverage ``1 - T_final``.
        depths: (C, H, W, 1) expected camera depth ``sum w z / alpha`` (0 where alpha is 0).
        median_depths: (C, H, W, 1) depth of the last Gaussian met while the transmittance is above 0.5
            (0 where none).
        meta: ``rasterization``'s meta dict ("means2d" (C, N, 2), "radii", "depths", ...).
    """

    images: torch.Tensor
    alphas: torch.Tensor
    depths: torch.Tensor
    median_depths: torch.Tensor
    meta: dict = field(repr=False)


@dataclass
class GaussianRasterizationSettings:
    """Options of ``GaussianRasterizer`` (the arguments of ``render_gaussians`` after the first three)."""

    image_size: ImageSize = 256
    """(height, width) or an int for square images."""
    background: Union[float, Sequence[float], torch.Tensor, None] = None
    """colour behind the Gaussians: a float, (3,) or (C, 3); None for black."""
    sh_degree: Optional[int] = None
    """SH degree to evaluate (default: all the scene has)."""
    near_plane: float = 0.01
    """Gaussians nearer than this (camera depth) are culled."""
    far_plane: float = 1e10
    """Gaussians farther than this are culled."""
    eps2d: float = 0.3
    """low-pass term added to the 2D covariances, in squared pixels."""
    radius_clip: float = 0.0
    """Gaussians with a screen radius <= this many pixels are culled."""
    tile_size: Optional[int] = None
    """tile side in pixels (None: the default of ``rasterization``); the images do not depend on it."""
    rasterize_mode: str = "classic"
    """"classic" or "antialiased" (mip-splatting's opacity compensation)."""


def render_gaussians(
    gaussians: Gaussians,
    cameras,
    image_size: ImageSize,
    background: Union[float, Sequence[float], torch.Tensor, None] = None,
    sh_degree: Optional[int] = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    radius_clip: float = 0.0,
    tile_size: Optional[int] = None,
    rasterize_mode: str = "classic",
) -> GaussianRender:
    """Renders a Gaussian scene from C of our cameras (differentiable w.r.t. every Gaussian parameter).

    Args:
        gaussians: the scene (N Gaussians).
        cameras: ``FoVPerspectiveCameras`` or ``PerspectiveCameras`` of batch size C.
        image_size: (height, width), or an int for square images.
        background: a float, (3,) or (C, 3) colour composited behind; None for black.
        sh_degree: SH degree to evaluate, <= ``gaussians.sh_degree`` (default: that degree).
        near_plane, far_plane, eps2d, radius_clip, tile_size, rasterize_mode: as in ``rasterization``.
    Returns:
        GaussianRender.
    """
    if not isinstance(gaussians, Gaussians):
        raise ValueError(f"render_gaussians: gaussians must be Gaussians; got {type(gaussians).__name__}")
    n_cams = len(cameras)
    size = _image_size(image_size, n_cams, gaussians.device)
    if bool((size != size[0]).any()):
        raise ValueError("render_gaussians: all cameras must share one image size")
    height, width = int(size[0, 0]), int(size[0, 1])
    degree = gaussians.sh_degree if sh_degree is None else sh_degree
    if not 0 <= degree <= gaussians.sh_degree:
        raise ValueError(f"render_gaussians: sh_degree must be in 0..{gaussians.sh_degree}; got {sh_degree}")
    viewmats, Ks = viewmats_from_cameras(cameras, (height, width))
    viewmats, Ks = viewmats.to(gaussians.means), Ks.to(gaussians.means)
    backgrounds = None
    if background is not None:
        bg = torch.as_tensor(background, dtype=gaussians.dtype, device=gaussians.device)
        if bg.dim() == 0:
            bg = bg.expand(3)
        if bg.shape not in ((3,), (n_cams, 3)):
            raise ValueError(f"render_gaussians: background must be a float, (3,) or ({n_cams}, 3); got "
                             f"{tuple(bg.shape)}")
        backgrounds = bg.expand(n_cams, 3)
    colors, alphas, meta = rasterization(
        gaussians.means, gaussians.quats, gaussians.scales, gaussians.opacities, gaussians.sh, viewmats, Ks,
        width, height, near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip, eps2d=eps2d,
        sh_degree=degree, tile_size=tile_size, backgrounds=backgrounds, render_mode="RGB+ED",
        rasterize_mode=rasterize_mode, return_median_depth=True,
    )
    depths = torch.where(alphas > 0, colors[..., 3:], torch.zeros_like(alphas))
    return GaussianRender(colors[..., :3], alphas, depths, meta["render_median_depths"], meta)


class GaussianRasterizer(nn.Module):
    """``render_gaussians`` as a module holding its settings and, optionally, cameras (PyTorch3D's pattern).

    ``GaussianRasterizer(cameras, GaussianRasterizationSettings(image_size=(90, 160)))(gaussians)`` returns a
    ``GaussianRender``; ``cameras=`` and any setting can be overridden per call as keyword arguments.
    """

    def __init__(self, cameras=None, raster_settings: Optional[GaussianRasterizationSettings] = None) -> None:
        super().__init__()
        self.cameras = cameras
        self.raster_settings = raster_settings or GaussianRasterizationSettings()

    def forward(self, gaussians: Gaussians, **kwargs) -> GaussianRender:
        cameras = kwargs.pop("cameras", self.cameras)
        if cameras is None:
            raise ValueError("GaussianRasterizer: no cameras given (pass cameras= here or to the constructor)")
        options = dict(vars(self.raster_settings))
        unknown = set(kwargs) - set(options)
        if unknown:
            raise ValueError(f"GaussianRasterizer: unknown options {sorted(unknown)}")
        options.update(kwargs)
        image_size = options.pop("image_size")
        return render_gaussians(gaussians, cameras, image_size, **options)

    def to(self, *args, **kwargs) -> "GaussianRasterizer":
        if self.cameras is not None:
            self.cameras = self.cameras.to(*args, **kwargs)
        return super().to(*args, **kwargs)
