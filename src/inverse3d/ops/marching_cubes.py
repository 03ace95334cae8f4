"""Marching cubes from a scalar grid to a triangle mesh, in grid, local or world units (scikit-image underneath)."""

from __future__ import annotations

import numpy as np
import torch

from inverse3d.ops.voxel_grid import Bounds, index_to_world


def marching_cubes(
    vol_batch: torch.Tensor,
    isolevel: float | None = None,
    return_local_coords: bool = True,
    *,
    bounds: Bounds | None = None,
    align: str = "cells",
    inside: str = "below",
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The isosurface ``value == isolevel`` of each grid of a batch (PyTorch3D's ``marching_cubes``, plus world units).

    Runs scikit-image's Lewiner marching cubes on each grid in turn (on the CPU, in float32: the grid is copied
    there and the mesh copied back to the grid's device and dtype). Not differentiable.

    Axis order: ``vol_batch[n, d, h, w]`` is the sample at ``x`` from ``w``, ``y`` from ``h``, ``z`` from ``d``
    (``inverse3d.ops.voxel_grid``, as cubify and voxelize_meshes). Output vertices are ``(x, y, z)`` in:

    - ``bounds`` given: world units, sample ``(d, h, w)`` at ``voxel_grid.index_to_world`` of the grid over
      ``bounds`` with ``align`` (``"cells"``: samples at cell centres, the layout of ``voxelize_meshes``;
      ``"nodes"``: samples at ``linspace(lo, hi, size)``, e.g. an implicit function evaluated on a linspace grid).
    - else, ``return_local_coords=True`` (PyTorch3D's default): ``[-1, 1]`` per axis, the first sample at -1
      and the last at +1 (the same as ``bounds=(-1, 1), align="nodes"``).
    - else: index units, ``x`` in ``[0, W - 1]``, ``y`` in ``[0, H - 1]``, ``z`` in ``[0, D - 1]``.

    Faces are counter-clockwise seen from outside, with the inside given by ``inside``: ``"below"`` for signed
    distances and implicit functions (negative inside), ``"above"`` for occupancies and densities.

    Args:
        vol_batch: (N, D, H, W) float scalar grids (a single (D, H, W) grid is taken as N = 1); every axis >= 2.
        isolevel: the level; ``None`` takes the mean of each grid's min and max (as PyTorch3D).
        return_local_coords: see above; ignored when ``bounds`` is given.
        bounds: ``(lo, hi)`` or ``(lo_xyz, hi_xyz)`` the grid covers, for world units.
        align: ``"cells"`` or ``"nodes"``, how the grid covers ``bounds``.
        inside: ``"below"`` or ``"above"``: which side of the level is the solid.

    Returns:
        verts: list of N (V_n, 3) tensors, dtype of ``vol_batch`` (float32 for other dtypes).
        faces: list of N (F_n, 3) int64 tensors. A grid the level does not cross gives (0, 3) tensors.
    """
    if not isinstance(vol_batch, torch.Tensor):
        raise ValueError(f"marching_cubes: vol_batch must be a tensor, got {type(vol_batch).__name__}")
    if vol_batch.dim() == 3:
        vol_batch = vol_batch[None]
    if vol_batch.dim() != 4 or min(vol_batch.shape[1:]) < 2:
        shape = tuple(vol_batch.shape)
        raise ValueError(f"marching_cubes: vol_batch must be (N, D, H, W) with D, H, W >= 2, got {shape}")
    if inside not in ("below", "above"):
        raise ValueError(f"marching_cubes: inside must be 'below' or 'above', got {inside!r}")
    if align not in ("cells", "nodes"):
        raise ValueError(f"marching_cubes: align must be 'cells' or 'nodes', got {align!r}")
    dtype = vol_batch.dtype if vol_batch.is_floating_point() else torch.float32
    device = vol_batch.device
    grid_shape = tuple(vol_batch.shape[1:])
    volumes = vol_batch.detach().to("cpu", torch.float32).numpy()
    if not np.isfinite(volumes).all():
        raise ValueError("marching_cubes: vol_batch contains NaN or infinity")

    verts_list, faces_list = [], []
    for vol in volumes:
        verts_dhw, faces = _marching_cubes_one(vol, isolevel, inside)
        verts_dhw = torch.from_numpy(verts_dhw).to(device=device, dtype=dtype)  # (V, 3) (d, h, w) index units
        if bounds is not None:
            verts = index_to_world(verts_dhw, grid_shape, bounds=bounds, align=align)
        elif return_local_coords:
            verts = index_to_world(verts_dhw, grid_shape, bounds=(-1.0, 1.0), align="nodes")
        else:
            verts = verts_dhw.flip(-1)
        verts_list.append(verts)
        faces_list.append(torch.from_numpy(faces).to(device=device, dtype=torch.int64))
    return verts_list, faces_list


def _marching_cubes_one(vol: np.ndarray, isolevel: float | None, inside: str) -> tuple[np.ndarray, np.ndarray]:
    """One (D, H, W) float32 grid -> verts (V, 3) float32 in (d, h, w) index units, faces (F, 3) int64."""
    from skimage.measure import marching_cubes as skimage_marching_cubes

    lo, hi = float(vol.min()), float(vol.max())
    level = 0.5 * (lo + hi) if isolevel is None else float(isolevel)
    if not (lo < level < hi):  # the level never crosses the grid (or touches it only at its extremes)
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    # Our vertices are (x, y, z) = reversed array axes, which mirrors the mesh; "ascent" then makes
    # faces counter-clockwise seen from the side where the values are larger.
    direction = "ascent" if inside == "below" else "descent"
    verts, faces, _, _ = skimage_marching_cubes(vol, level, gradient_direction=direction, allow_degenerate=False)
    return verts.astype(np.float32, copy=False), faces.astype(np.int64, copy=False)
