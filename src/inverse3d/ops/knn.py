"""K nearest neighbours between batches of point clouds, exact, memory-bounded and differentiable.

``knn_points(p1, p2, K=...)`` finds, for every point of ``p1[n]``, its ``K`` nearest points in ``p2[n]``.
The search never builds the full ``P1 x P2`` distance matrix:

- small problems (or ``D > 3``): brute force over chunks of clouds, query rows and data columns, each chunk a
  dense distance block of at most ``_BUDGET`` entries, with a running K smallest;
- large problems with ``D <= 3``: both clouds are sorted along a Morton (Z-order) curve and cut into blocks of
  ``_QUERY_BLOCK`` / ``_DATA_BLOCK`` consecutive points with a bounding box each. A cheap first pass against
  the Morton-nearest data blocks gives, for each query block, an upper bound on its points' K-th neighbour
  distance; every data block whose box is farther than that bound is pruned (exactly: no true neighbour can
  lie in it), and the survivors are searched densely, a chunk of query blocks at a time.

Distances are compared in float64 (``|x|^2 - 2 q.x + |q|^2`` on centred clouds), so the neighbours found are
those of exact arithmetic up to ties. The search runs without autograd and returns indices only; the distances
are then recomputed from the gathered neighbours with autograd, so gradients reach both ``p1`` and ``p2`` (as
PyTorch3D's backward does). Clouds far apart from each other (relative to their size) make the pruning weak:
the result stays exact and memory-bounded, but the cost approaches brute force.
"""

from __future__ import annotations

import bisect
from collections import namedtuple

import torch

_KNN = namedtuple("KNN", "dists idx knn")

# Largest dense distance block built at once (entries): 2M float64 = 16 MB.
_BUDGET = 1 << 21
# The search compares distances in float64 whatever the input dtype: the fast expansion
# |q|^2 - 2 q.x + |x|^2 then picks the same neighbours as exact differences would.
_SEARCH_DTYPE = torch.float64
# Points per block of the pruned search: query blocks (p1) and data blocks (p2).
_QUERY_BLOCK = 32
_DATA_BLOCK = 32
# Problems with P1 * P2 below this (per cloud) go to the chunked brute force.
_BRUTE_MAX_PAIRS = 1 << 23
# Bits per axis of the Morton code (D = 1, 2, 3 -> 30 bits); the cloud index sits above them.
_CODE_BITS = 30


def knn_points(
    p1: torch.Tensor,
    p2: torch.Tensor,
    lengths1: torch.Tensor | None = None,
    lengths2: torch.Tensor | None = None,
    norm: int = 2,
    K: int = 1,
    version: int = -1,
    return_nn: bool = False,
    return_sorted: bool = True,
) -> _KNN:
    """K nearest neighbours of each point of ``p1`` among the points of ``p2`` (PyTorch3D semantics).

    Args:
        p1: (N, P1, D) float, query clouds; cloud n holds its first ``lengths1[n]`` rows.
        p2: (N, P2, D) float, data clouds; cloud n holds its first ``lengths2[n]`` rows.
        lengths1: (N,) long in [0, P1], or None for all P1.
        lengths2: (N,) long in [0, P2], or None for all P2.
        norm: 2 for squared Euclidean distances, 1 for L1 distances.
        K: number of neighbours.
        version: accepted for PyTorch3D compatibility; ignored (one implementation).
        return_nn: also return the neighbour coordinates.
        return_sorted: accepted for compatibility; neighbours are always sorted by increasing distance.

    Returns:
        A namedtuple ``(dists, idx, knn)``:
        dists: (N, P1, K) float, squared distances (norm=2) or L1 distances (norm=1), differentiable with
            respect to ``p1`` and ``p2``; 0 where ``i >= lengths1[n]`` or ``k >= lengths2[n]``.
        idx: (N, P1, K) long, ``p2[n, idx[n, i, k]]`` is the k-th nearest neighbour of ``p1[n, i]``;
            0 at the same padded places.
        knn: (N, P1, K, D) float neighbour coordinates if ``return_nn`` (0 where padded), else None.
    """
    lengths1, lengths2 = _check_inputs(p1, p2, lengths1, lengths2, norm, K)
    with torch.no_grad():
        idx = _knn_idx(p1.detach(), p2.detach(), lengths1, lengths2, norm, K)  # (N, P1, K), -1 where none
    missing = idx < 0
    idx = idx.masked_fill(missing, 0)
    nn = _gather_points(p2, idx)  # (N, P1, K, D)
    diff = p1[:, :, None, :] - nn
    dists = (diff * diff).sum(-1) if norm == 2 else diff.abs().sum(-1)
    dists = dists.masked_fill(missing, 0.0)
    knn = nn.masked_fill(missing[..., None], 0.0) if return_nn else None
    return _KNN(dists=dists, idx=idx, knn=knn)


def knn_gather(x: torch.Tensor, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Gathers the rows of ``x`` named by ``idx`` (e.g. the neighbours found by ``knn_points``).

    Args:
        x: (N, M, U) float, features of the data clouds.
        idx: (N, L, K) long in [0, M), indices into ``x[n]``.
        lengths: (N,) long, number of valid rows of each ``x[n]``; slots ``k >= lengths[n]`` are set to 0
            (the padding convention of ``knn_points``). None: all M.

    Returns:
        (N, L, K, U) float, ``out[n, l, k] = x[n, idx[n, l, k]]``, differentiable with respect to ``x``.
    """
    if x.ndim != 3 or idx.ndim != 3:
        raise ValueError(
            f"knn_gather expects x (N, M, U) and idx (N, L, K); got {tuple(x.shape)} and {tuple(idx.shape)}"
        )
    N, M, U = x.shape
    if idx.shape[0] != N:
        raise ValueError("x and idx must have same batch dimension.")
    K = idx.shape[2]
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(f"knn_gather: idx must be an integer tensor (torch.int64); got dtype {idx.dtype}")
    if idx.numel() > 0 and (idx.min() < 0 or idx.max() >= M):
        raise ValueError(f"knn_gather: idx must lie in [0, {M}), got range [{int(idx.min())}, {int(idx.max())}]")
    if lengths is not None:
        if not torch.is_tensor(lengths) or lengths.shape != (N,):
            raise ValueError(f"knn_gather: lengths must be a tensor of shape ({N},)")
        _check_int_dtype(lengths, "lengths")
    out = _gather_points(x, idx.long())
    if lengths is not None:
        pad = lengths.to(x.device)[:, None] <= torch.arange(K, device=x.device)[None]  # (N, K)
        out = out.masked_fill(pad[:, None, :, None], 0.0)
    return out


# ----------------------------------------------------------------------------------------------------------
# Input checks and the differentiable gather


def _check_inputs(p1, p2, lengths1, lengths2, norm, K) -> tuple[torch.Tensor, torch.Tensor]:
    if not (torch.is_tensor(p1) and torch.is_tensor(p2)) or p1.ndim != 3 or p2.ndim != 3:
        raise ValueError("knn_points expects p1 (N, P1, D) and p2 (N, P2, D) tensors")
    if p1.shape[0] != p2.shape[0]:
        raise ValueError(f"pts1 and pts2 must have the same batch dimension; got {p1.shape[0]} and {p2.shape[0]}")
    if p1.shape[2] != p2.shape[2]:
        raise ValueError(f"pts1 and pts2 must have the same point dimension; got {p1.shape[2]} and {p2.shape[2]}")
    if not (p1.is_floating_point() and p2.is_floating_point()):
        raise ValueError("knn_points expects floating point clouds")
    if norm not in (1, 2):
        raise ValueError(f"Support for 1 or 2 norm; got norm={norm}")
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be a positive int; got {K!r}")
    N, P1, _ = p1.shape
    P2 = p2.shape[1]
    lengths1 = _check_lengths(lengths1, N, P1, p1.device, "lengths1")
    lengths2 = _check_lengths(lengths2, N, P2, p1.device, "lengths2")
    for name, p, lengths in (("p1", p1, lengths1), ("p2", p2, lengths2)):
        padding = torch.arange(p.shape[1], device=p.device)[None] >= lengths[:, None]  # (N, P)
        if not (torch.isfinite(p.detach()).all(-1) | padding).all():
            raise ValueError(f"knn_points: {name} contains NaN or inf among its valid points")
    return lengths1, lengths2


def _check_lengths(lengths, N: int, P: int, device, name: str) -> torch.Tensor:
    if lengths is None:
        return torch.full((N,), P, dtype=torch.int64, device=device)
    if not torch.is_tensor(lengths) or lengths.shape != (N,):
        raise ValueError(f"{name} must be a tensor of shape ({N},)")
    _check_int_dtype(lengths, name)
    lengths = lengths.to(device=device, dtype=torch.int64)
    if N > 0 and (lengths.min() < 0 or lengths.max() > P):
        raise ValueError(f"{name} must lie in [0, {P}]; got {lengths.tolist()}")
    return lengths


def _check_int_dtype(lengths: torch.Tensor, name: str) -> None:
    """Point counts must be integers (PyTorch3D takes int64; other integer types are converted)."""
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor (torch.int64) of point counts; got dtype {lengths.dtype}")


def _gather_points(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x: (N, M, U), idx: (N, L, K) in [0, M) -> (N, L, K, U); backward is a scatter-add into x."""
    N, M, U = x.shape
    _, L, K = idx.shape
    if M == 0:
        return x.new_zeros(N, L, K, U) + 0.0 * x.sum()
    flat = (idx + torch.arange(N, device=idx.device)[:, None, None] * M).reshape(-1)
    return x.reshape(N * M, U).index_select(0, flat).view(N, L, K, U)


# ----------------------------------------------------------------------------------------------------------
# Index search (no autograd)


def _knn_idx(p1, p2, lengths1, lengths2, norm: int, K: int) -> torch.Tensor:
    """(N, P1, K) long indices of the K nearest neighbours, sorted by distance; -1 where there is none."""
    N, P1, D = p1.shape
    P2 = p2.shape[1]
    out = torch.full((N, P1, K), -1, dtype=torch.int64, device=p1.device)
    if N == 0 or P1 == 0 or P2 == 0:
        return out
    if D <= 3 and P1 * P2 > _BRUTE_MAX_PAIRS:
        _knn_blocks(p1, p2, lengths1, lengths2, norm, K, out)
    else:
        _knn_brute(p1, p2, lengths1, lengths2, norm, K, out)
    # slots past the number of data points are padding
    out.masked_fill_((torch.arange(P1, device=p1.device)[None] >= lengths1[:, None])[..., None], -1)
    return out


def _pair_dists(q: torch.Tensor, x: torch.Tensor, norm: int) -> torch.Tensor:
    """Distances between rows: q (B, Q, D), x (B, M, D) -> (B, Q, M); squared for norm 2.

    Callers centre both sets near the origin first, so the expansion |q|^2 - 2 q.x + |x|^2 stays accurate.
    """
    if norm == 1:
        return torch.cdist(q, x, p=1.0, compute_mode="donot_use_mm_for_euclid_dist")
    d = torch.baddbmm((x * x).sum(-1)[:, None, :], q, x.transpose(1, 2), alpha=-2.0)
    return d.add_((q * q).sum(-1)[:, :, None])


def _smallest(d: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """K smallest along the last dim, sorted: (..., M) -> values, positions (..., min(K, M))."""
    if K == 1:
        v, i = d.min(-1, keepdim=True)
        return v, i
    return d.topk(min(K, d.shape[-1]), dim=-1, largest=False, sorted=True)


def _merge(best, new, K: int):
    """Running K smallest: best and new are (values, ids) pairs (..., k) -> the K smallest of both."""
    if best is None:
        return new
    vals = torch.cat([best[0], new[0]], -1)
    ids = torch.cat([best[1], new[1]], -1)
    vals, pos = _smallest(vals, K)
    return vals, ids.gather(-1, pos)


def _knn_brute(p1, p2, lengths1, lengths2, norm, K, out) -> None:
    """Dense search in chunks of clouds, query rows and data columns, none above ``_BUDGET`` entries."""
    N, P1, D = p1.shape
    P2 = p2.shape[1]
    invalid2 = torch.arange(P2, device=p2.device)[None] >= lengths2[:, None]  # (N, P2)
    x = p2.to(_SEARCH_DTYPE).masked_fill(invalid2[..., None], 0.0)
    centre = x.sum(1, keepdim=True) / lengths2.clamp(min=1)[:, None, None].to(x.dtype)  # (N, 1, D)
    x = x - centre
    q_all = p1.to(_SEARCH_DTYPE) - centre
    n_step = max(1, min(N, _BUDGET // max(1, P1 * P2)))
    cols = max(1, min(P2, _BUDGET))
    for n0 in range(0, N, n_step):
        n1 = min(N, n0 + n_step)
        rows = max(1, _BUDGET // ((n1 - n0) * min(P2, cols)))
        for r0 in range(0, P1, rows):
            r1 = min(P1, r0 + rows)
            best = None
            for c0 in range(0, P2, cols):
                c1 = min(P2, c0 + cols)
                d = _pair_dists(q_all[n0:n1, r0:r1], x[n0:n1, c0:c1], norm)  # (n, r, c)
                d.masked_fill_(invalid2[n0:n1, None, c0:c1], float("inf"))
                vals, pos = _smallest(d, K)
                best = _merge(best, (vals, pos + c0), K)
            vals, pos = best
            out[n0:n1, r0:r1, : pos.shape[-1]] = pos.masked_fill(torch.isinf(vals), -1)


class _Blocks:
    """One side of the pruned search: a batch of clouds cut into Morton-ordered blocks of ``size`` points.

    Attributes:
        pts: (NB + 1, size, D) point coordinates; the last block is an empty dummy used for padding.
        valid: (NB + 1, size) bool, slot holds a point.
        src: (NB + 1, size) long, index of the point within its cloud.
        batch: (NB,) long, cloud of each block.
        lo, hi: (NB, D) bounding box of each block.
        sq_norm: (NB + 1, size) squared norm of each point, inf on empty slots.
        first: list of N + 1 ints, blocks of cloud n are ``first[n]:first[n+1]``.
        keys: (M,) long, sorted Morton keys (cloud index in the high bits) of all M valid points.
        block_of: (M,) long, block of the point at each sorted position.
        point_first: (N + 1,) long, sorted positions of cloud n are ``point_first[n]:point_first[n+1]``.
    """

    def __init__(self, p, lengths, frame_lo, frame_scale, size: int):
        N, P, D = p.shape
        device = p.device
        valid = torch.arange(P, device=device)[None] < lengths[:, None]  # (N, P)
        cloud, point = valid.nonzero(as_tuple=True)  # (M,), (M,) in cloud-major order
        xyz = p[cloud, point].to(_SEARCH_DTYPE)  # (M, D)
        keys = (cloud << _CODE_BITS) | _morton(xyz, frame_lo[cloud], frame_scale[cloud])
        keys, order = keys.sort()
        cloud, point, xyz = cloud[order], point[order], xyz[order]
        point_first = torch.zeros(N + 1, dtype=torch.int64, device=device)
        point_first[1:] = lengths.cumsum(0)
        nblocks = (lengths + size - 1) // size  # (N,)
        first = torch.zeros(N + 1, dtype=torch.int64, device=device)
        first[1:] = nblocks.cumsum(0)
        rank = torch.arange(cloud.shape[0], device=device) - point_first[cloud]  # position within the cloud
        block = first[cloud] + rank // size
        slot = rank % size
        NB = int(first[-1])
        self.size = size
        self.pts = xyz.new_zeros(NB + 1, size, D)
        self.pts[block, slot] = xyz
        self.valid = torch.zeros(NB + 1, size, dtype=torch.bool, device=device)
        self.valid[block, slot] = True
        self.src = torch.zeros(NB + 1, size, dtype=torch.int64, device=device)
        self.src[block, slot] = point
        self.batch = torch.repeat_interleave(torch.arange(N, device=device), nblocks)
        inf = float("inf")
        vmask = self.valid[:NB, :, None]
        self.lo = self.pts[:NB].masked_fill(~vmask, inf).amin(1)
        self.hi = self.pts[:NB].masked_fill(~vmask, -inf).amax(1)
        self.sq_norm = (self.pts * self.pts).sum(-1).masked_fill_(~self.valid, inf)  # (NB + 1, size)
        self.first = first.tolist()
        self.keys = keys
        self.block_of = block
        self.point_first = point_first
        self.num = NB


def _morton(xyz: torch.Tensor, lo: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Z-order codes of points: xyz (M, D), lo (M, D), scale (M, 1) -> (M,) long with _CODE_BITS bits."""
    D = xyz.shape[1]
    bits = _CODE_BITS // D
    cells = (1 << bits) - 1
    q = ((xyz - lo) * (scale * cells)).long().clamp_(0, cells)  # (M, D)
    code = torch.zeros(xyz.shape[0], dtype=torch.int64, device=xyz.device)
    for b in range(bits):
        for d in range(D):
            code |= ((q[:, d] >> b) & 1) << (b * D + d)
    return code


def _knn_blocks(p1, p2, lengths1, lengths2, norm, K, out) -> None:
    """Exact pruned search (see the module docstring); writes indices into ``out`` (N, P1, K)."""
    N, P1, D = p1.shape
    device = p1.device
    inf = float("inf")
    # A common frame per cloud pair, so that Morton codes of p1 and p2 are comparable.
    m1 = torch.arange(P1, device=device)[None] < lengths1[:, None]
    m2 = torch.arange(p2.shape[1], device=device)[None] < lengths2[:, None]
    p1, p2 = p1.to(_SEARCH_DTYPE), p2.to(_SEARCH_DTYPE)
    lo = torch.minimum(
        p1.masked_fill(~m1[..., None], inf).amin(1), p2.masked_fill(~m2[..., None], inf).amin(1)
    )  # (N, D)
    hi = torch.maximum(
        p1.masked_fill(~m1[..., None], -inf).amax(1), p2.masked_fill(~m2[..., None], -inf).amax(1)
    )
    lo = torch.where(torch.isfinite(lo), lo, torch.zeros_like(lo))
    extent = (hi - lo).nan_to_num(0.0, posinf=0.0, neginf=0.0).amax(1, keepdim=True)  # (N, 1)
    scale = 1.0 / extent.clamp(min=1e-30)
    # Each cloud pair is moved to the origin, so the expanded distances keep their precision.
    centre = (lo + 0.5 * extent)[:, None, :]  # (N, 1, D)
    p1, p2, lo = p1 - centre, p2 - centre, lo - centre[:, 0]
    b1 = _Blocks(p1, lengths1, lo, scale, _QUERY_BLOCK)
    b2 = _Blocks(p2, lengths2, lo, scale, _DATA_BLOCK)
    if b1.num == 0 or b2.num == 0:
        return
    # Slack for rounding in the dense distances; the bound must never be too small.
    size = extent.amax()
    ub = _upper_bounds(b1, b2, K, norm) * (1 + 1e-6) + 1e-9 * size**norm  # (NB1,)
    cand, counts = _candidates(b1, b2, ub, norm, 1e-6 * size)  # (NB1, W) data blocks per query block, (NB1,)
    _search(b1, b2, cand, counts, K, norm, P1, out)


def _upper_bounds(b1: _Blocks, b2: _Blocks, K: int, norm: int) -> torch.Tensor:
    """(NB1,) for each query block, an upper bound on the K-th neighbour distance of each of its points.

    Each query block is compared densely with the few data blocks nearest to it along the Morton curve;
    the K-th smallest distance among those candidates bounds the true K-th neighbour distance from above.
    """
    device = b1.pts.device
    reach = (K + b2.size - 1) // b2.size  # blocks on each side, so that the candidates hold >= K points
    offsets = torch.arange(-reach, reach + 1, device=device)
    # Morton position of each query block's middle point among the data points of its cloud.
    mid_slot = (b1.valid[: b1.num].sum(1) - 1) // 2
    mid_key = (b1.batch << _CODE_BITS) | _block_keys(b1, mid_slot)
    pos = torch.searchsorted(b2.keys, mid_key)
    start, stop = b2.point_first[b1.batch], b2.point_first[b1.batch + 1]
    has_data = stop > start
    pos = torch.minimum(torch.maximum(pos, start), (stop - 1).clamp(min=0)).clamp(max=b2.keys.shape[0] - 1)
    centre_block = b2.block_of[pos]  # (NB1,)
    first2 = torch.tensor(b2.first, device=device)
    lo_block, hi_block = first2[b1.batch], first2[b1.batch + 1]  # data blocks of the same cloud
    # a window of 2 reach + 1 blocks around the centre block, shifted to stay inside the cloud
    window = torch.maximum(torch.minimum(centre_block - reach, hi_block - offsets.shape[0]), lo_block)
    cand = window[:, None] + offsets[None] + reach  # (NB1, 2 reach + 1)
    inside = (cand < hi_block[:, None]) & has_data[:, None]
    cand = torch.where(inside, cand, torch.full_like(cand, b2.num))  # dummy block: no points
    ub = torch.empty(b1.num, dtype=b1.pts.dtype, device=device)
    rows = max(1, _BUDGET // (b1.size * cand.shape[1] * b2.size))
    for r0 in range(0, b1.num, rows):
        r1 = min(b1.num, r0 + rows)
        vals, _ = _dense_blocks(b1, b2, torch.arange(r0, r1, device=device), cand[r0:r1], K, norm, True)
        kth = vals[..., -1] if vals.shape[-1] == K else torch.full_like(vals[..., 0], float("inf"))
        kth = kth.masked_fill(~b1.valid[r0:r1], -float("inf"))  # (rows, size)
        ub[r0:r1] = kth.amax(1)
    return ub


def _block_keys(b: _Blocks, slot: torch.Tensor) -> torch.Tensor:
    """Morton code (without the cloud bits) of one slot per block: slot (NB,) -> (NB,)."""
    # Block j of cloud n holds sorted positions point_first[n] + (j - first[n]) * size + slot.
    first = torch.tensor(b.first, device=slot.device)
    j = torch.arange(b.num, device=slot.device)
    pos = b.point_first[b.batch] + (j - first[b.batch]) * b.size + slot
    return b.keys[pos] & ((1 << _CODE_BITS) - 1)


def _dense_blocks(b1: _Blocks, b2: _Blocks, rows: torch.Tensor, cand: torch.Tensor, K: int, norm: int, exact: bool):
    """Dense K smallest between query blocks and their candidate data blocks.

    Args:
        rows: (R,) query block indices.
        cand: (R, W) data block indices (``b2.num`` = empty dummy); taken in pieces of at most ``_BUDGET``
            distance entries, with a running K smallest.
        exact: return true distances; otherwise (norm 2) the per-row constant |q|^2 is left out, which
            does not change which neighbours are chosen.

    Returns:
        values: (R, size1, K') distances, inf where fewer than K' candidates exist (K' = min(K, W size2)).
        src: (R, size1, K') long, index within its cloud of each neighbour, -1 where none.
    """
    R, W = cand.shape
    q = b1.pts[rows]  # (R, S1, D)
    piece = max(1, _BUDGET // (R * b1.size * b2.size))
    best = None
    for c0 in range(0, W, piece):
        cc = cand[:, c0 : c0 + piece]
        x = b2.pts[cc].reshape(R, -1, q.shape[-1])  # (R, w S2, D)
        if norm == 2:
            # |x|^2 - 2 q.x (+ |q|^2): float64 and centred clouds keep this expansion accurate
            d = torch.baddbmm(b2.sq_norm[cc].reshape(R, 1, -1), q, x.transpose(1, 2), alpha=-2.0)
        else:
            d = _pair_dists(q, x, norm).masked_fill_(~b2.valid[cc].reshape(R, 1, -1), float("inf"))
        vals, pos = _smallest(d, K)  # (R, S1, k)
        src = b2.src[cc].reshape(R, -1).gather(1, pos.reshape(R, -1)).view_as(pos)
        best = _merge(best, (vals, src), K)
    vals, src = best
    if exact and norm == 2:
        vals = vals + b1.sq_norm[rows][:, :, None]
    return vals, src.masked_fill_(torch.isinf(vals), -1)


def _candidates(b1: _Blocks, b2: _Blocks, ub: torch.Tensor, norm: int, slack: torch.Tensor):
    """Data blocks that may hold a neighbour of some point of each query block.

    A data block j is kept for query block i when their boxes are no farther apart than ``ub[i]``. Block pairs
    are screened with the bounding spheres of the boxes (one ``cdist`` per chunk), then checked exactly.

    Returns:
        cand: (NB1, W) long data block indices, padded with ``b2.num`` (the empty dummy).
        counts: (NB1,) long, number of real entries per row.
    """
    device = b1.pts.device
    N = len(b1.first) - 1
    origin = b1.lo.mean(0)
    c1 = 0.5 * (b1.lo + b1.hi) - origin  # (NB1, D) box centres
    c2 = 0.5 * (b2.lo + b2.hi) - origin
    r1 = 0.5 * (b1.hi - b1.lo).norm(dim=1)  # (NB1,) bounding sphere radii
    r2 = 0.5 * (b2.hi - b2.lo).norm(dim=1)
    # Euclidean box distance <= L1 box distance, so the L1 bound screens conservatively as well.
    reach = (ub.sqrt() if norm == 2 else ub) + r1 + slack  # (NB1,)
    pairs_i, pairs_j = [], []
    # Query blocks of clouds n0..n1-1 against the data blocks of the same clouds, in chunks.
    n0 = 0
    while n0 < N:
        n1 = n0 + 1
        while n1 < N and (b1.first[n1 + 1] - b1.first[n0]) * (b2.first[n1 + 1] - b2.first[n0]) <= _BUDGET:
            n1 += 1
        i0, i_end = b1.first[n0], b1.first[n1]
        j0, j1 = b2.first[n0], b2.first[n1]
        if j1 > j0:
            step = max(1, _BUDGET // (j1 - j0))
            for a in range(i0, i_end, step):
                b = min(i_end, a + step)
                centre_dist = torch.cdist(c1[a:b], c2[j0:j1])  # (ci, cj)
                near = (centre_dist - r2[None, j0:j1]) <= reach[a:b, None]
                ii, jj = near.nonzero(as_tuple=True)
                pairs_i.append(ii + a)
                pairs_j.append(jj + j0)
        n0 = n1
    if pairs_i:
        pi, pj = torch.cat(pairs_i), torch.cat(pairs_j)
        # exact box-to-box distance of the screened pairs
        gap = torch.maximum(b2.lo[pj] - b1.hi[pi], b1.lo[pi] - b2.hi[pj]).clamp(min=0)  # (pairs, D)
        dist = (gap * gap).sum(-1) if norm == 2 else gap.sum(-1)
        keep = (dist <= ub[pi]) & (b1.batch[pi] == b2.batch[pj])
        pi, pj = pi[keep], pj[keep]
    else:
        pi = pj = torch.zeros(0, dtype=torch.int64, device=device)
    counts = torch.bincount(pi, minlength=b1.num)
    row_first = counts.cumsum(0) - counts
    width = max(1, int(counts.max()) if pi.numel() else 0)
    cand = torch.full((b1.num, width), b2.num, dtype=torch.int64, device=device)
    cand[pi, torch.arange(pi.shape[0], device=device) - row_first[pi]] = pj
    return cand, counts


def _search(b1: _Blocks, b2: _Blocks, cand, counts, K: int, norm: int, P1: int, out: torch.Tensor) -> None:
    """Dense search of each query block against its candidates, query blocks ordered by candidate count."""
    device = b1.pts.device
    order = counts.argsort()
    sorted_counts = counts[order].tolist()
    per_col = b1.size * b2.size
    out_flat = out.view(-1, out.shape[-1])
    NB1 = len(sorted_counts)
    s = bisect.bisect_left(sorted_counts, 1)  # query blocks without candidates (empty data cloud) stay -1
    while s < NB1:
        e = min(NB1, s + max(1, _BUDGET // (per_col * sorted_counts[s])))
        while e > s + 1 and (e - s) * sorted_counts[e - 1] * per_col > _BUDGET:
            e = s + max(1, (e - s) // 2)
        rows = order[s:e]
        width = sorted_counts[e - 1]
        _, src = _dense_blocks(b1, b2, rows, cand[rows, :width], K, norm, False)  # (R, S1, K')
        qv = b1.valid[rows]  # (R, S1)
        target = b1.batch[rows][:, None] * P1 + b1.src[rows]  # (R, S1) rows of out_flat
        out_flat[target[qv], : src.shape[-1]] = src[qv]
        s = e
