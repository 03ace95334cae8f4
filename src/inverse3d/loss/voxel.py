"""Class-balanced binary cross-entropy for voxel occupancy grids (the course's voxel fitting loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def voxel_bce_loss(
    voxel_src_logits: torch.Tensor,
    voxel_tgt: torch.Tensor,
    pos_weight: str | float | torch.Tensor | None = "balanced",
) -> torch.Tensor:
    """Mean binary cross-entropy with logits between predicted and target occupancies.

    Occupied voxels are usually rare, so by default they are up-weighted by ``pos_weight = 0.5 / mean(target)``
    (the course's choice): each occupied voxel counts ``0.5 / occupancy`` times an empty one. An all-empty
    target has no positives to weight, so the weight falls back to 1.

    Args:
        voxel_src_logits: (B, D, H, W) float, predicted occupancy logits.
        voxel_tgt: (B, D, H, W) target occupancies in [0, 1] (bool or float).
        pos_weight: "balanced" (above), a number or scalar tensor, or None for plain BCE.

    Returns:
        () float loss, differentiable with respect to the logits.

    Raises:
        ValueError: shapes differ or are not 4-D, targets outside [0, 1], NaN logits, unknown pos_weight.
    """
    if voxel_src_logits.ndim != 4 or voxel_src_logits.shape != voxel_tgt.shape:
        raise ValueError(
            "voxel_bce_loss expects logits and targets of the same shape (B, D, H, W); got "
            f"{tuple(voxel_src_logits.shape)} and {tuple(voxel_tgt.shape)}"
        )
    if not voxel_src_logits.is_floating_point():
        raise ValueError(f"voxel_bce_loss: logits must be floating point; got {voxel_src_logits.dtype}")
    if torch.isnan(voxel_src_logits).any():
        raise ValueError("voxel_bce_loss: logits contain NaN")
    target = voxel_tgt.to(voxel_src_logits.dtype)
    if target.numel() and (target.min() < 0 or target.max() > 1):
        raise ValueError("voxel_bce_loss: targets must lie in [0, 1]")
    if isinstance(pos_weight, str):
        if pos_weight != "balanced":
            raise ValueError(f'pos_weight must be "balanced", a number, a tensor or None; got {pos_weight!r}')
        occupancy = target.mean()
        weight = torch.where(occupancy > 0, 0.5 / occupancy.clamp(min=torch.finfo(target.dtype).tiny), 1.0)
    elif pos_weight is None:
        weight = None
    else:
        weight = torch.as_tensor(pos_weight, dtype=target.dtype, device=target.device)
    return F.binary_cross_entropy_with_logits(voxel_src_logits, target, reduction="mean", pos_weight=weight)
