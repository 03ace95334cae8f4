"""Rendering trained (or downloaded) Gaussians: gsplat-style cameras of a scene's views and of an orbit, one view's
colour / expected depth / alpha, and a turntable of colour | depth | alpha (``render_turntable``).

Cameras are held as gsplat wants them: ``viewmats`` (C, 4, 4) world-to-camera in the OpenCV convention (+X right,
+Y down, looking along +Z) and ``Ks`` (C, 3, 3) pixel intrinsics; a scene's ``Frame`` gives them directly
(``frame_cameras``), an orbit is built with ``look_at_c2w`` (OpenGL camera-to-world, converted).
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np
import torch

__all__ = ["frame_cameras", "orbit_c2w", "viewmats_from_c2w", "intrinsics", "orbit_cameras", "render_view",
           "render_turntable", "depth_to_gray", "scene_orbit", "gaussians_orbit", "tensors_of",
           "EPS2D", "trained_eps2d"]


EPS2D = 0.3
"""The low-pass term of 3DGS and gsplat (squared pixels): what a Gaussian PLY from elsewhere was trained with."""


def trained_eps2d(checkpoint: dict[str, Any]) -> float:
    """The low-pass term a ``load_splat`` result was trained with: its ``--eps2d``, or ``EPS2D`` for a PLY."""
    return float(checkpoint.get("train_config", {}).get("eps2d", EPS2D))

def frame_cameras(frames: Sequence[Any], device=None) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """``viewmats`` (C, 4, 4), ``Ks`` (C, 3, 3) float32 and the image's (width, height) of a scene's frames."""
    c2w = torch.from_numpy(np.stack([np.asarray(f.c2w_opencv, dtype=np.float64) for f in frames]))
    viewmats = torch.linalg.inv(c2w).float()
    Ks = torch.zeros(len(frames), 3, 3, dtype=torch.float32)
    Ks[:, 0, 0] = torch.tensor([f.fx for f in frames])
    Ks[:, 1, 1] = torch.tensor([f.fy for f in frames])
    Ks[:, 0, 2] = torch.tensor([f.cx for f in frames])
    Ks[:, 1, 2] = torch.tensor([f.cy for f in frames])
    Ks[:, 2, 2] = 1
    return viewmats.to(device), Ks.to(device), int(frames[0].width), int(frames[0].height)


def orbit_c2w(centre: Sequence[float], radius: float, elevation_deg: float, n_frames: int,
              up: Sequence[float] = (0.0, 1.0, 0.0)) -> np.ndarray:
    """(n_frames, 4, 4) float64 OpenGL camera-to-world matrices on a circle of ``radius`` around ``centre`` at
    ``elevation_deg`` above the plane normal to ``up``, looking at ``centre``."""
    from inverse3d.datasets.scenes import look_at_c2w

    if n_frames < 1:
        raise ValueError(f"orbit: need at least 1 frame; got {n_frames}")
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"--radius must be a positive number; got {radius}")
    up_v = np.asarray(up, dtype=np.float64)
    if up_v.shape != (3,) or np.linalg.norm(up_v) < 1e-9:
        raise ValueError(f"--up must be a non-zero 3-vector; got {list(up)}")
    up_v = up_v / np.linalg.norm(up_v)
    # two axes of the plane normal to `up` (for +Y up: +Z and +X, so azimuth 0 looks from +Z as our turntables)
    a = np.cross(up_v, [0.0, 0.0, 1.0] if abs(up_v[2]) < 0.9 else [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(a, up_v)
    el = math.radians(elevation_deg)
    t = np.linspace(0.0, 2 * math.pi, n_frames, endpoint=False)[:, None]
    ring = radius * (math.cos(el) * (np.sin(t) * a + np.cos(t) * b) + math.sin(el) * up_v) + np.asarray(centre)
    return look_at_c2w(ring, np.asarray(centre, dtype=np.float64), up_v)


def viewmats_from_c2w(c2w: np.ndarray | torch.Tensor, device=None) -> torch.Tensor:
    """(C, 4, 4) OpenGL camera-to-world -> (C, 4, 4) float32 OpenCV world-to-camera (gsplat's ``viewmats``)."""
    from inverse3d.datasets.scenes import opengl_to_opencv

    c2w = torch.as_tensor(np.asarray(c2w, dtype=np.float64))
    return torch.linalg.inv(opengl_to_opencv(c2w)).float().to(device)


def intrinsics(width: int, height: int, fov_x_deg: float, n: int = 1, device=None) -> torch.Tensor:
    """(n, 3, 3) pixel intrinsics of a centred pinhole with horizontal field of view ``fov_x_deg``."""
    f = 0.5 * width / math.tan(math.radians(fov_x_deg) / 2)
    K = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=torch.float32)
    return K.expand(n, 3, 3).contiguous().to(device)


def orbit_cameras(centre: Sequence[float], radius: float, elevation_deg: float, n_frames: int, width: int,
                  height: int, fov_x_deg: float = 40.0, up: Sequence[float] = (0.0, 1.0, 0.0),
                  device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``orbit_c2w`` as gsplat cameras with a horizontal field of view ``fov_x_deg``: (viewmats (C, 4, 4),
    Ks (C, 3, 3))."""
    if width < 1 or height < 1:
        raise ValueError(f"orbit_cameras: need width, height >= 1; got {width}, {height}")
    c2w = orbit_c2w(centre, radius, elevation_deg, n_frames, up)
    return viewmats_from_c2w(c2w, device), intrinsics(width, height, fov_x_deg, n_frames, device)


def scene_orbit(meta: dict[str, Any]) -> dict[str, Any]:
    """Orbit parameters around a training scene: the centre of its bounds, the cameras' mean distance and
    elevation, view 0's horizontal field of view and size (``meta``: the checkpoint's ``"splat"`` entry)."""
    lo, hi = (np.asarray(b, dtype=np.float64) for b in meta["bounds"])
    centre = 0.5 * (lo + hi)
    cams = meta["cameras"]
    eyes = np.asarray(cams["centres"], dtype=np.float64) - centre
    dist = np.linalg.norm(eyes, axis=1).clip(1e-9)
    elevation = float(np.degrees(np.mean(np.arcsin(np.clip(eyes[:, 1] / dist, -1, 1)))))
    fov = float(np.degrees(2 * math.atan(0.5 * cams["width"] / cams["fx"])))
    return {"centre": centre.tolist(), "radius": float(dist.mean()), "elevation": elevation, "fov": fov,
            "width": int(cams["width"]), "height": int(cams["height"])}


def gaussians_orbit(means: torch.Tensor, opacities: torch.Tensor) -> dict[str, Any]:
    """Orbit parameters for Gaussians without a scene (e.g. a downloaded PLY): the median of the centres of the
    Gaussians with opacity > 0.1 (all when none), 2.5 times their 90th-percentile distance from it, 20 degrees up,
    a 40-degree field of view."""
    m = means[opacities > 0.1] if bool((opacities > 0.1).any()) else means
    m = m.detach().float().cpu()
    centre = m.median(dim=0).values
    spread = float(torch.quantile((m - centre).norm(dim=1)[:100_000], 0.9)) if len(m) > 1 else 1.0
    return {"centre": centre.tolist(), "radius": 2.5 * max(spread, 1e-3), "elevation": 20.0, "fov": 40.0,
            "width": 256, "height": 256}


def tensors_of(gaussians) -> dict[str, torch.Tensor]:
    """(means, quats, scales, opacities, colors (N, K, 3)) of a ``GaussianModel`` or ``Gaussians`` as a dict."""
    sh = gaussians.sh
    return {"means": gaussians.means, "quats": gaussians.quats, "scales": gaussians.log_scales.exp(),
            "opacities": torch.sigmoid(gaussians.opacity_logits.reshape(-1)), "colors": sh}


def render_view(gaussians, viewmats: torch.Tensor, Ks: torch.Tensor, width: int, height: int,
                sh_degree: int | None = None, background: torch.Tensor | Sequence[float] | None = None,
                depth: bool = True, eps2d: float = EPS2D) -> dict[str, torch.Tensor]:
    """Renders C cameras with ``inverse3d.renderer.splatting.rasterization``.

    Args:
        gaussians: a ``GaussianModel`` or ``Gaussians`` (SH coefficients (N, K, 3)).
        viewmats: (C, 4, 4) world-to-camera (OpenCV); Ks: (C, 3, 3).
        sh_degree: the SH degree evaluated (default: all of the Gaussians' coefficients).
        background: (3,) colour behind the Gaussians (default black).
        depth: also render the expected depth ("RGB+ED").
        eps2d: the rasteriser's low-pass term (squared pixels added to the 2D covariances).
    Returns:
        {"rgb": (C, H, W, 3), "alpha": (C, H, W, 1), "depth": (C, H, W, 1) expected depth ``sum w z / alpha``
         (if ``depth``),
         "meta": the rasteriser's meta dict}.
    """
    from inverse3d.renderer.splatting import rasterization

    t = tensors_of(gaussians)
    k = t["colors"].shape[1]
    degree = int(round(math.sqrt(k))) - 1 if sh_degree is None else int(sh_degree)
    colors = t["colors"][:, : (degree + 1) ** 2]
    C = viewmats.shape[0]
    bg = None
    if background is not None:
        bg = torch.as_tensor(background, dtype=colors.dtype, device=colors.device).reshape(1, 3).expand(C, 3)
    out, alpha, meta = rasterization(t["means"], t["quats"], t["scales"], t["opacities"], colors, viewmats, Ks,
                                     width, height, sh_degree=degree, backgrounds=bg, eps2d=eps2d,
                                     render_mode="RGB+ED" if depth else "RGB")
    result = {"rgb": out[..., :3], "alpha": alpha, "meta": meta}
    if depth:
        result["depth"] = out[..., 3:4]
    return result


def depth_to_gray(depth: torch.Tensor, alpha: torch.Tensor, near: float | None = None,
                  far: float | None = None) -> torch.Tensor:
    """(..., H, W, 1) expected depth and alpha -> (..., H, W, 3) grey in [0, 1]: near bright, far dark, empty
    (alpha <= 0.5) black. ``near`` / ``far`` default to the 2nd and 98th percentiles of the covered pixels' depths."""
    d = depth
    covered = alpha > 0.5
    if near is None or far is None:
        vals = d[covered]
        if vals.numel() == 0:
            return torch.zeros(*d.shape[:-1], 3, dtype=d.dtype, device=d.device)
        vals = vals[:1_000_000].float()
        near = float(torch.quantile(vals, 0.02)) if near is None else near
        far = float(torch.quantile(vals, 0.98)) if far is None else far
    g = (0.15 + 0.85 * (1.0 - (d - near) / max(far - near, 1e-6))).clamp(0, 1) * covered
    return g.expand(*g.shape[:-1], 3)


@torch.no_grad()
def render_turntable(gaussians, orbit: dict[str, Any], n_frames: int = 60, size: int | None = None,
                     background: Sequence[float] = (1.0, 1.0, 1.0), up: Sequence[float] = (0.0, 1.0, 0.0),
                     sh_degree: int | None = None, eps2d: float = EPS2D) -> Iterator[np.ndarray]:
    """Yields (H, 3 W, 3) float frames in [0, 1]: colour | depth | alpha around ``orbit`` (``scene_orbit`` or
    ``gaussians_orbit``: centre, radius, elevation, fov, width, height), ``size`` pixels wide (default the
    orbit's width). The depth's grey scale is fixed from the first frame."""
    width, height = orbit["width"], orbit["height"]
    if size is not None:
        height, width = max(1, round(height * size / width)), size
    device = gaussians.means.device
    viewmats, Ks = orbit_cameras(orbit["centre"], orbit["radius"], orbit["elevation"], n_frames, width, height,
                                 orbit["fov"], up, device)
    near = far = None
    for i in range(n_frames):
        out = render_view(gaussians, viewmats[i:i + 1], Ks[i:i + 1], width, height, sh_degree, background,
                          eps2d=eps2d)
        if near is None:
            d = out["depth"][out["alpha"] > 0.5]
            if d.numel():
                near, far = float(torch.quantile(d.float()[:1_000_000], 0.02)), float(
                    torch.quantile(d.float()[:1_000_000], 0.98))
        gray = depth_to_gray(out["depth"][0], out["alpha"][0], near, far)
        frame = torch.cat([out["rgb"][0].clamp(0, 1), gray, out["alpha"][0].clamp(0, 1).expand(height, width, 3)],
                          dim=1)
        yield frame.float().cpu().numpy()
