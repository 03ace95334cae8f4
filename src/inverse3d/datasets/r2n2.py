"""A reader for ShapeNetCore v1 meshes with R2N2's renderings and voxels, in the layout the course uses.

Expected files (``synset`` e.g. ``03001627`` for chairs, ``model`` a ShapeNet model id)::

    shapenet_dir/<synset>/<model>/model.obj                                   ShapeNetCore v1 mesh
    r2n2_dir/<views_rel_path>/<synset>/<model>/rendering/00.png ... 23.png   137 x 137 RGBA renderings
    r2n2_dir/<views_rel_path>/<synset>/<model>/rendering/rendering_metadata.txt
    r2n2_dir/<voxels_rel_path>/<synset>/<model>/model.binvox                  32^3 voxels
    splits_file: {"train": {"<synset>": {"<model>": [view indices], ...}}, "val": ..., "test": ...}

(``views_rel_path="ShapeNetRendering"``, ``voxels_rel_path="ShapeNetVoxels"`` by default, as in PyTorch3D's ``R2N2``;
a model's value in the splits file may also be ``null`` or a bare list of model ids may replace the dict, meaning
every view.)

Line ``i`` of ``rendering_metadata.txt`` describes view ``i``: ``azimuth elevation in_plane_rotation distance_ratio
fov``. The camera sits at ``distance_ratio * 1.75`` from the origin, ``elevation`` degrees above the ground plane, at
``azimuth`` degrees measured the other way round from PyTorch3D's and a quarter turn apart, looking at the origin with
+Y up; the Blender lens (35 mm on a 32 mm sensor) gives a field of view of 49.13 degrees whatever the last column
says (it is 25 in R2N2's files). ``r2n2_camera`` turns a line into ``(R, T)``; this equals the calibration of
PyTorch3D's ``R2N2`` (Mesh R-CNN's extrinsics with the ShapeNet-to-PyTorch3D flip), which the tests check against an
independent implementation of that formula.

Items have the same keys as ``ProceduralShapes`` (``inverse3d.datasets.builtin``), with ``category`` the synset id
and ``id`` the model id. Two differences from PyTorch3D's ``R2N2``: one item is one view (``return_all_views``) and
the voxels are in the mesh's world frame on the [-0.5, 0.5]^3 grid of CONVENTIONS.md (PyTorch3D's are per view, in the
camera's frame).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.builtin import R2N2_FOV, R2N2_MAX_CAMERA_DISTANCE
# PyTorch3D's pytorch3d.datasets.r2n2 names, so that ``inverse3d.datasets.r2n2`` has them too
from inverse3d.datasets.r2n2_utils import BlenderCamera, collate_batched_R2N2, render_cubified_voxels  # noqa: F401

SPLITS = ("train", "val", "test")


def r2n2_camera(
    azim: float, elev: float, dist_ratio: float, in_plane: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float, float]]:
    """The camera of one line of an R2N2 ``rendering_metadata.txt``.

    Args:
        azim, elev: R2N2 azimuth and elevation in degrees.
        dist_ratio: R2N2 distance ratio (the distance is ``dist_ratio * 1.75``).
        in_plane: R2N2 in-plane rotation; 0 in all of R2N2's files (a non-zero value is ignored with a warning).

    Returns:
        R: (3, 3) float32 and T: (3,) float32 world-to-view transform (``X_view = X_world @ R + T``) for
        ``FoVPerspectiveCameras(fov=49.13)``, world = the ShapeNet mesh's coordinates;
        (dist, elev, azim): the same camera in ``look_at_view_transform`` terms (azim = 90 - R2N2 azimuth).
    """
    from inverse3d.renderer import look_at_view_transform

    values = (azim, elev, dist_ratio, in_plane)
    if not all(math.isfinite(float(v)) for v in values):
        raise ValueError(f"r2n2_camera: non-finite camera parameters {values}")
    if float(dist_ratio) <= 0:
        raise ValueError(f"r2n2_camera: distance ratio must be positive, got {dist_ratio}")
    if float(in_plane) != 0.0:
        warnings.warn(f"R2N2 in-plane rotation {in_plane} is not supported and is ignored", stacklevel=2)
    dist = float(dist_ratio) * R2N2_MAX_CAMERA_DISTANCE
    azim_lookat = (90.0 - float(azim)) % 360.0
    R, T = look_at_view_transform(dist, float(elev), azim_lookat)
    return R[0].float(), T[0].float(), (dist, float(elev), azim_lookat)


def read_rendering_metadata(path: str | os.PathLike) -> np.ndarray:
    """The rows of a ``rendering_metadata.txt``: (n_views, 5) float64 (azimuth, elevation, in-plane rotation,
    distance ratio, fov). Raises FileNotFoundError / ValueError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: R2N2 rendering metadata not found")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = [float(w) for w in line.replace(",", " ").replace("[", " ").replace("]", " ").split()]
        except ValueError:
            raise ValueError(f"{path}:{number}: expected 5 numbers, got {line.strip()[:60]!r}") from None
        if len(row) != 5:
            raise ValueError(
                f"{path}:{number}: expected 5 numbers (azimuth elevation in-plane distance fov), got {len(row)}"
            )
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: empty rendering metadata")
    return np.asarray(rows, dtype=np.float64)


def read_rendering(path: str | os.PathLike) -> torch.Tensor:
    """An R2N2 rendering (RGBA or RGB PNG) as (H, W, 3) float32 in [0, 1], composited on white."""
    import imageio.v3 as iio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: R2N2 rendering not found")
    try:
        image = np.asarray(iio.imread(path))
    except Exception as err:
        raise ValueError(f"{path}: unreadable image ({type(err).__name__}: {err})") from None
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(f"{path}: expected an RGB or RGBA image, got shape {image.shape}")
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    pixels = torch.from_numpy(image.astype(np.float32) / scale)
    rgb = pixels[..., :3]
    if pixels.shape[-1] == 4:
        alpha = pixels[..., 3:]
        rgb = rgb * alpha + (1.0 - alpha)
    return rgb.clamp(0.0, 1.0).contiguous()


def _read_splits(splits_file: str | os.PathLike, split: str) -> dict[str, dict[str, list[int] | None]]:
    path = Path(splits_file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: splits file not found")
    try:
        splits = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(splits, dict) or split not in splits:
        keys = sorted(splits) if isinstance(splits, dict) else type(splits).__name__
        raise ValueError(f"{path}: no {split!r} split (found {keys})")
    out: dict[str, dict[str, list[int] | None]] = {}
    for synset, models in splits[split].items():
        if isinstance(models, list):
            models = {m: None for m in models}
        if not isinstance(models, dict):
            raise ValueError(f"{path}: {split}/{synset} must map model ids to view lists")
        for model, views in models.items():
            good = views is None or (isinstance(views, list) and all(isinstance(v, int) and v >= 0 for v in views))
            if not good:
                raise ValueError(f"{path}: {split}/{synset}/{model}: views must be a list of non-negative ints")
        out[str(synset)] = {str(m): v for m, v in models.items()}
    return out


class R2N2(torch.utils.data.Dataset):
    """ShapeNetCore v1 + R2N2 renderings and voxels; items in the format of ``inverse3d.datasets.builtin``.

    Args:
        split: "train", "val" or "test".
        shapenet_dir: ShapeNetCore v1 root (``<synset>/<model>/model.obj``).
        r2n2_dir: R2N2 root holding ``views_rel_path`` and ``voxels_rel_path``.
        splits_file: JSON splits (module docstring), e.g. ``split_03001627.json``.
        return_all_views: one item per (model, view) of the split (default); else one item per model, showing a
            view of its list drawn at random at each access.
        return_voxels: read ``model.binvox`` (else ``voxels`` is all zeros, so batches keep their keys).
        views_rel_path, voxels_rel_path: folders inside ``r2n2_dir``.
        load_textures: accepted for PyTorch3D compatibility; items carry no textures, so it only makes the OBJ
            reader also read the materials.
        voxel_res: side of the returned occupancy grid over [-0.5, 0.5]^3.
        voxel_align: "bbox" (default, as PyTorch3D / Mesh R-CNN): the occupied voxels are stretched onto the
            mesh's bounding box; "header": the binvox ``translate`` / ``scale`` place the grid.
        n_points: surface samples per item (drawn from the mesh with a seed fixed per model, so repeatable).
        return_mesh: include ``verts`` / ``faces``.

    Raises:
        FileNotFoundError naming the missing folder or file (at construction for the roots, the splits file and
        the views folder; at access for a model's files). Models listed in the splits file but absent from
        ``shapenet_dir`` are skipped with a warning naming them.
    """

    def __init__(
        self,
        split: str,
        shapenet_dir: str | os.PathLike,
        r2n2_dir: str | os.PathLike,
        splits_file: str | os.PathLike,
        return_all_views: bool = True,
        return_voxels: bool = True,
        views_rel_path: str = "ShapeNetRendering",
        voxels_rel_path: str = "ShapeNetVoxels",
        load_textures: bool = False,
        voxel_res: int = 32,
        voxel_align: str = "bbox",
        n_points: int = 5000,
        return_mesh: bool = True,
    ) -> None:
        super().__init__()
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if voxel_align not in ("bbox", "header"):
            raise ValueError(f"voxel_align must be 'bbox' or 'header', got {voxel_align!r}")
        if voxel_res < 1 or n_points < 1:
            raise ValueError(f"voxel_res and n_points must be positive, got {voxel_res} and {n_points}")
        self.shapenet_dir = Path(shapenet_dir)
        self.r2n2_dir = Path(r2n2_dir)
        self.views_dir = self.r2n2_dir / views_rel_path
        self.voxels_dir = self.r2n2_dir / voxels_rel_path
        for what, folder in (("ShapeNetCore v1 folder", self.shapenet_dir), ("R2N2 folder", self.r2n2_dir),
                             ("R2N2 renderings folder", self.views_dir)):
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: {what} not found")
        if return_voxels and not self.voxels_dir.is_dir():
            raise FileNotFoundError(f"{self.voxels_dir}: R2N2 voxels folder not found (or pass return_voxels=False)")
        self.split = split
        self.return_all_views = return_all_views
        self.return_voxels = return_voxels
        self.load_textures = load_textures
        self.voxel_res = int(voxel_res)
        self.voxel_align = voxel_align
        self.n_points = int(n_points)
        self.return_mesh = return_mesh
        self.cache_models = 16  # meshes, samples and voxels of the last models read (views of a model share them)
        self._cache: OrderedDict[tuple[str, str], tuple[torch.Tensor, ...]] = OrderedDict()

        missing: list[str] = []
        self.models: list[tuple[str, str, list[int] | None]] = []  # (synset, model, views or None for all)
        for synset, models in _read_splits(splits_file, split).items():
            for model, views in models.items():
                if not (self.shapenet_dir / synset / model).is_dir():
                    missing.append(f"{synset}/{model}")
                    continue
                self.models.append((synset, model, views))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            warnings.warn(
                f"{len(missing)} models of the {split!r} split are not in {self.shapenet_dir}: {shown}; skipped",
                stacklevel=2,
            )
        if not self.models:
            raise ValueError(f"no model of the {split!r} split of {splits_file} was found in {self.shapenet_dir}")
        # Models whose view list is "all" learn their view count from the metadata file.
        self.models = [
            (s, m, v if v is not None else list(range(len(self._metadata(s, m))))) for s, m, v in self.models
        ]
        self.index = (
            [(k, v) for k, (_, _, views) in enumerate(self.models) for v in views]
            if return_all_views
            else [(k, None) for k in range(len(self.models))]
        )

    def _rendering_dir(self, synset: str, model: str) -> Path:
        return self.views_dir / synset / model / "rendering"

    def _metadata(self, synset: str, model: str) -> np.ndarray:
        return read_rendering_metadata(self._rendering_dir(synset, model) / "rendering_metadata.txt")

    def __len__(self) -> int:
        return len(self.index)

    def _model_data(self, synset: str, model: str) -> tuple[torch.Tensor, ...]:
        """(verts, faces, points, normals, voxels) of a model: read once, kept for the next views of it."""
        from inverse3d.io import load_obj
        from inverse3d.ops import sample_points_from_meshes
        from inverse3d.structures import Meshes

        key = (synset, model)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        obj_path = self.shapenet_dir / synset / model / "model.obj"
        if not obj_path.is_file():
            raise FileNotFoundError(f"{obj_path}: ShapeNet mesh not found")
        # ShapeNetCore v2 keeps textures in ../images: the user's own dataset may refer outside the model's folder.
        verts, faces, _ = load_obj(obj_path, load_textures=self.load_textures, allow_external_files=True)
        faces = faces.verts_idx
        if len(faces) == 0:
            raise ValueError(f"{obj_path}: the mesh has no faces")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(hashlib.sha256(f"{synset}/{model}".encode()).hexdigest()[:15], 16))
            points, normals = sample_points_from_meshes(Meshes([verts], [faces]), self.n_points, return_normals=True)

        voxels = torch.zeros((self.voxel_res,) * 3)
        if self.return_voxels:
            from inverse3d.datasets.binvox import read_binvox

            grid = read_binvox(self.voxels_dir / synset / model / "model.binvox")
            if bool(grid.voxels.any()):
                source = grid.bbox_aligned_bounds(verts) if self.voxel_align == "bbox" else grid.bounds
                voxels = grid.to_grid(self.voxel_res, source_bounds=source)
        data = (verts.float(), faces, points[0].float(), normals[0].float(), voxels)
        self._cache[key] = data
        if len(self._cache) > self.cache_models:
            self._cache.popitem(last=False)
        return data

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        k, view = self.index[index]
        synset, model, views = self.models[k]
        if view is None:
            view = views[int(torch.randint(len(views), ()))]
        rendering_dir = self._rendering_dir(synset, model)
        metadata = self._metadata(synset, model)
        if view >= len(metadata):
            metadata_path = rendering_dir / "rendering_metadata.txt"
            raise ValueError(f"{metadata_path}: no line for view {view} ({len(metadata)} lines)")
        azim, elev, in_plane, dist_ratio, _ = metadata[view]
        R, T, (dist, elev_l, azim_l) = r2n2_camera(azim, elev, dist_ratio, in_plane)
        image = read_rendering(rendering_dir / f"{view:02d}.png")

        # copies: an item may be changed in place by its user without touching the cache
        verts, faces, points, normals, voxels = (t.clone() for t in self._model_data(synset, model))

        def scalar(x: float) -> torch.Tensor:
            return torch.tensor(x, dtype=torch.float32)

        item = {
            "images": image,
            "voxels": voxels,
            "points": points,
            "normals": normals,
            "verts": verts,
            "faces": faces,
            "R": R,
            "T": T,
            "fov": scalar(R2N2_FOV),
            "dist": scalar(dist),
            "elev": scalar(elev_l),
            "azim": scalar(azim_l),
            "category": synset,
            "id": model,
        }
        if not self.return_mesh:
            del item["verts"], item["faces"]
        return item
