"""Naive implicit / volume rendering: Python loops over rays, samples, pixels and voxel corners, on plain floats."""

from __future__ import annotations

import math


def harmonic_embedding_naive(x, frequencies, append_input, diag_cov=None):
    """One input row ``x`` (D floats) -> the embedding as a list (PyTorch3D's layout: all sines, all cosines, x)."""
    sines, cosines = [], []
    for i, xi in enumerate(x):
        for f in frequencies:
            damp = 1.0 if diag_cov is None else math.exp(-0.5 * f * f * diag_cov[i])
            sines.append(math.sin(f * xi) * damp)
            cosines.append(math.cos(f * xi) * damp)
    return sines + cosines + (list(x) if append_input else [])


def pixel_centre_ndc(index, size, other):
    """NDC coordinate of pixel ``index`` along an axis of ``size`` pixels (the other axis has ``other``):
    CONVENTIONS.md, the shorter side spans [-1, 1]."""
    half = max(size / other, 1.0)
    return half * (1.0 - (2 * index + 1) / size)


def fov_perspective_ray_naive(R, T, fov_degrees, aspect_ratio, x_ndc, y_ndc):
    """Origin and direction (view depth 1 per unit length) of the ray through NDC (x, y) of an FoV perspective camera
    with row-vector pose ``X_view = X_world @ R + T``; R (3x3) and T (3) as nested lists."""
    t = math.tan(math.radians(fov_degrees) / 2)
    d_view = [x_ndc * t * aspect_ratio, y_ndc * t, 1.0]
    # X_world = (X_view - T) @ R^T: a direction maps by R (column-vector form), the centre is -R T
    direction = [sum(R[a][b] * d_view[b] for b in range(3)) for a in range(3)]
    origin = [-sum(R[a][b] * T[b] for b in range(3)) for a in range(3)]
    return origin, direction


def emission_absorption_naive(opacities, features, surface_thickness=1, eps=1e-10):
    """One ray: opacities (P floats), features (P lists of F) -> (features F, opacity)."""
    P = len(opacities)
    out = [0.0] * len(features[0]) if P else []
    for k in range(P):
        transmitted = 1.0
        for j in range(k - surface_thickness + 1):
            transmitted *= 1.0 + eps - opacities[j]
        w = opacities[k] * transmitted
        for c in range(len(out)):
            out[c] += w * features[k][c]
    passed = 1.0
    for a in opacities:
        passed *= 1.0 - a
    return out, 1.0 - passed


def density_render_naive(sigmas, features, lengths, direction_norm=1.0, background=None, far_delta=1e10):
    """One ray, NeRF quadrature with the transmittance as a running product of interval transmissions.

    Returns (features F, depth, opacity, weights P)."""
    P = len(sigmas)
    weights = []
    transmittance = 1.0
    for k in range(P):
        delta = (lengths[k + 1] - lengths[k]) * direction_norm if k + 1 < P else far_delta
        passing = math.exp(-sigmas[k] * delta)
        weights.append(transmittance * (1.0 - passing))
        transmittance *= passing
    F = len(features[0])
    colour = [sum(weights[k] * features[k][c] for k in range(P)) for c in range(F)]
    opacity = sum(weights)
    depth = sum(w * t for w, t in zip(weights, lengths))
    if background is not None:
        colour = [colour[c] + (1.0 - opacity) * background[c] for c in range(F)]
    return colour, depth, opacity, weights


def sample_pdf_naive(bins, weights, quantiles, eps=1e-5):
    """One row by a linear scan over the bins (PyTorch3D's kernel without its binary search): bins (n+1 floats),
    weights (n floats), quantiles in [0, 1] -> samples."""
    n = len(weights)
    total = sum(weights) + eps
    out = []
    for u in quantiles:
        mass = u * total
        i = 0
        while i + 1 < n and mass > weights[i]:
            mass -= weights[i]
            i += 1
        start, end = bins[i], bins[i + 1]
        if mass > weights[i]:
            out.append(end)
        elif weights[i] > eps:
            out.append(start + mass / weights[i] * (end - start))
        else:
            out.append(start)
    return out


def trilinear_naive(grid, point, align_corners):
    """Value of grid (C, D, H, W nested lists or tensor) at local point (x, y, z) in [-1, 1] (x along W), zeros
    outside, as ``grid_sample(mode="bilinear", padding_mode="zeros")``."""
    C = len(grid)
    D, H, W = len(grid[0]), len(grid[0][0]), len(grid[0][0][0])
    pos = []
    for c, size in zip(point, (W, H, D)):
        pos.append((c + 1) / 2 * (size - 1) if align_corners else ((c + 1) * size - 1) / 2)
    base = [math.floor(p) for p in pos]
    frac = [p - b for p, b in zip(pos, base)]
    out = [0.0] * C
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                x, y, z = base[0] + dx, base[1] + dy, base[2] + dz
                if not (0 <= x < W and 0 <= y < H and 0 <= z < D):
                    continue
                w = 1.0
                for f, d in zip(frac, (dx, dy, dz)):
                    w *= f if d else 1 - f
                for c in range(C):
                    out[c] += w * float(grid[c][z][y][x])
    return out


def world_to_local_naive(point, grid_size_dhw, voxel_size, translation):
    """Volumes' world -> local map for one point: x_local = (x_world + translation) / ((size - 1) / 2 * voxel)."""
    sizes_xyz = (grid_size_dhw[2], grid_size_dhw[1], grid_size_dhw[0])
    return [(p + t) / ((s - 1) * 0.5 * v) for p, t, s, v in zip(point, translation, sizes_xyz, voxel_size)]
