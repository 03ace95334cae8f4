"""What score distillation optimises: an image (a latent or RGB pixels), a mesh's per-vertex colours, a NeRF.

Each target is an ``nn.Module`` whose parameters are the unknowns. ``render(views)`` gives images (B, 3, H, W) in
[0, 1] seen from random ``Views`` (``ImageTarget``: the image itself, or its latent), through our renderers, so that
the SDS gradient flows back to the parameters.

Cameras follow CONVENTIONS.md: ``look_at_view_transform(dist, elev, azim)`` around the origin, +Y up; the objects
live in the cube [-1, 1]^3. View-dependent prompts (DreamFusion) append "front / side / back / overhead view"
from the azimuth and elevation of each camera (azimuth 0: the camera on +Z, the object's front).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Views", "random_views", "view_direction_index", "VIEW_SUFFIXES", "ImageTarget", "MeshColorTarget",
           "BlobField", "NeRFTarget", "normalize_mesh"]

VIEW_SUFFIXES = ("front view", "side view", "back view", "overhead view")


@dataclass
class Views:
    """B cameras on spheres around the origin: dist, elev, azim (B,) float (degrees)."""

    dist: torch.Tensor
    elev: torch.Tensor
    azim: torch.Tensor

    def __len__(self) -> int:
        return int(self.dist.shape[0])


def random_views(n: int, dist: tuple[float, float], elev: tuple[float, float], device="cpu") -> Views:
    """``n`` cameras, uniform in distance, elevation (degrees) and azimuth (-180..180), from the global RNG (so a
    resumed run draws the same ones)."""
    u = torch.rand(n, 3, device=device)
    return Views(dist[0] + (dist[1] - dist[0]) * u[:, 0], elev[0] + (elev[1] - elev[0]) * u[:, 1],
                 -180.0 + 360.0 * u[:, 2])


def fixed_views(azims: tuple[float, ...], dist: float, elev: float, device="cpu") -> Views:
    """Cameras at the given azimuths (degrees), one distance and elevation."""
    a = torch.tensor(azims, dtype=torch.float32, device=device)
    return Views(torch.full_like(a, dist), torch.full_like(a, elev), a)


def view_direction_index(views: Views, overhead: float = 60.0) -> torch.Tensor:
    """(B,) int64 index into ``VIEW_SUFFIXES``: overhead above ``overhead`` degrees of elevation, else front
    within 45 degrees of azimuth 0, back within 45 degrees of 180, side otherwise."""
    a = views.azim.remainder(360.0)
    a = torch.minimum(a, 360.0 - a)  # |azimuth| in [0, 180]
    idx = torch.where(a < 45.0, 0, torch.where(a > 135.0, 2, 1))
    return torch.where(views.elev > overhead, 3, idx).long()


def _cameras(views: Views, fov: float, device):
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    R, T = look_at_view_transform(views.dist, views.elev, views.azim, device=device)
    return FoVPerspectiveCameras(R=R, T=T, fov=fov, znear=0.1, zfar=100.0, device=device)


class ImageTarget(nn.Module):
    """An image optimised directly: ``space`` "latent" (a (1, C, h, w) latent of the model, initialised from
    N(0, 1); what the course optimises) or "pixel" (a (1, 3, H, W) RGB image through a sigmoid, initialised grey
    with a little noise; encoded by the VAE at every step)."""

    def __init__(self, space: str, shape: tuple[int, int, int]) -> None:
        super().__init__()
        if space not in ("latent", "pixel"):
            raise ValueError(f"--image-space must be latent or pixel; got {space!r}")
        self.space = space
        init = torch.randn(1, *shape) if space == "latent" else 0.1 * torch.randn(1, *shape)
        self.param = nn.Parameter(init)

    def render(self, views: Views | None = None) -> torch.Tensor:
        """The latent (1, C, h, w), or the image (1, 3, H, W) in [0, 1]."""
        return self.param if self.space == "latent" else torch.sigmoid(self.param)


def normalize_mesh(verts: torch.Tensor) -> torch.Tensor:
    """(V, 3) vertices centred on their bounding box and scaled into the unit sphere."""
    centre = 0.5 * (verts.amin(0) + verts.amax(0))
    v = verts - centre
    return v / v.norm(dim=-1).amax().clamp(min=1e-12)


class MeshColorTarget(nn.Module):
    """Per-vertex colours (V, 3) = sigmoid(logits) of a fixed mesh (normalised into the unit sphere), rendered with
    ``MeshRasterizer`` + ``HardPhongShader`` under a headlight plus ambient light, on ``background``."""

    def __init__(self, verts: torch.Tensor, faces: torch.Tensor, image_size: int, fov: float = 45.0,
                 background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        if verts.dim() != 2 or verts.shape[1] != 3 or faces.dim() != 2 or faces.shape[1] != 3 or not len(faces):
            raise ValueError(f"mesh must have (V, 3) vertices and (F, 3) faces; got {tuple(verts.shape)}, "
                             f"{tuple(faces.shape)}")
        self.register_buffer("verts", normalize_mesh(verts.float()))
        self.register_buffer("faces", faces.long())
        self.logits = nn.Parameter(torch.zeros(verts.shape[0], 3))
        self.image_size, self.fov, self.background = int(image_size), float(fov), tuple(background)

    def colors(self) -> torch.Tensor:
        """(V, 3) in [0, 1]."""
        return torch.sigmoid(self.logits)

    def render(self, views: Views) -> torch.Tensor:
        """(B, 3, S, S) renders from ``views``."""
        from inverse3d.renderer import (BlendParams, HardPhongShader, MeshRasterizer, MeshRenderer, PointLights,
                                        RasterizationSettings, TexturesVertex)
        from inverse3d.structures import Meshes

        device, B = self.verts.device, len(views)
        cameras = _cameras(views, self.fov, device)
        centres = cameras.get_camera_center()  # (B, 3): a headlight at each camera
        lights = PointLights(location=centres, ambient_color=((0.6, 0.6, 0.6),), diffuse_color=((0.4, 0.4, 0.4),),
                             specular_color=((0.0, 0.0, 0.0),), device=device)
        colors = self.colors()
        meshes = Meshes(verts=[self.verts] * B, faces=[self.faces] * B,
                        textures=TexturesVertex(verts_features=[colors] * B))
        renderer = MeshRenderer(
            MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=self.image_size)),
            HardPhongShader(device=device, cameras=cameras, lights=lights,
                            blend_params=BlendParams(background_color=self.background)))
        images = renderer(meshes)[..., :3]  # (B, S, S, 3)
        return images.permute(0, 3, 1, 2)


class BlobField(nn.Module):
    """A radiance field plus a blob of density at the origin (DreamFusion's initialisation, which keeps the
    optimisation from emptying the scene): sigma(x) = sigma_field(x) + density max(0, 1 - |x| / radius)
    (DreamFusion adds the unclipped cone before its density activation; here it is added after, hence the clip).
    """

    def __init__(self, field: nn.Module, density: float, radius: float) -> None:
        super().__init__()
        self.inner = field
        self.density, self.radius = float(density), float(radius)

    def forward(self, points: torch.Tensor, directions: torch.Tensor | None = None):
        """points (..., 3), directions (..., 3) -> sigma (..., 1), rgb (..., 3)."""
        sigma, rgb = self.inner(points, directions)
        blob = self.density * (1.0 - points.norm(dim=-1, keepdim=True) / self.radius).clamp(min=0.0)
        return sigma + blob, rgb


class NeRFTarget(nn.Module):
    """A NeRF from text: an Instant-NGP ``HashGridField`` over [-1, 1]^3 (colour independent of the view) that
    starts nearly empty (``density_bias``) around a density blob (``BlobField``), rendered in NeRF's density form
    (``density_render``) along the pixel rays of FoV cameras (``render_image_chunked``) on ``background``.

    Samples: ``n_samples`` per ray between the nearest and farthest points of the cube's bounding sphere seen from
    the batch's cameras, stratified when training.
    """

    def __init__(self, image_size: int, hash_levels: int = 12, hash_log2_size: int = 16, hash_finest: int = 256,
                 n_samples: int = 64, blob_density: float = 10.0, blob_radius: float = 0.5, fov: float = 45.0,
                 background: tuple[float, float, float] = (1.0, 1.0, 1.0), density_bias: float = -4.0) -> None:
        super().__init__()
        from inverse3d.models.fields import HashGridField

        grid = HashGridField(([-1.0] * 3, [1.0] * 3), n_levels=hash_levels, log2_hashmap_size=hash_log2_size,
                             finest_resolution=hash_finest, direction_encoding=None, density_bias=density_bias)
        self.field = BlobField(grid, blob_density, blob_radius)
        self.image_size, self.fov, self.n_samples = int(image_size), float(fov), int(n_samples)
        self.register_buffer("background", torch.tensor(background, dtype=torch.float32))

    def render_full(self, views: Views, stratified: bool = True, size: int | None = None) -> torch.Tensor:
        """(B, S, S, 4) colour + opacity from ``views`` (S = ``size`` or the training size)."""
        from inverse3d.renderer.implicit import density_render, render_image_chunked

        device = self.background.device
        S = self.image_size if size is None else size
        reach = 3.0 ** 0.5  # radius of the cube's bounding sphere
        near = max(float(views.dist.min()) - reach, 0.05)
        far = float(views.dist.max()) + reach

        def fn(rays):  # origins, directions (B, R, 3), lengths (B, R, P) -> (B, R, 4)
            points = rays.origins[..., None, :] + rays.lengths[..., None] * rays.directions[..., None, :]
            sigma, rgb = self.field(points)  # (B, R, P, 1), (B, R, P, 3)
            out = density_render(sigma[..., 0], rgb, rays.lengths, rays.directions, self.background)
            return torch.cat([out.features, out.opacity[..., None]], -1)

        chunk = len(views) * S * S if torch.is_grad_enabled() else 8192  # one chunk when training
        return render_image_chunked(fn, _cameras(views, self.fov, device), (S, S), n_pts_per_ray=self.n_samples,
                                    min_depth=near, max_depth=far, chunk_rays=chunk, stratified_sampling=stratified)

    def render(self, views: Views) -> torch.Tensor:
        """(B, 3, S, S) renders (stratified samples) from ``views``."""
        return self.render_full(views)[..., :3].permute(0, 3, 1, 2)
