"""Surfaces from images: the SDF model (VolSDF or NeuS) and its volume rendering of rays, views and turntables.

``SurfaceModel`` = an SDF network with features (``SDFMLP`` or ``HashGridSDF``) + an SDF-to-density transform
(``LaplaceDensity`` for VolSDF, ``LogisticDensity`` for NeuS) + an ``AppearanceNetwork``. ``render_rays``:

1. clips each ray to the scene box (``ray_box_range``, as the NeRF task) and places ``n_samples`` stratified samples
   between its entry and exit;
2. evaluates the SDF there without autograd and adds ``n_importance`` samples by inverse-transform sampling
   (``sample_pdf``) of the weights (VolSDF: its own density; NeuS: the opacity at a sharpness of at least
   ``UPSAMPLE_S``, as NeuS's up-sampling), so the samples gather at the surface;
3. evaluates SDF, gradient and features in one pass (``forward_with_gradient``; with the graph when training, for
   the eikonal term), the colour from the appearance network, at the importance samples and (VolSDF) at the
   stratified samples whose first-pass weight is at least ``skip_weight``: the others -- empty space, or hidden
   behind the surface -- keep their first-pass SDF (no gradient) and colour 0, which changes a pixel by less than
   their summed weight (NeuS evaluates every sample: its first-pass weights use a different sharpness);
4. composites: VolSDF in the density form (``density_weights``, the last interval ending where the ray leaves the
   box), NeuS with its discrete opacities between consecutive samples and front-to-back alpha compositing
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
    opts = model.options
    R, S = origins.shape[0], opts.n_samples
    norms = directions.norm(dim=-1, keepdim=True)  # (R, 1)
    unit = directions / norms.clamp(min=1e-12)
    t_near, far_t = ray_box_range(origins, directions, model.bounds_lo, model.bounds_hi, model.near, model.far)
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
