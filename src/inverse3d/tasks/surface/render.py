"""Surfaces from images: the SDF model (VolSDF or NeuS) and its volume rendering of rays, views and turntables.

``SurfaceModel`` = an SDF network with features (``SDFMLP`` or ``HashGridSDF``) + an SDF-to-density transform
(``LaplaceDensity`` for VolSDF, ``LogisticDensity`` for NeuS) + an ``AppearanceNetwork``. ``render_rays``:

1. clips each ray to the scene box (``ray_box_range``, as the NeRF task) and, with an occupancy grid (``occupancy``,
   updated during training by ``SurfaceModel.update_occupancy``), to its first and last occupied cell -- rays that
   meet none are not sampled at all and show the background -- and places ``n_samples`` stratified samples between
   the two ends;
2. evaluates the SDF there without autograd and adds ``n_importance`` samples by inverse-transform sampling
   (``sample_pdf``) of the weights (VolSDF: its own density; NeuS: the opacity at a sharpness of at least
   ``UPSAMPLE_S``, as NeuS's up-sampling), so the samples gather at the surface;
3. evaluates SDF, gradient and features in one pass (``forward_with_gradient``; with the graph when training, for
   the eikonal term), the colour from the appearance network, at the importance samples and (VolSDF) at the
   stratified samples whose first-pass weight is at least ``skip_weight``: the others -- empty space, or hidden
   behind the surface -- keep their first-pass SDF (no gradient) and colour 0, which changes a pixel by less than
   their summed weight (NeuS evaluates every sample: its first-pass weights use a different sharpness);
4. composites: VolSDF in the density form (``density_weights``, the last interval ending at the range's end),
   NeuS with its discrete opacities between consecutive samples and front-to-back alpha compositing
   (``EmissionAbsorptionRaymarcher``), over the background.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["SurfaceOptions", "SurfaceModel", "render_rays", "render_rays_chunked", "render_view",
           "render_turntable", "normals_to_rgb", "METHODS", "SDF_TYPES"]

METHODS = ("volsdf", "neus")
SDF_TYPES = ("mlp", "hashgrid")
UPSAMPLE_S = 64.0
"""NeuS's up-sampling sharpness (its first round): the importance weights use max(s, UPSAMPLE_S)."""
OCCUPANCY_EVERY = 32
"""Training steps between occupancy-grid updates."""
OCCUPANCY_WARMUP = 256
"""Steps during which an occupancy update visits every cell."""
OCCUPANCY_WIDTHS = 8.0
"""Density widths (beta or 1/s) beyond a cell's half-diagonal within which a cell counts as occupied: the Laplace
density there is below exp(-8) / (2 beta), an opacity under 1e-3 per cell."""


@dataclass
class SurfaceOptions:
    """What a surface model is made of (stored in the checkpoint as ``surface_config``)."""

    method: str = "volsdf"
    """SDF-to-density transform: "volsdf" (Laplace CDF, density form) or "neus" (logistic, discrete opacity)."""
    sdf: str = "hashgrid"
    """SDF network: "mlp" (IDR's 8 x 256 with geometric initialisation; slow on a CPU) or "hashgrid"."""
    mlp_layers: int = 8
    """MLP: hidden layers."""
    mlp_width: int = 256
    """MLP: width."""
    mlp_harmonics: int = 6
    """MLP: octaves of the position embedding."""
    hash_levels: int = 12
    """Hash grid: levels."""
    hash_log2_size: int = 15
    """Hash grid: log2 of the entries per level."""
    hash_finest: int = 256
    """Hash grid: finest resolution over the scene box."""
    hash_hidden: int = 64
    """Hash grid: width of the SDF head."""
    feature_dim: int = 15
    """Size of the SDF network's feature vector passed to the appearance network."""
    radius: float | None = None
    """Radius of the initial sphere (default: 0.8 x half the box's smallest side)."""
    appearance_width: int = 64
    """Width of the appearance network."""
    appearance_layers: int = 2
    """Hidden layers of the appearance network."""
    view_dependence: bool = True
    """Colour depends on the view direction."""
    beta: float = 0.1
    """VolSDF: the starting (or, with --no-learn-beta, fixed) beta."""
    learn_beta: bool = True
    """VolSDF: train beta."""
    init_s: float = 20.0
    """NeuS: the starting sharpness s (NeuS: e^3 ~ 20)."""
    n_samples: int = 32
    """Stratified samples per ray (inside the scene box)."""
    n_importance: int = 16
    """Extra samples per ray where the surface is (0: none)."""
    skip_weight: float = 1e-3
    """VolSDF: stratified samples whose weight in the no-graph first pass is below this are not evaluated again with
    gradients (their SDF from the first pass is composited, their colour taken as 0): typically two thirds of the
    samples, in empty space or hidden behind the surface. 0 evaluates every sample."""
    occupancy: bool = True
    """Sample only where the surface can be: an occupancy grid marks the cells whose centre's |SDF| is within the
    cell's half-diagonal plus 8 density widths (VolSDF's beta, NeuS's 1/s) of zero; each ray's samples are placed
    between its first and last occupied cell, and rays that meet none are skipped (they show the background)."""
    occupancy_resolution: int = 64
    """Cells per axis of that grid."""

    def check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.sdf not in SDF_TYPES:
            raise ValueError(f"--sdf must be one of {', '.join(SDF_TYPES)}; got {self.sdf!r}")
        for name in ("mlp_layers", "mlp_width", "hash_levels", "hash_hidden", "appearance_width"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(self, name)}")
        if self.n_samples < 2:
            raise ValueError(f"--n-samples must be >= 2; got {self.n_samples}")
        for name in ("n_importance", "feature_dim", "appearance_layers", "mlp_harmonics"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0; got {getattr(self, name)}")
        if not 8 <= self.hash_log2_size <= 24:
            raise ValueError(f"--hash-log2-size must be in 8..24; got {self.hash_log2_size}")
        if self.hash_finest < 16:
            raise ValueError(f"--hash-finest must be >= 16; got {self.hash_finest}")
        for name in ("beta", "init_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"--{name.replace('_', '-')} must be positive; got {v}")
        if not (math.isfinite(self.skip_weight) and 0 <= self.skip_weight < 1):
            raise ValueError(f"--skip-weight must be in [0, 1); got {self.skip_weight}")
        if self.radius is not None and not (math.isfinite(self.radius) and self.radius > 0):
            raise ValueError(f"--radius must be positive; got {self.radius}")
        if not 2 <= self.occupancy_resolution <= 512:
            raise ValueError(f"--occupancy-resolution must be in 2..512; got {self.occupancy_resolution}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build_sdf(options: SurfaceOptions, lo: torch.Tensor, hi: torch.Tensor) -> nn.Module:
    from inverse3d.models.fields import HashGridSDF, SDFMLP

    half = 0.5 * (hi - lo)
    radius = options.radius if options.radius is not None else 0.8 * float(half.min())
    if options.sdf == "hashgrid":
        return HashGridSDF((lo.tolist(), hi.tolist()), radius=radius, feature_dim=options.feature_dim,
                           n_levels=options.hash_levels, log2_hashmap_size=options.hash_log2_size,
                           base_resolution=16, finest_resolution=options.hash_finest, hidden=options.hash_hidden)
    n = options.mlp_layers
    skips = (n // 2,) if n >= 4 else ()
    # the MLP's sphere is centred at the origin; its inputs are scaled so that the box has half-size ~1
    return _CentredSDF(SDFMLP(n_layers=n, hidden=options.mlp_width, n_harmonics=options.mlp_harmonics, skips=skips,
                              radius=radius, feature_dim=options.feature_dim, scale=1.0 / float(half.max())),
                       0.5 * (lo + hi))


class _CentredSDF(nn.Module):
    """An SDF network evaluated at ``points - centre`` (the MLP's initial sphere then sits in the box's centre)."""

    def __init__(self, net: nn.Module, centre: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.feature_dim = net.feature_dim
        self.register_buffer("centre", centre.clone())

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.net(points - self.centre.to(points))

    def forward_with_features(self, points):
        return self.net.forward_with_features(points - self.centre.to(points))

    def forward_with_gradient(self, points, create_graph: bool = False):
        return self.net.forward_with_gradient(points - self.centre.to(points), create_graph)


class SurfaceModel(nn.Module):
    """``sdf`` (SDF network with features), ``density`` (VolSDF's ``LaplaceDensity`` or NeuS's
    ``LogisticDensity``), ``appearance`` (``AppearanceNetwork``), with the scene's ``near``/``far`` and box
    ``bounds_lo``/``bounds_hi`` (3,)."""

    def __init__(self, options: SurfaceOptions, bounds, near: float, far: float) -> None:
        super().__init__()
        from inverse3d.tasks.surface.appearance import AppearanceNetwork
        from inverse3d.tasks.surface.neus import LogisticDensity
        from inverse3d.tasks.surface.volsdf import LaplaceDensity

        options.check()
        self.options = options
        self.near, self.far = float(near), float(far)
        lo, hi = (torch.as_tensor(b, dtype=torch.float32) for b in bounds)
        if lo.shape != (3,) or hi.shape != (3,) or not bool((hi > lo).all()):
            raise ValueError(f"bounds must be (lo (3,), hi (3,)) with hi > lo; got {bounds}")
        self.register_buffer("bounds_lo", lo)
        self.register_buffer("bounds_hi", hi)
        self.sdf = _build_sdf(options, lo, hi)
        if options.method == "volsdf":
            self.density = LaplaceDensity(options.beta, learnable=options.learn_beta)
        else:
            self.density = LogisticDensity(options.init_s)
        self.appearance = AppearanceNetwork(options.feature_dim, options.appearance_width, options.appearance_layers,
                                            view_harmonics=4 if options.view_dependence else None)
        self.occupancy = None
        if options.occupancy:
            from inverse3d.models.fields import OccupancyGrid

            self.occupancy = OccupancyGrid((lo, hi), options.occupancy_resolution)

    def density_width(self) -> float:
        """How far from the surface the density matters, in world units: VolSDF's beta, NeuS's 1/s."""
        if self.options.method == "volsdf":
            return float(self.density.beta.detach())
        return 1.0 / float(self.density.s.detach())

    @torch.no_grad()
    def update_occupancy(self, step: int, update_every: int = OCCUPANCY_EVERY, chunk: int = 65536) -> bool:
        """Refreshes the occupancy grid every ``update_every`` steps (a no-op without one): a cell is occupied when
        the |SDF| at its centre is at most its half-diagonal plus ``OCCUPANCY_WIDTHS`` density widths, so that (for
        an SDF that is a distance, which the eikonal term keeps it) no surface the density can see lies in an empty
        cell. All cells are visited for the first ``OCCUPANCY_WARMUP`` steps, then half of them (a quarter at
        random, a quarter among the occupied), as ``OccupancyGrid.update``. Returns whether it updated."""
        occ = self.occupancy
        if occ is None:
            return False
        margin = 0.5 * float(occ.cell_size.norm()) + OCCUPANCY_WIDTHS * self.density_width()

        def near_surface(points: torch.Tensor) -> torch.Tensor:
            return (self.sdf(points)[..., 0].abs() <= margin).float()

        return occ.update(near_surface, step, decay=0.0, threshold=0.5, warmup_steps=OCCUPANCY_WARMUP,
                          update_every=update_every, jitter=False, chunk_size=chunk)

    @property
    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.bounds_lo, self.bounds_hi

    def sharpness(self) -> dict[str, float]:
        """{"beta": ...} (VolSDF) or {"s": ...} (NeuS): the transform's current parameter."""
        if self.options.method == "volsdf":
            return {"beta": float(self.density.beta.detach())}
        return {"s": float(self.density.s.detach())}

    def forward(self, origins, directions, stratified: bool = False, background=None,
                with_gradients: bool = False) -> dict[str, torch.Tensor]:
        return render_rays(self, origins, directions, stratified=stratified, background=background,
                           with_gradients=with_gradients)


def _interval_weights(alpha: torch.Tensor) -> torch.Tensor:
    """(R, K) opacities -> (R, K) front-to-back weights ``alpha_i prod_{j<i} (1 - alpha_j)``."""
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha[:, :-1] + 1e-7], 1), 1)
    return alpha * trans


@torch.no_grad()
def _first_pass(model: SurfaceModel, origins, directions, t: torch.Tensor, far_t, norms
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """VolSDF's SDF (R, S) at the stratified samples ``t`` (R, S), without autograd, and their weights (R, S)."""
    from inverse3d.renderer.implicit import density_weights

    points = origins[:, None] + t[..., None] * directions[:, None]  # (R, S, 3)
    sdf = model.sdf(points)[..., 0]  # (R, S)
    deltas = torch.cat([t[:, 1:] - t[:, :-1], (far_t - t[:, -1:]).clamp(min=0)], 1) * norms
    return sdf, density_weights(model.density(sdf), deltas)


@torch.no_grad()
def _importance(model: SurfaceModel, origins, directions, t: torch.Tensor, far_t, norms, n: int,
                stratified: bool, first_sdf: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` more lengths (R, n) drawn from the weights of the coarse samples ``t`` (R, S) (module docstring);
    ``first_sdf``: the SDF at ``t`` when already computed."""
    from inverse3d.renderer.implicit import density_weights, sample_pdf

    if first_sdf is None:
        points = origins[:, None] + t[..., None] * directions[:, None]  # (R, S, 3)
        sdf = model.sdf(points)[..., 0]  # (R, S)
    else:
        sdf = first_sdf
    if model.options.method == "volsdf":
        deltas = torch.cat([t[:, 1:] - t[:, :-1], (far_t - t[:, -1:]).clamp(min=0)], 1) * norms
        w = density_weights(model.density(sdf), deltas)  # (R, S)
        mids = 0.5 * (t[:, 1:] + t[:, :-1])  # (R, S - 1)
        return sample_pdf(mids, w[:, 1:-1], n, det=not stratified).detach() if t.shape[1] > 2 else \
            sample_pdf(t, w[:, :1], n, det=not stratified)
    from inverse3d.tasks.surface.neus import neus_alpha

    s = max(float(model.density.s.detach()), UPSAMPLE_S)
    w = _interval_weights(neus_alpha(sdf[:, :-1], sdf[:, 1:], s))  # (R, S - 1) per interval [t_i, t_i+1]
    return sample_pdf(t, w, n, det=not stratified).detach()


def render_rays(model: SurfaceModel, origins: torch.Tensor, directions: torch.Tensor, stratified: bool = False,
                background: torch.Tensor | None = None, with_gradients: bool = False) -> dict[str, torch.Tensor]:
    """Renders rays through the SDF model (module docstring).

    Args:
        origins, directions: (R, 3); lengths along ``directions`` are view depths in [model.near, model.far].
        stratified: one uniform draw per bin and random importance samples (training) instead of fixed ones.
        background: None (black), (3,) or (R, 3) colour behind the surface.
        with_gradients: keep the graph of the SDF gradients (training: the eikonal term and the normals train the
            SDF); otherwise everything is computed without a graph.
    Returns:
        dict with rgb (R, 3), depth (R,) (expected view depth, not divided by the opacity), opacity (R,),
        normal (R, 3) (composited unit normals, world space), sdf (R, N) at all N samples, gradients (P, 3): the
        SDF gradients at the P <= R N samples evaluated with gradients (all of them when ``skip_weight`` is 0 or
        for NeuS), for the eikonal term.
    """
    from inverse3d.renderer.implicit.utils import ray_box_range

    if origins.shape != directions.shape or origins.dim() != 2 or origins.shape[1] != 3:
        raise ValueError(f"origins and directions must be (R, 3); got {tuple(origins.shape)}, "
                         f"{tuple(directions.shape)}")
    t_near, far_t = ray_box_range(origins, directions, model.bounds_lo, model.bounds_hi, model.near, model.far)
    live = None
    if model.occupancy is not None:
        t_near, far_t, live = _occupied_range(model.occupancy, origins, directions, t_near, far_t)
    if live is None:
        return _render_range(model, origins, directions, t_near, far_t, stratified, background, with_gradients)
    index = live.nonzero().squeeze(1)  # rays that meet an occupied cell; the others show the background
    R = origins.shape[0]
    if index.numel() == 0:
        N = model.options.n_samples + model.options.n_importance
        sub = {"rgb": origins.new_zeros(0, 3), "depth": origins.new_zeros(0), "opacity": origins.new_zeros(0),
               "normal": origins.new_zeros(0, 3), "sdf": origins.new_zeros(0, N), "gradients": origins.new_zeros(0, 3)}
    else:
        bg_rows = background if background is None or background.dim() == 1 else background.index_select(0, index)
        sub = _render_range(model, origins.index_select(0, index), directions.index_select(0, index),
                            t_near.index_select(0, index), far_t.index_select(0, index), stratified, bg_rows,
                            with_gradients)
    rgb = origins.new_zeros(R, 3) if background is None else background.to(origins).expand(R, 3).clone()
    diag = float((model.bounds_hi - model.bounds_lo).norm())
    return {"rgb": rgb.index_put((index,), sub["rgb"]),
            "depth": origins.new_zeros(R).index_put((index,), sub["depth"]),
            "opacity": origins.new_zeros(R).index_put((index,), sub["opacity"]),
            "normal": origins.new_zeros(R, 3).index_put((index,), sub["normal"]),
            "sdf": origins.new_full((R, sub["sdf"].shape[1]), diag).index_put((index,), sub["sdf"]),
            "gradients": sub["gradients"]}


def _occupied_range(occupancy, origins: torch.Tensor, directions: torch.Tensor, t_near: torch.Tensor,
                    far_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Each ray's range (R, 1), (R, 1) shrunk to its first and last occupied cell of ``occupancy`` (found at
    2 x resolution points along the box range, the range padded by one of their spacings), and which rays meet an
    occupied cell (R,) bool; None instead when all do (or when no cell is occupied: nothing is skipped then)."""
    fraction = float(occupancy.binary.float().mean())
    if fraction == 1.0 or fraction == 0.0:
        return t_near, far_t, None
    M = 2 * max(occupancy.resolution)
    step = (far_t - t_near) / M  # (R, 1)
    mids = t_near + step * (torch.arange(M, device=origins.device, dtype=origins.dtype) + 0.5)  # (R, M)
    hit = occupancy.occupied(origins[:, None] + mids[..., None] * directions[:, None])  # (R, M)
    live = hit.any(1)
    position = torch.arange(M, device=origins.device)
    first = torch.where(hit, position, M).amin(1, keepdim=True)
    last = torch.where(hit, position, -1).amax(1, keepdim=True)
    lo = torch.maximum(t_near + step * (first - 1).to(step.dtype), t_near)
    hi = torch.minimum(t_near + step * (last + 2).to(step.dtype), far_t)
    lo, hi = torch.where(live[:, None], lo, t_near), torch.where(live[:, None], hi, far_t)
    return lo, hi, (None if bool(live.all()) else live)


def _render_range(model: SurfaceModel, origins: torch.Tensor, directions: torch.Tensor, t_near: torch.Tensor,
                  far_t: torch.Tensor, stratified: bool, background: torch.Tensor | None, with_gradients: bool
                  ) -> dict[str, torch.Tensor]:
    """``render_rays`` for rays (R, 3) sampled between ``t_near`` and ``far_t`` (R, 1)."""
    opts = model.options
    R, S = origins.shape[0], opts.n_samples
    norms = directions.norm(dim=-1, keepdim=True)  # (R, 1)
    unit = directions / norms.clamp(min=1e-12)
    frac = torch.linspace(0.0, 1.0, S + 1, device=origins.device, dtype=origins.dtype)
    edges = t_near + (far_t - t_near) * frac  # (R, S + 1)
    u = torch.rand(R, S, device=origins.device, dtype=origins.dtype) if stratified else 0.5
    t = edges[:, :-1] + (edges[:, 1:] - edges[:, :-1]) * u  # (R, S)
    volsdf = opts.method == "volsdf"
    skip = volsdf and opts.skip_weight > 0
    first_sdf = first_w = None
    if skip:
        first_sdf, first_w = _first_pass(model, origins, directions, t, far_t, norms)  # (R, S) each
    if opts.n_importance > 0:
        t_fine = _importance(model, origins, directions, t, far_t, norms, opts.n_importance, stratified,
                             first_sdf=first_sdf)
        t, order = torch.sort(torch.cat([t, t_fine], 1), 1)  # (R, N)
    N = t.shape[1]
    points = origins[:, None] + t[..., None] * directions[:, None]  # (R, N, 3)
    view = unit[:, None].expand(R, N, 3)
    if skip:
        fill = torch.cat([first_sdf, first_sdf.new_zeros(R, N - S)], 1)  # first-pass SDF of the stratified samples
        keep = torch.cat([first_w >= opts.skip_weight, first_w.new_ones(R, N - S, dtype=torch.bool)], 1)
        if N > S:
            fill, keep = fill.gather(1, order), keep.gather(1, order)
        index = keep.view(-1).nonzero().squeeze(1)  # (P,) samples evaluated with gradients
    else:
        index = None
    flat_points = points.reshape(-1, 3) if index is None else points.reshape(-1, 3).index_select(0, index)
    flat_view = view.reshape(-1, 3) if index is None else view.reshape(-1, 3).index_select(0, index)
    sdf_p, grad, feats = model.sdf.forward_with_gradient(flat_points, create_graph=with_gradients)  # (P, 1), ...
    normals_p = grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-6)  # (P, 3)
    rgb_p = model.appearance(flat_points, normals_p, flat_view, feats if model.appearance.feature_dim else None)
    if index is None:
        sdf, rgb, normals = sdf_p.view(R, N), rgb_p.view(R, N, 3), normals_p.view(R, N, 3)
    else:
        sdf = fill.reshape(-1).index_put((index,), sdf_p[:, 0]).view(R, N)
        rgb = rgb_p.new_zeros(R * N, 3).index_put((index,), rgb_p).view(R, N, 3)
        normals = normals_p.new_zeros(R * N, 3).index_put((index,), normals_p).view(R, N, 3)
    if volsdf:
        from inverse3d.renderer.implicit import density_weights

        deltas = torch.cat([t[:, 1:] - t[:, :-1], (far_t - t[:, -1:]).clamp(min=0)], 1) * norms  # (R, N) world
        w = density_weights(model.density(sdf), deltas)  # (R, N)
        color = (w[..., None] * rgb).sum(1)
        normal = (w[..., None] * normals).sum(1)
        depth, opacity = (w * t).sum(1), w.sum(1)
    else:
        from inverse3d.renderer.implicit import EmissionAbsorptionRaymarcher

        alpha = model.density(sdf[:, :-1], sdf[:, 1:])  # (R, N - 1): interval [t_i, t_i+1]
        feats_i = torch.cat([rgb[:, :-1], normals[:, :-1], t[:, :-1, None]], -1)  # (R, N - 1, 7)
        out = EmissionAbsorptionRaymarcher()(alpha[..., None], feats_i, eps=1e-7)  # (R, 8)
        color, normal, depth, opacity = out[:, :3], out[:, 3:6], out[:, 6], out[:, 7]
    if background is not None:
        color = color + (1.0 - opacity)[:, None] * background
    return {"rgb": color, "depth": depth, "opacity": opacity, "normal": normal, "gradients": grad, "sdf": sdf}


def render_rays_chunked(model: SurfaceModel, origins: torch.Tensor, directions: torch.Tensor, background=None,
                        chunk: int = 4096) -> dict[str, torch.Tensor]:
    """``render_rays`` over rays (R, 3) in chunks, without a graph: rgb (R, 3), depth (R,), opacity (R,),
    normal (R, 3)."""
    keys = ("rgb", "depth", "opacity", "normal")
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    with torch.no_grad():
        for start in range(0, origins.shape[0], chunk):
            bg = background
            if torch.is_tensor(bg) and bg.dim() == 2:
                bg = bg[start:start + chunk]
            out = render_rays(model, origins[start:start + chunk], directions[start:start + chunk], background=bg)
            for k in keys:
                parts[k].append(out[k].detach())
    return {k: torch.cat(v) for k, v in parts.items()}


def render_view(model: SurfaceModel, scene, index: int, background=None, chunk: int = 4096
                ) -> dict[str, torch.Tensor]:
    """View ``index`` of ``scene`` through its own pixel rays: rgb (H, W, 3), depth (H, W), opacity (H, W),
    normal (H, W, 3)."""
    device = model.bounds_lo.device
    o, d = scene.rays(index)
    H, W = scene.image_size
    out = render_rays_chunked(model, o.reshape(-1, 3).to(device), d.reshape(-1, 3).to(device), background, chunk)
    return {"rgb": out["rgb"].reshape(H, W, 3), "depth": out["depth"].reshape(H, W),
            "opacity": out["opacity"].reshape(H, W), "normal": out["normal"].reshape(H, W, 3)}


def normals_to_rgb(normal: torch.Tensor, opacity: torch.Tensor, background: float = 1.0,
                   light=(0.3, 0.5, 0.8)) -> torch.Tensor:
    """(..., 3) composited world normals -> (..., 3) grey "geometry" shading ``0.15 + 0.85 max(n . l, 0)``
    (a headlight-free fixed light ``light``), blended over ``background`` by the opacity (...,)."""
    l_dir = torch.as_tensor(light, dtype=normal.dtype, device=normal.device)
    l_dir = l_dir / l_dir.norm()
    n = normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    shade = 0.15 + 0.85 * (n @ l_dir).clamp(min=0)  # (...)
    a = opacity.clamp(0, 1)
    g = a * shade + (1 - a) * background
    return g[..., None].expand(*g.shape, 3)


def render_turntable(model: SurfaceModel, meta: dict, n_frames: int = 36, image_size: int | None = None,
                     background=(1.0, 1.0, 1.0), chunk: int = 4096) -> Iterator[np.ndarray]:
    """Yields (H, 2 W, 3) frames: colour | normal-shaded geometry, on a circle around the scene
    (``inverse3d.tasks.nerf.render.orbit_cameras``: the training cameras' mean distance and elevation)."""
    from inverse3d.renderer.implicit import render_image_chunked
    from inverse3d.datasets.scenes.training import orbit_cameras

    device = model.bounds_lo.device
    cameras, (H, W) = orbit_cameras(meta, n_frames, image_size, device)
    bg = None if background is None else torch.tensor(background, dtype=torch.float32, device=device)

    def fn(rays):
        B, Rn = rays.origins.shape[:2]
        out = render_rays_chunked(model, rays.origins.reshape(-1, 3), rays.directions.reshape(-1, 3), bg, chunk)
        return torch.cat([out["rgb"], out["normal"], out["opacity"][:, None]], -1).reshape(B, Rn, 7)

    for i in range(n_frames):
        with torch.no_grad():
            img = render_image_chunked(fn, cameras[i], (H, W), n_pts_per_ray=2, min_depth=model.near,
                                       max_depth=model.far, chunk_rays=chunk)[0]
        rgb, normal, opacity = img[..., :3], img[..., 3:6], img[..., 6]
        geo = normals_to_rgb(normal, opacity)
        yield torch.cat([rgb.clamp(0, 1), geo], dim=1).cpu().numpy()
