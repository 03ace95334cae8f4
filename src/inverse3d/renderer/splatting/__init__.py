"""Differentiable 3D Gaussian splatting in pure PyTorch (tile binning, depth sort, front-to-back compositing).

Two entry points: ``rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height, ...)`` with
gsplat's arguments, conventions and returns, and ``render_gaussians(gaussians, cameras, image_size, ...)`` /
``GaussianRasterizer`` taking ``Gaussians`` and our PyTorch3D-style cameras.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "rasterization": ".rasterization",
    "spherical_harmonics": ".sh",
    "quat_scale_to_covar": ".projection",
    "project_gaussians": ".projection",
    "isect_tiles": ".tiles",
    "composite_tiles": ".composite",
    "viewmats_from_cameras": ".cameras",
    "cameras_from_viewmats": ".cameras",
    "GaussianRasterizationSettings": ".renderer",
    "GaussianRasterizer": ".renderer",
    "GaussianRender": ".renderer",
    "render_gaussians": ".renderer",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
