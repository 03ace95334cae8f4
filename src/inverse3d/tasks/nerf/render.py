"""Rendering a trained NeRF: any rays in chunks, whole views, and a 360-degree turntable of colour, depth and
opacity (through ``render_image_chunked``, the rays of ``NDCMultinomialRaysampler``)."""

from __future__ import annotations

import math

import numpy as np
import torch

from inverse3d.datasets.scenes.training import orbit_cameras
from inverse3d.tasks.nerf.model import NeRFModel, render_rays

__all__ = ["render_rays_chunked", "render_view", "orbit_cameras", "render_turntable", "depth_to_gray"]


@torch.no_grad()
def render_rays_chunked(model: NeRFModel, origins: torch.Tensor, directions: torch.Tensor, background=None,
                        chunk: int = 8192) -> dict[str, torch.Tensor]:
    """``render_rays`` over rays (R, 3) in chunks of ``chunk`` rays without autograd: rgb (R, 3), depth (R,),
    opacity (R,)."""
    keys = ("rgb", "depth", "opacity")
    parts = {k: [] for k in keys}
    for start in range(0, origins.shape[0], chunk):
        out = render_rays(model, origins[start:start + chunk], directions[start:start + chunk], background=background)
        for k in keys:
            parts[k].append(out[k])
    return {k: torch.cat(v) for k, v in parts.items()}


def render_view(model: NeRFModel, scene, index: int, background=None, chunk: int = 8192) -> dict[str, torch.Tensor]:
    """View ``index`` of ``scene`` through its own pixel rays: rgb (H, W, 3), depth (H, W), opacity (H, W)."""
    device = next(iter(model.parameters())).device
    o, d = scene.rays(index)
    H, W = scene.image_size
    out = render_rays_chunked(model, o.reshape(-1, 3).to(device), d.reshape(-1, 3).to(device), background, chunk)
    return {"rgb": out["rgb"].reshape(H, W, 3), "depth": out["depth"].reshape(H, W),
            "opacity": out["opacity"].reshape(H, W)}



def depth_to_gray(depth: torch.Tensor, opacity: torch.Tensor, near: float, far: float) -> torch.Tensor:
    """(H, W) expected depth -> (H, W, 3) in [0, 1]: near bright, far dark, empty black."""
    d = depth / opacity.clamp(min=1e-6)
    g = (1.0 - (d - near) / max(far - near, 1e-6)).clamp(0, 1) * (opacity > 0.05)
    return g[..., None].expand(*g.shape, 3)


@torch.no_grad()
def render_turntable(model: NeRFModel, meta: dict, n_frames: int = 60, image_size: int | None = None,
                     background=(1.0, 1.0, 1.0), chunk: int = 8192):
    """Yields (H, 3 W, 3) frames: colour | depth | opacity, around the scene (``orbit_cameras``)."""
    from inverse3d.renderer.implicit import render_image_chunked

    device = next(iter(model.parameters())).device
    cameras, (H, W) = orbit_cameras(meta, n_frames, image_size, device)
    bg = None if background is None else torch.tensor(background, dtype=torch.float32, device=device)

    def fn(rays):
        B, R = rays.origins.shape[:2]
        out = render_rays(model, rays.origins.reshape(-1, 3), rays.directions.reshape(-1, 3), background=bg)
        return torch.cat([out["rgb"], out["depth"][:, None], out["opacity"][:, None]], -1).reshape(B, R, 5)

    for i in range(n_frames):
        img = render_image_chunked(fn, cameras[i], (H, W), n_pts_per_ray=model.options.n_samples,
                                   min_depth=model.near, max_depth=model.far, chunk_rays=chunk)[0]
        rgb, depth, opacity = img[..., :3], img[..., 3], img[..., 4]
        gray = depth_to_gray(depth, opacity, model.near, model.far)
        yield torch.cat([rgb.clamp(0, 1), gray, opacity[..., None].expand(H, W, 3)], dim=1).cpu().numpy()
