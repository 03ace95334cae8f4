"""Rays as data: ``RayBundle`` / ``HeterogeneousRayBundle`` and the points along them (PyTorch3D's names).

A ray bundle holds, for every ray, an origin ``o`` and a direction ``d`` (both world coordinates, ``d`` not
necessarily of unit length) and the ``lengths`` ``t_k`` at which the ray is sampled; its points are
``o + t_k d``. With the grid raysamplers ``d`` is the world displacement of one unit of view depth, so ``t_k`` are
view-space depths (the rasteriser's ``zbuf``). ``ray_box_range`` clips rays to an axis-aligned box (where a field
lives), for placing samples only inside it.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional, Union

import torch


class RayBundle(NamedTuple):
    """Rays and the lengths at which they are sampled.

    Fields:
        origins: (..., 3) ray origins, world coordinates.
        directions: (..., 3) ray directions, world coordinates; their length matters (points are
            ``origins + lengths * directions``).
        lengths: (..., n_pts_per_ray) where along each ray its points lie, in units of ``directions``.
        xys: (..., 2) the image-plane location of each ray (NDC for the NDC samplers).
    """

    origins: torch.Tensor
    directions: torch.Tensor
    lengths: torch.Tensor
    xys: torch.Tensor


@dataclasses.dataclass
class HeterogeneousRayBundle:
    """Rays drawn from a random choice of cameras (``n_rays_total`` in the raysamplers).

    Fields ``origins``, ``directions``, ``lengths``, ``xys`` as in ``RayBundle``, packed camera after camera along
    the first dimension, plus:
        camera_ids: (M,) int64, the distinct cameras that were drawn (in increasing order).
        camera_counts: (M,) int64, how many rays come from each; ``camera_counts.sum()`` is the number of rays and
            the rays of ``camera_ids[i]`` follow those of ``camera_ids[i - 1]``.
    """

    origins: torch.Tensor
    directions: torch.Tensor
    lengths: torch.Tensor
    xys: torch.Tensor
    camera_ids: Optional[torch.LongTensor] = None
    camera_counts: Optional[torch.LongTensor] = None


def ray_bundle_to_ray_points(ray_bundle: Union[RayBundle, HeterogeneousRayBundle]) -> torch.Tensor:
    """The points of a ray bundle: ``origins + lengths * directions``.

    Args:
        ray_bundle: ``RayBundle`` or ``HeterogeneousRayBundle`` with origins (..., 3), directions (..., 3) and
            lengths (..., P).
    Returns:
        (..., P, 3) world points.
    """
    return ray_bundle_variables_to_ray_points(ray_bundle.origins, ray_bundle.directions, ray_bundle.lengths)


def ray_bundle_variables_to_ray_points(
    rays_origins: torch.Tensor, rays_directions: torch.Tensor, rays_lengths: torch.Tensor
) -> torch.Tensor:
    """Points ``rays_origins + rays_lengths * rays_directions`` along each ray.

    Args:
        rays_origins: (..., 3).
        rays_directions: (..., 3), not necessarily unit vectors.
        rays_lengths: (..., P).
    Returns:
        (..., P, 3): entry ``[..., k, :]`` is ``origins[...] + lengths[..., k] * directions[...]``.
    """
    if rays_origins.shape[-1:] != (3,) or rays_directions.shape[-1:] != (3,):
        raise ValueError(
            "ray_bundle_variables_to_ray_points: origins and directions must end in 3, got "
            f"{tuple(rays_origins.shape)} and {tuple(rays_directions.shape)}"
        )
    return rays_origins[..., None, :] + rays_lengths[..., :, None] * rays_directions[..., None, :]


def _validate_ray_bundle_variables(
    rays_origins: torch.Tensor, rays_directions: torch.Tensor, rays_lengths: torch.Tensor
) -> None:
    """Raises a ValueError unless origins (B, ..., 3), directions (B, ..., 3) and lengths (B, ..., P) agree and have
    at least 3 dimensions (batch, at least one ray dimension, last)."""
    shapes = (
        f"origins {tuple(rays_origins.shape)}, directions {tuple(rays_directions.shape)}, "
        f"lengths {tuple(rays_lengths.shape)}"
    )
    ndim = rays_origins.ndim
    if rays_directions.ndim != ndim or rays_lengths.ndim != ndim:
        raise ValueError(
            f"ray bundle: origins, directions and lengths need the same number of dimensions; got {shapes}"
        )
    if ndim < 3:
        raise ValueError(f"ray bundle: origins, directions and lengths need at least 3 dimensions; got {shapes}")
    if rays_directions.shape[:-1] != rays_origins.shape[:-1] or rays_lengths.shape[:-1] != rays_origins.shape[:-1]:
        raise ValueError(f"ray bundle: shapes may differ only in the last dimension; got {shapes}")
    if rays_origins.shape[-1] != 3 or rays_directions.shape[-1] != 3:
        raise ValueError(f"ray bundle: origins and directions must end in 3; got {shapes}")

def ray_box_range(origins: torch.Tensor, directions: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                  near: float, far: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Lengths (R, 1), (R, 1) where rays (R, 3) enter and leave the box [lo, hi], clipped to [near, far]; equal
    (an empty range at ``far``) for rays that miss it."""
    lo, hi = lo.to(origins), hi.to(origins)
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    t0, t1 = (lo - origins) / safe, (hi - origins) / safe
    enter = torch.minimum(t0, t1).amax(-1, keepdim=True).clamp(min=near, max=far)
    leave = torch.maximum(t0, t1).amin(-1, keepdim=True).clamp(min=near, max=far)
    miss = leave <= enter
    return torch.where(miss, torch.full_like(enter, far), enter), torch.where(miss, torch.full_like(leave, far), leave)
