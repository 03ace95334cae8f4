"""Iterative farthest point sampling (PyTorch3D's ``sample_farthest_points``), batched over clouds."""

from __future__ import annotations

from typing import Sequence

import torch

from inverse3d.ops.utils import masked_gather

__all__ = ["sample_farthest_points"]


def sample_farthest_points(
    points: torch.Tensor,
    lengths: torch.Tensor | None = None,
    K: int | Sequence[int] | torch.Tensor = 50,
    random_start_point: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Picks, K times, the point farthest from those already picked (PointNet++'s sampling).

    The first pick is point 0 (or a uniformly random valid point with ``random_start_point``); each next pick is
    the point whose squared distance to its nearest picked point is largest (the first such index among ties).
    All clouds advance together, one batched step per pick.

    Args:
        points: (N, P, D) float clouds; cloud n holds its first ``lengths[n]`` rows.
        lengths: (N,) long in [0, P], or None for all P.
        K: samples per cloud: an int, or N ints (a list or an (N,) tensor). A cloud with fewer points gives
            all of its points.
        random_start_point: start from a random point of each cloud instead of point 0, drawn as PyTorch3D
            does (``torch.randint(P)`` without ``lengths``, else ``floor(lengths * torch.rand(N))``), so the same
            seed gives the same samples.

    Returns:
        selected_points: (N, max K, D) the picked points (dtype of ``points``, differentiable), 0 where padded.
        selected_indices: (N, max K) long indices into each cloud, -1 where padded (k >= min(K[n], lengths[n])).
    """
    if not torch.is_tensor(points) or points.ndim != 3:
        raise ValueError(f"points must be a (N, P, D) tensor, got {getattr(points, 'shape', type(points).__name__)}")
    N, P, D = points.shape
    device = points.device
    full = lengths is None
    if full:
        lengths = torch.full((N,), P, dtype=torch.int64, device=device)
    else:
        if not torch.is_tensor(lengths) or lengths.shape != (N,):
            raise ValueError("points and lengths must have same batch dimension.")
        lengths = lengths.to(device=device, dtype=torch.int64)
        if N and (int(lengths.max()) > P or int(lengths.min()) < 0):
            raise ValueError(f"A value in lengths was too large (or negative): lengths must lie in [0, {P}]")
    if isinstance(K, bool):
        raise ValueError("K must be an int, a list of ints or an (N,) tensor")
    if isinstance(K, int):
        Ks = torch.full((N,), K, dtype=torch.int64, device=device)
    else:
        Ks = torch.as_tensor(K, device=device).to(torch.int64).reshape(-1)
        if Ks.shape[0] != N:
            raise ValueError("K and points must have the same batch dimension")
    if N and int(Ks.min()) < 0:
        raise ValueError(f"K must be non-negative, got {Ks.tolist()}")
    max_K = int(Ks.max()) if N else (K if isinstance(K, int) else 0)
    if not points.is_floating_point():
        raise ValueError(f"points must be floating point, got {points.dtype}")

    with torch.no_grad():
        idx = _fps_indices(points.detach(), lengths, Ks, max_K, random_start_point, full)
    return masked_gather(points, idx), idx


# Above this many points (all clouds together), the farthest point is searched in two stages, per block of
# _BLOCK points then inside the first block holding the maximum (one arg-max over P is slow on the CPU), and the
# distances computed one coordinate plane at a time (keeping the temporaries in cache); below it, fewer and
# larger tensor calls are faster.
_LARGE = 1 << 15
_BLOCK = 256


def _fps_indices(points, lengths, Ks, max_K: int, random_start_point: bool, full: bool) -> torch.Tensor:
    """(N, max_K) long indices, -1 past min(K[n], lengths[n]); ``full``: no lengths were given.

    One batched step per pick over preallocated buffers: squared distances to the last pick, summed x, y, z in
    turn from coordinate differences (PyTorch3D's arithmetic, float32 unless the points are float64), a running
    minimum, and the first index of its maximum.
    """
    N, P, D = points.shape
    device = points.device
    idx = torch.full((N, max_K), -1, dtype=torch.int64, device=device)
    if N == 0 or max_K == 0 or P == 0:
        return idx
    take = torch.minimum(Ks, lengths)  # (N,) samples per cloud
    if random_start_point:  # PyTorch3D's draws: randint without lengths, else floor(lengths * rand)
        if full:
            start = torch.randint(high=P, size=(N,), device=device)
        else:
            start = torch.minimum((lengths * torch.rand(N, device=device)).long(), (lengths - 1).clamp(min=0))
    else:
        start = torch.zeros(N, dtype=torch.int64, device=device)
    large = N * P > _LARGE
    B = min(P, _BLOCK) if large else P
    blocks = -(-P // B)
    Pb = blocks * B  # P padded to whole blocks
    dtype = torch.float64 if points.dtype == torch.float64 else torch.float32
    # one contiguous plane per coordinate, at least two (planes of zeros add exact zeros to the distances)
    x = torch.zeros(max(D, 2), N, Pb, dtype=dtype, device=device)
    x[:D, :, :P] = points.permute(2, 0, 1)
    D = x.shape[0]
    flat, planes = x.view(D, N * Pb), list(x)
    # distance of each point to its nearest pick; -1 on padding (a minimum with distances >= 0 keeps it there)
    valid = torch.arange(Pb, device=device) < lengths[:, None]  # (N, Pb)
    nearest = torch.full((N, Pb), float("inf"), dtype=dtype, device=device).masked_fill_(~valid, -1.0)
    dist = torch.empty_like(nearest)  # (N, Pb) squared distances to the last pick
    squares = torch.empty_like(nearest if large else x)  # one plane, or all (D, N, Pb)
    square_planes = list(squares)
    offset = torch.arange(N, device=device) * Pb  # (N,) flat index of each cloud's point 0
    by_block, rows = nearest.view(N, blocks, B), nearest.view(N * blocks, B)
    first_block = torch.arange(N, device=device) * blocks  # (N,) row of rows holding each cloud's block 0
    top, place = torch.empty_like(nearest[:, 0]), torch.empty_like(start)  # (N,) maxima and their places
    last = start + offset  # (N,) flat index of the last pick
    picks = [last]
    for _ in range(max_K - 1):
        centre = flat.index_select(1, last).unsqueeze(2)  # (D, N, 1) the last picks
        if large:  # one plane at a time, the temporary staying in cache
            torch.sub(planes[0], centre[0], out=dist).square_()
            for c in range(1, D):
                dist.add_(torch.sub(planes[c], centre[c], out=squares).square_())
        else:
            torch.sub(x, centre, out=squares).square_()
            torch.add(square_planes[0], square_planes[1], out=dist)
            for c in range(2, D):
                dist.add_(square_planes[c])
        torch.minimum(nearest, dist, out=nearest)  # the last pick gets 0: it is its own nearest pick
        if blocks == 1:
            torch.max(nearest, 1, out=(top, place))  # the first place of the maximum
            last = place + offset
        else:
            top, block = by_block.amax(2).max(1)  # (N,) the maximum and the first block holding it
            block += first_block
            place = (rows.index_select(0, block) == top[:, None]).max(1).indices  # its first place there
            last = torch.add(place, block, alpha=B)
        picks.append(last)
    torch.stack(picks, 1, out=idx)
    idx -= offset[:, None]  # flat index -> index in the cloud
    done = torch.arange(max_K, device=device)[None] >= take[:, None]
    return idx.masked_fill_(done, -1)
