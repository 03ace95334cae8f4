"""Marching cubes from a batch of scalar grids to triangle meshes (PyTorch3D's algorithm and output order).

Classic marching cubes with Paul Bourke's triangle table (``marching_cubes_data``), vectorised over all cells of all
grids, with PyTorch3D's conventions, so that vertices and faces come out in the same order:

- a grid point is *below* when its value is ``< isolevel``; each cell's configuration sets bit i when corner
  ``CORNER_ORDER[i]`` is below;
- a vertex on a cut edge is interpolated linearly between the edge's ends ``p1`` (lower) and ``p2``, except that it
  snaps to ``p1`` when the level is within 1e-5 of ``p1``'s value, to ``p2`` when within 1e-5 of ``p2``'s, and to
  ``p1`` when both values are within 1e-5 of each other;
- a triangle with two corners closer than 1e-5 along every axis is dropped (this is what happens around grid
  points equal to the level, e.g. when the level is the grid's maximum: only triangles spanning several such
  points remain);
- cells are visited z-major (then y, then x), triangles in table order; vertices are numbered in the order
  kept triangles first use them, one vertex per cut grid edge.
"""

from __future__ import annotations

import torch

from inverse3d.ops.marching_cubes_data import CORNER_ORDER, EDGE_CORNERS, TRIANGLES
from inverse3d.ops.voxel_grid import Bounds, index_to_world

__all__ = ["marching_cubes", "marching_cubes_naive"]

_EPS = 1e-5


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

    Not differentiable. Axis order: ``vol_batch[n, d, h, w]`` is the sample at ``x`` from ``w``, ``y`` from ``h``,
    ``z`` from ``d`` (``inverse3d.ops.voxel_grid``, as cubify and voxelize_meshes). Output vertices are
    ``(x, y, z)`` in:

    - ``bounds`` given: world units, sample ``(d, h, w)`` at ``voxel_grid.index_to_world`` of the grid over
      ``bounds`` with ``align`` (``"cells"``: samples at cell centres, the layout of ``voxelize_meshes``;
      ``"nodes"``: samples at ``linspace(lo, hi, size)``, e.g. an implicit function evaluated on a linspace grid).
    - else, ``return_local_coords=True`` (PyTorch3D's default): ``[-1, 1]`` per axis, the first sample at -1
      and the last at +1 (the same as ``bounds=(-1, 1), align="nodes"``).
    - else: index units, ``x`` in ``[0, W - 1]``, ``y`` in ``[0, H - 1]``, ``z`` in ``[0, D - 1]``.

    Vertex and face order are PyTorch3D's (module docstring). Faces are counter-clockwise seen from the side
    of larger values, i.e. from outside when ``inside="below"`` (signed distances, implicit functions negative
    inside: PyTorch3D's orientation); ``inside="above"`` (occupancies, densities) reverses each face's winding.

    Args:
        vol_batch: (N, D, H, W) float scalar grids (a single (D, H, W) grid is taken as N = 1); every axis >= 2.
        isolevel: the level; ``None`` takes the mean of each grid's min and max (as PyTorch3D).
        return_local_coords: see above; ignored when ``bounds`` is given.
        bounds: ``(lo, hi)`` or ``(lo_xyz, hi_xyz)`` the grid covers, for world units.
        align: ``"cells"`` or ``"nodes"``, how the grid covers ``bounds``.
        inside: ``"below"`` or ``"above"``: which side of the level is the solid.

    Returns:
        verts: list of N (V_n, 3) tensors, dtype of ``vol_batch`` (float32 for other dtypes).
        faces: list of N (F_n, 3) int64 tensors. A grid the level does not cross gives (0, 3) tensors (PyTorch3D
        returns empty lists there).
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
    vol = vol_batch.detach().to(dtype)
    if not bool(torch.isfinite(vol).all()):
        raise ValueError("marching_cubes: vol_batch contains NaN or infinity")
    verts_list, faces_list = _marching_cubes(vol, isolevel)
    D, H, W = vol.shape[1:]
    out_verts = []
    for verts in verts_list:  # (V, 3) x y z in index units
        if bounds is not None:
            verts = index_to_world(verts.flip(-1), (D, H, W), bounds=bounds, align=align)
        elif return_local_coords:
            verts = verts * (2.0 / (verts.new_tensor([W, H, D]) - 1)) - 1.0
        out_verts.append(verts)
    if inside == "above":
        faces_list = [f[:, [0, 2, 1]] for f in faces_list]
    return out_verts, faces_list


def marching_cubes_naive(
    vol_batch: torch.Tensor,
    isolevel: float | None = None,
    return_local_coords: bool = True,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """PyTorch3D's reference entry point; here the same (vectorised) computation as :func:`marching_cubes`.

    Args and returns as :func:`marching_cubes` without the world-unit options.
    """
    return marching_cubes(vol_batch, isolevel, return_local_coords)


def _tables(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triangle table (256, 15) long padded with -1, edge corner offsets (12, 2, 3) long (x y z), edge axis (12,)."""
    tri = torch.full((256, 15), -1, dtype=torch.int64)
    for c, edges in enumerate(TRIANGLES):
        tri[c, : len(edges)] = torch.tensor(edges, dtype=torch.int64)
    corner_xyz = torch.tensor([[v & 1, (v >> 1) & 1, (v >> 2) & 1] for v in range(8)], dtype=torch.int64)
    ends = corner_xyz[torch.tensor(EDGE_CORNERS)]  # (12, 2, 3)
    axis = (ends[:, 1] - ends[:, 0]).argmax(1)  # (12,) 0, 1, 2 for x, y, z
    return tri.to(device), ends.to(device), axis.to(device)


def _marching_cubes(vol: torch.Tensor, isolevel: float | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """vol (N, D, H, W) -> per grid verts (V, 3) in (x, y, z) index units and faces (F, 3) long."""
    N, D, H, W = vol.shape
    device = vol.device
    if isolevel is None:
        flat = vol.reshape(N, -1)
        level = (flat.amax(1) + flat.amin(1)) / 2  # (N,)
    else:
        level = torch.full((N,), float(isolevel), dtype=vol.dtype, device=device)
    below = vol < level[:, None, None, None]  # (N, D, H, W)
    config = torch.zeros((N, D - 1, H - 1, W - 1), dtype=torch.int32, device=device)
    for bit, v in enumerate(CORNER_ORDER):
        dx, dy, dz = v & 1, (v >> 1) & 1, (v >> 2) & 1
        config |= below[:, dz : dz + D - 1, dy : dy + H - 1, dx : dx + W - 1].to(torch.int32) << bit
    n, z, y, x = ((config != 0) & (config != 255)).nonzero(as_tuple=True)  # cut cells, n-, z-, y-, x-major
    tri_table, ends, axis = _tables(device)
    edges = tri_table[config[n, z, y, x].long()].view(-1, 5, 3)  # (C, 5 triangles, 3 edges), -1 padded
    cell_of, slot = (edges[:, :, 0] >= 0).nonzero(as_tuple=True)  # triangles in cell then table order
    edges = edges[cell_of, slot]  # (T, 3)
    n, base = n[cell_of], torch.stack([x, y, z], 1)[cell_of]  # (T,), (T, 3) lowest corner of each cell
    p1 = base[:, None, :] + ends[edges, 0]  # (T, 3 corners, 3) xyz of each edge's lower end
    p2 = base[:, None, :] + ends[edges, 1]
    nn = n[:, None].expand(-1, 3)
    val1 = vol[nn, p1[..., 2], p1[..., 1], p1[..., 0]]  # (T, 3)
    val2 = vol[nn, p2[..., 2], p2[..., 1], p2[..., 0]]
    lvl = level[n][:, None]
    pos = _interpolate(p1.to(vol.dtype), p2.to(vol.dtype), val1, val2, lvl)  # (T, 3, 3)
    # drop triangles with two corners at the same place (within _EPS along every axis)
    same = lambda a, b: ((pos[:, a] - pos[:, b]).abs() < _EPS).all(-1)  # noqa: E731
    keep = ~(same(0, 1) | same(1, 2) | same(2, 0))
    pos, p1, edges, n = pos[keep], p1[keep], edges[keep], n[keep]
    # one vertex per cut grid edge: key = (grid, lower end, axis)
    lower = ((n[:, None] * D + p1[..., 2]) * H + p1[..., 1]) * W + p1[..., 0]  # (T, 3)
    keys = (lower * 3 + axis[edges]).reshape(-1)  # (3T,) in the order the triangles use them
    verts_list, faces_list = [], []
    counts = torch.bincount(n, minlength=N).tolist()  # kept triangles per grid (triangles are grid-major)
    if keys.numel() == 0:
        empty_v = vol.new_zeros(0, 3)
        empty_f = torch.zeros(0, 3, dtype=torch.int64, device=device)
        return [empty_v] * N, [empty_f] * N
    unique, inverse = torch.unique(keys, return_inverse=True)
    order = torch.arange(keys.shape[0], device=device)
    first = torch.full((unique.shape[0],), keys.shape[0], dtype=torch.int64, device=device)
    first.scatter_reduce_(0, inverse, order, "amin")  # first use of each vertex
    by_first = torch.argsort(first)  # vertices in order of first use (grid-major as well)
    rank = torch.empty_like(by_first)
    rank[by_first] = torch.arange(by_first.shape[0], device=device)
    vert_pos = pos.reshape(-1, 3)[first[by_first]]  # (V, 3)
    vert_grid = n.repeat_interleave(3)[first[by_first]]  # (V,) grid of each vertex
    faces = rank[inverse].view(-1, 3)  # global vertex numbers
    v_counts = torch.bincount(vert_grid, minlength=N)
    v_first = (torch.cumsum(v_counts, 0) - v_counts).tolist()
    for g, (verts, tris) in enumerate(zip(vert_pos.split(v_counts.tolist()), faces.split(counts))):
        verts_list.append(verts)
        faces_list.append(tris - v_first[g])
    return verts_list, faces_list


def _interpolate(p1, p2, val1, val2, level):
    """PyTorch3D's vertex interpolation on cut edges: p (T, 3, 3), values (T, 3), level (T, 1) -> (T, 3, 3)."""
    near1 = (level - val1).abs() < _EPS
    near2 = (level - val2).abs() < _EPS
    flat = (val1 - val2).abs() < _EPS
    denom = torch.where(flat | near1 | near2, torch.ones_like(val1), val2 - val1)
    ratio = ((level - val1) / denom)[..., None]
    pos = p1 * (1 - ratio) + p2 * ratio
    pos = torch.where((near2 & ~near1)[..., None], p2, pos)
    return torch.where((near1 | (flat & ~near2))[..., None], p1, pos)
