"""Reading RGB-D frames: a colour image, a depth map (16-bit PNG with a scale, NPY, NPZ) and pinhole intrinsics.

Intrinsics come as a 3x3 matrix ``K`` (array, tensor or nested list) or a small JSON file holding one of
``{"fx", "fy", "cx", "cy"}``, ``{"K": [[...], [...], [...]]}`` or Open3D's
``{"intrinsic_matrix": [9 numbers, column-major]}``, each optionally with ``"width"`` and ``"height"``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple, Sequence, Union

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, check_file, numpy_problem, read_error
from inverse3d.io.images import ImageTooLargeError, max_texture_pixels, open_image

PathLike = Union[str, os.PathLike]
_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".exr", ".webp"}


class RGBDImage(NamedTuple):
    """One RGB-D frame, ready for ``inverse3d.ops.unproject_depth_image(image, mask, depth, camera)``.

    Attributes:
        image: (H, W, 3) float32 colours in [0, 1].
        depth: (H, W) float32 depth along the optical axis, in the units of the file divided by ``depth_scale``
            (metres for the usual 16-bit millimetre PNG and ``depth_scale=1000``); 0 where unknown.
        mask: (H, W) bool, True where the depth is valid (positive, finite, and within ``max_depth``).
        camera: ``PerspectiveCameras`` from the intrinsics (``cameras_from_opencv_projection``), or None.
        K: (3, 3) float32 intrinsics matrix, or None.
    """

    image: torch.Tensor
    depth: torch.Tensor
    mask: torch.Tensor
    camera: Any
    K: torch.Tensor | None


def _require_file(path: PathLike, expected: str = "an image file") -> Path:
    p = check_file(path, expected)
    if not os.access(p, os.R_OK):
        raise MeshFileError(os.fspath(path), "permission denied (the file cannot be read)")
    return p


def _read_image(path: Path, max_pixels: int | None = None) -> np.ndarray:
    """Decodes an image after checking its size from the header (images PIL cannot identify, such as EXR, are
    left to imageio unchecked)."""
    import imageio.v3 as iio

    budget = max_texture_pixels(max_pixels)
    try:
        open_image(path, budget, option="max_image_pixels").close()
    except ImageTooLargeError:
        raise
    except MeshFileError:
        pass  # not a format PIL reads: imageio may still know it
    try:
        return np.asarray(iio.imread(path))
    except OSError as err:
        if err.errno is not None:  # a file-system error (permission denied, ...), not a decoder's complaint
            raise read_error(str(path), err) from err
        raise _image_error(path, err) from err
    except Exception as err:  # imageio raises many types for unreadable files
        raise _image_error(path, err) from err


def _image_error(path: Path, err: Exception) -> MeshFileError:
    reason = "no image format recognised" if "find a backend" in str(err) else _first_line(err)
    return MeshFileError(str(path), f"cannot be read as an image ({reason})")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def _load_error(path: Path, what: str, err: Exception) -> MeshFileError:
    """One-line MeshFileError for a file np.load could not read (numpy's own text about pickles suggests loading
    them unsafely: never repeated)."""
    if isinstance(err, OSError) and err.errno is not None:
        return read_error(str(path), err)
    return MeshFileError(str(path), numpy_problem(path.read_bytes()[:8] if path.is_file() else b"", what, err))


def read_color(path: PathLike, max_pixels: int | None = None) -> torch.Tensor:
    """A colour image as (H, W, 3) float32 in [0, 1] (grey is repeated, alpha dropped, 8/16-bit scaled).

    ``max_pixels``: larger images are refused from their header (``ImageTooLargeError``; None:
    ``$INVERSE3D_MAX_TEXTURE_PIXELS``, else 64 Mpx, see ``inverse3d.io.images``)."""
    p = _require_file(path)
    arr = _read_image(p, max_pixels)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise MeshFileError(str(p), f"expected an RGB image, got an array of shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    arr = arr[..., :3]
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def read_depth(path: PathLike, depth_scale: float = 1000.0, key: str | None = None,
               max_pixels: int | None = None) -> torch.Tensor:
    """A depth map as (H, W) float32.

    Integer depth (16-bit PNG, integer NPY) is divided by ``depth_scale`` (1000: millimetres to metres; 5000
    for TUM); floating-point depth (NPY, NPZ, float TIFF/EXR) is taken as it is, already in scene units.

    Args:
        path: ``.png`` (16-bit single channel) or other image, ``.npy``, or ``.npz`` (the array under ``key``,
            else under ``"depth"``, else the only array).
        depth_scale: file units per scene unit, for integer depth.
        key: array name inside an ``.npz``.
        max_pixels: depth images (PNG, ...) with more pixels are refused from their header, as in ``read_color``.
    """
    p = _require_file(path, "a depth file")
    if not (isinstance(depth_scale, (int, float)) and np.isfinite(depth_scale) and depth_scale > 0):
        raise ValueError(f"read_depth: depth_scale must be a positive number, got {depth_scale!r}")
    ext = p.suffix.lower()
    if ext == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as err:
            raise _load_error(p, "a NumPy array", err) from err
    elif ext == ".npz":
        try:
            with np.load(p, allow_pickle=False) as archive:
                names = list(archive.files)
                if key is not None and key not in names:
                    raise MeshFileError(str(p), f"has no array {key!r} (arrays: {names})")
                name = key or ("depth" if "depth" in names else (names[0] if len(names) == 1 else None))
                if name is None:
                    raise MeshFileError(str(p), f"holds several arrays {names}; pass key= or name one 'depth'")
                arr = archive[name]
        except MeshFileError:
            raise
        except Exception as err:
            raise _load_error(p, "a NumPy archive", err) from err
    elif ext in _IMAGE_EXTS:
        arr = _read_image(p, max_pixels)
    else:
        raise MeshFileError(str(p), f"unknown depth format {ext!r} (use .png, .npy or .npz)")
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        hint = " (a colour image? depth PNGs are single-channel 16-bit)" if arr.ndim == 3 else ""
        raise MeshFileError(str(p), f"depth must be a single-channel (H, W) map, got shape {arr.shape}{hint}")
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        depth = arr.astype(np.float64) / depth_scale
    elif np.issubdtype(arr.dtype, np.floating):
        depth = arr.astype(np.float64)
    else:
        raise MeshFileError(str(p), f"depth has unsupported dtype {arr.dtype}")
    return torch.from_numpy(depth.astype(np.float32))


def read_intrinsics(intrinsics: Any) -> tuple[torch.Tensor, tuple[int, int] | None]:
    """A (3, 3) float32 ``K`` and the image size ``(height, width)`` if the source gives one.

    Args:
        intrinsics: a 3x3 matrix (array, tensor, nested list) or a path to a JSON file (module docstring).
    """
    if isinstance(intrinsics, (str, os.PathLike)):
        p = _require_file(intrinsics, "a JSON file")
        try:
            data = json.loads(p.read_bytes())
        except OSError as err:
            raise read_error(str(p), err) from err
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise MeshFileError(str(p), f"cannot be read as JSON ({str(err)[:120]})") from err
        return _intrinsics_from_json(data, str(p))
    K = torch.as_tensor(np.asarray(intrinsics, dtype=np.float64)).to(torch.float32)
    if K.shape != (3, 3):
        raise ValueError(f"read_intrinsics: K must be a 3x3 matrix, got shape {tuple(K.shape)}")
    _check_K(K, "intrinsics")
    return K, None


def _check_K(K: torch.Tensor, where: str) -> None:
    if not torch.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"{where}: intrinsics need finite values and positive fx, fy, got {K.tolist()}")


def _intrinsics_from_json(data: Any, name: str) -> tuple[torch.Tensor, tuple[int, int] | None]:
    if not isinstance(data, dict):
        raise MeshFileError(name, "intrinsics JSON must be an object")
    try:
        if "K" in data:
            K = np.asarray(data["K"], dtype=np.float64).reshape(3, 3)
        elif "intrinsic_matrix" in data:  # Open3D's PinholeCameraIntrinsic: column-major
            K = np.asarray(data["intrinsic_matrix"], dtype=np.float64).reshape(3, 3).T
        elif all(k in data for k in ("fx", "fy", "cx", "cy")):
            K = np.array(
                [[data["fx"], data.get("skew", 0.0), data["cx"]], [0.0, data["fy"], data["cy"]], [0.0, 0.0, 1.0]],
                dtype=np.float64,
            )
        else:
            raise MeshFileError(name, f"needs 'fx', 'fy', 'cx', 'cy' or 'K' or 'intrinsic_matrix'; has {sorted(data)}")
    except (TypeError, ValueError) as err:
        if isinstance(err, MeshFileError):
            raise
        raise MeshFileError(name, f"intrinsics are not numbers of the right shape ({err})") from err
    size = None
    if "width" in data and "height" in data:
        size = (int(data["height"]), int(data["width"]))
    K_t = torch.from_numpy(K).to(torch.float32)
    _check_K(K_t, name)
    return K_t, size


def cameras_from_intrinsics(
    K: torch.Tensor,
    image_size: tuple[int, int],
    extrinsics: torch.Tensor | np.ndarray | Sequence | None = None,
    device: torch.device | str | None = None,
) -> Any:
    """``PerspectiveCameras`` for a pinhole camera with intrinsics ``K`` (via ``cameras_from_opencv_projection``).

    Without ``extrinsics`` the world is the camera's view space in PyTorch3D's convention (camera at the
    origin looking along +Z, +X left, +Y up), so the unprojected points come out upright. With ``extrinsics``,
    an OpenCV world-to-camera ``[R | t]`` (3x4 or 4x4, ``x_cam = R x_world + t``, camera x right, y down),
    the world is that of the extrinsics.

    Args:
        K: (3, 3) intrinsics in pixels (``fx, fy, cx, cy``). As in PyTorch3D, the centre of pixel ``i`` sits at
            ``i + 0.5`` in these units (OpenCV puts it at ``i``: half a pixel apart).
        image_size: ``(height, width)``.
    """
    from inverse3d.renderer import cameras_from_opencv_projection

    if extrinsics is None:
        # OpenCV camera axes (right, down, forward) seen from PyTorch3D view axes (left, up, forward).
        R = torch.diag(torch.tensor([-1.0, -1.0, 1.0]))
        t = torch.zeros(3)
    else:
        E = torch.as_tensor(np.asarray(extrinsics, dtype=np.float64)).to(torch.float32)
        if E.shape not in ((3, 4), (4, 4)):
            raise ValueError(f"cameras_from_intrinsics: extrinsics must be 3x4 or 4x4, got {tuple(E.shape)}")
        R, t = E[:3, :3], E[:3, 3]
    size = torch.tensor([list(image_size)], dtype=torch.float32)
    cams = cameras_from_opencv_projection(R[None], t[None], K[None].to(torch.float32), size)
    return cams.to(device) if device is not None else cams


def load_rgbd(
    color_path: PathLike,
    depth_path: PathLike,
    depth_scale: float = 1000.0,
    intrinsics: Any = None,
    *,
    extrinsics: Any = None,
    max_depth: float | None = None,
    depth_key: str | None = None,
    device: torch.device | str | None = None,
    max_image_pixels: int | None = None,
) -> RGBDImage:
    """Reads one RGB-D frame and, given intrinsics, the camera that took it.

    Args:
        color_path: colour image (PNG, JPEG, ...).
        depth_path: depth map: 16-bit PNG (divided by ``depth_scale``), ``.npy`` or ``.npz`` (see ``read_depth``).
        depth_scale: file units per scene unit for integer depth (1000 for millimetres; TUM uses 5000).
        intrinsics: None, a 3x3 ``K``, or a JSON path (module docstring).
        extrinsics: optional OpenCV world-to-camera 3x4 / 4x4 matrix (see ``cameras_from_intrinsics``).
        max_depth: depths beyond it are marked invalid (mask False).
        depth_key: array name inside an ``.npz``.
        device: where the returned tensors and camera live.
        max_image_pixels: colour and depth images with more pixels are refused from their header, before
            decoding (``ImageTooLargeError``; None: ``$INVERSE3D_MAX_TEXTURE_PIXELS``, else 64 Mpx).

    Returns:
        ``RGBDImage(image, depth, mask, camera, K)``; unpack or pass ``image, mask, depth, camera`` on to
        ``unproject_depth_image``.

    Raises:
        MeshFileError (a ValueError) naming the file: missing, unreadable, wrong shape, colour and depth of
        different sizes, or intrinsics whose width/height differ from the images.
    """
    image = read_color(color_path, max_image_pixels)
    depth = read_depth(depth_path, depth_scale=depth_scale, key=depth_key, max_pixels=max_image_pixels)
    if image.shape[:2] != depth.shape:
        raise MeshFileError(
            os.fspath(depth_path),
            f"depth is {tuple(depth.shape)} (H, W) but the colour image {os.fspath(color_path)} "
            f"is {tuple(image.shape[:2])}",
        )
    mask = torch.isfinite(depth) & (depth > 0)
    if max_depth is not None:
        mask &= depth <= max_depth
    depth = torch.where(mask, depth, torch.zeros_like(depth))
    K = camera = None
    if intrinsics is not None:
        K, size = read_intrinsics(intrinsics)
        if size is not None and size != tuple(depth.shape):
            where = os.fspath(intrinsics) if isinstance(intrinsics, (str, os.PathLike)) else "intrinsics"
            problem = f"are for images of (H, W) = {size}, but {os.fspath(depth_path)} is {tuple(depth.shape)}"
            raise MeshFileError(where, problem)
        camera = cameras_from_intrinsics(K, tuple(depth.shape), extrinsics=extrinsics, device=device)
        K = K.to(device) if device is not None else K
    if device is not None:
        image, depth, mask = image.to(device), depth.to(device), mask.to(device)
    return RGBDImage(image=image, depth=depth, mask=mask, camera=camera, K=K)
