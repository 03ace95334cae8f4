"""Primitive shapes, parametric and implicit surfaces, camera conversions."""

from inverse3d import _absent
from inverse3d._lazy import attach

_EXPORTS = {
    "ico_sphere": ".ico_sphere",
    "cube": ".primitives",
    "tetrahedron": ".primitives",
    "torus": ".primitives",
    "uv_sphere": ".primitives",
    "plane": ".primitives",
    "sample_parametric_surface": ".surfaces",
    "parametric_sphere": ".surfaces",
    "parametric_torus": ".surfaces",
    "implicit_to_mesh": ".surfaces",
    "sphere_sdf": ".surfaces",
    "torus_sdf": ".surfaces",
    "implicit_sphere": ".surfaces",
    "implicit_torus": ".surfaces",
    "checkerboard": ".checkerboard",
    "cameras_from_opencv_projection": "inverse3d.renderer.camera_conversions",
    "opencv_from_cameras_projection": "inverse3d.renderer.camera_conversions",
}

# PyTorch3D names deliberately absent: reading one raises an ImportError that says why.
_NOT_PROVIDED = {
    "pulsar_from_cameras_projection": _absent.PULSAR_CAMERAS,
    "pulsar_from_opencv_projection": _absent.PULSAR_CAMERAS,
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS, _NOT_PROVIDED)
