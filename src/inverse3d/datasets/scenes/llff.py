"""LLFF forward-facing captures: ``poses_bounds.npy`` plus ``images/`` (and ``images_{2,4,8}/``), with NeRF's NDC.

``poses_bounds.npy`` is an (N, 17) float array, one row per image in the sorted order of the files in ``images/``:
the first 15 numbers are a 3x5 matrix ``[R | t | hwf]`` (row-major) whose rotation columns are the camera's
[down, right, back] axes in world coordinates (LLFF's order), ``t`` the camera centre and ``hwf`` = (height, width,
focal length in pixels) of the full-resolution images; the last two are the near and far depth bounds of the scene in
that view. The principal point is the image centre and the pixels are square. The OpenGL camera-to-world matrix is
``[right, up, back] = [R[:, 1], -R[:, 0], R[:, 2]]``, as NeRF's loader reorders it.

``ndc=False`` (default): the poses stay in the file's world frame; ``near = 0.9 * min(bounds)``,
``far = max(bounds)`` (NeRF's choice for ``--no_ndc``).

``ndc=True`` reproduces NeRF's forward-facing pipeline (``load_llff_data`` with ``recenter=True``,
``bd_factor=0.75``): the scene is scaled by ``1 / (0.75 * min(bounds))`` so the nearest bound lies at 1 / 0.75,
the poses are recentred so that the average camera (mean centre, summed viewing and up axes) becomes the identity
(looking along -Z), ``rays`` returns ``ndc_rays`` with ``near=1``, and ``near, far = 0, 1``. The applied world change
(scale then rigid) is ``meta["world_transform"]`` (4x4, original world -> new world), the rescaled bounds
``meta["bounds"]``.

Views: every 8th (0, 8, ...) is ``test`` (and ``val``), the rest ``train`` (NeRF's ``--llffhold 8``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.scenes._files import image_size, to_uint8, write_npy, write_png
from inverse3d.datasets.scenes.conventions import (
    SceneFileNotFoundError,
    SceneFormatError,
    c2w_from_cameras,
    intrinsics_from_cameras,
    rigid_problem,
)
from inverse3d.datasets.scenes.dataset import (
    DEFAULT_CACHE_BYTES,
    Frame,
    SceneDataset,
    check_downscale,
    check_split,
    downscaled_size,
    every_nth_split,
    scale_intrinsics,
)

BD_FACTOR = 0.75
"""NeRF's ``bd_factor``: in NDC mode the nearest bound is moved to ``1 / BD_FACTOR``."""


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def read_poses_bounds(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(OpenGL c2w (N, 4, 4), hwf (N, 3), bounds (N, 2)) from ``poses_bounds.npy``, every pose checked rigid."""
    if not path.is_file():
        raise SceneFileNotFoundError(path, "poses_bounds.npy not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SceneFormatError(path, f"cannot read .npy ({why})") from None
    if arr.ndim != 2 or arr.shape[1] != 17 or arr.shape[0] < 1 or arr.dtype.kind not in "fi":
        raise SceneFormatError(path, f"expected an (N, 17) array of numbers; got shape {arr.shape}, dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    poses = arr[:, :15].reshape(-1, 3, 5)
    bounds = arr[:, 15:17]
    n = len(arr)
    c2w = np.tile(np.eye(4), (n, 1, 1))
    c2w[:, :3, 0] = poses[:, :, 1]  # right
    c2w[:, :3, 1] = -poses[:, :, 0]  # up = -down
    c2w[:, :3, 2] = poses[:, :, 2]  # back
    c2w[:, :3, 3] = poses[:, :, 3]
    for i in range(n):
        if not np.all(np.isfinite(arr[i])):
            raise SceneFormatError(path, "row has non-finite entries", i)
        problem = rigid_problem(c2w[i, :3, :3])
        if problem is not None:
            raise SceneFormatError(path, problem, i)
        h, w, f = poses[i, :, 4]
        if h < 1 or w < 1 or f <= 0:
            raise SceneFormatError(path, f"hwf must be positive; got {poses[i, :, 4].tolist()}", i)
        if not 0 < bounds[i, 0] <= bounds[i, 1]:
            raise SceneFormatError(path, f"bounds must satisfy 0 < near <= far; got {bounds[i].tolist()}", i)
    return c2w, poses[:, :, 4], bounds


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def average_pose(c2w: np.ndarray) -> np.ndarray:
    """NeRF's ``poses_avg``: the (4, 4) OpenGL pose at the mean camera centre whose back axis is the normalised sum of
    the back axes and whose up axis is closest to the summed up axes."""
    centre = c2w[:, :3, 3].mean(0)
    back = _normalize(c2w[:, :3, 2].sum(0))
    up = c2w[:, :3, 1].sum(0)
    right = _normalize(np.cross(up, back))
    up = _normalize(np.cross(back, right))
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, up, back, centre
    return m


def read_llff(
    path: str | Path,
    split: str = "train",
    downscale: int = 1,
    white_background: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    ndc: bool = False,
) -> SceneDataset:
    """One split of an LLFF scene (module docstring); ``path`` is the folder or its ``poses_bounds.npy``."""
    root = Path(path)
    npy = root if root.is_file() else root / "poses_bounds.npy"
    root = npy.parent
    split = check_split(split)
    downscale = check_downscale(downscale)
    c2w, hwf, bounds = read_poses_bounds(npy)
    n = len(c2w)
    folder = root / "images"
    if not folder.is_dir():
        raise SceneFileNotFoundError(folder, "images folder not found")
    files = _image_files(folder)
    if len(files) != n:
        raise SceneFormatError(npy, f"has {n} poses but {folder} holds {len(files)} images")
    small_dir = root / f"images_{downscale}"
    small_files = _image_files(small_dir) if downscale > 1 and small_dir.is_dir() else None
    if small_files is not None and len(small_files) != n:
        raise SceneFormatError(npy, f"has {n} poses but {small_dir} holds {len(small_files)} images")
    world = np.eye(4)
    near, far = 0.9 * float(bounds.min()), float(bounds.max())
    if ndc:
        scale = 1.0 / (bounds.min() * BD_FACTOR)
        c2w = c2w.copy()
        c2w[:, :3, 3] *= scale
        bounds = bounds * scale
        recentre = np.linalg.inv(average_pose(c2w))
        c2w = recentre @ c2w
        world = recentre @ np.diag([scale, scale, scale, 1.0])
        near, far = 0.0, 1.0
    frames = []
    for i in every_nth_split(n, split):
        h0, w0, f = hwf[i]
        image = files[i]
        h_img, w_img = image_size(image, i)
        if abs(w_img / w0 - h_img / h0) > 1.0 / min(h0, w0) + 1e-9:
            raise SceneFormatError(image, f"image is {w_img}x{h_img}, not in the aspect of hwf {w0:g}x{h0:g}", i)
        fx, fy, cx, cy = scale_intrinsics(f, f, w0 / 2.0, h0 / 2.0, (h0, w0), (h_img, w_img))  # as NeRF: hwf -> file
        if small_files is not None:
            image = small_files[i]
            h, w = image_size(image, i)
        else:
            h, w = downscaled_size(h_img, w_img, downscale)
        fx, fy, cx, cy = scale_intrinsics(fx, fy, cx, cy, (h_img, w_img), (h, w))
        frames.append(Frame(
            image_path=image, c2w=c2w[i], fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h,
            camera_model="SIMPLE_PINHOLE", name=str(i),
        ))
    return SceneDataset(
        root, split, "llff", frames, near=near, far=far, white_background=white_background, downscale=downscale,
        ndc=ndc, cache_bytes=cache_bytes, meta={"bounds": bounds[every_nth_split(n, split)], "world_transform": world},
    )


def write_llff(folder: str | Path, images: Any, cameras: Any, bounds: Any) -> Path:
    """Writes an LLFF scene: ``folder/images/00000.png`` ... and ``folder/poses_bounds.npy``; returns the latter.

    Args:
        images: (N, H, W, 3 or 4) float in [0, 1] or uint8.
        cameras: our PerspectiveCameras (N views); LLFF stores one focal length and a centred principal point, so
            ``fx == fy`` and ``(cx, cy) == (W / 2, H / 2)`` are required (to 1e-6 relative).
        bounds: (N, 2) or (2,) near and far depth bounds.
    """
    folder = Path(folder)
    imgs = to_uint8(images)
    n = len(cameras)
    if imgs.ndim != 4 or imgs.shape[0] != n or imgs.shape[-1] not in (3, 4):
        raise ValueError(f"images must have shape ({n}, H, W, 3 or 4); got {imgs.shape}")
    h, w = imgs.shape[1:3]
    intr = {k: v.detach().cpu().double().numpy() for k, v in intrinsics_from_cameras(cameras, (h, w)).items()}
    tol = 1e-6 * max(h, w)
    if np.abs(intr["fx"] - intr["fy"]).max() > 1e-6 * intr["fx"].max():
        raise ValueError("LLFF stores one focal length per view; the cameras have fx != fy")
    if np.abs(intr["cx"] - w / 2.0).max() > tol or np.abs(intr["cy"] - h / 2.0).max() > tol:
        raise ValueError("LLFF stores a centred principal point; the cameras' (cx, cy) is not (W/2, H/2)")
    b = np.asarray(bounds.detach().cpu() if torch.is_tensor(bounds) else bounds, dtype=np.float64)
    b = np.broadcast_to(b, (n, 2)) if b.shape == (2,) else b
    if b.shape != (n, 2):
        raise ValueError(f"bounds must have shape ({n}, 2) or (2,); got {b.shape}")
    c2w = c2w_from_cameras(cameras, "opengl").detach().cpu().double().numpy()
    poses = np.zeros((n, 3, 5))
    poses[:, :, 0] = -c2w[:, :3, 1]  # down
    poses[:, :, 1] = c2w[:, :3, 0]  # right
    poses[:, :, 2] = c2w[:, :3, 2]  # back
    poses[:, :, 3] = c2w[:, :3, 3]
    poses[:, :, 4] = np.stack([np.full(n, float(h)), np.full(n, float(w)), intr["fx"]], axis=1)
    for i in range(n):
        write_png(folder / "images" / f"{i:05d}.png", imgs[i])
    return write_npy(folder / "poses_bounds.npy", np.concatenate([poses.reshape(n, 15), b], axis=1))
