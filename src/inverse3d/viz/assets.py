"""Built-in assets made by code, so that demos and tests need no download.

``textured_globe`` is a UV-mapped sphere with a procedural texture image (latitude bands, a checker of
"continents" and a grid), the smallest mesh that shows everything a texture loader produces: separate geometry and
UV indices, a seam where UVs wrap around, poles, and a texture image of arbitrary size.
"""

from __future__ import annotations

import math

import torch


def globe_texture(size: int = 256, device=None) -> torch.Tensor:
    """A procedural equirectangular texture (size, 2*size, 3) float in [0, 1].

    Row 0 is the north pole (v = 1 in PyTorch3D's UV convention), columns run with longitude.
    """
    h, w = size, 2 * size
    v = torch.linspace(0.5 / h, 1 - 0.5 / h, h, device=device)[:, None].expand(h, w)  # 0 at top
    u = torch.linspace(0.5 / w, 1 - 0.5 / w, w, device=device)[None, :].expand(h, w)
    lat = (0.5 - v) * math.pi  # +pi/2 at the top row
    lon = u * 2 * math.pi
    # Smooth "continents": a few low-frequency waves thresholded softly.
    land = (
        torch.sin(3 * lon + 1.3) * torch.cos(2 * lat)
        + 0.6 * torch.sin(5 * lon - 2 * lat + 0.7)
        + 0.4 * torch.cos(7 * lat + lon)
    )
    land = torch.sigmoid(6 * (land - 0.2))
    ocean = torch.stack([0.10 + 0.05 * torch.cos(lat), 0.30 + 0.1 * torch.cos(lat), 0.65 + 0.1 * torch.cos(lat)], -1)
    ground = torch.stack([0.25 + 0.35 * (1 - land), 0.55 - 0.15 * torch.abs(torch.sin(lat)), 0.20 + 0.05 * land], -1)
    img = land[..., None] * ground + (1 - land[..., None]) * ocean
    ice = torch.sigmoid(20 * (torch.abs(lat) - 1.2))[..., None]
    img = ice * 0.95 + (1 - ice) * img
    # A thin graticule every 30 degrees, so the mapping (and its seam) is visible.
    grid_lon = torch.cos(lon * 6).abs() > 0.995
    grid_lat = torch.cos(lat * 6).abs() > 0.995
    img[grid_lon | grid_lat] = torch.tensor([0.95, 0.85, 0.3], device=device)
    return img.clamp(0, 1)


def uv_sphere_with_uvs(n_lat: int = 24, n_lon: int = 48, device=None):
    """A unit sphere with per-corner UVs.

    Returns:
        verts (V, 3), faces (F, 3), verts_uvs (T, 2) in [0, 1], faces_uvs (F, 3): geometry vertices are shared,
        UV vertices are duplicated along the seam (u = 0 and u = 1) as an OBJ file would store them.
    """
    if n_lat < 2 or n_lon < 3:
        raise ValueError(f"uv sphere needs n_lat >= 2 and n_lon >= 3, got {n_lat}, {n_lon}")
    # Geometry: north pole, (n_lat - 1) rings of n_lon vertices, south pole.
    theta = torch.arange(1, n_lat, device=device) * (math.pi / n_lat)  # polar angle from +y
    phi = torch.arange(n_lon, device=device) * (2 * math.pi / n_lon)
    ring = torch.stack(
        [
            torch.sin(theta)[:, None] * torch.sin(phi)[None],
            torch.cos(theta)[:, None].expand(-1, n_lon),
            torch.sin(theta)[:, None] * torch.cos(phi)[None],
        ],
        -1,
    ).reshape(-1, 3)
    verts = torch.cat([torch.tensor([[0.0, 1.0, 0.0]], device=device), ring, torch.tensor([[0.0, -1.0, 0.0]], device=device)])
    south = verts.shape[0] - 1

    def g(r, c):  # ring r in [0, n_lat-2], column c (wrapped)
        return 1 + r * n_lon + c % n_lon

    # UVs: (n_lat + 1) rows of (n_lon + 1) columns; row 0 is v = 1 (north).
    uu = torch.arange(n_lon + 1, device=device) / n_lon
    vv = 1 - torch.arange(n_lat + 1, device=device) / n_lat
    verts_uvs = torch.stack([uu[None].expand(n_lat + 1, -1), vv[:, None].expand(-1, n_lon + 1)], -1).reshape(-1, 2)

    def t(r, c):  # UV row r in [0, n_lat], column c in [0, n_lon]
        return r * (n_lon + 1) + c

    faces, faces_uvs = [], []
    c = torch.arange(n_lon, device=device)
    # Counter-clockwise seen from outside (PyTorch3D's outward winding).
    faces.append(torch.stack([torch.zeros_like(c), g(0, c), g(0, c + 1)], 1))
    faces_uvs.append(torch.stack([t(0, c), t(1, c), t(1, c + 1)], 1))
    for r in range(n_lat - 2):
        faces.append(torch.stack([g(r, c), g(r + 1, c), g(r + 1, c + 1)], 1))
        faces_uvs.append(torch.stack([t(r + 1, c), t(r + 2, c), t(r + 2, c + 1)], 1))
        faces.append(torch.stack([g(r, c), g(r + 1, c + 1), g(r, c + 1)], 1))
        faces_uvs.append(torch.stack([t(r + 1, c), t(r + 2, c + 1), t(r + 1, c + 1)], 1))
    faces.append(torch.stack([torch.full_like(c, south), g(n_lat - 2, c + 1), g(n_lat - 2, c)], 1))
    faces_uvs.append(torch.stack([t(n_lat, c), t(n_lat - 1, c + 1), t(n_lat - 1, c)], 1))
    return verts, torch.cat(faces), verts_uvs, torch.cat(faces_uvs)


def textured_globe(n_lat: int = 24, n_lon: int = 48, texture_size: int = 256, device=None):
    """A ``Meshes`` of one UV sphere carrying ``TexturesUV`` with :func:`globe_texture`."""
    from inverse3d.renderer import TexturesUV
    from inverse3d.structures import Meshes

    verts, faces, verts_uvs, faces_uvs = uv_sphere_with_uvs(n_lat, n_lon, device)
    tex = TexturesUV(maps=globe_texture(texture_size, device)[None], faces_uvs=[faces_uvs], verts_uvs=[verts_uvs])
    return Meshes(verts=[verts], faces=[faces], textures=tex)
