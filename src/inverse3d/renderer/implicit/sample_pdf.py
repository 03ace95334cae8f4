"""Inverse-transform sampling of piecewise-constant densities: NeRF's hierarchical (coarse-to-fine) sampling."""

from __future__ import annotations

import torch

__all__ = ["sample_pdf"]


def sample_pdf(
    bins: torch.Tensor, weights: torch.Tensor, n_samples: int, det: bool = False, eps: float = 1e-5
) -> torch.Tensor:
    """Draws samples from the densities given by bin edges and non-negative bin weights (PyTorch3D's semantics).

    Each row's distribution puts mass ``weights[k]`` uniformly on bin ``[bins[k], bins[k+1]]`` and a point mass
    ``eps`` at the last edge. A quantile ``u`` in [0, 1] is mapped to the point below which lies the mass
    ``u * (sum(weights) + eps)``, interpolating linearly inside its bin; a bin of weight <= ``eps`` maps to its start.

    Args:
        bins: (..., n_bins + 1) ascending bin edges.
        weights: (..., n_bins) non-negative bin weights (need not sum to 1).
        n_samples: samples per row.
        det: evenly spaced quantiles ``linspace(0, 1, n_samples)`` instead of ``torch.rand`` draws.
        eps: weight of the point mass at the last edge and threshold for empty bins.
    Returns:
        (..., n_samples) samples, in ``bins``' dtype, ascending when ``det``. Unlike PyTorch3D (whose kernel refuses
        inputs that need gradients), the result is differentiable in ``bins`` and ``weights``; NeRF uses it under
        ``torch.no_grad()`` or on detached weights.
    Raises:
        ValueError: inconsistent shapes, negative (<= -eps) or NaN weights.
    """
    if not torch.is_tensor(bins) or not torch.is_tensor(weights) or bins.ndim < 1 or weights.ndim < 1:
        raise ValueError("sample_pdf: bins (..., n_bins + 1) and weights (..., n_bins) must be tensors")
    n_bins = weights.shape[-1]
    if bins.shape[-1] != n_bins + 1 or bins.shape[:-1] != weights.shape[:-1] or n_bins < 1:
        raise ValueError(
            f"sample_pdf: inconsistent shapes of bins {tuple(bins.shape)} and weights {tuple(weights.shape)}"
        )
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 0:
        raise ValueError(f"sample_pdf: n_samples must be an int >= 0, got {n_samples!r}")
    if weights.numel() and not bool((weights > -eps).all()):  # also catches NaN
        raise ValueError("sample_pdf: negative or NaN weights provided")
    dtype = bins.dtype if bins.is_floating_point() else torch.float32
    weights = weights.to(dtype)
    output_shape = (*bins.shape[:-1], int(n_samples))
    if det:
        u = torch.linspace(0.0, 1.0, int(n_samples), device=bins.device, dtype=dtype).expand(output_shape)
    else:
        u = torch.rand(output_shape, dtype=dtype, device=bins.device)

    partial = torch.cumsum(weights, dim=-1)  # (..., n_bins) mass up to the end of each bin
    mass = u * (partial[..., -1:] + eps)  # (..., S) mass below each sample
    # the first bin whose cumulative mass reaches the sample's (the last one if none does)
    idx = torch.searchsorted(partial[..., :-1].contiguous(), mass.contiguous(), right=False)  # (..., S)
    before = torch.gather(partial, -1, (idx - 1).clamp(min=0)) * (idx > 0)  # mass before the bin
    inside = mass - before  # mass into the bin
    bin_weight = torch.gather(weights, -1, idx)
    start = torch.gather(bins, -1, idx)
    end = torch.gather(bins, -1, idx + 1)
    filled = bin_weight > eps
    frac = inside / torch.where(filled, bin_weight, torch.ones_like(bin_weight))
    samples = torch.where(filled, start + frac * (end - start), start)
    return torch.where(inside > bin_weight, end, samples)  # the eps mass past the last bin's end
