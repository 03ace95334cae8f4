"""Packed <-> padded conversion of per-element data (PyTorch3D's ``ops.packed_to_padded`` semantics).

A batch of N items whose elements (faces, vertices, points) are stored one item after the other in a
packed tensor is described by ``first_idxs``: item b owns packed rows ``first_idxs[b]`` up to (not
including) ``first_idxs[b + 1]``, the last item up to the end. Both functions are one gather / scatter
with indices computed by ``searchsorted``, with no loop over the batch, and differentiable.
"""

from __future__ import annotations


import torch

__all__ = ["packed_to_padded", "padded_to_packed"]


def _check_first_idxs(first_idxs: torch.Tensor, device: torch.device) -> None:
    if not torch.is_tensor(first_idxs) or first_idxs.ndim != 1:
        raise ValueError("first_idxs must be a 1-D tensor of shape (N,)")
    if first_idxs.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"first_idxs must be an int64 tensor, got {first_idxs.dtype}")
    if first_idxs.device != device:
        raise ValueError(f"first_idxs is on {first_idxs.device} but the inputs are on {device}")


def _packed_positions(first_idxs: torch.Tensor, num_packed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Item and position inside its item of each packed row.

    Returns:
        item: (num_packed,) int64 in [-1, N); -1 for rows before ``first_idxs[0]``.
        pos: (num_packed,) int64, row index minus the first row of its item.
    """
    first = first_idxs.to(torch.int64)
    rows = torch.arange(num_packed, dtype=torch.int64, device=first.device)
    item = torch.searchsorted(first, rows, right=True) - 1  # last item starting at or before the row
    pos = rows - first[item.clamp(min=0)]
    return item, pos


def packed_to_padded(inputs: torch.Tensor, first_idxs: torch.Tensor, max_size: int) -> torch.Tensor:
    """Scatters packed per-element data into a zero-padded batch.

    Args:
        inputs: (F,) or (F, D) packed data of all items.
        first_idxs: (N,) int64, packed row where each item starts (non-decreasing).
        max_size: M, the padded length; rows of an item beyond M are dropped.

    Returns:
        (N, M) or (N, M, D) with the dtype/device of ``inputs``; zeros where an item has no row.
    """
    if inputs.ndim not in (1, 2):
        raise ValueError(f"packed_to_padded: inputs must be (F,) or (F, D), got shape {tuple(inputs.shape)}")
    _check_first_idxs(first_idxs, inputs.device)
    flat = inputs if inputs.ndim == 2 else inputs[:, None]
    num_packed, dim = flat.shape
    n_items = first_idxs.shape[0]
    item, pos = _packed_positions(first_idxs, num_packed)
    keep = (item >= 0) & (pos < max_size)
    trash = n_items * max_size  # one extra row receives the dropped rows; no device sync needed
    target = (item * max_size + pos).where(keep, torch.full_like(pos, trash))
    out = flat.new_zeros((trash + 1, dim)).index_copy(0, target, flat)
    out = out[:trash].view(n_items, max_size, dim)
    return out if inputs.ndim == 2 else out[..., 0]


def padded_to_packed(inputs: torch.Tensor, first_idxs: torch.Tensor, num_inputs: int) -> torch.Tensor:
    """Gathers the packed rows out of a padded batch (the inverse of :func:`packed_to_padded`).

    Args:
        inputs: (N, M) or (N, M, D) padded data.
        first_idxs: (N,) int64, packed row where each item starts (non-decreasing).
        num_inputs: F, the number of packed rows to produce.

    Returns:
        (F,) or (F, D); a packed row whose position inside its item is >= M (or that lies before
        ``first_idxs[0]``) is zero.
    """
    if inputs.ndim not in (2, 3):
        raise ValueError(f"padded_to_packed: inputs must be (N, M) or (N, M, D), got shape {tuple(inputs.shape)}")
    _check_first_idxs(first_idxs, inputs.device)
    if first_idxs.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"padded_to_packed: first_idxs has {first_idxs.shape[0]} items but inputs has {inputs.shape[0]}"
        )
    n_items, max_size = inputs.shape[:2]
    dim = inputs.shape[2] if inputs.ndim == 3 else 1
    flat = inputs.reshape(n_items * max_size, dim)
    item, pos = _packed_positions(first_idxs, num_inputs)
    keep = (item >= 0) & (pos < max_size)
    source = (item * max_size + pos).where(keep, torch.zeros_like(pos))
    gathered = flat.index_select(0, source) if flat.shape[0] > 0 else flat.new_zeros((num_inputs, dim))
    out = torch.where(keep[:, None], gathered, torch.zeros_like(gathered))
    return out if inputs.ndim == 3 else out[:, 0]

