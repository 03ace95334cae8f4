"""The course's box drawn by volume rendering of its signed distance function (the ``"box"`` scene's images).

Each pixel casts one ray through its centre (pixel ``(row, col)`` at ``(col + 0.5, row + 0.5)``, as
``conventions.cameras_from_c2w`` projects). Along the ray, ``n_samples`` stratified samples (one uniform draw in each
of ``n_samples`` equal bins) cover the part of the ray inside the box grown by a margin of ``MARGIN_BETAS * beta``
(outside it the density is below ``exp(-MARGIN_BETAS) / beta``; rays that miss it stay empty), and for a ray that
enters the box itself only up to that margin past its entry point (deeper, the transmittance is below
``exp(1/2 - MARGIN_BETAS)``), so that the samples crowd where the ray meets the surface. At each sample:

- signed distance ``d`` to the box (exact: ``|max(q, 0)| + min(max_i q_i, 0)`` with ``q = |p - center| - sides / 2``);
- density ``sigma = alpha * Psi_beta(-d)``, VolSDF's Laplace-CDF density (``Psi_beta`` the CDF of a zero-mean Laplace
  distribution of scale ``beta``, ``alpha = 1 / beta``): ``alpha * (1 - exp(d / beta) / 2)`` inside,
  ``alpha * exp(-d / beta) / 2`` outside;
- colour ``clamp(|p - center|, 0.02, 0.98)``, the course's "rainbow" box colouring.

Emission-absorption compositing: ``alpha_k = 1 - exp(-sigma_k delta_k)``, ``w_k = alpha_k prod_{j<k} (1 - alpha_j)``,
colour ``sum_k w_k c_k``, opacity ``sum_k w_k``. Rays are processed in chunks of ``chunk`` rays, so memory stays
bounded by the chunk whatever the image size. The stratified draws come from a generator seeded by ``seed``:
the same seed gives the same images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.scenes.builtin import BOX_BETA, BOX_CENTER, BOX_SIDES

BETA = BOX_BETA
N_SAMPLES = 64
MARGIN_BETAS = 12.0
CHUNK = 1 << 14


def box_sdf(points: torch.Tensor, center: torch.Tensor, sides: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) from ``points`` (..., 3) to the axis-aligned box of ``center`` (3,) and
    side lengths ``sides`` (3,) -> (...,)."""
    q = (points - center).abs() - sides / 2
    outside = q.clamp(min=0.0).norm(dim=-1)
    inside = q.amax(dim=-1).clamp(max=0.0)
    return outside + inside


def laplace_density(sdf: torch.Tensor, beta: float, alpha: float | None = None) -> torch.Tensor:
    """VolSDF's density ``alpha * Psi_beta(-sdf)`` (module docstring); ``alpha`` defaults to ``1 / beta``."""
    alpha = 1.0 / beta if alpha is None else alpha
    half = 0.5 * torch.exp(-sdf.abs() / beta)
    return alpha * torch.where(sdf > 0, half, 1.0 - half)


def box_color(points: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """The course's rainbow colouring ``clamp(|p - center|, 0.02, 0.98)``: (..., 3) -> (..., 3)."""
    return (points - center).abs().clamp(0.02, 0.98)


def pixel_rays(c2w: torch.Tensor, camera_angle_x: float, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through the pixel centres of square images.

    Args:
        c2w: (N, 4, 4) OpenGL camera-to-world matrices.
        camera_angle_x: horizontal field of view in radians.
        image_size: H = W.
    Returns:
        origins (N, H, W, 3) and unit directions (N, H, W, 3), world coordinates, ``c2w``'s dtype and device.
    """
    S = image_size
    focal = 0.5 * S / math.tan(0.5 * camera_angle_x)
    pix = torch.arange(S, dtype=c2w.dtype, device=c2w.device) + 0.5
    x = (pix - S / 2) / focal  # (W,) right
    y = -(pix - S / 2) / focal  # (H,) up (rows go down)
    dirs_cam = torch.stack(torch.broadcast_tensors(x[None, :], y[:, None], -torch.ones(S, S, dtype=c2w.dtype,
                                                                                        device=c2w.device)), -1)
    dirs = torch.einsum("nij,hwj->nhwi", c2w[:, :3, :3], dirs_cam)  # (N, H, W, 3)
    dirs = torch.nn.functional.normalize(dirs, dim=-1)
    origins = c2w[:, None, None, :3, 3].expand_as(dirs)
    return origins, dirs


def _slab(origins: torch.Tensor, dirs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor):
    """Entry and exit distances (R,) of rays (R, 3) through the box [lo, hi]; exit < entry where they miss."""
    inv = 1.0 / torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    t0, t1 = (lo - origins) * inv, (hi - origins) * inv
    near = torch.minimum(t0, t1).amax(dim=-1).clamp(min=0.0)
    far = torch.maximum(t0, t1).amin(dim=-1)
    return near, far


def render_sdf_box(
    c2w: Any,
    camera_angle_x: float,
    image_size: int,
    center=BOX_CENTER,
    sides=BOX_SIDES,
    beta: float = BETA,
    n_samples: int = N_SAMPLES,
    seed: int = 0,
    chunk: int = CHUNK,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> torch.Tensor:
    """Volume-renders the box from each camera (module docstring).

    Args:
        c2w: (N, 4, 4) OpenGL camera-to-world matrices (tensor or array).
        camera_angle_x: horizontal field of view in radians.
        image_size: H = W in pixels.
        center, sides: the box.
        beta: Laplace scale of the density (world units); the density is ``1 / beta`` deep inside.
        n_samples: stratified samples per ray.
        seed: seeds the stratified draws.
        chunk: rays composited together.
        device: where to render.
        progress: show a tqdm bar over views.

    Returns:
        (N, H, W, 4) float32 RGBA in [0, 1] on ``device``: colour with straight (not premultiplied) alpha, the ray's
        opacity as alpha, 0 where a ray sees nothing.
    """
    from tqdm.auto import tqdm

    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive int; got {image_size!r}")
    for name, value in (("beta", beta), ("camera_angle_x", camera_angle_x)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")
    for name, value in (("n_samples", n_samples), ("chunk", chunk)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    device = torch.device(device)
    m = torch.as_tensor(np.asarray(c2w.detach().cpu() if torch.is_tensor(c2w) else c2w, dtype=np.float64))
    if m.dim() != 3 or m.shape[1:] != (4, 4):
        raise ValueError(f"c2w must have shape (N, 4, 4); got {tuple(m.shape)}")
    m = m.to(device=device, dtype=torch.float32)
    centre = torch.tensor(center, dtype=torch.float32, device=device)
    side = torch.tensor(sides, dtype=torch.float32, device=device)
    if side.shape != (3,) or bool((side <= 0).any()):
        raise ValueError(f"sides must be three positive lengths; got {sides}")
    margin = MARGIN_BETAS * beta
    box_lo, box_hi = centre - side / 2, centre + side / 2
    lo, hi = box_lo - margin, box_hi + margin
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    N, S = m.shape[0], int(image_size)
    out = torch.zeros(N, S * S, 4, device=device)
    for v in tqdm(range(N), desc="volume rendering box", unit="view", disable=not progress or N == 0):
        origins, dirs = pixel_rays(m[v:v + 1], camera_angle_x, S)
        origins, dirs = origins.reshape(-1, 3), dirs.reshape(-1, 3)  # (S*S, 3)
        near, far = _slab(origins, dirs, lo, hi)
        enter, leave = _slab(origins, dirs, box_lo, box_hi)  # the box itself
        far = torch.where(leave > enter, torch.minimum(far, enter + margin), far)  # opaque margin/beta inside
        bins = torch.arange(n_samples, device=device, dtype=torch.float32)
        for start in range(0, S * S, chunk):  # every ray draws its jitter, hit or not: the same seed, the same draws
            jitter = torch.rand(min(chunk, S * S - start), n_samples, generator=generator).to(device)  # (R, K)
            sel = torch.nonzero(far[start:start + chunk] > near[start:start + chunk])[:, 0]  # rays that hit
            if sel.numel() == 0:
                continue
            idx = start + sel
            t_near, t_far = near[idx, None], far[idx, None]  # (R, 1)
            t = t_near + (t_far - t_near) * (bins + jitter[sel]) / n_samples  # (R, K) increasing
            delta = torch.cat([t[:, 1:] - t[:, :-1], t_far - t[:, -1:]], dim=1)  # (R, K)
            points = origins[idx, None] + t[..., None] * dirs[idx, None]  # (R, K, 3)
            sigma = laplace_density(box_sdf(points, centre, side), beta)  # (R, K)
            alpha = 1.0 - torch.exp(-sigma * delta)
            trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha[:, :-1] + 1e-10], 1), 1)
            weights = alpha * trans  # (R, K)
            rgb = (weights[..., None] * box_color(points, centre)).sum(1)  # (R, 3) premultiplied
            acc = weights.sum(1)  # (R,)
            straight = rgb / acc.clamp(min=1e-8)[:, None]
            out[v, idx] = torch.cat([torch.where(acc[:, None] > 1e-6, straight, torch.zeros_like(straight)),
                                     acc[:, None]], dim=1)
    return out.reshape(N, S, S, 4).clamp(0.0, 1.0)
