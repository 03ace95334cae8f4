"""Normals and principal curvature directions of point clouds from local covariances (PyTorch3D semantics).

For each point, the covariance of its K nearest neighbours (itself included) is diagonalised: the eigenvector of
the smallest eigenvalue is the normal, the others the directions of largest and second largest spread. With
``disambiguate_directions`` each direction is oriented towards the side holding most of the neighbours (SHOT,
Tombari et al. 2010), which makes neighbouring normals agree in sign.
"""

from __future__ import annotations

import torch

from inverse3d.ops.utils import convert_pointclouds_to_tensor, get_point_covariances

__all__ = ["estimate_pointcloud_normals", "estimate_pointcloud_local_coord_frames"]


def estimate_pointcloud_normals(
    pointclouds,
    neighborhood_size: int = 50,
    disambiguate_directions: bool = True,
    *,
    use_symeig_workaround: bool = True,
) -> torch.Tensor:
    """Unit normal of every point.

    Args:
        pointclouds: (N, P, 3) tensor or ``Pointclouds``.
        neighborhood_size: K, neighbours per point (each cloud needs more than K points).
        disambiguate_directions: orient the normals consistently (module docstring).
        use_symeig_workaround: accepted for PyTorch3D compatibility; both values use ``torch.linalg.eigh``.

    Returns:
        (N, P, 3) normals (padded for ``Pointclouds``; rows past a cloud's size are meaningless).
    """
    _, frames = estimate_pointcloud_local_coord_frames(
        pointclouds,
        neighborhood_size=neighborhood_size,
        disambiguate_directions=disambiguate_directions,
        use_symeig_workaround=use_symeig_workaround,
    )
    return frames[:, :, :, 0]


def estimate_pointcloud_local_coord_frames(
    pointclouds,
    neighborhood_size: int = 50,
    disambiguate_directions: bool = True,
    *,
    use_symeig_workaround: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal curvatures and directions of every point.

    Args:
        pointclouds: (N, P, 3) tensor or ``Pointclouds``.
        neighborhood_size: K, neighbours per point; every cloud must have more than K points.
        disambiguate_directions: orient the first and last directions towards the majority of the neighbours
            and take the middle one as their cross product (a right-handed frame).
        use_symeig_workaround: accepted for PyTorch3D compatibility; both values use ``torch.linalg.eigh``.

    Returns:
        curvatures: (N, P, 3) eigenvalues of the neighbourhood covariance, increasing.
        local_coord_frames: (N, P, 3, 3) the matching unit eigenvectors in the columns: ``[..., :, 0]`` is the
            normal.
    """
    points, num_points = convert_pointclouds_to_tensor(pointclouds)
    if points.shape[2] != 3:
        raise ValueError("The pointclouds argument has to be of shape (minibatch, N, 3)")
    if isinstance(neighborhood_size, bool) or not isinstance(neighborhood_size, int) or neighborhood_size < 1:
        raise ValueError(f"neighborhood_size must be a positive int, got {neighborhood_size!r}")
    if bool((num_points <= neighborhood_size).any()):
        raise ValueError("The neighborhood_size argument has to be < size of each of the point clouds.")
    # remove each cloud's mean for accuracy (padded rows are zero in Pointclouds.points_padded)
    mean = points.sum(1) / num_points[:, None].to(points.dtype)
    centred = points - mean[:, None, :]
    cov, knns = get_point_covariances(centred, num_points, neighborhood_size)
    curvatures, frames = torch.linalg.eigh(cov)  # (N, P, 3), (N, P, 3, 3) ascending
    if disambiguate_directions:
        n = _disambiguate(centred, knns, frames[..., 0])
        z = _disambiguate(centred, knns, frames[..., 2])
        y = torch.linalg.cross(n, z, dim=2)
        frames = torch.stack((n, y, z), dim=3)
    return curvatures, frames


def _disambiguate(points: torch.Tensor, knns: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
    """Flips each vector (N, P, 3) unless at least half of the point's neighbours (N, P, K, 3) lie on its side."""
    K = knns.shape[2]
    proj = ((knns - points[:, :, None]) * vecs[:, :, None]).sum(3)  # (N, P, K)
    positive = (proj > 0).sum(2, keepdim=True)
    return torch.where(positive < 0.5 * K, -vecs, vecs)
