"""Sampling images at NDC points (PyTorch3D's ``ndc_grid_sample`` and ``ndc_to_grid_sample_coords``).

PyTorch3D's NDC has +X left, +Y up and the shorter image side spanning [-1, 1]; ``grid_sample``'s coordinates have
+X right, +Y down and both sides spanning [-1, 1]. So the conversion negates both coordinates and scales the one
along the longer side by ``min(H, W) / max(H, W)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F


def ndc_to_grid_sample_coords(xy_ndc: torch.Tensor, image_size_hw: Sequence[int]) -> torch.Tensor:
    """``grid_sample`` coordinates of PyTorch3D NDC points.

    Args:
        xy_ndc: (..., 2) points in NDC.
        image_size_hw: (height, width) of the image to sample, positive.
    Returns:
        (..., 2) points in ``torch.nn.functional.grid_sample``'s coordinates (a new tensor).
    Raises:
        ValueError: ``image_size_hw`` is not two positive sizes.
    """
    if len(image_size_hw) != 2 or any(s <= 0 for s in image_size_hw):
        raise ValueError(f"'image_size_hw' has to be a 2-tuple of positive integers; got {tuple(image_size_hw)}")
    height, width = (int(s) for s in image_size_hw)
    aspect = min(height, width) / max(height, width)
    scale = [-1.0, -aspect] if height >= width else [-aspect, -1.0]  # the longer side shrinks
    return xy_ndc * torch.tensor(scale, dtype=xy_ndc.dtype, device=xy_ndc.device)


def ndc_grid_sample(
    input: torch.Tensor, grid_ndc: torch.Tensor, *, align_corners: bool = False, **grid_sample_kwargs: Any
) -> torch.Tensor:
    """Samples images at NDC points with ``torch.nn.functional.grid_sample``.

    Args:
        input: (B, C, H, W) images.
        grid_ndc: (B, ..., 2) NDC points, any number of middle dimensions.
        align_corners, grid_sample_kwargs: passed to ``grid_sample`` (e.g. ``mode``, ``padding_mode``).
    Returns:
        (B, C, ...) the samples.
    Raises:
        ValueError: batch sizes differ, ``input`` is not 4-D, or the last dimension of ``grid_ndc`` is not 2.
    """
    batch, *spatial, point_dim = grid_ndc.shape
    if batch != input.shape[0]:
        raise ValueError("'input' and 'grid_ndc' have to have the same batch size.")
    if input.ndim != 4:
        raise ValueError("'input' has to be a 4-dimensional Tensor.")
    if point_dim != 2:
        raise ValueError("The last dimension of 'grid_ndc' has to be == 2.")
    grid = ndc_to_grid_sample_coords(grid_ndc.reshape(batch, -1, 1, 2), input.shape[2:])  # (B, P, 1, 2)
    samples = F.grid_sample(input, grid, align_corners=align_corners, **grid_sample_kwargs)  # (B, C, P, 1)
    return samples.reshape(batch, input.shape[1], *spatial)
