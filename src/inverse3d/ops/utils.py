"""Small helpers shared by the point-cloud ops: weighted means, batches of identities, padded views of clouds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from inverse3d.ops.knn import knn_points

if TYPE_CHECKING:
    from inverse3d.structures import Pointclouds

__all__ = [
    "wmean",
    "eyes",
    "convert_pointclouds_to_tensor",
    "is_pointclouds",
    "get_point_covariances",
    "masked_gather",
]


def wmean(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    dim: int | Sequence[int] = -2,
    keepdim: bool = True,
    eps: float = 1e-9,
) -> torch.Tensor:
    """Mean of ``x`` over ``dim``, weighted when ``weight`` is given (PyTorch3D's ``ops.wmean``).

    Args:
        x: (*, D) float; the last dimension is the spatial one and shares the weight of its row.
        weight: optional non-negative weights (*,) broadcastable to ``x.shape[:-1]``.
        dim: dimension(s) of ``x`` to average over (default: the points, -2).
        keepdim: keep the averaged dimensions as size 1.
        eps: lower bound of the summed weights in the denominator.

    Returns:
        ``x.mean(dim)`` without weights, else ``sum(x * w, dim) / max(sum(w, dim), eps)``.
    """
    dims = tuple(dim) if isinstance(dim, (list, tuple)) else dim
    if weight is None:
        return x.mean(dim=dims, keepdim=keepdim)
    try:
        torch.broadcast_shapes(tuple(x.shape[:-1]), tuple(weight.shape))
    except RuntimeError:
        raise ValueError(
            f"wmean: weights of shape {tuple(weight.shape)} do not broadcast to x.shape[:-1] = {tuple(x.shape[:-1])}"
        ) from None
    w = weight[..., None]
    return (x * w).sum(dim=dims, keepdim=keepdim) / w.sum(dim=dims, keepdim=keepdim).clamp(eps)


def eyes(
    dim: int,
    N: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """(N, dim, dim) batch of identity matrices (independent storage, so writable)."""
    return torch.eye(dim, device=device, dtype=dtype)[None].repeat(N, 1, 1)


def is_pointclouds(pcl: object) -> bool:
    """True for a ``Pointclouds``-like object (it has ``points_padded`` and ``num_points_per_cloud``)."""
    return hasattr(pcl, "points_padded") and hasattr(pcl, "num_points_per_cloud")


def convert_pointclouds_to_tensor(pcl: "torch.Tensor | Pointclouds") -> tuple[torch.Tensor, torch.Tensor]:
    """Padded points and per-cloud sizes of a ``Pointclouds`` or of an (N, P, D) tensor.

    Returns:
        points: (N, P, D) float, the padded points (the tensor itself for a tensor).
        num_points: (N,) int64, the number of points of each cloud (P for a tensor).
    """
    if is_pointclouds(pcl):
        return pcl.points_padded(), pcl.num_points_per_cloud()
    if torch.is_tensor(pcl):
        if pcl.ndim != 3:
            raise ValueError(f"Expected points of shape (N, P, D), got {tuple(pcl.shape)}")
        return pcl, torch.full((pcl.shape[0],), pcl.shape[1], dtype=torch.int64, device=pcl.device)
    raise ValueError("The inputs X, Y should be either Pointclouds objects or tensors.")


def get_point_covariances(
    points_padded: torch.Tensor,
    num_points_per_cloud: torch.Tensor,
    neighborhood_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Covariance of the K nearest neighbours of every point (the point itself included).

    Args:
        points_padded: (N, P, D) float clouds, cloud n holding its first ``num_points_per_cloud[n]`` rows.
        num_points_per_cloud: (N,) int64.
        neighborhood_size: K, neighbours per point.

    Returns:
        covariances: (N, P, D, D), ``mean_k (x_k - m)(x_k - m)^T`` with ``m`` the neighbourhood mean.
        k_nearest_neighbors: (N, P, K, D) the neighbours (0 where padded).
    """
    knn = knn_points(
        points_padded,
        points_padded,
        lengths1=num_points_per_cloud,
        lengths2=num_points_per_cloud,
        K=neighborhood_size,
        return_nn=True,
    ).knn  # (N, P, K, D)
    centred = knn - knn.mean(2, keepdim=True)
    covariances = torch.einsum("npki,npkj->npij", centred, centred) / neighborhood_size
    return covariances, knn


def masked_gather(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows of ``points`` named by ``idx``, with -1 meaning "none" (gives zeros); differentiable in ``points``.

    Args:
        points: (N, P, D) float.
        idx: (N, K) or (N, P', K) long indices into ``points[n]``, -1 for padding.

    Returns:
        (N, K, D) or (N, P', K, D) float.
    """
    if idx.shape[0] != points.shape[0]:
        raise ValueError("points and idx must have the same batch dimension")
    if idx.ndim not in (2, 3):
        raise ValueError(f"idx format is not supported {tuple(idx.shape)}")
    N, P, D = points.shape
    missing = idx < 0
    flat = idx.clamp(min=0).reshape(N, -1)  # (N, L)
    if P == 0:
        out = points.new_zeros(N, flat.shape[1], D) + 0.0 * points.sum()
    else:
        out = points.gather(1, flat[..., None].expand(-1, -1, D))  # (N, L, D)
    out = out.reshape(*idx.shape, D)
    return out.masked_fill(missing[..., None], 0.0)
