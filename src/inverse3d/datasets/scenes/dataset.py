"""One dataset of posed images for every multi-view format: ``SceneDataset``, its ``Frame`` records, ``load_scene``.

Each reader (``blender``, ``nerfstudio``, ``colmap``, ``llff``, ``course``) turns its files into a list of ``Frame``
(image path, OpenGL camera-to-world matrix, pixel intrinsics at the loaded resolution, camera model, distortion,
optional depth / normal / mask paths), checking at load time that every image exists, that every pose is a rigid
transform and that all images of the split have one size (reading image headers only). ``SceneDataset`` then builds
our cameras from the frames (``conventions.cameras_from_c2w``) and decodes images lazily, through a cache bounded
in bytes, when an item is asked for.

``load_scene(path)`` finds the format from the files present:

==================  ==============================================================================================
format              files that identify it (checked in this order)
==================  ==============================================================================================
``"blender"``       ``transforms_train.json`` / ``transforms_val.json`` / ``transforms_test.json``
``"nerfstudio"``    ``transforms.json``
``"llff"``          ``poses_bounds.npy`` when ``ndc=True`` (else COLMAP wins when both are present, see below)
``"colmap"``        ``sparse/0/cameras.{bin,txt}``, ``sparse/cameras.{bin,txt}`` or ``cameras.{bin,txt}``
``"llff"``          ``poses_bounds.npy``
``"course"``        ``NAME.pth`` with ``NAME.png`` beside it (or ``path`` is that ``.pth`` file)
==================  ==============================================================================================

LLFF and mip-NeRF 360 captures ship both ``poses_bounds.npy`` and a COLMAP model; the COLMAP model is read unless
``ndc=True`` (NeRF's forward-facing pipeline, which only the LLFF reader implements) or ``format="llff"``, because
it also has the sparse points, every camera's own intrinsics and the distortion.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from inverse3d.datasets.scenes._files import read_image
from inverse3d.datasets.scenes.conventions import (
    SceneFileNotFoundError,
    SceneFormatError,
    cameras_from_c2w,
    opengl_to_opencv,
)
from inverse3d.renderer.cameras import PerspectiveCameras

FORMATS = ("blender", "nerfstudio", "colmap", "llff", "course")
SPLITS = ("train", "val", "test", "all")
DOWNSCALES = (1, 2, 4, 8)
DEFAULT_CACHE_BYTES = 512 * 2**20
"""Default bound of the decoded-image cache of a ``SceneDataset``: 512 MiB."""

Split = Literal["train", "val", "test", "all"]


@dataclass
class Frame:
    """One posed image of a scene, at the resolution it is loaded at.

    image_path: the image file (for the course format, the tall image holding all views).
    c2w: (4, 4) float64 camera-to-world matrix in the OpenGL convention (camera +X right, +Y up, looking along -Z),
        in the world frame of the files; ``c2w_opencv`` gives it in OpenCV's.
    fx, fy, cx, cy: pixel intrinsics (``u = fx x / z + cx`` in OpenCV camera coordinates, the image's top-left
        corner at (0, 0); see ``conventions``), already scaled to ``width`` x ``height``.
    width, height: size of the loaded image in pixels (after downscaling).
    camera_model: COLMAP's name of the camera model: ``"SIMPLE_PINHOLE"``, ``"PINHOLE"``, ``"SIMPLE_RADIAL"``,
        ``"RADIAL"`` or ``"OPENCV"``.
    distortion: the model's distortion coefficients by name (``k1 k2 k3 k4 p1 p2``), empty for pinholes; radial
        ``1 + k1 r^2 + k2 r^4 + k3 r^6 + k4 r^8`` plus OpenCV's tangential ``p1 p2`` terms, in normalised
        image coordinates (as COLMAP and nerfstudio).
    depth_path, normal_path, mask_path: optional per-view maps (see ``SceneDataset.__getitem__``).
    name: how error messages name the frame (its file name or index in the source file).
    tile, tiles: the view is row block ``tile`` of ``tiles`` equal blocks of a vertically stacked image (course
        format); None / 1 otherwise.
    depth_scale: factor from the stored depth values to scene units (nerfstudio's 16-bit PNG in millimetres: 1e-3).
    """

    image_path: Path
    c2w: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    camera_model: str = "PINHOLE"
    distortion: dict[str, float] = field(default_factory=dict)
    depth_path: Path | None = None
    normal_path: Path | None = None
    mask_path: Path | None = None
    name: str = ""
    tile: int | None = None
    tiles: int = 1
    depth_scale: float = 1.0

    @property
    def c2w_opencv(self) -> np.ndarray:
        """(4, 4) camera-to-world matrix in the OpenCV convention (+X right, +Y down, looking along +Z)."""
        return opengl_to_opencv(self.c2w)


def downscaled_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """(H, W) of an image resized by ``1 / factor``, rounded to the nearest pixel (at least 1)."""
    return max(1, int(height / factor + 0.5)), max(1, int(width / factor + 0.5))


def scale_intrinsics(
    fx: float, fy: float, cx: float, cy: float, source: tuple[int, int], target: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Pixel intrinsics of an image of size ``source`` (H, W) resized to ``target`` (H, W): x scales by W'/W and y
    by H'/H (the image's corners map to the corners, so the principal point moves with the image)."""
    sy, sx = target[0] / source[0], target[1] / source[1]
    return fx * sx, fy * sy, cx * sx, cy * sy


def downscaled_file(path: Path, factor: int) -> Path | None:
    """The pre-downscaled copy of ``path``, ``FOLDER_{factor}/NAME`` beside ``FOLDER/NAME`` (COLMAP, LLFF and
    mip-NeRF 360's ``images_4``), trying the same stem with other image suffixes; None when there is none."""
    if factor == 1:
        return None
    folder = path.parent.parent / f"{path.parent.name}_{factor}"
    if not folder.is_dir():
        return None
    if (folder / path.name).is_file():
        return folder / path.name
    for suffix in (".png", ".jpg", ".JPG", ".jpeg", ".PNG"):
        if (folder / (path.stem + suffix)).is_file():
            return folder / (path.stem + suffix)
    return None


def check_downscale(downscale: Any) -> int:
    if isinstance(downscale, bool) or downscale not in DOWNSCALES:
        raise ValueError(f"downscale must be one of {DOWNSCALES}; got {downscale!r}")
    return int(downscale)


def check_split(split: Any) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    return split


def every_nth_split(n: int, split: str, hold: int = 8) -> list[int]:
    """Indices of ``split`` when every ``hold``-th view (0, 8, 16, ...) is held out for testing, as NeRF's LLFF
    loader, 3DGS and nerfstudio's ``interval`` mode do; "val" is the same views as "test", "all" every view."""
    if split == "all":
        return list(range(n))
    if split == "train":
        return [i for i in range(n) if i % hold != 0]
    return [i for i in range(n) if i % hold == 0]


def check_sizes(frames: list[Frame]) -> None:
    """``SceneFormatError`` naming the first frame whose image size differs from the first frame's."""
    if not frames:
        return
    h, w = frames[0].height, frames[0].width
    for f in frames[1:]:
        if (f.height, f.width) != (h, w):
            raise SceneFormatError(
                f.image_path,
                f"inconsistent image sizes in the split: {f.width}x{f.height}, but frame {frames[0].name} "
                f"is {w}x{h}",
                f.name,
            )


# ----------------------------------------------------------------------------------------------------------------
# decoding one view


def _area_resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float32 resized to ``size`` (H', W') by area averaging (box filter for integer factors)."""
    if a.shape[:2] == tuple(size):
        return a
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]
    t = torch.nn.functional.interpolate(t, size=tuple(size), mode="area")
    return t[0].permute(1, 2, 0).numpy()


def _masked_resize(a: np.ndarray, valid: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Area-averages (H, W, C) values over the ``valid`` (H, W) pixels only; returns values and coverage (H', W')."""
    if a.shape[:2] == tuple(size):
        return a * valid[..., None], valid
    w = valid.astype(np.float32)[..., None]
    both = _area_resize(np.concatenate([a * w, w], axis=-1), size)
    cover = both[..., -1]
    out = np.where(cover[..., None] > 0, both[..., :-1] / np.maximum(cover[..., None], 1e-12), 0.0)
    return out.astype(np.float32), cover


def _tile(a: np.ndarray, frame: Frame) -> np.ndarray:
    if frame.tile is None:
        return a
    if a.shape[0] % frame.tiles:
        raise SceneFormatError(
            frame.image_path, f"image height {a.shape[0]} is not a multiple of the {frame.tiles} views", frame.name
        )
    h = a.shape[0] // frame.tiles
    return a[frame.tile * h : (frame.tile + 1) * h]


def decode_view(frame: Frame, white_background: bool) -> dict[str, np.ndarray | None]:
    """The arrays of one view at the frame's size: ``image`` (H, W, 3), ``mask`` (H, W) or None, ``depth`` (H, W)
    and ``normal`` (H, W, 3) when the frame names them; all float32."""
    size = (frame.height, frame.width)
    a = _tile(read_image(frame.image_path, frame.name), frame)
    channels = a.shape[-1]
    rgb = np.repeat(a[..., :1], 3, axis=-1) if channels in (1, 2) else a[..., :3]
    alpha = a[..., -1] if channels in (2, 4) else None
    mask = None
    if alpha is not None:  # straight (not premultiplied) alpha, as PNG stores it
        background = 1.0 if white_background else 0.0
        rgb = rgb * alpha[..., None] + background * (1.0 - alpha[..., None])
        mask = alpha
    if frame.mask_path is not None:
        m = read_image(frame.mask_path, frame.name)
        mask = m[..., -1] if m.shape[-1] in (2, 4) else m[..., 0]
        if mask.shape != a.shape[:2]:
            mask = _area_resize(mask[..., None], a.shape[:2])[..., 0]
    out: dict[str, np.ndarray | None] = {
        "image": _area_resize(np.ascontiguousarray(rgb, dtype=np.float32), size),
        "mask": None if mask is None else _area_resize(mask.astype(np.float32)[..., None], size)[..., 0],
    }
    if frame.depth_path is not None:
        d = read_image(frame.depth_path, frame.name, raw=True)[..., 0] * np.float32(frame.depth_scale)
        d = np.where(np.isfinite(d), d, 0.0).astype(np.float32)
        out["depth"] = _masked_resize(d[..., None], d > 0, size)[0][..., 0]
    if frame.normal_path is not None:
        n = read_image(frame.normal_path, frame.name)
        if n.shape[-1] < 3:
            raise SceneFormatError(frame.normal_path, f"normal map must have 3 or 4 channels; got {n.shape[-1]}",
                                   frame.name)
        covered = n[..., 3] > 0 if n.shape[-1] == 4 else np.ones(n.shape[:2], dtype=bool)
        if frame.normal_path.suffix.lower() != ".npy":
            n = n[..., :3] * 2.0 - 1.0  # stored as (n + 1) / 2
        n, cover = _masked_resize(n[..., :3].astype(np.float32), covered, size)
        length = np.linalg.norm(n, axis=-1, keepdims=True)
        out["normal"] = np.where(length > 1e-6, n / np.maximum(length, 1e-6), 0.0).astype(np.float32)
    return out


# ----------------------------------------------------------------------------------------------------------------
# rays


def undistort_points(xy: torch.Tensor, distortion: dict[str, float], iterations: int = 20) -> torch.Tensor:
    """Inverts the radial-tangential distortion of normalised image points by fixed-point iteration (as OpenCV's
    ``undistortPoints``).

    Args:
        xy: (..., 2) distorted normalised coordinates ``((u - cx) / fx, (v - cy) / fy)``.
        distortion: ``k1 k2 k3 k4 p1 p2`` (missing ones are 0), see ``Frame.distortion``.
    Returns:
        (..., 2) undistorted normalised coordinates ``(x / z, y / z)``.
    """
    k1, k2, k3, k4, p1, p2 = (float(distortion.get(k, 0.0)) for k in ("k1", "k2", "k3", "k4", "p1", "p2"))
    if not any((k1, k2, k3, k4, p1, p2)):
        return xy
    xd, yd = xy[..., 0], xy[..., 1]
    x, y = xd.clone(), yd.clone()
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * (k3 + r2 * k4)))
        dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        x, y = (xd - dx) / radial, (yd - dy) / radial
    return torch.stack([x, y], dim=-1)


def distort_points(xy: torch.Tensor, distortion: dict[str, float]) -> torch.Tensor:
    """Applies the radial-tangential distortion to (..., 2) undistorted normalised points (inverse of
    ``undistort_points``)."""
    k1, k2, k3, k4, p1, p2 = (float(distortion.get(k, 0.0)) for k in ("k1", "k2", "k3", "k4", "p1", "p2"))
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * (k3 + r2 * k4)))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return torch.stack([xd, yd], dim=-1)


def frame_rays(frame: Frame, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space rays through the centres of a frame's pixels.

    Pixel (row, col) is sampled at ``(u, v) = (col + 0.5, row + 0.5)`` (as our rasteriser does), undistorted with
    the frame's distortion, and cast from the camera centre.

    Returns:
        origins: (H, W, 3) the camera centre repeated.
        directions: (H, W, 3) world-space directions, scaled so that their component along the camera's viewing axis
            is 1 (a point at ray parameter t lies at depth t, as NeRF's rays); not unit length.
    """
    v, u = torch.meshgrid(
        torch.arange(frame.height, dtype=torch.float64) + 0.5,
        torch.arange(frame.width, dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    xy = torch.stack([(u - frame.cx) / frame.fx, (v - frame.cy) / frame.fy], dim=-1)  # (H, W, 2) OpenCV camera
    xy = undistort_points(xy, frame.distortion)
    dirs_cam = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)  # (H, W, 3), z = 1 along the viewing axis
    c2w = torch.from_numpy(np.asarray(frame.c2w_opencv, dtype=np.float64))
    directions = dirs_cam @ c2w[:3, :3].T  # (H, W, 3) world
    origins = c2w[:3, 3].expand_as(directions)
    return origins.to(dtype).contiguous(), directions.to(dtype).contiguous()


def ndc_rays(
    origins: torch.Tensor, directions: torch.Tensor, focal: float, width: int, height: int, near: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """NeRF's normalised-device-coordinate rays for forward-facing scenes (Mildenhall et al. 2020, appendix C).

    The world frame must be the forward-facing one NeRF's LLFF loader makes (cameras looking along -Z, the scene at
    negative z beyond ``near``; ``read_llff(ndc=True)`` recentres the poses so). Each ray is first moved to start
    on the plane ``z = -near``; then origin ``o`` and direction ``d`` map to

        o' = (-f / (W/2) o_x / o_z, -f / (H/2) o_y / o_z, 1 + 2 near / o_z)
        d' = (-f / (W/2) (d_x / d_z - o_x / o_z), -f / (H/2) (d_y / d_z - o_y / o_z), -2 near / o_z)

    so that the ray's depth range [near, infinity) becomes the NDC z range [-1, 1] reached at t' in [0, 1].

    Args:
        origins, directions: (..., 3) world-space rays.
        focal: focal length in pixels; width, height: image size in pixels.
        near: the near plane (NeRF uses 1.0 after scaling the scene so its nearest bound is at 1 / 0.75).
    Returns:
        origins, directions: (..., 3) in NDC.
    """
    t = -(near + origins[..., 2]) / directions[..., 2]
    o = origins + t[..., None] * directions
    ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
    dx, dy, dz = directions[..., 0], directions[..., 1], directions[..., 2]
    ax, ay = -focal / (width / 2.0), -focal / (height / 2.0)
    o_ndc = torch.stack([ax * ox / oz, ay * oy / oz, 1.0 + 2.0 * near / oz], dim=-1)
    d_ndc = torch.stack([ax * (dx / dz - ox / oz), ay * (dy / dz - oy / oz), -2.0 * near / oz], dim=-1)
    return o_ndc, d_ndc


# ----------------------------------------------------------------------------------------------------------------
# near / far


def estimate_near_far(frames: list[Frame], points: np.ndarray | None = None) -> tuple[float, float]:
    """Near and far distances along the viewing axis that hold the scene in every view.

    With sparse points (COLMAP), the 0.1 and 99.9 percentiles of the depths of the points in front of each camera,
    widened by 10 % (a sample of 20,000 points). Without points, the cameras are taken to look at one object: the
    point closest to all optical axes is its centre, and the largest sphere there that fits the narrowest view's
    diagonal field of view its extent; near = closest camera distance - radius, far = farthest + radius
    (for NeRF-synthetic: 2.2 and 5.8, where NeRF uses 2 and 6).
    """
    c2w = np.stack([f.c2w_opencv for f in frames])  # (N, 4, 4)
    centres, forward = c2w[:, :3, 3], c2w[:, :3, 2]  # (N, 3), (N, 3) unit viewing axes
    if points is not None and len(points) > 0:
        pts = np.asarray(points, dtype=np.float64)
        if len(pts) > 20000:
            pts = pts[np.random.default_rng(0).choice(len(pts), 20000, replace=False)]
        depth = (pts[None] - centres[:, None]) @ forward[..., None]  # (N, P, 1) along each viewing axis
        depth = depth[..., 0][depth[..., 0] > 1e-6]
        if depth.size:
            return float(np.percentile(depth, 0.1) * 0.9), float(np.percentile(depth, 99.9) * 1.1)
    # least-squares point nearest to all optical axes: sum_i (I - f_i f_i^T) (p - c_i) = 0
    proj = np.eye(3)[None] - forward[:, :, None] * forward[:, None, :]  # (N, 3, 3)
    A, b = proj.sum(0), (proj @ centres[..., None]).sum(0)[:, 0]
    if len(frames) < 2 or np.linalg.cond(A) > 1e8:
        return 0.1, 100.0
    centre = np.linalg.solve(A, b)
    dist = np.linalg.norm(centres - centre, axis=1)
    half_diag = min(
        np.arctan(np.hypot(max(f.cx, f.width - f.cx) / f.fx, max(f.cy, f.height - f.cy) / f.fy)) for f in frames
    )
    radius = float(dist.min() * np.sin(min(half_diag, np.pi / 2 - 1e-3)))
    return max(float(dist.min()) - radius, 0.01 * float(dist.min())), float(dist.max()) + radius


# ----------------------------------------------------------------------------------------------------------------
# the dataset


class SceneDataset(torch.utils.data.Dataset):
    """The posed views of one split of a scene, with the same fields whatever format they were read from.

    Attributes:
        root: the scene folder (or file) it was read from.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
        format: ``"blender"``, ``"nerfstudio"``, ``"colmap"``, ``"llff"`` or ``"course"``.
        frames: list of ``Frame``, one per view.
        cameras: ``PerspectiveCameras`` (N views, screen space: pixel focal lengths and principal points,
            ``image_size`` (N, 2) = (H, W)), built from the frames by ``conventions.cameras_from_c2w``.
        image_size: (H, W) of every view.
        points, points_rgb: (P, 3) float32 world points and (P, 3) float32 colours in [0, 1] (COLMAP's sparse
            points, nerfstudio's ``ply_file_path``), or None.
        near, far: distances along the viewing axis holding the scene (the format's own, or
            ``estimate_near_far``); in NDC for ``ndc=True`` (0 and 1, as NeRF).
        white_background: whether RGBA images are composited over white (else black).
        downscale: 1, 2, 4 or 8.
        ndc: whether ``rays`` returns NeRF's NDC rays (LLFF only).
        meta: what else the format stores (e.g. LLFF's per-view ``bounds``, nerfstudio's ``applied_transform``).
        cache_bytes: bound of the decoded-image cache in bytes (0 keeps nothing).
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        format: str,
        frames: list[Frame],
        *,
        points: np.ndarray | None = None,
        points_rgb: np.ndarray | None = None,
        near: float | None = None,
        far: float | None = None,
        white_background: bool = True,
        downscale: int = 1,
        ndc: bool = False,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = check_split(split)
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}; got {format!r}")
        self.format = format
        if not frames:
            raise SceneFormatError(self.root, f"no views in split {split!r}")
        self.frames = list(frames)
        check_sizes(self.frames)
        self.image_size = (self.frames[0].height, self.frames[0].width)
        self.points = None if points is None else np.asarray(points, dtype=np.float32).reshape(-1, 3)
        self.points_rgb = None if points_rgb is None else np.asarray(points_rgb, dtype=np.float32).reshape(-1, 3)
        if near is None or far is None:
            est_near, est_far = estimate_near_far(self.frames, self.points)
            near = est_near if near is None else near
            far = est_far if far is None else far
        self.near, self.far = float(near), float(far)
        self.white_background = bool(white_background)
        self.downscale = check_downscale(downscale)
        self.ndc = bool(ndc)
        if not isinstance(cache_bytes, (int, np.integer)) or isinstance(cache_bytes, bool) or cache_bytes < 0:
            raise ValueError(f"cache_bytes must be a non-negative whole number; got {cache_bytes!r}")
        self.cache_bytes = int(cache_bytes)
        self.meta = dict(meta or {})
        c2w = np.stack([f.c2w for f in self.frames])
        per = {k: np.array([getattr(f, k) for f in self.frames], dtype=np.float64)
               for k in ("fx", "fy", "cx", "cy", "width", "height")}
        self.cameras: PerspectiveCameras = cameras_from_c2w(
            torch.from_numpy(c2w).float(), per["fx"], per["fy"], per["cx"], per["cy"], per["width"], per["height"],
            convention="opengl",
        )
        self._cache: OrderedDict[int, dict[str, np.ndarray | None]] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        h, w = self.image_size
        return (f"SceneDataset(format={self.format!r}, split={self.split!r}, views={len(self)}, size={w}x{h}, "
                f"root={str(self.root)!r})")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the cache and its lock (a DataLoader worker started by "spawn" gets an empty cache)."""
        state = self.__dict__.copy()
        state["_cache"], state["_cached_bytes"], state["_lock"] = OrderedDict(), 0, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def cached_bytes(self) -> int:
        """Bytes of decoded images held by the cache now (at most ``cache_bytes``)."""
        return self._cached_bytes

    def _arrays(self, index: int) -> dict[str, np.ndarray | None]:
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
        arrays = decode_view(self.frames[index], self.white_background)
        size = sum(a.nbytes for a in arrays.values() if a is not None)
        with self._lock:
            if size <= self.cache_bytes and index not in self._cache:
                self._cache[index] = arrays
                self._cached_bytes += size
                while self._cached_bytes > self.cache_bytes:
                    _, old = self._cache.popitem(last=False)
                    self._cached_bytes -= sum(a.nbytes for a in old.values() if a is not None)
        return arrays

    def __getitem__(self, index: int) -> dict[str, Any]:
        """View ``index`` as a dict.

        Returns:
            image: (H, W, 3) float32 in [0, 1], RGBA composited over the background colour.
            mask: (H, W) float32 coverage (the image's alpha, or the frame's mask file), or None.
            camera: ``self.cameras[index]``, PerspectiveCameras of batch size 1.
            index: ``index``.
            depth: (H, W) float32 depth along the viewing axis, 0 where empty (when the frame has a depth map).
            normal: (H, W, 3) float32 unit world-space normals, 0 where empty (when the frame has a normal map).
        """
        if isinstance(index, (np.integer, torch.Tensor)):
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"index must be an int; got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} views")
        index %= n
        arrays = self._arrays(index)
        item: dict[str, Any] = {
            "image": torch.from_numpy(arrays["image"].copy()),
            "mask": None if arrays["mask"] is None else torch.from_numpy(arrays["mask"].copy()),
            "camera": self.cameras[index],
            "index": index,
        }
        for key in ("depth", "normal"):
            if key in arrays:
                item[key] = torch.from_numpy(arrays[key].copy())
        return item

    def images(self) -> torch.Tensor:
        """All views' images stacked, (N, H, W, 3) float32 (decodes every view; mind the memory)."""
        return torch.stack([self[i]["image"] for i in range(len(self))])

    def rays(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rays through the pixel centres of view ``index``: ``(origins, directions)``, each (H, W, 3) float32.

        In world space (``frame_rays``: directions with unit component along the viewing axis, lens distortion
        undone), or in NeRF's NDC (``ndc_rays`` with the view's focal length and ``near=1``) when the dataset was
        loaded with ``ndc=True``.
        """
        frame = self.frames[index]
        origins, directions = frame_rays(frame, dtype=torch.float64)
        if self.ndc:
            origins, directions = ndc_rays(origins, directions, frame.fx, frame.width, frame.height, near=1.0)
        return origins.float(), directions.float()


# ----------------------------------------------------------------------------------------------------------------
# loading


def _colmap_model_dir(root: Path) -> Path | None:
    for d in (root / "sparse" / "0", root / "sparse", root):
        if any((d / f"cameras.{ext}").is_file() for ext in ("bin", "txt")):
            return d
    return None


def _course_file(root: Path) -> Path | None:
    if root.is_file() and root.suffix == ".pth":
        return root
    if root.is_dir():
        found = sorted(p for p in root.glob("*.pth") if p.with_suffix(".png").is_file())
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise SceneFormatError(root, f"several course scenes ({names}); pass one .pth file")
        return found[0] if found else None
    return None


def detect_format(path: str | Path, ndc: bool = False) -> str:
    """The format of the scene at ``path`` from the files present (table in the module docstring).

    Raises:
        SceneFileNotFoundError: ``path`` does not exist; SceneFormatError: no known layout found.
    """
    root = Path(path)
    if not root.exists():
        raise SceneFileNotFoundError(root, "no such scene folder or file")
    if root.is_file():
        if root.suffix == ".pth":
            return "course"
        if root.name.startswith("transforms_") and root.suffix == ".json":
            return "blender"
        if root.name == "transforms.json":
            return "nerfstudio"
        if root.name == "poses_bounds.npy":
            return "llff"
        raise SceneFormatError(root, "not a scene file (expected a folder, transforms*.json, poses_bounds.npy or .pth)")
    if any((root / f"transforms_{s}.json").is_file() for s in ("train", "val", "test")):
        return "blender"
    if (root / "transforms.json").is_file():
        return "nerfstudio"
    if ndc and (root / "poses_bounds.npy").is_file():
        return "llff"
    if _colmap_model_dir(root) is not None:
        return "colmap"
    if (root / "poses_bounds.npy").is_file():
        return "llff"
    if _course_file(root) is not None:
        return "course"
    raise SceneFormatError(
        root,
        "no known scene layout (transforms_*.json, transforms.json, sparse/0/cameras.bin|txt, poses_bounds.npy or "
        "NAME.pth + NAME.png)",
    )


def load_scene(
    path: str | Path,
    split: Split = "train",
    downscale: int = 1,
    white_background: bool = True,
    format: str = "auto",
    *,
    ndc: bool = False,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> SceneDataset:
    """One split of the scene at ``path`` as a ``SceneDataset``.

    Args:
        path: the scene folder (or its ``transforms*.json``, ``poses_bounds.npy`` or course ``.pth`` file).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
        downscale: 1, 2, 4 or 8; pre-downscaled ``images_N`` folders are used where the format has them, else images
            are resized by area averaging when loaded.
        white_background: composite RGBA images over white (True) or black (False).
        format: ``"auto"`` (``detect_format``) or one of ``FORMATS``.
        ndc: NeRF's NDC rays for forward-facing scenes (LLFF only).
        cache_bytes: bound of the decoded-image cache.
    """
    if format == "auto":
        format = detect_format(path, ndc=ndc)
    if format not in FORMATS:
        raise ValueError(f"format must be 'auto' or one of {FORMATS}; got {format!r}")
    if ndc and format != "llff":
        raise ValueError(f"ndc=True needs an LLFF scene (poses_bounds.npy); {path} is read as {format!r}")
    options = dict(split=split, downscale=downscale, white_background=white_background, cache_bytes=cache_bytes)
    if format == "blender":
        from inverse3d.datasets.scenes.blender import read_blender

        return read_blender(path, **options)
    if format == "nerfstudio":
        from inverse3d.datasets.scenes.nerfstudio import read_nerfstudio

        return read_nerfstudio(path, **options)
    if format == "colmap":
        from inverse3d.datasets.scenes.colmap import read_colmap

        return read_colmap(path, **options)
    if format == "llff":
        from inverse3d.datasets.scenes.llff import read_llff

        return read_llff(path, ndc=ndc, **options)
    from inverse3d.datasets.scenes.course import read_course

    return read_course(path, **options)
