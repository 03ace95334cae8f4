"""PyTorch3D's deprecated camera names, still exported by ``pytorch3d.renderer``.

Each is a function that warns (``PendingDeprecationWarning``, PyTorch3D's text) and builds the current class from its
old argument names: ``OpenGLPerspectiveCameras`` -> ``FoVPerspectiveCameras``, ``OpenGLOrthographicCameras`` ->
``FoVOrthographicCameras`` (``top, bottom, left, right`` -> ``max_y, min_y, min_x, max_x``),
``SfMPerspectiveCameras`` -> ``PerspectiveCameras``, ``SfMOrthographicCameras`` -> ``OrthographicCameras``.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

Device = str | torch.device

# renderer/cameras.py re-exports these functions at its end, so this module imports it only when called.
_R = torch.eye(3)[None]  # (1, 3, 3) default pose, as in cameras.py
_T = torch.zeros(1, 3)  # (1, 3)


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated,\n        Use {new} instead.\n        {old} will be removed in future releases.",
        PendingDeprecationWarning,
        stacklevel=3,
    )


def OpenGLPerspectiveCameras(  # noqa: N802 (PyTorch3D's name)
    znear: Any = 1.0,
    zfar: Any = 100.0,
    aspect_ratio: Any = 1.0,
    fov: Any = 60.0,
    degrees: bool = True,
    R: torch.Tensor = _R,
    T: torch.Tensor = _T,
    device: Device = "cpu",
) -> "FoVPerspectiveCameras":
    """Deprecated: ``FoVPerspectiveCameras`` with the same arguments."""
    from inverse3d.renderer.cameras import FoVPerspectiveCameras

    _warn("OpenGLPerspectiveCameras", "FoVPerspectiveCameras")
    return FoVPerspectiveCameras(
        znear=znear, zfar=zfar, aspect_ratio=aspect_ratio, fov=fov, degrees=degrees, R=R, T=T, device=device
    )


def OpenGLOrthographicCameras(  # noqa: N802
    znear: Any = 1.0,
    zfar: Any = 100.0,
    top: Any = 1.0,
    bottom: Any = -1.0,
    left: Any = -1.0,
    right: Any = 1.0,
    scale_xyz: Any = ((1.0, 1.0, 1.0),),
    R: torch.Tensor = _R,
    T: torch.Tensor = _T,
    device: Device = "cpu",
) -> "FoVOrthographicCameras":
    """Deprecated: ``FoVOrthographicCameras(max_y=top, min_y=bottom, max_x=right, min_x=left, ...)``."""
    from inverse3d.renderer.cameras import FoVOrthographicCameras

    _warn("OpenGLOrthographicCameras", "FoVOrthographicCameras")
    return FoVOrthographicCameras(
        znear=znear, zfar=zfar, max_y=top, min_y=bottom, max_x=right, min_x=left, scale_xyz=scale_xyz,
        R=R, T=T, device=device,
    )


def SfMPerspectiveCameras(  # noqa: N802
    focal_length: Any = 1.0,
    principal_point: Any = ((0.0, 0.0),),
    R: torch.Tensor = _R,
    T: torch.Tensor = _T,
    device: Device = "cpu",
) -> "PerspectiveCameras":
    """Deprecated: ``PerspectiveCameras`` in NDC with the same arguments."""
    from inverse3d.renderer.cameras import PerspectiveCameras

    _warn("SfMPerspectiveCameras", "PerspectiveCameras")
    return PerspectiveCameras(focal_length=focal_length, principal_point=principal_point, R=R, T=T, device=device)


def SfMOrthographicCameras(  # noqa: N802
    focal_length: Any = 1.0,
    principal_point: Any = ((0.0, 0.0),),
    R: torch.Tensor = _R,
    T: torch.Tensor = _T,
    device: Device = "cpu",
) -> "OrthographicCameras":
    """Deprecated: ``OrthographicCameras`` in NDC with the same arguments."""
    from inverse3d.renderer.cameras import OrthographicCameras

    _warn("SfMOrthographicCameras", "OrthographicCameras")
    return OrthographicCameras(focal_length=focal_length, principal_point=principal_point, R=R, T=T, device=device)


def try_get_projection_transform(cameras: Any, cameras_kwargs: dict) -> Any:
    """``cameras.get_projection_transform(**cameras_kwargs)``, or None for cameras without one (e.g. fisheye)."""
    try:
        return cameras.get_projection_transform(**cameras_kwargs)
    except NotImplementedError:
        return None
