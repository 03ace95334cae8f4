"""VolSDF's SDF-to-density transform (Yariv et al. 2021): the density is a scaled Laplace CDF of the negated SDF.

With ``f`` the signed distance (negative inside) and ``Psi_beta`` the CDF of the zero-mean Laplace distribution of
scale ``beta``::

    Psi_beta(s) = 0.5 exp(s / beta)          for s <= 0
                = 1 - 0.5 exp(-s / beta)     for s > 0
    sigma(x)    = alpha * Psi_beta(-f(x))    with alpha = 1 / beta (the course's choice, and VolSDF's)

so the density rises smoothly from ~0 outside to ``alpha`` inside, reaching ``alpha / 2`` on the surface; a smaller
``beta`` makes the transition sharper. ``LaplaceDensity`` holds beta (learnable or fixed, never below ``beta_min``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["laplace_cdf", "volsdf_density", "LaplaceDensity"]


def laplace_cdf(s: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """``Psi_beta(s)``: the CDF of the zero-mean Laplace distribution of scale ``beta`` (> 0), elementwise.

    Args:
        s: (...) values.
        beta: a positive number or a tensor broadcasting against ``s``.
    Returns:
        (...) in (0, 1); ``exp`` only of non-positive arguments, so it never overflows.
    """
    inside = s <= 0
    e = 0.5 * torch.exp(torch.where(inside, s, -s) / beta)  # (...) in (0, 0.5]; -|s| with the right slope at 0
    return torch.where(inside, e, 1.0 - e)


def volsdf_density(sdf: torch.Tensor, beta: torch.Tensor | float, alpha: torch.Tensor | float | None = None
                   ) -> torch.Tensor:
    """VolSDF's density ``sigma = alpha * Psi_beta(-sdf)`` (module docstring).

    Args:
        sdf: (...) signed distances, negative inside.
        beta: positive scale of the Laplace CDF.
        alpha: the density deep inside (default ``1 / beta``).
    Returns:
        (...) non-negative densities per unit of world length.
    """
    if alpha is None:
        alpha = 1.0 / beta
    return alpha * laplace_cdf(-sdf, beta)


class LaplaceDensity(nn.Module):
    """``sigma = (1 / beta) Psi_beta(-sdf)`` with ``beta = |beta_param| + beta_min`` (VolSDF's parametrisation).

    Args:
        beta: the starting (or fixed) beta (> beta_min), in world units (0.1 as in VolSDF).
        learnable: train beta with the network (False: the beta study's fixed values).
        beta_min: lower bound of a learned beta (keeps the density finite).
    """

    def __init__(self, beta: float = 0.1, learnable: bool = True, beta_min: float = 1e-4) -> None:
        super().__init__()
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be a positive number; got {beta}")
        if not (math.isfinite(beta_min) and 0 <= beta_min < beta):
            raise ValueError(f"beta_min must be in [0, beta); got {beta_min} (beta {beta})")
        self.beta_min = float(beta_min)
        value = torch.tensor(float(beta) - self.beta_min)
        if learnable:
            self.beta_param = nn.Parameter(value)
        else:
            self.register_buffer("beta_param", value)
        self.learnable = bool(learnable)

    @property
    def beta(self) -> torch.Tensor:
        """() the current beta."""
        return self.beta_param.abs() + self.beta_min

    def forward(self, sdf: torch.Tensor) -> torch.Tensor:
        """(...) signed distances -> (...) densities."""
        beta = self.beta.to(sdf.dtype)
        return volsdf_density(sdf, beta)

    def extra_repr(self) -> str:
        return f"beta={float(self.beta.detach()):.4g}, learnable={self.learnable}"

