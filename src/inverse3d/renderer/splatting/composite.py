"""Front-to-back alpha compositing of tile-binned 2D Gaussians, with a hand-written backward pass.

Per pixel, the Gaussians of its tile are visited in depth order, as the 3DGS CUDA kernel does:
``alpha_i = min(0.99, opacity_i exp(-q_i / 2))`` with ``q_i`` the Mahalanobis distance of the pixel centre;
alphas below 1/255 are skipped; compositing stops before the first Gaussian that would bring the transmittance
below 1e-4. Outputs are ``sum_i w_i f_i`` with ``w_i = alpha_i T_i``, ``T_i = prod_{j<i} (1 - alpha_j)``, and the
alpha ``1 - T_final``.

The work is laid out as (tiles, depth slots, pixels of a tile) tensors and walked in chunks of depth slots: tiles
whose pixels have all terminated, or whose lists are exhausted, drop out of later chunks, and each chunk holds at
most ``chunk_elements`` (tile, slot, pixel) entries (large images are walked in groups of tiles), which bounds
memory. Chunk lengths are chosen to waste little on padding past the ends of short lists (``_chunk_length``).
Each pixel's log-alpha is one small matrix product: ``log(opacity) - q / 2`` is a quadratic in the pixel's
tile-local coordinates, so with the monomials ``(x^2, xy, y^2, x, y, 1)`` of the tile's pixels (S, 6) and six
coefficients per (Gaussian, tile) it is ``coefficients @ basis.T``. The backward pass reuses the forward's chunks
when they are few (``store_elements``), else walks them again, and forms the gradients in closed form:
``dL/dalpha_i = T_i g_i - R_i / (1 - alpha_i) + gA T_final / (1 - alpha_i)`` with ``g_i = dL/dout . f_i`` and
``R_i = sum_{j>i} w_j g_j`` (the clamped and skipped alphas pass no gradient, as in 3DGS).

Speed on the CPU: masks are applied with ``threshold`` and products by 0/1 rather than ``where`` / ``masked_fill``
(about ten times slower per element there); padding slots point at an extra all-transparent row instead of being
masked; the transmittance is one in-place ``cumprod`` over a buffer whose first slot holds the incoming
transmittance.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import torch

from inverse3d.renderer.splatting.tiles import ALPHA_MIN, TileBins

ALPHA_MAX = 0.99  # alphas are clamped to this, as in 3DGS
T_MIN = 1e-4  # compositing stops before transmittance falls below this


class _Chunk(NamedTuple):
    tiles: torch.Tensor  # (B,) tiles of this chunk
    idx: torch.Tensor  # (B, L) intersections; padding slots point at the extra row I (see ``_Composite``)
    alpha: torch.Tensor  # (B, L, S) effective alpha (0 where skipped, padded or terminated)
    trans: torch.Tensor  # (B, L + 1, S) transmittance: trans[:, l] in front of slot l, trans[:, l + 1] behind it
    weights: torch.Tensor  # (B, L, S) alpha * transmittance in front
    ratio: torch.Tensor  # (B, L, S) alpha / (1 - alpha) where the alpha passes gradients, else 0 (None: unneeded)
    t_in: torch.Tensor  # (B, S) transmittance before the chunk (0: pixel stopped earlier, or padding pixel)
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
    per_gauss = torch.cat([means2d, conics, torch.log(opacities)[:, None]], dim=-1)  # (P, 6): one gather, not four
    centres = tile_centres(bins, means2d.device, means2d.dtype).index_select(0, bins.tile_ids)  # (I, 2)
    mx, my, a, b, c, log_o = per_gauss.index_select(0, g).unbind(-1)  # (I,) each
    mx, my = mx - centres[:, 0], my - centres[:, 1]  # tile-local centre
    u = a * mx + b * my
    v = b * mx + c * my
    const = log_o - 0.5 * (mx * u + my * v)
    return torch.stack([-0.5 * a, -b, -0.5 * c, u, v, const], dim=-1)


_PAD_POWER = -1e4  # log-alpha of padding slots: exp gives exactly 0
_CHUNK_OVERHEAD = 65536  # fixed cost of a chunk (Python, ~100 op launches) in (slot, pixel) entries; 16k..128k
# time the same on one thread, and the larger value means fewer chunks (about 6 at 10k@160x90), fewer thread syncs


def _chunk_length(remaining: torch.Tensor, s_pix: int, longest: int, budget: int) -> int:
    """Slots L of the next chunk: among 8, 16, 32, ... (at most ``longest``, and at least one tile's list), the
    length that evaluates the most real entries per unit of work, work being ``B * L * S`` entries (padding
    included) plus a fixed ``_CHUNK_OVERHEAD`` per chunk. Shorter chunks waste less on padding past the ends of
    short lists; longer ones pay the per-chunk overhead less often.

    Args:
        remaining: (B,) long > 0, slots left in each active tile's list. s_pix: S.
        longest: max(remaining). budget: at most this many slots (memory bound), >= 1.
    """
    cands = []
    length = 8
    while length < min(longest, budget):
        cands.append(length)
        length *= 2
    cands.append(min(longest, budget))
    if len(cands) == 1:
        return cands[0]
    lengths = torch.tensor(cands, device=remaining.device)
    useful = torch.minimum(remaining[None, :], lengths[:, None]).sum(dim=1).double()  # (K,) real slots
    cost = lengths.double() * remaining.shape[0] + _CHUNK_OVERHEAD / s_pix
    return cands[int(torch.argmax(useful / cost))]


def _walk(coef, starts, counts, basis, outside, chunk_elements, with_ratio) -> Iterator[_Chunk]:
    """Visits the (tile, slot, pixel) work in depth chunks, yielding each chunk's alphas and transmittances.

    ``coef`` (I + 1, 6) ends with a padding row (log-alpha ``_PAD_POWER``); ``with_ratio``: also form ``ratio``
    (needed by the backward pass only). Masks are applied with ``threshold`` and products by 0/1, which cost a
    fraction of ``where`` / ``masked_fill`` on the CPU.
    """
    n_tiles, s_pix = outside.shape
    n_isects = coef.shape[0] - 1
    dt = coef.dtype
    # alpha >= ALPHA_MIN  <=>  alpha > (the float just below ALPHA_MIN), the test ``threshold`` makes
    below_min = float(torch.nextafter(torch.tensor(ALPHA_MIN, dtype=dt), torch.tensor(0.0, dtype=dt)))
    # clamped alphas (== ALPHA_MAX) pass no gradient: 1 - alpha is exact there (Sterbenz), so test 1 - alpha
    one_minus_max = float(1.0 - torch.tensor(ALPHA_MAX, dtype=dt))
    trans = (~outside).to(dt)  # (T, S) running transmittance; 0 once a pixel stopped (or is padding)
    longest = int(counts.max()) if counts.numel() else 0
    slots = torch.arange(longest, device=coef.device)
    group = max(1, chunk_elements // (16 * s_pix))  # tiles walked together (large images: several groups)
    for first in range(0, n_tiles, group):
        tiles = torch.arange(first, min(first + group, n_tiles), device=coef.device)
        active = tiles[(counts[tiles] > 0) & (trans[tiles] > 0).any(dim=1)]
        start = 0
        while active.numel() > 0:
            b = active.numel()
            remaining = counts[active] - start  # (B,) > 0
            length = _chunk_length(remaining, s_pix, int(remaining.max()), max(1, chunk_elements // (b * s_pix)))
            idx = starts[active, None] + start + slots[None, :length]  # (B, L)
            idx = torch.where(slots[None, :length] >= remaining[:, None], n_isects, idx)  # padding -> row I
            cf = coef.index_select(0, idx.reshape(-1)).reshape(b, length, 6)  # (B, L, 6)
            raw = torch.matmul(cf, basis.T).exp_()  # (B, L, S) opacity * exp(-q / 2)
            alpha = torch.nn.functional.threshold_(raw, below_min, 0.0).clamp_max_(ALPHA_MAX)  # skip, clamp
            t_in = trans[active]  # (B, S)
            tr = alpha.new_empty(b, length + 1, s_pix)
            tr[:, 0] = t_in
            torch.sub(1.0, alpha, out=tr[:, 1:])  # 1 - alpha
            # denominators of ratio = alpha / (1 - alpha): inf where the alpha is clamped (it passes no gradient)
            inv = torch.nn.functional.threshold(tr[:, 1:], one_minus_max, float("inf")) if with_ratio else None
            tr.cumprod_(dim=1)  # (B, L + 1, S) transmittance in front of each slot, then behind the last
            # stop before T < T_MIN (a prefix: T never increases); also zeroes pixels stopped earlier (t_in = 0)
            alpha.mul_(torch.ge(tr[:, 1:], T_MIN, out=torch.empty_like(alpha)))
            weights = alpha * tr[:, :-1]
            t_out = t_in - weights.sum(dim=1)
            stops = (tr[:, -1] < T_MIN) & (t_in > 0)
            ratio = torch.div(alpha, inv, out=inv) if with_ratio else None
            yield _Chunk(active, idx, alpha, tr, weights, ratio, t_in, t_out, stops)
            trans[active] = torch.where(stops, torch.zeros_like(t_out), t_out)
            start += length
            active = active[(counts[active] > start) & (trans[active] > 0).any(dim=1)]


class _Composite(torch.autograd.Function):
    """Compositing with a closed-form backward. Inputs ``coef`` (I, 6) and ``features`` (I, F) get an extra row
    (padding: alpha 0, features 0), so that padded slots are gathered and scattered like real ones, without masks.
    """

    @staticmethod
    def forward(ctx, coef, features, starts, counts, basis, outside, chunk_elements, store_elements, with_median):
        n_tiles, s_pix = outside.shape
        coef_x = torch.cat([coef, coef.new_tensor([[0.0, 0.0, 0.0, 0.0, 0.0, _PAD_POWER]])])  # (I + 1, 6)
        feat_x = torch.cat([features, features.new_zeros(1, features.shape[1])])  # (I + 1, F)
        n_feat = features.shape[1]
        out = features.new_zeros(n_tiles, s_pix, n_feat)  # (T, S, F)
        final = features.new_ones(n_tiles, s_pix)  # (T, S) transmittance at the end
        median = torch.full((n_tiles, s_pix), -1, dtype=torch.long, device=features.device)
        stored, n_stored = [], 0
        for ch in _walk(coef_x, starts, counts, basis, outside, chunk_elements, with_ratio=store_elements > 0):
            f = feat_x.index_select(0, ch.idx.reshape(-1)).reshape(ch.idx.shape + (n_feat,))  # (B, L, F)
            out.index_add_(0, ch.tiles, torch.bmm(ch.weights.transpose(1, 2), f))
            final[ch.tiles] = torch.where(ch.t_in > 0, ch.t_out, final[ch.tiles])
            if with_median:
                length = ch.alpha.shape[1]
                hit = (ch.alpha > 0) & (ch.trans[:, :-1] > 0.5)  # 2DGS: the last Gaussian met while T > 0.5
                pos = torch.where(hit, torch.arange(length, device=hit.device)[:, None], -1).amax(dim=1)  # (B, S)
                ids = torch.gather(ch.idx, 1, pos.clamp_min(0))
                median[ch.tiles] = torch.where(pos >= 0, ids, median[ch.tiles])
            if stored is not None:
                n_stored += ch.alpha.numel()
                if n_stored <= store_elements:
                    stored.append((ch.tiles, ch.idx, f, ch.weights, ch.trans[:, 1:], ch.ratio))
                else:
                    stored = None  # too much to keep: the backward pass recomputes the chunks
        ctx.save_for_backward(coef_x, feat_x, starts, counts, basis, outside, out, final)
        ctx.chunk_elements, ctx.stored = chunk_elements, stored
        ctx.mark_non_differentiable(median)
        return out, 1.0 - final, median

    @staticmethod
    def backward(ctx, g_out, g_alpha, _g_median):
        """With g_i = dL/dout . f_i and R_i = sum_{j>i} w_j g_j, the gradient of a live log-alpha is
        ``w_i g_i - ratio_i (R_i - gA T_final)``, and ``w_i = ratio_i T_after_i``; so with
        ``acc_i = sum_{j<=i} w_j g_j - base`` (base = sum_j w_j g_j - gA T_final, hence acc_i = gA T_final - R_i):
        ``dL/dpower_i = ratio_i (T_after_i g_i + acc_i)``."""
        coef_x, feat_x, starts, counts, basis, outside, out, final = ctx.saved_tensors
        g_out = g_out.contiguous()
        n_feat = feat_x.shape[1]
        g_coef = torch.zeros_like(coef_x)  # (I + 1, 6); the padding row collects garbage and is dropped
        g_feat = torch.zeros_like(feat_x)
        acc = (g_alpha * final - (g_out * out).sum(dim=-1)).contiguous()  # (T, S) -base, then running acc

        def recompute():
            for ch in _walk(coef_x, starts, counts, basis, outside, ctx.chunk_elements, with_ratio=True):
                f = feat_x.index_select(0, ch.idx.reshape(-1)).reshape(ch.idx.shape + (n_feat,))
                yield ch.tiles, ch.idx, f, ch.weights, ch.trans[:, 1:], ch.ratio

        chunks = ctx.stored if ctx.stored is not None else recompute()
        for tiles, idx, f, weights, t_after, ratio in chunks:
            go = g_out.index_select(0, tiles)  # (B, S, F)
            g = torch.bmm(f, go.transpose(1, 2))  # (B, L, S) dL/dout . f_i
            csum = torch.mul(weights, g)
            torch.cumsum(csum, dim=1, out=csum)
            csum.add_(acc.index_select(0, tiles)[:, None, :])  # acc_i
            acc[tiles] = csum[:, -1]
            g_power = csum.addcmul_(t_after, g).mul_(ratio)  # dL/dlog(alpha_i)
            flat = idx.reshape(-1)
            g_coef.index_copy_(0, flat, torch.matmul(g_power, basis).reshape(-1, 6))  # (B * L, 6)
            g_feat.index_copy_(0, flat, torch.bmm(weights, go).reshape(-1, n_feat))  # (B * L, F)
        ctx.stored = None
        return g_coef[:-1], g_feat[:-1], None, None, None, None, None, None, None


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
        chunk_elements: at most this many (tile, slot, pixel) entries per chunk (memory bound).
        with_median: also find, per pixel, the last Gaussian met while the transmittance is above 0.5.
        store_elements: when the forward pass evaluates at most this many entries (and gradients are needed), it
            keeps three of their (tile, slot, pixel) tensors for the backward pass (12 bytes an entry in float32, so
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
