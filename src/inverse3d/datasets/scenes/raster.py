"""The rasterised end of the photorealism spectrum: a ``SceneSpec`` drawn by our mesh rasteriser with Phong shading.

``render_rasterized(spec, c2w, camera_angle_x, image_size)`` returns, for each OpenGL camera-to-world matrix,

- ``rgba`` (N, H, W, 4): colour and coverage alpha, anti-aliased by rendering ``supersample`` times larger and
  averaging blocks. With a transparent background (``spec.background is None``) the colour is the mean over the
  covered sub-pixels (straight, not premultiplied, alpha, as NeRF-synthetic's PNGs), 0 where nothing is; with a
  background colour it is composited over it and alpha is 1 everywhere;
- ``depth`` (N, H, W): view-space depth (distance along the optical axis, the rasteriser's ``zbuf``) of the nearest
  covered sub-pixel, 0 where the pixel is empty;
- ``normals`` (N, H, W, 3): world-space unit normals of the visible surface (turned towards the camera), the mean
  over the covered sub-pixels, 0 where empty.

Shading, per pixel, in world space: ``albedo * (ambient + k_d * sum_l diffuse_l) + k_s * tint * sum_l specular_l``
over the point lights (no shadows), with ``k_s = material.specular`` and the Phong exponent ``material.shininess`` of
the part under the pixel (so a glossy part's highlight moves with the viewpoint), ``k_d = 1`` and a white ``tint``
for diffuse and glossy parts, ``k_d = METAL_DIFFUSE`` and ``tint = albedo`` for metals, which also mirror a sky
dome (``albedo`` times a radiance rising from ``ENV_DARK`` straight down to ``ENV_BRIGHT`` straight up, looked up in
the direction of the mirrored view ray: view-dependent too). Albedo is the part's texture
(bilinear in its UVs) or its interpolated vertex colours. The lighting terms are ``inverse3d.renderer``'s ``diffuse``
and ``specular``; cameras come from ``conventions.cameras_from_c2w``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from inverse3d.datasets.scenes.spec import SceneSpec

METAL_DIFFUSE = 0.25
ENV_DARK, ENV_BRIGHT = 0.05, 0.6  # the sky dome metals mirror: radiance straight down / straight up
Z_CLIP = 0.05  # faces are clipped this close in front of the camera (the forward scene's ground passes under it)
PIXELS_PER_BATCH = 1 << 20  # sub-pixels rasterised together: bounds the memory of a batch of views


class RasterViews(NamedTuple):
    """What ``render_rasterized`` returns (module docstring): rgba (N, H, W, 4), depth (N, H, W), normals
    (N, H, W, 3), float32 tensors on the rendering device."""

    rgba: torch.Tensor
    depth: torch.Tensor
    normals: torch.Tensor


class JoinedParts(NamedTuple):
    """All parts of a scene as one mesh.

    verts (V, 3) float32, faces (F, 3) int64, colors (V, 3) float32, uvs (V, 2) float32 (0 for untextured parts),
    face_part (F,) int64 index into ``spec.parts`` of each face.
    """

    verts: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    uvs: np.ndarray
    face_part: np.ndarray


def join_parts(spec: SceneSpec) -> JoinedParts:
    """One mesh of all of ``spec``'s parts (world coordinates), with the part each face comes from."""
    if not spec.parts:
        raise ValueError(f"scene {spec.name!r} has no parts")
    verts, faces, colors, uvs, owner, offset = [], [], [], [], [], 0
    for k, p in enumerate(spec.parts):
        v = np.asarray(p.verts, dtype=np.float32)
        f = np.asarray(p.faces, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"scene {spec.name!r} part {p.name!r}: verts must be (V, 3) and faces (F, 3)")
        if len(f) and (f.min() < 0 or f.max() >= len(v)):
            raise ValueError(f"scene {spec.name!r} part {p.name!r}: face index out of range")
        verts.append(v)
        faces.append(f + offset)
        colors.append(np.asarray(p.colors, dtype=np.float32).reshape(len(v), 3))
        uvs.append(np.zeros((len(v), 2), np.float32) if p.uvs is None else np.asarray(p.uvs, np.float32))
        owner.append(np.full(len(f), k, dtype=np.int64))
        offset += len(v)
    return JoinedParts(np.concatenate(verts), np.concatenate(faces), np.concatenate(colors), np.concatenate(uvs),
                       np.concatenate(owner))


def _check_views(c2w: Any, camera_angle_x: float, image_size: int) -> torch.Tensor:
    import math

    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive int; got {image_size!r}")
    if not (isinstance(camera_angle_x, (int, float)) and 0.0 < camera_angle_x < math.pi):
        raise ValueError(f"camera_angle_x must be in (0, pi) radians; got {camera_angle_x!r}")
    m = torch.as_tensor(np.asarray(c2w.detach().cpu() if torch.is_tensor(c2w) else c2w, dtype=np.float64))
    if m.dim() != 3 or m.shape[1:] != (4, 4):
        raise ValueError(f"c2w must have shape (N, 4, 4); got {tuple(m.shape)}")
    return m


def render_rasterized(
    spec: SceneSpec,
    c2w: Any,
    camera_angle_x: float,
    image_size: int,
    supersample: int = 2,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> RasterViews:
    """Renders ``spec`` from each camera with our rasteriser and Phong shading (module docstring).

    Args:
        spec: the scene.
        c2w: (N, 4, 4) OpenGL camera-to-world matrices (tensor or array).
        camera_angle_x: horizontal field of view in radians (square images: the vertical one too).
        image_size: H = W in pixels.
        supersample: sub-pixels per pixel along each side (anti-aliasing); 1 renders pixel centres only.
        device: where to rasterise and shade.
        progress: show a tqdm bar over batches of views.

    Returns:
        RasterViews(rgba (N, H, W, 4), depth (N, H, W), normals (N, H, W, 3)), float32 on ``device``.
    """
    from tqdm.auto import tqdm

    m = _check_views(c2w, camera_angle_x, image_size)
    if isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or supersample < 1:
        raise ValueError(f"supersample must be a positive int; got {supersample!r}")
    device = torch.device(device)
    scene = _SceneTensors(spec, device)
    S = int(image_size) * int(supersample)
    batch = max(1, PIXELS_PER_BATCH // (S * S))
    n = m.shape[0]
    outs = []
    for start in tqdm(range(0, n, batch), desc=f"rasterising {spec.name}", unit="batch",
                      disable=not progress or n == 0):
        outs.append(_render_batch(scene, m[start:start + batch], camera_angle_x, int(image_size), int(supersample)))
    if not outs:
        H = int(image_size)
        return RasterViews(torch.zeros(0, H, H, 4, device=device), torch.zeros(0, H, H, device=device),
                           torch.zeros(0, H, H, 3, device=device))
    return RasterViews(*(torch.cat(parts) for parts in zip(*outs)))


class _SceneTensors:
    """The scene's joined mesh, vertex normals, materials and textures as tensors on one device."""

    def __init__(self, spec: SceneSpec, device: torch.device) -> None:
        from inverse3d.structures import Meshes

        joined = join_parts(spec)
        self.spec = spec
        self.verts = torch.from_numpy(joined.verts).to(device)  # (V, 3)
        self.faces = torch.from_numpy(joined.faces).to(device)  # (F, 3)
        self.colors = torch.from_numpy(joined.colors).to(device)  # (V, 3)
        self.uvs = torch.from_numpy(joined.uvs).to(device)  # (V, 2)
        self.face_part = torch.from_numpy(joined.face_part).to(device)  # (F,)
        self.mesh = Meshes([self.verts], [self.faces])
        self.normals = self.mesh.verts_normals_packed()  # (V, 3), area-weighted
        mats = [p.material for p in spec.parts]
        self.k_s = torch.tensor([m.specular for m in mats], dtype=torch.float32, device=device)  # (K,)
        self.k_d = torch.tensor([METAL_DIFFUSE if m.kind == "metal" else 1.0 for m in mats], device=device)
        self.metal = torch.tensor([m.kind == "metal" for m in mats], device=device)
        self.shininess = torch.tensor([float(m.shininess) for m in mats], device=device)  # (K,)
        self.textures = {k: torch.from_numpy(np.asarray(p.texture, np.float32)).to(device).permute(2, 0, 1)[None]
                         for k, p in enumerate(spec.parts) if p.texture is not None and p.uvs is not None}
        self.device = device


def _interpolate(values: torch.Tensor, faces: torch.Tensor, face_idx: torch.Tensor, bary: torch.Tensor):
    """Barycentric interpolation of per-vertex ``values`` (V, D) on faces ``face_idx`` (P,) -> (P, D)."""
    corners = values[faces[face_idx]]  # (P, 3, D)
    return (bary[..., None] * corners).sum(dim=1)


def _render_batch(scene: _SceneTensors, c2w: torch.Tensor, fov_x: float, size: int, ss: int):
    """RasterViews of one batch of B views (module docstring)."""
    from inverse3d.datasets.scenes.conventions import cameras_from_c2w, focal_from_fov
    from inverse3d.renderer import MeshRasterizer, RasterizationSettings, diffuse, specular

    device = scene.device
    B, S = c2w.shape[0], size * ss
    focal = focal_from_fov(fov_x, S)
    cameras = cameras_from_c2w(c2w.to(device=device, dtype=torch.float32), focal, focal, S / 2, S / 2, S, S,
                               convention="opengl")
    settings = RasterizationSettings(image_size=S, faces_per_pixel=1, z_clip_value=Z_CLIP)
    fragments = MeshRasterizer(cameras, settings)(scene.mesh.extend(B))
    F = scene.faces.shape[0]
    p2f = fragments.pix_to_face[..., 0]  # (B, S, S) packed face index, -1 where empty
    covered = p2f >= 0
    view_idx, rows, cols = torch.nonzero(covered, as_tuple=True)  # (P,) each
    face_idx = p2f[covered] % F  # (P,) face within the scene mesh
    bary = fragments.bary_coords[..., 0, :][covered]  # (P, 3)
    points = _interpolate(scene.verts, scene.faces, face_idx, bary)  # (P, 3) world
    normals = torch.nn.functional.normalize(_interpolate(scene.normals, scene.faces, face_idx, bary), dim=-1)
    eyes = c2w.to(device=device, dtype=torch.float32)[:, :3, 3][view_idx]  # (P, 3) camera centres
    to_eye = eyes - points
    normals = torch.where(((normals * to_eye).sum(-1, keepdim=True) < 0), -normals, normals)  # towards the camera
    part = scene.face_part[face_idx]  # (P,)
    albedo = _interpolate(scene.colors, scene.faces, face_idx, bary)  # (P, 3)
    if scene.textures:
        uv = _interpolate(scene.uvs, scene.faces, face_idx, bary)  # (P, 2)
        for k, tex in scene.textures.items():
            sel = part == k
            if sel.any():
                grid = torch.stack([uv[sel, 0] * 2 - 1, 1 - 2 * uv[sel, 1]], dim=-1)[None, None]  # (1, 1, Q, 2)
                texels = torch.nn.functional.grid_sample(tex, grid, mode="bilinear", padding_mode="border",
                                                         align_corners=False)  # (1, 3, 1, Q)
                albedo[sel] = texels[0, :, 0].t()

    # Phong: diffuse and specular light of every light at every covered sub-pixel. The specular term is computed as
    # a batch of P elements of one point each, so that each point has its own part's exponent.
    light_d = torch.zeros_like(points)
    light_s = torch.zeros_like(points)
    shiny = scene.k_s[part] > 0  # (P,)
    shininess = scene.shininess[part][shiny]  # (Q,)
    for light in scene.spec.lights:
        color = torch.tensor([light.color], dtype=points.dtype, device=device)  # (1, 3)
        direction = torch.tensor(light.position, dtype=points.dtype, device=device) - points  # (P, 3)
        light_d += diffuse(normals, color, direction)
        if shininess.numel():
            light_s[shiny] += specular(points[shiny, None], normals[shiny, None], direction[shiny, None], color,
                                       eyes[shiny], shininess)[:, 0]
    metal = scene.metal[part][:, None]  # (P, 1)
    tint = torch.where(metal, albedo, torch.ones_like(albedo))
    k_d, k_s = scene.k_d[part][:, None], scene.k_s[part][:, None]  # (P, 1)
    color = albedo * (scene.spec.ambient + k_d * light_d) + k_s * tint * light_s
    if bool(metal.any()):  # metals also mirror a sky dome: dark below the horizon, bright above
        view = torch.nn.functional.normalize(to_eye, dim=-1)
        mirrored_y = 2 * (normals * view).sum(-1) * normals[:, 1] - view[:, 1]  # (P,) y of the mirrored view ray
        dome = ENV_DARK + (ENV_BRIGHT - ENV_DARK) * (0.5 + 0.5 * mirrored_y).clamp(0.0, 1.0) ** 2
        color = color + torch.where(metal, albedo * dome[:, None], torch.zeros_like(albedo))
    color = color.clamp(0.0, 1.0)

    # Sub-pixel images, then blocks of ss x ss averaged (alpha, colour, normals) or reduced (depth: the nearest).
    rgb_full = torch.zeros(B, S, S, 3, device=device)
    rgb_full[view_idx, rows, cols] = color
    normal_full = torch.zeros(B, S, S, 3, device=device)
    normal_full[view_idx, rows, cols] = normals
    depth_full = torch.full((B, S, S), float("inf"), device=device)
    depth_full[covered] = fragments.zbuf[..., 0][covered].float()
    cover = covered.float()

    def pool(x: torch.Tensor) -> torch.Tensor:  # (B, S, S, C) -> (B, size, size, C), block means
        return torch.nn.functional.avg_pool2d(x.permute(0, 3, 1, 2), ss).permute(0, 2, 3, 1) if ss > 1 else x

    alpha = pool(cover[..., None])[..., 0]  # (B, H, W)
    rgb = pool(rgb_full) / alpha.clamp(min=1e-8)[..., None]  # mean over covered sub-pixels
    normals_img = torch.nn.functional.normalize(pool(normal_full), dim=-1)
    depth = -torch.nn.functional.max_pool2d(-depth_full[:, None], ss)[:, 0] if ss > 1 else depth_full
    empty = alpha <= 0
    depth = torch.where(empty, torch.zeros_like(depth), depth)
    rgb = torch.where(empty[..., None], torch.zeros_like(rgb), rgb).clamp(0.0, 1.0)
    if scene.spec.background is not None:
        bg = torch.tensor(scene.spec.background, dtype=rgb.dtype, device=device)
        rgb = rgb * alpha[..., None] + bg * (1 - alpha[..., None])
        alpha = torch.ones_like(alpha)
    rgba = torch.cat([rgb, alpha[..., None]], dim=-1)
    return rgba, depth, normals_img
