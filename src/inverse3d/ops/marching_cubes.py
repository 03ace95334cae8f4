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
  points remain). This is what PyTorch3D's CUDA path does; its CPU path (0.7.9) also drops every later triangle
  of the same cell, as it does not clear its triangle buffer after a dropped one, so around grid values equal to
  the level it returns fewer faces (elsewhere the meshes are identical);
- cells are visited z-major (then y, then x), triangles in table order; vertices are numbered in the order
  kept triangles first use them, one vertex per cut grid edge.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
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


class _Tables(NamedTuple):
    """The triangle table re-indexed for vectorised lookup (see :func:`_tables`)."""

    nedges: torch.Tensor  # (256,) long
    edge: torch.Tensor  # (8 * 256 * 15,) long
    owner: torch.Tensor  # (8 * 256 * 15,) bool
    lower: torch.Tensor  # (3, 12) long
    unit: torch.Tensor  # (3, 12) long
    axis: torch.Tensor  # (12,) long


_TABLES: dict[torch.device, _Tables] = {}


def _tables(device: torch.device) -> _Tables:
    """The triangle table re-indexed for vectorised lookup, built once per device.

    A cell's triangles are read by its corner code ``s`` (bit ``v`` set when corner ``v = dx + 2 dy + 4 dz`` is
    below; ``config`` of the module docstring permutes its bits) and its border bits ``b`` (bit 0, 1, 2 set when
    the cell's lowest corner has x, y, z = 0):

    - ``nedges[s]``: the number of edge uses (three per triangle) of code ``s``;
    - ``edge[(b * 256 + s) * 15 + k]``: the edge (0..11) of use k, in table order;
    - ``owner[...]`` (same index): whether use k is the grid edge's first use in the whole grid: its first use
      in the cell, in the first cell (z-, y-, x-major) holding the edge. Every cell around a cut edge is cut and
      uses it, so that is the cell with the smallest coordinates around it, this cell exactly when the edge lies
      on the cell's far side along each other axis or the cell touches the grid's border there;
    - ``lower``: (3 xyz, 12) each edge's lower end, as offset from the cell's lowest corner (PyTorch3D
      interpolates from it); ``unit``: (3 xyz, 12) the step to its upper end; ``axis``: (12,) the axis
      (0, 1, 2 for x, y, z) along which each edge runs.
    """
    if device not in _TABLES:
        xyz = [(v & 1, (v >> 1) & 1, (v >> 2) & 1) for v in range(8)]
        ends = torch.tensor([[xyz[a], xyz[b]] for a, b in EDGE_CORNERS], dtype=torch.int64)  # (12, 2, 3)
        axis = (ends[:, 1] - ends[:, 0]).argmax(1)
        # border bits a cell needs to own each edge: the other axes along which the edge is on the near side
        need = ((ends[:, 0] == 0) & (torch.arange(3)[None] != axis[:, None])).long() @ torch.tensor([1, 2, 4])
        nedges = torch.zeros(256, dtype=torch.int64)
        edge = torch.zeros(8, 256, 15, dtype=torch.int64)
        owner = torch.zeros(8, 256, 15, dtype=torch.bool)
        for s in range(256):
            row = TRIANGLES[sum(((s >> v) & 1) << bit for bit, v in enumerate(CORNER_ORDER))]
            nedges[s] = len(row)
            for k, e in enumerate(row):
                edge[:, s, k] = e
                if e not in row[:k]:
                    owner[:, s, k] = torch.tensor([(int(need[e]) & ~b) == 0 for b in range(8)])
        tables = _Tables(nedges, edge.view(-1), owner.view(-1), ends[:, 0].t().contiguous(),
                         (ends[:, 1] - ends[:, 0]).t().contiguous(), axis)
        _TABLES[device] = _Tables(*(t.to(device) for t in tables))
    return _TABLES[device]


@functools.lru_cache(maxsize=16)
def _grid_tables(device: torch.device, dtype: torch.dtype, H: int, W: int) -> tuple[torch.Tensor, ...]:
    """The edge tables in units of a (., H, W) grid, for the steps above; built once per grid shape.

    Returns:
        lower_off: (12,) long, flat offset in the grid of each cell edge's lower end from the cell's lowest corner.
        step: (12,) long, flat offset from each edge's lower end to its upper end.
        slot_key: (8 * 256 * 15,) long, ``3 * lower_off + axis`` of the edge of each slot of ``_tables``.
        lower, unit: (3, 12) ``dtype``, ``_tables``' lower and unit.
    """
    tables = _tables(device)
    strides = torch.tensor([1, W, H * W], device=device)
    lower_off = (tables.lower * strides[:, None]).sum(0)
    slot_key = (lower_off * 3 + tables.axis).index_select(0, tables.edge)
    return lower_off, strides.index_select(0, tables.axis), slot_key, tables.lower.to(dtype), tables.unit.to(dtype)


def _flatnonzero(mask: torch.Tensor) -> torch.Tensor:
    """Indices (K,) long of the nonzero entries of a 1-D bool or uint8 tensor.

    On the CPU with numpy, many times faster than torch.nonzero; a length that is a multiple of 8 is first
    scanned as 8-byte words, and only nonzero words byte by byte (fast for sparse masks).
    """
    if mask.device.type != "cpu":
        return mask.nonzero().squeeze(1)
    array = mask.numpy().view(np.uint8)
    if array.shape[0] % 8:
        return torch.from_numpy(np.flatnonzero(array))
    words = np.flatnonzero(array.view(np.uint64))
    inside = np.flatnonzero(array.reshape(-1, 8)[words])
    return torch.from_numpy(words[inside >> 3] * 8 + (inside & 7))


def _marching_cubes(vol: torch.Tensor, isolevel: float | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """vol (N, D, H, W) -> per grid verts (V, 3) in (x, y, z) index units and faces (F, 3) long.

    Works on the cut cells only, with one flat array entry per triangle corner (a "use" of a cut grid edge,
    triangle-major); each cut edge's vertex is computed once, at its first use.
    """
    N, D, H, W = vol.shape
    device, dtype = vol.device, vol.dtype
    vol = vol.contiguous()
    if isolevel is None:
        lo, hi = vol.view(N, -1).amin(1), vol.view(N, -1).amax(1)  # (N,), NaN propagates
        level = (hi + lo) / 2
        threshold = level.view(N, 1, 1, 1)
    else:
        lo, hi = torch.aminmax(vol)
        level = torch.full((N,), float(isolevel), dtype=dtype, device=device)
        threshold = float(isolevel)
    if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
        raise ValueError("marching_cubes: vol_batch contains NaN or infinity")
    # corner code of every cell, sum over its corners v = dx + 2 dy + 4 dz below the level of 2^v, axis by axis
    below = (vol < threshold).view(torch.uint8)  # (N, D, H, W)
    code = torch.add(below[:, :, :-1], below[:, :, 1:], alpha=4)  # (N, D, H - 1, W)
    code = torch.add(code[:, :-1], code[:, 1:], alpha=16)  # (N, D - 1, H - 1, W)
    cells = N * (D - 1) * (H - 1) * (W - 1)
    padded = torch.zeros(-(-cells // 8) * 8, dtype=torch.uint8, device=device)  # a whole number of 8-byte words
    code = torch.add(code[..., :-1], code[..., 1:], alpha=2, out=padded[:cells].view(N, D - 1, H - 1, W - 1))
    # cut cells (code neither 0 nor 255: uint8 arithmetic wraps 255 + 1 to 0), n-, z-, y-, x-major
    cell = _flatnonzero(padded.add(1).gt_(1))  # (C,) flat cell index
    tables = _tables(device)
    code = code.view(-1).index_select(0, cell).long()  # (C,)
    x = cell % (W - 1)
    rest = cell // (W - 1)
    y = rest % (H - 1)
    rest = rest // (H - 1)
    z = rest % (D - 1)
    n = rest // (D - 1)
    corner = ((n * D + z) * H + y) * W + x  # (C,) flat index in vol of each cut cell's lowest corner
    # uses of cut edges (triangle corners), cell by cell in table order
    count = tables.nedges.index_select(0, code)  # (C,)
    cell_of = torch.repeat_interleave(count)  # (M,) cut cell of each use
    M = cell_of.shape[0]
    if M == 0:
        return _empty(vol, N)
    border = (x == 0).long().add_(y == 0, alpha=2).add_(z == 0, alpha=4)  # (C,)
    start = (border * 256 + code) * 15 - (torch.cumsum(count, 0) - count)  # (C,) use m reads slot start + m
    slot = start.index_select(0, cell_of) + torch.arange(M, device=device)  # (M,) into the tables
    # a cut grid edge is named by key 3 * (flat index in vol of its lower end) + axis, here counted from the
    # first cut cell's; its vertex is numbered by its first use in the grid (PyTorch3D's order)
    lower_off, step, slot_key, lower, unit = _grid_tables(device, dtype, H, W)
    keys = ((corner - corner[0]) * 3).index_select(0, cell_of) + slot_key.index_select(0, slot)  # (M,)
    use = _flatnonzero(tables.owner.index_select(0, slot))  # (U,) first use of each cut edge
    n_keys = 3 * (int(corner[-1] - corner[0]) + H * W + W + 2)  # more than the largest key
    vertex = _lookup(keys, keys.index_select(0, use), n_keys)  # (M,) vertex number of each use
    # each cut edge's vertex, computed once (every use of an edge gives the same position)
    cell_u, edge_u = cell_of.index_select(0, use), tables.edge.index_select(0, slot.index_select(0, use))  # (U,)
    i1 = corner.index_select(0, cell_u) + lower_off.index_select(0, edge_u)  # (U,) lower end
    flat = vol.view(-1)
    val1 = flat.index_select(0, i1)
    val2 = flat.index_select(0, i1 + step.index_select(0, edge_u))  # upper end
    grid_u = n.index_select(0, cell_u)  # (U,)
    ratio = _ratio(val1, val2, level.index_select(0, grid_u) if N > 1 else level)  # (U,)
    keep_ratio = 1 - ratio
    p1 = torch.stack([x, y, z]).to(dtype).index_select(1, cell_u)  # (3 xyz, U) lowest corner of the cell
    p1 += lower.index_select(1, edge_u)  # lower end of the edge (all exact integers)
    p2 = p1 + unit.index_select(1, edge_u)  # upper end
    verts = (p1 * keep_ratio + p2 * ratio).t().contiguous()  # (U, 3) each cut edge's vertex
    # drop triangles with two corners at the same place (within _EPS along every axis), then renumber. Two
    # vertices of a cell can be that close only on edges meeting at a corner, both within _EPS of it (up to
    # rounding): test the triangles with two such vertices only.
    tau = 2 * _EPS + 16 * torch.finfo(dtype).eps * max(D, H, W)
    near = ((ratio < tau) | (keep_ratio < tau)).index_select(0, vertex)  # (M,) use of a vertex near a corner
    grid_t = n.index_select(0, cell_of[0::3]) if N > 1 else None  # (T,) grid of each triangle
    if bool(near.any()):
        suspect = _flatnonzero(near[0::3].long() + near[1::3] + near[2::3] >= 2)  # (S,) triangles to test
        tri = vertex.view(-1, 3).index_select(0, suspect)  # (S, 3)
        corners = verts.index_select(0, tri.view(-1)).view(-1, 3, 3)  # (S, 3 corners, 3 xyz)
        close = ((corners - corners.roll(-1, 1)).abs_() < _EPS).all(2)  # (S, 3) corners j and j + 1 (mod 3)
        same = torch.zeros(vertex.shape[0] // 3, dtype=torch.bool, device=device)
        same[suspect] = close.any(1)  # (T,)
        if bool(same.any()):
            old = vertex.view(-1, 3)[~same].view(-1)  # (M',) vertices of the kept triangles' corners
            if old.shape[0] == 0:
                return _empty(vol, N)
            first = _first_use(old)  # (M',)
            is_first = first == torch.arange(old.shape[0], device=device)
            vertex = (torch.cumsum(is_first, 0) - 1).index_select(0, first)  # (M',) renumbered by first use
            old = old[is_first]  # (V,) kept vertices in their new order
            verts, grid_u = verts.index_select(0, old), grid_u.index_select(0, old)
            grid_t = grid_t[~same] if N > 1 else None
    faces = vertex.view(-1, 3)  # (F, 3) global vertex numbers
    if N == 1:
        return [verts], [faces]
    counts = torch.bincount(grid_t, minlength=N).tolist()  # faces per grid (triangles are grid-major)
    v_counts = torch.bincount(grid_u, minlength=N)
    v_first = (torch.cumsum(v_counts, 0) - v_counts).tolist()
    verts_list = list(verts.split(v_counts.tolist()))
    faces_list = [f - v_first[g] for g, f in enumerate(faces.split(counts))]
    return verts_list, faces_list


def _empty(vol: torch.Tensor, N: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """N empty meshes: (0, 3) verts of vol's dtype, (0, 3) long faces."""
    return [vol.new_zeros(0, 3)] * N, [torch.zeros(0, 3, dtype=torch.int64, device=vol.device)] * N


# Key ranges up to this long (or this many times the number of keys) are looked up in a dense table, longer
# ones by sorting.
_DENSE_KEYS = 1 << 23
_DENSE_PER_KEY = 16


def _lookup(keys: torch.Tensor, distinct: torch.Tensor, n_keys: int) -> torch.Tensor:
    """keys (M,) long in [0, n_keys), each one of distinct (U,) long (all different) -> (M,) long: where each key
    is in distinct."""
    if n_keys <= max(_DENSE_KEYS, _DENSE_PER_KEY * keys.shape[0]):
        table = torch.empty(n_keys, dtype=torch.int64, device=keys.device)  # only entries of keys are read
        table.index_copy_(0, distinct, torch.arange(distinct.shape[0], device=keys.device))
        return table.index_select(0, keys)
    sorted_keys, order = torch.sort(distinct)
    return order.index_select(0, torch.searchsorted(sorted_keys, keys))


def _first_use(keys: torch.Tensor) -> torch.Tensor:
    """keys (M,) long, M > 0 -> (M,) long, for each position the first position holding the same key."""
    M = keys.shape[0]
    order = torch.arange(M, device=keys.device)
    unique, inverse = torch.unique(keys, return_inverse=True)
    first = torch.full((unique.shape[0],), M, dtype=torch.int64, device=keys.device)
    first.scatter_reduce_(0, inverse, order, "amin")
    return first.index_select(0, inverse)


def _ratio(val1: torch.Tensor, val2: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """PyTorch3D's interpolation weight of each cut edge's upper end: values (M,), level (M,) or (1,) -> (M,).

    The vertex is ``p1 * (1 - ratio) + p2 * ratio``; snapping to ``p1`` (level within 1e-5 of ``val1``, or both
    values within 1e-5 of each other) gives ratio 0, snapping to ``p2`` (level within 1e-5 of ``val2``) ratio 1,
    which reproduce ``p1`` and ``p2`` exactly.
    """
    ratio = (level - val1) / (val2 - val1)
    ratio = torch.where((val1 - val2).abs() < _EPS, 0.0, ratio)  # PyTorch3D's tests, last to first
    ratio = torch.where((level - val2).abs() < _EPS, 1.0, ratio)
    return torch.where((level - val1).abs() < _EPS, 0.0, ratio)
