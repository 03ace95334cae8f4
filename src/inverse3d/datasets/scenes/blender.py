"""NeRF-synthetic ("Blender") scenes: ``transforms_{train,val,test}.json`` plus one PNG per view.

Each JSON file holds ``camera_angle_x`` (horizontal field of view in radians; square pixels and a centred principal
point, so ``fx = fy = W / 2 / tan(camera_angle_x / 2)``, ``cx = W / 2``, ``cy = H / 2``) and a list of frames with
``file_path`` (relative to the folder, usually without the ``.png`` suffix: ``./train/r_0``) and
``transform_matrix``, the 4x4 camera-to-world matrix in the OpenGL convention. Images are RGBA; the alpha is the mask
and the colour is composited over white or black (``white_background``).

inverse3d's built-in scenes add two optional keys per frame: ``depth_path`` (``./train/r_0_depth.npy``, (H, W)
float32 depth along the viewing axis, 0 where empty) and ``normal_path`` (``./train/r_0_normal.png``, world-space
unit normals stored as ``(n + 1) / 2`` in RGB with coverage in alpha). Where a JSON file carries nerfstudio-style
``fl_x`` / ``fl_y`` / ``cx`` / ``cy`` (as instant-ngp's exports do), those win over ``camera_angle_x``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.scenes._files import (
    IMAGE_SUFFIXES,
    image_size,
    read_json,
    to_uint8,
    write_json,
    write_npy,
    write_png,
)
from inverse3d.datasets.scenes.conventions import (
    SceneFileNotFoundError,
    SceneFormatError,
    check_pose,
    focal_from_fov,
    rigid_problem,
)
from inverse3d.datasets.scenes.dataset import (
    DEFAULT_CACHE_BYTES,
    Frame,
    SceneDataset,
    check_downscale,
    check_split,
    downscaled_size,
    scale_intrinsics,
)

BLENDER_SPLITS = ("train", "val", "test")


def _array(x: Any, name: str) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def write_blender_split(
    folder: str | Path,
    split: str,
    images: Any,
    c2w: Any,
    camera_angle_x: float,
    depths: Any = None,
    normals: Any = None,
) -> Path:
    """Writes one split in the NeRF-synthetic layout; returns the path of ``folder/transforms_{split}.json``.

    Args:
        folder: the scene folder (created if needed).
        split: the split's name (``"train"``, ``"val"``, ``"test"``, or any other name).
        images: (N, H, W, 4) RGBA (or (N, H, W, 3) RGB) float in [0, 1] or uint8; saved as 8-bit
            ``{split}/r_{i}.png``.
        c2w: (N, 4, 4) camera-to-world matrices, OpenGL convention.
        camera_angle_x: horizontal field of view in radians.
        depths: optional (N, H, W) float depth along the viewing axis, 0 where empty; saved as float32
            ``{split}/r_{i}_depth.npy``.
        normals: optional (N, H, W, 3) world-space unit normals, 0 where empty; saved as ``{split}/r_{i}_normal.png``
            encoding ``(n + 1) / 2`` in RGB and coverage (``|n| > 0``) in alpha.
    Raises:
        ValueError: shapes that do not agree, or a pose that is not a rigid transform.
    """
    folder = Path(folder)
    imgs = to_uint8(images)
    if imgs.ndim != 4 or imgs.shape[-1] not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W, 4) or (N, H, W, 3); got {imgs.shape}")
    n, h, w = imgs.shape[:3]
    poses = _array(c2w, "c2w").astype(np.float64)
    if poses.shape != (n, 4, 4):
        raise ValueError(f"c2w must have shape ({n}, 4, 4); got {poses.shape}")
    for i in range(n):
        problem = rigid_problem(poses[i, :3, :3])
        if problem is not None:
            raise ValueError(f"c2w[{i}]: {problem}")
    if not (isinstance(camera_angle_x, (int, float, np.floating)) and 0 < float(camera_angle_x) < math.pi):
        raise ValueError(f"camera_angle_x must be in (0, pi) radians; got {camera_angle_x!r}")
    d = None if depths is None else _array(depths, "depths").astype(np.float32)
    if d is not None and d.shape != (n, h, w):
        raise ValueError(f"depths must have shape ({n}, {h}, {w}); got {d.shape}")
    nm = None if normals is None else _array(normals, "normals").astype(np.float32)
    if nm is not None and nm.shape != (n, h, w, 3):
        raise ValueError(f"normals must have shape ({n}, {h}, {w}, 3); got {nm.shape}")
    frames = []
    for i in range(n):
        stem = f"{split}/r_{i}"
        write_png(folder / f"{stem}.png", imgs[i])
        frame: dict[str, Any] = {
            "file_path": f"./{stem}",
            "rotation": 0.0,
            "transform_matrix": poses[i].tolist(),
        }
        if d is not None:
            write_npy(folder / f"{stem}_depth.npy", d[i])
            frame["depth_path"] = f"./{stem}_depth.npy"
        if nm is not None:
            covered = np.linalg.norm(nm[i], axis=-1) > 0
            rgba = np.concatenate([np.clip((nm[i] + 1.0) * 0.5, 0.0, 1.0), covered[..., None]], axis=-1)
            rgba[~covered, :3] = 0.0
            write_png(folder / f"{stem}_normal.png", rgba)
            frame["normal_path"] = f"./{stem}_normal.png"
        frames.append(frame)
    return write_json(folder / f"transforms_{split}.json", {"camera_angle_x": float(camera_angle_x), "frames": frames})


def _resolve_image(root: Path, file_path: str) -> Path:
    p = root / file_path
    if p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() == ".npy":
        return p
    if p.is_file():
        return p
    for suffix in (".png", ".jpg", ".jpeg", ".exr"):
        q = p.with_name(p.name + suffix)
        if q.is_file():
            return q
    return p.with_name(p.name + ".png")


def _number(meta: dict, key: str, path: Path, frame: object = None) -> float:
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SceneFormatError(path, f"{key!r} must be a number; got {value!r}", frame)
    return float(value)


def _split_frames(root: Path, split: str, downscale: int) -> list[Frame]:
    path = root / f"transforms_{split}.json"
    if not path.is_file():
        raise SceneFileNotFoundError(path, f"no transforms file for split {split!r}")
    meta = read_json(path)
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list):
        raise SceneFormatError(path, "expected a JSON object with a 'frames' list")
    has_angle = "camera_angle_x" in meta
    if not has_angle and "fl_x" not in meta:
        raise SceneFormatError(path, "no 'camera_angle_x' (horizontal field of view in radians)")
    angle = _number(meta, "camera_angle_x", path) if has_angle else None
    if angle is not None and not 0 < angle < math.pi:
        raise SceneFormatError(path, f"camera_angle_x must be in (0, pi) radians; got {angle}")
    frames = []
    for i, fr in enumerate(meta["frames"]):
        if not isinstance(fr, dict) or "file_path" not in fr or "transform_matrix" not in fr:
            raise SceneFormatError(path, "frame needs 'file_path' and 'transform_matrix'", i)
        c2w = check_pose(fr["transform_matrix"], path, i)
        image = _resolve_image(root, str(fr["file_path"]))
        h0, w0 = image_size(image, i)
        both = {**meta, **fr}
        if "fl_x" in both:
            fx = _number(both, "fl_x", path, i)
            fy = _number(both, "fl_y", path, i) if "fl_y" in both else fx
        else:
            fx = fy = focal_from_fov(angle, w0)
            if "camera_angle_y" in both:
                fy = focal_from_fov(_number(both, "camera_angle_y", path, i), h0)
        cx = _number(both, "cx", path, i) if "cx" in both else w0 / 2.0
        cy = _number(both, "cy", path, i) if "cy" in both else h0 / 2.0
        h, w = downscaled_size(h0, w0, downscale)
        fx, fy, cx, cy = scale_intrinsics(fx, fy, cx, cy, (h0, w0), (h, w))
        extras = {}
        for key, attr in (("depth_path", "depth_path"), ("normal_path", "normal_path"), ("mask_path", "mask_path")):
            if fr.get(key):
                extra = root / str(fr[key])
                if not extra.is_file():
                    raise SceneFileNotFoundError(extra, f"{key} file not found", i)
                extras[attr] = extra
        frames.append(Frame(
            image_path=image, c2w=c2w, fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h,
            camera_model="SIMPLE_PINHOLE" if fx == fy else "PINHOLE", name=str(i), **extras,
        ))
    return frames


def read_blender(
    path: str | Path,
    split: str = "train",
    downscale: int = 1,
    white_background: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> SceneDataset:
    """One split of a NeRF-synthetic scene (``split="all"``: train, val and test, those present, in that order).

    Args:
        path: the folder holding ``transforms_{split}.json`` (or one of those files).
        downscale: 1, 2, 4 or 8; images are resized by area averaging when loaded (NeRF-synthetic ships none).
        white_background: composite RGBA over white (NeRF's ``--white_bkgd``) or black.
    """
    root = Path(path)
    if root.is_file():
        root = root.parent
    split = check_split(split)
    downscale = check_downscale(downscale)
    if split == "all":
        present = [s for s in BLENDER_SPLITS if (root / f"transforms_{s}.json").is_file()]
        if not present:
            raise SceneFileNotFoundError(root / "transforms_train.json", "no transforms_{train,val,test}.json")
        frames = [f for s in present for f in _split_frames(root, s, downscale)]
    else:
        frames = _split_frames(root, split, downscale)
    return SceneDataset(
        root, split, "blender", frames, white_background=white_background, downscale=downscale,
        cache_bytes=cache_bytes,
    )
