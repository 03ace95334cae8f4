"""Naive point sampling and neighbourhood oracles: one cloud, one point at a time."""

from __future__ import annotations

import torch


def sample_farthest_points_naive(points, lengths=None, K=50, start=None):
    """Farthest point sampling cloud by cloud (PyTorch3D's definition; first index among ties).

    Args:
        points: (N, P, D); lengths: (N,) or None; K: int or N ints; start: N start indices or None (0).

    Returns:
        (N, max K) long indices, -1 past min(K[n], lengths[n]).
    """
    N, P, _ = points.shape
    lengths = [P] * N if lengths is None else [int(v) for v in lengths]
    Ks = [K] * N if isinstance(K, int) else [int(k) for k in K]
    start = [0] * N if start is None else [int(s) for s in start]
    out = torch.full((N, max(Ks) if Ks else 0), -1, dtype=torch.int64)
    for n in range(N):
        take = min(lengths[n], Ks[n])
        if take == 0:
            continue
        pts = points[n, : lengths[n]].double().tolist()
        nearest = [float("inf")] * lengths[n]
        last = start[n]
        out[n, 0] = last
        for k in range(1, take):
            for p in range(lengths[n]):
                d = sum((a - b) ** 2 for a, b in zip(pts[p], pts[last]))
                nearest[p] = min(nearest[p], d)
            best = max(range(lengths[n]), key=lambda p: (nearest[p], -p))
            last = best
            out[n, k] = last
    return out


def ball_query_naive(p1, p2, lengths1=None, lengths2=None, K=5, radius=0.2):
    """First K points of p2 (index order) with squared distance < radius^2, point by point.

    Returns:
        dists (N, P1, K) float (0 padded), idx (N, P1, K) long (-1 padded).
    """
    N, P1, _ = p1.shape
    P2 = p2.shape[1]
    lengths1 = [P1] * N if lengths1 is None else [int(v) for v in lengths1]
    lengths2 = [P2] * N if lengths2 is None else [int(v) for v in lengths2]
    dists = torch.zeros(N, P1, K, dtype=p1.dtype)
    idx = torch.full((N, P1, K), -1, dtype=torch.int64)
    for n in range(N):
        for i in range(lengths1[n]):
            count = 0
            for j in range(lengths2[n]):
                if count == K:
                    break
                d = float(((p1[n, i] - p2[n, j]) ** 2).sum())
                if d < radius * radius:
                    dists[n, i, count] = d
                    idx[n, i, count] = j
                    count += 1
    return dists, idx
