"""A checkerboard mesh in the xy-plane (PyTorch3D's ``utils.checkerboard``)."""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["checkerboard"]


def checkerboard(
    radius: int = 4,
    color1: Sequence[float] = (0.0, 0.0, 0.0),
    color2: Sequence[float] = (1.0, 1.0, 1.0),
    device: torch.device | str | None = None,
):
    """A board of unit squares covering [-radius, radius]^2 at z = 0, neighbouring squares of different colours.

    Vertices are the (2 radius + 1)^2 grid points, row by row (y increasing, x increasing within a row); each
    square is two counter-clockwise triangles seen from +z, coloured by a ``TexturesAtlas`` of resolution 1:
    square (row r, column c) has ``color2`` when r + c is odd, else ``color1`` (PyTorch3D's layout and order).

    Args:
        radius: squares on each side of the origin, >= 1.
        color1: background colour (any number of channels).
        color2: foreground colour, with as many channels as ``color1``.
        device: where to build the mesh (default CPU).

    Returns:
        ``Meshes`` with one mesh of (2 radius + 1)^2 vertices and 8 radius^2 faces.
    """
    from inverse3d.renderer.mesh.textures import TexturesAtlas
    from inverse3d.structures import Meshes

    if isinstance(radius, bool) or not isinstance(radius, int):
        raise ValueError(f"radius must be an int, got {type(radius).__name__}")
    if radius < 1:
        raise ValueError("radius must be > 0")
    if len(color1) != len(color2):
        raise ValueError(f"color1 and color2 must have the same number of channels, got {len(color1)} and {len(color2)}")
    device = torch.device("cpu") if device is None else torch.device(device)
    n = 2 * radius + 1  # vertices per row
    coords = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    verts = torch.stack([x, y, torch.zeros_like(x)], -1).reshape(-1, 3)  # (n * n, 3), row r = y index
    r, c = torch.meshgrid(
        torch.arange(n - 1, device=device), torch.arange(n - 1, device=device), indexing="ij"
    )
    corner = (r * n + c).reshape(-1)  # lower-left vertex of each square, square after square
    upper = torch.stack([corner, corner + 1, corner + n + 1], 1)  # (S, 3)
    lower = torch.stack([corner, corner + n + 1, corner + n], 1)
    faces = torch.stack([upper, lower], 1).reshape(-1, 3)  # the two triangles of each square in turn
    # square (r, c) starts at grid vertex r * n + c; n is odd, so that index is odd exactly when r + c is
    odd = ((corner % 2) == 1).repeat_interleave(2)  # (F,)
    c1 = torch.tensor(color1, dtype=torch.float32, device=device)
    c2 = torch.tensor(color2, dtype=torch.float32, device=device)
    colors = torch.where(odd[:, None], c2, c1)  # (F, C)
    atlas = colors[None, :, None, None, :]  # (1, F, 1, 1, C)
    return Meshes(verts=[verts], faces=[faces], textures=TexturesAtlas(atlas))
