"""Where the samples of a voxel grid sit in the world: the one index-to-world mapping of inverse3d.

A grid is a tensor ``(N, D, H, W)`` (or ``(D, H, W)``). Its three spatial axes index, in this order,
**z, y, x**: ``grid[n, d, h, w]`` is the sample at world ``x`` from ``w``, ``y`` from ``h``, ``z`` from ``d``
(the axis order of PyTorch3D's ``cubify`` and ``Volumes``). Points are ``(x, y, z)`` row vectors; indices
into a grid are ``(d, h, w)``. The grid covers the box ``bounds`` (by default the cube ``[-0.5, 0.5]^3`` of
CONVENTIONS.md) in one of two ways:

- ``align="cells"`` (the default everywhere in inverse3d): the grid splits the box into ``D x H x W`` equal
  cells and each value belongs to a cell; sample ``w`` sits at the cell centre
  ``x = xmin + (w + 0.5) * (xmax - xmin) / W``. Cell ``w`` spans ``[xmin + w * s, xmin + (w + 1) * s]`` with
  ``s = (xmax - xmin) / W``. Voxel occupancies (``voxelize_meshes``, ``cubify(..., align="world")``) use it.
- ``align="nodes"``: samples sit on the corners of the box, like ``torch.linspace(xmin, xmax, W)``:
  ``x = xmin + w * (xmax - xmin) / (W - 1)``. Handy for implicit functions evaluated on a linspace grid.

Every function that turns grid indices into world positions (cubify, marching cubes, voxelisation,
implicit surfaces) goes through ``index_to_world`` / ``world_to_index`` below.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

Bounds = Union[tuple[float, float], Sequence[Sequence[float]], torch.Tensor]

DEFAULT_BOUNDS: tuple[float, float] = (-0.5, 0.5)
ALIGNS = ("cells", "nodes")


def bounds_tensor(
    bounds: Bounds = DEFAULT_BOUNDS, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The box as a (2, 3) tensor ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]``.

    Args:
        bounds: ``(lo, hi)`` for all three axes, or ``(lo_xyz, hi_xyz)`` with three numbers each, or a
            (2, 3) tensor.
    """
    b = torch.as_tensor(bounds, dtype=dtype, device=device)
    if b.shape == (2,):
        b = b[:, None].expand(2, 3)
    if b.shape != (2, 3):
        raise ValueError(f"bounds must be (lo, hi) or (lo_xyz, hi_xyz) with 3 numbers each, got shape {tuple(b.shape)}")
    if not torch.isfinite(b).all() or not (b[1] > b[0]).all():
        raise ValueError(f"bounds must be finite with hi > lo on every axis, got {b.tolist()}")
    return b


def _check(grid_shape: Sequence[int], align: str) -> tuple[int, int, int]:
    if len(grid_shape) != 3 or any(int(s) < 1 for s in grid_shape):
        raise ValueError(f"grid_shape must be three positive sizes (D, H, W), got {tuple(grid_shape)}")
    if align not in ALIGNS:
        raise ValueError(f"align must be one of {ALIGNS}, got {align!r}")
    if align == "nodes" and any(int(s) < 2 for s in grid_shape):
        raise ValueError(f"align='nodes' needs at least 2 samples per axis, got grid_shape {tuple(grid_shape)}")
    return int(grid_shape[0]), int(grid_shape[1]), int(grid_shape[2])


def _scale_offset(
    grid_shape: Sequence[int], bounds: Bounds, align: str, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """(3,) xyz scale and offset with ``world = offset + scale * index`` (index reordered to w, h, d)."""
    D, H, W = _check(grid_shape, align)
    b = bounds_tensor(bounds, device=device, dtype=dtype)  # (2, 3)
    sizes_xyz = torch.tensor([W, H, D], device=device, dtype=dtype)
    if align == "cells":
        scale = (b[1] - b[0]) / sizes_xyz
        offset = b[0] + 0.5 * scale
    else:
        scale = (b[1] - b[0]) / (sizes_xyz - 1)
        offset = b[0]
    return scale, offset


def index_to_world(
    index: torch.Tensor, grid_shape: Sequence[int], bounds: Bounds = DEFAULT_BOUNDS, align: str = "cells"
) -> torch.Tensor:
    """Continuous grid indices to world points.

    Args:
        index: (..., 3) float, ``(d, h, w)`` positions in index units (integers hit the samples).
        grid_shape: ``(D, H, W)``.
        bounds: the box the grid covers (see ``bounds_tensor``).
        align: ``"cells"`` or ``"nodes"`` (module docstring).

    Returns:
        (..., 3) world points ``(x, y, z)``, same dtype and device as ``index``.
    """
    if index.shape[-1] != 3:
        raise ValueError(f"index must have shape (..., 3) in (d, h, w) order, got {tuple(index.shape)}")
    dtype = index.dtype if index.is_floating_point() else torch.float32
    scale, offset = _scale_offset(grid_shape, bounds, align, index.device, dtype)
    return offset + scale * index.to(dtype).flip(-1)


def world_to_index(
    points: torch.Tensor, grid_shape: Sequence[int], bounds: Bounds = DEFAULT_BOUNDS, align: str = "cells"
) -> torch.Tensor:
    """World points to continuous ``(d, h, w)`` grid indices; the inverse of ``index_to_world``.

    Args:
        points: (..., 3) float world points ``(x, y, z)``.

    Returns:
        (..., 3) float ``(d, h, w)``; round to get the nearest sample (cells: the cell containing the point).
    """
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {tuple(points.shape)}")
    scale, offset = _scale_offset(grid_shape, bounds, align, points.device, points.dtype)
    return ((points - offset) / scale).flip(-1)


def grid_points(
    grid_shape: Sequence[int] | int,
    bounds: Bounds = DEFAULT_BOUNDS,
    align: str = "cells",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """World positions of all samples of a grid.

    Args:
        grid_shape: ``(D, H, W)`` or one int for a cube.

    Returns:
        (D, H, W, 3) float, ``out[d, h, w] = (x, y, z)`` of sample ``(d, h, w)``.
    """
    if isinstance(grid_shape, int):
        grid_shape = (grid_shape,) * 3
    D, H, W = _check(grid_shape, align)
    scale, offset = _scale_offset(grid_shape, bounds, align, torch.device(device or "cpu"), dtype)
    xs = offset[0] + scale[0] * torch.arange(W, device=scale.device, dtype=dtype)
    ys = offset[1] + scale[1] * torch.arange(H, device=scale.device, dtype=dtype)
    zs = offset[2] + scale[2] * torch.arange(D, device=scale.device, dtype=dtype)
    z, y, x = torch.meshgrid(zs, ys, xs, indexing="ij")
    return torch.stack([x, y, z], dim=-1)
