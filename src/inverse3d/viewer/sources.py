"""What ``inverse3d view`` can show, read from files into plain arrays before any server starts.

``load_source(path)`` decides the kind of ``path`` and reads it, raising a one-line ``ValueError`` /
``MeshFileError`` naming the file for anything missing, unknown or malformed:

========================  =====================================================================================
kind                      recognised by
========================  =====================================================================================
``MeshItem``              .obj .glb .gltf .off .stl, or a .ply with faces (UV textures and vertex colours kept)
``GaussiansItem``         a .ply whose vertex element has ``f_dc_0``, ``scale_0`` and ``rot_0`` (3DGS layout)
``PointsItem``            a .ply without faces, an .npz with ``points``/``xyz``, an (N, 3|6) .npy
``VoxelsItem``            an .npz with ``voxels``/``occupancy``, or a .pt holding a (D, H, W) tensor or such a dict
``SceneItem``             a folder (or transforms*.json) that ``inverse3d.datasets.scenes.load_scene`` reads
``GaussiansItem``         also a ``splat train`` checkpoint (.pt): its Gaussians as they are
``CheckpointItem``        a .pt written by the training core (``format == "inverse3d-train"``); its task from
                          ``checkpoint_task`` (table ``inverse3d.viewer.checkpoints.CHECKPOINT_VIEWS``)
========================  =====================================================================================

Every item holds numpy arrays in world coordinates (+Y up, as our scenes), so the viewer draws them as they are.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, check_file, read_source

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".off", ".stl")
VOXEL_KEYS = ("voxels", "occupancy")
GAUSSIAN_PROPERTIES = ("f_dc_0", "scale_0", "rot_0")
"""A PLY vertex element with all of these is read as 3D Gaussians (the INRIA 3DGS layout)."""


@dataclass
class MeshItem:
    """A triangle mesh. verts (V, 3) float32; faces (F, 3) int64; colors (V, 3) float32 in [0, 1] or None;
    uvs (F, 3, 2) float32 per face corner with texture (H, W, 3) uint8 (None without a UV texture)."""

    name: str
    verts: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None
    uvs: np.ndarray | None = None
    texture: np.ndarray | None = None


@dataclass
class PointsItem:
    """A point cloud. points (P, 3) float32; colors (P, 3) float32 in [0, 1] or None."""

    name: str
    points: np.ndarray
    colors: np.ndarray | None = None


@dataclass
class VoxelsItem:
    """An occupancy grid. grid (D, H, W) float32 (``grid[d, h, w]`` is the cell at z from d, y from h, x from w);
    bounds (2, 3) float32, the box the cells tile (default [-0.5, 0.5]^3, as the single-view task's grids)."""

    name: str
    grid: np.ndarray
    bounds: np.ndarray = field(default_factory=lambda: np.array([[-0.5] * 3, [0.5] * 3], dtype=np.float32))


@dataclass
class GaussiansItem:
    """3D Gaussians as viser draws them: centers (N, 3), covariances (N, 3, 3), rgbs (N, 3) in [0, 1],
    opacities (N, 1) in [0, 1], all float32."""

    name: str
    centers: np.ndarray
    covariances: np.ndarray
    rgbs: np.ndarray
    opacities: np.ndarray


@dataclass
class CameraView:
    """One camera of a scene: c2w (4, 4) OpenCV camera-to-world (+X right, +Y down, +Z forward), vertical field of
    view ``fov`` (radians), ``aspect`` = W / H, image (h, w, 3) uint8 (a thumbnail) or None."""

    c2w: np.ndarray
    fov: float
    aspect: float
    image: np.ndarray | None
    name: str


@dataclass
class SceneItem:
    """A multi-view scene: its cameras with their images, its ground-truth mesh and sample points where present."""

    name: str
    cameras: list[CameraView]
    mesh: MeshItem | None = None
    points: PointsItem | None = None


@dataclass
class CheckpointItem:
    """A trained model: ``task`` (a key of ``CHECKPOINT_VIEWS``), the checkpoint's entries and its path."""

    name: str
    task: str
    checkpoint: dict[str, Any]
    path: Path


Item = Union[MeshItem, PointsItem, VoxelsItem, GaussiansItem, SceneItem, CheckpointItem]


def ply_properties(path: Path) -> tuple[dict[str, list[str]], bool]:
    """({element name: its property names}, whether a ``face`` element is declared) from a PLY header.

    Raises:
        MeshFileError: not a PLY file, or a header without ``end_header`` in its first 1 MiB.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if not head.startswith(b"ply"):
        raise MeshFileError(path, "is not a PLY file (it does not start with 'ply')")
    end = head.find(b"end_header")
    if end < 0:
        raise MeshFileError(path, "has no end_header in its first 1 MiB: truncated or not a PLY file")
    elements: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    current = None
    for line in head[:end].decode("ascii", "replace").splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "element":
            current = words[1]
            elements[current] = []
            counts[current] = int(words[2]) if words[2].isdigit() else 0
        elif len(words) >= 3 and words[0] == "property" and current is not None:
            elements[current].append(words[-1])
    return elements, counts.get("face", 0) > 0


def is_gaussian_ply(path: Path) -> bool:
    """Whether the PLY file's vertex element has the 3DGS properties ``GAUSSIAN_PROPERTIES``."""
    elements, _ = ply_properties(path)
    names = set(elements.get("vertex", []))
    return all(p in names for p in GAUSSIAN_PROPERTIES)


def _mesh_from_meshes(name: str, meshes) -> MeshItem:
    """A ``MeshItem`` from the first mesh of a ``Meshes``, keeping a UV texture (one map) or vertex colours."""
    from inverse3d.renderer.mesh.textures import TexturesUV, TexturesVertex

    verts = meshes.verts_list()[0].detach().cpu().float().numpy()
    faces = meshes.faces_list()[0].detach().cpu().long().numpy()
    tex = meshes.textures
    item = MeshItem(name, verts, faces)
    if isinstance(tex, TexturesVertex):
        item.colors = tex.verts_features_list()[0].detach().cpu().float().clamp(0, 1).numpy()[:, :3]
    elif isinstance(tex, TexturesUV):
        maps = tex.maps_padded()[0].detach().cpu().float()  # (H, W, C) or (M, H, W, C) with maps_ids
        if maps.ndim == 3:
            uv = tex.verts_uvs_padded()[0].detach().cpu().float()  # (T, 2)
            fuv = tex.faces_uvs_padded()[0].detach().cpu().long()[: faces.shape[0]]  # (F, 3)
            item.uvs = uv[fuv].numpy()  # (F, 3, 2)
            item.texture = (maps[..., :3].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return item


def read_mesh(path: Path) -> MeshItem:
    """Reads a mesh file with ``inverse3d.io.load_mesh`` (textures and vertex colours kept)."""
    from inverse3d.io import load_mesh

    return _mesh_from_meshes(path.name, load_mesh(path))


def read_points(path: Path) -> PointsItem:
    """Reads a point cloud (PLY without faces, NPZ, NPY) with ``inverse3d.io``'s reader."""
    from inverse3d.io.ply_io import read_pointcloud

    cloud = read_pointcloud(path)
    points = np.asarray(cloud["points"], dtype=np.float32)
    if points.shape[0] == 0:
        raise MeshFileError(path, "has no points")
    colors = cloud["features"] if cloud["features_are_colors"] else None
    return PointsItem(path.name, points, None if colors is None else np.asarray(colors, dtype=np.float32)[:, :3])


def _voxels_from(path: Path, grid: Any, bounds: Any = None) -> VoxelsItem:
    grid = np.asarray(grid.detach().cpu() if isinstance(grid, torch.Tensor) else grid)
    if grid.dtype.kind not in "biuf":
        raise MeshFileError(path, f"voxel grid should be numbers, got dtype {grid.dtype}")
    if grid.ndim == 4 and grid.shape[0] == 1:
        grid = grid[0]
    if grid.ndim != 3 or min(grid.shape) < 1:
        raise MeshFileError(path, f"voxel grid should have shape (D, H, W), got {tuple(grid.shape)}")
    grid = grid.astype(np.float32)
    if not np.isfinite(grid).all():
        raise MeshFileError(path, "voxel grid contains NaN or infinite values")
    item = VoxelsItem(path.name, grid)
    if bounds is not None:
        b = np.asarray(bounds.cpu() if isinstance(bounds, torch.Tensor) else bounds, dtype=np.float32)
        if b.shape != (2, 3) or not np.isfinite(b).all() or not (b[1] > b[0]).all():
            raise MeshFileError(path, f"'bounds' should be (2, 3) [min, max] with max > min, got {b.tolist()}")
        item.bounds = b
    return item


def _read_npz(path: Path) -> Item:
    """An NPZ: a voxel grid (``voxels``/``occupancy`` [+ ``bounds``]) or else a point cloud."""
    data, name, _ = read_source(path, expected="an .npz file")
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
        keys = list(archive.files)
    except Exception as err:
        raise MeshFileError(path, f"is not a NumPy .npz archive ({type(err).__name__})") from err
    key = next((k for k in VOXEL_KEYS if k in keys), None)
    if key is None:
        return read_points(path)
    return _voxels_from(path, archive[key], archive["bounds"] if "bounds" in keys else None)


def _read_pt(path: Path) -> Item:
    """A .pt: a training checkpoint, or a voxel grid (a (D, H, W) tensor, or a dict with ``voxels``)."""
    from inverse3d.training.checkpoint import FORMAT

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = (str(err).strip().splitlines() or [""])[0][:160]
        raise MeshFileError(path, f"cannot be read as a torch file ({type(err).__name__}: {first})") from err
    if isinstance(obj, dict) and obj.get("format") == FORMAT and "splat" in obj:
        # a Gaussian splatting checkpoint: its Gaussians, drawn natively like a 3DGS PLY
        state = obj.get("model", {})
        missing = [k for k in ("means", "log_scales", "quats", "sh_dc", "opacity_logits") if k not in state]
        if missing:
            raise MeshFileError(path, f"is a splatting checkpoint without {', '.join(missing)}")
        return gaussians_item(path.name, state["means"], state["log_scales"], state["quats"],
                              state["sh_dc"].reshape(-1, 3), state["opacity_logits"].reshape(-1))
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        from inverse3d.viewer.checkpoints import checkpoint_task

        return CheckpointItem(path.name, checkpoint_task(obj, path), obj, path)
    if isinstance(obj, torch.Tensor):
        return _voxels_from(path, obj)
    if isinstance(obj, dict):
        key = next((k for k in VOXEL_KEYS if k in obj), None)
        if key is not None:
            return _voxels_from(path, obj[key], obj.get("bounds"))
        raise MeshFileError(path, f"is neither a training checkpoint nor a voxel grid (keys: {sorted(map(str, obj))[:8]})")
    raise MeshFileError(path, f"holds a {type(obj).__name__}, not a training checkpoint or a voxel grid")


def read_gaussians(path: Path) -> GaussiansItem:
    """A 3DGS PLY as centres, covariances ``R diag(s^2) R^T``, DC colours and opacities.

    Reads with ``inverse3d.io.load_gaussians_ply`` when that reader is available, else with
    ``read_gaussians_minimal`` (binary or ASCII vertex table, properties by name)."""
    try:
        from inverse3d.io.gaussian_ply import load_gaussians_ply
    except ImportError:
        means, log_scales, quats, dc, logits = read_gaussians_minimal(path)
    else:
        g = load_gaussians_ply(path)
        means, log_scales, quats = g.means, g.log_scales.expand(-1, 3), g.quats
        dc, logits = g.sh[:, 0], g.opacity_logits
    return gaussians_item(path.name, means, log_scales, quats, dc, logits)


def gaussians_item(name: str, means: torch.Tensor, log_scales: torch.Tensor, quats: torch.Tensor,
                   sh_dc: torch.Tensor, opacity_logits: torch.Tensor) -> GaussiansItem:
    """Activated values for viser from the stored ones: means (N, 3), log_scales (N, 3), quats (N, 4) wxyz (any
    norm), sh_dc (N, 3) degree-0 SH coefficients, opacity_logits (N,)."""
    from inverse3d.transforms import quaternion_to_matrix

    q = torch.nn.functional.normalize(quats.float(), dim=-1)  # (N, 4)
    rot = quaternion_to_matrix(q)  # (N, 3, 3)
    var = torch.exp(2.0 * log_scales.float())  # (N, 3)
    cov = (rot * var[:, None, :]) @ rot.transpose(1, 2)  # (N, 3, 3) = R diag(s^2) R^T
    rgb = (0.5 + 0.28209479177387814 * sh_dc.float()).clamp(0, 1)  # SH band 0: C0 = 1 / (2 sqrt(pi))
    alpha = torch.sigmoid(opacity_logits.float()).reshape(-1, 1)
    return GaussiansItem(name, means.float().numpy(), cov.numpy(), rgb.numpy(), alpha.numpy())


_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def read_gaussians_minimal(path: Path) -> tuple[torch.Tensor, ...]:
    """The fallback 3DGS reader: (means (N, 3), log_scales (N, 3), quats (N, 4), sh_dc (N, 3), logits (N,)).

    Takes a PLY whose only (or first) element is ``vertex`` with scalar properties, binary or ASCII."""
    data = path.read_bytes()
    end = data.find(b"end_header")
    lines = data[:end].decode("ascii", "replace").splitlines()
    body = data[data.index(b"\n", end) + 1:]
    fmt = next((ln.split()[1] for ln in lines if ln.startswith("format")), "")
    n, props, in_vertex = 0, [], False
    for ln in lines:
        w = ln.split()
        if w[:1] == ["element"]:
            if props and in_vertex:
                break
            in_vertex = w[1] == "vertex"
            n = int(w[2]) if in_vertex else n
        elif w[:1] == ["property"] and in_vertex:
            if w[1] == "list" or w[1] not in _PLY_TYPES:
                raise MeshFileError(path, f"vertex property {' '.join(w[1:])!r} is not a scalar: not a 3DGS file")
            props.append((w[2], _PLY_TYPES[w[1]]))
    try:
        if fmt == "ascii":
            table = np.loadtxt(io.BytesIO(body), dtype=np.float64, max_rows=n, ndmin=2)
            cols = {name: table[:, i] for i, (name, _) in enumerate(props)}
        else:
            order = "<" if fmt == "binary_little_endian" else ">"
            dtype = np.dtype([(name, order + t) for name, t in props])
            arr = np.frombuffer(body, dtype=dtype, count=n)
            cols = {name: arr[name].astype(np.float64) for name, _ in props}
    except Exception as err:
        raise MeshFileError(path, f"vertex table cannot be read ({type(err).__name__}: {str(err)[:120]})") from err
    need = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "rot_0", "rot_1", "rot_2", "rot_3", "scale_0"]
    missing = [k for k in need if k not in cols]
    if missing:
        raise MeshFileError(path, f"is missing 3DGS properties {missing}")

    def stack(names):
        return torch.from_numpy(np.stack([cols[k] for k in names], axis=1))

    scales = ["scale_0"] * 3 if "scale_1" not in cols else ["scale_0", "scale_1", "scale_2"]
    out = (stack("xyz"), stack(scales), stack([f"rot_{i}" for i in range(4)]),
           stack(["f_dc_0", "f_dc_1", "f_dc_2"]), torch.from_numpy(cols["opacity"]))
    if any(not torch.isfinite(t).all() for t in out):
        raise MeshFileError(path, "contains NaN or infinite values")
    return out


def read_scene(path: Path, max_cameras: int = 200, thumbnail: int = 128) -> SceneItem:
    """A multi-view scene (every split): its cameras with thumbnails of their images, ``mesh.ply`` and
    ``points.ply`` next to it where present."""
    from inverse3d.datasets.scenes import load_scene

    scene = load_scene(path, "all")
    n = len(scene)
    keep = np.unique(np.linspace(0, n - 1, min(n, max_cameras)).round().astype(int)) if n else []
    cameras = []
    for i in keep:
        f = scene.frames[i]
        image = scene[int(i)]["image"]  # (H, W, 3) in [0, 1]
        step = max(1, max(f.width, f.height) // thumbnail)
        thumb = (image[::step, ::step].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        fov = 2.0 * float(np.arctan(0.5 * f.height / f.fy))
        cameras.append(CameraView(np.asarray(f.c2w_opencv, dtype=np.float64), fov, f.width / f.height, thumb,
                                  f.name or f"view {i}"))
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    mesh = read_mesh(root / "mesh.ply") if (root / "mesh.ply").is_file() else None
    points = read_points(root / "points.ply") if (root / "points.ply").is_file() else None
    if mesh is not None:
        mesh.name = "mesh.ply (ground truth)"
    return SceneItem(root.name, cameras, mesh, points)


def load_source(path: str | os.PathLike) -> Item:
    """Reads ``path`` as the kind its name and content say (module docstring).

    Raises:
        ValueError / MeshFileError: one line naming ``path``: missing, unknown format or malformed.
    """
    p = Path(path)
    if p.is_dir() or (p.suffix == ".json" and p.name.startswith("transforms")):
        return read_scene(p)
    check_file(p, expected="a mesh, point cloud, voxel grid, Gaussian-splat PLY, scene folder or checkpoint")
    suffix = p.suffix.lower()
    if suffix in MESH_SUFFIXES:
        return read_mesh(p)
    if suffix == ".ply":
        elements, has_faces = ply_properties(p)
        names = set(elements.get("vertex", []))
        if all(prop in names for prop in GAUSSIAN_PROPERTIES):
            return read_gaussians(p)
        return read_mesh(p) if has_faces else read_points(p)
    if suffix == ".npz":
        return _read_npz(p)
    if suffix == ".npy":
        return read_points(p)
    if suffix in (".pt", ".pth"):
        return _read_pt(p)
    raise MeshFileError(p, f"unknown format {suffix or '(no suffix)'!r}: expected a mesh (.obj .ply .glb .gltf "
                           ".off .stl), a point cloud (.ply .npz .npy), a voxel grid (.npz .pt), a 3DGS .ply, a "
                           "scene folder or a training checkpoint (.pt)")


def voxels_to_mesh(item: VoxelsItem, style: str = "cubes", level: float = 0.5) -> MeshItem:
    """The surface of an occupancy grid: ``"cubes"`` (``inverse3d.ops.cubify``: a cube per cell >= level) or
    ``"marching-cubes"`` (``inverse3d.ops.marching_cubes`` at ``level``), in the item's bounds."""
    grid = torch.from_numpy(item.grid)[None]  # (1, D, H, W)
    bounds = torch.from_numpy(item.bounds)  # (2, 3)
    if style == "cubes":
        from inverse3d.ops import cubify

        mesh = cubify(grid, level, align="world", bounds=bounds)
        verts, faces = mesh.verts_list()[0], mesh.faces_list()[0]
    elif style == "marching-cubes":
        from inverse3d.ops.marching_cubes import marching_cubes

        D, H, W = item.grid.shape
        cell = (bounds[1] - bounds[0]) / torch.tensor([W, H, D], dtype=torch.float32)
        padded = torch.nn.functional.pad(grid, (1, 1, 1, 1, 1, 1))  # closed where the shape touches the box
        vl, fl = marching_cubes(padded, isolevel=level, bounds=torch.stack([bounds[0] - cell, bounds[1] + cell]),
                                align="cells", inside="above")
        verts, faces = vl[0], fl[0]
    else:
        raise ValueError(f"voxel style must be 'cubes' or 'marching-cubes'; got {style!r}")
    if faces.shape[0] == 0:
        raise MeshFileError(item.name, f"voxel grid has no cell >= {level} (max {float(item.grid.max()):.3g})")
    return MeshItem(item.name, verts.float().numpy(), faces.long().numpy())
