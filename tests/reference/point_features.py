"""Naive per-point features: neighbourhood covariances and normals, and bilinear sampling of feature maps."""

from __future__ import annotations

import numpy as np
import torch


def local_frames_naive(points: torch.Tensor, K: int, disambiguate: bool = True):
    """Curvatures (P, 3) and frames (P, 3, 3) of one cloud (P, 3), point by point with numpy.

    The K nearest neighbours (the point included) of each point give a covariance; its eigenvectors (ascending)
    are the frame's columns; with ``disambiguate`` the first and last are flipped unless at least half of the
    neighbours lie on their positive side, and the middle one is their cross product.
    """
    pts = points.double().numpy()
    pts = pts - pts.mean(0)
    curv, frames = [], []
    for i in range(pts.shape[0]):
        d = ((pts - pts[i]) ** 2).sum(1)
        nn = pts[np.argsort(d, kind="stable")[:K]]
        c = nn - nn.mean(0)
        cov = c.T @ c / K
        w, v = np.linalg.eigh(cov)
        if disambiguate:
            cols = []
            for col in (0, 2):
                vec = v[:, col]
                positive = ((nn - pts[i]) @ vec > 0).sum()
                cols.append(-vec if positive < 0.5 * K else vec)
            n, z = cols
            v = np.stack([n, np.cross(n, z), z], 1)
        curv.append(w)
        frames.append(v)
    return torch.tensor(np.stack(curv)), torch.tensor(np.stack(frames))


def bilinear_sample_naive(feat: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """grid_sample(align_corners=True, zeros padding) of one map (C, H, W) at points (V, 2), point by point."""
    C, H, W = feat.shape
    out = torch.zeros(xy.shape[0], C, dtype=feat.dtype)
    for v, (x, y) in enumerate(xy.tolist()):
        px, py = (x + 1) / 2 * (W - 1), (y + 1) / 2 * (H - 1)
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        for dx in (0, 1):
            for dy in (0, 1):
                xi, yi = x0 + dx, y0 + dy
                w = (1 - abs(px - xi)) * (1 - abs(py - yi))
                if 0 <= xi < W and 0 <= yi < H and w > 0:
                    out[v] += w * feat[:, yi, xi]
    return out
