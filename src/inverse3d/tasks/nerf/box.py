"""Fitting the box scene's centre and side lengths from its views (the course's first volume-rendering exercise).

The box scene (``make_scene("box", ...)``) was drawn by ``sdf_box.render_sdf_box``: VolSDF's Laplace density of the
box's signed distance, ``sigma = Psi_beta(-sdf(p; c, s)) / beta``, coloured ``clamp(|p - c|, 0.02, 0.98)``. Here the
same model renders rays with the centre ``c`` (3,) and side lengths ``s`` (3,) as parameters, and Adam minimises the
mean squared error to the views' pixels (composited over black, i.e. premultiplied colour).

Sampling follows the scene's own renderer, around the current estimate (detached): ``n_samples`` stratified samples
between the entry into the estimated box grown by ``12 beta`` and ``12 beta`` past the entry into the box itself.
``beta`` is annealed geometrically from ``beta_start`` (a soft box: smooth gradients from far off, a wide sampling
margin) to the scene's own ``beta`` over the first ``anneal`` fraction of the steps; the last steps use exactly the
model the images were made with, so the recovered numbers are unbiased.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch

from inverse3d.datasets.scenes.sdf_box import MARGIN_BETAS, box_color, box_sdf, laplace_density
from inverse3d.renderer.implicit.density import density_weights

__all__ = ["render_box_rays", "fit_box", "BoxFitResult", "box_rays_from_scene"]


def _slab(origins: torch.Tensor, dirs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor):
    """Entry and exit distances (R,) of unit rays (R, 3) through the box [lo, hi]; exit < entry where they miss."""
    safe = torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    t0, t1 = (lo - origins) / safe, (hi - origins) / safe
    return torch.minimum(t0, t1).amax(-1).clamp(min=0.0), torch.maximum(t0, t1).amin(-1)


def render_box_rays(
    origins: torch.Tensor,
    directions: torch.Tensor,
    center: torch.Tensor,
    sides: torch.Tensor,
    beta: float,
    n_samples: int = 64,
    jitter: torch.Tensor | None = None,
    sample_box: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Volume-renders rays through the SDF box, differentiably in ``center`` and ``sides``.

    Args:
        origins: (R, 3) ray origins; directions: (R, 3) unit directions (world units along the ray).
        center, sides: (3,) the box.
        beta: Laplace scale of the density.
        n_samples: stratified samples per ray.
        jitter: (R, n_samples) uniform [0, 1) offsets in each bin (None: bin centres).
        sample_box: (center, sides) of the box that places the samples (default: ``center``, ``sides`` detached);
            the samples are never differentiated.
    Returns:
        colour (R, 3) premultiplied by the opacity (over black), opacity (R,).
    """
    if origins.shape != directions.shape or origins.dim() != 2 or origins.shape[-1] != 3:
        raise ValueError(f"origins and directions must both be (R, 3), got {tuple(origins.shape)} and "
                         f"{tuple(directions.shape)}")
    margin = MARGIN_BETAS * beta
    with torch.no_grad():  # the sampling interval follows the estimate but is not differentiated
        c, s = (center, sides) if sample_box is None else sample_box
        c, s = c.detach(), s.detach().abs()
        near, far = _slab(origins, directions, c - s / 2 - margin, c + s / 2 + margin)
        enter, leave = _slab(origins, directions, c - s / 2, c + s / 2)
        far = torch.where(leave > enter, torch.minimum(far, enter + margin), far)
        hit = far > near
        far = torch.where(hit, far, near)
        bins = torch.arange(n_samples, device=origins.device, dtype=origins.dtype)
        offset = torch.full((origins.shape[0], n_samples), 0.5, device=origins.device, dtype=origins.dtype) \
            if jitter is None else jitter
        t = near[:, None] + (far - near)[:, None] * (bins + offset) / n_samples  # (R, K)
        delta = torch.cat([t[:, 1:] - t[:, :-1], far[:, None] - t[:, -1:]], dim=1)  # (R, K)
    points = origins[:, None] + t[..., None] * directions[:, None]  # (R, K, 3)
    sigma = laplace_density(box_sdf(points, center, sides), beta)  # (R, K)
    weights = density_weights(sigma, delta)  # (R, K)
    rgb = (weights[..., None] * box_color(points, center)).sum(1)
    return rgb, weights.sum(1)


@dataclass
class BoxFitResult:
    """Recovered ``center`` and ``sides`` (lists of 3 floats), the loss per step, the wall time in seconds."""

    center: list[float]
    sides: list[float]
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def fit_box(
    origins: torch.Tensor,
    directions: torch.Tensor,
    colors: torch.Tensor,
    beta: float,
    init_center: Sequence[float] = (0.0, 0.0, 0.0),
    init_sides: Sequence[float] = (1.75, 1.75, 1.75),
    iterations: int = 1000,
    rays_per_step: int = 1024,
    n_samples: int = 64,
    lr: float = 0.02,
    beta_start: float = 0.1,
    anneal: float = 0.5,
    seed: int = 0,
    progress: bool = False,
) -> BoxFitResult:
    """Fits the box's centre and sides to rays and their colours by MSE (module docstring).

    Args:
        origins, directions: (R, 3) rays (directions need not be unit vectors; they are normalised).
        colors: (R, 3) target colours over black (premultiplied).
        beta: the scene's Laplace scale (the box manifest's ``beta``).
        init_center, init_sides: the starting box.
        iterations: Adam steps; rays_per_step: random rays per step (all rays when larger than R).
        n_samples: stratified samples per ray; lr: Adam's learning rate (decayed 100x, cosine, over the run).
        beta_start: the softest beta, annealed to ``beta`` over the first ``anneal`` fraction of the steps.
        seed: of the ray draws and the stratified jitter.
    Returns:
        ``BoxFitResult``.
    """
    from tqdm.auto import tqdm

    for name, t in (("origins", origins), ("directions", directions), ("colors", colors)):
        if not torch.is_tensor(t) or t.dim() != 2 or t.shape[-1] != 3 or t.shape[0] != origins.shape[0]:
            raise ValueError(f"{name} must be an (R, 3) tensor like origins, got {getattr(t, 'shape', type(t))}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} holds NaN or infinite values")
    if iterations < 1 or rays_per_step < 1 or n_samples < 1:
        raise ValueError(f"iterations, rays_per_step and n_samples must be >= 1, got {iterations}, "
                         f"{rays_per_step}, {n_samples}")
    if not (beta > 0 and beta_start > 0 and lr > 0 and 0 <= anneal <= 1):
        raise ValueError("beta, beta_start and lr must be positive and anneal in [0, 1]")
    t0 = time.perf_counter()
    device, dtype = origins.device, origins.dtype
    directions = torch.nn.functional.normalize(directions, dim=-1)
    center = torch.tensor(list(init_center), dtype=dtype, device=device, requires_grad=True)
    sides = torch.tensor(list(init_sides), dtype=dtype, device=device, requires_grad=True)
    if center.shape != (3,) or sides.shape != (3,) or bool((sides <= 0).any()):
        raise ValueError(f"init_center must be 3 numbers and init_sides 3 positive numbers, got {init_center}, "
                         f"{init_sides}")
    optimizer = torch.optim.Adam([center, sides], lr=lr)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    n_rays = origins.shape[0]
    n_anneal = max(1, int(anneal * iterations))
    losses: list[float] = []
    bar = tqdm(range(iterations), desc="fit box", disable=not progress, dynamic_ncols=True)
    for step in bar:
        frac = min(step / n_anneal, 1.0)
        beta_now = beta_start * (beta / beta_start) ** frac
        for group in optimizer.param_groups:
            group["lr"] = lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / iterations)))
        if rays_per_step >= n_rays:
            idx = torch.arange(n_rays, device=device)
        else:
            idx = torch.randint(0, n_rays, (rays_per_step,), generator=generator).to(device)
        jitter = torch.rand(idx.shape[0], n_samples, generator=generator, dtype=dtype).to(device)
        rgb, _ = render_box_rays(origins[idx], directions[idx], center, sides.abs(), beta_now, n_samples, jitter)
        loss = (rgb - colors[idx]).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if progress and step % 20 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.2e}", c=[round(v, 3) for v in center.tolist()],
                            s=[round(abs(v), 3) for v in sides.tolist()])
    return BoxFitResult([float(v) for v in center.detach().cpu()], [float(abs(v)) for v in sides.detach().cpu()],
                        losses, time.perf_counter() - t0, iterations)


def box_rays_from_scene(scene) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All rays of a ``SceneDataset`` (loaded with ``white_background=False``) with their colours over black.

    Returns:
        origins (R, 3), directions (R, 3), colours (R, 3), R = views x H x W.
    """
    if scene.white_background:
        raise ValueError("the box fit compares colours over black: load the scene with white_background=False")
    origins, directions, colors = [], [], []
    for i in range(len(scene)):
        o, d = scene.rays(i)
        origins.append(o.reshape(-1, 3))
        directions.append(d.reshape(-1, 3))
        colors.append(scene[i]["image"].reshape(-1, 3))
    return torch.cat(origins), torch.cat(directions), torch.cat(colors)
