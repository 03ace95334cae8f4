"""``inverse3d render PATH -o out.gif``: a turntable of a mesh, point cloud or voxel grid file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".off", ".stl")
ARRAY_SUFFIXES = (".npy", ".npz")
# NPZ keys read as a voxel grid; any other NPZ is read as a point cloud by inverse3d.io.load_pointcloud.
VOXEL_KEYS = ("voxels", "occupancy", "occupancies", "grid", "volume", "logits")


@dataclass
class Args:
    """Render a turntable GIF, MP4 or PNG folder of a mesh (OBJ, PLY, GLB/glTF), a point cloud (PLY without
    faces, NPZ with points, NPY of shape (P, 3) or (P, 6) with RGB) or a voxel grid (NPY/NPZ of shape (D, H, W)
    over [-0.5, 0.5]^3, occupancies or logits), auto-framed, cameras evenly spaced in azimuth."""

    path: tyro.conf.Positional[Path]
    """The file to render."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",), metavar="PATH")] = "render.gif"
    """Output: .gif (looping), .mp4, or a folder (no suffix) of PNG frames; frame_*.png files of an earlier run
    in that folder are replaced. Checked before anything is rendered."""
    size: int = 256
    """Image size in pixels (square)."""
    frames: int = 36
    """Number of frames (views) in the turntable."""
    elev: float = 20.0
    """Camera elevation in degrees."""
    fov: float = 60.0
    """Field of view in degrees."""
    color: tuple[float, float, float] | None = None
    """RGB in [0, 1] overriding the object's colours, e.g. --color 1 0.5 0.2."""
    texture: bool = True
    """Use the mesh textures / point colours of the file (--no-texture: plain colour)."""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Background RGB in [0, 1]."""
    fps: float = 15.0
    """Frames per second of the GIF or MP4."""
    point_radius: float | None = None
    """Splat radius of points in NDC units (default: from the number of points)."""
    voxel_threshold: float = 0.5
    """Occupancy threshold of voxel grids (logit grids go through a sigmoid first)."""
    kind: Literal["auto", "mesh", "points", "voxels"] = "auto"
    """What the file holds; auto guesses from the suffix and contents."""
    device: str = "auto"
    """Torch device to render on: auto (CUDA when present), cpu, cuda, cuda:1, ..."""
    progress: bool = True
    """Show a progress bar."""
    allow_external_files: bool = False
    """Let an OBJ's mtllib / map_Kd references point outside the mesh's folder (absolute paths, '..'); by default
    such references are refused with a warning and the material falls back to its colour."""


def load_renderable(path: Path, kind: str = "auto", device: Any = "cpu", allow_external_files: bool = False) -> Any:
    """Reads ``path`` as Meshes, Pointclouds or a voxel-grid tensor (D, H, W).

    Args:
        allow_external_files: passed to ``inverse3d.io.load_mesh`` (OBJ references outside the mesh's folder).
    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder, an unsupported suffix, or contents that are not a mesh, point cloud or voxel grid.
    """
    import numpy as np

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; expected a mesh, point-cloud or voxel-grid file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if kind == "voxels" and suffix not in ARRAY_SUFFIXES:
        raise ValueError(f"{path}: voxel grids are read from .npy or .npz files, not {suffix or '(no suffix)'}")
    if kind == "points" and suffix in MESH_SUFFIXES:
        raise ValueError(f"{path}: point clouds are read from .ply, .npz or .npy files, not {suffix}")
    if suffix in MESH_SUFFIXES or (suffix == ".ply" and kind == "mesh"):
        from inverse3d.io import load_mesh

        return load_mesh(path, device=device, allow_external_files=allow_external_files)
    if suffix == ".ply":
        if kind == "points" or (kind == "auto" and not _ply_has_faces(path)):
            from inverse3d.io import load_pointcloud

            return load_pointcloud(path, device=device)
        from inverse3d.io import load_mesh

        return load_mesh(path, device=device, allow_external_files=allow_external_files)
    if suffix not in ARRAY_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of "
            f"{', '.join(MESH_SUFFIXES + ('.ply',) + ARRAY_SUFFIXES)}"
        )
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises several types on a damaged file
        raise ValueError(f"{path}: cannot read as {suffix[1:].upper()}: {err}") from err
    if suffix == ".npz":
        with loaded:
            arrays = {k: loaded[k] for k in loaded.files}
        grid = next((arrays[k] for k in VOXEL_KEYS if k in arrays), None)
        if grid is None and len(arrays) == 1 and kind != "points":
            only = next(iter(arrays.values()))
            grid = only if only.ndim in (3, 4) else None
        if kind == "voxels" or (grid is not None and kind == "auto"):
            if grid is None:
                raise ValueError(
                    f"{path}: no voxel grid in the NPZ (keys {sorted(arrays)}; expected one of {VOXEL_KEYS})"
                )
            return _voxel_tensor(grid, path, device)
        from inverse3d.io import load_pointcloud

        return load_pointcloud(path, device=device)
    array = loaded
    if kind == "voxels" or (kind == "auto" and array.ndim in (3, 4)):
        return _voxel_tensor(array, path, device)
    if array.ndim == 2 and array.shape[1] in (3, 6) and array.shape[0] > 0 and kind != "mesh":
        from inverse3d.io import load_pointcloud

        return load_pointcloud(path, device=device)
    raise ValueError(
        f"{path}: an array of shape {tuple(array.shape)} is neither a voxel grid (D, H, W) nor points (P, 3) / (P, 6)"
    )


def _voxel_tensor(array: Any, path: Path, device: Any):
    import numpy as np
    import torch

    grid = np.asarray(array)
    if grid.ndim == 4 and grid.shape[0] == 1:
        grid = grid[0]
    if grid.ndim != 3 or min(grid.shape) == 0:
        raise ValueError(f"{path}: a voxel grid must have shape (D, H, W); got {tuple(np.shape(array))}")
    if not (np.issubdtype(grid.dtype, np.number) or grid.dtype == np.bool_):
        raise ValueError(f"{path}: a voxel grid must hold numbers; got dtype {grid.dtype}")
    return torch.as_tensor(grid.astype(np.float32), device=device)


def _ply_has_faces(path: Path) -> bool:
    """Whether a PLY header declares a non-empty face element."""
    with open(path, "rb") as f:
        for _ in range(1000):
            line = f.readline()
            if not line:
                break
            words = line.split()
            if words[:2] == [b"element", b"face"] and len(words) >= 3:
                return words[2] != b"0"
            if words[:1] == [b"end_header"]:
                break
    return False


OUTPUT_SUFFIXES = {".gif", ".mp4", ""}  # "" is a folder of PNG frames


def check_args(args: Args, device: Any = "cpu") -> Path:
    """Checks every option before any work (nothing is read, rendered or created); returns the output path.

    This includes the memory that rendering frames of ``--size`` on ``device`` needs (frames are streamed to the
    output, so their number does not count).

    Raises:
        ValueError: one line naming the option and what is wrong.
    """
    import importlib.util
    import math

    from inverse3d.cli.options import check_output_path
    from inverse3d.viz.turntable import check_render_memory, frames_per_batch

    out = check_output_path(args.output, OUTPUT_SUFFIXES)
    for name, value in (("--size", args.size), ("--frames", args.frames)):
        if value < 1:
            raise ValueError(f"{name} must be positive; got {value}")
    for name, value in (("--fps", args.fps), ("--fov", args.fov), ("--elev", args.elev),
                        ("--voxel-threshold", args.voxel_threshold)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number; got {value}")
    if args.fps <= 0:
        raise ValueError(f"--fps must be positive; got {args.fps}")
    if not 0 < args.fov < 180:
        raise ValueError(f"--fov must be in (0, 180) degrees; got {args.fov}")
    if args.point_radius is not None and not (0 < args.point_radius < math.inf):
        raise ValueError(f"--point-radius must be a positive number (NDC units); got {args.point_radius}")
    for name, rgb in (("--color", args.color), ("--background", args.background)):
        if rgb is not None and not all(0.0 <= c <= 1.0 for c in rgb):
            raise ValueError(f"{name} must be RGB values in [0, 1]; got {' '.join(str(c) for c in rgb)}")
    kind = {"auto": None, "mesh": "mesh", "voxels": "mesh", "points": "points"}[args.kind]
    batch = frames_per_batch(args.frames, args.size)
    check_render_memory(args.size, kind, batch, batch, device, option="--size")
    suffix = out.suffix.lower() if not out.is_dir() else ""
    if suffix == ".gif" and args.size > 0xFFFF:
        raise ValueError(f"--size {args.size}: a GIF is at most 65535 pixels wide; use a smaller --size")
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ValueError(f"-o {out}: writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); or use .gif")
    return out


def run(args: Args) -> None:
    from inverse3d.cli.options import resolve_device
    from inverse3d.viz.turntable import save_turntable

    device = resolve_device(args.device)
    out = check_args(args, device)
    obj = load_renderable(args.path, args.kind, device, allow_external_files=args.allow_external_files)
    out = save_turntable(
        obj,
        out,
        fps=args.fps,
        n_frames=args.frames,
        image_size=args.size,
        elev=args.elev,
        fov=args.fov,
        background=args.background,
        device=device,
        progress=args.progress,
        color=args.color,
        texture=args.texture,
        point_radius=args.point_radius,
        voxel_threshold=args.voxel_threshold,
    )
    print(f"wrote {out}")
