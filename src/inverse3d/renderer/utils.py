"""Batched keyword-tensor containers shared by cameras, lights and materials (PyTorch3D's ``TensorProperties``).

A ``TensorProperties`` turns each keyword argument (a float, list, tuple, NumPy array or tensor) into a tensor
whose first dimension is the batch size ``N``: arguments with a leading size of 1 are broadcast (expanded, not
copied) to the largest leading size, so ``PointLights(location=[[0, 1, 2]], diffuse_color=torch.rand(4, 3))``
holds four lights. Strings, booleans and ``None`` are stored as they are.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

Device = str | torch.device

# Values that TensorProperties turns into batched tensors.
BROADCAST_TYPES = (float, int, list, tuple, torch.Tensor, np.ndarray)

# Attributes every nn.Module has; the rest of an instance's __dict__ are its properties.
_MODULE_INTERNALS = frozenset(nn.Module().__dict__)


def check_image_size(image_size: Any, name: str = "image_size") -> tuple[int, int]:
    """(H, W) from an int (square image) or an (H, W) pair of ints, as the rasterisers take ``image_size``.

    Raises:
        TypeError: anything but an int or a pair of ints (a float such as 8.5, a string, a bool).
        ValueError: a pair of the wrong length, or a size that is not positive.
    """
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(f"{name} must be an int or (H, W); got {image_size!r} ({len(image_size)} values)")
        sizes = tuple(image_size)
    else:
        sizes = (image_size, image_size)
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{name} must be an int or (H, W) of ints; got {image_size!r} ({type(s).__name__})")
    H, W = int(sizes[0]), int(sizes[1])
    if H <= 0 or W <= 0:
        raise ValueError(f"{name} must be positive; got {image_size!r}")
    return H, W


def check_count(value: Any, name: str, minimum: int = 1, optional: bool = False) -> None:
    """Raises TypeError unless ``value`` is an int (None too if ``optional``), ValueError if below ``minimum``."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{' or None' if optional else ''}; got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")


def check_nonnegative(value: Any, name: str, optional: bool = False) -> None:
    """Raises TypeError unless ``value`` is a real number (None too if ``optional``), ValueError unless it is
    finite and >= 0. Tensors are left to the functions that use them (checking them could wait for a GPU)."""
    if (value is None and optional) or torch.is_tensor(value):
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value}")


def make_device(device: Device) -> torch.device:
    """Returns a ``torch.device``; a bare "cuda" gets the current CUDA device's index, so comparisons work."""
    device = torch.device(device) if not isinstance(device, torch.device) else device
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{torch.cuda.current_device()}")
    return device


def format_tensor(value: Any, dtype: torch.dtype = torch.float32, device: Device = "cpu") -> torch.Tensor:
    """Returns ``value`` as a tensor on ``device`` with at least one dimension.

    Non-tensors are converted with ``dtype``; tensors keep their own dtype. A 0-dim tensor becomes shape (1,).
    """
    device_ = make_device(device)
    if not torch.is_tensor(value):
        value = torch.tensor(value, dtype=dtype, device=device_)
    if value.dim() == 0:
        value = value.view(1)
    if value.device != device_:
        value = value.to(device=device_)
    return value


def convert_to_tensors_and_broadcast(
    *args: Any, dtype: torch.dtype = torch.float32, device: Device = "cpu"
) -> list[torch.Tensor]:
    """Converts each argument to a tensor and expands its first dimension to the largest one, N.

    Args:
        args: scalars, sequences, arrays or tensors; after conversion each has shape (1, ...) or (N, ...).
    Returns:
        one tensor of shape (N, ...) per argument (expanded views where the input had size 1).
    Raises:
        ValueError: when two leading sizes differ and neither is 1.
    """
    tensors = [format_tensor(a, dtype, device) for a in args]
    sizes = [t.shape[0] for t in tensors]
    n = max(sizes)
    out = []
    for t in tensors:
        if t.shape[0] != 1 and t.shape[0] != n:
            raise ValueError(f"Got non-broadcastable sizes {sizes}: each leading size must be 1 or {n}")
        out.append(t.expand(n, *t.shape[1:]))
    return out


class TensorAccessor:
    """A view of element(s) ``index`` of a ``TensorProperties``: reading ``acc.name`` returns ``obj.name[index]``
    and assigning ``acc.name = value`` writes into ``obj.name[index]`` (PyTorch3D's ``TensorAccessor``)."""

    def __init__(self, class_object: "TensorProperties", index: int | slice) -> None:
        self.__dict__["class_object"] = class_object
        self.__dict__["index"] = index

    def __setattr__(self, name: str, value: Any) -> None:
        obj = self.__dict__["class_object"]
        index = self.__dict__["index"]
        if not hasattr(obj, name):
            raise AttributeError(f"Tried to set attribute {name!r} which is not present in {type(obj).__name__}")
        current = getattr(obj, name)
        if torch.is_tensor(current):
            value = format_tensor(value, dtype=current.dtype, device=current.device)
            if current.dim() > 1 and value.dim() > 1 and value.shape[0] == 1 and isinstance(index, int):
                value = value[0]
            if not current.is_contiguous() or current.stride(0) == 0:
                current = current.clone()  # expanded views cannot be written element-wise
            current[index] = value
            setattr(obj, name, current)
        else:
            setattr(obj, name, value)

    def __getattr__(self, name: str) -> Any:
        obj = self.__dict__["class_object"]
        index = self.__dict__["index"]
        if not hasattr(obj, name):
            raise AttributeError(f"Attribute {name!r} not found in {type(obj).__name__}")
        value = getattr(obj, name)
        return value[index] if torch.is_tensor(value) else value


class TensorProperties(nn.Module):
    """A batch of N sets of properties stored as tensors with a leading batch dimension (PyTorch3D semantics).

    Args:
        dtype: dtype for arguments that are not already tensors (tensors keep theirs).
        device: where every tensor is placed.
        kwargs: property name -> value. Floats, ints, lists, tuples, arrays and tensors become tensors of shape
            (N, ...) broadcast to a common N; ``None``, strings and booleans are stored as given.
    Attributes:
        device: ``torch.device`` of the tensors.
        _N: the batch size (0 when no tensor argument was given).
    """

    def __init__(self, dtype: torch.dtype = torch.float32, device: Device = "cpu", **kwargs: Any) -> None:
        super().__init__()
        self.device = make_device(device)
        self._N = 0
        to_broadcast: dict[str, Any] = {}
        for name, value in kwargs.items():
            if value is None or isinstance(value, (str, bool)):
                setattr(self, name, value)
            elif isinstance(value, BROADCAST_TYPES):
                to_broadcast[name] = value
            else:
                warnings.warn(f"Arg {name} with type {type(value)!r} is not broadcastable")
        if to_broadcast:
            values = convert_to_tensors_and_broadcast(*to_broadcast.values(), dtype=dtype, device=self.device)
            for name, value in zip(to_broadcast, values):
                setattr(self, name, value)
            self._N = values[0].shape[0]

    def __len__(self) -> int:
        return self._N

    def isempty(self) -> bool:
        return self._N == 0

    def __getitem__(self, index: int | slice) -> TensorAccessor:
        """Returns a ``TensorAccessor`` reading and writing element(s) ``index`` of every tensor property."""
        if isinstance(index, (int, slice)):
            return TensorAccessor(class_object=self, index=index)
        raise ValueError(f"Expected index of type int or slice; got {type(index)!r}")

    def _property_names(self) -> list[str]:
        """Names of the stored properties: instance attributes, not methods or nn.Module internals."""
        names = [k for k in self.__dict__ if k not in _MODULE_INTERNALS]
        return names + list(self._parameters) + list(self._buffers)

    def to(self, device: Device = "cpu") -> "TensorProperties":  # type: ignore[override]
        """Moves every tensor property to ``device`` in place and returns ``self``."""
        device_ = make_device(device)
        for name in self._property_names():
            value = getattr(self, name)
            if name == "device":
                self.device = device_
            elif torch.is_tensor(value) and value.device != device_:
                setattr(self, name, value.to(device_))
        self.device = device_
        return self

    def cpu(self) -> "TensorProperties":  # type: ignore[override]
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> "TensorProperties":  # type: ignore[override]
        return self.to(f"cuda:{device}" if device is not None else "cuda")

    def clone(self, other: "TensorProperties | None" = None) -> "TensorProperties":
        """Copies every property (tensors cloned, other values deep-copied) onto ``other``.

        Args:
            other: the instance to fill; when None, a new instance of the same class is made without calling
                its ``__init__``.
        """
        if other is None:
            other = self.__class__.__new__(self.__class__)
            nn.Module.__init__(other)
        for name in self._property_names():
            value = getattr(self, name)
            if inspect.ismethod(value):
                continue
            setattr(other, name, value.clone() if torch.is_tensor(value) else copy.deepcopy(value))
        return other

    def gather_props(self, batch_idx: torch.Tensor) -> "TensorProperties":
        """Re-indexes every batched tensor property along its first dimension with ``batch_idx``, in place.

        Used by shaders to give each packed element (vertex, face, pixel) the property of its batch element.

        Args:
            batch_idx: (M,) or (M, ...) long tensor of indices into the batch; for a property of shape (N, ...)
                the result has shape batch_idx.shape + the trailing dims of the property.
        Returns:
            self. When N == 1 nothing changes (the single value broadcasts).
        """
        if self._N == 1:
            return self
        for name in self._property_names():
            value = getattr(self, name)
            if torch.is_tensor(value) and value.dim() > 0 and value.shape[0] > 1:
                idx = batch_idx.clone()
                if idx.dim() > value.dim():
                    raise ValueError(
                        f"batch_idx has {idx.dim()} dims but property {name!r} has only {value.dim()}; "
                        "batch_idx cannot have more dims than the property"
                    )
                if idx.dim() != value.dim():
                    extra = value.dim() - idx.dim()
                    idx = idx.view(*idx.shape, *([1] * extra)).expand(-1, *value.shape[1:])
                setattr(self, name, value.gather(0, idx))
        return self



# PyTorch3D names and homes of these helpers.
from inverse3d.renderer.ndc_sampling import ndc_grid_sample, ndc_to_grid_sample_coords  # noqa: E402,F401

parse_image_size = check_image_size
