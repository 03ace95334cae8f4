"""Ico-spheres: a regular icosahedron, subdivided and projected onto the unit sphere (PyTorch3D's ``ico_sphere``)."""

from __future__ import annotations

import math
import os

import torch

from inverse3d.structures import Meshes

# The 12 vertices of a regular icosahedron are the cyclic permutations of (+-1, +-phi, 0); listed in the order
# PyTorch3D uses, so vertex i of our level-0 sphere is vertex i of theirs.
_PHI = (1.0 + math.sqrt(5.0)) / 2.0
_ICO_VERTS = [
    [-1.0, _PHI, 0.0],
    [1.0, _PHI, 0.0],
    [-1.0, -_PHI, 0.0],
    [1.0, -_PHI, 0.0],
    [0.0, -1.0, _PHI],
    [0.0, 1.0, _PHI],
    [0.0, -1.0, -_PHI],
    [0.0, 1.0, -_PHI],
    [_PHI, 0.0, -1.0],
    [_PHI, 0.0, 1.0],
    [-_PHI, 0.0, -1.0],
    [-_PHI, 0.0, 1.0],
]
# Counter-clockwise seen from outside: (v1 - v0) x (v2 - v0) points away from the centre.
_ICO_FACES = [
    [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
    [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
    [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
    [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
]  # fmt: skip


def subdivide_faces(verts: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Splits every triangle into four by inserting the midpoint of each edge (loop-free, one mesh).

    Args:
        verts: (V, 3) float, vertex positions.
        faces: (F, 3) int64, counter-clockwise vertex indices.

    Returns:
        verts: (V + E, 3) float, the old vertices followed by one midpoint per unique edge (edges sorted by
            their (smaller, larger) vertex index pair, as PyTorch3D's ``edges_packed``).
        faces: (4F, 3) int64, the three corner triangles of every face then the middle ones, same winding.
    """
    num_verts = verts.shape[0]
    # (3F, 2) the edges (v1, v2), (v2, v0), (v0, v1), listed opposite to corner 0, 1, 2 of every face.
    edges = torch.cat([faces[:, [1, 2]], faces[:, [2, 0]], faces[:, [0, 1]]], dim=0)
    edges = edges.sort(dim=1).values
    keys = edges[:, 0] * num_verts + edges[:, 1]
    unique_keys, edge_idx = torch.unique(keys, return_inverse=True)  # (E,), (3F,)
    ends = torch.stack([unique_keys // num_verts, unique_keys % num_verts], dim=1)  # (E, 2)
    midpoints = 0.5 * (verts[ends[:, 0]] + verts[ends[:, 1]])  # (E, 3)
    # (F, 3): new vertex on the edge opposite corner 0, 1, 2 of each face.
    mid = edge_idx.view(3, -1).t() + num_verts
    v0, v1, v2 = faces.unbind(dim=1)
    m0, m1, m2 = mid.unbind(dim=1)  # m0 on (v1, v2), m1 on (v2, v0), m2 on (v0, v1)
    new_faces = torch.cat(
        [
            torch.stack([v0, m2, m1], dim=1),
            torch.stack([v1, m0, m2], dim=1),
            torch.stack([v2, m1, m0], dim=1),
            torch.stack([m0, m1, m2], dim=1),
        ],
        dim=0,
    )
    return torch.cat([verts, midpoints], dim=0), new_faces


# Peak bytes per face of the last level while building it (float64 vertices, int64 faces, the edge table and
# sort temporaries of the last subdivision, then the Meshes), measured (about 112 for the tensors) with margin.
_BYTES_PER_FACE = 160


def _free_memory_bytes(device: torch.device | str | None) -> int | None:
    """Memory available on ``device`` (the free GPU memory, or the machine's available RAM), None if unknown."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # noqa: BLE001 - no driver, or a device that cannot be asked
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(level: int, device: torch.device | str | None) -> None:
    """Refuses, before allocating anything, a level whose sphere would not fit in the memory available.

    Raises:
        ValueError: with the estimate (there is no fixed cap on the level; PyTorch3D has none either).
    """
    faces = 20 * 4**level
    need = _BYTES_PER_FACE * faces
    free = _free_memory_bytes(device)
    if free is not None and need > free:
        raise ValueError(
            f"ico_sphere: level {level} would make {faces:,} faces and {10 * 4**level + 2:,} vertices and need "
            f"about {need / 2**30:.1f} GiB while building them, but only {free / 2**30:.1f} GiB is available on "
            f"{torch.device('cpu' if device is None else device)}; use a lower level (each level takes 4x more)"
        )


def ico_sphere_verts_faces(
    level: int = 0, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The vertices (10 * 4**level + 2, 3) and faces (20 * 4**level, 3) of the unit ico-sphere, as tensors."""
    if isinstance(level, bool) or not isinstance(level, int) or level < 0:
        raise ValueError(f"ico_sphere: level must be an integer >= 0, got {level!r}")
    _check_memory(level, device)
    # Build in float64 so projecting many times keeps full accuracy, then cast once.
    verts = torch.tensor(_ICO_VERTS, dtype=torch.float64, device=device)
    verts = verts / verts.norm(dim=1, keepdim=True)
    faces = torch.tensor(_ICO_FACES, dtype=torch.int64, device=device)
    for _ in range(level):
        verts, faces = subdivide_faces(verts, faces)
        verts = verts / verts.norm(dim=1, keepdim=True)
    return verts.to(dtype), faces


def ico_sphere(level: int = 0, device: torch.device | str | None = None) -> Meshes:
    """A unit sphere made by subdividing a regular icosahedron ``level`` times (PyTorch3D's ``ico_sphere``).

    Level 0 is the icosahedron (12 vertices, 20 faces); each level splits every triangle into four and
    projects the new vertices onto the sphere, so level ``L`` has ``10 * 4**L + 2`` vertices and
    ``20 * 4**L`` faces (level 5: 10,242 / 20,480). Faces are counter-clockwise seen from outside, so
    their normals point outward.

    Args:
        level: number of subdivisions, >= 0; bounded only by memory (a level whose sphere would not fit in the
            memory available raises ValueError with the estimate; level 10 has about 21M faces).
        device: where the tensors live (default: the CPU).

    Returns:
        A ``Meshes`` batch of one mesh: verts (V, 3) float32 of unit norm, faces (F, 3) int64.
    """
    verts, faces = ico_sphere_verts_faces(level, device=device)
    return Meshes(verts=[verts], faces=[faces])
