"""NeuS's SDF-to-opacity transform (Wang et al. 2021): the logistic density and the discrete opacity.

With ``Phi_s(x) = sigmoid(s x)`` the logistic CDF of sharpness ``s`` (its derivative
``phi_s(x) = s e^{-s x} / (1 + e^{-s x})^2`` is the "S-density") and ``f_i = f(p_i)`` the SDF at consecutive samples
``p_i`` of a ray, NeuS's opacity of the interval ``[p_i, p_{i+1}]`` is::

    alpha_i = max((Phi_s(f_i) - Phi_s(f_{i+1})) / Phi_s(f_i), 0)

which is unbiased (the weights peak on the zero crossing) and occlusion-aware; the weights are then the usual
front-to-back compositing ``w_i = alpha_i prod_{j<i} (1 - alpha_j)`` (``EmissionAbsorptionRaymarcher``). ``s`` is
learned as ``exp(10 * variance)`` (NeuS's parametrisation; ``1/s`` is the standard deviation of ``phi_s``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["logistic_cdf", "logistic_density", "neus_alpha", "LogisticDensity"]


def logistic_cdf(x: torch.Tensor, s: torch.Tensor | float) -> torch.Tensor:
    """``Phi_s(x) = sigmoid(s x)``, elementwise."""
    return torch.sigmoid(s * x)


def logistic_density(x: torch.Tensor, s: torch.Tensor | float) -> torch.Tensor:
    """``phi_s(x) = s e^{-s x} / (1 + e^{-s x})^2 = s sigmoid(s x) sigmoid(-s x)``, elementwise."""
    return s * torch.sigmoid(s * x) * torch.sigmoid(-s * x)


def neus_alpha(sdf_prev: torch.Tensor, sdf_next: torch.Tensor, s: torch.Tensor | float, eps: float = 1e-6
               ) -> torch.Tensor:
    """NeuS's discrete opacity of intervals ``max((Phi_s(f_i) - Phi_s(f_{i+1})) / Phi_s(f_i), 0)``.

    Args:
        sdf_prev: (...) SDF at the intervals' near ends ``f_i``.
        sdf_next: (...) SDF at their far ends ``f_{i+1}``.
        s: sharpness (> 0), a number or a tensor broadcasting against them.
        eps: added to the denominator (``Phi_s(f_i)`` underflows deep inside).
    Returns:
        (...) opacities in [0, 1].
    """
    if sdf_prev.shape != sdf_next.shape:
        raise ValueError(f"neus_alpha: sdf_prev {tuple(sdf_prev.shape)} and sdf_next {tuple(sdf_next.shape)} differ")
    prev = logistic_cdf(sdf_prev, s)
    nxt = logistic_cdf(sdf_next, s)
    return ((prev - nxt) / (prev + eps)).clamp(0.0, 1.0)


class LogisticDensity(nn.Module):
    """NeuS's learnable sharpness ``s = exp(10 * variance)`` and the opacities of intervals from their end SDFs.

    Args:
        init_s: starting (or fixed) sharpness (NeuS: variance 0.3, s = e^3 ~ 20).
        learnable: train s with the network.
        s_max: upper bound of s (keeps the logistic from saturating to a step).
    """

    def __init__(self, init_s: float = math.exp(3.0), learnable: bool = True, s_max: float = 1e6) -> None:
        super().__init__()
        if not (math.isfinite(init_s) and init_s > 0):
            raise ValueError(f"s must be a positive number; got {init_s}")
        value = torch.tensor(math.log(init_s) / 10.0)
        if learnable:
            self.variance = nn.Parameter(value)
        else:
            self.register_buffer("variance", value)
        self.learnable = bool(learnable)
        self.s_max = float(s_max)

    @property
    def s(self) -> torch.Tensor:
        """() the current sharpness."""
        return torch.exp(10.0 * self.variance).clamp(max=self.s_max)

    def forward(self, sdf_prev: torch.Tensor, sdf_next: torch.Tensor) -> torch.Tensor:
        """(...) end SDFs of intervals -> (...) opacities (``neus_alpha``)."""
        return neus_alpha(sdf_prev, sdf_next, self.s.to(sdf_prev.dtype))

    def extra_repr(self) -> str:
        return f"s={float(self.s.detach()):.4g}, learnable={self.learnable}"
