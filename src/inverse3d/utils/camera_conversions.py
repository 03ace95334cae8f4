"""PyTorch3D's ``utils.camera_conversions`` path; the conversions live in ``renderer.camera_conversions``.

``pulsar_from_cameras_projection`` and ``pulsar_from_opencv_projection`` are not provided: their output only feeds
the CUDA-only Pulsar renderer, which inverse3d does not have.
"""

from inverse3d import _absent
from inverse3d._lazy import not_provided
from inverse3d.renderer.camera_conversions import cameras_from_opencv_projection, opencv_from_cameras_projection

__all__ = ["cameras_from_opencv_projection", "opencv_from_cameras_projection"]


def __getattr__(name: str) -> object:
    if name in ("pulsar_from_cameras_projection", "pulsar_from_opencv_projection"):
        raise not_provided(f"{__name__}.{name}", _absent.PULSAR_CAMERAS, attribute=True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
