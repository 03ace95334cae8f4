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
        random_start_point: start from a random point of each cloud instead of point 0.

    Returns:
        selected_points: (N, max K, D) the picked points (dtype of ``points``, differentiable), 0 where padded.
        selected_indices: (N, max K) long indices into each cloud, -1 where padded (k >= min(K[n], lengths[n])).
    """
    if not torch.is_tensor(points) or points.ndim != 3:
        raise ValueError(f"points must be a (N, P, D) tensor, got {getattr(points, 'shape', type(points).__name__)}")
    N, P, D = points.shape
    device = points.device
    if lengths is None:
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
        idx = _fps_indices(points.detach(), lengths, Ks, max_K, random_start_point)
    return masked_gather(points, idx), idx


def _fps_indices(points, lengths, Ks, max_K: int, random_start_point: bool) -> torch.Tensor:
    """(N, max_K) long indices, -1 past min(K[n], lengths[n])."""
    N, P, _ = points.shape
    device = points.device
    idx = torch.full((N, max_K), -1, dtype=torch.int64, device=device)
    if N == 0 or max_K == 0 or P == 0:
        return idx
    take = torch.minimum(Ks, lengths)  # (N,) samples per cloud
    valid = torch.arange(P, device=device)[None] < lengths[:, None]  # (N, P)
    if random_start_point:
        start = (torch.rand(N, device=device) * lengths).long().clamp(max=P - 1)
    else:
        start = torch.zeros(N, dtype=torch.int64, device=device)
    # squared distances from coordinate differences, summed x, y, z in turn (as PyTorch3D), float32 unless the
    # points are float64; one contiguous plane per coordinate
    x = points.to(torch.float64 if points.dtype == torch.float64 else torch.float32).permute(2, 0, 1).contiguous()
    rows = torch.arange(N, device=device)
    # distance of each point to its nearest pick; -1 on padding (a minimum with distances >= 0 keeps it there)
    nearest = torch.full((N, P), float("inf"), dtype=x.dtype, device=device).masked_fill(~valid, -1.0)
    d = torch.empty_like(nearest)
    tmp = torch.empty_like(nearest)
    last = start
    for k in range(max_K):
        idx[:, k] = last
        if k + 1 == max_K:
            break
        centre = x[:, rows, last]  # (D, N)
        torch.sub(x[0], centre[0][:, None], out=d).square_()
        for c in range(1, x.shape[0]):
            d.add_(torch.sub(x[c], centre[c][:, None], out=tmp).square_())
        torch.minimum(nearest, d, out=nearest)  # the last pick gets 0: it is its own nearest pick
        last = nearest.argmax(1)
    done = torch.arange(max_K, device=device)[None] >= take[:, None]
    return idx.masked_fill(done, -1)
