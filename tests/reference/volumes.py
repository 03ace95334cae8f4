"""Naive point splatting into voxel grids: point by point, corner by corner."""

from __future__ import annotations

import math


def splat_naive(points, feats, densities, features, grid_sizes, mode, mask=None, align_corners=True):
    """Votes of each point into (N, 1, D, H, W) densities and (N, C, D, H, W) features (sums, no rescaling).

    Args:
        points: (N, P, 3) local coordinates; feats: (N, P, C); grid_sizes: (N, 3) (D, H, W) per grid.
    """
    dens = densities.clone().double()
    feat = features.clone().double()
    N, P, _ = points.shape
    for n in range(N):
        D, H, W = (int(v) for v in grid_sizes[n])
        size = (W, H, D)
        for p in range(P):
            if mask is not None and float(mask[n, p]) == 0:
                continue
            pos = []
            for a in range(3):
                c = float(points[n, p, a])
                pos.append((c + 1) * 0.5 * (size[a] - 1) if align_corners else (c + 1) * 0.5 * size[a] - 0.5)
            if mode == "nearest":
                corner = [int(math.copysign(math.floor(abs(c) + 0.5), c)) for c in pos]
                votes = [(corner, 1.0)]
            else:
                base = [math.floor(c) for c in pos]
                frac = [c - b for c, b in zip(pos, base)]
                votes = []
                for dx in (0, 1):
                    for dy in (0, 1):
                        for dz in (0, 1):
                            w = 1.0
                            for a, d in enumerate((dx, dy, dz)):
                                w *= frac[a] if d else 1 - frac[a]
                            votes.append(([base[0] + dx, base[1] + dy, base[2] + dz], w))
            for (x, y, z), w in votes:
                if 0 <= x < W and 0 <= y < H and 0 <= z < D:
                    dens[n, 0, z, y, x] += w
                    feat[n, :, z, y, x] += w * feats[n, p].double()
    return feat, dens
