"""Chamfer distance between batches of point clouds (PyTorch3D semantics), on top of ``knn_points``.

For each point of ``x`` the distance to its nearest neighbour in ``y`` (squared for ``norm=2``), and the other
way round; optionally one minus the cosine between each point's normal and its neighbour's normal. The
nearest-neighbour search is exact and memory-bounded (see ``inverse3d.ops.knn``), so clouds of 100k points
are fine on a CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inverse3d.ops.knn import knn_gather, knn_points

_BATCH_REDUCTIONS = ("mean", "sum")
_POINT_REDUCTIONS = ("mean", "sum", "max")


def chamfer_distance(
    x,
    y,
    x_lengths: torch.Tensor | None = None,
    y_lengths: torch.Tensor | None = None,
    x_normals: torch.Tensor | None = None,
    y_normals: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    batch_reduction: str | None = "mean",
    point_reduction: str | None = "mean",
    norm: int = 2,
    single_directional: bool = False,
    abs_cosine: bool = True,
):
    """Chamfer distance between two batches of point clouds.

    Args:
        x: (N, P1, D) float tensor or a ``Pointclouds`` (then its padded points, lengths and normals are used).
        y: (N, P2, D) float tensor or a ``Pointclouds``.
        x_lengths: (N,) long, valid points per cloud of ``x``; None: all P1.
        y_lengths: (N,) long, valid points per cloud of ``y``; None: all P2.
        x_normals: (N, P1, D) float normals of ``x``, or None.
        y_normals: (N, P2, D) float normals of ``y``, or None. The normal term needs both.
        weights: (N,) float >= 0, per-cloud weights, or None.
        batch_reduction: "mean", "sum" or None (then one value per cloud).
        point_reduction: "mean", "sum", "max" or None (then one value per point; needs batch_reduction None).
            "max" takes the largest nearest-neighbour distance (and the larger of the two directions) and does
            not allow normals.
        norm: 2 for squared Euclidean distances, 1 for L1 distances.
        single_directional: only the x -> y term.
        abs_cosine: the normal term uses |cos| (orientation ignored); False: signed cos.

    Returns:
        (loss, loss_normals):
        loss: () after a batch reduction, (N,) with batch_reduction None; with point_reduction None a pair of
            per-point terms ((N, P1), (N, P2)), or only (N, P1) when single_directional.
        loss_normals: the same shapes for the normal term, or None without normals.
        With all-zero ``weights`` both are zeros, of PyTorch3D's shapes: (N, N) where (N,) or (N, P) would be
        expected, and loss_normals is zeros too even without normals (except with point_reduction "max").
    """
    _validate_reductions(batch_reduction, point_reduction)
    if norm not in (1, 2):
        raise ValueError(f"Support for 1 or 2 norm; got norm={norm}")
    if point_reduction == "max" and (x_normals is not None or y_normals is not None):
        raise ValueError('Normals must be None if point_reduction is "max"')
    x, x_lengths, x_normals = _handle_pointcloud_input(x, x_lengths, x_normals, "x")
    y, y_lengths, y_normals = _handle_pointcloud_input(y, y_lengths, y_normals, "y")

    cham_x, cham_norm_x = _single_direction(
        x, y, x_lengths, y_lengths, x_normals, y_normals, weights, point_reduction, norm, abs_cosine
    )
    if single_directional:
        loss, loss_normals = cham_x, cham_norm_x
    else:
        cham_y, cham_norm_y = _single_direction(
            y, x, y_lengths, x_lengths, y_normals, x_normals, weights, point_reduction, norm, abs_cosine
        )
        if point_reduction == "max":
            loss, loss_normals = torch.maximum(cham_x, cham_y), None
        elif point_reduction is not None:
            loss = cham_x + cham_y
            loss_normals = cham_norm_x + cham_norm_y if cham_norm_x is not None else None
        else:
            loss = (cham_x, cham_y)
            loss_normals = (cham_norm_x, cham_norm_y) if cham_norm_x is not None else None
    return _apply_batch_reduction(loss, loss_normals, weights, batch_reduction)


def _apply_batch_reduction(loss, loss_normals, weights, batch_reduction):
    """Sums or averages per-cloud values (N,) over the batch; None: unchanged."""
    if batch_reduction is None:
        return loss, loss_normals
    N = loss.shape[0]
    if batch_reduction == "sum":
        div = 1
    elif weights is None:
        div = max(N, 1)
    else:
        div = weights.sum() if weights.sum() != 0.0 else 1
    loss = loss.sum() / div
    if loss_normals is not None:
        loss_normals = loss_normals.sum() / div
    return loss, loss_normals


def _validate_reductions(batch_reduction, point_reduction) -> None:
    if batch_reduction is not None and batch_reduction not in _BATCH_REDUCTIONS:
        raise ValueError(f'batch_reduction must be one of ["mean", "sum"] or None; got {batch_reduction!r}')
    if point_reduction is not None and point_reduction not in _POINT_REDUCTIONS:
        raise ValueError(f'point_reduction must be one of ["mean", "sum", "max"] or None; got {point_reduction!r}')
    if point_reduction is None and batch_reduction is not None:
        raise ValueError("Batch reduction must be None if point_reduction is None")


def _is_pointclouds(obj) -> bool:
    return not torch.is_tensor(obj) and hasattr(obj, "points_padded") and hasattr(obj, "num_points_per_cloud")


def _handle_pointcloud_input(points, lengths, normals, name: str):
    """Padded points (N, P, D), lengths (N,) and normals (N, P, D) or None, from a tensor or a Pointclouds."""
    if _is_pointclouds(points):
        return points.points_padded(), points.num_points_per_cloud(), points.normals_padded()
    if not torch.is_tensor(points):
        raise ValueError(
            "The input pointclouds should be either Pointclouds objects or torch.Tensor of shape "
            f"(minibatch, num_points, 3); got {type(points).__name__} for {name}"
        )
    if points.ndim != 3:
        raise ValueError(f"Expected {name} to be of shape (N, P, D); got {tuple(points.shape)}")
    N, P, D = points.shape
    if lengths is not None:
        if lengths.ndim != 1 or lengths.shape[0] != N:
            raise ValueError(f"Expected {name}_lengths to be of shape ({N},); got {tuple(lengths.shape)}")
        if N > 0 and lengths.max() > P:
            raise ValueError(f"A length value was too long: {name}_lengths max {int(lengths.max())} > {P}")
    else:
        lengths = torch.full((N,), P, dtype=torch.int64, device=points.device)
    if normals is not None and (normals.ndim != 3 or normals.shape[:2] != (N, P)):
        raise ValueError(f"Expected {name}_normals to be of shape ({N}, {P}, 3); got {tuple(normals.shape)}")
    return points, lengths, normals


def _single_direction(x, y, x_lengths, y_lengths, x_normals, y_normals, weights, point_reduction, norm, abs_cosine):
    """The x -> y half of the chamfer distance, reduced over points as requested (not over the batch).

    Returns:
        (term, normal term or None): (N,) per cloud, or (N, P1) per point when point_reduction is None.
    """
    return_normals = x_normals is not None and y_normals is not None
    N, P1, D = x.shape
    if y.shape[0] != N or y.shape[2] != D:
        raise ValueError(f"y does not have the correct shape: {tuple(y.shape)} for x of shape {tuple(x.shape)}")
    x_mask = torch.arange(P1, device=x.device)[None] >= x_lengths[:, None]  # (N, P1), True on padding
    if weights is not None:
        if weights.ndim != 1 or weights.shape[0] != N:
            raise ValueError(f"weights must be of shape (N,) = ({N},); got {tuple(weights.shape)}")
        if not (weights >= 0).all():
            raise ValueError("weights cannot be negative.")
        if weights.sum() == 0.0:
            # As PyTorch3D: zeros that keep x in the graph, for the normal term too (even without normals), of
            # PyTorch3D's shape (N, N) (its (N,) sums times the (N, 1) weights), whatever the point reduction.
            zero = x.sum((1, 2)) * weights.view(N, 1) * 0.0
            return zero, zero

    x_nn = knn_points(x, y, lengths1=x_lengths, lengths2=y_lengths, norm=norm, K=1)
    cham_x = x_nn.dists[..., 0].masked_fill(x_mask, 0.0)  # (N, P1)
    if weights is not None:
        cham_x = cham_x * weights.view(N, 1)

    cham_norm_x = None
    if return_normals:
        x_normals_near = knn_gather(y_normals, x_nn.idx, y_lengths)[..., 0, :]  # (N, P1, D)
        cosine = F.cosine_similarity(x_normals, x_normals_near, dim=2, eps=1e-6)
        cham_norm_x = 1 - (cosine.abs() if abs_cosine else cosine)
        cham_norm_x = cham_norm_x.masked_fill(x_mask, 0.0)
        if weights is not None:
            cham_norm_x = cham_norm_x * weights.view(N, 1)

    if point_reduction == "max":
        cham_x = cham_x.masked_fill(x_mask, -float("inf")).amax(1) if P1 > 0 else cham_x.sum(1)
        cham_x = cham_x.clamp(min=0.0)  # empty clouds give 0
    elif point_reduction is not None:
        cham_x = cham_x.sum(1)  # (N,)
        if return_normals:
            cham_norm_x = cham_norm_x.sum(1)
        if point_reduction == "mean":
            count = x_lengths.clamp(min=1).to(cham_x.dtype)
            cham_x = cham_x / count
            if return_normals:
                cham_norm_x = cham_norm_x / count
    return cham_x, cham_norm_x
