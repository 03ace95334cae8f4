"""Exact closest-item search between two packed batches of geometric items (points, segments, triangles).

For every query item q of batch element n, finds the target item t of the same element minimising a distance
``dist(q, t)`` that is never smaller than the squared distance between the items' bounding boxes (true for the
point-triangle and point-segment distances of ``loss.point_mesh_distance``). No ``Q x T`` matrix is built:

1. each query is compared with the targets whose centres are its ``_SEED`` nearest (``knn_points``): the smallest
   distance found bounds its true minimum from above;
2. targets are grouped into spatially compact blocks of at most ``_BLOCK`` items (the leaves of a balanced
   kd-tree per batch element), queries likewise; block pairs, then (query, target block) pairs, then (query,
   target) pairs are kept only while their bounding boxes lie within the query's bound, so no pruned target can
   be closer;
3. the surviving pairs are evaluated, ``_BUDGET`` at a time, with a running minimum per query.

The search runs without autograd and returns indices; callers recompute the distance of each chosen pair with
autograd, so gradients flow to both sets as in PyTorch3D's backward.
"""

from __future__ import annotations

from typing import Callable

import torch

# Items per block, both sides.
_BLOCK = 32
# Largest number of item pairs evaluated at once.
_BUDGET = 1 << 18
# Targets, nearest by centre, that give each query its first (upper-bound) distance.
_SEED = 4

# dist_fn(q_feat, t_feat) -> distances: features of M queries (M, Fq) and of their M partners (M, Ft) -> (M,).
PairFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Blocks:
    """Items of a packed batch grouped into spatially compact blocks of at most ``size`` items.

    Blocks are the leaves of a balanced kd-tree built per batch element (each level splits every group at the
    median of its centres along its longest axis), so the blocks of element n are contiguous.

    Attributes:
        items: (NB + 1, size) long item index per slot, -1 on empty slots; row NB is an empty dummy block.
        batch: (NB,) long, batch element of each block.
        lo, hi: (NB + 1, 3) bounding box of each block's items (+inf / -inf for the dummy).
        centre: (NB, 3) centre of each block's box.
        block_first: (N + 1,) long, blocks of element n are ``block_first[n]:block_first[n+1]``.
    """

    def __init__(self, centers, lo, hi, batch, N, size):
        device = centers.device
        M = centers.shape[0]
        order, leaf = _kd_leaves(centers, batch, size)
        NB = int(leaf[-1]) + 1 if M else 0
        counts = torch.bincount(leaf, minlength=NB)
        first = torch.cumsum(counts, 0) - counts
        slot = torch.arange(M, device=device) - first[leaf]
        self.items = torch.full((NB + 1, size), -1, dtype=torch.int64, device=device)
        self.items[leaf, slot] = order
        self.batch = torch.zeros(NB, dtype=torch.int64, device=device)
        self.batch[leaf] = batch[order]
        inf = float("inf")
        self.lo = torch.full((NB + 1, 3), inf, dtype=lo.dtype, device=device)
        self.hi = torch.full((NB + 1, 3), -inf, dtype=hi.dtype, device=device)
        index = leaf[:, None].expand(-1, 3)
        self.lo.scatter_reduce_(0, index, lo[order], "amin")
        self.hi.scatter_reduce_(0, index, hi[order], "amax")
        self.centre = 0.5 * (self.lo[:NB] + self.hi[:NB])
        per_element = torch.bincount(self.batch, minlength=N)[:N]
        self.block_first = torch.zeros(N + 1, dtype=torch.int64, device=device)
        self.block_first[1:] = torch.cumsum(per_element, 0)
        self.num = NB
        self.size = size


def _kd_leaves(centers: torch.Tensor, batch: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced kd-tree leaves of at most ``size`` items, per batch element.

    Args:
        centers: (M, 3) item centres; batch: (M,) long batch element of each item.

    Returns:
        order: (M,) long item indices, leaf after leaf (batch elements in increasing order).
        leaf: (M,) long leaf index of each position of ``order``, non-decreasing from 0.
    """
    M = centers.shape[0]
    device = centers.device
    order = torch.argsort(batch, stable=True)
    group = torch.unique_consecutive(batch[order], return_inverse=True)[1] if M else batch[order]
    c = centers[order].to(torch.float64)
    positions = torch.arange(M, device=device)
    inf = float("inf")
    while M:
        counts = torch.bincount(group)
        if int(counts.max()) <= size:
            break
        G = counts.shape[0]
        start = torch.cumsum(counts, 0) - counts
        index = group[:, None].expand(-1, 3)
        lo = torch.full((G, 3), inf, dtype=c.dtype, device=device).scatter_reduce_(0, index, c, "amin")
        hi = torch.full((G, 3), -inf, dtype=c.dtype, device=device).scatter_reduce_(0, index, c, "amax")
        extent, axis = (hi - lo).max(1)
        axis_of = axis[group]
        # position along the group's longest axis, scaled into [0, 0.5): one sort orders groups and positions
        along = (c.gather(1, axis_of[:, None])[:, 0] - lo[group, axis_of]) / (2.0 * extent[group] + 1e-300)
        perm = torch.argsort(group.to(torch.float64) + along.clamp(0.0, 0.49))
        order, c, group = order[perm], c[perm], group[perm]
        n = counts[group]
        upper = (n > size) & (positions - start[group] >= (n + 1) // 2)
        group = torch.unique_consecutive(group * 2 + upper.long(), return_inverse=True)[1]
    return order, group


def _box_gap_sq(lo_a, hi_a, lo_b, hi_b) -> torch.Tensor:
    """Squared distance between boxes (broadcasting over leading dims); inf if a box is empty."""
    gap = torch.maximum(lo_b - hi_a, lo_a - hi_b).clamp(min=0)
    out = (gap * gap).sum(-1)
    empty = (lo_a > hi_a).any(-1) | (lo_b > hi_b).any(-1)
    return out.masked_fill(empty, float("inf"))


def closest(
    q_centers: torch.Tensor,
    q_lo: torch.Tensor,
    q_hi: torch.Tensor,
    q_batch: torch.Tensor,
    q_feat: torch.Tensor,
    t_centers: torch.Tensor,
    t_lo: torch.Tensor,
    t_hi: torch.Tensor,
    t_batch: torch.Tensor,
    t_feat: torch.Tensor,
    N: int,
    dist_fn: PairFn,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query, the target of the same batch element with the smallest ``dist_fn`` (module docstring).

    Args:
        q_centers, q_lo, q_hi: (Q, 3) centre and bounding box of each query item.
        q_batch: (Q,) long batch element of each query, in [0, N), non-decreasing.
        q_feat: (Q, Fq) what ``dist_fn`` needs of each query.
        t_centers, t_lo, t_hi, t_batch, t_feat: the same for the T target items.
        N: number of batch elements.
        dist_fn: pair distances from features, see ``PairFn``; never below the squared box distance of the pair.

    Returns:
        best: (Q,) smallest distance (inf where the batch element has no target), no autograd.
        idx: (Q,) long target index attaining it (smallest index among ties), -1 where there is none.
    """
    Q = q_centers.shape[0]
    device = q_centers.device
    best = torch.full((Q,), float("inf"), dtype=q_centers.dtype, device=device)
    idx = torch.full((Q,), -1, dtype=torch.int64, device=device)
    if Q == 0 or t_centers.shape[0] == 0:
        return best, idx
    with torch.no_grad():
        _seed(q_centers, q_batch, q_feat, t_centers, t_batch, t_feat, N, dist_fn, best, idx)
        # slack for rounding: a target must never be pruned when its distance ties the bound
        extent = torch.maximum(q_hi.amax(0), t_hi.amax(0)) - torch.minimum(q_lo.amin(0), t_lo.amin(0))
        scale = float(extent.amax())
        ub = best * (1 + 1e-5) + 1e-10 * scale * scale  # (Q,), inf where the element has no target
        qb = _Blocks(q_centers, q_lo, q_hi, q_batch, N, _BLOCK)
        tb = _Blocks(t_centers, t_lo, t_hi, t_batch, N, _BLOCK)
        _search(qb, tb, q_lo, q_hi, q_feat, t_lo, t_hi, t_feat, ub, dist_fn, best, idx)
    return best, idx


def _padded(x: torch.Tensor, batch: torch.Tensor, N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed rows x (M, D) with non-decreasing batch (M,) -> padded (N, max count, D) and counts (N,)."""
    counts = torch.bincount(batch, minlength=N)[:N]
    first = torch.cumsum(counts, 0) - counts
    width = int(counts.max()) if N else 0
    out = x.new_zeros(N, width, x.shape[1])
    out[batch, torch.arange(x.shape[0], device=x.device) - first[batch]] = x
    return out, counts


def _seed(q_centers, q_batch, q_feat, t_centers, t_batch, t_feat, N, dist_fn: PairFn, best, idx) -> None:
    """First running minimum: each query against the targets with the ``_SEED`` nearest centres."""
    from inverse3d.ops.knn import knn_points

    qp, q_counts = _padded(q_centers, q_batch, N)
    tp, t_counts = _padded(t_centers, t_batch, N)
    K = max(1, min(_SEED, tp.shape[1]))
    nn = knn_points(qp, tp, q_counts, t_counts, K=K).idx  # (N, Pq, K) positions within the target element
    q_first = torch.cumsum(q_counts, 0) - q_counts
    t_first = torch.cumsum(t_counts, 0) - t_counts
    Q = q_centers.shape[0]
    local = torch.arange(Q, device=q_centers.device) - q_first[q_batch]
    cand = nn[q_batch, local]  # (Q, K)
    has = (t_counts[q_batch] > 0)[:, None] & (torch.arange(K, device=cand.device)[None] < t_counts[q_batch, None])
    q = torch.arange(Q, device=cand.device)[:, None].expand(-1, K)[has]
    t = (cand + t_first[q_batch, None])[has]
    _evaluate(q, t, q_feat, t_feat, dist_fn, best, idx)


def _evaluate(q: torch.Tensor, t: torch.Tensor, q_feat, t_feat, dist_fn: PairFn, best, idx) -> None:
    """Evaluates the pairs (q[i], t[i]), ``_BUDGET`` at a time, into the running minimum."""
    for c0 in range(0, q.shape[0], _BUDGET):
        qq, tt = q[c0 : c0 + _BUDGET], t[c0 : c0 + _BUDGET]
        _update(qq, dist_fn(q_feat[qq], t_feat[tt]), tt, best, idx)


def _element_chunks(qb: _Blocks, tb: _Blocks, per_chunk: int):
    """Yields (a, b, j0, j1): query blocks a:b and the target blocks j0:j1 of the same batch elements, in
    pieces of about ``per_chunk`` block pairs."""
    q_first = qb.block_first.tolist()
    t_first = tb.block_first.tolist()
    N = len(q_first) - 1
    n0 = 0
    while n0 < N:
        n1 = n0 + 1
        while n1 < N and (q_first[n1 + 1] - q_first[n0]) * (t_first[n1 + 1] - t_first[n0]) <= per_chunk:
            n1 += 1
        i0, i1, j0, j1 = q_first[n0], q_first[n1], t_first[n0], t_first[n1]
        if j1 > j0 and i1 > i0:
            step = max(1, per_chunk // (j1 - j0))
            for a in range(i0, i1, step):
                yield a, min(i1, a + step), j0, j1
        n0 = n1


def _update(q: torch.Tensor, vals: torch.Tensor, arg: torch.Tensor, best, idx) -> None:
    """Running minimum: folds candidate values ``vals`` of targets ``arg`` for queries ``q`` (all (M,)) into
    best (Q,) and idx (Q,) in place; the smallest target index wins ties."""
    if q.numel() == 0:
        return
    old = best[q]
    best.scatter_reduce_(0, q, vals, "amin")
    now = best[q]
    idx[q[now < old]] = torch.iinfo(torch.int64).max  # a new minimum: forget the previous winner
    winner = vals == now
    idx.scatter_reduce_(0, q[winner], arg[winner], "amin")


def _search(qb: _Blocks, tb: _Blocks, q_lo, q_hi, q_feat, t_lo, t_hi, t_feat, ub, dist_fn: PairFn, best, idx):
    """Evaluates every (query, target) pair whose boxes lie within the query's bound ``ub`` (Q,)."""
    # block-level bound: the largest bound among each query block's items
    ub_items = ub[qb.items[: qb.num].clamp(min=0)].masked_fill(qb.items[: qb.num] < 0, -float("inf"))
    ub_block = ub_items.amax(1)  # (NBq,)
    t_items = tb.items  # (NBt + 1, Bt)
    t_box_lo = t_lo[t_items.clamp(min=0)].masked_fill((t_items < 0)[..., None], float("inf"))  # (NBt + 1, Bt, 3)
    t_box_hi = t_hi[t_items.clamp(min=0)].masked_fill((t_items < 0)[..., None], -float("inf"))
    rows_per_piece = max(1, _BUDGET // tb.size)  # (query, target block) rows screened at once
    blocks_per_piece = max(1, rows_per_piece // qb.size)
    pending_q: list[torch.Tensor] = []
    pending_t: list[torch.Tensor] = []
    pending = 0
    for a, b, j0, j1 in _element_chunks(qb, tb, _BUDGET):
        gap = _box_gap_sq(qb.lo[a:b, None], qb.hi[a:b, None], tb.lo[None, j0:j1], tb.hi[None, j0:j1])
        near = (gap <= ub_block[a:b, None]) & (qb.batch[a:b, None] == tb.batch[None, j0:j1])
        bi, bj = near.nonzero(as_tuple=True)
        bi, bj = bi + a, bj + j0
        for c0 in range(0, bi.shape[0], blocks_per_piece):
            # (query, target block) rows within each query's own bound ...
            q = qb.items[bi[c0 : c0 + blocks_per_piece]]  # (C, Bq)
            j = bj[c0 : c0 + blocks_per_piece, None].expand_as(q)
            keep = q >= 0
            q, j = q[keep], j[keep]
            keep = _box_gap_sq(q_lo[q], q_hi[q], tb.lo[j], tb.hi[j]) <= ub[q]
            q, j = q[keep], j[keep]
            # ... then (query, target) pairs within it
            gap = _box_gap_sq(q_lo[q][:, None], q_hi[q][:, None], t_box_lo[j], t_box_hi[j])  # (R, Bt)
            rows, slots = (gap <= ub[q][:, None]).nonzero(as_tuple=True)
            pending_q.append(q[rows])
            pending_t.append(t_items[j[rows], slots])
            pending += rows.shape[0]
            if pending >= _BUDGET:
                _evaluate(torch.cat(pending_q), torch.cat(pending_t), q_feat, t_feat, dist_fn, best, idx)
                pending_q.clear()
                pending_t.clear()
                pending = 0
    if pending_q:
        _evaluate(torch.cat(pending_q), torch.cat(pending_t), q_feat, t_feat, dist_fn, best, idx)
