"""Shims over PyTorch and Python versions (PyTorch3D's ``common.compat``)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch


def meshgrid_ij(*A: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """``torch.meshgrid(*A, indexing="ij")``: the first input varies along the first output dimension."""
    return torch.meshgrid(*A, indexing="ij")


def prod(iterable: Iterable[Any], *, start: Any = 1) -> Any:
    """The product of ``iterable`` times ``start`` (``math.prod``, also for tensors)."""
    for item in iterable:
        start = start * item
    return start
