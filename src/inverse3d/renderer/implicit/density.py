"""Volume rendering in the density form of NeRF and of the course's volume rendering assignment.

A field gives a volume density ``sigma_k >= 0`` (per unit of world length) and a feature (colour) ``f_k`` at the
samples ``t_0 < t_1 < ... < t_{P-1}`` of a ray. With ``delta_k = (t_{k+1} - t_k) * |d|`` (world length of the
interval behind sample k; the last one is ``far_delta``, 1e10 as in NeRF) the quadrature of the rendering integral
is::

    alpha_k = 1 - exp(-sigma_k delta_k)                # opacity of interval k
    T_k     = exp(-sum_{j<k} sigma_j delta_j)          # transmittance: light reaching sample k
    w_k     = T_k alpha_k                              # weights, sum_k w_k + T_P = 1
    colour  = sum_k w_k f_k + (1 - sum_k w_k) * background
    depth   = sum_k w_k t_k                            # expected ray length (view depth with the grid samplers)
    opacity = sum_k w_k

This differs from PyTorch3D's raymarchers (:mod:`.raymarching`), which take ``alpha_k`` directly.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Union

import torch

__all__ = ["ray_deltas", "density_weights", "density_render", "DensityRender", "DensityRaymarcher"]


def ray_deltas(
    lengths: torch.Tensor, directions: Optional[torch.Tensor] = None, far_delta: float = 1e10
) -> torch.Tensor:
    """Length of the interval behind each sample: ``t_{k+1} - t_k``, ``far_delta`` for the last one.

    Args:
        lengths: (..., P) ascending sample positions along each ray.
        directions: optional (..., 3) ray directions; the differences are multiplied by their norms (world units).
            ``far_delta`` is not (it stands for "to infinity").
        far_delta: the last interval's length.
    Returns:
        (..., P) deltas.
    """
    if not torch.is_tensor(lengths) or lengths.ndim < 1:
        got = getattr(lengths, "shape", type(lengths))
        raise ValueError(f"ray_deltas: lengths must be a tensor (..., P), got {got}")
    steps = lengths[..., 1:] - lengths[..., :-1]  # (..., P-1)
    if directions is not None:
        if directions.shape != (*lengths.shape[:-1], 3):
            raise ValueError(
                f"ray_deltas: directions {tuple(directions.shape)} must be (..., 3) with the leading dimensions of "
                f"lengths {tuple(lengths.shape)}"
            )
        steps = steps * directions.norm(dim=-1, keepdim=True)
    return torch.cat((steps, torch.full_like(lengths[..., :1], far_delta)), dim=-1)


def density_weights(sigmas: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Compositing weights ``w_k = T_k (1 - exp(-sigma_k delta_k))``, ``T_k = exp(-sum_{j<k} sigma_j delta_j)``.

    Args:
        sigmas: (..., P) non-negative densities.
        deltas: (..., P) interval lengths (``ray_deltas``).
    Returns:
        (..., P) weights; their sum over the samples is the opacity of the ray.
    """
    _check_same_shape(sigmas, deltas, "density_weights", "sigmas", "deltas")
    optical = sigmas * deltas  # (..., P) optical thickness of each interval
    # exclusive cumulative sum: no cancellation against the huge last interval
    before = torch.cat((torch.zeros_like(optical[..., :1]), torch.cumsum(optical[..., :-1], dim=-1)), dim=-1)
    transmittance = torch.exp(-before)  # (..., P)
    alpha = -torch.expm1(-optical)  # 1 - exp(-sigma delta), accurate for small values
    return transmittance * alpha


@dataclasses.dataclass(frozen=True)
class DensityRender:
    """What ``density_render`` produces for rays of shape (...).

    Fields:
        features: (..., F) composited features, background included when one was given.
        depth: (...,) expected length ``sum_k w_k t_k`` (not divided by the opacity).
        opacity: (...,) ``sum_k w_k`` in [0, 1].
        weights: (..., P) per-sample weights (e.g. for hierarchical sampling with ``sample_pdf``).
    """

    features: torch.Tensor
    depth: torch.Tensor
    opacity: torch.Tensor
    weights: torch.Tensor


def density_render(
    sigmas: torch.Tensor,
    features: torch.Tensor,
    lengths: torch.Tensor,
    directions: Optional[torch.Tensor] = None,
    background: Union[None, float, Sequence[float], torch.Tensor] = None,
    far_delta: float = 1e10,
) -> DensityRender:
    """Renders rays from densities and features at their samples (module docstring for the formulas).

    Args:
        sigmas: (..., P) non-negative densities per unit world length.
        features: (..., P, F) features (e.g. RGB).
        lengths: (..., P) ascending sample positions along each ray.
        directions: optional (..., 3) ray directions, to measure intervals in world units.
        background: optional colour behind the volume: a number, F numbers or a tensor broadcasting to (..., F).
        far_delta: length of the interval behind the last sample.
    Returns:
        ``DensityRender`` (features (..., F), depth (...,), opacity (...,), weights (..., P)).
    """
    _check_same_shape(sigmas, lengths, "density_render", "sigmas", "lengths")
    if not torch.is_tensor(features) or features.shape[:-1] != sigmas.shape or features.ndim != sigmas.ndim + 1:
        shape = tuple(features.shape) if torch.is_tensor(features) else type(features).__name__
        raise ValueError(
            f"density_render: features must be (..., P, F) with sigmas' shape {tuple(sigmas.shape)} in front, "
            f"got {shape}"
        )
    weights = density_weights(sigmas, ray_deltas(lengths, directions, far_delta))  # (..., P)
    rendered = (weights[..., None] * features).sum(dim=-2)  # (..., F)
    opacity = weights.sum(dim=-1)  # (...,)
    depth = (weights * lengths).sum(dim=-1)  # (...,)
    if background is not None:
        bg = torch.as_tensor(background, dtype=rendered.dtype, device=rendered.device)
        rendered = rendered + (1.0 - opacity)[..., None] * bg
    return DensityRender(features=rendered, depth=depth, opacity=opacity, weights=weights)


class DensityRaymarcher(torch.nn.Module):
    """A raymarcher for ``ImplicitRenderer`` taking NeRF densities (``sigma >= 0``) instead of opacities in [0, 1].

    Output: ``cat(features, opacity)`` (..., F + 1) like ``EmissionAbsorptionRaymarcher``, or
    ``cat(features, depth, opacity)`` (..., F + 2) with ``return_depth``. Intervals are measured in world units
    (``ray_bundle.directions`` need not be unit vectors).
    """

    def __init__(
        self,
        background_color: Union[None, float, Sequence[float], torch.Tensor] = None,
        far_delta: float = 1e10,
        return_depth: bool = False,
    ) -> None:
        """
        Args:
            background_color: optional colour composited behind the volume (a number, F numbers or a tensor).
            far_delta: length of the interval behind the last sample (1e10: the last sample is opaque wherever its
                density is not zero, as in NeRF; use a small value to let the background show through).
            return_depth: also return the expected depth.
        """
        super().__init__()
        self.background_color = background_color
        self.far_delta = far_delta
        self.return_depth = return_depth

    def forward(
        self, rays_densities: torch.Tensor, rays_features: torch.Tensor, ray_bundle=None, **kwargs
    ) -> torch.Tensor:
        """
        Args:
            rays_densities: (..., P, 1) non-negative densities.
            rays_features: (..., P, F) features.
            ray_bundle: the ``RayBundle`` the samples come from (lengths (..., P), directions (..., 3)).
        Returns:
            (..., F + 1) or, with ``return_depth``, (..., F + 2).
        """
        name = type(self).__name__
        if ray_bundle is None:
            raise ValueError(f"{name} needs the ray_bundle (for the sample lengths); ImplicitRenderer passes it")
        if not torch.is_tensor(rays_densities) or rays_densities.ndim < 2 or rays_densities.shape[-1] != 1:
            shape = tuple(rays_densities.shape) if torch.is_tensor(rays_densities) else type(rays_densities).__name__
            raise ValueError(f"{name}: rays_densities must be (..., n_points_per_ray, 1), got {shape}")
        out = density_render(
            rays_densities[..., 0],
            rays_features,
            ray_bundle.lengths,
            ray_bundle.directions,
            background=self.background_color,
            far_delta=self.far_delta,
        )
        parts = [out.features] + ([out.depth[..., None]] if self.return_depth else []) + [out.opacity[..., None]]
        return torch.cat(parts, dim=-1)


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, fn: str, name_a: str, name_b: str) -> None:
    if not torch.is_tensor(a) or not torch.is_tensor(b) or a.shape != b.shape or a.ndim < 1:
        shapes = [tuple(x.shape) if torch.is_tensor(x) else type(x).__name__ for x in (a, b)]
        raise ValueError(
            f"{fn}: {name_a} and {name_b} must be tensors of one shape (..., P), got {shapes[0]} and {shapes[1]}"
        )
