"""Voxel occupancies to a watertight mesh of cubes (PyTorch3D's ``cubify``), without a loop over voxels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inverse3d.ops.voxel_grid import DEFAULT_BOUNDS, Bounds, index_to_world
from inverse3d.structures import Meshes

ALIGNS = ("topleft", "corner", "center", "world")

# Corners of the unit cube as (x, y, z) offsets; x follows w, y follows h, z follows d.
_CUBE_CORNERS = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]]
# Twelve triangles, two per side, counter-clockwise seen from outside; the same order as PyTorch3D so the
# output faces come out in the same order as theirs.
_CUBE_TRIANGLES = [
    [0, 1, 2], [1, 3, 2],  # x = 0 side ("left")
    [2, 3, 6], [3, 7, 6],  # y = 1 side ("bottom" in image rows)
    [0, 2, 6], [0, 6, 4],  # z = 0 side ("front")
    [0, 5, 1], [0, 4, 5],  # y = 0 side ("up")
    [6, 7, 5], [6, 5, 4],  # x = 1 side ("right")
    [1, 7, 3], [1, 5, 7],  # z = 1 side ("back")
]  # fmt: skip
# The neighbour across each side as a (dd, dh, dw) step: a side is kept only when that neighbour is empty.
_SIDE_STEPS = [(0, 0, -1), (0, 1, 0), (-1, 0, 0), (0, -1, 0), (0, 0, 1), (1, 0, 0)]


def _exposed_sides(occupied: torch.Tensor) -> torch.Tensor:
    """(N, D, H, W) bool -> (N, D, H, W, 6) bool: occupied voxel whose neighbour across side s is empty."""
    padded = F.pad(occupied, (1, 1, 1, 1, 1, 1), value=False)  # (N, D+2, H+2, W+2)
    D, H, W = occupied.shape[1:]
    sides = []
    for dd, dh, dw in _SIDE_STEPS:  # six shifted views, not a loop over voxels
        neighbour = padded[:, 1 + dd : 1 + dd + D, 1 + dh : 1 + dh + H, 1 + dw : 1 + dw + W]
        sides.append(occupied & ~neighbour)
    return torch.stack(sides, dim=-1)


def _corner_positions(
    corners: torch.Tensor, grid_shape: tuple[int, int, int], align: str, bounds: Bounds, dtype: torch.dtype
) -> torch.Tensor:
    """(V, 3) integer (h, w, d) cube-corner indices -> (V, 3) float (x, y, z) vertex positions for ``align``."""
    D, H, W = grid_shape
    hwd = corners.to(dtype)
    if align == "world":
        # Corner c of the cells layout lies half a cell before sample c (voxel_grid, align="cells").
        dhw = hwd[:, [2, 0, 1]] - 0.5
        return index_to_world(dhw, grid_shape, bounds=bounds, align="cells")
    xyz = hwd[:, [1, 0, 2]]
    sizes = torch.tensor([W, H, D], dtype=dtype, device=corners.device)
    if align == "center":
        xyz = xyz - 0.5
    if align == "corner":
        return xyz * (2.0 / sizes) - 1.0
    # topleft / center: sample i sits at 2 i / (size - 1) - 1 (a one-voxel axis keeps a scale of 2).
    return xyz * (2.0 / (sizes - 1).clamp(min=1)) - 1.0


@torch.no_grad()
def cubify(
    voxels: torch.Tensor,
    thresh: float,
    *,
    feats: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    align: str = "topleft",
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Meshes:
    """Replaces every occupied voxel by a cube, removing sides shared by two occupied voxels and merging
    corners, so each connected solid becomes a closed (watertight) surface.

    Voxel ``voxels[n, d, h, w]`` is occupied when ``>= thresh``. Its cube spans ``x`` from ``w``, ``y`` from ``h``
    and ``z`` from ``d`` (see ``inverse3d.ops.voxel_grid``). Where the output vertices go, by ``align``
    (PyTorch3D's three modes, plus ours):

    - ``"topleft"`` (PyTorch3D's default): the first corner of voxel ``i`` sits at ``2 i / (W - 1) - 1``.
    - ``"corner"``: the cubes tile ``[-1, 1]`` on every axis.
    - ``"center"``: the centre of voxel ``i`` sits at ``2 i / (W - 1) - 1``.
    - ``"world"``: inverse3d's convention: the cubes tile ``bounds`` (default ``[-0.5, 0.5]^3``), i.e. the cells
      of ``voxel_grid`` with ``align="cells"``, so the mesh lines up with ``voxelize_meshes`` and marching
      cubes of the same grid.

    Vertices are ordered as PyTorch3D orders them (by corner ``(h, w, d)``), faces by voxel ``(h, w, d)``
    then side. Sides are counter-clockwise seen from outside (normals point out of the solid).

    Args:
        voxels: (N, D, H, W) float or bool, occupancy probabilities.
        thresh: occupancy threshold.
        feats: optional (N, K, D, H, W) per-voxel features (e.g. colours). PyTorch3D returns a per-face
            ``TexturesAtlas``; we return a ``TexturesVertex`` whose value at each vertex is the mean of the
            features of the occupied voxels that share the vertex (any ``align``).
        device: device of the output (default: that of ``voxels``).
        align: ``"topleft"``, ``"corner"``, ``"center"`` or ``"world"``.
        bounds: the box of ``align="world"``: ``(lo, hi)`` or ``(lo_xyz, hi_xyz)``; ignored otherwise.

    Returns:
        ``Meshes`` with N meshes; a mesh with no occupied voxel is empty. Verts have the dtype of ``voxels``
        when it is floating point, else float32.
    """
    if not isinstance(voxels, torch.Tensor) or voxels.dim() != 4:
        shape = tuple(voxels.shape) if isinstance(voxels, torch.Tensor) else type(voxels).__name__
        raise ValueError(f"cubify: voxels must be a tensor of shape (N, D, H, W), got {shape}")
    if align not in ALIGNS:
        raise ValueError(f"cubify: align must be one of {ALIGNS}, got {align!r}")
    if voxels.is_floating_point() and torch.isnan(voxels).any():
        raise ValueError("cubify: voxels contain NaN")
    device = torch.device(device) if device is not None else voxels.device
    voxels = voxels.to(device)
    N, D, H, W = voxels.shape
    dtype = voxels.dtype if voxels.is_floating_point() else torch.float32
    if feats is not None:
        if feats.dim() != 5 or feats.shape[0] != N or tuple(feats.shape[2:]) != (D, H, W):
            expected = f"(N, K, D, H, W) = ({N}, K, {D}, {H}, {W})"
            raise ValueError(f"cubify: feats must have shape {expected}, got {tuple(feats.shape)}")
        feats = feats.to(device)
    if N == 0:
        return Meshes(verts=[], faces=[])

    occupied = voxels >= thresh if voxels.dtype != torch.bool else voxels
    exposed = _exposed_sides(occupied)  # (N, D, H, W, 6)
    # Order as PyTorch3D: voxels by (n, h, w, d), then sides -> triangles.
    exposed = exposed.permute(0, 2, 3, 1, 4)  # (N, H, W, D, 6)
    n, h, w, d, side = exposed.nonzero(as_tuple=True)  # (S,) each

    cube_corners = torch.tensor(_CUBE_CORNERS, dtype=torch.int64, device=device)  # (8, 3) xyz
    triangles = torch.tensor(_CUBE_TRIANGLES, dtype=torch.int64, device=device).view(6, 2, 3)
    tri_corners = triangles[side].view(-1, 3)  # (2S, 3) corner ids of the two triangles of each side
    offsets = cube_corners[tri_corners]  # (2S, 3, 3) xyz offsets
    n_tri = n.repeat_interleave(2)  # (2S,)
    base_hwd = torch.stack([h, w, d], dim=1).repeat_interleave(2, dim=0)  # (2S, 3)
    corner_hwd = base_hwd[:, None, :] + offsets[..., [1, 0, 2]]  # (2S, 3, 3) corner (h, w, d)

    # Linear id of every corner in the (H+1, W+1, D+1) corner lattice, then keep the used ones per mesh.
    strides = torch.tensor([(W + 1) * (D + 1), D + 1, 1], dtype=torch.int64, device=device)
    num_corners = (H + 1) * (W + 1) * (D + 1)
    corner_id = (corner_hwd * strides).sum(-1)  # (2S, 3)
    global_id = corner_id + (n_tri * num_corners)[:, None]
    used = torch.zeros(N * num_corners, dtype=torch.bool, device=device)
    used[global_id.reshape(-1)] = True
    used = used.view(N, num_corners)
    new_index = used.cumsum(dim=1) - 1  # (N, num_corners) index among the used corners of that mesh
    faces_all = new_index[n_tri[:, None], corner_id]  # (2S, 3)

    mesh_of_corner, lattice_id = used.nonzero(as_tuple=True)  # sorted by (mesh, lattice id)
    lattice_hwd = torch.stack(
        [lattice_id // strides[0], (lattice_id // strides[1]) % (W + 1), lattice_id % (D + 1)], dim=1
    )
    verts_all = _corner_positions(lattice_hwd, (D, H, W), align, bounds, dtype)

    verts_per_mesh = used.sum(dim=1).tolist()
    faces_per_mesh = torch.bincount(n_tri, minlength=N).tolist()
    verts_list = list(verts_all.split(verts_per_mesh))
    faces_list = list(faces_all.split(faces_per_mesh))

    textures = None
    if feats is not None:
        textures = _vertex_features(feats, occupied, used, lattice_hwd, mesh_of_corner, strides, verts_per_mesh)
    return Meshes(verts=verts_list, faces=faces_list, textures=textures)


def _vertex_features(feats, occupied, used, lattice_hwd, mesh_of_corner, strides, verts_per_mesh):
    """TexturesVertex: each used corner gets the mean feature of the occupied voxels around it."""
    from inverse3d.renderer import TexturesVertex

    N, K, D, H, W = feats.shape
    num_corners = used.shape[1]
    n, d, h, w = occupied.nonzero(as_tuple=True)  # (O,) occupied voxels
    values = feats.permute(0, 2, 3, 4, 1)[n, d, h, w]  # (O, K)
    cube_corners = torch.tensor(_CUBE_CORNERS, dtype=torch.int64, device=feats.device)  # (8, 3) xyz
    corner_hwd = torch.stack([h, w, d], dim=1)[:, None, :] + cube_corners[None][..., [1, 0, 2]]  # (O, 8, 3)
    target = ((corner_hwd * strides).sum(-1) + (n * num_corners)[:, None]).reshape(-1)  # (8 O,)
    sums = feats.new_zeros(N * num_corners, K).index_add_(0, target, values.repeat_interleave(8, dim=0))
    counts = feats.new_zeros(N * num_corners).index_add_(0, target, feats.new_ones(target.shape[0]))
    flat_used = (mesh_of_corner * num_corners) + (lattice_hwd * strides).sum(-1)
    per_vertex = sums[flat_used] / counts[flat_used].clamp(min=1)[:, None]  # (sum V, K)
    return TexturesVertex(verts_features=list(per_vertex.split(verts_per_mesh)))
