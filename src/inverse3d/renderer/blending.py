"""Blending the K fragments of each pixel into an RGBA image (PyTorch3D / SoftRas semantics).

Every function takes per-fragment colours ``colors: (N, H, W, K, C)`` and the rasteriser's ``Fragments``
(``pix_to_face``, ``zbuf``, ``dists`` of shape (N, H, W, K)) and returns ``(N, H, W, C + 1)``: colour channels
followed by alpha, which is coverage (0 on empty pixels).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch


class BlendParams(NamedTuple):
    """Parameters of the blending functions.

    Attributes:
        sigma: width of the sigmoid that turns the signed squared distance of a pixel to a face into a coverage
            probability, ``sigmoid(-dist / sigma)``; larger means blurrier edges.
        gamma: temperature of the softmax over depth in ``softmax_rgb_blend``; larger means more transparent.
        background_color: colour of empty pixels, a sequence of C floats or a (C,) tensor.
    """

    sigma: float = 1e-4
    gamma: float = 1e-4
    background_color: torch.Tensor | Sequence[float] = (1.0, 1.0, 1.0)


def _background(blend_params: BlendParams, like: torch.Tensor) -> torch.Tensor:
    """Returns the background colour as a (C,) tensor on ``like``'s device and dtype."""
    bg = blend_params.background_color
    bg = bg.to(device=like.device, dtype=like.dtype) if torch.is_tensor(bg) else like.new_tensor(bg)
    if bg.dim() != 1 or bg.shape[0] != like.shape[-1]:
        raise ValueError(
            f"background_color must have {like.shape[-1]} channels to match the colours; got shape {tuple(bg.shape)}"
        )
    return bg


def _check(colors: torch.Tensor, fragments: Any) -> tuple[int, int, int, int]:
    """Validates ``colors`` against ``fragments.pix_to_face`` and returns (N, H, W, K)."""
    shape = tuple(fragments.pix_to_face.shape)
    if len(shape) != 4:
        raise ValueError(f"fragments.pix_to_face must have shape (N, H, W, K); got {shape}")
    if colors.dim() != 5 or tuple(colors.shape[:4]) != shape:
        raise ValueError(f"colors must have shape (N, H, W, K, C) = {shape} + (C,); got {tuple(colors.shape)}")
    return shape  # type: ignore[return-value]


def hard_rgb_blend(colors: torch.Tensor, fragments: Any, blend_params: BlendParams | None = None) -> torch.Tensor:
    """Takes the colour of the nearest fragment; alpha is 1 where a face covers the pixel.

    Args:
        colors: (N, H, W, K, C) colour of each fragment.
        fragments: rasteriser output; uses ``pix_to_face`` (N, H, W, K), -1 where empty.
        blend_params: supplies ``background_color`` for empty pixels (default: white).
    Returns:
        (N, H, W, C + 1): colour of fragment 0 (background where empty), then alpha in {0, 1}.
    """
    _check(colors, fragments)
    blend_params = BlendParams() if blend_params is None else blend_params
    background = _background(blend_params, colors)  # (C,)
    is_background = fragments.pix_to_face[..., 0] < 0  # (N, H, W)
    rgb = torch.where(is_background[..., None], background, colors[..., 0, :])  # (N, H, W, C)
    alpha = (~is_background).to(colors.dtype)[..., None]  # (N, H, W, 1)
    return torch.cat([rgb, alpha], dim=-1)


def _coverage(fragments: Any, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (prob (N, H, W, K), alpha (N, H, W)) with prob = sigmoid(-dists / sigma) and
    alpha = 1 - prod_k (1 - prob_k); empty fragments have prob 0."""
    if sigma <= 0:
        raise ValueError(f"blend_params.sigma must be positive; got {sigma}")
    mask = fragments.pix_to_face >= 0
    prob = torch.sigmoid(-fragments.dists / sigma) * mask  # (N, H, W, K)
    alpha = 1.0 - torch.prod(1.0 - prob, dim=-1)  # (N, H, W)
    return prob, alpha


def sigmoid_alpha_blend(colors: torch.Tensor, fragments: Any, blend_params: BlendParams) -> torch.Tensor:
    """Soft silhouette (SoftRas): colour of the nearest fragment, alpha from all K fragments.

    Args:
        colors: (N, H, W, K, C) colour of each fragment.
        fragments: rasteriser output; uses ``pix_to_face`` and ``dists`` (N, H, W, K), the signed squared
            distance in NDC from the pixel centre to each face (negative inside).
        blend_params: uses ``sigma``.
    Returns:
        (N, H, W, C + 1): colour of fragment 0, then alpha = 1 - prod_k(1 - sigmoid(-dists_k / sigma)).
    """
    _check(colors, fragments)
    _, alpha = _coverage(fragments, blend_params.sigma)
    return torch.cat([colors[..., 0, :], alpha[..., None].to(colors.dtype)], dim=-1)


def softmax_rgb_blend(
    colors: torch.Tensor,
    fragments: Any,
    blend_params: BlendParams,
    znear: float | torch.Tensor = 1.0,
    zfar: float | torch.Tensor = 100,
) -> torch.Tensor:
    """SoftRas aggregation: colours blended by coverage probability and a softmax over depth.

    With prob_k = sigmoid(-dists_k / sigma), z_k = (zfar - zbuf_k) / (zfar - znear) (larger is nearer),
    w_k = prob_k * exp((z_k - z_max) / gamma) and the background weight delta = max(exp((eps - z_max) / gamma), eps)
    (eps = 1e-10, z_max = max(max_k z_k, eps)), the colour is
    (sum_k w_k c_k + delta * background) / (sum_k w_k + delta).

    Args:
        colors: (N, H, W, K, C) colour of each fragment.
        fragments: rasteriser output; uses ``pix_to_face``, ``dists`` and ``zbuf`` (N, H, W, K).
        blend_params: uses ``sigma``, ``gamma`` and ``background_color``.
        znear, zfar: depth range, floats or (N,) tensors (e.g. a camera's ``znear`` / ``zfar``).
    Returns:
        (N, H, W, C + 1): blended colour, then alpha = 1 - prod_k(1 - prob_k).
    """
    _check(colors, fragments)
    if blend_params.gamma <= 0:
        raise ValueError(f"blend_params.gamma must be positive; got {blend_params.gamma}")
    background = _background(blend_params, colors)  # (C,)
    eps = 1e-10
    mask = fragments.pix_to_face >= 0  # (N, H, W, K)
    prob, alpha = _coverage(fragments, blend_params.sigma)

    if torch.is_tensor(zfar):
        zfar = zfar.reshape(-1, 1, 1, 1)  # (N, 1, 1, 1)
    if torch.is_tensor(znear):
        znear = znear.reshape(-1, 1, 1, 1)
    z_inv = (zfar - fragments.zbuf) / (zfar - znear) * mask  # (N, H, W, K), 1 at znear, 0 at zfar
    z_inv_max = z_inv.max(dim=-1, keepdim=True).values.clamp(min=eps)  # (N, H, W, 1)
    weights = prob * torch.exp((z_inv - z_inv_max) / blend_params.gamma)  # (N, H, W, K)
    delta = torch.exp((eps - z_inv_max) / blend_params.gamma).clamp(min=eps)  # (N, H, W, 1)
    denom = weights.sum(dim=-1, keepdim=True) + delta  # (N, H, W, 1)
    weighted = (weights[..., None] * colors).sum(dim=-2) + delta * background  # (N, H, W, C)
    rgb = weighted / denom
    return torch.cat([rgb, alpha[..., None].to(rgb.dtype)], dim=-1)
