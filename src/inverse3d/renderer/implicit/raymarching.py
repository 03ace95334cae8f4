"""Raymarchers in PyTorch3D's convention: per-sample opacities ("densities") in [0, 1].

With opacities ``a_k`` of the samples along a ray (front to back):

- ``EmissionAbsorptionRaymarcher``: weights ``w_k = a_k * prod_{j < k - s + 1} (1 + eps - a_j)`` with
  ``s = surface_thickness`` (the product is shifted by s samples so that a binary, fully opaque surface still shows
  its first sample), features ``sum_k w_k f_k`` and opacity ``1 - prod_k (1 - a_k)``.
- ``AbsorptionOnlyRaymarcher``: only the opacity ``1 - prod_k (1 - a_k)``.

The density form of NeRF (``sigma``, ``delta`` -> ``1 - exp(-sigma delta)``) is in
:mod:`inverse3d.renderer.implicit.density`.
"""

from __future__ import annotations

import warnings
from typing import Optional, Tuple

import torch

__all__ = ["EmissionAbsorptionRaymarcher", "AbsorptionOnlyRaymarcher"]


class EmissionAbsorptionRaymarcher(torch.nn.Module):
    """Emission-absorption compositing of per-sample opacities and features (module docstring)."""

    def __init__(self, surface_thickness: int = 1) -> None:
        """
        Args:
            surface_thickness: s >= 1, how many samples the transmittance lags behind (1: standard front-to-back
                alpha compositing, ``w_k = a_k prod_{j<k} (1 - a_j)``).
        """
        super().__init__()
        if isinstance(surface_thickness, bool) or int(surface_thickness) != surface_thickness or surface_thickness < 1:
            raise ValueError(
                f"EmissionAbsorptionRaymarcher: surface_thickness must be an int >= 1, got {surface_thickness!r}"
            )
        self.surface_thickness = int(surface_thickness)

    def forward(
        self, rays_densities: torch.Tensor, rays_features: torch.Tensor, eps: float = 1e-10, **kwargs
    ) -> torch.Tensor:
        """
        Args:
            rays_densities: (..., P, 1) per-sample opacities in [0, 1] (a warning is issued otherwise).
            rays_features: (..., P, F) per-sample features.
            eps: added to ``1 - a_j`` inside the transmittance so that it never becomes exactly 0 (which would stop
                gradients reaching samples behind an opaque one).
        Returns:
            (..., F + 1): the composited features, then the opacity.
        """
        _check_raymarcher_inputs(rays_densities, rays_features, features_can_be_none=False, name=type(self).__name__)
        _check_density_bounds(rays_densities)
        densities = rays_densities[..., 0]  # (..., P)
        transmittance = _shifted_cumprod((1.0 + eps) - densities, shift=self.surface_thickness)  # (..., P)
        weights = densities * transmittance  # (..., P)
        features = (weights[..., None] * rays_features).sum(dim=-2)  # (..., F)
        opacities = 1.0 - torch.prod(1.0 - densities, dim=-1, keepdim=True)  # (..., 1)
        return torch.cat((features, opacities), dim=-1)


class AbsorptionOnlyRaymarcher(torch.nn.Module):
    """The opacity ``1 - prod_k (1 - a_k)`` of each ray, from per-sample opacities (module docstring)."""

    def forward(self, rays_densities: torch.Tensor, **kwargs) -> torch.Tensor:
        """
        Args:
            rays_densities: (..., P, 1) per-sample opacities in [0, 1] (a warning is issued otherwise).
        Returns:
            (..., 1) opacities: 0 where the ray passes through untouched, 1 where it is fully absorbed.
        """
        _check_raymarcher_inputs(rays_densities, None, features_can_be_none=True, name=type(self).__name__)
        densities = rays_densities[..., 0]
        _check_density_bounds(densities)
        return 1.0 - torch.prod(1.0 - densities, dim=-1, keepdim=True)


def _shifted_cumprod(x: torch.Tensor, shift: int = 1) -> torch.Tensor:
    """``cumprod(x, -1)`` moved ``shift`` places along the last dimension, ones filling the front.

    Args:
        x: (..., P).
    Returns:
        (..., P); entry k is ``prod_{j < k - shift + 1} x_j`` (1 for k < shift).
    """
    ones = torch.ones_like(x[..., :shift])  # (..., min(shift, P))
    return torch.cat((ones, torch.cumprod(x, dim=-1)[..., : max(x.shape[-1] - shift, 0)]), dim=-1)


def _check_density_bounds(rays_densities: torch.Tensor, bounds: Tuple[float, float] = (0.0, 1.0)) -> None:
    """Warns (as PyTorch3D does) when some opacity lies outside ``bounds``; costs one device sync."""
    if rays_densities.numel() == 0:
        return
    with torch.no_grad():
        out = (rays_densities < bounds[0]) | (rays_densities > bounds[1])
        if bool(out.any()):
            warnings.warn(f"rays_densities: some values lie outside the valid range {bounds}", stacklevel=3)


def _check_raymarcher_inputs(
    rays_densities: torch.Tensor,
    rays_features: Optional[torch.Tensor],
    features_can_be_none: bool,
    name: str,
) -> None:
    """ValueError unless densities are (..., P, 1) and features (..., P, F) with the same leading dimensions."""
    if not torch.is_tensor(rays_densities):
        raise ValueError(f"{name}: rays_densities must be a torch.Tensor, got {type(rays_densities).__name__}")
    if rays_features is None and not features_can_be_none:
        raise ValueError(f"{name}: rays_features must be a torch.Tensor, got None")
    if rays_features is not None and not torch.is_tensor(rays_features):
        raise ValueError(f"{name}: rays_features must be a torch.Tensor, got {type(rays_features).__name__}")
    if rays_densities.ndim < 2 or rays_densities.shape[-1] != 1:
        raise ValueError(
            f"{name}: rays_densities must have shape (..., n_points_per_ray, 1), got {tuple(rays_densities.shape)}"
        )
    if rays_features is not None and rays_features.shape[:-1] != rays_densities.shape[:-1]:
        raise ValueError(
            f"{name}: rays_features {tuple(rays_features.shape)} must be (..., n_points_per_ray, F) with the leading "
            f"dimensions of rays_densities {tuple(rays_densities.shape)}"
        )
