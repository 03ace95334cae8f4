"""COLMAP sparse models (text and binary), the input of Gaussian splatting, with the sparse points.

Layout, as COLMAP writes it: ``SCENE/images/NAME`` and ``SCENE/sparse/0/{cameras,images,points3D}.{bin,txt}``
(the model may also sit in ``SCENE/sparse`` or in ``SCENE`` itself). Downscaled copies ``SCENE/images_{2,4,8}/NAME``
(as the 3DGS and mip-NeRF 360 data ship them) are used when present, else images are resized when loaded.

- ``cameras``: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...``; models read: ``SIMPLE_PINHOLE`` (f cx cy), ``PINHOLE``
  (fx fy cx cy), ``SIMPLE_RADIAL`` (f cx cy k), ``RADIAL`` (f cx cy k1 k2), ``OPENCV`` (fx fy cx cy k1 k2 p1 p2).
  COLMAP's principal point is in pixels with the image's top-left corner at (0, 0), our convention.
- ``images``: ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` then a line of 2D points; the quaternion (real part
  first) and translation are the world-to-camera pose in OpenCV's convention: ``x_cam = R(q) X + t``.
- ``points3D``: ``POINT3D_ID X Y Z R G B ERROR TRACK...`` -> ``SceneDataset.points`` / ``points_rgb``.

Binary files are little-endian with the record layouts of COLMAP's ``read_write_model.py``. Views are sorted by
image name; every 8th (0, 8, ...) is ``test`` (and ``val``), the rest ``train`` (3DGS's ``--eval`` split).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from inverse3d.datasets.scenes._files import image_size, to_uint8, write_bytes, write_png
from inverse3d.datasets.scenes.conventions import (
    RIGID_TOLERANCE,
    SceneFileNotFoundError,
    SceneFormatError,
    c2w_from_cameras,
    intrinsics_from_cameras,
    opencv_to_opengl,
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

# COLMAP's camera models: id -> (name, number of parameters); all are listed so that binary files can be parsed.
CAMERA_MODEL_IDS = {
    0: ("SIMPLE_PINHOLE", 3), 1: ("PINHOLE", 4), 2: ("SIMPLE_RADIAL", 4), 3: ("RADIAL", 5), 4: ("OPENCV", 8),
    5: ("OPENCV_FISHEYE", 8), 6: ("FULL_OPENCV", 12), 7: ("FOV", 5), 8: ("SIMPLE_RADIAL_FISHEYE", 4),
    9: ("RADIAL_FISHEYE", 5), 10: ("THIN_PRISM_FISHEYE", 12), 11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
}
CAMERA_MODEL_NAMES = {name: (i, n) for i, (name, n) in CAMERA_MODEL_IDS.items()}
SUPPORTED_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")


class ColmapCamera:
    """One entry of ``cameras``: ``model`` name, ``width``, ``height``, ``params`` (float64 array)."""

    __slots__ = ("id", "model", "width", "height", "params")

    def __init__(self, id: int, model: str, width: int, height: int, params: np.ndarray) -> None:
        self.id, self.model, self.width, self.height, self.params = id, model, width, height, params


class ColmapImage:
    """One entry of ``images``: world-to-camera ``qvec`` (w, x, y, z), ``tvec``, ``camera_id``, ``name``."""

    __slots__ = ("id", "qvec", "tvec", "camera_id", "name")

    def __init__(self, id: int, qvec: np.ndarray, tvec: np.ndarray, camera_id: int, name: str) -> None:
        self.id, self.qvec, self.tvec, self.camera_id, self.name = id, qvec, tvec, camera_id, name


# ----------------------------------------------------------------------------------------------------------------
# binary


class _Reader:
    """Sequential little-endian reads with a clear error at the end of the data."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        self.pos = 0

    def read(self, fmt: str, what: str, label: object = None) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise SceneFormatError(
                self.path, f"truncated: the file ends inside {what} (byte {self.pos} of {len(self.data)})", label
            )
        out = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return out

    def skip(self, size: int, what: str, label: object = None) -> None:
        if self.pos + size > len(self.data):
            raise SceneFormatError(
                self.path, f"truncated: the file ends inside {what} (byte {self.pos} of {len(self.data)})", label
            )
        self.pos += size

    def string(self, what: str, label: object = None) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise SceneFormatError(self.path, f"truncated: the file ends inside {what}", label)
        s = self.data[self.pos : end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return s

    def done(self) -> None:
        if self.pos != len(self.data):
            raise SceneFormatError(self.path, f"{len(self.data) - self.pos} bytes left after the last record")


def read_cameras_binary(path: Path) -> dict[int, ColmapCamera]:
    r = _Reader(path)
    (count,) = r.read("Q", "the camera count")
    out = {}
    for k in range(count):
        cam_id, model_id, width, height = r.read("iiQQ", f"camera record {k}")
        if model_id not in CAMERA_MODEL_IDS:
            raise SceneFormatError(path, f"unknown camera model id {model_id}", f"camera {cam_id}")
        name, n = CAMERA_MODEL_IDS[model_id]
        params = np.array(r.read("d" * n, f"the parameters of camera {cam_id}"), dtype=np.float64)
        out[cam_id] = ColmapCamera(cam_id, name, int(width), int(height), params)
    r.done()
    return out


def read_images_binary(path: Path) -> dict[int, ColmapImage]:
    r = _Reader(path)
    (count,) = r.read("Q", "the image count")
    out = {}
    for k in range(count):
        rec = r.read("i7di", f"image record {k}")
        name = r.string(f"the name of image {rec[0]}", f"image {rec[0]}")
        (n2d,) = r.read("Q", f"the 2D point count of image {rec[0]}", f"image {rec[0]} ({name})")
        r.skip(24 * n2d, f"the 2D points of image {rec[0]}", f"image {rec[0]} ({name})")
        out[rec[0]] = ColmapImage(rec[0], np.array(rec[1:5]), np.array(rec[5:8]), rec[8], name)
    r.done()
    return out


def read_points3d_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    r = _Reader(path)
    (count,) = r.read("Q", "the point count")
    xyz = np.empty((count, 3), dtype=np.float64) if count < 2**31 else None
    if xyz is None:
        raise SceneFormatError(path, f"implausible point count {count}")
    rgb = np.empty((count, 3), dtype=np.uint8)
    for k in range(count):
        rec = r.read("Q3d3BdQ", f"point record {k}")
        xyz[k], rgb[k] = rec[1:4], rec[4:7]
        r.skip(8 * rec[8], f"the track of point {rec[0]}")
    r.done()
    return xyz, rgb


# ----------------------------------------------------------------------------------------------------------------
# text


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SceneFormatError(path, "not a UTF-8 text file (a binary model named .txt?)") from None
    return [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]


def read_cameras_text(path: Path) -> dict[int, ColmapCamera]:
    out = {}
    for lineno, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        e = line.split()
        try:
            cam_id, model, width, height = int(e[0]), e[1], int(e[2]), int(e[3])
            params = np.array([float(x) for x in e[4:]], dtype=np.float64)
        except (ValueError, IndexError):
            raise SceneFormatError(path, f"line {lineno}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...") from None
        if model in CAMERA_MODEL_NAMES and len(params) != CAMERA_MODEL_NAMES[model][1]:
            raise SceneFormatError(
                path, f"line {lineno}: model {model} takes {CAMERA_MODEL_NAMES[model][1]} parameters, got "
                      f"{len(params)}", f"camera {cam_id}")
        out[cam_id] = ColmapCamera(cam_id, model, width, height, params)
    return out


def read_images_text(path: Path) -> dict[int, ColmapImage]:
    lines = _lines(path)
    out = {}
    k = 0
    while k < len(lines):
        lineno, line = lines[k]
        k += 1
        if not line or line.startswith("#"):
            continue
        e = line.split(maxsplit=9)
        try:
            image_id = int(e[0])
            q = np.array([float(x) for x in e[1:5]])
            t = np.array([float(x) for x in e[5:8]])
            cam_id, name = int(e[8]), e[9]
        except (ValueError, IndexError):
            raise SceneFormatError(
                path, f"line {lineno}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME") from None
        k += 1  # the 2D points line (possibly empty), as COLMAP reads it
        out[image_id] = ColmapImage(image_id, q, t, cam_id, name)
    return out


def read_points3d_text(path: Path) -> tuple[np.ndarray, np.ndarray]:
    xyz, rgb = [], []
    for lineno, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        e = line.split()
        try:
            xyz.append([float(x) for x in e[1:4]])
            rgb.append([int(x) for x in e[4:7]])
        except ValueError:
            raise SceneFormatError(path, f"line {lineno}: expected POINT3D_ID X Y Z R G B ERROR TRACK...") from None
        if len(xyz[-1]) != 3 or len(rgb[-1]) != 3:
            raise SceneFormatError(path, f"line {lineno}: expected POINT3D_ID X Y Z R G B ERROR TRACK...")
    rgb8 = np.clip(np.array(rgb), 0, 255).astype(np.uint8).reshape(-1, 3)
    return np.array(xyz, dtype=np.float64).reshape(-1, 3), rgb8


def read_model(model_dir: str | Path) -> tuple[dict[int, ColmapCamera], dict[int, ColmapImage], np.ndarray, np.ndarray]:
    """The cameras, images and sparse points (xyz (P, 3) float64, rgb (P, 3) uint8) of a COLMAP model folder;
    binary files win over text ones when both are there. A missing ``points3D`` file gives no points."""
    d = Path(model_dir)
    ext = "bin" if (d / "cameras.bin").is_file() else "txt"
    readers = {
        "bin": (read_cameras_binary, read_images_binary, read_points3d_binary),
        "txt": (read_cameras_text, read_images_text, read_points3d_text),
    }[ext]
    for name in ("cameras", "images"):
        if not (d / f"{name}.{ext}").is_file():
            raise SceneFileNotFoundError(d / f"{name}.{ext}", "COLMAP model file not found")
    cameras = readers[0](d / f"cameras.{ext}")
    images = readers[1](d / f"images.{ext}")
    points = d / f"points3D.{ext}"
    xyz, rgb = readers[2](points) if points.is_file() else (np.zeros((0, 3)), np.zeros((0, 3), dtype=np.uint8))
    return cameras, images, xyz, rgb


# ----------------------------------------------------------------------------------------------------------------
# reading a scene


def _intrinsics(cam: ColmapCamera, path: Path) -> tuple[float, float, float, float, dict[str, float]]:
    p = cam.params
    if cam.model not in SUPPORTED_MODELS:
        raise SceneFormatError(
            path, f"unsupported camera model {cam.model} (supported: {', '.join(SUPPORTED_MODELS)})",
            f"camera {cam.id}")
    if cam.model == "SIMPLE_PINHOLE":
        return p[0], p[0], p[1], p[2], {}
    if cam.model == "PINHOLE":
        return p[0], p[1], p[2], p[3], {}
    if cam.model == "SIMPLE_RADIAL":
        return p[0], p[0], p[1], p[2], {"k1": float(p[3])}
    if cam.model == "RADIAL":
        return p[0], p[0], p[1], p[2], {"k1": float(p[3]), "k2": float(p[4])}
    return p[0], p[1], p[2], p[3], {"k1": float(p[4]), "k2": float(p[5]), "p1": float(p[6]), "p2": float(p[7])}


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    from inverse3d.transforms.rotation_conversions import quaternion_to_matrix

    return quaternion_to_matrix(torch.from_numpy(np.asarray(q, dtype=np.float64))).numpy()


def _scene_paths(path: Path) -> tuple[Path, Path]:
    """(scene folder, model folder) for a scene folder, its ``sparse`` folder or the model folder itself."""
    from inverse3d.datasets.scenes.dataset import _colmap_model_dir

    if not path.exists():
        raise SceneFileNotFoundError(path, "no such scene folder")
    if path.is_file():
        path = path.parent
    model = _colmap_model_dir(path)
    if model is None:
        raise SceneFileNotFoundError(path / "sparse" / "0" / "cameras.bin", "no COLMAP model (cameras.bin/.txt)")
    scene = path
    if model == path:  # given the model folder: SCENE/sparse/0 or SCENE/sparse
        if path.parent.name == "sparse":
            scene = path.parent.parent
        elif path.name == "sparse":
            scene = path.parent
    return scene, model


def read_colmap(
    path: str | Path,
    split: str = "train",
    downscale: int = 1,
    white_background: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    images_dir: str = "images",
) -> SceneDataset:
    """One split of a COLMAP scene (module docstring), with all sparse points as ``points`` / ``points_rgb``.

    Args:
        path: the scene folder (holding ``images/`` and ``sparse/0/``), or the model folder.
        downscale: 1, 2, 4 or 8 (``images_N`` used when present).
        images_dir: the name of the images folder inside the scene folder.
    """
    scene, model_dir = _scene_paths(Path(path))
    split = check_split(split)
    downscale = check_downscale(downscale)
    cameras, images, xyz, rgb = read_model(model_dir)
    ext = "bin" if (model_dir / "cameras.bin").is_file() else "txt"
    cam_file, img_file = model_dir / f"cameras.{ext}", model_dir / f"images.{ext}"
    if not images:
        raise SceneFormatError(img_file, "no registered images")
    ordered = sorted(images.values(), key=lambda im: im.name)
    chosen = [ordered[i] for i in every_nth_split(len(ordered), split)]
    small_dir = scene / f"{images_dir}_{downscale}"
    frames = []
    for im in chosen:
        label = f"image {im.id} ({im.name})"
        if im.camera_id not in cameras:
            raise SceneFormatError(img_file, f"camera {im.camera_id} is not in {cam_file.name}", label)
        cam = cameras[im.camera_id]
        fx, fy, cx, cy, distortion = _intrinsics(cam, cam_file)
        norm = float(np.linalg.norm(im.qvec))
        if not np.isfinite(norm) or abs(norm - 1.0) > RIGID_TOLERANCE or not np.all(np.isfinite(im.tvec)):
            raise SceneFormatError(
                img_file, f"pose is not a rigid transform: quaternion {im.qvec.tolist()} has norm {norm:.6g}, "
                          f"expected 1", label)
        R = _quat_to_matrix(im.qvec / norm)  # world -> OpenCV camera
        c2w = np.eye(4)
        c2w[:3, :3] = R.T
        c2w[:3, 3] = -R.T @ im.tvec
        image = scene / images_dir / im.name
        h0, w0 = cam.height, cam.width
        small = None
        if downscale > 1 and small_dir.is_dir():
            for candidate in (small_dir / im.name, (small_dir / im.name).with_suffix(".png"),
                              (small_dir / im.name).with_suffix(".jpg"), (small_dir / im.name).with_suffix(".JPG")):
                if candidate.is_file():
                    small = candidate
                    break
        if small is not None:
            image = small
            h, w = image_size(small, label)
        else:
            h_img, w_img = image_size(image, label)
            if (h_img, w_img) != (h0, w0):
                raise SceneFormatError(
                    image, f"image is {w_img}x{h_img} but {cam_file.name} camera {cam.id} is {w0}x{h0}", label)
            h, w = downscaled_size(h0, w0, downscale)
        fx, fy, cx, cy = scale_intrinsics(fx, fy, cx, cy, (h0, w0), (h, w))
        frames.append(Frame(
            image_path=image, c2w=opencv_to_opengl(c2w), fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h,
            camera_model=cam.model, distortion=distortion, name=label,
        ))
    points = xyz.astype(np.float32) if len(xyz) else None
    points_rgb = rgb.astype(np.float32) / 255.0 if len(xyz) else None
    return SceneDataset(
        scene, split, "colmap", frames, points=points, points_rgb=points_rgb, white_background=white_background,
        downscale=downscale, cache_bytes=cache_bytes, meta={"model_dir": model_dir},
    )


# ----------------------------------------------------------------------------------------------------------------
# writing


def _params(model: str, fx: float, fy: float, cx: float, cy: float, dist: dict[str, float]) -> list[float]:
    if model in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL") and fx != fy:
        raise ValueError(f"camera model {model} has one focal length; got fx={fx}, fy={fy}")
    extra = set(k for k, v in dist.items() if v) - {
        "SIMPLE_PINHOLE": set(), "PINHOLE": set(), "SIMPLE_RADIAL": {"k1"}, "RADIAL": {"k1", "k2"},
        "OPENCV": {"k1", "k2", "p1", "p2"},
    }[model]
    if extra:
        raise ValueError(f"camera model {model} cannot store distortion {sorted(extra)}")
    g = lambda k: float(dist.get(k, 0.0))  # noqa: E731
    return {
        "SIMPLE_PINHOLE": [fx, cx, cy], "PINHOLE": [fx, fy, cx, cy], "SIMPLE_RADIAL": [fx, cx, cy, g("k1")],
        "RADIAL": [fx, cx, cy, g("k1"), g("k2")], "OPENCV": [fx, fy, cx, cy, g("k1"), g("k2"), g("p1"), g("p2")],
    }[model]


def write_colmap(
    folder: str | Path,
    images: Any,
    cameras: Any,
    *,
    points: Any = None,
    points_rgb: Any = None,
    binary: bool = True,
    camera_model: str | None = None,
    distortion: dict[str, float] | None = None,
    names: Sequence[str] | None = None,
) -> Path:
    """Writes a COLMAP scene: ``folder/images/NAME`` and the model in ``folder/sparse/0``; returns the model folder.

    Args:
        images: (N, H, W, 3 or 4) float in [0, 1] or uint8 (PNG files).
        cameras: our PerspectiveCameras (N views; screen space, or NDC with ``image_size`` set). Views with equal
            intrinsics share one COLMAP camera.
        points, points_rgb: optional (P, 3) points and colours in [0, 1] for ``points3D`` (empty tracks).
        binary: ``.bin`` files (True) or ``.txt`` files.
        camera_model: one of SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV (default: OPENCV with
            distortion, PINHOLE without).
        distortion: ``k1 k2 p1 p2`` for all views, as the model takes them.
        names: image file names (default ``00000.png`` ...).
    """
    from inverse3d.transforms.rotation_conversions import matrix_to_quaternion

    folder = Path(folder)
    imgs = to_uint8(images)
    n = len(cameras)
    if imgs.ndim != 4 or imgs.shape[0] != n or imgs.shape[-1] not in (3, 4):
        raise ValueError(f"images must have shape ({n}, H, W, 3 or 4); got {imgs.shape}")
    h, w = imgs.shape[1:3]
    model = camera_model or ("OPENCV" if distortion else "PINHOLE")
    if model not in SUPPORTED_MODELS:
        raise ValueError(f"camera_model must be one of {SUPPORTED_MODELS}; got {model!r}")
    names = list(names) if names is not None else [f"{i:05d}.png" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"names must hold {n} names; got {len(names)}")
    intr = {k: v.detach().cpu().double().numpy() for k, v in intrinsics_from_cameras(cameras, (h, w)).items()}
    c2w_cv = c2w_from_cameras(cameras, "opencv").detach().cpu().double()
    R = c2w_cv[:, :3, :3].transpose(1, 2)  # (N, 3, 3) world -> camera
    t = -(R @ c2w_cv[:, :3, 3:])[..., 0]  # (N, 3)
    q = matrix_to_quaternion(R).numpy()
    q = q * np.where(q[:, :1] < 0, -1.0, 1.0)  # real part >= 0, as COLMAP writes them
    cam_ids: dict[tuple, int] = {}
    cam_of_view = []
    for i in range(n):
        key = tuple(float(intr[k][i]) for k in ("fx", "fy", "cx", "cy"))
        cam_of_view.append(cam_ids.setdefault(key, len(cam_ids) + 1))
    cams = {cid: _params(model, *key, distortion or {}) for key, cid in cam_ids.items()}
    for i in range(n):
        write_png(folder / "images" / names[i], imgs[i])
    xyz = np.zeros((0, 3)) if points is None else np.asarray(
        points.detach().cpu() if torch.is_tensor(points) else points, dtype=np.float64).reshape(-1, 3)
    rgb = np.full((len(xyz), 3), 128, dtype=np.uint8) if points_rgb is None else to_uint8(points_rgb).reshape(-1, 3)
    model_dir = folder / "sparse" / "0"
    model_id, _ = CAMERA_MODEL_NAMES[model]
    if binary:
        b = [struct.pack("<Q", len(cams))]
        for cid, params in cams.items():
            b.append(struct.pack("<iiQQ", cid, model_id, w, h) + struct.pack("<" + "d" * len(params), *params))
        write_bytes(model_dir / "cameras.bin", b"".join(b))
        b = [struct.pack("<Q", n)]
        for i in range(n):
            b.append(struct.pack("<i7di", i + 1, *q[i], *t[i].tolist(), cam_of_view[i]))
            b.append(names[i].encode("utf-8") + b"\x00" + struct.pack("<Q", 0))
        write_bytes(model_dir / "images.bin", b"".join(b))
        b = [struct.pack("<Q", len(xyz))]
        for k in range(len(xyz)):
            b.append(struct.pack("<Q3d3BdQ", k + 1, *xyz[k], *rgb[k].tolist(), 0.0, 0))
        write_bytes(model_dir / "points3D.bin", b"".join(b))
    else:
        lines = ["# Camera list with one line of data per camera:", "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
                 f"# Number of cameras: {len(cams)}"]
        lines += [" ".join([str(cid), model, str(w), str(h)] + [repr(float(p)) for p in params])
                  for cid, params in cams.items()]
        write_bytes(model_dir / "cameras.txt", ("\n".join(lines) + "\n").encode())
        lines = ["# Image list with two lines of data per image:",
                 "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME", "#   POINTS2D[] as (X, Y, POINT3D_ID)",
                 f"# Number of images: {n}"]
        for i in range(n):
            vals = " ".join(repr(float(v)) for v in [*q[i], *t[i].tolist()])
            lines += [f"{i + 1} {vals} {cam_of_view[i]} {names[i]}", ""]
        write_bytes(model_dir / "images.txt", ("\n".join(lines) + "\n").encode())
        lines = ["# 3D point list with one line of data per point:",
                 "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
                 f"# Number of points: {len(xyz)}"]
        lines += [f"{k + 1} {' '.join(repr(float(v)) for v in xyz[k])} {' '.join(str(int(c)) for c in rgb[k])} 0"
                  for k in range(len(xyz))]
        write_bytes(model_dir / "points3D.txt", ("\n".join(lines) + "\n").encode())
    return model_dir
