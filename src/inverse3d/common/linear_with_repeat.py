"""A linear layer over per-point features joined with per-ray features (PyTorch3D's ``LinearWithRepeat``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LinearWithRepeat(nn.Module):
    """``Linear(n1 + n2, out)`` applied to ``cat([x, y repeated over the points], -1)`` without building it.

    For ``x`` of shape (..., k, n1) (k points per ray) and ``y`` of shape (..., n2) (one vector per ray),
    ``forward((x, y))`` equals ``linear(cat([x, y[..., None, :].expand(..., k, n2)], -1))``, computed as
    ``x @ W1^T + b + (y @ W2^T)[..., None, :]``.

    Args:
        in_features: n1 + n2.
        out_features: output size.
        bias: whether to add a learned bias.
        device, dtype: of the parameters.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s initialisation (Kaiming-uniform weights, uniform bias in +-1/sqrt(fan_in))."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``input = (x (..., k, n1), y (..., n2))`` -> (..., k, out_features)."""
        x, y = input
        n1 = x.shape[-1]
        per_point = F.linear(x, self.weight[:, :n1], self.bias)  # (..., k, out)
        per_ray = F.linear(y, self.weight[:, n1:], None)  # (..., out)
        return per_point + per_ray.unsqueeze(-2)
