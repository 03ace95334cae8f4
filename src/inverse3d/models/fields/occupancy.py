"""An occupancy grid for empty-space skipping, updated during training (Instant-NGP, nerfacc).

The scene box is cut into R_x x R_y x R_z cells; cell (ix, iy, iz) covers
``[lo + (ix, iy, iz) * size, lo + (ix + 1, iy + 1, iz + 1) * size]`` with ``size = (hi - lo) / R``. The grid keeps
an exponential moving maximum of the density seen in each cell and a boolean mask of the cells worth sampling:

    ema[c] <- max(decay * ema[c], density(random point of c))     for the cells visited by an update
    occupied = ema > min(threshold, mean(ema))

Every ``update_every`` steps an update visits all cells during the first ``warmup_steps`` steps, then (as Instant-NGP
does) R^3/4 cells drawn uniformly plus R^3/4 drawn among the occupied ones, evaluating the density in chunks.
Until the first update every cell counts as occupied, so nothing is skipped.

``ray_sample_mask`` turns sample points along rays (or a ``RayBundle``) into the mask of samples to evaluate, and
``evaluate_occupied`` runs a field on those samples only.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from inverse3d.models.fields.base import check_bounds, check_points, check_resolution, expand_directions


class OccupancyGrid(nn.Module):
    """Binary occupancy over the scene box with a moving maximum of the density per cell.

    Args:
        bounds: (lo (3,), hi (3,)) the scene box.
        resolution: cells per axis, an int or (R_x, R_y, R_z), each >= 2.

    Buffers (saved with the state dict, so a resumed run keeps them):
        density_ema: (R_x, R_y, R_z) float, the moving maximum of the density.
        binary: (R_x, R_y, R_z) bool, the occupied cells.
        bounds_lo, bounds_hi: (3,) the box.
    """

    def __init__(self, bounds: Sequence, resolution: int | Sequence[int] = 128) -> None:
        super().__init__()
        lo, hi = check_bounds(bounds)
        res = check_resolution(resolution)
        self.register_buffer("bounds_lo", lo)
        self.register_buffer("bounds_hi", hi)
        self.register_buffer("density_ema", torch.zeros(res))
        self.register_buffer("binary", torch.ones(res, dtype=torch.bool))

    @property
    def resolution(self) -> tuple[int, int, int]:
        return tuple(self.binary.shape)

    @property
    def n_cells(self) -> int:
        return self.binary.numel()

    @property
    def cell_size(self) -> torch.Tensor:
        """(3,) world size of a cell."""
        return (self.bounds_hi - self.bounds_lo) / torch.tensor(self.resolution, device=self.bounds_lo.device)

    def occupancy_fraction(self) -> float:
        """Fraction of the cells marked occupied."""
        return float(self.binary.float().mean())

    def cell_indices(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) world points -> (flat cell index (...,) long, inside the closed box (...,) bool).

        The flat index of cell (ix, iy, iz) is ``(ix R_y + iy) R_z + iz``; points on the ``hi`` faces belong to the
        last cells; outside points get a clamped (meaningless) index and ``inside`` False.
        """
        check_points(points)
        lo = self.bounds_lo.to(points.dtype)
        hi = self.bounds_hi.to(points.dtype)
        rx, ry, rz = self.resolution
        res = torch.tensor([rx, ry, rz], device=points.device)
        inside = ((points >= lo) & (points <= hi)).all(-1)
        ijk = ((points - lo) / (hi - lo) * res.to(points.dtype)).floor_().long()
        ijk = torch.minimum(ijk.clamp_(min=0), res - 1)
        strides = torch.tensor([ry * rz, rz, 1], device=points.device)
        flat = (ijk * strides).sum(-1)  # (ix R_y + iy) R_z + iz in one product and one sum
        return flat, inside

    def occupied(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (...,) bool: inside the box and in an occupied cell."""
        flat, inside = self.cell_indices(points)
        return inside & self.binary.view(-1)[flat]

    def cell_points(self, cells: torch.Tensor, jitter: bool = True, generator: torch.Generator | None = None):
        """(n,) flat cell indices -> (n, 3) world points: uniform in each cell (``jitter``) or at its centre."""
        rx, ry, rz = self.resolution
        ijk = torch.stack([cells // (ry * rz), (cells // rz) % ry, cells % rz], dim=-1).to(self.bounds_lo.dtype)
        if jitter:
            offset = torch.rand(cells.shape[0], 3, generator=generator, device=cells.device, dtype=ijk.dtype)
        else:
            offset = torch.full_like(ijk, 0.5)
        return self.bounds_lo + (ijk + offset) * self.cell_size

    @torch.no_grad()
    def update(
        self,
        density_fn: Callable[[torch.Tensor], torch.Tensor],
        step: int,
        decay: float = 0.95,
        threshold: float = 0.01,
        warmup_steps: int = 256,
        update_every: int = 16,
        jitter: bool = True,
        chunk_size: int = 65536,
        generator: torch.Generator | None = None,
    ) -> bool:
        """Refreshes the moving maximum and the binary mask; returns whether this step updated.

        Args:
            density_fn: (n, 3) world points -> (n,) or (n, 1) densities (e.g. ``field.density``, or the density
                times the step size to threshold an opacity as nerfacc does).
            step: the training step; updates happen when ``step % update_every == 0``.
            decay: factor on the old value of each visited cell.
            threshold: a cell is occupied when its value exceeds ``min(threshold, mean of all values)``.
            warmup_steps: before this step every cell is visited; after it, a quarter of the cells at random and a
                quarter among the occupied ones.
            jitter: evaluate at a uniform random point of each cell (False: at its centre).
            chunk_size: points per call of ``density_fn`` (bounds the memory).
            generator: random generator for the cells and jitter (on the grid's device).
        """
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        if update_every < 1 or chunk_size < 1:
            raise ValueError(f"update_every and chunk_size must be >= 1, got {update_every}, {chunk_size}")
        if step % update_every != 0:
            return False
        device = self.binary.device
        n = self.n_cells
        if step < warmup_steps:
            cells = torch.arange(n, device=device)
        else:
            quarter = max(n // 4, 1)
            uniform = torch.randint(0, n, (quarter,), generator=generator, device=device)
            occupied = self.binary.view(-1).nonzero().squeeze(-1)
            if occupied.numel() > 0:
                pick = torch.randint(0, occupied.numel(), (quarter,), generator=generator, device=device)
                cells = torch.cat([uniform, occupied[pick]])
            else:
                cells = uniform
        values = torch.cat(
            [
                density_fn(self.cell_points(chunk, jitter, generator)).reshape(-1).to(self.density_ema.dtype)
                for chunk in cells.split(chunk_size)
            ]
        )
        if bool(torch.isnan(values).any()):
            raise ValueError("OccupancyGrid.update: density_fn returned NaN (is the field diverging?)")
        # a cell drawn twice keeps its largest value (deterministic, unlike an indexed assignment)
        new = torch.full((n,), float("-inf"), device=device, dtype=values.dtype)
        new.scatter_reduce_(0, cells, values, reduce="amax")
        ema = self.density_ema.view(-1)
        visited = new > float("-inf")
        ema[visited] = torch.maximum(ema[visited] * decay, new[visited])
        level = torch.clamp(ema.mean(), max=threshold)
        self.binary.copy_((self.density_ema > level))
        return True


def ray_sample_mask(occupancy: OccupancyGrid, samples) -> torch.Tensor:
    """The samples along rays worth evaluating: those in occupied cells of the grid.

    Args:
        occupancy: the grid.
        samples: (..., S, 3) world points along rays (e.g. the midpoints of the intervals), or a ``RayBundle`` (an
            object with ``origins`` (..., 3), ``directions`` (..., 3) and ``lengths`` (..., S)), whose points are
            ``origins + lengths * directions``.

    Returns:
        (..., S) bool; the field can be skipped (density 0) where it is False.
    """
    if all(hasattr(samples, a) for a in ("origins", "directions", "lengths")):
        points = samples.origins[..., None, :] + samples.lengths[..., :, None] * samples.directions[..., None, :]
    else:
        points = samples
    check_points(points)
    return occupancy.occupied(points)


def evaluate_occupied(
    field: nn.Module, mask: torch.Tensor, points: torch.Tensor, directions: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Runs ``field`` on the masked samples only; the others get density 0 and colour 0.

    Args:
        field: a radiance field, ``field(points, directions) -> (sigma (n, 1), rgb (n, 3))``.
        mask: (...,) bool, e.g. from ``ray_sample_mask``.
        points: (..., 3) world points.
        directions: None, (..., 3) per point, or one per ray when points are (..., S, 3).

    Returns:
        sigma (..., 1), rgb (..., 3), differentiable through the evaluated samples.
    """
    check_points(points)
    if mask.shape != points.shape[:-1]:
        raise ValueError(f"mask {tuple(mask.shape)} must match points {tuple(points.shape[:-1])}")
    if not bool(mask.any()):  # nothing to evaluate (some embeddings cannot take empty inputs)
        return points.new_zeros(*mask.shape, 1), points.new_zeros(*mask.shape, 3)
    if directions is not None:
        directions = expand_directions(directions, points)[mask]
    sigma_in, rgb_in = field(points[mask], directions)
    sigma = sigma_in.new_zeros(*mask.shape, 1).index_put((mask,), sigma_in)
    rgb = rgb_in.new_zeros(*mask.shape, 3).index_put((mask,), rgb_in)
    return sigma, rgb
