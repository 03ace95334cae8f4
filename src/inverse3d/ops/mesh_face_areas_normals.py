"""Areas and unit normals of the faces of a packed triangle mesh (PyTorch3D's ``mesh_face_areas_normals``)."""

from __future__ import annotations

import torch

__all__ = ["mesh_face_areas_normals"]

# Below this length of (v1 - v0) x (v2 - v0) the normal is divided by it instead (PyTorch3D: 1e-6).
_MIN_CROSS = 1e-6


def mesh_face_areas_normals(verts: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Area and normal of every face, differentiable with respect to ``verts``.

    Args:
        verts: (V, 3) float, packed vertices.
        faces: (F, 3) int64, packed faces indexing ``verts``.

    Returns:
        areas: (F,) ``|c| / 2`` with ``c = (v1 - v0) x (v2 - v0)``.
        normals: (F, 3) ``c / max(|c|, 1e-6)``: unit length, counter-clockwise faces point towards the viewer;
            zero for a degenerate face.
    """
    if not torch.is_tensor(verts) or verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError("verts need to be of shape Vx3.")
    if not torch.is_tensor(faces) or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError("faces need to be of shape Fx3.")
    if faces.dtype != torch.int64:
        raise ValueError("faces need to be of type torch.int64.")
    if not verts.is_floating_point():
        raise ValueError(f"verts must be floating point, got {verts.dtype}")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= verts.shape[0]):
        raise ValueError(f"faces index vertices outside [0, {verts.shape[0]})")
    tri = verts[faces]  # (F, 3 corners, 3)
    cross = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)  # (F, 3)
    length = torch.linalg.vector_norm(cross, dim=1)  # (F,), gradient 0 at 0
    return 0.5 * length, cross / length.clamp_min(_MIN_CROSS)[:, None]
