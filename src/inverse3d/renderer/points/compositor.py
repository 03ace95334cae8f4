"""Point compositors (PyTorch3D semantics): blend the K nearest points' features at each pixel.

Both take ``fragments`` (N, K, H, W) packed point indices (-1 = none), ``alphas`` (N, K, H, W) per-point weights
and ``ptclds`` (C, P) packed features, and return images (N, C, H, W). Pixels with no point at all take the
``background_color`` when one is given (a 3-colour background gets alpha 1 on 4-channel features).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

_NORM_EPS = 1e-4  # the smallest total weight NormWeightedCompositor divides by


def _check(pointsidx: torch.Tensor, alphas: torch.Tensor, features: torch.Tensor) -> None:
    if pointsidx.ndim != 4 or alphas.shape != pointsidx.shape:
        raise ValueError(
            "fragments and alphas must both have shape (N, K, H, W); "
            f"got {tuple(pointsidx.shape)} and {tuple(alphas.shape)}"
        )
    if features.ndim != 2:
        raise ValueError(f"features must have shape (C, P); got {tuple(features.shape)}")
    if pointsidx.numel() and int(pointsidx.max()) >= features.shape[1]:
        raise ValueError(f"point index {int(pointsidx.max())} out of range for {features.shape[1]} points")


def _channels_last(pointsidx: torch.Tensor, alphas: torch.Tensor, features: torch.Tensor):
    """(N, H, W, K) indices, (N, H, W, K) alphas zeroed where the index is -1, (N, H, W, K, C) features.

    The renderer passes permuted views of channels-last tensors; working channels-last again keeps them contiguous.
    """
    idx = pointsidx.permute(0, 2, 3, 1)
    a = alphas.permute(0, 2, 3, 1)
    a = torch.where(idx >= 0, a, torch.zeros_like(a))
    feats = features.t()[idx.clamp(min=0)]  # index -1 reads point 0, whose weight is 0
    return a, feats


def alpha_composite(pointsidx: torch.Tensor, alphas: torch.Tensor, pt_clds: torch.Tensor) -> torch.Tensor:
    """Front-to-back "over" compositing: ``sum_k alpha_k prod_{j<k}(1 - alpha_j) f_k`` over points present.

    Args:
        pointsidx: (N, K, H, W) int packed point indices, nearest first, -1 where none.
        alphas: (N, K, H, W) opacity of each point at each pixel.
        pt_clds: (C, P) packed point features (PyTorch3D's argument name).
    Returns:
        (N, C, H, W) composited features.
    """
    _check(pointsidx, alphas, pt_clds)
    a, feats = _channels_last(pointsidx, alphas, pt_clds)  # (N, H, W, K), (N, H, W, K, C)
    # Transmittance in front of each point: exclusive cumulative product of (1 - a).
    trans = torch.cumprod(torch.cat([torch.ones_like(a[..., :1]), 1 - a[..., :-1]], dim=-1), dim=-1)
    out = torch.einsum("nhwk,nhwkc->nhwc", a * trans, feats)
    return out.permute(0, 3, 1, 2)


def norm_weighted_sum(pointsidx: torch.Tensor, alphas: torch.Tensor, pt_clds: torch.Tensor) -> torch.Tensor:
    """Weighted average of the features present: ``sum_k alpha_k f_k / max(sum_k alpha_k, 1e-4)``.

    Args and return as in :func:`alpha_composite`.
    """
    _check(pointsidx, alphas, pt_clds)
    a, feats = _channels_last(pointsidx, alphas, pt_clds)
    total = a.sum(dim=-1, keepdim=True).clamp(min=_NORM_EPS)  # (N, H, W, 1)
    out = torch.einsum("nhwk,nhwkc->nhwc", a, feats) / total
    return out.permute(0, 3, 1, 2)


def weighted_sum(pointsidx: torch.Tensor, alphas: torch.Tensor, pt_clds: torch.Tensor) -> torch.Tensor:
    """Unnormalised ``sum_k alpha_k f_k``; args and return as in :func:`alpha_composite`."""
    _check(pointsidx, alphas, pt_clds)
    a, feats = _channels_last(pointsidx, alphas, pt_clds)
    return torch.einsum("nhwk,nhwkc->nhwc", a, feats).permute(0, 3, 1, 2)


def add_background_color(
    pointsidx: torch.Tensor, images: torch.Tensor, background_color: float | Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """Sets pixels that no point covers (``pointsidx[:, 0] < 0``) to ``background_color``.

    Args:
        pointsidx: (N, K, H, W) point indices.
        images: (N, C, H, W) composited features.
        background_color: a scalar, or C values, or C - 1 values (alpha 1 is appended).
    Returns:
        (N, C, H, W) images.
    """
    color = background_color if torch.is_tensor(background_color) else torch.tensor(background_color)
    color = color.to(images)
    C = images.shape[1]
    if color.ndim == 0:
        color = color.expand(C)
    if color.ndim != 1:
        raise ValueError(f"background_color must be a scalar or a vector; got shape {tuple(color.shape)}")
    if color.shape[0] + 1 == C:
        color = torch.cat([color, color.new_ones(1)])
    if color.shape[0] != C:
        raise ValueError(f"background_color has {color.shape[0]} channels; the images have {C}")
    empty = (pointsidx[:, 0] < 0)[:, None]  # (N, 1, H, W)
    return torch.where(empty, color[None, :, None, None], images)


class _Compositor(nn.Module):
    """Shared by the compositors: blend the nearest points' features, then fill empty pixels with the background."""

    def __init__(self, background_color: float | Sequence[float] | torch.Tensor | None = None) -> None:
        super().__init__()
        self.background_color = background_color

    @staticmethod
    def _composite(fragments: torch.Tensor, alphas: torch.Tensor, ptclds: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, fragments: torch.Tensor, alphas: torch.Tensor, ptclds: torch.Tensor, **kwargs) -> torch.Tensor:
        background_color = kwargs.get("background_color", self.background_color)
        images = self._composite(fragments, alphas, ptclds)
        if background_color is not None:
            images = add_background_color(fragments, images, background_color)
        return images


class AlphaCompositor(_Compositor):
    """Front-to-back alpha compositing of the nearest points (PyTorch3D's ``AlphaCompositor``).

    ``forward(fragments (N, K, H, W) indices, alphas (N, K, H, W), ptclds (C, P)) -> (N, C, H, W)``;
    ``background_color`` may also be passed to ``forward``.
    """

    _composite = staticmethod(alpha_composite)


class NormWeightedCompositor(_Compositor):
    """Normalised weighted sum of the nearest points' features (PyTorch3D's ``NormWeightedCompositor``).

    ``forward(fragments (N, K, H, W) indices, alphas (N, K, H, W), ptclds (C, P)) -> (N, C, H, W)``;
    ``background_color`` may also be passed to ``forward``.
    """

    _composite = staticmethod(norm_weighted_sum)
