"""Efficient Perspective-n-Point (EPnP, Moreno-Noguer, Lepetit & Fua 2009), batched (PyTorch3D's ``efficient_pnp``).

Finds the camera (R, T) with ``y_i ~ proj(x_i R + T)``, ``proj([a, b, c]) = [a / c, b / c]``, from 3D points x and
their 2D projections y (uncalibrated: y are already divided by the focal length and centred). Every point is
written in barycentric coordinates of 4 control points (the weighted mean and the mean plus each unit axis); the
projection equations are linear in the control points' camera coordinates, whose solutions lie near the null
space of a 2n x 12 matrix. Candidates are that space's first vector and, unless ``skip_quadratic_eq``, the
combinations of 2, 3 or 4 null vectors that best keep the control points' distances (the paper's three cases);
each is scaled and oriented by a similarity fit to x, and the one with the smallest reprojection error wins.
"""

from __future__ import annotations

import itertools
import warnings
from typing import NamedTuple

import torch

from inverse3d.ops.points_alignment import corresponding_points_alignment
from inverse3d.ops.utils import wmean

__all__ = ["EpnpSolution", "efficient_pnp"]


class EpnpSolution(NamedTuple):
    """Result of :func:`efficient_pnp`.

    Attributes:
        x_cam: (N, P, 3) the points in camera coordinates used to fit the camera (an affine image of x).
        R: (N, 3, 3) rotations, row-vector convention (``x R + T``).
        T: (N, 3) translations.
        err_2d: (N,) mean reprojection distance of ``x R + T`` to y (weighted).
        err_3d: (N,) mean squared distance between ``x R + T`` and ``x_cam`` (weighted).
    """

    x_cam: torch.Tensor
    R: torch.Tensor
    T: torch.Tensor
    err_2d: torch.Tensor
    err_3d: torch.Tensor


_PAIRS4 = list(itertools.combinations(range(4), 2))  # (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)


def efficient_pnp(
    x: torch.Tensor,
    y: torch.Tensor,
    weights: torch.Tensor | None = None,
    skip_quadratic_eq: bool = False,
) -> EpnpSolution:
    """Camera rotation and translation from 3D-2D correspondences (module docstring).

    Args:
        x: (N, P, 3) world points, P >= 4 (not all coplanar for a unique solution without noise).
        y: (N, P, 2) their projections.
        weights: optional non-negative (N, P) weights.
        skip_quadratic_eq: use only the first null-space vector (easier to differentiate through).

    Returns:
        :class:`EpnpSolution`, differentiable in x and y.
    """
    if x.ndim != 3 or x.shape[2] != 3 or y.ndim != 3 or y.shape[2] != 2 or x.shape[:2] != y.shape[:2]:
        raise ValueError(f"efficient_pnp expects x (N, P, 3) and y (N, P, 2), got {tuple(x.shape)} and {tuple(y.shape)}")
    if weights is not None and tuple(weights.shape) != tuple(x.shape[:2]):
        raise ValueError(f"weights must have shape {tuple(x.shape[:2])}, got {tuple(weights.shape)}")
    c_world = _control_points(x.detach(), weights)  # (N, 4, 3)
    alphas = _barycentric(x, c_world)  # (N, P, 4)
    M = _projection_matrix(y, alphas, weights)  # (N, 2P, 12)
    kernel = _null_space(M)  # (N, 4 control points, 3, 4 kernel vectors)
    candidates = [kernel[..., 0]]
    if not skip_quadratic_eq:
        ctrl_dist = _pair_sq_dists(c_world)  # (N, 6)
        lin = _kernel_distance_terms(kernel)  # (N, 6, 10)
        for solve in (_betas_case1, _betas_case2, _betas_case3):
            beta = solve(lin, ctrl_dist)  # (N, 4)
            candidates.append((kernel * beta[:, None, None, :]).sum(-1))
    solutions = [_fit_scale_and_pose(c_cam, alphas, x, y, weights) for c_cam in candidates]
    err = torch.stack([s.err_2d for s in solutions])  # (S, N)
    best = err.argmin(0)  # (N,)
    rows = torch.arange(x.shape[0], device=x.device)
    return EpnpSolution(*(torch.stack(field)[best, rows] for field in zip(*solutions)))


def _control_points(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """(N, 4, 3): the weighted mean plus each unit axis, then the mean itself."""
    mean = wmean(x, weights)  # (N, 1, 3)
    basis = torch.cat([torch.eye(3, dtype=x.dtype, device=x.device), x.new_zeros(1, 3)])  # (4, 3)
    return basis[None] + mean


def _barycentric(x: torch.Tensor, c_world: torch.Tensor) -> torch.Tensor:
    """(N, P, 4) coordinates a with x = a @ c_world and sum(a) = 1."""
    ones = x.new_ones(*x.shape[:2], 1)
    c = torch.cat([c_world, c_world.new_ones(c_world.shape[0], 4, 1)], -1)  # (N, 4, 4)
    return torch.cat([x, ones], -1) @ torch.linalg.inv(c)


def _projection_matrix(y: torch.Tensor, alphas: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """(N, 2P, 12): for each point, ``sum_j a_j (c_j . [1, 0, -u]) = 0`` and the same with [0, 1, -v]."""
    if weights is not None:
        alphas = alphas * weights[..., None]
    N, P, _ = y.shape
    one, zero = torch.ones_like(y[..., 0]), torch.zeros_like(y[..., 0])
    u_row = torch.stack([one, zero, -y[..., 0]], -1)  # (N, P, 3)
    v_row = torch.stack([zero, one, -y[..., 1]], -1)
    rows = torch.stack([u_row, v_row], 2)  # (N, P, 2, 3)
    M = alphas[:, :, None, :, None] * rows[:, :, :, None, :]  # (N, P, 2, 4, 3)
    return M.reshape(N, 2 * P, 12)


def _null_space(M: torch.Tensor) -> torch.Tensor:
    """(N, 4, 3, 4): the eigenvectors of M^T M with the 4 smallest eigenvalues, as 4 control points each."""
    _, vecs = torch.linalg.eigh(M.transpose(1, 2) @ M)  # ascending eigenvalues
    return vecs[:, :, :4].reshape(-1, 4, 3, 4)


def _pair_sq_dists(c: torch.Tensor) -> torch.Tensor:
    """(N, 6) squared distances between the control points (N, 4, 3), pairs in ``_PAIRS4`` order."""
    i, j = zip(*_PAIRS4)
    return (c[:, list(i)] - c[:, list(j)]).square().sum(-1)


def _kernel_distance_terms(kernel: torch.Tensor) -> torch.Tensor:
    """(N, 6, 10) coefficients of the control point distances in the products of the kernel weights.

    With control points ``c = sum_a b_a v_a``, ``|c_i - c_j|^2 = sum_a b_a^2 |dv_a|^2 + sum_{a<b} 2 b_a b_b dv_a.dv_b``
    (dv = v[i] - v[j]); columns are [b11 b22 b33 b44 b12 b13 b14 b23 b24 b34].
    """
    i, j = zip(*_PAIRS4)
    dv = kernel[:, list(i)] - kernel[:, list(j)]  # (N, 6, 3, 4)
    squares = dv.square().sum(2)  # (N, 6, 4)
    a, b = zip(*_PAIRS4)
    cross = 2 * (dv[..., list(a)] * dv[..., list(b)]).sum(2)  # (N, 6, 6)
    return torch.cat([squares, cross], -1)


def _lstsq(lin: torch.Tensor, rhs: torch.Tensor, cols: list[int]) -> torch.Tensor:
    """(N, len(cols)) least-squares solution of lin[:, :, cols] @ b = rhs."""
    A = lin[:, :, cols]
    return (torch.linalg.pinv(A) @ rhs[:, :, None])[..., 0]


def _sign(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t >= 0, torch.ones_like(t), -torch.ones_like(t))


def _betas_case1(lin: torch.Tensor, rhs: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Four kernel vectors: solve for (b11, b12, b13, b14), then b1 = sqrt(b11), b_k = b1k / b1."""
    beta = _lstsq(lin, rhs, [0, 4, 5, 6])
    beta = beta * _sign(beta[:, :1])
    return beta / beta[:, :1].sqrt().clamp(min=eps)


def _betas_case2(lin: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Two kernel vectors: solve for (b11, b12, b22)."""
    beta = _lstsq(lin, rhs, [0, 4, 1])
    b1 = beta[:, 0].abs().sqrt() * _sign(beta[:, 1])
    b2 = beta[:, 2].abs().sqrt() * ((beta[:, 0] >= 0) == (beta[:, 2] >= 0)).to(beta.dtype)
    zero = torch.zeros_like(b1)
    return torch.stack([b1, b2, zero, zero], 1)


def _betas_case3(lin: torch.Tensor, rhs: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Three kernel vectors: solve for (b11, b12, b22, b13, b23)."""
    beta = _lstsq(lin, rhs, [0, 4, 1, 5, 7])
    b1 = beta[:, 0].abs().sqrt() * _sign(beta[:, 1])
    b2 = beta[:, 2].abs().sqrt() * ((beta[:, 0] >= 0) == (beta[:, 2] >= 0)).to(beta.dtype)
    b3 = beta[:, 3] / b1.clamp(min=eps)
    return torch.stack([b1, b2, b3, torch.zeros_like(b1)], 1)


def _fit_scale_and_pose(c_cam, alphas, x_world, y, weights, eps: float = 1e-9) -> EpnpSolution:
    """Camera points from control points (N, 4, 3), oriented to positive depth, then (R, T) by a similarity fit."""
    x_cam = alphas @ c_cam  # (N, P, 3)
    flip = wmean(x_cam[..., 2:], weights) < 0  # (N, 1, 1) most points behind the camera: the mirror solution
    x_cam = torch.where(flip, -x_cam, x_cam)
    if bool((x_cam[..., 2:] < -eps).any()):
        behind = wmean((x_cam[..., 2:] < 0).to(x_cam.dtype), weights, dim=(0, 1)).item()
        warnings.warn("\nEPnP: %2.2f%% points have z<0." % (behind * 100.0))
    R, T, s = corresponding_points_alignment(x_world, x_cam, weights, estimate_scale=True)
    s = s.clamp(min=eps)
    x_cam = x_cam / s[:, None, None]
    T = T / s[:, None]
    x_rot = x_world @ R + T[:, None, :]  # (N, P, 3)
    proj = x_rot[..., :2] / x_rot[..., 2:].clamp(min=eps)
    err_2d = wmean((y - proj).square().sum(-1, keepdim=True).sqrt(), weights)[:, 0, 0]
    err_3d = wmean((x_rot - x_cam).square().sum(-1, keepdim=True), weights)[:, 0, 0]
    return EpnpSolution(x_cam, R, T, err_2d, err_3d)
