"""The zero level set of an SDF network as a triangle mesh: SDF values on a grid over a box, then marching cubes."""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["sdf_grid", "extract_sdf_mesh"]


@torch.no_grad()
def sdf_grid(sdf: Callable[[torch.Tensor], torch.Tensor], bounds, resolution: int, chunk: int = 65536,
             device: torch.device | str | None = None) -> torch.Tensor:
    """SDF values (R, R, R) at ``linspace(lo, hi, R)`` per axis; entry [d, h, w] is at (x_w, y_h, z_d).

    Args:
        sdf: (M, 3) -> (M, 1) or (M,); evaluated ``chunk`` points at a time (memory stays bounded).
        bounds: (lo (3,), hi (3,)) the box.
        resolution: R >= 2 grid points per axis.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2; got {resolution}")
    if device is None:
        params = list(sdf.parameters()) if isinstance(sdf, torch.nn.Module) else []
        device = params[0].device if params else "cpu"
    lo, hi = (torch.as_tensor(b, dtype=torch.float32, device=device).reshape(3) for b in bounds)
    axes = [torch.linspace(float(lo[i]), float(hi[i]), resolution, device=device) for i in range(3)]
    values = torch.empty(resolution, resolution, resolution, device=device)
    flat = values.view(-1)
    plane = resolution * resolution
    y, x = torch.meshgrid(axes[1], axes[0], indexing="ij")
    xy = torch.stack([x, y], dim=-1).reshape(-1, 2)  # (R^2, 2), one z-slice
    per = max(1, chunk // plane)
    for d in range(0, resolution, per):  # a few z-slices at a time: no (R^3, 3) coordinate tensor
        z = axes[2][d : d + per]
        pts = torch.cat([xy.repeat(z.shape[0], 1), z.repeat_interleave(plane)[:, None]], dim=1)
        flat[d * plane : d * plane + pts.shape[0]] = sdf(pts).reshape(-1).float()
    return values


def extract_sdf_mesh(sdf, bounds, resolution: int = 128, level: float = 0.0, chunk: int = 65536
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Marching cubes of ``sdf`` at ``level`` (inside: below) over the box ``bounds``.

    Returns:
        verts (V, 3) float32 world coordinates and faces (F, 3) int64, on the CPU; ValueError when the SDF does not
        cross ``level`` inside the box.
    """
    from inverse3d.ops import marching_cubes

    grid = sdf_grid(sdf, bounds, resolution, chunk).cpu()
    below = grid < level
    if not bool(below.any()) or bool(below.all()):
        raise ValueError(f"the SDF never crosses {level} inside the box (range {float(grid.min()):.3g} .. "
                         f"{float(grid.max()):.3g}): nothing to mesh")
    lo, hi = (torch.as_tensor(b, dtype=torch.float32).reshape(3).cpu() for b in bounds)
    verts, faces = marching_cubes(grid[None], level, bounds=torch.stack([lo, hi]).tolist(), align="nodes",
                                  inside="below")
    return verts[0], faces[0]
