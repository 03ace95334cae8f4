"""One call to look at a mesh, a point cloud or a voxel grid: turntables, dolly zooms and camera paths.

Every function takes ``obj``, any of:

- ``Meshes`` (with any textures; a mesh without textures gets a gentle default colour),
- ``Pointclouds`` (features used as RGB colours, else a default colour), or a (P, 3) tensor of points,
- a voxel grid, a tensor or array (D, H, W) or (1, D, H, W) of occupancies in [0, 1] or logits over the cube
  [-0.5, 0.5]^3 of CONVENTIONS.md, turned into a mesh of cubes by ``inverse3d.ops.cubify``,

and returns frames ``(T, H, W, 3)`` uint8 (CPU), rendered with a hard Phong shader (meshes) or alpha-composited
point splats (point clouds), a light near each camera ("headlight") and ``background`` where nothing is hit.
``render_views`` renders from given cameras; ``render_turntable`` and ``dolly_zoom`` frame the object from its
bounding sphere themselves. ``save_*`` write GIF, MP4 or a PNG folder by the suffix of the path, rendering the
frames a batch at a time as the writer takes them, so memory does not grow with the number of frames.

Before rendering, the memory a batch needs (rasteriser and shader buffers per pixel, plus the frames kept) is
compared with what the device has available: an image size that cannot fit is refused with a one-line
``ValueError`` saying how much it would need, instead of exhausting the machine.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from inverse3d.viz.images import save_frames

DEFAULT_COLOR = (0.72, 0.77, 0.9)  # a gentle blue-grey for untextured meshes and colourless points
_MARGIN = 1.08  # the bounding sphere fills 1/_MARGIN of the half field of view
_PIXELS_PER_BATCH = 1 << 20  # frames rendered together: about this many pixels at once
# Peak working memory per rendered pixel (rasteriser and shader buffers), measured on the CPU with some headroom:
# about 220 B for a hard-Phong mesh (K = 1) and 430 B for alpha-composited points (K = 8).
BYTES_PER_PIXEL = {"mesh": 320, "points": 480}
_FIXED_BYTES = 64 << 20  # per-face / per-point search chunks, bounded by the rasterisers' own budgets


@dataclass
class _Scene:
    """What gets rendered: one mesh or one point cloud on its device, and its bounding sphere."""

    kind: str  # "mesh" or "points"
    data: Any  # Meshes (batch of 1, with textures) or Pointclouds (batch of 1, RGB features)
    center: torch.Tensor  # (3,)
    radius: float


def prepare_scene(
    obj: Any,
    device: torch.device | str | None = None,
    color: Sequence[float] | None = None,
    texture: bool = True,
    voxel_threshold: float = 0.5,
) -> _Scene:
    """Turns ``obj`` (see the module docstring) into a single mesh or point cloud ready to render.

    Args:
        color: RGB in [0, 1] replacing the object's own colours (textures or point features).
        texture: False ignores the object's textures / features (the default or given colour is used).
        voxel_threshold: occupancy threshold for voxel grids (logit grids are passed through a sigmoid first).
    """
    from inverse3d.structures import Meshes, Pointclouds

    if color is not None:
        color = tuple(float(c) for c in color)
        if len(color) != 3:
            raise ValueError(f"color must have 3 values (RGB in [0, 1]); got {color}")
    if isinstance(obj, np.ndarray):
        obj = torch.from_numpy(obj)
    if torch.is_tensor(obj):
        if obj.ndim == 2 and obj.shape[-1] == 3:
            obj = Pointclouds(points=[obj.float() if not obj.is_floating_point() else obj])
        else:
            obj = voxels_to_mesh(obj, voxel_threshold)
    if isinstance(obj, Meshes):
        mesh = obj.to(device) if device is not None else obj
        if len(mesh) > 1:
            from inverse3d.structures import join_meshes_as_scene

            mesh = join_meshes_as_scene(mesh)
        verts = mesh.verts_packed()
        if verts.shape[0] == 0 or mesh.faces_packed().shape[0] == 0:
            raise ValueError("cannot render an empty mesh (no vertices or no faces)")
        if torch.isnan(verts).any():
            raise ValueError("mesh vertices contain NaN")
        if color is not None or not texture or mesh.textures is None:
            mesh = _recolored_mesh(mesh, color or DEFAULT_COLOR)
        return _Scene("mesh", mesh, *_bounding_sphere(verts))
    if isinstance(obj, Pointclouds):
        pcl = obj.to(device) if device is not None else obj
        points = pcl.points_packed()
        if points.shape[0] == 0:
            raise ValueError("cannot render an empty point cloud")
        if torch.isnan(points).any():
            raise ValueError("points contain NaN")
        rgb = _point_colors(pcl.features_packed() if texture else None, points, color)
        pcl = Pointclouds(points=[points], features=[rgb])
        return _Scene("points", pcl, *_bounding_sphere(points))
    raise ValueError(
        f"cannot render a {type(obj).__name__}: pass Meshes, Pointclouds, a (P, 3) tensor of points or a "
        "(D, H, W) voxel grid"
    )


def voxels_to_mesh(voxels: torch.Tensor | np.ndarray, threshold: float = 0.5):
    """A (D, H, W) or (1, D, H, W) occupancy or logit grid over [-0.5, 0.5]^3 -> a Meshes of cubes.

    Values outside [0, 1] are taken as logits (a sigmoid is applied); booleans as occupancies.
    """
    from inverse3d.ops import cubify

    vox = torch.as_tensor(voxels)
    if vox.ndim == 4 and vox.shape[0] == 1:
        vox = vox[0]
    if vox.ndim != 3 or min(vox.shape) == 0:
        raise ValueError(f"a voxel grid must have shape (D, H, W) or (1, D, H, W); got {tuple(vox.shape)}")
    vox = vox.float() if not vox.is_floating_point() else vox
    if torch.isnan(vox).any():
        raise ValueError("voxel grid contains NaN")
    if vox.min() < 0 or vox.max() > 1:
        vox = torch.sigmoid(vox)
    if not (vox >= threshold).any():
        raise ValueError(f"the voxel grid has no cell at or above the threshold {threshold}: nothing to render")
    return cubify(vox[None], threshold, align="world")


def _recolored_mesh(mesh, color: Sequence[float]):
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    verts = mesh.verts_packed()
    rgb = torch.tensor(color, dtype=verts.dtype, device=verts.device).expand(verts.shape[0], 3)
    return Meshes(verts=[verts], faces=[mesh.faces_packed()], textures=TexturesVertex(verts_features=[rgb]))


def _point_colors(features: torch.Tensor | None, points: torch.Tensor, color: Sequence[float] | None) -> torch.Tensor:
    """(P, 3) RGB in [0, 1] from the override, the features (RGB, RGBA, grey; 0-255 scaled down) or the default."""
    P = points.shape[0]
    fallback = torch.tensor(color or DEFAULT_COLOR, dtype=points.dtype, device=points.device).expand(P, 3)
    if color is not None or features is None or features.shape[-1] not in (1, 3, 4):
        return fallback
    rgb = features[:, :3] if features.shape[-1] != 1 else features.expand(P, 3)
    rgb = rgb.to(points.dtype)
    if torch.isnan(rgb).any():
        raise ValueError("point colours (features) contain NaN")
    if rgb.max() > 1.0 + 1e-6:  # colours stored as 0-255
        rgb = rgb / 255.0
    return rgb.clamp(0.0, 1.0)


def _bounding_sphere(xyz: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Centre of the bounding box (3,) and the largest distance from it (1.0 for a single point)."""
    center = (xyz.min(dim=0).values + xyz.max(dim=0).values) / 2
    radius = float((xyz - center).norm(dim=-1).max())
    return center, radius if radius > 0 else 1.0


def _as_batch(value: float | Sequence[float] | torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device).reshape(-1)
    if t.numel() not in (1, n):
        raise ValueError(f"expected a scalar or {n} values; got {t.numel()}")
    return t.expand(n)


def auto_point_radius(num_points: int, image_size: int | tuple[int, int]) -> float:
    """An NDC splat radius that covers a framed surface of ``num_points`` points without holes or blobs.

    About ``1.3 / sqrt(P)``, at least 1.5 pixels and at most 0.05.
    """
    S = min(image_size) if isinstance(image_size, (tuple, list)) else image_size
    return float(min(max(1.3 / math.sqrt(max(num_points, 1)), 3.0 / S), 0.05))


def render_views(
    obj: Any,
    R: torch.Tensor,
    T: torch.Tensor,
    fov: float | Sequence[float] | torch.Tensor = 60.0,
    image_size: int | tuple[int, int] = 256,
    background: Sequence[float] = (1.0, 1.0, 1.0),
    device: torch.device | str | None = None,
    progress: bool = False,
    *,
    color: Sequence[float] | None = None,
    texture: bool = True,
    point_radius: float | None = None,
    voxel_threshold: float = 0.5,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Renders ``obj`` from the given cameras, a few frames at a time.

    Args:
        obj: Meshes, Pointclouds, (P, 3) points or a voxel grid (see the module docstring).
        R: (T, 3, 3) world-to-view rotations and T: (T, 3) translations (row vectors, X_view = X_world @ R + T),
            e.g. from ``look_at_view_transform``.
        fov: vertical field of view in degrees, one for all frames or (T,).
        image_size: int or (H, W).
        background: RGB in [0, 1] where nothing is hit.
        device: where to render (default: the device of ``obj``).
        progress: show a tqdm progress bar.
        color: RGB override of the object's colours; texture: False ignores its textures.
        point_radius: NDC splat radius for point clouds (default: :func:`auto_point_radius`).
        voxel_threshold: occupancy threshold for voxel grids.
        batch_size: frames rendered together (default: about 1M pixels' worth).
    Returns:
        (T, H, W, 3) uint8 frames on the CPU.
    """
    scene = prepare_scene(obj, device, color, texture, voxel_threshold)
    like = scene.center
    R = torch.as_tensor(R).to(like)
    T = torch.as_tensor(T).to(like)
    if R.ndim == 2:
        R = R[None]
    if T.ndim == 1:
        T = T[None]
    if R.shape[1:] != (3, 3) or T.shape[1:] != (3,) or R.shape[0] != T.shape[0]:
        raise ValueError(f"R must be (T, 3, 3) and T (T, 3) with the same T; got {tuple(R.shape)} and {tuple(T.shape)}")
    return _render(scene, R, T, _as_batch(fov, R.shape[0], like), image_size, background, progress,
                   point_radius, batch_size)


def _render(scene: _Scene, R, T, fov, image_size, background, progress, point_radius, batch_size) -> torch.Tensor:
    """All frames of the cameras (R, T, fov) stacked: (n, H, W, 3) uint8 on the CPU."""
    n = R.shape[0]
    chunks = _render_chunks(scene, lambda s, e: (R[s:e], T[s:e], fov[s:e]), n, image_size, background, progress,
                            point_radius, batch_size, kept_frames=n)
    return torch.cat(list(chunks))


def _render_chunks(
    scene: _Scene,
    cameras: Callable[[int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    n: int,
    image_size,
    background,
    progress: bool,
    point_radius,
    batch_size: int | None,
    kept_frames: int,
) -> Iterator[torch.Tensor]:
    """Renders frames [0, n) a batch at a time: ``cameras(s, e)`` gives (R, T, fov) of frames s..e-1, and each batch
    is yielded as (B, H, W, 3) uint8 on the CPU once rendered. The memory check runs before the first batch.

    Args:
        kept_frames: how many frames the caller keeps in memory (n when stacking them, one batch when streaming).
    """
    from tqdm.auto import tqdm

    from inverse3d.renderer.points.rasterize_points import parse_image_size

    H, W = parse_image_size(image_size)
    bg = tuple(float(c) for c in background)
    if len(bg) != 3:
        raise ValueError(f"background must have 3 values (RGB in [0, 1]); got {background}")
    if batch_size is not None:
        batch_size = _positive_int(batch_size, "batch_size")
    B = frames_per_batch(n, (H, W), batch_size)
    check_render_memory((H, W), scene.kind, B, max(kept_frames, B), scene.center.device)

    def chunks() -> Iterator[torch.Tensor]:
        with tqdm(total=n, desc="rendering", unit="frame", disable=not progress, leave=False) as bar:
            for s in range(0, n, B):
                e = min(n, s + B)
                R, T, fov = cameras(s, e)
                with torch.no_grad():
                    if scene.kind == "mesh":
                        rgb = _render_mesh(scene, R, T, fov, (H, W), bg)
                    else:
                        rgb = _render_points(scene, R, T, fov, (H, W), bg, point_radius)
                yield (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu()
                bar.update(e - s)

    return chunks()


def frames_per_batch(n_frames: int, image_size: int | tuple[int, int], batch_size: int | None = None) -> int:
    """How many of ``n_frames`` frames are rendered together: ``batch_size``, else about 1M pixels' worth."""
    from inverse3d.renderer.points.rasterize_points import parse_image_size

    H, W = parse_image_size(image_size)
    return max(1, min(n_frames, batch_size or _PIXELS_PER_BATCH // (H * W)))


def render_memory_bytes(
    image_size: int | tuple[int, int], kind: str | None = None, batch_frames: int = 1, kept_frames: int = 1
) -> int:
    """About how many bytes rendering needs at its peak.

    Args:
        image_size: int or (H, W).
        kind: "mesh" or "points"; None: the larger of the two (before the object is known).
        batch_frames: frames rendered together; kept_frames: frames held in memory (uint8) at once.
    """
    from inverse3d.renderer.points.rasterize_points import parse_image_size

    H, W = parse_image_size(image_size)
    per_pixel = BYTES_PER_PIXEL[kind] if kind is not None else max(BYTES_PER_PIXEL.values())
    return per_pixel * H * W * batch_frames + 3 * H * W * kept_frames + _FIXED_BYTES


def available_memory_bytes(device: torch.device | str | None = None) -> int | None:
    """Bytes free for a new allocation on ``device`` (CUDA: free plus cached by this process; otherwise the
    system's available memory, within a cgroup limit if any), or None when it cannot be told."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    return _host_available_bytes()


def _host_available_bytes() -> int | None:
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    try:  # a container's limit (cgroup v2)
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            used = int(f.read().strip())
        if limit != "max":
            found.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def check_render_memory(
    image_size: int | tuple[int, int],
    kind: str | None = None,
    batch_frames: int = 1,
    kept_frames: int = 1,
    device: torch.device | str | None = None,
    option: str = "image_size",
) -> int:
    """Raises a one-line ValueError when :func:`render_memory_bytes` exceeds :func:`available_memory_bytes`.

    Args:
        option: the name of the size in the message (e.g. ``--size`` from the command line).
    Returns:
        the estimate in bytes.
    """
    from inverse3d.renderer.points.rasterize_points import parse_image_size

    H, W = parse_image_size(image_size)
    need = render_memory_bytes((H, W), kind, batch_frames, kept_frames)
    have = available_memory_bytes(device)
    if have is not None and need > have:
        where = torch.device(device).type if device is not None else "cpu"
        given = image_size if isinstance(image_size, int) else f"({H}, {W})"
        raise ValueError(
            f"{option} {given}: rendering {H} x {W} pixel frames needs about {_format_bytes(need)} of memory, more "
            f"than the {_format_bytes(have)} available on {where}; use a smaller {option}")
    return need


def _cameras(scene: _Scene, R, T, fov):
    """FoV cameras for a batch of views, near/far planes bracketing the bounding sphere, and their centres."""
    from inverse3d.renderer import FoVPerspectiveCameras

    centres = -(T[:, None, :] @ R.transpose(1, 2))[:, 0]  # (B, 3): C @ R + T = 0
    dist = (centres - scene.center).norm(dim=-1)  # (B,)
    znear = ((dist - scene.radius) * 0.5).clamp(min=1e-3 * scene.radius)
    zfar = dist + 2 * scene.radius
    cams = FoVPerspectiveCameras(R=R, T=T, fov=fov, znear=znear, zfar=zfar, device=R.device)
    return cams, centres


def _headlights(R, centres, radius: float):
    """Point lights a little above each camera (half a bounding radius along the camera's up axis)."""
    from inverse3d.renderer import PointLights

    up = R[:, :, 1]  # world direction of view +Y: the second column of R
    B = R.shape[0]
    grey = lambda v: torch.full((B, 3), v, dtype=R.dtype, device=R.device)  # noqa: E731
    return PointLights(
        location=centres + 0.5 * radius * up,
        ambient_color=grey(0.45),
        diffuse_color=grey(0.55),
        specular_color=grey(0.15),
        device=R.device,
    )


def _render_mesh(scene: _Scene, R, T, fov, size, background) -> torch.Tensor:
    from inverse3d.renderer import (
        BlendParams,
        HardPhongShader,
        MeshRasterizer,
        MeshRenderer,
        RasterizationSettings,
    )

    cams, centres = _cameras(scene, R, T, fov)
    lights = _headlights(R, centres, scene.radius)
    settings = RasterizationSettings(image_size=size, faces_per_pixel=1)
    blend = BlendParams(background_color=background)
    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(cameras=cams, raster_settings=settings),
        shader=HardPhongShader(device=R.device, cameras=cams, lights=lights, blend_params=blend),
    )
    images = renderer(scene.data.extend(R.shape[0]), cameras=cams, lights=lights)  # (B, H, W, 4)
    return images[..., :3]


def _render_points(scene: _Scene, R, T, fov, size, background, point_radius) -> torch.Tensor:
    from inverse3d.renderer import AlphaCompositor, PointsRasterizationSettings, PointsRasterizer, PointsRenderer
    from inverse3d.structures import Pointclouds

    cams, _ = _cameras(scene, R, T, fov)
    points = scene.data.points_packed()
    rgb = scene.data.features_packed()
    radius = point_radius if point_radius is not None else auto_point_radius(points.shape[0], size)
    rgba = torch.cat([rgb, torch.ones_like(rgb[:, :1])], dim=-1)  # alpha channel = coverage
    B = R.shape[0]
    clouds = Pointclouds(points=[points] * B, features=[rgba] * B)
    settings = PointsRasterizationSettings(image_size=size, radius=float(radius), points_per_pixel=8)
    renderer = PointsRenderer(PointsRasterizer(cameras=cams, raster_settings=settings), AlphaCompositor())
    images = renderer(clouds)  # (B, H, W, 4): colour premultiplied by coverage
    bg = torch.tensor(background, dtype=images.dtype, device=images.device)
    return images[..., :3] + (1 - images[..., 3:]) * bg


def turntable_cameras(
    center: torch.Tensor,
    radius: float,
    n_frames: int = 36,
    elev: float = 20.0,
    fov: float = 60.0,
    azim_start: float = 0.0,
    frames: range | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """R (T, 3, 3), T (T, 3) of ``n_frames`` cameras evenly spaced in azimuth, looking at ``center`` from the
    distance at which a sphere of ``radius`` fills the field of view ``fov`` (degrees), with a small margin.

    Args:
        frames: only these frames of the ``n_frames`` (default all), e.g. ``range(64, 128)`` for one batch.
    """
    from inverse3d.renderer import look_at_view_transform

    n_frames = _positive_int(n_frames, "n_frames")
    if not 0 < fov < 180:
        raise ValueError(f"fov must be in (0, 180) degrees; got {fov}")
    frames = range(n_frames) if frames is None else frames
    dist = radius * _MARGIN / math.sin(math.radians(fov) / 2)
    exact = torch.float64 if n_frames > 1 << 24 else center.dtype  # frame numbers beyond float32's integers
    index = torch.arange(frames.start, frames.stop, frames.step, dtype=exact, device=center.device)
    azim = (azim_start + index * (360.0 / n_frames)).to(center.dtype)
    n = azim.shape[0]
    return look_at_view_transform(
        dist=torch.full_like(azim, dist),
        elev=torch.full_like(azim, float(elev)),
        azim=azim,
        at=center[None].expand(n, 3),
        device=center.device,
    )


def render_turntable(
    obj: Any,
    n_frames: int = 36,
    image_size: int | tuple[int, int] = 256,
    elev: float = 20.0,
    fov: float = 60.0,
    background: Sequence[float] = (1.0, 1.0, 1.0),
    device: torch.device | str | None = None,
    progress: bool = True,
    *,
    azim_start: float = 0.0,
    **style: Any,
) -> torch.Tensor:
    """Renders ``obj`` from ``n_frames`` cameras evenly spaced in azimuth around it, auto-framed.

    Args:
        obj: Meshes, Pointclouds, (P, 3) points or a voxel grid (see the module docstring).
        n_frames: number of views, azimuths ``azim_start + 360 t / n_frames`` degrees.
        elev: camera elevation in degrees; fov: field of view in degrees.
        style: ``color``, ``texture``, ``point_radius``, ``voxel_threshold``, ``batch_size`` of :func:`render_views`.
    Returns:
        (n_frames, H, W, 3) uint8 frames on the CPU.
    """
    frames = _turntable_chunks(obj, n_frames, image_size, elev, fov, background, device, progress, azim_start,
                               style, kept_frames=n_frames)
    return torch.cat(list(frames))


def _turntable_chunks(obj, n_frames, image_size, elev, fov, background, device, progress, azim_start, style,
                      kept_frames: int | None = None) -> Iterator[torch.Tensor]:
    """Checks everything, then returns a lazy iterator of (B, H, W, 3) uint8 batches of turntable frames; the
    cameras of each batch are made when it is rendered. ``kept_frames`` None: the caller keeps one batch."""
    n_frames = _positive_int(n_frames, "n_frames")
    if not 0 < fov < 180:
        raise ValueError(f"fov must be in (0, 180) degrees; got {fov}")
    scene = prepare_scene(obj, device, style.pop("color", None), style.pop("texture", True),
                          style.pop("voxel_threshold", 0.5))
    point_radius = style.pop("point_radius", None)
    batch_size = _only_batch_size(style)

    def cameras(s: int, e: int):
        R, T = turntable_cameras(scene.center, scene.radius, n_frames, elev, fov, azim_start, range(s, e))
        return R, T, _as_batch(fov, e - s, scene.center)

    return _render_chunks(scene, cameras, n_frames, image_size, background, progress, point_radius, batch_size,
                          kept_frames=kept_frames or 1)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def _only_batch_size(style: dict) -> int | None:
    batch_size = style.pop("batch_size", None)
    if style:
        raise TypeError(f"unexpected keyword arguments: {sorted(style)}")
    return batch_size


def save_turntable(obj: Any, path: str | Path, fps: float = 15, **kw: Any) -> Path:
    """Renders :func:`render_turntable` (``kw`` are its arguments) and writes it: .gif, .mp4 or a PNG folder.

    Frames go to the writer a batch at a time as they are rendered, so memory does not grow with ``n_frames``.
    """
    args = dict(n_frames=36, image_size=256, elev=20.0, fov=60.0, background=(1.0, 1.0, 1.0), device=None,
                progress=True, azim_start=0.0)
    for name in list(args):
        if name in kw:
            args[name] = kw.pop(name)
    chunks = _turntable_chunks(obj, **args, style=kw)
    return save_frames((frame for chunk in chunks for frame in chunk), path, fps=fps)


def dolly_zoom(
    obj: Any,
    n_frames: int = 36,
    image_size: int | tuple[int, int] = 256,
    fov_range: tuple[float, float] = (20.0, 90.0),
    elev: float = 10.0,
    azim: float = 0.0,
    background: Sequence[float] = (1.0, 1.0, 1.0),
    device: torch.device | str | None = None,
    progress: bool = True,
    **style: Any,
) -> torch.Tensor:
    """A dolly zoom: the field of view sweeps ``fov_range`` while the camera moves so the subject keeps its size.

    The camera looks at the centre of the bounding sphere from ``distance = half_width / tan(fov / 2)``, so the
    plane through the centre always shows the same ``2 * half_width``; ``half_width`` is chosen so that even at
    the widest angle the camera stays outside the bounding sphere.

    Args:
        fov_range: (first, last) field of view in degrees, both in (0, 180).
        elev, azim: the fixed viewing direction in degrees.
        other args as in :func:`render_turntable`.
    Returns:
        (n_frames, H, W, 3) uint8 frames on the CPU.
    """
    from inverse3d.renderer import look_at_view_transform

    lo, hi = (float(f) for f in fov_range)
    if not (0 < lo < 180 and 0 < hi < 180):
        raise ValueError(f"fov_range must lie in (0, 180) degrees; got {fov_range}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1; got {n_frames}")
    scene = prepare_scene(obj, device, style.pop("color", None), style.pop("texture", True),
                          style.pop("voxel_threshold", 0.5))
    like = scene.center
    fovs = torch.linspace(lo, hi, n_frames, dtype=like.dtype, device=like.device)
    widest = math.radians(max(lo, hi)) / 2
    half_width = scene.radius * max(_MARGIN, 1.5 * math.tan(widest))
    dist = half_width / torch.tan(torch.deg2rad(fovs) / 2)
    R, T = look_at_view_transform(
        dist=dist,
        elev=torch.full_like(fovs, float(elev)),
        azim=torch.full_like(fovs, float(azim)),
        at=like[None].expand(n_frames, 3),
        device=like.device,
    )
    return _render(scene, R, T, fovs, image_size, background, progress, style.pop("point_radius", None),
                   _only_batch_size(style))


def save_dolly_zoom(obj: Any, path: str | Path, fps: float = 15, **kw: Any) -> Path:
    """Renders :func:`dolly_zoom` (``kw`` are its arguments) and writes it: .gif, .mp4 or a PNG folder."""
    return save_frames(dolly_zoom(obj, **kw), path, fps=fps)


def camera_path_frames(
    obj: Any,
    rotations: torch.Tensor | None = None,
    translations: torch.Tensor | None = None,
    image_size: int | tuple[int, int] = 256,
    elev: float = 10.0,
    azim: float = 0.0,
    fov: float = 60.0,
    background: Sequence[float] = (1.0, 1.0, 1.0),
    device: torch.device | str | None = None,
    progress: bool = True,
    **style: Any,
) -> torch.Tensor:
    """Moves the camera from an auto-framed starting view: rotations and translations in its own (view) frame.

    Frame t uses ``R_t = R0 @ rotations[t]`` and ``T_t = T0 @ rotations[t] + translations[t]``, i.e. the view-space
    points of the starting camera are rotated by ``rotations[t]`` and then shifted by ``translations[t]``:
    a rotation about the z axis rolls the image, ``translations[t] = (d, 0, 0)`` slides the scene d units to the
    left of the image (+X is left), ``(0, 0, d)`` pushes it d units away.

    Args:
        rotations: (T, 3, 3) rotation matrices (default: identity).
        translations: (T, 3) view-space translations in world units (default: zero).
        elev, azim, fov: the starting view (degrees), framed as in :func:`render_turntable`.
    Returns:
        (T, H, W, 3) uint8 frames on the CPU.
    """
    if rotations is None and translations is None:
        raise ValueError("camera_path_frames needs rotations (T, 3, 3) and/or translations (T, 3)")
    scene = prepare_scene(obj, device, style.pop("color", None), style.pop("texture", True),
                          style.pop("voxel_threshold", 0.5))
    like = scene.center
    n = (rotations if rotations is not None else translations).shape[0]
    eye = torch.eye(3, dtype=like.dtype, device=like.device)
    rot = eye.expand(n, 3, 3) if rotations is None else rotations.to(like)
    shift = like.new_zeros(n, 3) if translations is None else translations.to(like)
    if rot.shape != (n, 3, 3) or shift.shape != (n, 3):
        raise ValueError(
            f"rotations must be (T, 3, 3) and translations (T, 3); got {tuple(rot.shape)}, {tuple(shift.shape)}"
        )
    R0, T0 = turntable_cameras(like, scene.radius, 1, elev, fov, azim)
    R = R0 @ rot
    T = (T0[:, None, :] @ rot)[:, 0] + shift
    return _render(scene, R, T, _as_batch(fov, n, like), image_size, background, progress,
                   style.pop("point_radius", None), _only_batch_size(style))
