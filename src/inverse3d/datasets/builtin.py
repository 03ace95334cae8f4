"""The built-in procedural dataset: chairs, tables and sofas rendered R2N2-style, generated once and cached.

Item format (a dict; ``ProceduralShapes`` and ``R2N2`` return exactly these keys, so models and the training
engine code against this list and nothing else):

- ``"images"``: (H, W, 3) float32 in [0, 1], RGB on a white background (H = W = ``image_size``, 137 by default).
- ``"voxels"``: (D, H, W) float32 occupancy in {0, 1} over the cube [-0.5, 0.5]^3, cell-centred, axes ordered
  (z, y, x) as in ``inverse3d.ops.voxel_grid`` (``voxels[d, h, w]`` is the cell at world x from w, y from h,
  z from d). D = H = W = ``voxel_res`` (32 by default).
- ``"points"``: (P, 3) float32 surface samples in world coordinates (P = ``n_points``).
- ``"normals"``: (P, 3) float32 unit outward normals of the faces the points were sampled from.
- ``"verts"``: (V, 3) float32 mesh vertices, world coordinates (only when ``return_mesh``).
- ``"faces"``: (F, 3) int64 vertex indices (only when ``return_mesh``).
- ``"R"``: (3, 3) float32 and ``"T"``: (3,) float32, the world-to-view transform of the camera that took the image,
  in PyTorch3D's row-vector convention (``X_view = X_world @ R + T``), ready for
  ``FoVPerspectiveCameras(R=R[None], T=T[None], fov=fov)``.
- ``"fov"``: () float32, vertical field of view of that camera in degrees.
- ``"dist"``, ``"elev"``, ``"azim"``: () float32, the camera's distance to the origin and its elevation and azimuth
  in degrees (``look_at_view_transform`` semantics: azimuth 0 looks at the shape's front from +z).
- ``"category"``: str, e.g. ``"chair"`` (R2N2: the ShapeNet synset id, e.g. ``"03001627"``).
- ``"id"``: str, a unique model id within the category (procedural: ``"chair_000012"``; R2N2: the ShapeNet id).

World coordinates follow CONVENTIONS.md: +Y up, shapes centred with bounding-box diagonal 1, so every shape lies in
[-0.5, 0.5]^3. Procedural voxels mark the cells whose centre is inside a part and the cells the surface crosses (as
binvox does for R2N2), so parts thinner than a cell are kept; procedural surface samples lie on the outer surface of
the union of parts (faces buried inside another part are not sampled).

``collate_batch(items)`` stacks the fixed-size entries into batch tensors (``images`` (N, H, W, 3), ``voxels``
(N, D, H, W), ``points`` / ``normals`` (N, P, 3), ``R`` (N, 3, 3), ``T`` (N, 3), ``fov`` / ``dist`` / ``elev`` /
``azim`` (N,)), keeps ``category`` and ``id`` as lists of str, ``verts`` and ``faces`` as lists of tensors, and adds
``"mesh"``: an ``inverse3d.structures.Meshes`` of the N meshes (as PyTorch3D's ``collate_batched_R2N2`` does), when the
items carry meshes.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from inverse3d.datasets import cache
from inverse3d.datasets.procedural import CATEGORIES, make_shape

# R2N2's renderings (Blender): a 35 mm lens on a 32 mm sensor, i.e. a field of view of 2 atan(16 / 35) = 49.13
# degrees (focal length 2.1875 in NDC, the intrinsic matrix PyTorch3D and Mesh R-CNN use), and camera distances
# of ``distance ratio * 1.75``.
R2N2_FOV = math.degrees(2.0 * math.atan(16.0 / 35.0))
R2N2_MAX_CAMERA_DISTANCE = 1.75
# The R2N2-style view drawn for each procedural sample: elevation and distance ratio ranges, any azimuth.
ELEVATION_RANGE = (25.0, 30.0)
DISTANCE_RATIO_RANGE = (0.65, 0.85)

SPLITS = ("train", "val", "test")
# Bumped whenever the way a sample is generated changes, so that old caches are not reused.
GENERATOR_VERSION = 1

# Keys ``collate_batch`` always stacks (items must agree on their shapes); other tensor keys are stacked
# when their shapes agree.
_FIXED_KEYS = ("images", "voxels", "points", "normals", "R", "T", "fov", "dist", "elev", "azim")


# ---------------------------------------------------------------------------------------------------------------
# One sample
# ---------------------------------------------------------------------------------------------------------------


def random_view(rng: np.random.Generator) -> tuple[float, float, float]:
    """An R2N2-style view: (dist, elev in [25, 30] degrees, azim in [0, 360) degrees)."""
    dist = R2N2_MAX_CAMERA_DISTANCE * rng.uniform(*DISTANCE_RATIO_RANGE)
    elev = rng.uniform(*ELEVATION_RANGE)
    azim = rng.uniform(0.0, 360.0)
    return float(dist), float(elev), float(azim)


def render_view(
    verts: torch.Tensor,
    faces: torch.Tensor,
    colors: torch.Tensor,
    R: torch.Tensor,
    T: torch.Tensor,
    fov: float = R2N2_FOV,
    image_size: int = 137,
    supersample: int = 2,
) -> torch.Tensor:
    """Renders one vertex-coloured mesh with hard Phong shading on white, lit from above the camera.

    Args:
        verts: (V, 3) float world coordinates; faces: (F, 3) int64; colors: (V, 3) float RGB in [0, 1].
        R: (3, 3), T: (3,) world-to-view transform (``X_view = X_world @ R + T``).
        fov: vertical field of view in degrees.
        image_size: output side S in pixels.
        supersample: renders at ``supersample * S`` and averages blocks (anti-aliased edges, as Blender's are).

    Returns:
        (S, S, 3) float RGB in [0, 1] on the device of ``verts``.
    """
    from inverse3d.renderer import (
        BlendParams,
        FoVPerspectiveCameras,
        HardPhongShader,
        MeshRasterizer,
        MeshRenderer,
        PointLights,
        RasterizationSettings,
        TexturesVertex,
    )
    from inverse3d.structures import Meshes

    if image_size < 1 or supersample < 1:
        raise ValueError(f"image_size and supersample must be positive, got {image_size} and {supersample}")
    device, dtype = verts.device, verts.dtype
    R, T = R.to(device, dtype)[None], T.to(device, dtype)[None]
    cameras = FoVPerspectiveCameras(R=R, T=T, fov=fov, znear=0.1, zfar=100.0, device=device)
    eye = cameras.get_camera_center()  # (1, 3)
    lights = PointLights(
        location=eye + torch.tensor([[0.0, 1.0, 0.0]], device=device, dtype=dtype),
        ambient_color=((0.45, 0.45, 0.45),),
        diffuse_color=((0.55, 0.55, 0.55),),
        specular_color=((0.1, 0.1, 0.1),),
        device=device,
    )
    size = image_size * supersample
    renderer = MeshRenderer(
        MeshRasterizer(cameras, RasterizationSettings(image_size=size, blur_radius=0.0, faces_per_pixel=1)),
        HardPhongShader(
            device=device, cameras=cameras, lights=lights, blend_params=BlendParams(background_color=(1.0, 1.0, 1.0))
        ),
    )
    mesh = Meshes([verts], [faces], textures=TexturesVertex([colors.to(device, dtype)]))
    rgb = renderer(mesh)[0, ..., :3]  # (size, size, 3)
    if supersample > 1:
        rgb = torch.nn.functional.avg_pool2d(rgb.permute(2, 0, 1)[None], supersample)[0].permute(1, 2, 0)
    return rgb.clamp(0.0, 1.0)


def voxelize_union(
    part_verts: Sequence[torch.Tensor],
    part_faces: Sequence[torch.Tensor],
    resolution: int,
    surface_cells: bool = True,
    surface_density: int = 32,
) -> torch.Tensor:
    """Occupancy of the union of closed parts on a grid of cells over [-0.5, 0.5]^3.

    A cell is occupied when its centre lies inside a part (``voxelize_meshes`` on each part alone, OR-ed: ray
    parity would count two overlapping parts as outside where they overlap) or, with ``surface_cells``, when the
    surface passes through it (found with ``surface_density * resolution^2`` surface samples). The second rule is
    binvox's (R2N2's voxels mark every cell the surface crosses), and keeps legs thinner than a cell.

    Args:
        part_verts: K tensors (V_k, 3) float; part_faces: K tensors (F_k, 3) int64.
        resolution: D = H = W.
        surface_cells: also mark the cells the surface crosses. Uses torch's global random generator.
        surface_density: surface samples per cell face area of the grid, roughly.

    Returns:
        (D, D, D) float occupancy in {0, 1}, axes (z, y, x) as in ``inverse3d.ops.voxel_grid``.
    """
    from inverse3d.ops import sample_points_from_meshes, voxelize_meshes
    from inverse3d.ops.voxel_grid import world_to_index
    from inverse3d.structures import Meshes

    parts = Meshes(list(part_verts), list(part_faces))
    occupancy = voxelize_meshes(parts, resolution).amax(dim=0)  # (D, D, D)
    if surface_cells:
        points = sample_points_from_meshes(_join(part_verts, part_faces), surface_density * resolution**2)[0]
        idx = world_to_index(points, (resolution,) * 3).round().long().clamp(0, resolution - 1)  # (P, 3) d, h, w
        occupancy[idx[:, 0], idx[:, 1], idx[:, 2]] = 1.0
    return occupancy


def _join(part_verts: Sequence[torch.Tensor], part_faces: Sequence[torch.Tensor]):
    """One ``Meshes`` holding all parts as a single mesh."""
    from inverse3d.structures import Meshes

    offsets = np.cumsum([0] + [len(v) for v in part_verts[:-1]])
    return Meshes([torch.cat(list(part_verts))], [torch.cat([f + int(o) for f, o in zip(part_faces, offsets)])])


def _convex_planes(part_verts: Sequence[torch.Tensor], part_faces: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Face planes of convex outward-wound parts: unit normals (F, 3), offsets (F,), part index (F,)."""
    normals, offsets, owner = [], [], []
    for k, (v, f) in enumerate(zip(part_verts, part_faces)):
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        n = torch.linalg.cross(b - a, c - a, dim=1)
        n = n / n.norm(dim=1, keepdim=True).clamp(min=1e-12)
        normals.append(n)
        offsets.append((n * a).sum(1))
        owner.append(torch.full((len(f),), k, dtype=torch.int64, device=v.device))
    return torch.cat(normals), torch.cat(offsets), torch.cat(owner)


def sample_union_surface(
    part_verts: Sequence[torch.Tensor], part_faces: Sequence[torch.Tensor], n_points: int, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points uniformly on the outer surface of a union of convex closed parts, with outward normals.

    Points are drawn by area on all parts (``sample_points_from_meshes``) and those strictly inside another part
    (where parts overlap: a tilted back sunk into the seat, pedestal feet inside the column) are dropped, then more
    are drawn until ``n_points`` remain. Uses torch's global random generator.

    Args:
        part_verts, part_faces: K convex parts, (V_k, 3) float and (F_k, 3) int64 each, outward-wound.
        n_points: P.
        eps: how far inside another part (world units) a point must be to be dropped.

    Returns:
        points (P, 3) and normals (P, 3), the verts' dtype and device.
    """
    from inverse3d.ops import sample_points_from_meshes

    mesh = _join(part_verts, part_faces)
    normals_f, offsets_f, owner = _convex_planes(part_verts, part_faces)
    n_parts = len(part_verts)
    kept_p, kept_n, total = [], [], 0
    for _ in range(20):
        want = max(int((n_points - total) * 1.3), 64)
        p, n = sample_points_from_meshes(mesh, want, return_normals=True)
        p, n = p[0], n[0]  # (want, 3)
        signed = p @ normals_f.T - offsets_f  # (want, F): > 0 outside the face's plane
        # A point is inside part k when it is strictly behind every face plane of k (parts are convex).
        worst = torch.full((len(p), n_parts), -float("inf"), dtype=p.dtype, device=p.device)
        worst = worst.scatter_reduce(1, owner[None].expand(len(p), -1), signed, reduce="amax")
        buried = (worst < -eps).any(dim=1)
        kept_p.append(p[~buried])
        kept_n.append(n[~buried])
        total += int((~buried).sum())
        if total >= n_points:
            break
    points, normals = torch.cat(kept_p), torch.cat(kept_n)
    if len(points) < n_points:  # pathological (almost everything buried): fall back to plain samples
        p, n = sample_points_from_meshes(mesh, n_points - len(points), return_normals=True)
        points, normals = torch.cat([points, p[0]]), torch.cat([normals, n[0]])
    return points[:n_points], normals[:n_points]


def _torch_seed(*values: int) -> int:
    return int(np.random.SeedSequence([int(v) for v in values]).generate_state(1, dtype=np.uint64)[0] >> 1)


def render_sample(
    category: str,
    seed: int,
    image_size: int = 137,
    n_points: int = 5000,
    voxel_res: int = 32,
    random_colors: bool = False,
    device: str | torch.device = "cpu",
    supersample: int = 2,
    sample_id: str | None = None,
) -> dict[str, Any]:
    """Generates one procedural sample: the shape ``seed`` of ``category``, seen from a random R2N2-style view.

    Deterministic: the same arguments give the same shape, view and surface samples (torch's global random state
    is left untouched).

    Args:
        category: "chair", "table" or "sofa".
        seed: shape seed (``procedural.make_shape``); the view and the surface samples derive from it too.
        image_size: side of the square image in pixels.
        n_points: surface samples P.
        voxel_res: occupancy grid side D.
        random_colors: random part colours instead of the default wood / fabric palette.
        device: where the rendering and voxelisation run; the returned tensors are on the CPU.
        supersample: anti-aliasing factor of the rendering.
        sample_id: the ``"id"`` of the item (default ``f"{category}_{seed}"``).

    Returns:
        An item in the format of the module docstring (with ``verts`` and ``faces``).
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose from {CATEGORIES}")
    for name, value in (("image_size", image_size), ("n_points", n_points), ("voxel_res", voxel_res)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    device = torch.device(device)
    shape, verts_np, faces_np, colors_np = make_shape(category, int(seed), random_colors=random_colors)
    verts = torch.from_numpy(verts_np).to(device)
    faces = torch.from_numpy(faces_np).to(device)
    colors = torch.from_numpy(colors_np).to(device)
    sizes = [len(p.verts) for p in shape.parts]
    part_verts = list(torch.split(verts, sizes))
    part_faces = [torch.from_numpy(p.faces).to(device) for p in shape.parts]

    view_rng = np.random.default_rng([int(seed), CATEGORIES.index(category), 1])
    dist, elev, azim = random_view(view_rng)
    from inverse3d.renderer import look_at_view_transform

    R, T = look_at_view_transform(dist, elev, azim, device=device)
    R, T = R[0].to(verts.dtype), T[0].to(verts.dtype)
    image = render_view(verts, faces, colors, R, T, R2N2_FOV, image_size, supersample)
    fork_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(_torch_seed(seed, CATEGORIES.index(category), 2))
        voxels = voxelize_union(part_verts, part_faces, voxel_res)
        points, normals = sample_union_surface(part_verts, part_faces, n_points)

    def scalar(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float32)

    return {
        "images": image.float().cpu(),
        "voxels": voxels.float().cpu(),
        "points": points.float().cpu(),
        "normals": normals.float().cpu(),
        "verts": verts.float().cpu(),
        "faces": faces.cpu(),
        "R": R.float().cpu(),
        "T": T.float().cpu(),
        "fov": scalar(R2N2_FOV),
        "dist": scalar(dist),
        "elev": scalar(elev),
        "azim": scalar(azim),
        "category": category,
        "id": sample_id if sample_id is not None else f"{category}_{seed}",
    }


def _to_stored(item: dict[str, Any]) -> dict[str, Any]:
    """Compact form for the cache: the image as uint8 (as an R2N2 PNG is), voxels as bool."""
    stored = dict(item)
    stored["images"] = (item["images"] * 255.0).round().to(torch.uint8)
    stored["voxels"] = item["voxels"] > 0.5
    return stored


def check_stored(stored: Any, params: dict[str, Any], sample_id: str, path: str | os.PathLike) -> None:
    """Checks that ``stored`` (read from ``path``) is the cached form of sample ``sample_id`` under the generation
    ``params``: every key of the item format with its dtype and shape, finite coordinates, face indices in range.

    Raises:
        cache.CacheFileError: one line starting with ``path`` and naming the first problem found.
    """

    def bad(problem: str) -> cache.CacheFileError:
        return cache.CacheFileError(f"{path}: not a sample of this dataset ({problem})")

    if not isinstance(stored, dict):
        raise bad(f"holds a {type(stored).__name__}, not a dict")
    S, D, P = params["image_size"], params["voxel_res"], params["n_points"]
    expected = {
        "images": (torch.uint8, (S, S, 3)), "voxels": (torch.bool, (D, D, D)),
        "points": (torch.float32, (P, 3)), "normals": (torch.float32, (P, 3)),
        "verts": (torch.float32, (None, 3)), "faces": (torch.int64, (None, 3)),
        "R": (torch.float32, (3, 3)), "T": (torch.float32, (3,)),
        **{k: (torch.float32, ()) for k in ("fov", "dist", "elev", "azim")},
    }
    missing = sorted(set(expected) - set(stored))
    if missing:
        raise bad(f"no {', '.join(repr(k) for k in missing[:4])}")
    for key, (dtype, shape) in expected.items():
        value = stored[key]
        if not isinstance(value, torch.Tensor):
            raise bad(f"{key!r} is a {type(value).__name__}, not a tensor")
        if value.dtype != dtype or value.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape)
        ):
            raise bad(f"{key!r} is {value.dtype} {tuple(value.shape)}, expected {dtype} "
                      f"{tuple('n' if n is None else n for n in shape)}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise bad(f"{key!r} holds NaN or infinite values")
    n_verts, faces = stored["verts"].shape[0], stored["faces"]
    if n_verts < 3 or faces.shape[0] < 1 or int(faces.min()) < 0 or int(faces.max()) >= n_verts:
        raise bad(f"face indices out of range for {n_verts} vertices")
    if stored.get("id") != sample_id:
        raise bad(f"id {stored.get('id')!r}, expected {sample_id!r}")
    if stored.get("category") not in params["categories"]:
        raise bad(f"category {stored.get('category')!r}")


def _from_stored(stored: dict[str, Any], return_mesh: bool) -> dict[str, Any]:
    item = dict(stored)
    item["images"] = stored["images"].float() / 255.0
    item["voxels"] = stored["voxels"].float()
    if not return_mesh:
        item.pop("verts", None)
        item.pop("faces", None)
    return item


# ---------------------------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------------------------


def shape_seed(seed: int, split: str, index: int) -> int:
    """The procedural seed of sample ``index`` of ``split``: independent of the other splits' sizes."""
    return int(np.random.SeedSequence([int(seed), SPLITS.index(split), int(index)]).generate_state(1)[0])


def _generate_job(job: dict[str, Any]) -> tuple[str, str]:
    """Worker entry point: generates one sample and writes it atomically; returns (file name, sha256)."""
    item = render_sample(
        job["category"],
        job["shape_seed"],
        image_size=job["image_size"],
        n_points=job["n_points"],
        voxel_res=job["voxel_res"],
        random_colors=job["random_colors"],
        device=job["device"],
        sample_id=job["id"],
    )
    digest = cache.save_sample(Path(job["folder"]) / job["file"], _to_stored(item))
    return job["file"], digest


class ProceduralShapes(torch.utils.data.Dataset):
    """Procedural chairs (tables, sofas) with R2N2-style renderings, voxels and surface samples, cached on disk.

    The first construction generates every sample of ``split`` into ``root/<hash of the parameters>/`` (a tqdm
    bar shows progress; ``workers`` processes share the work) with a manifest of sha256 checksums; later
    constructions with the same parameters load that cache after checking it (a missing, corrupt or foreign file
    is regenerated, with a warning naming it; a missing or malformed manifest is rebuilt after checking every file's
    contents; files that the cache does not name are left alone; see ``inverse3d.datasets.cache``). Changing any
    parameter (other than ``split``, ``workers``, ``device``, ``return_mesh``) selects another cache folder. Items
    are dicts in the format of the module docstring.

    Each category holds ``n_train`` / ``n_val`` / ``n_test`` shapes; sample ``i`` of a split has its own seed
    (``shape_seed``), so the test set does not change when ``n_train`` does. Items are ordered by category, then
    index.

    Args:
        root: folder holding caches (created if missing).
        split: "train", "val" or "test".
        categories: any of "chair", "table", "sofa".
        n_train, n_val, n_test: shapes per category in each split.
        image_size: image side in pixels (137 as R2N2).
        voxel_res: occupancy grid side.
        n_points: surface samples per shape.
        random_colors: random part colours (else a fixed wood / fabric palette per category).
        seed: dataset seed.
        workers: generation processes (0: in this process). They are started with ``spawn``, so a script that
            passes ``workers > 0`` needs the usual ``if __name__ == "__main__":`` guard.
        device: where samples are rendered and voxelised during generation.
        return_mesh: include ``verts`` / ``faces`` in items.
        progress: show the progress bar.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        categories: Sequence[str] = ("chair",),
        n_train: int = 800,
        n_val: int = 100,
        n_test: int = 100,
        image_size: int = 137,
        voxel_res: int = 32,
        n_points: int = 5000,
        random_colors: bool = False,
        seed: int = 0,
        workers: int = 0,
        device: str | torch.device = "cpu",
        return_mesh: bool = True,
        progress: bool = True,
    ) -> None:
        super().__init__()
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if isinstance(categories, str):
            categories = (categories,)
        categories = tuple(categories)
        if not categories:
            raise ValueError("categories must name at least one category")
        for c in categories:
            if c not in CATEGORIES:
                raise ValueError(f"unknown category {c!r}; choose from {CATEGORIES}")
        if len(set(categories)) != len(categories):
            raise ValueError(f"categories must not repeat, got {categories}")
        counts = {"train": n_train, "val": n_val, "test": n_test}
        sizes = {"image_size": image_size, "voxel_res": voxel_res, "n_points": n_points}
        for name, value in {**{f"n_{k}": v for k, v in counts.items()}, **sizes, "seed": seed}.items():
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if min(image_size, voxel_res, n_points) < 1:
            raise ValueError("image_size, voxel_res and n_points must be positive")
        self.split = split
        self.categories = categories
        self.return_mesh = return_mesh
        self.params = {
            "generator_version": GENERATOR_VERSION,
            "categories": list(categories),
            "n_train": int(n_train),
            "n_val": int(n_val),
            "n_test": int(n_test),
            "image_size": int(image_size),
            "voxel_res": int(voxel_res),
            "n_points": int(n_points),
            "random_colors": bool(random_colors),
            "seed": int(seed),
        }
        self.folder = Path(root) / cache.params_key(self.params)
        for parent in (self.folder, *self.folder.parents):
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    raise ValueError(f"{root}: cannot hold the dataset cache: {parent} is a file, not a folder")
                break
        self.folder.mkdir(parents=True, exist_ok=True)
        # (id, category, shape seed) of every sample of every split, in item order.
        self._samples = {
            s: [(f"{c}_{s}_{i:05d}", c, shape_seed(seed, s, i)) for c in categories for i in range(counts[s])]
            for s in SPLITS
        }
        self.ids = [sid for sid, _, _ in self._samples[split]]
        self._prepare(workers, str(device), progress)

    def _prepare(self, workers: int, device: str, progress: bool) -> None:
        """Generates what is missing or corrupt for this split and records it in the manifest."""
        from inverse3d import __version__

        with cache.folder_lock(self.folder):
            manifest = cache.read_manifest(self.folder)
            if manifest is not None and manifest.get("params") != self.params:
                manifest = None  # a hash collision or a hand-edited manifest: start over
            checksums = dict(manifest["files"]) if manifest else {}
            names = [f"{sid}.pt" for sid in self.ids]
            if manifest is None:
                self._warn_foreign_files()
            ids = {f"{sid}.pt": sid for sid in self.ids}

            def validate(name: str, stored: dict[str, Any]) -> None:
                check_stored(stored, self.params, ids[name], self.folder / name)

            todo, good = cache.check_files(self.folder, names, checksums, validate)
            checksums.update(good)
            for name in todo:
                checksums.pop(name, None)
            new_manifest = {
                "format": cache.CACHE_FORMAT,
                "params": self.params,
                "inverse3d_version": __version__,
                "splits": {s: [sid for sid, _, _ in self._samples[s]] for s in SPLITS},
                "files": checksums,
            }
            if todo:
                by_name = {f"{sid}.pt": (sid, c, seed) for sid, c, seed in self._samples[self.split]}
                jobs = []
                for name in todo:
                    sid, c, seed = by_name[name]
                    jobs.append({
                        **{k: self.params[k] for k in ("image_size", "n_points", "voxel_res", "random_colors")},
                        "category": c, "shape_seed": seed, "id": sid, "file": name,
                        "folder": str(self.folder), "device": device,
                    })
                desc = f"generating {self.split} ({', '.join(self.categories)})"
                for done, (name, digest) in enumerate(cache.run_jobs(_generate_job, jobs, workers, desc, progress), 1):
                    checksums[name] = digest
                    if done % 64 == 0:  # so that an interrupted run keeps most of its checksums
                        cache.write_manifest(self.folder, new_manifest)
            if new_manifest != manifest:
                cache.write_manifest(self.folder, new_manifest)
        self.manifest = new_manifest

    def _warn_foreign_files(self) -> None:
        """Warns (once per opening without a usable manifest) about files in the folder that the cache does not
        name; they are left alone."""
        own = {f"{sid}.pt" for samples in self._samples.values() for sid, _, _ in samples}
        own |= {cache.MANIFEST, cache.LOCK}
        foreign = sorted(p.name for p in self.folder.iterdir()
                         if p.name not in own and not (p.name.startswith(".") and p.name.endswith(".tmp")))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            warnings.warn(f"{self.folder}: no usable manifest, and {len(foreign)} file(s) that are not part of the "
                          f"cache ({shown}); they are left alone", stacklevel=3)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        sid = self.ids[index]
        path = self.folder / f"{sid}.pt"
        try:
            stored = cache.load_sample(path)
            check_stored(stored, self.params, sid, path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: cache file vanished after the dataset was opened; "
                "construct the dataset again to regenerate it"
            ) from None
        except cache.CacheFileError as err:  # replaced or damaged after the dataset was opened
            raise cache.CacheFileError(f"{err}; delete the file and open the dataset again to regenerate it") \
                from None
        return _from_stored(stored, self.return_mesh)


# ---------------------------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------------------------


def collate_batch(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merges items (module docstring) into a batch for a ``DataLoader(collate_fn=collate_batch)``.

    Fixed-size tensors (``images``, ``voxels``, ``points``, ``normals``, ``R``, ``T``, ``fov``, ``dist``, ``elev``,
    ``azim``, and any other tensor key whose shapes agree) are stacked along a new first dim; ``verts`` and
    ``faces`` stay lists of tensors and, when both are present, ``"mesh"`` holds them as one
    ``inverse3d.structures.Meshes``; strings (``category``, ``id``) and anything else become lists.
    """
    if len(items) == 0:
        raise ValueError("collate_batch needs at least one item")
    keys = list(items[0])
    for i, item in enumerate(items):
        if set(item) != set(keys):
            raise ValueError(f"item {i} has keys {sorted(item)} but item 0 has {sorted(keys)}")
    batch: dict[str, Any] = {}
    for key in keys:
        values = [item[key] for item in items]
        stackable = (
            key not in ("verts", "faces")
            and all(isinstance(v, torch.Tensor) for v in values)
            and all(v.shape == values[0].shape for v in values)
        )
        if key in _FIXED_KEYS and not stackable:
            shapes = sorted({tuple(v.shape) for v in values if isinstance(v, torch.Tensor)})
            raise ValueError(f"collate_batch: items disagree on the shape of {key!r}: {shapes}")
        batch[key] = torch.stack(values) if stackable else values
    if "verts" in batch and "faces" in batch:
        from inverse3d.structures import Meshes

        batch["mesh"] = Meshes(batch["verts"], batch["faces"])
    return batch
