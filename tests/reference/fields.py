"""Naive oracles for the radiance fields: hash encoding, trilinear grid lookup, total variation, occupancy cells.

Each is a Python loop over points, levels, corners or voxels, written straight from the definitions in the
docstrings of ``inverse3d.models.fields``; they work on any float dtype and stay differentiable where noted.
"""

from __future__ import annotations

import math

import torch

PRIMES = (1, 2654435761, 805459861)


def hash_encoding_naive(x, table, resolutions, level_offsets, level_sizes, log2_hashmap_size):
    """Instant-NGP hash encoding, one point, level and corner at a time.

    Args:
        x: (P, 3) box coordinates in [0, 1].
        table: (rows, F) features (differentiable); level l's table is rows
            ``level_offsets[l] .. level_offsets[l] + level_sizes[l] - 1``.
        resolutions: N_l per level.

    Returns:
        (P, L * F)
    """
    T = 2**log2_hashmap_size
    rows = []
    for p in range(x.shape[0]):
        feats = []
        for level, n in enumerate(resolutions):
            offset = level_offsets[level]
            pos = [float(x[p, a].clamp(0, 1)) * n for a in range(3)]
            cell = [min(int(math.floor(v)), n - 1) for v in pos]
            frac = [pos[a] - cell[a] for a in range(3)]
            acc = table.new_zeros(table.shape[1])
            for bz in (0, 1):
                for by in (0, 1):
                    for bx in (0, 1):
                        i, j, k = cell[0] + bx, cell[1] + by, cell[2] + bz
                        if (n + 1) ** 3 <= T:
                            row = i + j * (n + 1) + k * (n + 1) ** 2
                        else:
                            # Instant-NGP's uint32 arithmetic, then mod T
                            h = ((i * PRIMES[0]) ^ (j * PRIMES[1]) ^ (k * PRIMES[2])) & 0xFFFFFFFF
                            row = h % T
                        assert row < level_sizes[level]
                        w = (frac[0] if bx else 1 - frac[0]) * (frac[1] if by else 1 - frac[1])
                        w *= frac[2] if bz else 1 - frac[2]
                        acc = acc + w * table[offset + row]
            feats.append(acc)
        rows.append(torch.cat(feats))
    return torch.stack(rows)


def trilinear_naive(grid, points, lo, hi):
    """Trilinear lookup of a vertex grid over the box [lo, hi], one point at a time.

    Args:
        grid: (C, D, H, W) values at vertices: grid[:, k, j, i] sits at world
            (lo_x + i (hi_x - lo_x) / (W - 1), lo_y + j (hi_y - lo_y) / (H - 1), lo_z + k (hi_z - lo_z) / (D - 1)).
        points: (P, 3) world points inside the box (differentiable).
        lo, hi: (3,) box corners.

    Returns:
        (P, C)
    """
    C, D, H, W = grid.shape
    sizes = (W, H, D)
    out = []
    for p in range(points.shape[0]):
        u = [(points[p, a] - float(lo[a])) / float(hi[a] - lo[a]) * (sizes[a] - 1) for a in range(3)]
        cell = [min(max(int(math.floor(float(u[a].detach()))), 0), sizes[a] - 2) for a in range(3)]
        f = [u[a] - cell[a] for a in range(3)]
        acc = grid.new_zeros(C) + 0 * points[p].sum()
        for bz in (0, 1):
            for by in (0, 1):
                for bx in (0, 1):
                    w = (f[0] if bx else 1 - f[0]) * (f[1] if by else 1 - f[1]) * (f[2] if bz else 1 - f[2])
                    acc = acc + w * grid[:, cell[2] + bz, cell[1] + by, cell[0] + bx]
        out.append(acc)
    return torch.stack(out)


def total_variation_naive(grid):
    """Mean over the three axes of the mean squared difference of neighbouring voxels, channels averaged.

    Args:
        grid: (C, D, H, W).
    """
    C, D, H, W = grid.shape
    sums = [0.0, 0.0, 0.0]
    counts = [0, 0, 0]
    for c in range(C):
        for k in range(D):
            for j in range(H):
                for i in range(W):
                    v = float(grid[c, k, j, i])
                    if i + 1 < W:
                        sums[0] += (float(grid[c, k, j, i + 1]) - v) ** 2
                        counts[0] += 1
                    if j + 1 < H:
                        sums[1] += (float(grid[c, k, j + 1, i]) - v) ** 2
                        counts[1] += 1
                    if k + 1 < D:
                        sums[2] += (float(grid[c, k + 1, j, i]) - v) ** 2
                        counts[2] += 1
    return sum(s / n for s, n in zip(sums, counts)) / 3.0


def occupied_cells_naive(density_fn, lo, hi, resolution, threshold):
    """Cells (ix, iy, iz) of a resolution^3 grid over [lo, hi] whose centre density exceeds ``threshold``."""
    out = set()
    size = [(float(hi[a]) - float(lo[a])) / resolution for a in range(3)]
    for ix in range(resolution):
        for iy in range(resolution):
            for iz in range(resolution):
                centre = torch.tensor(
                    [[float(lo[0]) + (ix + 0.5) * size[0], float(lo[1]) + (iy + 0.5) * size[1],
                      float(lo[2]) + (iz + 0.5) * size[2]]]
                )
                if float(density_fn(centre).reshape(-1)[0]) > threshold:
                    out.add((ix, iy, iz))
    return out
