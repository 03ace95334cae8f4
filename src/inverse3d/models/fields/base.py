"""What every radiance field shares: the scene box, the input checks, and the ``forward`` / ``density`` contract.

A field maps world points (..., 3) inside an axis-aligned scene box ``bounds = (lo, hi)`` and optional view
directions (normalised by the field) to a density ``sigma >= 0`` of shape (..., 1) and a colour ``rgb`` in [0, 1]
of shape (..., 3):

    sigma, rgb = field(points, directions)   # points (..., 3), directions (..., 3) or one per ray (..., 3)
    sigma = field.density(points)            # (..., 1), for occupancy updates and marching cubes

Directions are either one per point (the same shape as ``points``) or one per ray: for points (..., S, 3) sampled
along rays, directions (..., 3) apply to all S samples of their ray.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def check_bounds(bounds: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
    """The scene box as two float tensors (lo (3,), hi (3,)); ValueError unless lo < hi on every axis."""
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (lo (3,), hi (3,)), got {bounds!r}") from None
    lo = torch.as_tensor(lo, dtype=torch.float32).detach().clone().cpu()
    hi = torch.as_tensor(hi, dtype=torch.float32).detach().clone().cpu()
    if lo.shape != (3,) or hi.shape != (3,):
        raise ValueError(f"bounds must be a pair of (3,) corners, got shapes {tuple(lo.shape)} and {tuple(hi.shape)}")
    if not bool(torch.isfinite(lo).all() and torch.isfinite(hi).all()):
        raise ValueError(f"bounds must be finite, got lo={lo.tolist()} hi={hi.tolist()}")
    if not bool((lo < hi).all()):
        raise ValueError(f"bounds need lo < hi on every axis, got lo={lo.tolist()} hi={hi.tolist()}")
    return lo, hi


def check_resolution(resolution: int | Sequence[int], name: str = "resolution") -> tuple[int, int, int]:
    """An int or an (x, y, z) triple of grid sizes, each >= 2, as a triple."""
    res = (resolution,) * 3 if isinstance(resolution, int) else tuple(resolution)
    if len(res) != 3 or not all(isinstance(r, int) and not isinstance(r, bool) for r in res):
        raise ValueError(f"{name} must be an int or three ints (x, y, z), got {resolution!r}")
    if min(res) < 2:
        raise ValueError(f"{name} must be >= 2 on every axis, got {resolution!r}")
    return res


def check_points(points: torch.Tensor) -> None:
    """ValueError unless ``points`` is a floating tensor of shape (..., 3)."""
    if not isinstance(points, torch.Tensor) or points.dim() < 1 or points.shape[-1] != 3:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points must be a tensor of shape (..., 3), got {shape}")
    if not points.is_floating_point():
        raise ValueError(f"points must be floating point, got {points.dtype}")


def expand_directions(directions: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Directions (..., 3) per point, or (..., 3) per ray for points (..., S, 3), expanded to ``points.shape``."""
    if not isinstance(directions, torch.Tensor) or directions.dim() < 1 or directions.shape[-1] != 3:
        shape = tuple(directions.shape) if isinstance(directions, torch.Tensor) else type(directions).__name__
        raise ValueError(f"directions must be a tensor of shape (..., 3), got {shape}")
    if directions.shape == points.shape:
        return directions
    if directions.dim() == points.dim() - 1 and directions.shape[:-1] == points.shape[:-2]:
        return directions.unsqueeze(-2).expand(points.shape)  # one direction per ray -> its S samples
    raise ValueError(
        f"directions {tuple(directions.shape)} must match points {tuple(points.shape)} or give one per ray "
        f"({tuple(points.shape[:-2]) + (3,)})"
    )


def mlp(in_dim: int, hidden: int, n_hidden: int, out_dim: int) -> nn.Sequential:
    """Linear -> ReLU, ``n_hidden`` times (``hidden`` wide), then a last Linear to ``out_dim`` (no activation)."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(n_hidden):
        layers += [nn.Linear(dim, hidden), nn.ReLU(inplace=True)]
        dim = hidden
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


def encode_directions(encode, directions: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``encode`` ((..., 3) -> (..., D)) applied to normalised directions, broadcast to the points' batch shape.

    Directions are normalised first (ray samplers need not return unit vectors; spherical harmonics need them).
    Directions given one per ray (points (..., S, 3), directions (..., 3)) are encoded once per ray and expanded to
    the S samples (a view), not once per sample.

    Returns:
        (*points.shape[:-1], D)
    """
    expand_directions(directions, points)  # validates the shapes
    encoded = encode(torch.nn.functional.normalize(directions, dim=-1))
    if directions.shape == points.shape:
        return encoded
    return encoded.unsqueeze(-2).expand(*points.shape[:-1], encoded.shape[-1])


class RadianceField(nn.Module):
    """Base class: holds the scene box and maps world points to the unit cube.

    Buffers:
        bounds_lo, bounds_hi: (3,) float, the box corners in world coordinates (they follow ``.to(device)``).

    Subclasses implement ``forward(points, directions=None) -> (sigma (..., 1), rgb (..., 3))`` and
    ``density(points) -> sigma (..., 1)``.
    """

    def __init__(self, bounds: Sequence | None) -> None:
        super().__init__()
        if bounds is None:  # only fields that need no box (the MLP on raw coordinates) allow this
            self.bounds_lo = self.bounds_hi = None
            return
        lo, hi = check_bounds(bounds)
        self.register_buffer("bounds_lo", lo)
        self.register_buffer("bounds_hi", hi)

    @property
    def bounds(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(lo (3,), hi (3,)) world corners of the scene box, or None for an unbounded field."""
        return None if self.bounds_lo is None else (self.bounds_lo, self.bounds_hi)

    def to_unit(self, points: torch.Tensor) -> torch.Tensor:
        """World points (..., 3) -> box coordinates (..., 3): lo -> 0, hi -> 1 on each axis (not clamped)."""
        lo = self.bounds_lo.to(points.dtype)
        hi = self.bounds_hi.to(points.dtype)
        return (points - lo) / (hi - lo)

    def inside(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (...,) bool, True inside the closed box [lo, hi] (everywhere if unbounded)."""
        if self.bounds_lo is None:
            return torch.ones(points.shape[:-1], dtype=torch.bool, device=points.device)
        lo = self.bounds_lo.to(points.dtype)
        hi = self.bounds_hi.to(points.dtype)
        return ((points >= lo) & (points <= hi)).all(-1)

    def density(self, points: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(
        self, points: torch.Tensor, directions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError
