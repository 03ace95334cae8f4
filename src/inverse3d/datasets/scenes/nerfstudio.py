"""nerfstudio scenes: one ``transforms.json`` with intrinsics, distortion and OpenGL camera-to-world matrices.

Intrinsics (``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``, ``camera_model``) and distortion (``k1 k2 k3 k4 p1 p2``)
sit at the top level and may be overridden per frame. Each frame has ``file_path`` (relative to the folder) and
``transform_matrix`` (4x4, or 3x4, camera-to-world in the OpenGL convention), optionally ``mask_path`` and
``depth_file_path`` (scaled by the top-level ``depth_unit_scale_factor``, 1e-3 by default, as nerfstudio does).
``applied_transform`` (the 3x4 transform ``ns-process-data`` applied to the original COLMAP world) is kept in
``SceneDataset.meta["applied_transform"]`` as a 4x4 matrix, and ``ply_file_path`` (a point cloud in this file's world
frame) becomes ``points`` / ``points_rgb``.

Splits: ``train_filenames`` / ``val_filenames`` / ``test_filenames`` when present (``val`` and ``test`` stand in for
each other when only one is given, as nerfstudio's single eval split); otherwise the frames, sorted by file path as
nerfstudio sorts them, have every 8th (0, 8, 16, ...) in ``val`` and ``test`` and the rest in ``train``
(nerfstudio's ``eval_mode="interval"``). Unlike nerfstudio's dataparser we neither re-orient, re-centre nor re-scale
the poses: the world frame is the file's.

Camera models read: ``OPENCV`` (nerfstudio's default, also when ``camera_model`` is absent), ``PINHOLE``,
``SIMPLE_PINHOLE``, ``SIMPLE_RADIAL``, ``RADIAL``; others (fisheye, equirectangular) are refused with the file and
frame named.
"""

from __future__ import annotations

import io
import math
import posixpath
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from inverse3d.datasets.scenes._files import image_size, read_json, relative, write_bytes, write_json, write_png
from inverse3d.datasets.scenes.conventions import (
    SceneFileNotFoundError,
    SceneFormatError,
    c2w_from_cameras,
    check_pose,
    intrinsics_from_cameras,
)
from inverse3d.datasets.scenes.dataset import (
    DEFAULT_CACHE_BYTES,
    Frame,
    SceneDataset,
    check_downscale,
    check_split,
    downscaled_file,
    downscaled_size,
    every_nth_split,
    scale_intrinsics,
)

CAMERA_MODELS = ("OPENCV", "PINHOLE", "SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL")
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
_INTRINSIC_KEYS = ("fl_x", "fl_y", "cx", "cy", "w", "h", "camera_model") + DISTORTION_KEYS


def _num(value: Any, key: str, path: Path, frame: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SceneFormatError(path, f"{key!r} must be a finite number; got {value!r}", frame)
    return float(value)


def _norm(name: str) -> str:
    return posixpath.normpath(str(name).replace("\\", "/"))


def _frame(root: Path, path: Path, meta: dict, fr: Any, i: object, downscale: int) -> Frame:
    if not isinstance(fr, dict) or "file_path" not in fr or "transform_matrix" not in fr:
        raise SceneFormatError(path, "frame needs 'file_path' and 'transform_matrix'", i)
    c2w = check_pose(fr["transform_matrix"], path, i)
    both = {k: meta[k] for k in _INTRINSIC_KEYS if k in meta}
    both.update({k: fr[k] for k in _INTRINSIC_KEYS if k in fr})
    model = str(both.get("camera_model", "OPENCV")).upper()
    if model not in CAMERA_MODELS:
        raise SceneFormatError(path, f"unsupported camera_model {model!r} (supported: {', '.join(CAMERA_MODELS)})", i)
    if "fl_x" not in both:
        raise SceneFormatError(path, "no focal length 'fl_x' (top level or in the frame)", i)
    image = root / str(fr["file_path"])
    if not image.is_file():
        raise SceneFileNotFoundError(image, "image file not found", i)
    h_img, w_img = image_size(image, i)
    w0 = int(_num(both["w"], "w", path, i)) if "w" in both else w_img
    h0 = int(_num(both["h"], "h", path, i)) if "h" in both else h_img
    if (h_img, w_img) != (h0, w0):
        raise SceneFormatError(image, f"image is {w_img}x{h_img} but {path.name} says w={w0}, h={h0}", i)
    fx = _num(both["fl_x"], "fl_x", path, i)
    fy = _num(both["fl_y"], "fl_y", path, i) if "fl_y" in both else fx
    cx = _num(both["cx"], "cx", path, i) if "cx" in both else w0 / 2.0
    cy = _num(both["cy"], "cy", path, i) if "cy" in both else h0 / 2.0
    if fx <= 0 or fy <= 0:
        raise SceneFormatError(path, f"focal lengths must be positive; got fl_x={fx}, fl_y={fy}", i)
    distortion = {k: _num(both[k], k, path, i) for k in DISTORTION_KEYS if k in both}
    if model in ("PINHOLE", "SIMPLE_PINHOLE") and any(distortion.values()):
        raise SceneFormatError(path, f"camera_model {model} has no distortion but the file gives {distortion}", i)
    small = downscaled_file(image, downscale)
    if small is not None:
        image = small
        h, w = image_size(small, i)
    else:
        h, w = downscaled_size(h0, w0, downscale)
    fx, fy, cx, cy = scale_intrinsics(fx, fy, cx, cy, (h0, w0), (h, w))
    extras = {}
    for key, attr in (("mask_path", "mask_path"), ("depth_file_path", "depth_path")):
        if fr.get(key):
            extra = root / str(fr[key])
            small_extra = downscaled_file(extra, downscale)
            extra = small_extra if small_extra is not None else extra
            if not extra.is_file():
                raise SceneFileNotFoundError(extra, f"{key} file not found", i)
            extras[attr] = extra
    scale = _num(meta.get("depth_unit_scale_factor", 1e-3), "depth_unit_scale_factor", path, None)
    return Frame(
        image_path=image, c2w=c2w, fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h, camera_model=model,
        distortion=distortion, name=str(i), depth_scale=scale, **extras,
    )


def _split_indices(path: Path, meta: dict, names: list[str], split: str) -> list[int]:
    lists = {s: meta.get(f"{s}_filenames") for s in ("train", "val", "test")}
    if split == "all":
        return list(range(len(names)))
    if not any(v is not None for v in lists.values()):
        return every_nth_split(len(names), split)
    wanted = lists[split]
    if wanted is None and split in ("val", "test"):
        wanted = lists["test" if split == "val" else "val"]
    if wanted is None:
        raise SceneFormatError(path, f"has split file lists but no '{split}_filenames'")
    if not isinstance(wanted, list):
        raise SceneFormatError(path, f"'{split}_filenames' must be a list of file paths")
    index = {_norm(n): i for i, n in enumerate(names)}
    out = []
    for name in wanted:
        if _norm(name) not in index:
            raise SceneFormatError(path, f"'{split}_filenames' names {name!r}, which no frame has")
        out.append(index[_norm(name)])
    return out


def _points(root: Path, path: Path, meta: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not meta.get("ply_file_path"):
        return None, None
    from inverse3d.io.errors import MeshFileError
    from inverse3d.io.ply_io import read_pointcloud

    ply = root / str(meta["ply_file_path"])
    if not ply.is_file():
        raise SceneFileNotFoundError(ply, f"point cloud named by {path.name} ('ply_file_path') not found")
    try:
        cloud = read_pointcloud(ply)
    except MeshFileError as e:
        raise SceneFormatError(ply, e.problem) from None
    return cloud["points"], cloud["features"] if cloud["features_are_colors"] else None


def read_nerfstudio(
    path: str | Path,
    split: str = "train",
    downscale: int = 1,
    white_background: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> SceneDataset:
    """One split of a nerfstudio scene (module docstring); ``path`` is the folder or its ``transforms.json``.

    Args:
        downscale: 1, 2, 4 or 8; ``images_N/NAME`` beside ``images/NAME`` is used when present, else images are
            resized when loaded.
    """
    root = Path(path)
    json_path = root if root.is_file() else root / "transforms.json"
    root = json_path.parent
    split = check_split(split)
    downscale = check_downscale(downscale)
    meta = read_json(json_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list) or not meta["frames"]:
        raise SceneFormatError(json_path, "expected a JSON object with a non-empty 'frames' list")
    for i, fr in enumerate(meta["frames"]):
        if not isinstance(fr, dict) or not isinstance(fr.get("file_path"), str):
            raise SceneFormatError(json_path, "frame needs a 'file_path' string", i)
    order = sorted(range(len(meta["frames"])), key=lambda i: meta["frames"][i]["file_path"])
    names = [meta["frames"][i]["file_path"] for i in order]
    chosen = [order[j] for j in _split_indices(json_path, meta, names, split)]
    frames = [_frame(root, json_path, meta, meta["frames"][i], i, downscale) for i in chosen]
    has_lists = any(f"{s}_filenames" in meta for s in ("train", "val", "test"))
    extra: dict[str, Any] = {"split_from": "filenames" if has_lists else "every 8th"}
    if "applied_transform" in meta:
        m = np.asarray(meta["applied_transform"], dtype=np.float64)
        if m.shape == (3, 4):
            m = np.concatenate([m, [[0.0, 0.0, 0.0, 1.0]]])
        if m.shape != (4, 4):
            raise SceneFormatError(json_path, f"'applied_transform' must be 3x4 or 4x4; got shape {m.shape}")
        extra["applied_transform"] = m
    points, rgb = _points(root, json_path, meta)
    return SceneDataset(
        root, split, "nerfstudio", frames, points=points, points_rgb=rgb, white_background=white_background,
        downscale=downscale, cache_bytes=cache_bytes, meta=extra,
    )


def write_nerfstudio(
    folder: str | Path,
    images: Any,
    cameras: Any,
    *,
    distortion: dict[str, float] | Sequence[dict[str, float]] | None = None,
    camera_model: str | None = None,
    splits: dict[str, Sequence[int]] | None = None,
    points: Any = None,
    points_rgb: Any = None,
    applied_transform: Any = None,
) -> Path:
    """Writes a nerfstudio scene; returns the path of ``folder/transforms.json``.

    Args:
        images: (N, H, W, 3 or 4) float in [0, 1] or uint8, saved as ``images/frame_00001.png`` ...
        cameras: our PerspectiveCameras (N views; screen space, or NDC with ``image_size`` set).
        distortion: one dict of ``k1 k2 k3 k4 p1 p2`` for all views, or one per view (written per frame).
        camera_model: default ``"OPENCV"`` with distortion, else ``"PINHOLE"``.
        splits: optional ``{"train": [...], "val": [...], "test": [...]}`` view indices, written as
            ``{split}_filenames``.
        points, points_rgb: optional (P, 3) points and colours in [0, 1], saved as ``sparse_pc.ply``
            (``ply_file_path``).
        applied_transform: optional 3x4 or 4x4 matrix stored as is.
    Intrinsics shared by all views are written once at the top level, else per frame.
    """
    from inverse3d.datasets.scenes._files import to_uint8

    folder = Path(folder)
    imgs = to_uint8(images)
    n = len(cameras)
    if imgs.ndim != 4 or imgs.shape[0] != n or imgs.shape[-1] not in (3, 4):
        raise ValueError(f"images must have shape ({n}, H, W, 3 or 4); got {imgs.shape}")
    h, w = imgs.shape[1:3]
    intr = {k: v.detach().cpu().double().numpy() for k, v in intrinsics_from_cameras(cameras, (h, w)).items()}
    c2w = c2w_from_cameras(cameras, "opengl").detach().cpu().double().numpy()
    per_view_dist = isinstance(distortion, (list, tuple))
    if per_view_dist and len(distortion) != n:
        raise ValueError(f"distortion must be one dict or {n} dicts; got {len(distortion)}")
    model = camera_model or ("OPENCV" if distortion else "PINHOLE")
    meta: dict[str, Any] = {"camera_model": model, "w": int(w), "h": int(h)}
    shared = all(np.allclose(intr[k], intr[k][0], rtol=0, atol=0) for k in ("fx", "fy", "cx", "cy"))
    if shared:
        meta.update(fl_x=float(intr["fx"][0]), fl_y=float(intr["fy"][0]), cx=float(intr["cx"][0]),
                    cy=float(intr["cy"][0]))
    if distortion and not per_view_dist:
        meta.update({k: float(v) for k, v in distortion.items()})
    frames, names = [], []
    for i in range(n):
        image = folder / "images" / f"frame_{i + 1:05d}.png"
        write_png(image, imgs[i])
        names.append(relative(image, folder))
        fr: dict[str, Any] = {"file_path": names[-1], "transform_matrix": c2w[i].tolist()}
        if not shared:
            fr.update(fl_x=float(intr["fx"][i]), fl_y=float(intr["fy"][i]), cx=float(intr["cx"][i]),
                      cy=float(intr["cy"][i]))
        if per_view_dist:
            fr.update({k: float(v) for k, v in distortion[i].items()})
        frames.append(fr)
    meta["frames"] = frames
    if applied_transform is not None:
        meta["applied_transform"] = np.asarray(applied_transform, dtype=np.float64).tolist()
    for s, idx in (splits or {}).items():
        meta[f"{s}_filenames"] = [names[int(j)] for j in idx]
    if points is not None:
        from inverse3d.io.ply_io import save_ply

        buf = io.BytesIO()
        rgb = None if points_rgb is None else torch.as_tensor(np.asarray(points_rgb), dtype=torch.float32)
        save_ply(buf, torch.as_tensor(np.asarray(points), dtype=torch.float32), colors=rgb)
        write_bytes(folder / "sparse_pc.ply", buf.getvalue())
        meta["ply_file_path"] = "sparse_pc.ply"
    return write_json(folder / "transforms.json", meta)
