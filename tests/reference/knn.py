"""Naive K nearest neighbours: the full distance matrix of each cloud pair, one cloud at a time."""

from __future__ import annotations

import torch


def knn_points_naive(p1, p2, lengths1=None, lengths2=None, norm=2, K=1):
    """Brute-force oracle for ``inverse3d.ops.knn_points`` (PyTorch3D padding conventions).

    Args:
        p1: (N, P1, D), p2: (N, P2, D), lengths1/lengths2: (N,) or None.

    Returns:
        dists: (N, P1, K) differentiable distances (squared for norm 2), 0 where padded.
        idx: (N, P1, K) long, 0 where padded.
    """
    N, P1, D = p1.shape
    P2 = p2.shape[1]
    lengths1 = [P1] * N if lengths1 is None else [int(v) for v in lengths1]
    lengths2 = [P2] * N if lengths2 is None else [int(v) for v in lengths2]
    dists_out, idx_out = [], []
    for n in range(N):
        d_rows = p1.new_zeros(P1, K) + 0.0 * p1.sum() + 0.0 * p2.sum()  # keeps both in the graph
        i_rows = torch.zeros(P1, K, dtype=torch.int64, device=p1.device)
        l1, l2 = lengths1[n], lengths2[n]
        if l1 > 0 and l2 > 0:
            diff = p1[n, :l1, None, :] - p2[n, None, :l2, :]  # (l1, l2, D)
            full = (diff * diff).sum(-1) if norm == 2 else diff.abs().sum(-1)
            k = min(K, l2)
            vals, ids = full.sort(dim=1, stable=True)
            d_rows = torch.cat([vals[:, :k], vals.new_zeros(l1, K - k)], 1)
            d_rows = torch.cat([d_rows, d_rows.new_zeros(P1 - l1, K)], 0)
            i_rows[:l1, :k] = ids[:, :k]
        dists_out.append(d_rows)
        idx_out.append(i_rows)
    return torch.stack(dists_out), torch.stack(idx_out)
