"""Point rasterisation and compositing (PyTorch3D's ``renderer.points``; its CUDA-only Pulsar is not provided)."""

from inverse3d import _absent
from inverse3d._lazy import attach

_EXPORTS = {
    "AlphaCompositor": ".compositor",
    "NormWeightedCompositor": ".compositor",
    "rasterize_points": ".rasterize_points",
    "PointFragments": ".rasterizer",
    "PointsRasterizationSettings": ".rasterizer",
    "PointsRasterizer": ".rasterizer",
    "PointsRenderer": ".renderer",
}

# PyTorch3D names deliberately absent: reading one raises an ImportError that says why.
_NOT_PROVIDED = {"PulsarPointsRenderer": _absent.PULSAR, "pulsar": _absent.PULSAR}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS, _NOT_PROVIDED)
