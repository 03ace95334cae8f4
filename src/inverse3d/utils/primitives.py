"""Primitive meshes: cube, tetrahedron, torus, UV sphere, plane.

Every primitive is centred at the origin and returned as a ``Meshes`` batch of one mesh with float32
vertices and int64 faces, counter-clockwise seen from outside (face normals point outward). The closed
ones (all but the plane) are watertight: every edge is shared by exactly two faces.
"""

from __future__ import annotations

import math

import torch

from inverse3d.structures import Meshes

_Device = torch.device | str | None


def _mesh(verts: torch.Tensor, faces: torch.Tensor) -> Meshes:
    return Meshes(verts=[verts.to(torch.float32)], faces=[faces.to(torch.int64)])


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _grid_quads(rows: int, cols: int, device: _Device, wrap_rows: bool, wrap_cols: bool) -> torch.Tensor:
    """Two triangles per quad of a rows x cols vertex lattice (vertex id = row * cols + col).

    Quad (i, j) uses rows (i, i+1) and cols (j, j+1), wrapping around where asked. Its triangles are
    (i j, i+1 j, i+1 j+1) and (i+1 j+1, i j+1, i j): counter-clockwise when the surface normal is
    d(position)/d(row) x d(position)/d(col).

    Returns:
        (2 * quads, 3) int64 faces, the two triangles of each quad next to each other, quads row-major.
    """
    n_i = rows if wrap_rows else rows - 1
    n_j = cols if wrap_cols else cols - 1
    i = torch.arange(n_i, device=device)[:, None]
    j = torch.arange(n_j, device=device)[None, :]
    i1, j1 = (i + 1) % rows, (j + 1) % cols
    v00, v10, v11, v01 = i * cols + j, i1 * cols + j, i1 * cols + j1, i * cols + j1  # (n_i, n_j) each
    tri_a = torch.stack([v00, v10, v11], dim=-1)
    tri_b = torch.stack([v11, v01, v00], dim=-1)
    return torch.stack([tri_a, tri_b], dim=2).reshape(-1, 3)


def cube(size: float = 1.0, device: _Device = None) -> Meshes:
    """An axis-aligned cube of side ``size`` centred at the origin: 8 vertices, 12 faces.

    Vertex ``k`` sits at ``size * (bit0(k), bit1(k), bit2(k)) - size / 2`` with bit0 the x, bit1 the y, bit2 the z
    offset (vertex 0 at ``(-s/2, -s/2, -s/2)``, vertex 7 at ``(s/2, s/2, s/2)``).
    """
    _check_positive("cube: size", size)
    k = torch.arange(8, device=device)
    verts = torch.stack([k & 1, (k >> 1) & 1, (k >> 2) & 1], dim=1).to(torch.float32) * size - size / 2
    faces = torch.tensor(
        [
            [0, 4, 6], [0, 6, 2],  # x = -s/2
            [1, 3, 7], [1, 7, 5],  # x = +s/2
            [0, 1, 5], [0, 5, 4],  # y = -s/2
            [2, 6, 7], [2, 7, 3],  # y = +s/2
            [0, 2, 3], [0, 3, 1],  # z = -s/2
            [4, 5, 7], [4, 7, 6],  # z = +s/2
        ],
        device=device,
    )  # fmt: skip
    return _mesh(verts, faces)


def tetrahedron(radius: float = 1.0, device: _Device = None) -> Meshes:
    """A regular tetrahedron with its 4 vertices on the sphere of ``radius`` around the origin; 4 faces.

    The vertices are alternate corners of a cube: ``(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)``,
    scaled to ``radius``.
    """
    _check_positive("tetrahedron: radius", radius)
    verts = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float32, device=device)
    verts = verts * (radius / math.sqrt(3.0))
    faces = torch.tensor([[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]], device=device)
    return _mesh(verts, faces)


def torus(r: float = 0.25, R: float = 0.75, sides: int = 16, rings: int = 32, device: _Device = None) -> Meshes:
    """A torus around the z axis (PyTorch3D's ``torus``, same vertex order and faces).

    Vertex ``i * sides + j`` sits at ``((R + r cos t) cos p, (R + r cos t) sin p, r sin t)`` with
    ``p = 2 pi i / rings`` around the z axis and ``t = 2 pi j / sides`` around the tube.

    Args:
        r: radius of the tube.
        R: distance from the centre to the middle of the tube (``R > r`` for a ring with a hole).
        sides: vertices around the tube (>= 3).
        rings: vertices around the z axis (>= 3).

    Returns:
        ``Meshes`` with ``sides * rings`` vertices and ``2 * sides * rings`` faces.
    """
    _check_positive("torus: r", r)
    _check_positive("torus: R", R)
    _check_count("torus: sides", sides, 3)
    _check_count("torus: rings", rings, 3)
    p = 2 * math.pi * torch.arange(rings, dtype=torch.float64, device=device) / rings
    t = 2 * math.pi * torch.arange(sides, dtype=torch.float64, device=device) / sides
    p, t = torch.meshgrid(p, t, indexing="ij")  # (rings, sides)
    ring_radius = R + r * torch.cos(t)
    verts = torch.stack([ring_radius * torch.cos(p), ring_radius * torch.sin(p), r * torch.sin(t)], dim=-1)
    faces = _grid_quads(rings, sides, device, wrap_rows=True, wrap_cols=True)
    return _mesh(verts.reshape(-1, 3), faces)


def uv_sphere(n_lat: int = 16, n_lon: int = 32, radius: float = 1.0, device: _Device = None) -> Meshes:
    """A latitude-longitude sphere around the y axis (the "up" axis), with one vertex at each pole.

    Vertex 0 is the north pole ``(0, radius, 0)``, then ``n_lat - 1`` rings of ``n_lon`` vertices from north to
    south (ring ``i`` at polar angle ``pi i / n_lat``, vertex ``j`` at azimuth ``2 pi j / n_lon``, measured from
    +z towards +x), then the south pole.

    Args:
        n_lat: bands from pole to pole (>= 2).
        n_lon: vertices around each ring (>= 3).
        radius: sphere radius.

    Returns:
        ``Meshes`` with ``(n_lat - 1) * n_lon + 2`` vertices and ``2 * (n_lat - 1) * n_lon`` faces.
    """
    _check_count("uv_sphere: n_lat", n_lat, 2)
    _check_count("uv_sphere: n_lon", n_lon, 3)
    _check_positive("uv_sphere: radius", radius)
    polar = math.pi * torch.arange(1, n_lat, dtype=torch.float64, device=device) / n_lat  # (n_lat - 1,)
    azim = 2 * math.pi * torch.arange(n_lon, dtype=torch.float64, device=device) / n_lon  # (n_lon,)
    polar, azim = torch.meshgrid(polar, azim, indexing="ij")
    ring = torch.stack(
        [torch.sin(polar) * torch.sin(azim), torch.cos(polar), torch.sin(polar) * torch.cos(azim)], dim=-1
    ).reshape(-1, 3)
    poles = torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]], dtype=torch.float64, device=device)
    verts = torch.cat([poles[:1], ring, poles[1:]], dim=0) * radius
    # Bands between rings: d/d(ring index) points south, d/d(azimuth) points east; south x east = outward.
    bands = _grid_quads(n_lat - 1, n_lon, device, wrap_rows=False, wrap_cols=True) + 1
    j = torch.arange(n_lon, device=device)
    j1 = (j + 1) % n_lon
    north = torch.stack([torch.zeros_like(j), 1 + j, 1 + j1], dim=1)
    last = 1 + (n_lat - 2) * n_lon
    south_pole = last + n_lon
    south = torch.stack([torch.full_like(j, south_pole), last + j1, last + j], dim=1)
    return _mesh(verts, torch.cat([north, bands, south], dim=0))


_NORMALS = {"+x": (0, 1, 2), "-x": (0, 2, 1), "+y": (1, 2, 0), "-y": (1, 0, 2), "+z": (2, 0, 1), "-z": (2, 1, 0)}


def plane(size: float = 1.0, segments: int = 1, normal: str = "+z", device: _Device = None) -> Meshes:
    """A square of side ``size`` centred at the origin, split into ``segments x segments`` quads (open surface).

    Args:
        size: side length.
        segments: quads along each side (>= 1); ``(segments + 1)**2`` vertices, ``2 * segments**2`` faces.
        normal: the side the faces look to: ``"+z"`` (facing a camera on the +z axis, the default of
            ``look_at_view_transform``), ``"+y"`` (a floor), ``"-x"`` ...

    Returns:
        ``Meshes`` of one flat mesh through the origin, perpendicular to the ``normal`` axis.
    """
    _check_positive("plane: size", size)
    _check_count("plane: segments", segments, 1)
    if normal not in _NORMALS:
        raise ValueError(f"plane: normal must be one of {sorted(_NORMALS)}, got {normal!r}")
    axis, first, second = _NORMALS[normal]  # first x second = +axis for "+", -axis for "-"
    s = torch.linspace(-size / 2, size / 2, segments + 1, dtype=torch.float64, device=device)
    a, b = torch.meshgrid(s, s, indexing="ij")  # a along `first` (rows), b along `second` (cols)
    verts = torch.zeros(segments + 1, segments + 1, 3, dtype=torch.float64, device=device)
    verts[..., first] = a
    verts[..., second] = b
    faces = _grid_quads(segments + 1, segments + 1, device, wrap_rows=False, wrap_cols=False)
    return _mesh(verts.reshape(-1, 3), faces)
