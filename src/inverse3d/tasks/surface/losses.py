"""Losses of neural signed distance fields (IGR, SIREN; also the eikonal term of VolSDF / NeuS).

Every function takes values of the field already computed (SDF values (P, 1) or (P,), gradients (P, 3)), so a
caller evaluates the network once per point set (``SDFField.forward_with_gradient(points, create_graph=True)``).
"""

from __future__ import annotations

import torch


def surface_loss(sdf_on_surface: torch.Tensor) -> torch.Tensor:
    """Mean ``|f(x)|`` over points on the surface: (P, 1) or (P,) -> scalar."""
    return sdf_on_surface.abs().mean()


def normal_loss(gradients: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cos(grad f(x), n(x))`` over surface points: gradients (P, 3), unit normals (P, 3) -> scalar."""
    if gradients.shape != normals.shape:
        raise ValueError(f"normal_loss: gradients {tuple(gradients.shape)} and normals {tuple(normals.shape)} differ")
    return (1.0 - torch.nn.functional.cosine_similarity(gradients, normals, dim=-1)).mean()


def eikonal_loss(gradients: torch.Tensor) -> torch.Tensor:
    """Mean ``(|grad f(x)| - 1)^2``: gradients (P, 3) -> scalar (IGR's eikonal term)."""
    return (torch.linalg.vector_norm(gradients, dim=-1) - 1.0).square().mean()


def off_surface_loss(sdf_off_surface: torch.Tensor, alpha: float = 100.0) -> torch.Tensor:
    """Mean ``exp(-alpha |f(x)|)`` over points away from the surface (SIREN's term): penalises spurious zeros."""
    return torch.exp(-alpha * sdf_off_surface.abs()).mean()


def random_points_in_box(n: int, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``n`` points uniform in the box [lo, hi] (each (3,)), from torch's global RNG -> (n, 3) in lo's dtype/device."""
    return lo + (hi - lo) * torch.rand(n, 3, dtype=lo.dtype, device=lo.device)


def points_near_surface(points: torch.Tensor, n: int, sigma: torch.Tensor | float) -> torch.Tensor:
    """``n`` surface points (random rows of ``points`` (P, 3)) moved by Gaussian noise of std ``sigma`` (scalar or
    (P,) per point, IGR's local scale) -> (n, 3)."""
    idx = torch.randint(0, points.shape[0], (n,), device=points.device)
    s = sigma[idx, None] if isinstance(sigma, torch.Tensor) and sigma.dim() > 0 else sigma
    return points[idx] + s * torch.randn(n, 3, dtype=points.dtype, device=points.device)
