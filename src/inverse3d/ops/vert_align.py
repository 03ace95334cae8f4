"""Sampling image features at projected vertices (PyTorch3D's ``vert_align``, Pixel2Mesh's perceptual pooling)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["vert_align"]


def vert_align(
    feats: torch.Tensor | Sequence[torch.Tensor],
    verts,
    return_packed: bool = False,
    interp_mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = True,
) -> torch.Tensor:
    """Features of feature maps at the (x, y) of each vertex.

    Args:
        feats: (N, C, H, W) feature maps, or a list of them (different C, H, W allowed; results are
            concatenated along the channels).
        verts: (N, V, 3) tensor, or ``Meshes`` / ``Pointclouds`` (their padded vertices / points). x, y are in
            ``grid_sample``'s convention: (-1, -1) is the top-left of the map, (+1, +1) its bottom-right; z is
            ignored.
        return_packed: return (sum V_n, C) packed rows for ``Meshes`` (for a tensor or ``Pointclouds``:
            (N * V, C), as PyTorch3D).
        interp_mode: "bilinear" or "nearest".
        padding_mode: "zeros", "border" or "reflection", for vertices outside [-1, 1].
        align_corners: as ``torch.nn.functional.grid_sample``.

    Returns:
        (N, V, sum C) sampled features, or the packed rows above; differentiable in ``feats`` and the (x, y).
    """
    if torch.is_tensor(verts):
        if verts.dim() != 3:
            raise ValueError("verts tensor should be 3 dimensional")
        grid = verts
    elif hasattr(verts, "verts_padded"):
        grid = verts.verts_padded()
    elif hasattr(verts, "points_padded"):
        grid = verts.points_padded()
    else:
        raise ValueError("verts must be a tensor or have a `points_padded' or`verts_padded` attribute.")
    if grid.shape[-1] < 2:
        raise ValueError(f"verts need at least (x, y) coordinates, got shape {tuple(grid.shape)}")
    grid = grid[:, None, :, :2]  # (N, 1, V, 2)
    maps = [feats] if torch.is_tensor(feats) else list(feats)
    if not maps:
        raise ValueError("feats must be a tensor (N, C, H, W) or a non-empty list of them")
    for feat in maps:
        if not torch.is_tensor(feat) or feat.dim() != 4:
            raise ValueError("feats must have shape (N, C, H, W)")
        if feat.shape[0] != grid.shape[0]:
            raise ValueError("inconsistent batch dimension")
    sampled = [
        F.grid_sample(feat, grid.to(feat.dtype), mode=interp_mode, padding_mode=padding_mode, align_corners=align_corners)
        [:, :, 0].transpose(1, 2)  # (N, V, C)
        for feat in maps
    ]
    out = torch.cat(sampled, dim=2)  # (N, V, sum C)
    if return_packed:
        out = out.reshape(-1, out.shape[-1])
        if hasattr(verts, "verts_padded_to_packed_idx"):
            out = out[verts.verts_padded_to_packed_idx()]
    return out
