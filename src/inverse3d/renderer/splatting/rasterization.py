"""``rasterization``: gsplat's entry point (same arguments, conventions and returns) in pure PyTorch.

Stages: ``quat_scale_to_covar`` -> ``project_gaussians`` (EWA, culling) -> colours (SH evaluated per camera) ->
``isect_tiles`` (binning, depth sort) -> ``composite_tiles`` (front-to-back, hand-written backward). Each stage is a
public function and can be called on its own.
"""

from __future__ import annotations

from typing import Optional

import torch

from inverse3d.renderer.splatting.composite import composite_tiles
from inverse3d.renderer.splatting.projection import project_gaussians, quat_scale_to_covar
from inverse3d.renderer.splatting.sh import spherical_harmonics
from inverse3d.renderer.splatting.tiles import isect_tiles

RENDER_MODES = ("RGB", "D", "ED", "RGB+D", "RGB+ED")
DEFAULT_TILE_SIZE = 4


def _check(name: str, t: object, shape: tuple, dims: Optional[int] = None) -> torch.Tensor:
    """``t`` as a float tensor of ``shape`` (None entries free); one-line ValueError otherwise."""
    if not torch.is_tensor(t):
        raise ValueError(f"rasterization: {name} must be a tensor; got {type(t).__name__}")
    ok = t.dim() == len(shape) and all(s is None or s == d for s, d in zip(shape, t.shape))
    if not ok:
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"rasterization: {name} must have shape {want}; got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"rasterization: {name} must be a floating-point tensor; got {t.dtype}")
    with torch.no_grad():
        # a finite sum proves every entry finite (one cheap pass); only otherwise test entry by entry
        if t.numel() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
            raise ValueError(f"rasterization: {name} has non-finite values")
    return t


def rasterization(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: Optional[torch.Tensor],
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
    eps2d: float = 0.3,
    sh_degree: Optional[int] = None,
    packed: bool = False,
    tile_size: Optional[int] = None,
    backgrounds: Optional[torch.Tensor] = None,
    render_mode: str = "RGB",
    sparse_grad: bool = False,
    absgrad: bool = False,
    rasterize_mode: str = "classic",
    channel_chunk: int = 32,
    covars: Optional[torch.Tensor] = None,
    return_median_depth: bool = False,
    chunk_elements: int = 1 << 21,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Rasterises N 3D Gaussians into C images, as ``gsplat.rasterization`` (pinhole cameras, no batch dims).

    Cameras follow gsplat / OpenCV: ``viewmats`` world-to-camera (``x_cam = R x + t``, +X right, +Y down, +Z
    forward), ``Ks`` pixel intrinsics, pixel (i, j) centred at (i + 0.5, j + 0.5). ``viewmats_from_cameras`` gives
    them for our PyTorch3D-style cameras.

    Args:
        means: (N, 3) centres. quats: (N, 4) (w, x, y, z), any norm. scales: (N, 3) standard deviations.
        opacities: (N,) in [0, 1].
        colors: (N, D) or (C, N, D) values to render, or (N, K, D) SH coefficients when ``sh_degree`` is given
            (then colour = ``max(SH(dir) + 0.5, 0)`` with dir from the camera centre to the Gaussian, as gsplat);
            may be None for "D" / "ED".
        viewmats: (C, 4, 4). Ks: (C, 3, 3). width, height: image size in pixels.
        near_plane, far_plane: Gaussians whose camera depth is outside (near, far) are culled.
        radius_clip: Gaussians with a screen radius <= this (pixels) are culled.
        eps2d: added to the diagonal of the 2D covariances (low-pass filter).
        sh_degree: SH degree to evaluate (<= the degree of ``colors``), or None for plain colours.
        packed: meta tensors per visible (camera, Gaussian) pair (with ``camera_ids`` / ``gaussian_ids``) instead
            of (C, N, ...). The rendering is the same. Default False (gsplat's default is True).
        tile_size: tile side in pixels; None picks 4 (fastest for this implementation on the CPU; gsplat's CUDA
            kernels use 16). The images do not depend on it.
        backgrounds: (C, D) colours added as ``background * (1 - alpha)`` (depth channels get 0).
        render_mode: "RGB", "D" (accumulated depth ``sum w z``), "ED" (expected depth, divided by alpha),
            "RGB+D" or "RGB+ED" (depth as the last channel).
        sparse_grad, absgrad, channel_chunk: accepted for gsplat compatibility; ``sparse_grad`` and ``absgrad``
            must be False (dense gradients are returned; all channels are composited at once).
        rasterize_mode: "classic" or "antialiased" (opacities times mip-splatting's ``sqrt(det / det_eps)``).
        covars: (N, 3, 3) world covariances used instead of ``quats`` / ``scales``.
        return_median_depth: also put ``meta["render_median_depths"]`` (C, H, W, 1): the depth of the last
            Gaussian met while the transmittance is above 0.5 (2DGS's median depth; 0 where none).
        chunk_elements: memory bound of compositing: (tile, pixel, Gaussian) entries per chunk.
    Returns:
        render_colors (C, H, W, X) with X = D, 1 or D + 1 by ``render_mode``; render_alphas (C, H, W, 1); meta
        dict: "means2d" (C, N, 2) (call ``retain_grad()`` on it before ``backward`` for densification's view-space
        gradients), "radii" (C, N, 2) int32 (0 = not visible), "depths" (C, N), "conics" (C, N, 3),
        "opacities" (C, N), "camera_ids" / "gaussian_ids" (None unless ``packed``; then the tensors above are
        (nnz, ...)), "tile_width", "tile_height", "tile_counts" (C * tile_height * tile_width,), "n_isects",
        "width", "height", "tile_size", "n_cameras", "n_batches".
    """
    if render_mode not in RENDER_MODES:
        raise ValueError(f"rasterization: render_mode must be one of {', '.join(RENDER_MODES)}; got {render_mode!r}")
    if rasterize_mode not in ("classic", "antialiased"):
        raise ValueError(f"rasterization: rasterize_mode must be 'classic' or 'antialiased'; got {rasterize_mode!r}")
    if sparse_grad or absgrad:
        raise ValueError("rasterization: sparse_grad and absgrad are not supported (gradients are dense)")
    if tile_size is None:
        tile_size = DEFAULT_TILE_SIZE
    for name, value in (("width", width), ("height", height), ("tile_size", tile_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"rasterization: {name} must be a positive int; got {value!r}")
    if not 0 <= near_plane < far_plane:
        raise ValueError(f"rasterization: need 0 <= near_plane < far_plane; got {near_plane}, {far_plane}")
    if eps2d < 0:
        raise ValueError(f"rasterization: eps2d must be >= 0; got {eps2d}")
    means = _check("means", means, (None, 3))
    n = means.shape[0]
    viewmats = _check("viewmats", viewmats, (None, 4, 4))
    c = viewmats.shape[0]
    if c == 0:
        raise ValueError("rasterization: viewmats holds no camera")
    Ks = _check("Ks", Ks, (c, 3, 3))
    opacities = _check("opacities", opacities, (n,))
    if covars is None:
        quats = _check("quats", quats, (n, 4))
        scales = _check("scales", scales, (n, 3))
        covars = quat_scale_to_covar(quats, scales)  # (N, 3, 3)
    else:
        covars = _check("covars", covars, (n, 3, 3))
    has_color = render_mode in ("RGB", "RGB+D", "RGB+ED")
    dev, dt = means.device, means.dtype

    proj = project_gaussians(means, covars, viewmats, Ks, width, height, eps2d, near_plane, far_plane, radius_clip)
    opac = opacities[None].expand(c, n)
    if rasterize_mode == "antialiased":
        opac = opac * proj.compensations

    feats = []
    if has_color:
        if colors is None:
            raise ValueError(f"rasterization: colors are needed for render_mode {render_mode!r}")
        if sh_degree is not None:
            colors = _check("colors", colors, (n, None, None))
            if not 0 <= sh_degree <= 3 or (sh_degree + 1) ** 2 > colors.shape[1]:
                raise ValueError(f"rasterization: sh_degree {sh_degree} needs (sh_degree + 1)^2 <= K = "
                                 f"{colors.shape[1]} coefficients (and 0 <= sh_degree <= 3)")
            R, t = viewmats[:, :3, :3], viewmats[:, :3, 3]
            campos = -torch.einsum("cji,cj->ci", R, t)  # (C, 3) camera centres -R^T t
            dirs = means[None] - campos[:, None]  # (C, N, 3)
            rgb = (spherical_harmonics(sh_degree, dirs, colors) + 0.5).clamp_min(0.0)  # (C, N, D)
        else:
            if colors.dim() == 2:
                colors = _check("colors", colors, (n, None))
                rgb = colors[None].expand(c, n, colors.shape[1])
            else:
                rgb = _check("colors", colors, (c, n, None))
        feats.append(rgb)
    d = feats[0].shape[-1] if feats else 0
    if render_mode != "RGB":
        feats.append(proj.depths[..., None])
    features = torch.cat(feats, dim=-1) if len(feats) > 1 else feats[0]  # (C, N, F)

    if backgrounds is not None:
        backgrounds = _check("backgrounds", backgrounds, (c, None))
        if has_color and backgrounds.shape[1] != d:
            raise ValueError(f"rasterization: backgrounds must have shape ({c}, {d}); got "
                             f"{tuple(backgrounds.shape)}")

    # visible (camera, Gaussian) pairs, camera-major
    visible = (proj.radii > 0).all(dim=-1) & (opac > 0)  # (C, N)
    flat = torch.nonzero(visible.reshape(-1)).squeeze(1)  # (P,) visible pairs as indices into the C * N
    cam_ids, gauss_ids = flat // max(n, 1), flat % max(n, 1)

    def pick(x: torch.Tensor) -> torch.Tensor:
        """(C, N, ...) -> (P, ...): the visible pairs' rows (index_select is much cheaper than x[cam, gauss])."""
        return x.reshape((c * n,) + x.shape[2:]).index_select(0, flat)

    m2d = pick(proj.means2d)  # (P, 2)
    con = pick(proj.conics)
    opa = pick(opac)
    dep = pick(proj.depths)
    feat = pick(features)  # (P, F)
    bins = isect_tiles(m2d.detach(), pick(proj.covars2d).detach(), opa.detach(), dep.detach(),
                       cam_ids, c, width, height, tile_size)
    image, alphas, median = composite_tiles(m2d, con, opa, feat, bins, width, height, chunk_elements,
                                            with_median=return_median_depth)

    if backgrounds is not None and has_color:
        bg = backgrounds.to(image)
        if render_mode != "RGB":
            bg = torch.cat([bg, bg.new_zeros(c, 1)], dim=-1)
        image = image + bg[:, None, None, :] * (1.0 - alphas)
    if render_mode in ("ED", "RGB+ED"):
        depth = image[..., -1:] / alphas.clamp_min(1e-10)
        image = torch.cat([image[..., :-1], depth], dim=-1)

    meta = {
        "camera_ids": cam_ids if packed else None,
        "gaussian_ids": gauss_ids if packed else None,
        "radii": pick(proj.radii) if packed else proj.radii,
        "means2d": m2d if packed else proj.means2d,
        "depths": dep if packed else proj.depths,
        "conics": con if packed else proj.conics,
        "opacities": opa if packed else opac,
        "tile_width": bins.tiles_x,
        "tile_height": bins.tiles_y,
        "tile_counts": bins.counts,
        "n_isects": bins.n_isects,
        "width": width,
        "height": height,
        "tile_size": tile_size,
        "n_cameras": c,
        "n_batches": 1,
    }
    if return_median_depth:
        found = median >= 0
        med = torch.where(found, dep[median.clamp_min(0)] if dep.numel() else torch.zeros_like(median, dtype=dt),
                          torch.zeros((), dtype=dt, device=dev))
        meta["render_median_depths"] = med[..., None]
    return image, alphas, meta
