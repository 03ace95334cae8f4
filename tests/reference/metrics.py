"""Naive reconstruction metrics: F1 at thresholds and voxel IoU with Python loops over shapes and points."""

from __future__ import annotations

import math

import torch


def nearest_distance_naive(p: torch.Tensor, cloud: torch.Tensor) -> float:
    """Euclidean distance from one point (3,) to its nearest neighbour in ``cloud`` (M, 3); inf if M == 0."""
    best = math.inf
    for q in cloud.tolist():
        d = math.sqrt(sum((a - b) ** 2 for a, b in zip(p.tolist(), q)))
        best = min(best, d)
    return best


def f1_naive(pred: list[torch.Tensor], gt: list[torch.Tensor], thresholds) -> dict[str, list[list[float]]]:
    """pred, gt: lists of (P_n, 3) clouds (P_n may be 0). Returns precision, recall, f1 as [N][T] lists (percent)."""
    out = {"precision": [], "recall": [], "f1": []}
    for a, b in zip(pred, gt):
        da = [nearest_distance_naive(p, b) for p in a]
        db = [nearest_distance_naive(q, a) for q in b]
        prec, rec, f1 = [], [], []
        for t in thresholds:
            p = 100.0 * sum(d < t for d in da) / len(da) if da else 0.0
            r = 100.0 * sum(d < t for d in db) / len(db) if db else 0.0
            prec.append(p)
            rec.append(r)
            f1.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
        out["precision"].append(prec)
        out["recall"].append(rec)
        out["f1"].append(f1)
    return out


def iou_naive(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> list[float]:
    """(N, D, H, W) probabilities and occupancies -> IoU per grid, cell by cell; 1.0 when both are empty."""
    out = []
    for a, b in zip(pred, target):
        inter = union = 0
        for x, y in zip(a.flatten().tolist(), b.flatten().tolist()):
            pa, pb = x >= threshold, y >= 0.5
            inter += pa and pb
            union += pa or pb
        out.append(inter / union if union else 1.0)
    return out
