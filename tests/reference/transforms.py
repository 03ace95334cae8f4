"""Slow, obvious versions of the SE(3)/SO(3) maps and the extrapolated arccosine, one matrix or number at a time.

The SE(3) maps use the general matrix exponential and logarithm of scipy on the 4x4 twist matrix, with no closed
forms, so they check the closed forms in ``inverse3d.transforms.se3`` independently. Matrices use PyTorch3D's
row-vector layout ``[[R, 0], [T, 1]]``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg


def naive_acos_linear_extrapolation(x: float, lower: float, upper: float) -> float:
    """acos(x) between the bounds; the tangent line of acos at the nearer bound outside them."""
    if x >= upper:
        return math.acos(upper) - (x - upper) / math.sqrt(1.0 - upper * upper)
    if x <= lower:
        return math.acos(lower) - (x - lower) / math.sqrt(1.0 - lower * lower)
    return math.acos(x)


def _hat(w) -> np.ndarray:
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def naive_se3_exp(log_transform) -> np.ndarray:
    """One 6-vector [v | w] -> the row-vector 4x4 matrix, via expm of the column-vector twist [[hat(w), v], [0, 0]]."""
    v = np.asarray(log_transform[:3], dtype=np.float64)
    w = np.asarray(log_transform[3:], dtype=np.float64)
    twist = np.zeros((4, 4))
    twist[:3, :3] = _hat(w)
    twist[:3, 3] = v
    return scipy.linalg.expm(twist).T


def naive_se3_log(matrix) -> np.ndarray:
    """One row-vector 4x4 rigid matrix -> its 6-vector [v | w], via the principal matrix logarithm."""
    twist = np.real(scipy.linalg.logm(np.asarray(matrix, dtype=np.float64).T))
    return np.array([twist[0, 3], twist[1, 3], twist[2, 3], twist[2, 1], twist[0, 2], twist[1, 0]])


def naive_rotation_angle(R, cos_bound: float) -> float:
    """PyTorch3D's angle of one rotation matrix: acos((trace - 1) / 2), extrapolated past 1 - cos_bound."""
    c = (R[0][0] + R[1][1] + R[2][2] - 1.0) / 2.0
    if cos_bound > 0:
        return naive_acos_linear_extrapolation(c, -(1.0 - cos_bound), 1.0 - cos_bound)
    return math.acos(c)
