"""Splatting point clouds into voxel grids (PyTorch3D's ``add_pointclouds_to_volumes``).

Each point votes into the grid with its features: ``"nearest"`` puts a vote of weight 1 into the voxel nearest
to it, ``"trilinear"`` spreads a total weight of 1 over the 8 voxels around it with trilinear weights. Votes add
to the densities (the weights) and to the features (weight * feature); with ``rescale_features`` the features are
then divided by the densities, giving the weighted mean feature of each voxel.

Local coordinates follow ``Volumes``: x in [-1, 1] spans the grid's width (W), y its height (H), z its depth
(D). With ``align_corners=True`` -1 and +1 are the centres of the corner voxels; otherwise the outer faces of the
grid. Votes falling outside a grid are dropped. Everything is batched (no loop over clouds or points) and
differentiable with respect to the features and the initial grids, and, for ``"trilinear"``, the points.
"""

from __future__ import annotations

import torch

__all__ = ["add_pointclouds_to_volumes", "add_points_features_to_volume_densities_features"]


def add_pointclouds_to_volumes(
    pointclouds,
    initial_volumes,
    mode: str = "trilinear",
    min_weight: float = 1e-4,
    rescale_features: bool = True,
    _python: bool = False,
):
    """Adds the points (and features) of each cloud to the matching volume of a batch.

    Args:
        pointclouds: ``Pointclouds`` with N clouds and features (C channels).
        initial_volumes: ``Volumes`` with N volumes, 1-channel densities and C-channel features (or none: zeros).
        mode: "trilinear" or "nearest" (module docstring).
        min_weight: lower bound of the densities dividing the features ("trilinear"; "nearest" uses 1).
        rescale_features: divide the summed features by the densities (else keep the sums).
        _python: accepted for PyTorch3D compatibility (one implementation).

    Returns:
        A new ``Volumes`` with the same grids and mapping, densities (N, 1, D, H, W) = initial + votes and the
        features; ``initial_volumes`` is left unchanged.
    """
    if len(initial_volumes) != len(pointclouds):
        raise ValueError("'initial_volumes' and 'pointclouds' have to have the same batch size.")
    feats = pointclouds.features_padded()
    if feats is None:
        raise ValueError("'pointclouds' have to have their 'features' defined.")
    points = pointclouds.points_padded()  # (N, P, 3) world
    P = points.shape[1]
    mask = (torch.arange(P, device=points.device)[None] < pointclouds.num_points_per_cloud()[:, None]).to(feats.dtype)
    local = initial_volumes.world_to_local_coords(points)
    features, densities = add_points_features_to_volume_densities_features(
        points_3d=local,
        points_features=feats,
        volume_densities=initial_volumes.densities(),
        volume_features=initial_volumes.features(),
        mode=mode,
        min_weight=min_weight,
        mask=mask,
        grid_sizes=initial_volumes.get_grid_sizes(),
        rescale_features=rescale_features,
        align_corners=initial_volumes.get_align_corners(),
    )
    return initial_volumes.update_padded(new_densities=densities, new_features=features)


def add_points_features_to_volume_densities_features(
    points_3d: torch.Tensor,
    points_features: torch.Tensor,
    volume_densities: torch.Tensor,
    volume_features: torch.Tensor | None,
    mode: str = "trilinear",
    min_weight: float = 1e-4,
    mask: torch.Tensor | None = None,
    grid_sizes: torch.Tensor | None = None,
    rescale_features: bool = True,
    _python: bool = False,
    align_corners: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Votes of points with features into padded grids of densities and features.

    Args:
        points_3d: (N, P, 3) points in local volume coordinates (module docstring).
        points_features: (N, P, C) features.
        volume_densities: (N, 1, D, H, W) initial densities.
        volume_features: (N, C, D, H, W) initial features, or None for zeros.
        mode: "trilinear" or "nearest".
        min_weight: lower bound of the densities dividing the features in "trilinear" mode.
        mask: (N, P): points where it is 0 cast no vote; None for all points.
        grid_sizes: (N, 3) long (D_n, H_n, W_n) of each grid inside the padded tensors; None for the full size.
        rescale_features: divide the summed features by the densities.
        _python: accepted for PyTorch3D compatibility (one implementation).
        align_corners: where local -1 / +1 lie (module docstring).

    Returns:
        volume_features: (N, C, D, H, W).
        volume_densities: (N, 1, D, H, W), the initial densities plus the total vote weight per voxel.
    """
    if mode not in ("trilinear", "nearest"):
        raise ValueError('No such interpolation mode "%s"' % mode)
    if points_3d.ndim != 3 or points_3d.shape[2] != 3:
        raise ValueError(f"points_3d must be (N, P, 3), got {tuple(points_3d.shape)}")
    N, P, C = points_features.shape
    if points_3d.shape[:2] != (N, P):
        raise ValueError("points_3d and points_features must have the same (N, P)")
    if volume_densities.ndim != 5 or volume_densities.shape[0] != N:
        raise ValueError(f"volume_densities must be (N, 1, D, H, W), got {tuple(volume_densities.shape)}")
    if volume_densities.shape[1] != 1:
        raise ValueError("Only one-dimensional densities are allowed.")
    D, H, W = volume_densities.shape[2:]
    if volume_features is None:
        volume_features = volume_densities.new_zeros(N, C, D, H, W)
    if volume_features.shape != (N, C, D, H, W):
        raise ValueError(
            f"volume_features have shape {tuple(volume_features.shape)}, expected {(N, C, D, H, W)} "
            "(as many channels as points_features)"
        )
    device = points_3d.device
    if grid_sizes is None:
        grid_sizes = torch.tensor([D, H, W], device=device).expand(N, 3)
    grid_sizes = grid_sizes.to(device=device, dtype=torch.int64)
    if mask is None:
        mask = points_3d.new_ones(N, P)

    size_xyz = grid_sizes.flip(-1).to(points_3d.dtype)[:, None, :]  # (N, 1, 3)
    if align_corners:
        pos = (points_3d + 1) * 0.5 * (size_xyz - 1)  # (N, P, 3) in voxel units, x y z
    else:
        pos = (points_3d + 1) * 0.5 * size_xyz - 0.5
    if mode == "nearest":
        pos = pos.detach()
        corner = (pos.sign() * (pos.abs() + 0.5).floor()).long()[:, :, None, :]  # lround, (N, P, 1, 3)
        weight = pos.new_ones(N, P, 1)
    else:
        base = pos.floor()
        frac = pos - base  # (N, P, 3)
        offsets = torch.tensor(
            [[dx, dy, dz] for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)], device=device
        )  # (8, 3)
        corner = base.long()[:, :, None, :] + offsets  # (N, P, 8, 3)
        w = torch.where(offsets.bool(), frac[:, :, None, :], 1 - frac[:, :, None, :])  # (N, P, 8, 3)
        weight = w.prod(-1)  # (N, P, 8)
    limit = grid_sizes.flip(-1)[:, None, None, :]  # (N, 1, 1, 3) W, H, D
    inside = ((corner >= 0) & (corner < limit)).all(-1) & (mask != 0)[:, :, None]  # (N, P, k)
    x, y, z = corner.unbind(-1)
    batch = torch.arange(N, device=device)[:, None, None]
    flat = ((batch * D + z) * H + y) * W + x  # (N, P, k) rows of the padded grids
    rows = flat[inside]
    w = weight[inside]  # (M,)
    f = points_features[:, :, None, :].expand(-1, -1, inside.shape[2], -1)[inside]  # (M, C)
    densities = volume_densities.reshape(-1).index_add(0, rows, w.to(volume_densities.dtype))
    features = volume_features.permute(0, 2, 3, 4, 1).reshape(-1, C)  # (N D H W, C)
    features = features.index_add(0, rows, (w[:, None] * f).to(features.dtype))
    densities = densities.view(N, 1, D, H, W)
    features = features.view(N, D, H, W, C).permute(0, 4, 1, 2, 3)
    if rescale_features:
        features = features / densities.clamp(min=min_weight if mode == "trilinear" else 1.0)
    return features, densities
