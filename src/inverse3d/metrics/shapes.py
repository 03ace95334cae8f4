"""Reconstruction metrics of shapes as in the course: F1 at distance thresholds, chamfer, voxel IoU.

F1@t (in percent): with ``d(p, S)`` the distance from ``p`` to its nearest neighbour in the set ``S``,
precision = 100 * fraction of predicted points with ``d(p, GT) < t``, recall = 100 * fraction of ground-truth
points with ``d(g, pred) < t``, and ``F1 = 2 P R / (P + R)`` (0 when both are 0). Thresholds are in the units of
CONVENTIONS.md (shapes with bounding-box diagonal 1), by default 0.01, 0.02, ..., 0.05. An empty prediction scores 0.
"""

from __future__ import annotations

from typing import Sequence

import torch

THRESHOLDS = (0.01, 0.02, 0.03, 0.04, 0.05)


def _lengths(points: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    if lengths is None:
        return torch.full((points.shape[0],), points.shape[1], dtype=torch.int64, device=points.device)
    return lengths.to(device=points.device, dtype=torch.int64)


def f1_scores(
    pred_points: torch.Tensor,
    gt_points: torch.Tensor,
    thresholds: Sequence[float] = THRESHOLDS,
    pred_lengths: torch.Tensor | None = None,
    gt_lengths: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Precision, recall and F1 (percent) at each threshold, one row per shape.

    Args:
        pred_points: (N, P1, 3) predicted surface points; shape n holds its first ``pred_lengths[n]`` rows.
        gt_points: (N, P2, 3) ground-truth surface points; likewise ``gt_lengths``.
        thresholds: T distances.

    Returns:
        dict with ``"precision"``, ``"recall"``, ``"f1"``: (N, T) float in [0, 100].
    """
    from inverse3d.ops.knn import knn_points

    if pred_points.ndim != 3 or gt_points.ndim != 3 or pred_points.shape[0] != gt_points.shape[0]:
        raise ValueError(
            f"f1_scores expects (N, P1, 3) and (N, P2, 3) point sets; got {tuple(pred_points.shape)} and "
            f"{tuple(gt_points.shape)}"
        )
    n1, n2 = _lengths(pred_points, pred_lengths), _lengths(gt_points, gt_lengths)
    t = torch.as_tensor(thresholds, dtype=pred_points.dtype, device=pred_points.device)  # (T,)
    pred_points, gt_points = pred_points.detach(), gt_points.detach()
    d12 = knn_points(pred_points, gt_points, n1, n2, K=1).dists[..., 0].sqrt()  # (N, P1)
    d21 = knn_points(gt_points, pred_points, n2, n1, K=1).dists[..., 0].sqrt()  # (N, P2)
    valid1 = torch.arange(pred_points.shape[1], device=n1.device)[None] < n1[:, None]  # (N, P1)
    valid2 = torch.arange(gt_points.shape[1], device=n2.device)[None] < n2[:, None]  # (N, P2)
    # A point with nothing on the other side has no neighbour within any threshold.
    valid1 = valid1 & (n2 > 0)[:, None]
    valid2 = valid2 & (n1 > 0)[:, None]
    hits1 = ((d12[..., None] < t) & valid1[..., None]).sum(1).to(t.dtype)  # (N, T)
    hits2 = ((d21[..., None] < t) & valid2[..., None]).sum(1).to(t.dtype)
    precision = 100.0 * hits1 / n1.clamp(min=1)[:, None].to(t.dtype)
    recall = 100.0 * hits2 / n2.clamp(min=1)[:, None].to(t.dtype)
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(denom))
    return {"precision": precision, "recall": recall, "f1": f1}


def chamfer_l2(
    pred_points: torch.Tensor,
    gt_points: torch.Tensor,
    pred_lengths: torch.Tensor | None = None,
    gt_lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N,) chamfer distance (PyTorch3D's: mean squared nearest-neighbour distance each way, summed); NaN where a
    prediction is empty."""
    from inverse3d.loss import chamfer_distance

    n1, n2 = _lengths(pred_points, pred_lengths), _lengths(gt_points, gt_lengths)
    ok = n1 > 0
    out = torch.full((pred_points.shape[0],), float("nan"), dtype=pred_points.dtype, device=pred_points.device)
    if ok.any():
        cd, _ = chamfer_distance(pred_points[ok].detach(), gt_points[ok].detach(), n1[ok], n2[ok], batch_reduction=None)
        out[ok] = cd
    return out


def voxel_iou(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """(N,) intersection over union of occupied cells.

    Args:
        pred: (N, D, H, W) occupancy probabilities in [0, 1] (occupied where >= threshold).
        target: (N, D, H, W) occupancies (occupied where >= 0.5).

    Returns:
        (N,) float in [0, 1]; 1 where both grids are empty.
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"voxel_iou expects two (N, D, H, W) grids; got {tuple(pred.shape)} and {tuple(target.shape)}")
    a = pred >= threshold
    b = target >= 0.5
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
