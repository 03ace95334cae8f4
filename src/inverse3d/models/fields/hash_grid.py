"""Instant-NGP's multiresolution hash encoding and the field built on it.

``HashGridEncoding`` maps box coordinates in [0, 1]^3 to L levels x F features. Level l has resolution
``N_l = floor(N_min * b**l)`` with ``b = exp((ln N_max - ln N_min) / (L - 1))``: a point x lies in the cell of
grid vertices ``floor(x * N_l)`` (vertices 0 .. N_l on each axis) and gets the trilinear blend of its 8 corners'
feature vectors. A corner (i, j, k) of a level whose (N_l + 1)^3 vertices fit in the table (size T = 2^log2_T) is
stored densely at ``i + j (N_l + 1) + k (N_l + 1)^2``; finer levels hash it to
``(i * 1 XOR j * 2654435761 XOR k * 805459861) mod T`` (the same value as Instant-NGP's uint32 arithmetic, since T
divides 2^32). The tables of all levels sit end to end in one parameter, initialised uniformly in [-1e-4, 1e-4].
All levels, corners and points are computed together in tensor ops.

``HashGridField``: encoding -> density MLP (one hidden layer, 64 wide) giving a raw density and geometric features
-> colour MLP on those features and the encoded view direction (spherical harmonics of degree 4 by default).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from inverse3d.models.fields.base import RadianceField, check_points, encode_directions, mlp
from inverse3d.models.fields.encodings import direction_encoder, trunc_exp

PRIMES = (1, 2654435761, 805459861)



def level_resolutions(n_levels: int, base_resolution: int, finest_resolution: int) -> list[int]:
    """N_l = floor(N_min * b**l), b = exp((ln N_max - ln N_min) / (L - 1)), for l = 0 .. L-1."""
    if n_levels == 1:
        return [base_resolution]
    growth = math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (n_levels - 1))
    # the small epsilon keeps floor(N_min * b**(L-1)) at N_max despite rounding in the power
    return [int(math.floor(base_resolution * growth**level + 1e-6)) for level in range(n_levels)]


class HashGridEncoding(nn.Module):
    """Multiresolution hash encoding of points in the unit cube.

    Args:
        n_levels: L, the number of resolutions.
        n_features_per_level: F, features stored per grid vertex.
        log2_hashmap_size: T = 2**log2_hashmap_size entries per hashed level (at most 2**30).
        base_resolution: N_min, cells per axis of the coarsest level (>= 1).
        finest_resolution: N_max, cells per axis of the finest level (>= N_min).
        init_scale: table entries start uniform in [-init_scale, init_scale].

    Attributes:
        resolutions: list of the L values N_l.
        level_sizes: rows of each level's table: min((N_l + 1)^3, T).
        level_offsets: first row of each level's table. The hashed levels come first (their offsets are multiples
            of T, so an offset can be folded into the hash by XOR), the dense levels after them.
        table: (F, total rows) parameter, feature-major (a gather then reads one feature of many corners at a time,
            which the CPU does much faster than F interleaved values).
        output_dim: L * F.
    """

    def __init__(
        self,
        n_levels: int = 16,
        n_features_per_level: int = 2,
        log2_hashmap_size: int = 19,
        base_resolution: int = 16,
        finest_resolution: int = 2048,
        init_scale: float = 1e-4,
    ) -> None:
        super().__init__()
        if n_levels < 1 or n_features_per_level < 1:
            raise ValueError(
                f"need n_levels >= 1 and n_features_per_level >= 1, got {n_levels}, {n_features_per_level}"
            )
        if not 1 <= log2_hashmap_size <= 30:
            raise ValueError(f"log2_hashmap_size must be in [1, 30], got {log2_hashmap_size}")
        if base_resolution < 1 or finest_resolution < base_resolution:
            raise ValueError(
                f"need 1 <= base_resolution <= finest_resolution, got {base_resolution}, {finest_resolution}"
            )
        self.n_levels = n_levels
        self.n_features_per_level = n_features_per_level
        self.log2_hashmap_size = log2_hashmap_size
        self.base_resolution = base_resolution
        self.finest_resolution = finest_resolution
        self.output_dim = n_levels * n_features_per_level
        self.resolutions = level_resolutions(n_levels, base_resolution, finest_resolution)
        table_size = 2**log2_hashmap_size
        dense = [(r + 1) ** 3 <= table_size for r in self.resolutions]
        # resolutions grow with the level, so the dense levels are the first ones
        self.n_dense_levels = sum(dense)
        self.level_sizes = [min((r + 1) ** 3, table_size) for r in self.resolutions]
        n_hashed = n_levels - self.n_dense_levels
        offsets, row = [], n_hashed * table_size
        for level, size in enumerate(self.level_sizes):
            if dense[level]:
                offsets.append(row)
                row += size
            else:
                offsets.append((level - self.n_dense_levels) * table_size)
        self.level_offsets = offsets
        self.register_buffer("_resolution", torch.tensor(self.resolutions, dtype=torch.float32), persistent=False)
        # int64 indices: index_add_ (the backward) is many times slower with int32 ones on the CPU
        index_dtype = torch.int64
        self.register_buffer("_max_cell", torch.tensor(self.resolutions, dtype=index_dtype) - 1, persistent=False)
        # per level and axis: what a corner coordinate is multiplied by before the axes are combined (+ or XOR)
        strides = [[1, r + 1, (r + 1) ** 2] if d else list(PRIMES) for r, d in zip(self.resolutions, dense)]
        self.register_buffer("_strides", torch.tensor(strides, dtype=index_dtype), persistent=False)
        self.register_buffer("_offsets", torch.tensor(offsets, dtype=index_dtype), persistent=False)
        self.table = nn.Parameter(torch.empty(n_features_per_level, row).uniform_(-init_scale, init_scale))

    def extra_repr(self) -> str:
        return (
            f"levels={self.n_levels}, features={self.n_features_per_level}, log2_T={self.log2_hashmap_size}, "
            f"resolutions={self.resolutions[0]}..{self.resolutions[-1]}, dense_levels={self.n_dense_levels}"
        )

    def corner_indices_and_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Table rows and trilinear weights of the 8 corners of each point's cell at every level.

        Layout (level, corner, point): every op runs along the long point axis, and the gather and its scatter-add
        backward walk one level's table at a time (a level fits in the CPU cache; the whole table may not).

        Args:
            x: (P, 3) box coordinates, expected in [0, 1] (clamped here).

        Returns:
            index: (L, 8, P) long columns of ``table``; corner c = 4 bx + 2 by + bz is the vertex
                ``cell + (bx, by, bz)`` of the point's cell ``cell = min(floor(x N_l), N_l - 1)``.
            weight: (L, 8, P) trilinear weights, summing to 1 over the corners; differentiable in ``x``.
        """
        index, w = self._corners(x)
        weight = (w[:, 0, :, None] * w[:, 1, None, :])[:, :, :, None] * w[:, 2, None, None, :]  # (L, 2, 2, 2, P)
        return index, weight.view(self.n_levels, 8, x.shape[0])

    def corner_weights_and_derivatives(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``corner_indices_and_weights`` with the spatial derivatives of the weights, for analytic gradients.

        Args:
            x: (P, 3) box coordinates (clamped to [0, 1] as in the encoding).

        Returns:
            index: (L, 8, P) as ``corner_indices_and_weights``.
            weights: (4, L, 8, P): the trilinear weights, then their derivatives with respect to x_0, x_1, x_2 (zero
                on an axis where the point lies outside [0, 1], where the clamp holds the encoding constant). Not
                differentiable in ``x`` (the points of a rendering are constants of the loss).
        """
        with torch.no_grad():
            index, w = self._corners(x)  # w: (L, 3, 2, P) weights of corner bits 0 and 1 per axis
            res = self._resolution.to(x.dtype)
            inside = ((x >= 0) & (x <= 1)).to(x.dtype).t()  # (3, P)
            sign = torch.tensor([-1.0, 1.0], dtype=x.dtype, device=x.device)
            dw = sign[None, None, :, None] * (res[:, None, None, None] * inside[None, :, None, :])  # (L, 3, 2, P)
            L, P = self.n_levels, x.shape[0]
            out = torch.empty(4, L, 2, 2, 2, P, dtype=x.dtype, device=x.device)
            for k, (a, b, c) in enumerate([(w[:, 0], w[:, 1], w[:, 2]), (dw[:, 0], w[:, 1], w[:, 2]),
                                           (w[:, 0], dw[:, 1], w[:, 2]), (w[:, 0], w[:, 1], dw[:, 2])]):
                torch.mul((a[:, :, None] * b[:, None, :])[:, :, :, None], c[:, None, None, :], out=out[k])
        return index, out.view(4, L, 8, P)

    def _corners(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P, 3) box coordinates -> (index (L, 8, P) of the cell corners, per-axis weights (L, 3, 2, P) of corner
        bits 0 and 1, differentiable in ``x``)."""
        n_levels, n_points, nd = self.n_levels, x.shape[0], self.n_dense_levels
        xt = x.clamp(0.0, 1.0).t()  # (3, P)
        pos = xt[None] * self._resolution.to(x.dtype)[:, None, None]  # (L, 3, P) in vertex units
        idx_dtype = self._strides.dtype
        cell = torch.minimum(pos.detach().floor().to(idx_dtype), self._max_cell[:, None, None])  # x = 1 -> last cell
        frac = pos - cell.to(x.dtype)  # (L, 3, P) in [0, 1]

        # each axis's term of the index for corner bits 0 and 1: (L, 3, 2, P)
        strides = self._strides[:, :, None]  # (L, 3, 1)
        lo = cell * strides
        terms = torch.stack([lo, lo + strides], dim=2)
        # hashed levels: only the low log2_T bits matter (XOR commutes with the mod 2^T); their table offsets are
        # multiples of T, so OR-ing the offset into the x term places the hash in its level's table
        terms[nd:] &= 2**self.log2_hashmap_size - 1
        terms[nd:, 0] |= self._offsets[nd:, None, None]
        terms[:nd, 0] += self._offsets[:nd, None, None]  # dense levels: the offset is one more summand
        index = torch.empty(n_levels, 2, 2, 2, n_points, dtype=idx_dtype, device=x.device)
        d, h = terms[:nd], terms[nd:]
        torch.add(d[:, 0, :, None, None] + d[:, 1, None, :, None], d[:, 2, None, None, :], out=index[:nd])
        torch.bitwise_xor(h[:, 0, :, None, None] ^ h[:, 1, None, :, None], h[:, 2, None, None, :], out=index[nd:])
        w = torch.stack([1.0 - frac, frac], dim=2)  # (L, 3, 2, P): weights of bits 0 and 1 per axis
        return index.view(n_levels, 8, n_points), w

    def forward_with_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and their spatial Jacobian from one gather, differentiable in the table (not in ``x``).

        Args:
            x: (P, 3) box coordinates in [0, 1].
        Returns:
            features (P, L * F) as ``forward``, and jacobian (P, L * F, 3): d features / d x (box coordinates).

        Both are linear in the table, so a loss on an analytic spatial gradient built from the Jacobian (the eikonal
        term of an SDF) trains the table with first derivatives only, instead of autograd's second derivatives
        through the gather.
        """
        check_points(x)
        index, weights = self.corner_weights_and_derivatives(x.reshape(-1, 3))
        out = _InterpolateMany.apply(self.table, index, weights.to(self.table.dtype))  # (4, F, L, P)
        P = index.shape[-1]
        feats = out[0].permute(2, 1, 0).reshape(P, self.output_dim)
        jac = out[1:].permute(3, 2, 1, 0).reshape(P, self.output_dim, 3)
        return feats, jac

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 3) box coordinates in [0, 1] -> (..., L * F) features (level-major: level 0's F, level 1's F, ...)."""
        check_points(x)
        batch = x.shape[:-1]
        index, weight = self.corner_indices_and_weights(x.reshape(-1, 3))
        out = _Interpolate.apply(self.table, index, weight.to(self.table.dtype))  # (F, L, P)
        return out.permute(2, 1, 0).reshape(*batch, self.output_dim)


class _Interpolate(torch.autograd.Function):
    """``sum_c weight[l, c, p] * table[:, index[l, c, p]]``: (F, rows), (L, 8, P), (L, 8, P) -> (F, L, P).

    Written out so that the backward is one product and one ``index_add_`` (the fast scatter on the CPU), without
    the expanded copies autograd makes for gather -> multiply -> sum.
    """

    @staticmethod
    def forward(ctx, table: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        n_feats, (n_levels, n_corners, n_points) = table.shape[0], index.shape
        feats = table.index_select(1, index.view(-1)).view(n_feats, n_levels, n_corners, n_points)
        ctx.save_for_backward(table, index, weight)
        return feats.mul_(weight).sum(2)  # feats is a fresh gather: multiply in place

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        table, index, weight = ctx.saved_tensors
        grad = grad_out.contiguous()[:, :, None, :]  # (F, L, 1, P)
        grad_table = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_table = torch.zeros_like(table).index_add_(1, index.view(-1), (grad * weight).view(table.shape[0], -1))
        if ctx.needs_input_grad[2]:
            feats = table.index_select(1, index.view(-1)).view(table.shape[0], *index.shape)
            grad_weight = (feats * grad).sum(0)
        return grad_table, None, grad_weight


class _InterpolateMany(torch.autograd.Function):
    """``K`` interpolations sharing one gather: ``out[k] = sum_c weights[k, l, c, p] * table[:, index[l, c, p]]``:
    (F, rows), (L, 8, P), (K, L, 8, P) -> (K, F, L, P); differentiable in the table only (the weights are constants).

    The backward is one ``index_add_`` of ``sum_k grad[k] * weights[k]``.
    """

    @staticmethod
    def forward(ctx, table: torch.Tensor, index: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        n_feats, (n_levels, n_corners, n_points) = table.shape[0], index.shape
        feats = table.index_select(1, index.view(-1)).view(n_feats, n_levels, n_corners, n_points)
        out = torch.stack([(feats * weights[k]).sum(2) for k in range(weights.shape[0])])
        ctx.save_for_backward(index, weights)
        ctx.table_shape = table.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        index, weights = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        grad = grad_out[0][:, :, None, :] * weights[0]  # (F, L, 8, P)
        for k in range(1, weights.shape[0]):
            grad.addcmul_(grad_out[k][:, :, None, :], weights[k])
        n_feats = ctx.table_shape[0]
        grad_table = grad_out.new_zeros(ctx.table_shape).index_add_(1, index.view(-1), grad.view(n_feats, -1))
        return grad_table, None, None


class HashGridField(RadianceField):
    """Instant-NGP's field: hash encoding -> density MLP -> colour MLP with the encoded view direction.

    Args:
        bounds: (lo (3,), hi (3,)) the scene box; points outside it get density 0.
        n_levels, n_features_per_level, log2_hashmap_size, base_resolution, finest_resolution: of the encoding
            (``finest_resolution`` is over the whole box; about 4x the image size along the box is plenty).
        hidden_dim: width of the density MLP's hidden layer (one layer).
        geo_feat_dim: geometric features passed from the density MLP to the colour MLP.
        hidden_dim_color, n_hidden_color: width and number of hidden layers of the colour MLP.
        direction_encoding: "sh" (spherical harmonics, ``sh_degree`` bands), "harmonic" (sin/cos with
            ``n_harmonic_functions_dir`` octaves) or None (colour independent of the view direction).
        density_activation: "trunc_exp" (Instant-NGP), "exp", "softplus" or "relu".
        density_bias: added to the raw density before the activation (-1 starts the scene mostly empty).

    Defaults are sized for CPU training of a 128x128 scene in minutes (see ``benchmarks/bench_fields.py``):
    a 2^17-entry table instead of Instant-NGP's 2^19, and a finest resolution of 512.
    """

    def __init__(
        self,
        bounds: Sequence,
        n_levels: int = 16,
        n_features_per_level: int = 2,
        log2_hashmap_size: int = 17,
        base_resolution: int = 16,
        finest_resolution: int = 512,
        hidden_dim: int = 64,
        geo_feat_dim: int = 15,
        hidden_dim_color: int = 64,
        n_hidden_color: int = 2,
        direction_encoding: str | None = "sh",
        sh_degree: int = 4,
        n_harmonic_functions_dir: int = 4,
        density_activation: str = "trunc_exp",
        density_bias: float = -1.0,
    ) -> None:
        super().__init__(bounds)
        if density_activation not in _DENSITY_ACTIVATIONS:
            raise ValueError(
                f"density_activation must be one of {sorted(_DENSITY_ACTIVATIONS)}, got {density_activation!r}"
            )
        self.encoding = HashGridEncoding(
            n_levels, n_features_per_level, log2_hashmap_size, base_resolution, finest_resolution
        )
        self.geo_feat_dim = geo_feat_dim
        self.density_net = mlp(self.encoding.output_dim, hidden_dim, 1, 1 + geo_feat_dim)
        self.direction_encoding = direction_encoder(direction_encoding, sh_degree, n_harmonic_functions_dir)
        dir_dim = 0 if self.direction_encoding is None else self.direction_encoding.output_dim
        self.color_net = mlp(geo_feat_dim + dir_dim, hidden_dim_color, n_hidden_color, 3)
        self.density_activation = density_activation
        self.density_bias = density_bias

    @property
    def view_dependent(self) -> bool:
        return self.direction_encoding is not None

    def _geometry(self, points: torch.Tensor, known_inside: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) world points -> (sigma (..., 1), geometric features (..., geo_feat_dim)).

        ``known_inside``: the caller guarantees every point lies in the box (skips the masking by the box)."""
        check_points(points)
        h = self.density_net(self.encoding(self.to_unit(points)))  # (..., 1 + G)
        raw, geo = h[..., :1], h[..., 1:]
        sigma = _DENSITY_ACTIVATIONS[self.density_activation](raw + self.density_bias)
        if not known_inside:
            sigma = sigma * self.inside(points)[..., None].to(sigma.dtype)  # empty outside the box
        return sigma, geo

    def encode_view(self, directions: torch.Tensor) -> torch.Tensor | None:
        """(..., 3) directions -> (..., D) their encoding (normalised first), or None for a view-independent field.

        With ``forward_encoded`` a renderer encodes each ray's direction once and gathers it for the ray's samples.
        """
        if self.direction_encoding is None:
            return None
        return self.direction_encoding(torch.nn.functional.normalize(directions, dim=-1))

    def forward_encoded(
        self, points: torch.Tensor, view_features: torch.Tensor | None, known_inside: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` with the directions already encoded: points (P, 3), ``encode_view`` output (P, D) (None
        for a view-independent field) -> (sigma (P, 1), rgb (P, 3)). ``known_inside`` as in ``_geometry``."""
        sigma, geo = self._geometry(points, known_inside)
        if self.direction_encoding is None:
            h = geo
        else:
            if view_features is None:
                raise ValueError("this field is view dependent: pass view_features from encode_view")
            h = torch.cat([geo, view_features.to(geo.dtype)], dim=-1)
        return sigma, torch.sigmoid(self.color_net(h))

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., 1) density >= 0."""
        return self._geometry(points)[0]

    def forward(
        self, points: torch.Tensor, directions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) points and unit directions (per point or per ray) -> (sigma (..., 1), rgb (..., 3))."""
        sigma, geo = self._geometry(points)
        if self.direction_encoding is None:
            h = geo
        else:
            if directions is None:
                raise ValueError("this field is view dependent: pass directions (..., 3)")
            d = encode_directions(self.direction_encoding, directions.to(geo.dtype), points)
            h = torch.cat([geo, d], dim=-1)
        return sigma, torch.sigmoid(self.color_net(h))


_DENSITY_ACTIVATIONS = {
    "trunc_exp": trunc_exp,
    "exp": torch.exp,
    "softplus": torch.nn.functional.softplus,
    "relu": torch.relu,
}
