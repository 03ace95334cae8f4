"""Single-view predictions as surfaces: voxel grids meshed by marching cubes, and every representation's surface
points (what ``inverse3d.metrics`` scores)."""

from __future__ import annotations

import torch


def voxels_to_meshes(probs: torch.Tensor, level: float = 0.5) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Occupancy probabilities (N, R, R, R) on the cells over [-0.5, 0.5]^3 -> closed meshes by marching cubes at
    ``level`` (the grid is padded with one empty cell on every side first, so shapes touching the box are closed).

    Returns:
        verts: list of N (V_n, 3) world points; faces: list of N (F_n, 3) int64 (empty where nothing exceeds level).
    """
    from inverse3d.ops.marching_cubes import marching_cubes

    if probs.ndim != 4:
        raise ValueError(f"voxels_to_meshes expects (N, D, H, W) probabilities; got {tuple(probs.shape)}")
    D, H, W = probs.shape[1:]
    padded = torch.nn.functional.pad(probs, (1, 1, 1, 1, 1, 1))  # (N, D + 2, H + 2, W + 2)
    step = torch.tensor([1.0 / W, 1.0 / H, 1.0 / D])
    bounds = torch.stack([-0.5 - step, 0.5 + step])  # (2, 3) xyz
    return marching_cubes(padded, isolevel=level, bounds=bounds, align="cells", inside="above")


def surface_points(prediction: dict[str, torch.Tensor], n_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Surface points of each predicted shape, for F1 and chamfer.

    Args:
        prediction: ``SingleViewModel.predict``'s dict: ``"voxel_logits"`` (meshed by marching cubes at probability
            0.5, then sampled), ``"points"`` (used as they are), or ``"verts"`` + ``"faces"`` (sampled).
        n_points: samples per mesh.

    Returns:
        points (N, P, 3) and lengths (N,) long (0 for a voxel grid with nothing above 0.5).
    """
    from inverse3d.ops.sample_points_from_meshes import sample_points_from_meshes
    from inverse3d.structures import Meshes

    if "points" in prediction:
        pts = prediction["points"]
        return pts, torch.full((pts.shape[0],), pts.shape[1], dtype=torch.int64, device=pts.device)
    if "verts" in prediction:
        verts = prediction["verts"]
        meshes = Meshes(verts=verts, faces=prediction["faces"].expand(verts.shape[0], -1, -1))
        pts = sample_points_from_meshes(meshes, n_points)
        return pts, torch.full((pts.shape[0],), n_points, dtype=torch.int64, device=pts.device)
    logits = prediction["voxel_logits"]
    verts, faces = voxels_to_meshes(torch.sigmoid(logits))
    out = logits.new_zeros(logits.shape[0], n_points, 3)
    lengths = torch.zeros(logits.shape[0], dtype=torch.int64, device=logits.device)
    for i, (v, f) in enumerate(zip(verts, faces)):
        if f.shape[0] > 0:
            out[i] = sample_points_from_meshes(Meshes(verts=[v], faces=[f]), n_points)[0]
            lengths[i] = n_points
    return out, lengths
