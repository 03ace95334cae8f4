"""``Volumes``: batches of voxel grids with densities, features and a grid-to-world mapping (PyTorch3D semantics).

``Volumes`` coordinates (as in PyTorch3D)
-----------------------------------------
Local coordinates put the centres of the corner voxels at -1 and +1 along each axis with
``align_corners=True`` (the ``grid_sample`` convention), or at -1 + 1/r and 1 - 1/r with
``align_corners=False``; coordinate order is (x, y, z) = (width, height, depth). World coordinates are::

    x_world = x_local * (volume_size_xyz - 1) * 0.5 * voxel_size - volume_translation

with ``volume_size_xyz = (W, H, D)``, for both values of ``align_corners`` (PyTorch3D does the same).

The project's voxel grids (CONVENTIONS.md)
------------------------------------------
inverse3d's voxel grids are (N, D, H, W) occupancies over [-0.5, 0.5]^3, cell-centred, W <-> x, H <-> y,
D <-> z; the index-to-world mapping is written once, in :mod:`inverse3d.ops.voxel_grid`
(``index_to_world`` / ``world_to_index`` / ``grid_points`` with ``align="cells"``).
:meth:`Volumes.from_occupancy_grid` builds the ``Volumes`` whose voxel centres ``get_coord_grid()`` are
exactly ``grid_points(..., align="cells")``: voxel size = box size / grid size, centre = box centre,
``align_corners=True``.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch

from inverse3d.structures import utils as struct_utils

__all__ = ["Volumes", "VolumeLocator"]


# ----------------------------------------------------------------------------------------------
# Volumes


class Volumes(struct_utils.TensorContainer):
    """A batch of voxel grids: densities (N, C_d, D, H, W), optional features (N, C_f, D, H, W), and
    for each grid a voxel size and a translation mapping its local coordinates to the world.

    Grids of different sizes may be given as lists; they are zero-padded to one tensor and
    ``get_grid_sizes()`` keeps each one's (D_i, H_i, W_i).
    """

    _INTERNAL_TENSORS = ("_densities", "_features", "_grid_sizes", "_voxel_size", "_volume_translation")

    def __init__(
        self,
        densities: torch.Tensor | Sequence[torch.Tensor],
        features: torch.Tensor | Sequence[torch.Tensor] | None = None,
        voxel_size: float | Sequence[float] | torch.Tensor = 1.0,
        volume_translation: Sequence[float] | torch.Tensor = (0.0, 0.0, 0.0),
        align_corners: bool = True,
    ) -> None:
        """
        Args:
            densities: (N, C_d, D, H, W) float tensor, or N tensors (C_d, D_i, H_i, W_i).
            features: optional (N, C_f, D, H, W) or N tensors (C_f, D_i, H_i, W_i), same grid sizes.
            voxel_size: world size of a voxel: a number, 3 numbers (x, y, z), or a tensor (3,), (1,),
                (N, 3) or (N, 1).
            volume_translation: 3 numbers or a tensor (3,), (1, 3) or (N, 3); the world position of the
                volume centre is ``-volume_translation``.
            align_corners: local coordinates -1 / +1 are the centres of the corner voxels (True) or
                the outer faces of the grid (False), as in ``grid_sample``.

        Raises:
            ValueError: wrong shapes or types, grid sizes that differ between densities and features,
                NaN or infinite values.
        """
        densities, grid_sizes = _to_padded(densities, "densities")
        self.device = densities.device
        self._densities = densities
        self._grid_sizes = grid_sizes  # (N, 3) int64, (D_i, H_i, W_i)
        self._features = None
        if features is not None:
            self._set_features(features)
        self._align_corners = bool(align_corners)
        n = densities.shape[0]
        dtype = densities.dtype if densities.is_floating_point() else torch.float32
        self._voxel_size = _per_volume_vector(voxel_size, n, self.device, dtype, "voxel_size", allow_scalar=True)
        self._volume_translation = _per_volume_vector(
            volume_translation, n, self.device, dtype, "volume_translation", allow_scalar=False
        )
        tensors = [densities] + ([self._features] if self._features is not None else [])
        tensors = [t for t in tensors if t.is_floating_point() and t.numel()]
        if tensors and not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
            raise ValueError("Volumes: densities or features contain NaN or infinite values")

    @classmethod
    def from_occupancy_grid(
        cls,
        grid: torch.Tensor,
        extent: float = 1.0,
        features: torch.Tensor | None = None,
        bounds: Any = None,
    ) -> "Volumes":
        """Volumes for voxel grids in the project's convention (module docstring): the grid's cells tile
        the box, and ``get_coord_grid()`` equals ``inverse3d.ops.voxel_grid.grid_points(..., align="cells")``.

        Args:
            grid: (N, D, H, W) occupancies / logits, or (N, C, D, H, W).
            extent: side of the cube [-extent/2, extent/2]^3 the grid covers (default: [-0.5, 0.5]^3).
            features: optional (N, C_f, D, H, W).
            bounds: instead of ``extent``, the box as ``(lo, hi)`` or ``(lo_xyz, hi_xyz)``
                (see ``inverse3d.ops.voxel_grid.bounds_tensor``).
        """
        if not torch.is_tensor(grid) or grid.ndim not in (4, 5):
            shape = tuple(grid.shape) if torch.is_tensor(grid) else type(grid).__name__
            raise ValueError(f"Volumes.from_occupancy_grid: grid must be (N, D, H, W) or (N, C, D, H, W), got {shape}")
        densities = grid[:, None] if grid.ndim == 4 else grid
        dtype = densities.dtype if densities.is_floating_point() else torch.float32
        if bounds is None:
            bounds = (-0.5 * extent, 0.5 * extent)
        from inverse3d.ops.voxel_grid import bounds_tensor

        box = bounds_tensor(bounds, device=densities.device, dtype=dtype)  # (2, 3) [[lo_xyz], [hi_xyz]]
        d, h, w = densities.shape[2:]
        sizes_xyz = torch.tensor([w, h, d], device=densities.device, dtype=dtype)
        voxel_size = (box[1] - box[0]) / sizes_xyz  # (3,) world size of a cell along x, y, z
        centre = 0.5 * (box[0] + box[1])
        return cls(densities, features=features, voxel_size=voxel_size, volume_translation=-centre, align_corners=True)

    # ------------------------------------------------------------------------------------------
    # data

    def __len__(self) -> int:
        return self._densities.shape[0]

    def __repr__(self) -> str:
        return (
            f"Volumes(N={len(self)}, densities={tuple(self._densities.shape[1:])}, "
            f"features={None if self._features is None else tuple(self._features.shape[1:])}, device={self.device})"
        )

    def densities(self) -> torch.Tensor:
        """(N, C_d, D, H, W) padded densities."""
        return self._densities

    def features(self) -> torch.Tensor | None:
        """(N, C_f, D, H, W) padded features, or None."""
        return self._features

    def densities_list(self) -> list[torch.Tensor]:
        """N tensors (C_d, D_i, H_i, W_i)."""
        return self._unpad(self._densities)

    def features_list(self) -> list[torch.Tensor] | None:
        """N tensors (C_f, D_i, H_i, W_i), or None."""
        return None if self._features is None else self._unpad(self._features)

    def _unpad(self, x: torch.Tensor) -> list[torch.Tensor]:
        sizes = [[x.shape[1], *s] for s in self._grid_sizes.tolist()]
        return struct_utils.padded_to_list(x, sizes)

    def get_grid_sizes(self) -> torch.Tensor:
        """(N, 3) int64, (D_i, H_i, W_i) of each grid."""
        return self._grid_sizes

    def get_align_corners(self) -> bool:
        return self._align_corners

    def _set_features(self, features: torch.Tensor | Sequence[torch.Tensor]) -> None:
        features, sizes = _to_padded(features, "features")
        if features.device != self.device:
            raise ValueError(f"Volumes: features are on {features.device} but densities are on {self.device}")
        if sizes.shape != self._grid_sizes.shape or not torch.equal(sizes, self._grid_sizes):
            raise ValueError(
                f"Volumes: grid sizes of features {sizes.tolist()} differ from those of densities {self._grid_sizes.tolist()}"
            )
        self._features = features

    def update_padded(self, new_densities: torch.Tensor, new_features: torch.Tensor | None = None) -> "Volumes":
        """A new Volumes with the same grids and mapping and new padded densities (and features).

        Args:
            new_densities: (N, C_d', D, H, W), same N, D, H, W as now.
            new_features: (N, C_f', D, H, W) or None (the result then has no features, as in PyTorch3D).
        """
        new = copy.copy(self)
        new._densities = self._check_update(new_densities, "densities")
        new._features = None if new_features is None else self._check_update(new_features, "features")
        return new

    def _check_update(self, value: Any, name: str) -> torch.Tensor:
        spatial = tuple(self._densities.shape[2:])
        if not torch.is_tensor(value) or value.ndim != 5 or value.shape[0] != len(self) or tuple(value.shape[2:]) != spatial:
            shape = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
            raise ValueError(f"Volumes.update_padded: new {name} have shape {shape}, expected ({len(self)}, C, *{spatial})")
        if value.device != self.device:
            raise ValueError(f"Volumes.update_padded: new {name} are on {value.device}, volumes on {self.device}")
        return value

    # ------------------------------------------------------------------------------------------
    # coordinates: delegated to a VolumeLocator sharing this batch's tensors

    @property
    def locator(self) -> "VolumeLocator":
        """The ``VolumeLocator`` of this batch (grid sizes, voxel sizes, translations; shares their storage)."""
        return VolumeLocator._from_tensors(
            self._grid_sizes, self._voxel_size, self._volume_translation, self._align_corners, self.device
        )

    def local_to_world_coords(self, points_3d_local: torch.Tensor) -> torch.Tensor:
        """World coordinates of local points (N, ..., 3) -> (N, ..., 3); see ``VolumeLocator``."""
        return self.locator.local_to_world_coords(points_3d_local)

    def world_to_local_coords(self, points_3d_world: torch.Tensor) -> torch.Tensor:
        """Local coordinates of world points (N, ..., 3) -> (N, ..., 3); see ``VolumeLocator``."""
        return self.locator.world_to_local_coords(points_3d_world)

    def get_local_to_world_coords_transform(self) -> Any:
        """``inverse3d.transforms.Transform3d`` mapping local volume coordinates to world coordinates."""
        return self.locator.get_local_to_world_coords_transform()

    def get_world_to_local_coords_transform(self) -> Any:
        """``inverse3d.transforms.Transform3d`` mapping world coordinates to local volume coordinates."""
        return self.locator.get_world_to_local_coords_transform()

    def get_coord_grid(self, world_coordinates: bool = True) -> torch.Tensor:
        """(N, D, H, W, 3) coordinates (x, y, z) of every voxel centre; see ``VolumeLocator.get_coord_grid``."""
        return self.locator.get_coord_grid(world_coordinates)

    # ------------------------------------------------------------------------------------------
    # batch operations

    def __getitem__(self, index: int | slice | list[int] | torch.Tensor) -> "Volumes":
        """The volumes selected by an int, a slice, a list of ints or a 1-D bool / integer tensor (batch kept)."""
        if isinstance(index, bool):
            raise IndexError(index)
        if isinstance(index, int):
            if not -len(self) <= index < len(self):
                raise IndexError(f"Volumes index {index} out of range for {len(self)} volumes")
            index = [index]
        elif isinstance(index, tuple):
            index = list(index)
        elif torch.is_tensor(index):
            if index.ndim != 1 or index.is_floating_point() or index.is_complex():
                raise IndexError(f"Volumes: a tensor index must be 1-D bool or integer, got {index.dtype}")
            index = index.to(self.device)
        elif not isinstance(index, (slice, list)):
            raise IndexError(index)
        new = copy.copy(self)
        new._densities = self._densities[index]
        new._features = None if self._features is None else self._features[index]
        new._grid_sizes = self._grid_sizes[index]
        new._voxel_size = self._voxel_size[index]
        new._volume_translation = self._volume_translation[index]
        return new


class VolumeLocator:
    """Where the voxels of a batch of grids lie: local and world coordinates of their centres (PyTorch3D's
    ``VolumeLocator``, the part of ``Volumes`` that does not hold data).

    Local coordinates run from -1 to +1 across each grid (module docstring; ``align_corners`` as in
    ``grid_sample``); world coordinates are ``x_local * (size_xyz - 1) * 0.5 * voxel_size - volume_translation``.
    """

    def __init__(
        self,
        batch_size: int,
        grid_sizes: torch.Tensor | Sequence[int] | Sequence[Sequence[int]],
        device: torch.device | str,
        voxel_size: float | Sequence[float] | torch.Tensor = 1.0,
        volume_translation: Sequence[float] | torch.Tensor = (0.0, 0.0, 0.0),
        align_corners: bool = True,
    ) -> None:
        """
        Args:
            batch_size: N, number of grids.
            grid_sizes: (D, H, W) for all grids, N such triples, or an (N, 3) integer tensor.
            device: where the tensors live.
            voxel_size: world size of a voxel, as for ``Volumes``.
            volume_translation: minus the world position of each grid's centre, as for ``Volumes``.
            align_corners: local -1 / +1 are the corner voxels' centres (True) or the grid's outer faces.
        """
        self.device = torch.device(device)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
            raise ValueError(f"VolumeLocator: batch_size must be a non-negative int, got {batch_size!r}")
        self._grid_sizes = _grid_sizes_tensor(grid_sizes, batch_size, self.device)
        self._voxel_size = _per_volume_vector(
            voxel_size, batch_size, self.device, torch.float32, "voxel_size", allow_scalar=True
        )
        self._volume_translation = _per_volume_vector(
            volume_translation, batch_size, self.device, torch.float32, "volume_translation", allow_scalar=False
        )
        self._align_corners = bool(align_corners)

    @classmethod
    def _from_tensors(cls, grid_sizes, voxel_size, volume_translation, align_corners, device) -> "VolumeLocator":
        new = cls.__new__(cls)
        new.device = torch.device(device)
        new._grid_sizes = grid_sizes
        new._voxel_size = voxel_size
        new._volume_translation = volume_translation
        new._align_corners = align_corners
        return new

    def __len__(self) -> int:
        return self._grid_sizes.shape[0]

    def get_grid_sizes(self) -> torch.Tensor:
        """(N, 3) int64, (D_i, H_i, W_i) of each grid."""
        return self._grid_sizes

    def _local_to_world_scale(self) -> torch.Tensor:
        """(N, 3): x_world = x_local * scale - volume_translation."""
        sizes_xyz = self._grid_sizes.flip(-1).to(self._voxel_size.dtype)
        return (sizes_xyz - 1) * 0.5 * self._voxel_size

    def _per_point(self, x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Reshapes an (N, 3) per-grid vector to broadcast against points (N or 1, ..., 3)."""
        if points.shape[0] not in (len(self), 1) and len(self) != 1:
            raise ValueError(f"Volumes: points have batch size {points.shape[0]} for {len(self)} volumes")
        return x.to(points.dtype).reshape(x.shape[0], *([1] * (points.ndim - 2)), 3)

    def local_to_world_coords(self, points_3d_local: torch.Tensor) -> torch.Tensor:
        """World coordinates of local points.

        Args:
            points_3d_local: (N, ..., 3) points in each grid's local frame ([-1, 1] spans the grid).

        Returns:
            (N, ..., 3) world points.
        """
        if points_3d_local.ndim < 2 or points_3d_local.shape[-1] != 3:
            raise ValueError(f"Volumes: points must be (N, ..., 3), got {tuple(points_3d_local.shape)}")
        scale = self._per_point(self._local_to_world_scale(), points_3d_local)
        shift = self._per_point(self._volume_translation, points_3d_local)
        return points_3d_local * scale - shift

    def world_to_local_coords(self, points_3d_world: torch.Tensor) -> torch.Tensor:
        """Local coordinates of world points (the inverse of :meth:`local_to_world_coords`).

        Args:
            points_3d_world: (N, ..., 3) world points.

        Returns:
            (N, ..., 3) local points; 0 along an axis where the grid has a single voxel.
        """
        if points_3d_world.ndim < 2 or points_3d_world.shape[-1] != 3:
            raise ValueError(f"Volumes: points must be (N, ..., 3), got {tuple(points_3d_world.shape)}")
        scale = self._per_point(self._local_to_world_scale(), points_3d_world)
        shift = self._per_point(self._volume_translation, points_3d_world)
        safe = torch.where(scale == 0, torch.ones_like(scale), scale)
        return torch.where(scale == 0, torch.zeros_like(safe), (points_3d_world + shift) / safe)

    def _local_to_world_matrix(self) -> torch.Tensor:
        """(N, 4, 4) row-vector matrix of the local-to-world map (points @ M)."""
        scale = self._local_to_world_scale()
        n = scale.shape[0]
        matrix = torch.zeros((n, 4, 4), dtype=scale.dtype, device=self.device)
        matrix[:, [0, 1, 2], [0, 1, 2]] = scale
        matrix[:, 3, :3] = -self._volume_translation
        matrix[:, 3, 3] = 1.0
        return matrix

    def get_local_to_world_coords_transform(self) -> Any:
        """``inverse3d.transforms.Transform3d`` mapping local coordinates to world coordinates."""
        from inverse3d.transforms import Transform3d

        return Transform3d(matrix=self._local_to_world_matrix())

    def get_world_to_local_coords_transform(self) -> Any:
        """``inverse3d.transforms.Transform3d`` mapping world coordinates to local coordinates."""
        return self.get_local_to_world_coords_transform().inverse()

    def get_coord_grid(self, world_coordinates: bool = True) -> torch.Tensor:
        """(N, D, H, W, 3) coordinates (x, y, z) of every voxel centre of the padded grids, world or local.

        For grids smaller than the padded size the local coordinates are those of the grid's own voxels (as in
        PyTorch3D), so the padding lies beyond +1.
        """
        n = len(self)
        de, he, wi = (int(v) for v in self._grid_sizes.amax(0).tolist()) if n else (0, 0, 0)
        dtype = self._voxel_size.dtype

        def axis(r: int) -> torch.Tensor:
            shrink = 0.0 if self._align_corners else 1.0 / r
            return torch.linspace(-1.0 + shrink, 1.0 - shrink, r, dtype=dtype, device=self.device)

        z, y, x = torch.meshgrid(axis(de), axis(he), axis(wi), indexing="ij")
        local = torch.stack((x, y, z), dim=3)[None].expand(n, de, he, wi, 3)
        full = torch.tensor([de, he, wi], dtype=dtype, device=self.device)
        relative = (full - 1) / (self._grid_sizes.to(dtype) - 1).clamp_min(1)  # (N, 3) zyx
        if bool((relative != 1).any()):
            rel = relative.flip(-1)[:, None, None, None]  # (N, 1, 1, 1, 3) xyz
            local = local * rel + (rel - 1)
        return self.local_to_world_coords(local) if world_coordinates else local.clone()

    def to(self, device: torch.device | str, copy: bool = False) -> "VolumeLocator":
        """This locator on ``device`` (self if already there and not ``copy``)."""
        device = torch.device(device)
        if device == self.device and not copy:
            return self
        return VolumeLocator._from_tensors(
            self._grid_sizes.to(device, copy=copy),
            self._voxel_size.to(device, copy=copy),
            self._volume_translation.to(device, copy=copy),
            self._align_corners,
            device,
        )

    def clone(self) -> "VolumeLocator":
        """A copy with its own tensors."""
        return VolumeLocator._from_tensors(
            self._grid_sizes.clone(),
            self._voxel_size.clone(),
            self._volume_translation.clone(),
            self._align_corners,
            self.device,
        )

    def cpu(self) -> "VolumeLocator":
        return self.to("cpu")

    def cuda(self) -> "VolumeLocator":
        return self.to("cuda")


def _grid_sizes_tensor(x: Any, batch_size: int, device: torch.device) -> torch.Tensor:
    """(N, 3) int64 grid sizes from (D, H, W), N triples or an (N, 3) tensor."""
    err = "grid_sizes must be (D, H, W), a list of N such triples, or a tensor of shape (N, 3)"
    if torch.is_tensor(x):
        if x.ndim != 2 or x.shape != (batch_size, 3) or x.is_floating_point():
            raise ValueError(err)
        return x.to(device=device, dtype=torch.int64)
    if isinstance(x, (list, tuple)) and x:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in x):
            if len(x) != 3:
                raise ValueError(err)
            return torch.tensor(list(x), dtype=torch.int64, device=device)[None].repeat(batch_size, 1)
        rows = [list(v.tolist() if torch.is_tensor(v) else v) for v in x]
        if len(rows) != batch_size or any(len(r) != 3 for r in rows):
            raise ValueError(err)
        return torch.tensor(rows, dtype=torch.int64, device=device)
    raise ValueError(err)


def _to_padded(x: torch.Tensor | Sequence[torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, D, H, W) tensor and (N, 3) int64 grid sizes from a 5-D tensor or a list of 4-D tensors."""
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError(f"Volumes: {name} is an empty list")
        if not all(torch.is_tensor(t) and t.ndim == 4 for t in x):
            raise ValueError(f"Volumes: {name} must be a list of 4-D tensors ({name}_dim, D, H, W)")
        if any(t.shape[0] != x[0].shape[0] for t in x):
            raise ValueError(f"Volumes: every tensor in {name} must have the same number of channels")
        if any(t.device != x[0].device for t in x):
            raise ValueError(f"Volumes: tensors in {name} are on different devices")
        padded = struct_utils.list_to_padded(list(x))
        sizes = torch.tensor([list(t.shape[1:]) for t in x], dtype=torch.int64, device=padded.device)
    elif torch.is_tensor(x):
        if x.ndim != 5:
            raise ValueError(f"Volumes: {name} must be a 5-D tensor (N, {name}_dim, D, H, W), got shape {tuple(x.shape)}")
        padded = x
        sizes = torch.tensor(list(x.shape[2:]), dtype=torch.int64, device=x.device)[None].repeat(x.shape[0], 1)
    else:
        raise ValueError(f"Volumes: {name} must be a tensor (N, C, D, H, W) or a list of (C, D, H, W), got {type(x).__name__}")
    if padded.dtype == torch.bool or padded.is_complex():
        raise ValueError(f"Volumes: {name} have dtype {padded.dtype}; convert occupancies to float first")
    return padded, sizes


def _per_volume_vector(
    x: Any, n: int, device: torch.device, dtype: torch.dtype, name: str, allow_scalar: bool
) -> torch.Tensor:
    """(N, 3) tensor from a number, 3 numbers or a tensor (3,), (1,), (1, 3), (N, 3), (N, 1)."""
    err = (
        f"Volumes: {name} must be "
        + ("a number, " if allow_scalar else "")
        + "3 numbers or a tensor of shape (3,), (1, 3) or (N, 3)"
        + (", (1,) or (N, 1)" if allow_scalar else "")
    )
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        if not allow_scalar:
            raise ValueError(err)
        return torch.full((n, 3), float(x), dtype=dtype, device=device)
    if isinstance(x, (list, tuple)):
        if len(x) != 3:
            raise ValueError(err)
        return torch.tensor([float(v) for v in x], dtype=dtype, device=device)[None].repeat(n, 1)
    if torch.is_tensor(x):
        x = x.to(device=device, dtype=dtype)
        if allow_scalar and x.numel() == 1:
            return x.reshape(1, 1).expand(n, 3).clone()
        if x.shape == (3,):
            return x[None].expand(n, 3).clone()
        if x.ndim == 2 and x.shape[1] == 3 and x.shape[0] in (1, n):
            return x.expand(n, 3).clone()
        if allow_scalar and x.ndim == 2 and x.shape == (n, 1):
            return x.expand(n, 3).clone()
    raise ValueError(err)
