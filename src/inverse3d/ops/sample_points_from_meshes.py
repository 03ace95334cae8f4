"""Uniform random points on the surface of each mesh of a batch (PyTorch3D semantics).

A face is drawn with probability proportional to its area (``torch.multinomial``, one batched call), then a
point inside it with uniform barycentric coordinates ``(1 - sqrt(u), sqrt(u) (1 - v), sqrt(u) v)``. The points
are differentiable with respect to the vertices (the face choice and barycentrics are constants).
"""

from __future__ import annotations

import torch


def sample_points_from_meshes(
    meshes,
    num_samples: int = 10000,
    return_normals: bool = False,
    return_textures: bool = False,
):
    """Samples points uniformly by area on each mesh of a batch.

    Args:
        meshes: a ``Meshes`` batch of N meshes; meshes without faces yield zeros.
        num_samples: points per mesh, S.
        return_normals: also return the unit normal of the face each point lies on.
        return_textures: also return the texture value at each point (``meshes.textures`` is sampled
            through a (N, S, 1, 1) fragments view, as the shaders do).

    Returns:
        samples: (N, S, 3) float, points on the surfaces (verts' dtype and device);
        normals: (N, S, 3) float unit normals ``(v1 - v0) x (v2 - v1)``, if return_normals;
        textures: (N, S, C) float, if return_textures.
        Returned as ``samples``, ``(samples, normals)``, ``(samples, textures)`` or
        ``(samples, normals, textures)``.

    Raises:
        ValueError: all meshes are empty, a vertex is NaN or infinite, textures are requested but absent,
            or num_samples is not a positive int.
    """
    if meshes.isempty():
        raise ValueError("Meshes are empty.")
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int; got {num_samples!r}")
    verts = meshes.verts_packed()  # (V, 3)
    if not torch.isfinite(verts).all():
        raise ValueError("Meshes contain nan or inf.")
    if return_textures and meshes.textures is None:
        raise ValueError("Meshes do not contain textures.")
    faces = meshes.faces_packed()  # (F, 3)
    N = len(meshes)
    valid = meshes.valid  # (N,) bool, mesh has faces
    num_valid = int(valid.sum())
    face_first = meshes.mesh_to_faces_packed_first_idx()[valid]  # (Nv,)
    num_faces = meshes.num_faces_per_mesh()[valid]  # (Nv,)

    face_verts = verts[faces]  # (F, 3 corners, 3)
    v0, v1, v2 = face_verts.unbind(1)
    with torch.no_grad():
        areas = 0.5 * torch.linalg.cross(v1 - v0, v2 - v0, dim=1).norm(dim=1)  # (F,)
        max_faces = int(num_faces.max())
        slot = torch.arange(max_faces, device=verts.device)
        in_mesh = slot[None] < num_faces[:, None]  # (Nv, Fmax)
        face_idx = (face_first[:, None] + slot[None]).clamp(max=max(faces.shape[0] - 1, 0))
        weights = torch.where(in_mesh, areas[face_idx], torch.zeros((), dtype=areas.dtype, device=areas.device))
        # a mesh whose faces all have zero area: every face equally likely (the points are still on it)
        flat = weights.sum(1) <= 0
        weights = torch.where(flat[:, None] & in_mesh, torch.ones_like(weights), weights)
        sample_face = weights.multinomial(num_samples, replacement=True) + face_first[:, None]  # (Nv, S)

    w0, w1, w2 = _rand_barycentric_coords(num_valid, num_samples, verts.dtype, verts.device)  # (Nv, S) each
    points = w0[..., None] * v0[sample_face] + w1[..., None] * v1[sample_face] + w2[..., None] * v2[sample_face]
    samples = verts.new_zeros(N, num_samples, 3)
    samples[valid] = points

    outputs = [samples]
    if return_normals:
        face_normals = torch.linalg.cross(v1 - v0, v2 - v1, dim=1)
        face_normals = face_normals / face_normals.norm(dim=1, keepdim=True).clamp(min=torch.finfo(verts.dtype).eps)
        normals = verts.new_zeros(N, num_samples, 3)
        normals[valid] = face_normals[sample_face]
        outputs.append(normals)
    if return_textures:
        outputs.append(_sample_textures(meshes, valid, sample_face, torch.stack([w0, w1, w2], -1)))
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _rand_barycentric_coords(size1: int, size2: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, ...]:
    """Uniform barycentric coordinates on a triangle: three (size1, size2) tensors summing to 1."""
    uv = torch.rand(2, size1, size2, dtype=dtype, device=device)
    u_sqrt = uv[0].sqrt()
    return 1.0 - u_sqrt, u_sqrt * (1.0 - uv[1]), u_sqrt * uv[1]


def _sample_textures(meshes, valid: torch.Tensor, sample_face: torch.Tensor, bary: torch.Tensor) -> torch.Tensor:
    """Texture values at the samples: a fragments view with H = S, W = K = 1 -> (N, S, C)."""
    from inverse3d.renderer.mesh.rasterizer import Fragments

    N = len(meshes)
    S = sample_face.shape[1]
    pix_to_face = torch.full((N, S), -1, dtype=torch.int64, device=sample_face.device)
    pix_to_face[valid] = sample_face
    bary_full = bary.new_zeros(N, S, 3)
    bary_full[valid] = bary
    dummy = bary.new_zeros(N, S, 1, 1)  # zbuf and dists are not read by the textures
    fragments = Fragments(
        pix_to_face=pix_to_face.view(N, S, 1, 1),
        zbuf=dummy,
        bary_coords=bary_full.view(N, S, 1, 1, 3),
        dists=dummy,
    )
    return meshes.sample_textures(fragments)[:, :, 0, 0, :]
