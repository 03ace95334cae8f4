"""A mesh of a trained NeRF: its density sampled on a grid over the scene box, marching cubes at a density level,
written as PLY."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["density_grid", "extract_mesh"]


@torch.no_grad()
def density_grid(field, bounds, resolution: int, chunk: int = 65536) -> torch.Tensor:
    """(D, H, W) = (R, R, R) densities at ``linspace(lo, hi, R)`` per axis; [d, h, w] is at (x_w, y_h, z_d)."""
    device = next(iter(field.parameters())).device
    lo, hi = (torch.as_tensor(b, dtype=torch.float32, device=device) for b in bounds)
    axes = [torch.linspace(float(lo[i]), float(hi[i]), resolution, device=device) for i in range(3)]
    z, y, x = torch.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    points = torch.stack([x, y, z], -1).reshape(-1, 3)
    values = torch.cat([field.density(points[s:s + chunk]).reshape(-1) for s in range(0, points.shape[0], chunk)])
    return values.reshape(resolution, resolution, resolution)


def extract_mesh(model, path: str | Path, resolution: int = 128, level: float = 10.0) -> tuple[int, int]:
    """Marching cubes of ``model.field``'s density at ``level`` over its box, written to ``path`` (PLY).

    Returns:
        (vertices, faces) counts.
    """
    from inverse3d.io.ply_io import save_ply
    from inverse3d.ops import marching_cubes

    if resolution < 2:
        raise ValueError(f"--resolution must be >= 2; got {resolution}")
    lo, hi = model.field.bounds
    grid = density_grid(model.field, (lo, hi), resolution)
    if not bool((grid > level).any()) or bool((grid > level).all()):
        raise ValueError(f"the density never crosses --level {level} (range {float(grid.min()):.3g} .. "
                         f"{float(grid.max()):.3g}): choose another level")
    bounds = torch.stack([lo, hi]).cpu()  # (2, 3): [[xmin, ymin, zmin], [xmax, ymax, zmax]]
    verts, faces = marching_cubes(grid[None].cpu(), level, bounds=bounds.tolist(), align="nodes", inside="above")
    save_ply(path, verts[0], faces[0])
    return int(verts[0].shape[0]), int(faces[0].shape[0])
