"""Conversions between the list, padded and packed views of batched data (PyTorch3D's signatures).

A batch of N items with M_i rows each (vertices, faces, points) has three views:

- list:   N tensors of shape (M_i, ...)
- padded: one tensor (N, max_i M_i, ...) with a pad value after each item's rows
- packed: one tensor (sum_i M_i, ...), items one after the other, with index maps saying which row
  belongs to which item (``packed_to_list_idx``) and where each item starts (``first_idx``).

The private helpers at the bottom build those index maps from the per-item counts without a loop
over the batch; ``Meshes`` and ``Pointclouds`` use them.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch

__all__ = ["list_to_packed", "list_to_padded", "packed_to_list", "padded_to_list", "padded_to_packed"]


def list_to_padded(
    x: Sequence[torch.Tensor],
    pad_size: Sequence[int] | None = None,
    pad_value: float = 0.0,
    equisized: bool = False,
) -> torch.Tensor:
    """Stacks N tensors of shapes (S_i0, S_i1, ...) into one padded tensor.

    Args:
        x: N tensors with the same number of dimensions (a 1-D empty tensor counts as any shape of size 0).
        pad_size: size of every dimension of the output after the batch one; default: the largest
            size of each dimension over the non-empty items.
        pad_value: value written where an item has no data.
        equisized: the caller knows every item has the same shape; then this is ``torch.stack``.

    Returns:
        (N, *pad_size) tensor, newly allocated, with the dtype and device of ``x[0]``; differentiable.
    """
    if len(x) == 0:
        raise ValueError("list_to_padded needs at least one tensor")
    if not all(torch.is_tensor(y) for y in x):
        raise ValueError("list_to_padded: all items have to be torch.Tensor")
    if equisized:
        return torch.stack(list(x), 0)
    ndim = max(y.ndim for y in x)
    # An empty 1-D tensor stands for an empty item of any shape.
    x = [y.new_zeros([0] * ndim) if (y.ndim == 1 and y.numel() == 0) else y for y in x]
    if any(y.ndim != ndim for y in x):
        raise ValueError("list_to_padded: all items have to have the same number of dimensions")
    if pad_size is None:
        nonempty = [y for y in x if y.shape[0] > 0] or x
        pad_dims = [max(y.shape[d] for y in nonempty) for d in range(ndim)]
    else:
        if len(pad_size) != ndim:
            raise ValueError(f"list_to_padded: pad_size {tuple(pad_size)} must give a size for all {ndim} dimensions")
        pad_dims = list(pad_size)
    out = x[0].new_full((len(x), *pad_dims), pad_value)
    for i, y in enumerate(x):  # one copy per item; items are few (a batch), rows are many
        if y.shape[0] > 0:
            out[(i, *(slice(0, s) for s in y.shape))] = y
    return out


def padded_to_list(
    x: torch.Tensor,
    split_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
) -> list[torch.Tensor]:
    """Splits a padded tensor (N, S_1, ..., S_D) into N tensors (views sharing its memory).

    Args:
        x: (N, S_1, ..., S_D) padded tensor.
        split_size: None (every item keeps the full (S_1, ..., S_D)), N ints (item i keeps its first
            split_size[i] rows) or N sequences of ints (item i keeps x[i][:s_1, :s_2, ...]).

    Returns:
        list of N tensors.
    """
    x_list = list(x.unbind(0))
    if split_size is None:
        return x_list
    if len(split_size) != x.shape[0]:
        raise ValueError(
            f"padded_to_list: split_size has {len(split_size)} entries but the input has {x.shape[0]} items"
        )
    for i, size in enumerate(split_size):
        if isinstance(size, int):
            x_list[i] = x_list[i][:size]
        else:
            x_list[i] = x_list[i][tuple(slice(0, int(s)) for s in size)]
    return x_list


def list_to_packed(
    x: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenates N tensors (M_i, K, ...) along the first dimension.

    Returns:
        x_packed: (sum M_i, K, ...) the rows of all items, item after item.
        num_items: (N,) int64, M_i.
        item_packed_first_idx: (N,) int64, row of x_packed where item i starts.
        item_packed_to_list_idx: (sum M_i,) int64, the item each packed row belongs to.
    """
    if len(x) == 0:
        raise ValueError("list_to_packed needs at least one tensor")
    device = x[0].device
    num_items = torch.tensor([len(y) for y in x], dtype=torch.int64, device=device)
    first_idx, packed_to_list = _index_maps(num_items, sum(len(y) for y in x))
    return torch.cat(list(x), dim=0), num_items, first_idx, packed_to_list


def packed_to_list(x: torch.Tensor, split_size: Sequence[int] | int) -> list[torch.Tensor]:
    """Splits a packed tensor (sum M_i, ...) into tensors (M_i, ...) (views sharing its memory).

    Args:
        x: (sum M_i, ...) packed tensor.
        split_size: the M_i (or one int for equal chunks), as in ``torch.split``.
    """
    if not isinstance(split_size, int):
        split_size = [int(s) for s in split_size]
        if sum(split_size) != x.shape[0]:
            raise ValueError(f"packed_to_list: split sizes sum to {sum(split_size)} but the input has {x.shape[0]} rows")
    return list(x.split(split_size, dim=0))


def padded_to_packed(
    x: torch.Tensor,
    split_size: Sequence[int] | None = None,
    pad_value: float | int | None = None,
) -> torch.Tensor:
    """Turns a padded tensor (N, M, K) into a packed tensor.

    Args:
        x: (N, M, K) padded tensor.
        split_size: N ints, the number of leading rows of each item to keep; the output is (sum, K).
        pad_value: alternatively, drop every row whose K entries all equal ``pad_value``.
        With neither, the output is x reshaped to (N * M, K). Give at most one of the two.

    Returns:
        packed tensor (P, K); differentiable with respect to ``x``.
    """
    if x.ndim != 3:
        raise ValueError(f"padded_to_packed supports only (N, M, K) inputs, got shape {tuple(x.shape)}")
    if split_size is not None and pad_value is not None:
        raise ValueError("padded_to_packed: give only one of split_size and pad_value")
    N, M, K = x.shape
    flat = x.reshape(N * M, K)
    if split_size is None and pad_value is None:
        return flat
    if pad_value is not None:
        return flat[flat.ne(pad_value).any(-1)]
    if len(split_size) != N:
        raise ValueError(f"padded_to_packed: split_size has {len(split_size)} entries but the input has {N} items")
    if not all(isinstance(s, int) for s in split_size):
        raise ValueError("padded_to_packed: split_size must be a sequence of ints")
    if any(s < 0 or s > M for s in split_size):
        raise ValueError(f"padded_to_packed: split sizes must lie in [0, {M}], got {list(split_size)}")
    num = torch.tensor(list(split_size), dtype=torch.int64, device=x.device)
    return flat[_padded_to_packed_idx(num, sum(split_size), M)]


# ----------------------------------------------------------------------------------------------
# Index maps shared by Meshes and Pointclouds (vectorised over the batch).


def _index_maps(num: torch.Tensor, total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First packed row of each item and the item of each packed row.

    Args:
        num: (N,) int64 item sizes.
        total: sum of ``num`` as a Python int (known by the caller; saves a device sync).

    Returns:
        first_idx: (N,) int64, exclusive cumulative sum of ``num``.
        packed_to_item: (total,) int64, item index of every packed row.
    """
    first_idx = torch.cumsum(num, 0) - num
    items = torch.arange(num.shape[0], dtype=torch.int64, device=num.device)
    packed_to_item = torch.repeat_interleave(items, num, output_size=total)
    return first_idx, packed_to_item


def _padded_to_packed_idx(num: torch.Tensor, total: int, max_len: int) -> torch.Tensor:
    """(total,) int64: for each packed row, its row in the padded tensor flattened to (N * max_len, ...)."""
    first_idx, packed_to_item = _index_maps(num, total)
    local = torch.arange(total, dtype=torch.int64, device=num.device) - first_idx[packed_to_item]
    return packed_to_item * max_len + local


def _bounding_boxes(padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, 3, 2) per-item (min, max) of padded points (N, P, 3) with lengths (N,); zeros for empty items."""
    n_items, n_points = padded.shape[:2]
    if n_points == 0:
        return padded.new_zeros((n_items, 3, 2))
    mask = (torch.arange(n_points, device=padded.device)[None] < lengths[:, None])[..., None]  # (N, P, 1)
    inf = torch.tensor(float("inf"), dtype=padded.dtype, device=padded.device)
    mins = torch.where(mask, padded, inf).amin(1)  # (N, 3)
    maxs = torch.where(mask, padded, -inf).amax(1)
    empty = (lengths == 0)[:, None]
    mins = torch.where(empty, torch.zeros_like(mins), mins)
    maxs = torch.where(empty, torch.zeros_like(maxs), maxs)
    return torch.stack([mins, maxs], dim=2)


class TensorContainer:
    """``clone``, ``detach``, ``to``, ``cpu`` and ``cuda`` for a structure with a ``device``, the names of its
    internal tensors (or lists of tensors) in ``_INTERNAL_TENSORS`` and a ``_shallow_copy()``."""

    device: torch.device
    _INTERNAL_TENSORS: Sequence[str] = ()

    def _shallow_copy(self):
        return copy.copy(self)

    def _map_tensors(self, fn):
        """Shallow copy with ``fn`` applied to every internal tensor and list of tensors (None stays None)."""
        new = self._shallow_copy()
        for name in self._INTERNAL_TENSORS:
            value = getattr(self, name)
            if torch.is_tensor(value):
                setattr(new, name, fn(value))
            elif isinstance(value, list):
                setattr(new, name, [fn(v) for v in value])
        return new

    def _apply(self, method: str, *args):
        """A copy with ``tensor.<method>(*args)`` applied to every internal tensor."""
        return self._map_tensors(lambda t: getattr(t, method)(*args))

    def clone(self):
        """Deep copy: every internal tensor is cloned (the copies stay in the autograd graph)."""
        return self._apply("clone")

    def detach(self):
        """Copy whose tensors are detached from the autograd graph (they share memory with self)."""
        return self._apply("detach")

    def to(self, device, copy: bool = False):
        """The structure on ``device``: self when already there and ``copy`` is False, otherwise a copy."""
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if self.device == device:
            return self.clone() if copy else self
        new = self._apply("to", device)
        new.device = device
        return new

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")
