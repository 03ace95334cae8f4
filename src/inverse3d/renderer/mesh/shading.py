"""Phong lighting of rasterised fragments: per pixel (Phong), per vertex (Gouraud) and per face (flat).

Each function returns per-fragment colours (N, H, W, K, C) that a blending function then composites.
Lighting is computed in world coordinates: points and normals come from ``meshes`` (world space) and the
viewer from ``cameras.get_camera_center()``.

Internally the per-fragment values are laid out channels first, (C, N, R) with R = H * W * K (see
``lighting._cf``): on the CPU that makes every step an operation on contiguous rows.
"""

from __future__ import annotations

from typing import Any

import torch

from ..lighting import _batch_cf, _cf, _from_cf


def _interpolate_cf(pix_to_face: torch.Tensor, bary: torch.Tensor, corner_attrs: torch.Tensor) -> torch.Tensor:
    """Barycentric interpolation, channels first.

    Args:
        pix_to_face: (N, H, W, K) long, -1 where empty.
        bary: (N, H, W, K, 3) barycentric coordinates.
        corner_attrs: (3, D, F): attribute d at corner j of face f.
    Returns:
        (D, N, R) interpolated values, 0 at empty fragments (R = H * W * K).
    """
    N = pix_to_face.shape[0]
    D, F = corner_attrs.shape[1], corner_attrs.shape[2]
    if F == 0:
        return bary.new_zeros((D, N, pix_to_face[0].numel()))
    idx = pix_to_face.reshape(-1).clamp(min=0)  # (P,)
    corners = corner_attrs.reshape(3 * D, F).index_select(1, idx).view(3, D, -1)  # (3, D, P)
    b0, b1, b2 = bary.reshape(-1, 3).t().contiguous().unbind(0)  # 3 x (P,)
    c0, c1, c2 = corners.unbind(0)  # 3 x (D, P)
    vals = torch.addcmul(torch.addcmul(c0 * b0, c1, b1), c2, b2)  # (D, P)
    vals = vals * (pix_to_face.reshape(-1) >= 0)
    return vals.view(D, N, -1)


def _corners(values: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, D) per-vertex values -> (3, D, F) values at the three corners of every face."""
    D, F = values.shape[1], faces.shape[0]
    return values.t().index_select(1, faces.t().reshape(-1)).view(D, 3, F).permute(1, 0, 2)


def _apply_lighting_cf(
    points: torch.Tensor, normals: torch.Tensor, lights: Any, cameras: Any, materials: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ambient, diffuse and specular light reflected at each point, channels first.

    Args:
        points, normals: (3, N, R) world positions and normals of the N batch elements' points.
        lights, cameras, materials: batches of 1 or N. Lights without the channels-first methods of the built-in
            ones are called through their public ``diffuse`` / ``specular`` methods.
    Returns:
        ambient (C, N|1, 1), diffuse (C, N, R), specular (C, N, R), each times the material's reflectance.
    """
    if cameras is None:
        raise ValueError("Shading needs cameras (for the viewer position): pass cameras= to the shader or renderer")
    like = points[0].detach()
    camera = _batch_cf(cameras.get_camera_center(), like)  # (3, N|1, 1)
    shininess = _batch_cf(materials.shininess, like)  # (1, N|1, 1)
    if hasattr(lights, "_cf_diffuse") and hasattr(lights, "_cf_specular"):
        light_diffuse = lights._cf_diffuse(normals, points)
        light_specular = lights._cf_specular(normals, points, camera, shininess)
    else:  # any object with PyTorch3D's light interface
        pts, nrm = points.permute(1, 2, 0), normals.permute(1, 2, 0)  # (N, R, 3)
        light_diffuse = _cf(lights.diffuse(normals=nrm, points=pts))
        light_specular = _cf(
            lights.specular(
                normals=nrm, points=pts, camera_position=cameras.get_camera_center(), shininess=materials.shininess
            )
        )
    ambient = _batch_cf(materials.ambient_color, like) * _batch_cf(lights.ambient_color, like)
    diffuse = _batch_cf(materials.diffuse_color, like) * light_diffuse
    specular = _batch_cf(materials.specular_color, like) * light_specular
    return ambient, diffuse, specular


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
    return _phong(meshes, fragments, lights, cameras, materials, texels, None)


def phong_shading_vertex_colors(meshes: Any, fragments: Any, lights: Any, cameras: Any, materials: Any):
    """:func:`phong_shading` of meshes whose textures are per-vertex colours (``TexturesVertex``), with the
    colours interpolated together with positions and normals (one gather instead of two).

    Returns:
        (N, H, W, K, C) colours, equal to ``phong_shading(..., texels=meshes.sample_textures(fragments))``; None
        when the textures are not plain ``TexturesVertex`` matching the vertices, or when gradients are being
        recorded (use phong_shading then).
    """
    from .textures import TexturesVertex

    textures = getattr(meshes, "textures", None)
    if type(textures) is not TexturesVertex:
        return None
    colors = textures.verts_features_packed()  # (V, C)
    verts = meshes.verts_packed()
    if colors.shape[0] != verts.shape[0] or colors.dtype != verts.dtype or colors.device != verts.device:
        return None
    if fragments.bary_coords.dtype != verts.dtype:
        return None
    if torch.is_grad_enabled() and any(t.requires_grad for t in (verts, colors, fragments.bary_coords)):
        return None  # keep the gradients' summation order (and so their values) those of phong_shading
    return _phong(meshes, fragments, lights, cameras, materials, None, colors)


def _phong(meshes: Any, fragments: Any, lights: Any, cameras: Any, materials: Any, texels: Any, colors: Any):
    """Phong shading with the texels given per fragment (texels (N, H, W, K, C)) or per vertex (colors (V, C))."""
    verts = meshes.verts_packed()  # (V, 3)
    faces = meshes.faces_packed()  # (F, 3)
    normals = meshes.verts_normals_packed()  # (V, 3)
    per_vertex = [verts, normals.to(verts.dtype)] + ([] if colors is None else [colors])
    attrs = _corners(torch.cat(per_vertex, dim=1), faces)  # (3, 6 [+ C], F)
    vals = _interpolate_cf(fragments.pix_to_face, fragments.bary_coords, attrs)  # (6 [+ C], N, R)
    points, pixel_normals = vals[0:3], vals[3:6]
    if colors is None:
        texels_cf, shape = _cf(texels), tuple(texels.shape)
    else:
        texels_cf, shape = vals[6:], (*fragments.pix_to_face.shape, colors.shape[1])
    ambient, diffuse, specular = _apply_lighting_cf(points, pixel_normals, lights, cameras, materials)
    colors_cf = torch.addcmul(specular, ambient + diffuse, texels_cf)  # (C, N, R)
    return _from_cf(colors_cf, shape)


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
        raise ValueError("Mesh textures must be an instance of TexturesVertex (Gouraud shading lights the vertex "
                         "colours)")
    faces = meshes.faces_packed()  # (F, 3)
    # Light the vertices batched as (3, N, V_max) so every mesh uses its own light / camera / material.
    verts = _cf(meshes.verts_padded())  # (3, N, Vmax)
    normals = _cf(meshes.verts_normals_padded().to(verts.dtype))
    ambient, diffuse, specular = _apply_lighting_cf(verts, normals, lights, cameras, materials)
    to_packed = meshes.verts_padded_to_packed_idx()  # (V,) index into the flattened (N * Vmax)
    colors = meshes.textures.verts_features_packed().t()  # (C, V)
    C = colors.shape[0]
    light = (ambient + diffuse).expand(C, *verts.shape[1:]).reshape(C, -1).index_select(1, to_packed)  # (C, V)
    shaded = torch.addcmul(specular.reshape(C, -1).index_select(1, to_packed), colors, light)  # (C, V)
    vals = _interpolate_cf(fragments.pix_to_face, fragments.bary_coords, _corners(shaded.t(), faces))  # (C, N, R)
    return _from_cf(vals, (*fragments.pix_to_face.shape, C))


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
    face_normals = meshes.faces_normals_packed().to(verts.dtype)  # (F, 3)
    p2f = fragments.pix_to_face
    N = p2f.shape[0]
    if faces.shape[0] == 0:
        vals = verts.new_zeros((6, N, p2f[0].numel()))
    else:
        per_face = torch.cat([centroids, face_normals], dim=1).t()  # (6, F)
        vals = per_face.index_select(1, p2f.reshape(-1).clamp(min=0)) * (p2f.reshape(-1) >= 0)  # (6, P)
        vals = vals.view(6, N, -1)
    points, pixel_normals = vals.split(3, dim=0)
    ambient, diffuse, specular = _apply_lighting_cf(points, pixel_normals, lights, cameras, materials)
    colors = torch.addcmul(specular, ambient + diffuse, _cf(texels))
    return _from_cf(colors, tuple(texels.shape))
