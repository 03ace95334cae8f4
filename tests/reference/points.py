"""Naive point rasterisation and compositing: Python loops over pixels and points, for tests only.

The inputs are plain tensors, not Pointclouds, so the oracle depends on nothing but torch: ``points`` (P, 3)
packed NDC x, y and depth z; ``first`` and ``counts`` (N,) give each cloud's slice of the packed points.
"""

from __future__ import annotations

import torch


def pixel_centre(i: int, j: int, H: int, W: int) -> tuple[float, float]:
    """NDC (x, y) of the centre of row i, column j (CONVENTIONS.md: the shorter side spans [-1, 1])."""
    S = min(H, W)
    return W / S - (2 * j + 1) / S, H / S - (2 * i + 1) / S


def rasterize_points_naive(
    points: torch.Tensor,
    first: list[int],
    counts: list[int],
    H: int,
    W: int,
    radius: float | torch.Tensor,
    K: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns idx (N, H, W, K) long, zbuf and dists (N, H, W, K) in the dtype of points, -1 where empty.

    ``radius`` is a float or a (P,) tensor of packed radii. Ties in z keep the packed order.
    """
    N, P = len(first), points.shape[0]
    radii = radius.tolist() if torch.is_tensor(radius) else [float(radius)] * P
    pts = points.tolist()
    idx = torch.full((N, H, W, K), -1, dtype=torch.long)
    zbuf = torch.full((N, H, W, K), -1.0, dtype=points.dtype)
    dists = torch.full((N, H, W, K), -1.0, dtype=points.dtype)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                xf, yf = pixel_centre(i, j, H, W)
                hits = []
                for p in range(first[n], first[n] + counts[n]):
                    x, y, z = pts[p]
                    if z < 0:
                        continue
                    d2 = (xf - x) ** 2 + (yf - y) ** 2
                    if d2 < radii[p] ** 2:
                        hits.append((z, p, d2))
                hits.sort(key=lambda h: (h[0], h[1]))
                for k, (z, p, d2) in enumerate(hits[:K]):
                    idx[n, i, j, k] = p
                    zbuf[n, i, j, k] = z
                    dists[n, i, j, k] = d2
    return idx, zbuf, dists


def alpha_composite_naive(idx: torch.Tensor, alphas: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """idx, alphas (N, K, H, W); features (C, P) -> (N, C, H, W), one pixel and one point at a time."""
    N, K, H, W = idx.shape
    out = features.new_zeros(N, features.shape[0], H, W)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                transmittance = features.new_ones(())
                for k in range(K):
                    p = int(idx[n, k, i, j])
                    if p < 0:
                        continue
                    a = alphas[n, k, i, j]
                    out[n, :, i, j] = out[n, :, i, j] + transmittance * a * features[:, p]
                    transmittance = transmittance * (1 - a)
    return out


def norm_weighted_sum_naive(idx: torch.Tensor, alphas: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """idx, alphas (N, K, H, W); features (C, P) -> (N, C, H, W): sum a_k f_k / max(sum a_k, 1e-4)."""
    N, K, H, W = idx.shape
    out = features.new_zeros(N, features.shape[0], H, W)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                total = features.new_zeros(())
                acc = features.new_zeros(features.shape[0])
                for k in range(K):
                    p = int(idx[n, k, i, j])
                    if p < 0:
                        continue
                    total = total + alphas[n, k, i, j]
                    acc = acc + alphas[n, k, i, j] * features[:, p]
                out[n, :, i, j] = acc / torch.clamp(total, min=1e-4)
    return out
