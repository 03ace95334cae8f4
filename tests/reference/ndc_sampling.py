"""Naive bilinear sampling of one image at one PyTorch3D NDC point, pixel by pixel."""

from __future__ import annotations

import math

import numpy as np


def naive_ndc_bilinear_sample(image, x: float, y: float) -> np.ndarray:
    """The bilinear sample of a (C, H, W) image at NDC (x, y): +X left, +Y up, the shorter side spanning [-1, 1],
    pixel centres at odd multiples of 1 / min(H, W); outside pixels count as zero (grid_sample's zero padding)."""
    C, H, W = image.shape
    s = min(H, W)
    u = (W - x * s) / 2 - 0.5  # column, increasing to the right
    v = (H - y * s) / 2 - 0.5  # row, increasing downwards
    j0, i0 = math.floor(u), math.floor(v)
    out = np.zeros(C)
    for i, wi in ((i0, 1 - (v - i0)), (i0 + 1, v - i0)):
        for j, wj in ((j0, 1 - (u - j0)), (j0 + 1, u - j0)):
            if 0 <= i < H and 0 <= j < W:
                out += wi * wj * np.asarray([float(image[c, i, j]) for c in range(C)])
    return out
