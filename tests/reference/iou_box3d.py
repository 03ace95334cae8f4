"""Box intersection oracles: exact via scipy's half-space intersection, and Monte Carlo sampling."""

from __future__ import annotations

import numpy as np
import torch

_FACES = [[0, 1, 2, 3], [3, 2, 6, 7], [0, 1, 5, 4], [0, 3, 7, 4], [1, 2, 6, 5], [4, 5, 6, 7]]


def _halfspaces(box: np.ndarray) -> np.ndarray:
    """(6, 4) rows [n, -d] with n . x - d <= 0 inside, for a box's 8 corners (8, 3)."""
    centre = box.mean(0)
    rows = []
    for f in _FACES:
        q = box[f]
        n = np.cross(q[1] - q[0], q[2] - q[0])
        n /= np.linalg.norm(n)
        if np.dot(n, centre - q.mean(0)) > 0:
            n = -n
        rows.append([*n, -np.dot(n, q.mean(0))])
    return np.array(rows)


def box_volume(box) -> float:
    from scipy.spatial import ConvexHull

    return float(ConvexHull(np.asarray(box, dtype=np.float64)).volume)


def intersection_volume_exact(box1, box2) -> float:
    """Volume of the intersection of two convex boxes (8, 3), box by box with scipy."""
    from scipy.optimize import linprog
    from scipy.spatial import ConvexHull, HalfspaceIntersection

    b1, b2 = (np.asarray(b, dtype=np.float64) for b in (box1, box2))
    hs = np.vstack([_halfspaces(b1), _halfspaces(b2)])
    A, d = hs[:, :3], -hs[:, 3]
    # a point deepest inside both boxes (Chebyshev centre)
    res = linprog([0, 0, 0, -1], A_ub=np.hstack([A, np.linalg.norm(A, axis=1)[:, None]]), b_ub=d,
                  bounds=[(None, None)] * 3 + [(0, None)])
    if not res.success or res.x[3] < 1e-9:
        return 0.0
    inter = HalfspaceIntersection(hs, res.x[:3])
    return float(ConvexHull(inter.intersections).volume)


def intersection_volume_monte_carlo(box1, box2, samples=200_000, seed=0) -> float:
    """Fraction of uniform samples in box1 that also lie in box2, times box1's volume."""
    b1, b2 = (np.asarray(b, dtype=np.float64) for b in (box1, box2))
    rng = np.random.default_rng(seed)
    lo, hi = b1.min(0), b1.max(0)
    pts = rng.uniform(lo, hi, size=(samples, 3))
    h1, h2 = _halfspaces(b1), _halfspaces(b2)
    in1 = (pts @ h1[:, :3].T + h1[:, 3] <= 0).all(1)
    in2 = (pts @ h2[:, :3].T + h2[:, 3] <= 0).all(1)
    return float((in1 & in2).mean() * np.prod(hi - lo))


def box3d_overlap_naive(boxes1: torch.Tensor, boxes2: torch.Tensor):
    """(vol, iou) (N, M) float64 by the exact oracle, pair by pair."""
    vol = torch.zeros(boxes1.shape[0], boxes2.shape[0], dtype=torch.float64)
    iou = torch.zeros_like(vol)
    for i, a in enumerate(boxes1):
        for j, b in enumerate(boxes2):
            v = intersection_volume_exact(a.numpy(), b.numpy())
            vol[i, j] = v
            iou[i, j] = v / (box_volume(a.numpy()) + box_volume(b.numpy()) - v)
    return vol, iou
