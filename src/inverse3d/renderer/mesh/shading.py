"""Phong lighting of rasterised fragments: per pixel (Phong), per vertex (Gouraud) and per face (flat).

Each function returns per-fragment colours (N, H, W, K, C) that a blending function then composites.
Lighting is computed in world coordinates: points and normals come from ``meshes`` (world space) and the
viewer from ``cameras.get_camera_center()``.
"""

from __future__ import annotations

from typing import Any

import torch

from ..lighting import _expand_like
from .utils import interpolate_face_attributes


def _apply_lighting(
    points: torch.Tensor, normals: torch.Tensor, lights: Any, cameras: Any, materials: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ambient, diffuse and specular light reflected at each point.

    Args:
        points: (N, ..., 3) world positions; N is the batch size (1 or N lights, cameras and materials).
        normals: (N, ..., 3) world normals (need not be unit length).
        lights, cameras, materials: batches of 1 or N.
    Returns:
        ambient (N, 1, ..., 1, C), diffuse (N, ..., C) and specular (N, ..., C), each already multiplied by the
        material's reflectance.
    """
    if cameras is None:
        raise ValueError("Shading needs cameras (for the viewer position): pass cameras= to the shader or renderer")
    light_diffuse = lights.diffuse(normals=normals, points=points)
    light_specular = lights.specular(
        normals=normals,
        points=points,
        camera_position=cameras.get_camera_center(),
        shininess=materials.shininess,
    )
    ambient = _expand_like(materials.ambient_color * lights.ambient_color, points, 1)
    diffuse = _expand_like(materials.diffuse_color, points, 1) * light_diffuse
    specular = _expand_like(materials.specular_color, points, 1) * light_specular
    return ambient, diffuse, specular


def _faces_attr(values: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, D) per-vertex values -> (F, 3, D) per-face-corner values."""
    return values[faces]


def phong_shading(
    meshes: Any, fragments: Any, lights: Any, cameras: Any, materials: Any, texels: torch.Tensor
) -> torch.Tensor:
    """Per-pixel lighting: positions and vertex normals are interpolated at each fragment, then lit.

    Args:
        meshes: Meshes (world coordinates) that produced ``fragments``.
        fragments: rasteriser output; uses ``pix_to_face`` (N, H, W, K) and ``bary_coords`` (N, H, W, K, 3).
        lights, cameras, materials: batches of 1 or N.
        texels: (N, H, W, K, C) surface colour of each fragment (from the textures).
    Returns:
        (N, H, W, K, C) colours ``(ambient + diffuse) * texels + specular``.
    """
    verts = meshes.verts_packed()  # (V, 3)
    faces = meshes.faces_packed()  # (F, 3)
    normals = meshes.verts_normals_packed()  # (V, 3)
    pixel_coords = interpolate_face_attributes(fragments.pix_to_face, fragments.bary_coords, verts[faces])
    pixel_normals = interpolate_face_attributes(fragments.pix_to_face, fragments.bary_coords, normals[faces])
    ambient, diffuse, specular = _apply_lighting(pixel_coords, pixel_normals, lights, cameras, materials)
    return (ambient + diffuse) * texels + specular


def gouraud_shading(meshes: Any, fragments: Any, lights: Any, cameras: Any, materials: Any) -> torch.Tensor:
    """Per-vertex lighting: each vertex colour (``TexturesVertex``) is lit, then interpolated at each fragment.

    Args:
        meshes: Meshes with ``TexturesVertex`` textures (world coordinates).
        fragments: rasteriser output; uses ``pix_to_face`` and ``bary_coords``.
        lights, cameras, materials: batches of 1 or N.
    Returns:
        (N, H, W, K, C) colours.
    """
    from .textures import TexturesVertex

    if not isinstance(meshes.textures, TexturesVertex):
        raise ValueError("Gouraud shading needs the meshes' textures to be a TexturesVertex")
    faces = meshes.faces_packed()  # (F, 3)
    # Light the vertices batched as (N, V_max, 3) so every mesh uses its own light / camera / material.
    verts = meshes.verts_padded()  # (N, Vmax, 3)
    normals = meshes.verts_normals_padded()  # (N, Vmax, 3)
    ambient, diffuse, specular = _apply_lighting(verts, normals, lights, cameras, materials)
    to_packed = meshes.verts_padded_to_packed_idx()  # (V,) index into the flattened (N * Vmax)
    colors = meshes.textures.verts_features_packed()  # (V, C)
    C = colors.shape[-1]
    ambient = ambient.expand(*verts.shape[:2], C).reshape(-1, C)[to_packed]  # (V, C)
    diffuse = diffuse.reshape(-1, C)[to_packed]
    specular = specular.reshape(-1, C)[to_packed]
    shaded = colors * (ambient + diffuse) + specular  # (V, C)
    return interpolate_face_attributes(fragments.pix_to_face, fragments.bary_coords, _faces_attr(shaded, faces))


def flat_shading(
    meshes: Any, fragments: Any, lights: Any, cameras: Any, materials: Any, texels: torch.Tensor
) -> torch.Tensor:
    """Per-face lighting: each face is lit at its centroid with its face normal.

    Args:
        meshes: Meshes (world coordinates) that produced ``fragments``.
        fragments: rasteriser output; uses ``pix_to_face`` (N, H, W, K).
        lights, cameras, materials: batches of 1 or N.
        texels: (N, H, W, K, C) surface colour of each fragment.
    Returns:
        (N, H, W, K, C) colours ``(ambient + diffuse) * texels + specular``.
    """
    verts = meshes.verts_packed()  # (V, 3)
    faces = meshes.faces_packed()  # (F, 3)
    centroids = verts[faces].mean(dim=1)  # (F, 3)
    face_normals = meshes.faces_normals_packed()  # (F, 3)
    mask = fragments.pix_to_face >= 0  # (N, H, W, K)
    idx = fragments.pix_to_face.clamp(min=0)
    if faces.shape[0] == 0:
        pixel_coords = verts.new_zeros((*idx.shape, 3))
        pixel_normals = verts.new_zeros((*idx.shape, 3))
    else:
        pixel_coords = torch.where(mask[..., None], centroids[idx], 0.0)  # (N, H, W, K, 3)
        pixel_normals = torch.where(mask[..., None], face_normals[idx], 0.0)
    ambient, diffuse, specular = _apply_lighting(pixel_coords, pixel_normals, lights, cameras, materials)
    return (ambient + diffuse) * texels + specular
