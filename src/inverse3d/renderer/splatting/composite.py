"""Front-to-back alpha compositing of tile-binned 2D Gaussians, with a hand-written backward pass.

Per pixel, the Gaussians of its tile are visited in depth order, as the 3DGS CUDA kernel does:
``alpha_i = min(0.99, opacity_i exp(-q_i / 2))`` with ``q_i`` the Mahalanobis distance of the pixel centre;
alphas below 1/255 are skipped; compositing stops before the first Gaussian that would bring the transmittance
below 1e-4. Outputs are ``sum_i w_i f_i`` with ``w_i = alpha_i T_i``, ``T_i = prod_{j<i} (1 - alpha_j)``, and the
alpha ``1 - T_final``.

The work is laid out as (tiles, pixels of a tile, depth slots) tensors and walked in chunks of depth slots: tiles
whose pixels have all terminated, or whose lists are exhausted, drop out of later chunks, and each chunk holds at
most ``chunk_elements`` (tile, pixel, slot) entries (large images are walked in groups of tiles), which bounds
memory. Each pixel's log-alpha is one small matrix product: ``log(opacity) - q / 2`` is a quadratic in the pixel's tile-local coordinates, so with the monomials
``(x^2, xy, y^2, x, y, 1)`` of the tile's pixels (S, 6) and six coefficients per (Gaussian, tile) it is
``basis @ coefficients``. The backward pass reuses the forward's chunks when they are few (``store_elements``),
else walks them again, and forms the gradients in closed form:
``dL/dalpha_i = T_i g_i - R_i / (1 - alpha_i) + gA T_final / (1 - alpha_i)`` with ``g_i = dL/dout . f_i`` and
``R_i = sum_{j>i} w_j g_j`` (the clamped and skipped alphas pass no gradient, as in 3DGS).
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import torch

from inverse3d.renderer.splatting.tiles import ALPHA_MIN, TileBins

ALPHA_MAX = 0.99  # alphas are clamped to this, as in 3DGS
T_MIN = 1e-4  # compositing stops before transmittance falls below this


class _Chunk(NamedTuple):
    tiles: torch.Tensor  # (B,) tiles of this chunk
    idx: torch.Tensor  # (B, L) intersections (clamped into range where padded)
    pad: torch.Tensor  # (B, L) bool: slot past the tile's list
    raw: torch.Tensor  # (B, S, L) opacity * exp(-q / 2)
    alpha: torch.Tensor  # (B, S, L) effective alpha (0 where skipped, padded or terminated)
    t_before: torch.Tensor  # (B, S, L) transmittance in front of each Gaussian
    weights: torch.Tensor  # (B, S, L) alpha * t_before
    t_in: torch.Tensor  # (B, S) transmittance before the chunk (0: pixel stopped earlier)
    t_out: torch.Tensor  # (B, S) transmittance after the chunk's kept Gaussians
    stops: torch.Tensor  # (B, S) bool: the pixel stops in this chunk


def tile_centres(bins: TileBins, device, dtype) -> torch.Tensor:
    """(T, 2) pixel coordinates (x, y) of the centre of each tile."""
    ts = bins.tile_size
    t = torch.arange(bins.counts.shape[0], device=device)
    tx = (t % bins.tiles_x).to(dtype) * ts
    ty = ((t // bins.tiles_x) % bins.tiles_y).to(dtype) * ts
    return torch.stack([tx, ty], dim=-1) + 0.5 * ts


def pixel_basis(tile_size: int, device, dtype) -> torch.Tensor:
    """(S, 6) monomials (x^2, xy, y^2, x, y, 1) of the S = tile_size^2 pixel centres of a tile (row-major), in
    coordinates relative to the tile centre."""
    r = torch.arange(tile_size, device=device, dtype=dtype) + 0.5 - 0.5 * tile_size
    y, x = torch.meshgrid(r, r, indexing="ij")
    x, y = x.reshape(-1), y.reshape(-1)
    return torch.stack([x * x, x * y, y * y, x, y, torch.ones_like(x)], dim=-1)


def isect_coefficients(
    means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, bins: TileBins
) -> torch.Tensor:
    """(I, 6) coefficients c of each intersection such that, at a pixel of its tile with basis row p (see
    ``pixel_basis``), ``log(opacity) - q / 2 = p . c``: one matrix product gives every pixel's log-alpha.

    Args:
        means2d: (P, 2). conics: (P, 3) as (a, b, c). opacities: (P,) > 0. bins: intersections of these P.
    """
    g = bins.gauss_ids
    m = means2d[g] - tile_centres(bins, means2d.device, means2d.dtype)[bins.tile_ids]  # (I, 2) tile-local centre
    a, b, c = conics[g].unbind(-1)
    mx, my = m.unbind(-1)
    u = a * mx + b * my
    v = b * mx + c * my
    const = torch.log(opacities[g]) - 0.5 * (mx * u + my * v)
    return torch.stack([-0.5 * a, -b, -0.5 * c, u, v, const], dim=-1)


_PAD_POWER = -1e4  # log-alpha of padding slots: exp gives exactly 0


def _walk(coef, starts, counts, basis, outside, chunk_elements) -> Iterator[_Chunk]:
    """Visits the (tile, pixel, Gaussian) work in depth chunks, yielding each chunk's alphas and transmittances."""
    n_tiles, s_pix = outside.shape
    n_isects = coef.shape[0]
    trans = (~outside).to(coef.dtype)  # (T, S) running transmittance; 0 once a pixel stopped (or is padding)
    pad_row = coef.new_tensor([0.0, 0.0, 0.0, 0.0, 0.0, _PAD_POWER])
    slots = torch.arange(int(counts.max()) if counts.numel() else 0, device=coef.device)
    group = max(1, chunk_elements // (16 * s_pix))  # tiles walked together (large images: several groups)
    for first in range(0, n_tiles, group):
        tiles = torch.arange(first, min(first + group, n_tiles), device=coef.device)
        active = tiles[(counts[tiles] > 0) & (trans[tiles] > 0).any(dim=1)]
        start, length = 0, 16
        while active.numel() > 0:
            b = active.numel()
            remaining = counts[active] - start  # (B,) > 0
            length = max(1, min(length, int(remaining.max()), chunk_elements // (b * s_pix)))
            pad = slots[None, :length] >= remaining[:, None]  # (B, L)
            idx = (starts[active, None] + start + slots[None, :length]).clamp_max(n_isects - 1)
            cf = torch.where(pad[..., None], pad_row, coef[idx])  # (B, L, 6)
            raw = torch.exp(torch.matmul(basis, cf.transpose(1, 2)))  # (B, S, L)
            alpha = raw.clamp_max(ALPHA_MAX).masked_fill_(raw < ALPHA_MIN, 0.0)
            t_in = trans[active]  # (B, S)
            t_after = t_in[:, :, None] * torch.cumprod(1.0 - alpha, dim=-1)  # (B, S, L)
            alpha = alpha * (t_after >= T_MIN)  # stop before T < T_MIN (a prefix: t_after never increases)
            t_before = torch.cat([t_in[:, :, None], t_after[:, :, :-1]], dim=-1)
            weights = alpha * t_before
            t_out = t_in - weights.sum(dim=-1)
            stops = (t_after[:, :, -1] < T_MIN) & (t_in > 0)
            yield _Chunk(active, idx, pad, raw, alpha, t_before, weights, t_in, t_out, stops)
            trans[active] = torch.where(stops, torch.zeros_like(t_out), t_out)
            start += length
            length *= 2
            active = active[(counts[active] > start) & (trans[active] > 0).any(dim=1)]


def _backward_terms(ch: _Chunk) -> tuple[torch.Tensor, torch.Tensor]:
    """(live weights, alpha / (1 - alpha) where live) of a chunk: with them, dL/dpower_i =
    wlive_i g_i - ratio_i (R_i - gA T_final) (power = log alpha; clamped, skipped and stopped alphas pass nothing)."""
    live = (ch.alpha > 0) & (ch.raw < ALPHA_MAX)
    zero = torch.zeros_like(ch.alpha)
    return torch.where(live, ch.weights, zero), torch.where(live, ch.alpha / (1.0 - ch.alpha), zero)


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, features, starts, counts, basis, outside, chunk_elements, store_elements, with_median):
        n_tiles, s_pix = outside.shape
        out = features.new_zeros(n_tiles, s_pix, features.shape[1])  # (T, S, F)
        final = features.new_ones(n_tiles, s_pix)  # (T, S) transmittance at the end
        median = torch.full((n_tiles, s_pix), -1, dtype=torch.long, device=features.device)
        stored, n_stored = [], 0
        for ch in _walk(coef, starts, counts, basis, outside, chunk_elements):
            f = features[ch.idx].masked_fill_(ch.pad[..., None], 0.0)  # (B, L, F)
            out[ch.tiles] += torch.bmm(ch.weights, f)
            final[ch.tiles] = torch.where(ch.t_in > 0, ch.t_out, final[ch.tiles])
            if with_median:
                length = ch.alpha.shape[-1]
                hit = (ch.alpha > 0) & (ch.t_before > 0.5)  # 2DGS: the last Gaussian met while T > 0.5
                pos = torch.where(hit, torch.arange(length, device=hit.device), -1).amax(dim=-1)  # (B, S)
                ids = torch.gather(ch.idx, 1, pos.clamp_min(0))
                median[ch.tiles] = torch.where(pos >= 0, ids, median[ch.tiles])
            if stored is not None:
                n_stored += ch.raw.numel()
                if n_stored <= store_elements:
                    stored.append((ch.tiles, ch.idx, ch.pad, f, ch.weights) + _backward_terms(ch))
                else:
                    stored = None  # too much to keep: the backward pass recomputes the chunks
        ctx.save_for_backward(coef, features, starts, counts, basis, outside, out, final)
        ctx.chunk_elements, ctx.stored = chunk_elements, stored
        ctx.mark_non_differentiable(median)
        return out, 1.0 - final, median

    @staticmethod
    def backward(ctx, g_out, g_alpha, _g_median):
        coef, features, starts, counts, basis, outside, out, final = ctx.saved_tensors
        g_out = g_out.contiguous()
        g_coef = torch.zeros_like(coef)
        g_feat = torch.zeros_like(features)
        # sum_j w_j g_j - gA T_final per pixel: R_i - gA T_final = base - sum_{j <= i} w_j g_j
        base = (g_out * out).sum(dim=-1) - g_alpha * final  # (T, S)
        prefix = torch.zeros_like(base)  # running sum_{j <= i} w_j g_j

        def recompute():
            for ch in _walk(coef, starts, counts, basis, outside, ctx.chunk_elements):
                f = features[ch.idx].masked_fill_(ch.pad[..., None], 0.0)
                yield (ch.tiles, ch.idx, ch.pad, f, ch.weights) + _backward_terms(ch)

        chunks = ctx.stored if ctx.stored is not None else recompute()
        for tiles, idx, pad, f, weights, wlive, ratio in chunks:
            go = g_out[tiles]  # (B, S, F)
            g = torch.bmm(go, f.transpose(1, 2))  # (B, S, L) dL/dout . f_i
            csum = torch.cumsum(weights * g, dim=-1) + prefix[tiles][:, :, None]  # sum_{j <= i} w_j g_j
            g_power = wlive * g - ratio * (base[tiles][:, :, None] - csum)  # dL/dlog(alpha_i)
            prefix[tiles] = csum[:, :, -1]
            valid = ~pad
            ids = idx[valid]
            g_coef[ids] = torch.matmul(g_power.transpose(1, 2), basis)[valid]  # (B, L, 6) -> (V, 6)
            g_feat[ids] = torch.bmm(weights.transpose(1, 2), go)[valid]
        ctx.stored = None
        return g_coef, g_feat, None, None, None, None, None, None, None


def composite_tiles(
    means2d: torch.Tensor,
    conics: torch.Tensor,
    opacities: torch.Tensor,
    features: torch.Tensor,
    bins: TileBins,
    width: int,
    height: int,
    chunk_elements: int = 1 << 21,
    with_median: bool = False,
    store_elements: int = 1 << 24,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Composites binned Gaussians into C images of ``features`` (differentiable in all float inputs).

    Args:
        means2d: (P, 2) pixel centres. conics: (P, 3) inverse 2D covariances (a, b, c).
        opacities: (P,) in [0, 1]. features: (P, F) per-Gaussian values to composite (colours, depth, ...).
        bins: from ``isect_tiles`` on the same P Gaussians.
        width, height: image size; C = number of tiles / tiles per image.
        chunk_elements: at most this many (tile, pixel, slot) entries per chunk (memory bound).
        with_median: also find, per pixel, the last Gaussian met while the transmittance is above 0.5.
        store_elements: when the forward pass evaluates at most this many entries (and gradients are needed), it
            keeps three of their (tile, pixel, slot) tensors for the backward pass (12 bytes an entry in float32, so
            at most about 200 MB by default); beyond, the backward pass recomputes them.
    Returns:
        images (C, H, W, F) ``sum_i w_i f_i`` (no background), alphas (C, H, W, 1), and median ids (C, H, W)
        long into the P Gaussians (-1 where none, or where ``with_median`` is False).
    """
    n_tiles = bins.counts.shape[0]
    ts = bins.tile_size
    n_cams = n_tiles // (bins.tiles_x * bins.tiles_y)
    dev, dt = means2d.device, means2d.dtype
    basis = pixel_basis(ts, dev, dt)  # (S, 6)
    pixels = tile_centres(bins, dev, dt)[:, None, :] + basis[None, :, 3:5]  # (T, S, 2) pixel centres
    outside = (pixels[..., 0] > width) | (pixels[..., 1] > height)  # (T, S) padding pixels of border tiles
    if bins.n_isects == 0:  # nothing to draw: exact zeros, still connected to the graph
        zero = features.sum() * 0 + means2d.sum() * 0 + conics.sum() * 0 + opacities.sum() * 0
        out = features.new_zeros(n_tiles, ts * ts, features.shape[1]) + zero
        alpha = features.new_zeros(n_tiles, ts * ts) + zero
        median = torch.full((n_tiles, ts * ts), -1, dtype=torch.long, device=dev)
    else:
        coef = isect_coefficients(means2d, conics, opacities, bins)  # (I, 6)
        feats = features[bins.gauss_ids]  # (I, F)
        needs_grad = torch.is_grad_enabled() and (coef.requires_grad or feats.requires_grad)
        out, alpha, median = _Composite.apply(coef, feats, bins.starts, bins.counts, basis, outside,
                                              chunk_elements, store_elements if needs_grad else 0, with_median)
        median = torch.where(median >= 0, bins.gauss_ids[median.clamp_min(0)], median)

    def image(x: torch.Tensor) -> torch.Tensor:  # (T, S, ...) -> (C, H, W, ...)
        rest = x.shape[2:]
        x = x.reshape((n_cams, bins.tiles_y, bins.tiles_x, ts, ts) + rest)
        x = x.transpose(2, 3).reshape((n_cams, bins.tiles_y * ts, bins.tiles_x * ts) + rest)
        return x[:, :height, :width]

    return image(out), image(alpha[..., None]), image(median)
