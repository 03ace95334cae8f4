"""Camera conventions of the multi-view formats, and the one conversion to and from our cameras.

Three conventions meet here; each is a camera-to-world matrix ``c2w`` (4x4, column vectors,
``X_world = c2w[:3, :3] @ x_cam + c2w[:3, 3]``) whose columns are the camera's axes in world coordinates:

- ``"opencv"`` (OpenCV, COLMAP, our nerfstudio reader's internal form): +X right, +Y down, +Z forward (the camera
  looks along its +Z);
- ``"opengl"`` (OpenGL, Blender, NeRF-synthetic, nerfstudio's ``transform_matrix``, instant-ngp): +X right, +Y up,
  +Z backward (the camera looks along its -Z). ``c2w_opencv = c2w_opengl @ diag(1, -1, -1, 1)``;
- ours (PyTorch3D's, ``docs/CONVENTIONS.md``): row vectors ``X_view = X_world @ R + T``, +X left, +Y up, +Z forward.

The OpenCV world-to-camera pose is ``R_cv = c2w_opencv[:3, :3]^T``, ``t_cv = -R_cv @ c2w_opencv[:3, 3]``, and
``inverse3d.renderer.camera_conversions.cameras_from_opencv_projection`` (PyTorch3D's function) turns it into ours:
``R = R_cv^T`` with its first two columns negated, ``T = t_cv`` with x and y negated.

Intrinsics are pixels: ``u = fx * x / z + cx``, ``v = fy * y / z + cy`` for a point ``(x, y, z)`` in OpenCV camera
coordinates, with the image's top-left *corner* at ``(0, 0)`` (so the centre of pixel column ``i`` is at
``u = i + 0.5``, as COLMAP, nerfstudio and PyTorch3D's screen space have it; an image-centred camera has
``cx = W / 2``). The cameras we return are ``PerspectiveCameras`` in screen space (``in_ndc=False``) with these
pixel values as ``focal_length`` / ``principal_point`` and ``image_size = (H, W)`` per view, so that
``cameras.transform_points_screen(X)[..., :2]`` is exactly ``(u, v)`` and the rasteriser samples pixel ``(row, col)``
at ``(col + 0.5, row + 0.5)``.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch

from inverse3d.renderer.camera_conversions import cameras_from_opencv_projection, opencv_from_cameras_projection
from inverse3d.renderer.cameras import PerspectiveCameras

Convention = Literal["opengl", "opencv"]

RIGID_TOLERANCE = 1e-3
"""Largest ``|R^T R - I|`` entry and ``|det R - 1|`` accepted for the rotation of a pose matrix."""

_GL_TO_CV = (1.0, -1.0, -1.0)  # c2w_cv[:, :3] = c2w_gl[:, :3] * _GL_TO_CV (flip the camera's y and z axes)


class SceneFormatError(ValueError):
    """A multi-view scene file that cannot be read as asked; the message is one line naming the file (and frame).

    Attributes:
        path: the file, as a string.
        frame: the frame the problem is in (an index, written "frame 3", or a label such as "camera 2"), or None.
        problem: what is wrong, without the file and frame.
    """

    def __init__(self, path: object, problem: str, frame: object = None) -> None:
        self.path = str(path)
        self.frame = frame
        self.problem = problem
        if frame is None or frame == "":
            where = self.path
        elif isinstance(frame, (int, np.integer)) or str(frame).isdigit():
            where = f"{self.path} frame {frame}"
        else:  # a label such as "camera 3" or "image 12 (IMG_0012.JPG)"
            where = f"{self.path} {frame}"
        self.message = f"{where}: {problem}"
        super().__init__(self.message)
        self.args = (self.message,)

    def __str__(self) -> str:
        return self.message


class SceneFileNotFoundError(SceneFormatError, FileNotFoundError):
    """A missing file of a scene: catchable as SceneFormatError, ValueError, FileNotFoundError and OSError."""

    def __init__(self, path: object, problem: str = "no such file", frame: object = None) -> None:
        super().__init__(path, problem, frame)
        self.filename = str(path)
        self.strerror = problem

    def __str__(self) -> str:
        return self.message


def _check_convention(convention: str) -> None:
    if convention not in ("opengl", "opencv"):
        raise ValueError(f"convention must be 'opengl' or 'opencv'; got {convention!r}")


def _as_c2w(c2w: Any, dtype: torch.dtype | None, device: Any) -> torch.Tensor:
    """(N, 4, 4) or (N, 3, 4) floating tensor (numpy and lists become float32 unless ``dtype`` is given)."""
    if torch.is_tensor(c2w):
        t = c2w.to(device=device if device is not None else c2w.device)
        if not t.is_floating_point():
            t = t.float()
        if dtype is not None:
            t = t.to(dtype)
    else:
        t = torch.as_tensor(np.asarray(c2w, dtype=np.float64), dtype=dtype or torch.float32, device=device)
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[1:] not in ((4, 4), (3, 4)):
        raise ValueError(f"c2w must have shape (N, 4, 4) or (N, 3, 4); got {tuple(t.shape)}")
    return t


def rigid_problem(rotation: np.ndarray | torch.Tensor, tol: float = RIGID_TOLERANCE) -> str | None:
    """Why a (3, 3) matrix is not a rotation (``"rotation not orthonormal ..."``, ``"det ..."``), or None if it is.

    Args:
        rotation: (3, 3) the rotation block of a pose matrix.
        tol: largest accepted ``|R^T R - I|`` entry and ``|det R - 1|``.
    """
    r = np.asarray(rotation.detach().cpu() if torch.is_tensor(rotation) else rotation, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        return "pose matrix has non-finite entries"
    err = float(np.abs(r.T @ r - np.eye(3)).max())
    if err > tol:
        return f"pose matrix is not a rigid transform: rotation not orthonormal (|R^T R - I| = {err:.3g} > {tol:g})"
    det = float(np.linalg.det(r))
    if abs(det - 1.0) > tol:
        return f"pose matrix is not a rigid transform: det(R) = {det:.4g}, expected 1"
    return None


def check_pose(c2w: Any, path: object, frame: object = None, tol: float = RIGID_TOLERANCE) -> np.ndarray:
    """``c2w`` as a (4, 4) float64 array after checking it is a rigid transform; else ``SceneFormatError``.

    Args:
        c2w: (4, 4) or (3, 4) camera-to-world matrix (any convention; rigidity does not depend on it).
        path, frame: named in the error message.
    """
    try:
        m = np.asarray(c2w, dtype=np.float64)
    except (TypeError, ValueError):
        raise SceneFormatError(path, "pose matrix is not a 4x4 array of numbers", frame) from None
    if m.shape == (3, 4):
        m = np.concatenate([m, [[0.0, 0.0, 0.0, 1.0]]], axis=0)
    if m.shape != (4, 4):
        raise SceneFormatError(path, f"pose matrix must be 4x4 (or 3x4); got shape {m.shape}", frame)
    if not np.all(np.isfinite(m)):
        raise SceneFormatError(path, "pose matrix has non-finite entries", frame)
    if np.abs(m[3] - [0.0, 0.0, 0.0, 1.0]).max() > tol:
        raise SceneFormatError(path, f"pose matrix is not a rigid transform: last row is {m[3].tolist()}", frame)
    problem = rigid_problem(m[:3, :3], tol)
    if problem is not None:
        raise SceneFormatError(path, problem, frame)
    return m


def opengl_to_opencv(c2w: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Camera-to-world (..., 4, 4) or (..., 3, 4) from the OpenGL/Blender convention to OpenCV's (and back: the
    change is its own inverse): the camera's y and z axes (columns 1 and 2) are negated."""
    flip = [1.0, -1.0, -1.0, 1.0][: c2w.shape[-1]]
    if torch.is_tensor(c2w):
        return c2w * c2w.new_tensor(flip)
    return np.asarray(c2w) * np.asarray(flip, dtype=np.asarray(c2w).dtype)


opencv_to_opengl = opengl_to_opencv


def _per_view(value: Any, n: int, name: str, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(value.detach().cpu() if torch.is_tensor(value) else value, dtype=np.float64))
    t = t.to(dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},); got {tuple(t.shape)}")
    return t


def cameras_from_c2w(
    c2w: Any,
    fx: Any,
    fy: Any,
    cx: Any,
    cy: Any,
    width: Any,
    height: Any,
    convention: Convention = "opengl",
    dtype: torch.dtype | None = None,
    device: Any = None,
) -> PerspectiveCameras:
    """Our cameras (``PerspectiveCameras`` in screen space) from camera-to-world matrices and pixel intrinsics.

    Args:
        c2w: (N, 4, 4) (or (N, 3, 4), or one (4, 4)) camera-to-world matrices in ``convention``; a tensor keeps its
            dtype and device, a numpy array or list becomes float32 (or ``dtype``).
        fx, fy: focal lengths in pixels, scalars or (N,).
        cx, cy: principal point in pixels (image top-left corner at (0, 0), +x right, +y down), scalars or (N,).
        width, height: image size in pixels, scalars or (N,).
        convention: ``"opengl"`` (Blender, NeRF-synthetic, nerfstudio) or ``"opencv"`` (COLMAP).
    Returns:
        PerspectiveCameras of batch size N with ``in_ndc=False``, ``focal_length`` (N, 2) = (fx, fy),
        ``principal_point`` (N, 2) = (cx, cy), ``image_size`` (N, 2) = (H, W); ``transform_points_screen`` of a world
        point gives its pixel ``(u, v)``.
    Raises:
        ValueError: bad shapes, or a pose whose rotation is not orthonormal with determinant 1 (within 1e-3).
    """
    _check_convention(convention)
    m = _as_c2w(c2w, dtype, device)
    n = m.shape[0]
    for i in range(n):
        problem = rigid_problem(m[i, :3, :3])
        if problem is not None:
            raise ValueError(f"c2w[{i}]: {problem}")
    if convention == "opengl":
        m = opengl_to_opencv(m)
    rot_c2w = m[:, :3, :3]  # (N, 3, 3) OpenCV camera axes as columns
    centre = m[:, :3, 3]  # (N, 3) camera centres in world
    R_cv = rot_c2w.transpose(1, 2)  # (N, 3, 3) world -> OpenCV camera
    t_cv = -(R_cv @ centre[..., None])[..., 0]  # (N, 3)
    fx_, fy_, cx_, cy_ = (_per_view(v, n, k, m) for v, k in ((fx, "fx"), (fy, "fy"), (cx, "cx"), (cy, "cy")))
    w_, h_ = _per_view(width, n, "width", m), _per_view(height, n, "height", m)
    K = torch.zeros((n, 3, 3), dtype=m.dtype, device=m.device)
    K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = fx_, fy_, cx_, cy_, 1.0
    image_size = torch.stack([h_, w_], dim=1)  # (N, 2) as (H, W)
    # The rotation / translation change to PyTorch3D axes is PyTorch3D's own function; its NDC intrinsics are
    # replaced by the pixel ones (the same projection, kept in pixels so the numbers survive a round trip exactly).
    ours = cameras_from_opencv_projection(R_cv, t_cv, K, image_size)
    return PerspectiveCameras(
        R=ours.R,
        T=ours.T,
        focal_length=torch.stack([fx_, fy_], dim=1),
        principal_point=torch.stack([cx_, cy_], dim=1),
        in_ndc=False,
        image_size=image_size.round().long().to(m.device),
        device=m.device,
    )


def c2w_from_cameras(cameras: PerspectiveCameras, convention: Convention = "opengl") -> torch.Tensor:
    """Camera-to-world matrices of our cameras; inverse of ``cameras_from_c2w`` for the pose.

    Args:
        cameras: PerspectiveCameras (or any cameras with ``R`` (N, 3, 3) and ``T`` (N, 3)) of batch size N.
        convention: ``"opengl"`` or ``"opencv"``.
    Returns:
        (N, 4, 4) tensor, dtype and device of ``cameras.R``.
    """
    _check_convention(convention)
    R, T = cameras.R, cameras.T  # (N, 3, 3), (N, 3)
    if isinstance(cameras, PerspectiveCameras):  # PyTorch3D's inverse conversion
        size = cameras.image_size if cameras.image_size is not None else torch.ones(2, device=R.device)
        R_cv, t_cv, _ = opencv_from_cameras_projection(cameras, size)  # world -> OpenCV camera
    else:  # the same axis change for other cameras with R, T
        flip = R.new_tensor([-1.0, -1.0, 1.0])
        R_cv, t_cv = (R * flip).transpose(1, 2), T * flip
    n = R.shape[0]
    c2w = torch.zeros((n, 4, 4), dtype=R.dtype, device=R.device)
    c2w[:, :3, :3] = R_cv.transpose(1, 2)
    c2w[:, :3, 3] = -(R_cv.transpose(1, 2) @ t_cv[..., None])[..., 0]
    c2w[:, 3, 3] = 1.0
    if convention == "opengl":
        c2w = opengl_to_opencv(c2w)
    return c2w


def intrinsics_from_cameras(cameras: PerspectiveCameras, image_size: Sequence[int] | None = None) -> dict:
    """Pixel intrinsics of our cameras: ``{"fx", "fy", "cx", "cy", "width", "height"}``, each an (N,) tensor.

    Args:
        cameras: PerspectiveCameras in screen space or in NDC.
        image_size: (H, W) when ``cameras`` has none stored.
    """
    size = cameras.image_size if image_size is None else torch.as_tensor(image_size, device=cameras.device)
    if size is None:
        raise ValueError("cameras have no image_size; pass image_size=(H, W)")
    size = size.reshape(-1, 2).expand(len(cameras), 2)
    _, _, K = opencv_from_cameras_projection(cameras, size)
    size = size.to(K.dtype)
    return {"fx": K[:, 0, 0], "fy": K[:, 1, 1], "cx": K[:, 0, 2], "cy": K[:, 1, 2],
            "width": size[:, 1], "height": size[:, 0]}


def focal_from_fov(fov: float, size: float) -> float:
    """Focal length in pixels of a pinhole camera whose field of view ``fov`` (radians) spans ``size`` pixels."""
    return 0.5 * size / float(np.tan(0.5 * fov))


def fov_from_focal(focal: float, size: float) -> float:
    """Field of view in radians spanned by ``size`` pixels at focal length ``focal`` pixels."""
    return 2.0 * float(np.arctan(0.5 * size / focal))
