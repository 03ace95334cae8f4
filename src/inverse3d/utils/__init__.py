"""Primitive shapes, parametric and implicit surfaces, camera conversions."""

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
    "cameras_from_opencv_projection": "inverse3d.renderer.camera_conversions",
    "opencv_from_cameras_projection": "inverse3d.renderer.camera_conversions",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
