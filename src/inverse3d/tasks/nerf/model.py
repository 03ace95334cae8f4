"""The NeRF model the task trains: a radiance field (+ a fine field for the MLP), an occupancy grid, and the
renderer of rays through them.

``render_rays`` samples ``n_samples`` stratified points between ``near`` and ``far`` (view depths: the directions
have a unit component along the viewing axis), by default only where each ray crosses the scene box, optionally ``n_fine`` more by hierarchical sampling (``sample_pdf`` on
the coarse weights), skips samples in empty occupancy cells, and composites in the density form
(``density_weights``: ``w_k = T_k (1 - exp(-sigma_k delta_k))``, the last interval ending at ``far``), so the
background shows through where the rays leave the volume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from inverse3d.renderer.implicit.utils import ray_box_range

__all__ = ["FieldOptions", "NeRFModel", "build_field", "render_rays", "ray_box_range", "grid_resolution_at",
           "FIELD_TYPES"]

FIELD_TYPES = ("mlp", "hashgrid", "grid")


@dataclass
class FieldOptions:
    """What the model is made of (stored in the checkpoint as ``nerf_config``)."""

    field: str = "hashgrid"
    """Radiance field: "mlp" (the course's NeRF MLP, coarse + fine), "hashgrid" (Instant-NGP) or "grid" (dense voxel
    grid, DVGO/Plenoxels style)."""
    view_dependence: bool = True
    """Colour depends on the view direction."""
    mlp_layers: int = 8
    """MLP: layers of the trunk (the course: 8)."""
    mlp_width: int = 256
    """MLP: width of the trunk (the course: 256)."""
    mlp_harmonics: int = 10
    """MLP: octaves of the position embedding."""
    hash_log2_size: int = 17
    """Hash grid: log2 of the entries per level."""
    hash_levels: int = 16
    """Hash grid: resolution levels."""
    hash_finest: int = 512
    """Hash grid: finest resolution over the scene box."""
    grid_resolution: int = 128
    """Dense grid: final vertices per axis."""
    grid_start_resolution: int = 32
    """Dense grid: vertices per axis at the start (coarse-to-fine; equal to --grid-resolution to disable)."""
    grid_upsample_steps: tuple[int, ...] = (500, 1000, 1500)
    """Dense grid: steps at which the resolution grows (geometrically from start to final)."""
    occupancy: bool = True
    """Skip empty space with an occupancy grid updated during training (hashgrid and grid fields)."""
    occupancy_resolution: int = 64
    """Cells per axis of the occupancy grid."""
    n_samples: int = 64
    """Stratified samples per ray."""
    n_fine: int = 0
    """Extra samples per ray by hierarchical sampling (0: none; the MLP's fine network needs > 0)."""
    clip_to_box: bool = True
    """Place each ray's samples between its entry into and exit from the scene box (within near/far), not over
    the whole near..far range: all samples land where the field lives."""

    def check(self) -> None:
        if self.field not in FIELD_TYPES:
            raise ValueError(f"--field must be one of {', '.join(FIELD_TYPES)}; got {self.field!r}")
        for name in ("mlp_layers", "mlp_width", "n_samples", "hash_levels", "occupancy_resolution"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(self, name)}")
        if self.n_fine < 0 or self.mlp_harmonics < 0:
            raise ValueError("--n-fine and --mlp-harmonics must be >= 0")
        if not 8 <= self.hash_log2_size <= 24:
            raise ValueError(f"--hash-log2-size must be in 8..24; got {self.hash_log2_size}")
        if self.hash_finest < 2 or self.occupancy_resolution < 2:
            raise ValueError("--hash-finest and --occupancy-resolution must be >= 2")
        if not 2 <= self.grid_start_resolution <= self.grid_resolution <= 512:
            raise ValueError(f"need 2 <= --grid-start-resolution <= --grid-resolution <= 512; got "
                             f"{self.grid_start_resolution}, {self.grid_resolution}")
        if any(s < 1 for s in self.grid_upsample_steps) or list(self.grid_upsample_steps) != sorted(
                self.grid_upsample_steps):
            raise ValueError(f"--grid-upsample-steps must be ascending positive steps; got {self.grid_upsample_steps}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid_upsample_steps"] = list(self.grid_upsample_steps)
        return d


def grid_resolution_at(options: FieldOptions, step: int) -> int:
    """The dense grid's resolution after ``step`` steps (geometric from start to final over the upsample steps)."""
    steps = list(options.grid_upsample_steps)
    done = sum(1 for s in steps if s <= step)
    if not steps or options.grid_start_resolution == options.grid_resolution:
        return options.grid_resolution
    ratio = options.grid_resolution / options.grid_start_resolution
    return int(round(options.grid_start_resolution * ratio ** (done / len(steps))))


def build_field(options: FieldOptions, bounds, resolution: int | None = None) -> nn.Module:
    """The radiance field of ``options`` over ``bounds`` ((lo (3,), hi (3,)))."""
    from inverse3d.models.fields import DenseGridField, HashGridField, NeRFMLP

    if options.field == "mlp":
        n = options.mlp_layers
        skips = (5,) if n > 5 else ((n // 2,) if n >= 2 else ())
        return NeRFMLP(bounds=bounds, n_harmonic_functions_xyz=options.mlp_harmonics, n_layers_xyz=n,
                       n_hidden_neurons_xyz=options.mlp_width, append_xyz=skips,
                       n_hidden_neurons_dir=max(options.mlp_width // 2, 1), view_dependence=options.view_dependence)
    if options.field == "hashgrid":
        return HashGridField(bounds, n_levels=options.hash_levels, log2_hashmap_size=options.hash_log2_size,
                             finest_resolution=options.hash_finest,
                             direction_encoding="sh" if options.view_dependence else None)
    res = options.grid_start_resolution if resolution is None else resolution
    return DenseGridField(bounds, resolution=res, direction_encoding="harmonic" if options.view_dependence else None)


class NeRFModel(nn.Module):
    """``field`` (coarse, or the only one), ``fine`` (the MLP's fine network when ``n_fine > 0``), ``occupancy``
    (an ``OccupancyGrid`` or None), with the scene's ``near``/``far`` and box."""

    def __init__(self, options: FieldOptions, bounds, near: float, far: float, step: int = 0) -> None:
        super().__init__()
        from inverse3d.models.fields import OccupancyGrid

        options.check()
        self.options = options
        self.near, self.far = float(near), float(far)
        self.field = build_field(options, bounds, grid_resolution_at(options, step))
        self.fine = build_field(options, bounds) if options.field == "mlp" and options.n_fine > 0 else None
        use_occ = options.occupancy and options.field != "mlp"
        self.occupancy = OccupancyGrid(bounds, options.occupancy_resolution) if use_occ else None

    def forward(self, origins, directions, stratified: bool = False, background=None) -> dict[str, torch.Tensor]:
        return render_rays(self, origins, directions, stratified=stratified, background=background)


def _evaluate(field: nn.Module, occupancy, points: torch.Tensor, dirs: torch.Tensor):
    """sigma (R, S), rgb (R, S, 3) of ``field`` at points (R, S, 3) with unit directions (R, 3); only the samples
    inside the field's box (and in occupied cells) are evaluated, the others have density 0 and colour 0.

    The evaluated samples are gathered into one flat batch; each ray's direction is gathered for its samples
    (encoded once per ray when the field offers ``encode_view`` / ``forward_encoded``).
    """
    bounded = getattr(field, "bounds", None) is not None
    if occupancy is None and not bounded:
        sigma, rgb = field(points, dirs)
        return sigma[..., 0], rgb
    R, S = points.shape[:2]
    flat = points.reshape(-1, 3)
    if occupancy is not None:
        mask = occupancy.occupied(flat)  # inside the grid's box and in an occupied cell
        same_box = bounded and torch.equal(occupancy.bounds_lo, field.bounds_lo) and torch.equal(
            occupancy.bounds_hi, field.bounds_hi)
        if bounded and not same_box:
            mask = mask & field.inside(flat)
    else:
        mask = field.inside(flat)
    index = mask.nonzero().squeeze(1)  # (P,) flat sample indices
    if index.numel() == 0:  # nothing to evaluate (some embeddings cannot take empty inputs)
        return points.new_zeros(R, S), points.new_zeros(R, S, 3)
    pts = flat.index_select(0, index)
    ray = torch.div(index, S, rounding_mode="floor")
    if hasattr(field, "forward_encoded"):
        view = field.encode_view(dirs)
        sigma_in, rgb_in = field.forward_encoded(pts, None if view is None else view.index_select(0, ray),
                                                 known_inside=True)
    else:
        sigma_in, rgb_in = field(pts, dirs.index_select(0, ray))
    sigma = sigma_in.new_zeros(R * S).index_put((index,), sigma_in[:, 0]).view(R, S)
    rgb = rgb_in.new_zeros(R * S, 3).index_put((index,), rgb_in).view(R, S, 3)
    return sigma, rgb



def _composite(sigma, rgb, t, far, norms, background):
    from inverse3d.renderer.implicit import density_weights

    deltas = torch.cat([t[:, 1:] - t[:, :-1], (far - t[:, -1:]).clamp(min=0)], dim=1) * norms  # (R, S) world
    w = density_weights(sigma, deltas)
    color = (w[..., None] * rgb).sum(1)
    opacity = w.sum(1)
    if background is not None:
        color = color + (1.0 - opacity)[:, None] * background
    return color, (w * t).sum(1), opacity, w


def render_rays(model: NeRFModel, origins: torch.Tensor, directions: torch.Tensor, stratified: bool = False,
                background: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Renders rays (module docstring).

    Args:
        origins, directions: (R, 3); lengths along ``directions`` are view depths between ``model.near`` and
            ``model.far``.
        stratified: one uniform draw per bin (training) instead of bin centres.
        background: None (black), (3,) or (R, 3) colour behind the volume.
        lengths: optional (R, S) ascending coarse sample lengths (e.g. a ``RayBundle``'s) instead of the bins.
    Returns:
        dict with rgb (R, 3), depth (R,) (expected view depth, not divided by the opacity), opacity (R,), and
        rgb_coarse (R, 3) when a fine pass ran.
    """
    from inverse3d.renderer.implicit import sample_pdf

    if origins.shape != directions.shape or origins.dim() != 2 or origins.shape[1] != 3:
        raise ValueError(f"origins and directions must be (R, 3); got {tuple(origins.shape)}, "
                         f"{tuple(directions.shape)}")
    opts = model.options
    R, S = origins.shape[0], opts.n_samples
    near, far = model.near, model.far
    norms = directions.norm(dim=-1, keepdim=True)  # (R, 1)
    unit = directions / norms.clamp(min=1e-12)
    box = getattr(model.field, "bounds", None)
    if opts.clip_to_box and box is not None:
        t_near, far_t = ray_box_range(origins, directions, box[0], box[1], near, far)  # (R, 1) each
    else:
        t_near = torch.full((R, 1), near, device=origins.device, dtype=origins.dtype)
        far_t = torch.full((R, 1), far, device=origins.device, dtype=origins.dtype)
    if lengths is None:
        frac = torch.linspace(0.0, 1.0, S + 1, device=origins.device, dtype=origins.dtype)
        edges = t_near + (far_t - t_near) * frac  # (R, S + 1)
        u = torch.rand(R, S, device=origins.device, dtype=origins.dtype) if stratified else 0.5
        t = edges[:, :-1] + (edges[:, 1:] - edges[:, :-1]) * u
    else:
        t = lengths
        far_t = torch.full_like(t[:, :1], far)
    points = origins[:, None] + t[..., None] * directions[:, None]
    sigma, rgb = _evaluate(model.field, model.occupancy, points, unit)
    color, depth, opacity, w = _composite(sigma, rgb, t, far_t, norms, background)
    out = {"rgb": color, "depth": depth, "opacity": opacity}
    if opts.n_fine > 0:
        with torch.no_grad():
            mids = 0.5 * (t[:, 1:] + t[:, :-1])
            t_fine = sample_pdf(mids, w[:, 1:-1].detach(), opts.n_fine, det=not stratified)
        t_all, _ = torch.sort(torch.cat([t, t_fine.detach()], dim=1), dim=1)
        points = origins[:, None] + t_all[..., None] * directions[:, None]
        fine = model.fine if model.fine is not None else model.field
        sigma, rgb = _evaluate(fine, model.occupancy, points, unit)
        color_f, depth_f, opacity_f, _ = _composite(sigma, rgb, t_all, far_t, norms, background)
        out = {"rgb": color_f, "depth": depth_f, "opacity": opacity_f, "rgb_coarse": color}
    return out
