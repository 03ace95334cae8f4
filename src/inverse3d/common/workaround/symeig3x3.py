"""Eigen-decomposition of batches of symmetric 3x3 matrices (PyTorch3D's ``symeig3x3``).

PyTorch3D has a closed-form solver here because batched ``torch.symeig`` was slow on GPUs; this one calls
``torch.linalg.eigh`` / ``eigvalsh``, which are batched and differentiable (gradients are undefined where two
eigenvalues coincide, as for any eigenvector solver).
"""

from __future__ import annotations

from typing import Optional

import torch


def symeig3x3(inputs: torch.Tensor, eigenvectors: bool = True) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices.

    Args:
        inputs: (..., 3, 3) symmetric matrices (only the lower triangle is read).
        eigenvectors: also return the eigenvectors.
    Returns:
        eigenvalues (..., 3) in ascending order, and eigenvectors (..., 3, 3) whose column i belongs to eigenvalue
        i (None when ``eigenvectors`` is False).
    Raises:
        ValueError: ``inputs`` is not (..., 3, 3).
    """
    if not torch.is_tensor(inputs) or inputs.dim() < 2 or inputs.shape[-2:] != (3, 3):
        shape = tuple(inputs.shape) if torch.is_tensor(inputs) else type(inputs).__name__
        raise ValueError(f"symeig3x3 expects (..., 3, 3) symmetric matrices; got {shape}")
    if eigenvectors:
        values, vectors = torch.linalg.eigh(inputs)
        return values, vectors
    return torch.linalg.eigvalsh(inputs), None
