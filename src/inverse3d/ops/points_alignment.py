"""Similarity alignment of point sets: Umeyama for known correspondences, ICP otherwise (PyTorch3D semantics).

Transforms act on row vectors, as everywhere in inverse3d: ``Y ~ s * X @ R + T`` with ``R`` (N, d, d) orthonormal,
``T`` (N, d) and ``s`` (N,).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from inverse3d.ops.knn import knn_points
from inverse3d.ops.utils import convert_pointclouds_to_tensor, eyes, is_pointclouds, wmean

__all__ = ["SimilarityTransform", "ICPSolution", "corresponding_points_alignment", "iterative_closest_point"]

# Singular values of the cross-covariance at or below this make the rotation ambiguous (a warning).
AMBIGUOUS_ROT_SINGULAR_THR = 1e-15


class SimilarityTransform(NamedTuple):
    """``s * X @ R + T``: R (N, d, d), T (N, d), s (N,)."""

    R: torch.Tensor
    T: torch.Tensor
    s: torch.Tensor


class ICPSolution(NamedTuple):
    """Result of :func:`iterative_closest_point`.

    Attributes:
        converged: whether the relative RMSE fell below the threshold for every cloud.
        rmse: (N,) root mean squared distance to the nearest neighbours at the end, or None without iterations.
        Xt: ``X`` moved by the final transform (a ``Pointclouds`` if ``X`` was one).
        RTs: the final ``SimilarityTransform``.
        t_history: the transform after each iteration.
    """

    converged: bool
    rmse: torch.Tensor | None
    Xt: object
    RTs: SimilarityTransform
    t_history: list[SimilarityTransform]


def corresponding_points_alignment(
    X,
    Y,
    weights: torch.Tensor | list[torch.Tensor] | None = None,
    estimate_scale: bool = False,
    allow_reflection: bool = False,
    eps: float = 1e-9,
) -> SimilarityTransform:
    """Least-squares similarity ``s X R + T ~ Y`` between corresponding points (Umeyama's method).

    Args:
        X, Y: (N, P, d) tensors or ``Pointclouds`` with the same sizes; row i of X corresponds to row i of Y.
        weights: optional non-negative (N, P) tensor, or N tensors (P_n,); None for uniform weights. As in
            PyTorch3D, the weights scale both centred sets before the cross-covariance is formed.
        estimate_scale: also estimate ``s`` (else ones).
        allow_reflection: allow ``det(R) = -1``.
        eps: lower bound of divisors (total weight, variance of X).

    Returns:
        ``SimilarityTransform(R (N, d, d), T (N, d), s (N,))``, differentiable in X, Y and the weights.
    """
    Xt, num_points = convert_pointclouds_to_tensor(X)
    Yt, num_points_Y = convert_pointclouds_to_tensor(Y)
    if Xt.shape != Yt.shape or bool((num_points != num_points_Y).any()):
        raise ValueError("Point sets X and Y have to have the same number of batches, points and dimensions.")
    b, n, dim = Xt.shape
    if weights is not None:
        if isinstance(weights, (list, tuple)):
            if len(weights) != b or any(int(p) != w.shape[0] for p, w in zip(num_points, weights)):
                raise ValueError("number of weights should equal to the number of points in the point cloud.")
            padded = Xt.new_zeros(b, n)
            for i, w in enumerate(weights):  # N small 1-D tensors: one copy each
                padded[i, : w.shape[0]] = w
            weights = padded
        if tuple(weights.shape) != (b, n):
            raise ValueError("weights should have the same first two dimensions as X.")
        weights = weights.to(Xt.dtype)
    if bool((num_points < n).any()):  # ragged clouds: padded rows get no weight
        mask = (torch.arange(n, device=Xt.device)[None] < num_points[:, None]).to(Xt.dtype)
        weights = mask if weights is None else mask * weights

    Xmu = wmean(Xt, weight=weights, eps=eps)  # (b, 1, d)
    Ymu = wmean(Yt, weight=weights, eps=eps)
    Xc = Xt - Xmu
    Yc = Yt - Ymu
    total_weight = num_points.clamp(min=1).to(Xt.dtype)
    if weights is not None:
        Xc = Xc * weights[..., None]
        Yc = Yc * weights[..., None]
        total_weight = weights.sum(1).clamp(min=eps)
    if bool((num_points < dim + 1).any()):
        warnings.warn(
            "The size of one of the point clouds is <= dim+1. corresponding_points_alignment cannot return a "
            "unique rotation."
        )
    cov = Xc.transpose(1, 2) @ Yc / total_weight[:, None, None]  # (b, d, d)
    U, S, Vh = torch.linalg.svd(cov)
    V = Vh.transpose(1, 2)
    if bool((S.abs() <= AMBIGUOUS_ROT_SINGULAR_THR).any()) and not bool((num_points < dim + 1).any()):
        warnings.warn(
            "Excessively low rank of cross-correlation between aligned point clouds. "
            "corresponding_points_alignment cannot return a unique rotation."
        )
    # E flips the last singular direction where U V^T would be a reflection
    E = eyes(dim, b, device=Xt.device, dtype=Xt.dtype)
    if not allow_reflection:
        E[:, -1, -1] = torch.det(U @ V.transpose(1, 2))
    R = U @ E @ V.transpose(1, 2)  # (b, d, d), row-vector convention: Xc @ R ~ Yc
    if estimate_scale:
        trace_ES = (torch.diagonal(E, dim1=1, dim2=2) * S).sum(1)
        Xvar = (Xc * Xc).sum((1, 2)) / total_weight
        s = trace_ES / Xvar.clamp(min=eps)
        T = Ymu[:, 0] - s[:, None] * (Xmu @ R)[:, 0]
    else:
        T = Ymu[:, 0] - (Xmu @ R)[:, 0]
        s = T.new_ones(b)
    return SimilarityTransform(R, T, s)


def _apply_similarity_transform(X: torch.Tensor, R: torch.Tensor, T: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """s X R + T for X (N, P, d)."""
    return s[:, None, None] * (X @ R) + T[:, None, :]


def iterative_closest_point(
    X,
    Y,
    init_transform: SimilarityTransform | None = None,
    max_iterations: int = 100,
    relative_rmse_thr: float = 1e-6,
    estimate_scale: bool = False,
    allow_reflection: bool = False,
    verbose: bool = False,
) -> ICPSolution:
    """Iterative closest point: aligns X to Y by alternating nearest-neighbour matching and Umeyama.

    Each iteration matches every point of the current ``s X R + T`` to its nearest point of Y, then re-estimates
    (R, T, s) from the *original* X to those matches. Stops when the relative decrease of the RMSE is at most
    ``relative_rmse_thr`` for every cloud, or after ``max_iterations``.

    Args:
        X: (N, P1, d) tensor or ``Pointclouds``, the moving clouds.
        Y: (N, P2, d) tensor or ``Pointclouds``, the targets.
        init_transform: optional starting ``SimilarityTransform`` (R (N, d, d), T (N, d), s (N,)).
        max_iterations, relative_rmse_thr: stopping rule.
        estimate_scale, allow_reflection: as in :func:`corresponding_points_alignment`.
        verbose: print the RMSE of each iteration.

    Returns:
        :class:`ICPSolution`.
    """
    Xt, num_points_X = convert_pointclouds_to_tensor(X)
    Yt, num_points_Y = convert_pointclouds_to_tensor(Y)
    b, size_X, dim = Xt.shape
    if Xt.shape[2] != Yt.shape[2] or Xt.shape[0] != Yt.shape[0]:
        raise ValueError("Point sets X and Y have to have the same number of batches and data dimensions.")
    ragged = bool((num_points_Y < Yt.shape[1]).any() or (num_points_X < size_X).any())
    if ragged and bool((num_points_Y != num_points_X).any()):
        mask_X = (torch.arange(size_X, device=Xt.device)[None] < num_points_X[:, None]).to(Xt.dtype)
    else:
        mask_X = Xt.new_ones(b, size_X)
    Xt_init = Xt.clone()
    if init_transform is not None:
        try:
            R, T, s = init_transform
            ok = R.shape == (b, dim, dim) and T.shape == (b, dim) and s.shape == (b,)
        except (TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise ValueError(
                "The initial transformation init_transform has to be a named tuple SimilarityTransform with "
                "elements (R, T, s): R of shape (minibatch, dim, dim), T of shape (minibatch, dim) and s of shape "
                "(minibatch,)."
            )
        Xt = _apply_similarity_transform(Xt, R, T, s)
    else:
        R = eyes(dim, b, device=Xt.device, dtype=Xt.dtype)
        T = Xt.new_zeros(b, dim)
        s = Xt.new_ones(b)

    prev_rmse = None
    rmse = None
    converged = False
    t_history: list[SimilarityTransform] = []
    iteration = -1
    for iteration in range(max_iterations):
        Xt_nn = knn_points(Xt, Yt, lengths1=num_points_X, lengths2=num_points_Y, K=1, return_nn=True).knn[:, :, 0]
        R, T, s = corresponding_points_alignment(
            Xt_init, Xt_nn, weights=mask_X, estimate_scale=estimate_scale, allow_reflection=allow_reflection
        )
        Xt = _apply_similarity_transform(Xt_init, R, T, s)
        t_history.append(SimilarityTransform(R, T, s))
        sq = (Xt - Xt_nn).square().sum(2)  # (b, P1)
        rmse = wmean(sq[:, :, None], mask_X).sqrt()[:, 0, 0]
        relative = rmse.new_ones(b) if prev_rmse is None else (prev_rmse - rmse) / prev_rmse
        if verbose:
            print(
                f"ICP iteration {iteration}: mean/max rmse = {rmse.mean():1.2e}/{rmse.max():1.2e} "
                f"; mean relative rmse = {relative.mean():1.2e}"
            )
        if bool((relative <= relative_rmse_thr).all()):
            converged = True
            break
        prev_rmse = rmse
    if verbose:
        if converged:
            print(f"ICP has converged in {iteration + 1} iterations.")
        else:
            print(f"ICP has not converged in {max_iterations} iterations.")
    if is_pointclouds(X):
        Xt = X.update_padded(Xt)
    return ICPSolution(converged, rmse, Xt, SimilarityTransform(R, T, s), t_history)
