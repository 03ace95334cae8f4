"""Ball query: up to K points of ``p2`` within a radius of each point of ``p1`` (PyTorch3D's ``ball_query``).

As in PyTorch3D, the neighbours are the *first* K points of ``p2`` in index order whose squared distance is below
``radius**2`` (not the K nearest). Two exact searches, chosen by cost:

- 3-D clouds whose points are sparse at the scale of the radius: ``p2`` is hashed into a grid of cells no smaller
  than the radius; each centre checks the points of its 27 neighbouring cells (in chunks of at most ``_BUDGET``
  candidate pairs) and keeps the K in-ball points of smallest index;
- otherwise a dense comparison in chunks of clouds, query rows and data columns (none above ``_BUDGET`` entries),
  where a chunk of rows stops scanning columns once all its rows hold K neighbours.
"""

from __future__ import annotations

from collections import namedtuple

import torch

from inverse3d.ops.utils import masked_gather

__all__ = ["ball_query"]

_KNN = namedtuple("KNN", "dists idx knn")

# Largest block of coordinate differences built at once (entries).
_BUDGET = 1 << 21
# The grid search runs when its candidate pairs are fewer than the dense pairs divided by this (0: always).
_GRID_GAIN = 4


def ball_query(
    p1: torch.Tensor,
    p2: torch.Tensor,
    lengths1: torch.Tensor | None = None,
    lengths2: torch.Tensor | None = None,
    K: int = 500,
    radius: float = 0.2,
    return_nn: bool = True,
    skip_points_outside_cube: bool = False,
):
    """Neighbours of each point of ``p1`` among the points of ``p2`` within ``radius``.

    Args:
        p1: (N, P1, D) float ball centres; cloud n holds its first ``lengths1[n]`` rows.
        p2: (N, P2, D) float; cloud n holds its first ``lengths2[n]`` rows.
        lengths1, lengths2: (N,) long, or None for all P1 / P2.
        K: most neighbours kept per centre.
        radius: a neighbour's squared distance must be below ``radius ** 2``.
        return_nn: also gather the neighbours' coordinates.
        skip_points_outside_cube: accepted for PyTorch3D compatibility (a speed option there; same result).

    Returns:
        A namedtuple ``(dists, idx, knn)``:
        dists: (N, P1, K) squared distances of the neighbours, differentiable with respect to ``p1`` and ``p2``;
            0 where there is no neighbour.
        idx: (N, P1, K) long, ``p2[n, idx[n, i, k]]`` is the k-th neighbour of ``p1[n, i]`` (in index order);
            -1 where there is none.
        knn: (N, P1, K, D) the neighbours (0 where there is none) if ``return_nn``, else None.
    """
    if not (torch.is_tensor(p1) and torch.is_tensor(p2)) or p1.ndim != 3 or p2.ndim != 3:
        raise ValueError("ball_query expects p1 (N, P1, D) and p2 (N, P2, D) tensors")
    if p1.shape[0] != p2.shape[0]:
        raise ValueError("pts1 and pts2 must have the same batch dimension.")
    if p1.shape[2] != p2.shape[2]:
        raise ValueError("pts1 and pts2 must have the same point dimension.")
    if not (p1.is_floating_point() and p2.is_floating_point()):
        raise ValueError("ball_query expects floating point clouds")
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be a positive int, got {K!r}")
    radius = float(radius)
    if not radius >= 0:
        raise ValueError(f"radius must be non-negative, got {radius}")
    N, P1, D = p1.shape
    P2 = p2.shape[1]
    lengths1 = _lengths(lengths1, N, P1, p1.device, "lengths1")
    lengths2 = _lengths(lengths2, N, P2, p1.device, "lengths2")
    with torch.no_grad():
        idx = _ball_idx(p1.detach(), p2.detach(), lengths1, lengths2, K, radius)  # (N, P1, K), -1 where none
    nn = masked_gather(p2, idx)  # (N, P1, K, D)
    diff = p1[:, :, None, :] - nn
    dists = (diff * diff).sum(-1).masked_fill(idx < 0, 0.0)
    return _KNN(dists=dists, idx=idx, knn=nn if return_nn else None)


def _lengths(lengths, N: int, P: int, device, name: str) -> torch.Tensor:
    if lengths is None:
        return torch.full((N,), P, dtype=torch.int64, device=device)
    if not torch.is_tensor(lengths) or lengths.shape != (N,):
        raise ValueError(f"{name} must be a tensor of shape ({N},)")
    lengths = lengths.to(device=device, dtype=torch.int64)
    if N and (int(lengths.min()) < 0 or int(lengths.max()) > P):
        raise ValueError(f"{name} must lie in [0, {P}]; got {lengths.tolist()}")
    return lengths


def _ball_idx(p1, p2, lengths1, lengths2, K: int, radius: float) -> torch.Tensor:
    """(N, P1, K) long: the first K indices j (in order) with |p1[n, i] - p2[n, j]|^2 < radius^2; -1 elsewhere."""
    N, P1, D = p1.shape
    P2 = p2.shape[1]
    out = torch.full((N, P1, K), -1, dtype=torch.int64, device=p1.device)
    if N == 0 or P1 == 0 or P2 == 0:
        return out
    if D == 3 and radius > 0 and _ball_idx_grid(p1, p2, lengths1, lengths2, K, radius, out):
        return out
    r2 = radius * radius
    rows_valid = torch.arange(P1, device=p1.device)[None] < lengths1[:, None]  # (N, P1)
    cols_valid = torch.arange(P2, device=p1.device)[None] < lengths2[:, None]  # (N, P2)
    cols = max(1, min(P2, _BUDGET // D))
    n_step = max(1, min(N, _BUDGET // max(1, P1 * min(P2, cols) * D)))
    for n0 in range(0, N, n_step):
        n1 = min(N, n0 + n_step)
        rows = max(1, _BUDGET // ((n1 - n0) * min(P2, cols) * D))
        for r0 in range(0, P1, rows):
            r1 = min(P1, r0 + rows)
            q = p1[n0:n1, r0:r1]  # (n, r, D)
            count = torch.zeros(n1 - n0, r1 - r0, dtype=torch.int64, device=p1.device)
            count.masked_fill_(~rows_valid[n0:n1, r0:r1], K)  # padded rows take nothing
            for c0 in range(0, P2, cols):
                c1 = min(P2, c0 + cols)
                d = (q[:, :, None, :] - p2[n0:n1, None, c0:c1, :]).square().sum(-1)  # (n, r, c)
                inside = (d < r2) & cols_valid[n0:n1, None, c0:c1]
                rank = count[..., None] + torch.cumsum(inside, -1)  # 1-based slot of each neighbour
                take = inside & (rank <= K)
                ni, ri, ci = take.nonzero(as_tuple=True)
                out[ni + n0, ri + r0, rank[ni, ri, ci] - 1] = ci + c0
                count = torch.minimum(rank[..., -1], torch.full_like(count, K))
                if bool((count >= K).all()):
                    break
    return out


def _ball_idx_grid(p1, p2, lengths1, lengths2, K: int, radius: float, out: torch.Tensor) -> bool:
    """Grid search (module docstring) writing into ``out``; returns False, untouched, when dense is cheaper."""
    N, P1, _ = p1.shape
    P2 = p2.shape[1]
    device = p1.device
    n1, i1 = (torch.arange(P1, device=device)[None] < lengths1[:, None]).nonzero(as_tuple=True)  # valid centres
    n2, j2 = (torch.arange(P2, device=device)[None] < lengths2[:, None]).nonzero(as_tuple=True)  # valid points
    if n1.numel() == 0 or n2.numel() == 0:
        return True
    q = p1[n1, i1].to(torch.float64)  # (Q, 3)
    x = p2[n2, j2].to(torch.float64)  # (M, 3)
    lo = torch.minimum(q.amin(0), x.amin(0))
    extent = float((torch.maximum(q.amax(0), x.amax(0)) - lo).amax())
    cell = max(radius, extent / (1 << 16))  # at least the radius; at most 2^16 cells per axis
    side = int(extent / cell) + 3  # cells per axis, with room for the neighbours of border cells
    if N * side**3 >= 1 << 62:
        return False

    def key(n, c):  # (..,) grid element, (.., 3) cell coordinates -> (..,) long
        return ((n * side + c[..., 0]) * side + c[..., 1]) * side + c[..., 2]

    x_cell = ((x - lo) / cell).floor().long() + 1
    q_cell = ((q - lo) / cell).floor().long() + 1
    keys, order = key(n2, x_cell).sort()
    offsets = torch.tensor([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)], device=device)
    near = key(n1[:, None], q_cell[:, None, :] + offsets)  # (Q, 27) neighbouring cells of each centre
    start = torch.searchsorted(keys, near)
    count = torch.searchsorted(keys, near, right=True) - start  # (Q, 27) points per neighbouring cell
    per_query = count.sum(1)
    dense_pairs = int((lengths1 * lengths2).sum())
    if int(per_query.sum()) * _GRID_GAIN > dense_pairs:  # little pruning: the dense scan (early stops) is cheaper
        return False
    # chunks of centres holding at most _BUDGET candidate pairs each
    ends = torch.cumsum(per_query, 0)
    bounds = torch.searchsorted(ends, torch.arange(1, int(ends[-1]) // _BUDGET + 2, device=device) * _BUDGET)
    r2 = radius * radius
    a = 0
    for b in sorted(set(bounds.clamp(min=1, max=n1.shape[0]).tolist()) | {n1.shape[0]}):
        if b <= a:
            continue
        c = count[a:b].reshape(-1)
        total = int(c.sum())
        if total:
            row = torch.repeat_interleave(torch.arange(c.shape[0], device=device), c, output_size=total)
            first = torch.cumsum(c, 0) - c
            pos = start[a:b].reshape(-1)[row] + torch.arange(total, device=device) - first[row]
            centre = a + torch.div(row, 27, rounding_mode="floor")  # index into the valid centres
            point = order[pos]  # index into the valid points
            qn, qi, pj = n1[centre], i1[centre], j2[point]
            d = (p1[qn, qi] - p2[qn, pj]).square().sum(-1)  # same arithmetic as the dense search
            inside = d < r2
            centre, pj = centre[inside], pj[inside]
            # the K in-ball points of smallest index, per centre
            sort_key = centre * P2 + pj
            sort_key, perm = sort_key.sort()
            centre, pj = centre[perm], pj[perm]
            group_first = torch.searchsorted(sort_key, centre * P2)
            rank = torch.arange(centre.shape[0], device=device) - group_first
            keep = rank < K
            out[n1[centre[keep]], i1[centre[keep]], rank[keep]] = pj[keep]
        a = b
    return True
