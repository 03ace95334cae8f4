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
    output: Annotated[Path, tyro.conf.arg(aliases=("-o",))] = Path("render.gif")
    """Output: .gif (looping), .mp4, or a folder (no suffix) of PNG frames."""
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


def load_renderable(path: Path, kind: str = "auto", device: Any = "cpu") -> Any:
    """Reads ``path`` as Meshes, Pointclouds or a voxel-grid tensor (D, H, W).

    Raises:
        FileNotFoundError: no such file.
        ValueError: unsupported suffix, or contents that are not a mesh, point cloud or voxel grid.
    """
    import numpy as np
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if kind == "voxels" and suffix not in ARRAY_SUFFIXES:
        raise ValueError(f"{path}: voxel grids are read from .npy or .npz files, not {suffix or '(no suffix)'}")
    if kind == "points" and suffix in MESH_SUFFIXES:
        raise ValueError(f"{path}: point clouds are read from .ply, .npz or .npy files, not {suffix}")
    if suffix in MESH_SUFFIXES or (suffix == ".ply" and kind == "mesh"):
        from inverse3d.io import load_mesh

        return load_mesh(path, device=device)
    if suffix == ".ply":
        if kind == "points" or (kind == "auto" and not _ply_has_faces(path)):
            from inverse3d.io import load_pointcloud

            return load_pointcloud(path, device=device)
        from inverse3d.io import load_mesh

        return load_mesh(path, device=device)
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


def resolve_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}: {err}") from err


def run(args: Args) -> None:
    from inverse3d.viz.turntable import save_turntable

    device = resolve_device(args.device)
    if args.size < 1 or args.frames < 1:
        raise ValueError(f"--size and --frames must be positive; got {args.size} and {args.frames}")
    obj = load_renderable(args.path, args.kind, device)
    out = save_turntable(
        obj,
        args.output,
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
