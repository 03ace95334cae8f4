"""Numerically safe versions of elementary functions used by the rotation code (PyTorch3D's ``transforms.math``)."""

import math
from typing import Tuple

import torch

DEFAULT_ACOS_BOUND: float = 1.0 - 1e-4


def acos_linear_extrapolation(
    x: torch.Tensor,
    bounds: Tuple[float, float] = (-DEFAULT_ACOS_BOUND, DEFAULT_ACOS_BOUND),
) -> torch.Tensor:
    """``arccos(x)`` inside ``bounds``, continued by its tangent lines outside them.

    With ``bounds = (lo, hi)``: ``acos(x)`` for ``lo < x < hi``; for ``x >= hi`` the first-order Taylor expansion of
    ``acos`` about ``hi``, ``acos(hi) - (x - hi) / sqrt(1 - hi^2)``, and likewise about ``lo`` for ``x <= lo``. The
    result is finite, continuous and has finite gradients for every finite ``x``, also outside [-1, 1].

    Args:
        x: (...) any shape.
        bounds: (lo, hi) with -1 < lo <= hi < 1.
    Returns:
        (...) same shape and dtype as ``x``.
    Raises:
        ValueError: ``lo > hi`` or a bound outside (-1, 1).
    """
    lower_bound, upper_bound = bounds
    if lower_bound > upper_bound:
        raise ValueError("lower bound has to be smaller or equal to upper bound.")
    if lower_bound <= -1.0 or upper_bound >= 1.0:
        raise ValueError("Both lower bound and upper bound have to be within (-1, 1).")
    inside = torch.acos(x.clamp(lower_bound, upper_bound))  # gradient 0 where clamped: the branches below take over
    above = (x - upper_bound) * _dacos_dx(upper_bound) + math.acos(upper_bound)
    below = (x - lower_bound) * _dacos_dx(lower_bound) + math.acos(lower_bound)
    return torch.where(x >= upper_bound, above, torch.where(x <= lower_bound, below, inside))


def _dacos_dx(x: float) -> float:
    """d acos(x) / dx at a float x in (-1, 1)."""
    return -1.0 / math.sqrt(1.0 - x * x)
