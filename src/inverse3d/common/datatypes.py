"""Device types and helpers (PyTorch3D's ``common.datatypes``)."""

from __future__ import annotations

from typing import Any, Optional, Union

import torch

Device = Union[str, torch.device]


def make_device(device: Device) -> torch.device:
    """``device`` as a ``torch.device``; a bare "cuda" gets the current CUDA device's index, so comparisons work."""
    device = torch.device(device) if isinstance(device, str) else device
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{torch.cuda.current_device()}")
    return device


def get_device(x: Any, device: Optional[Device] = None) -> torch.device:
    """``make_device(device)`` if given, else the device of tensor ``x``, else the CPU."""
    if device is not None:
        return make_device(device)
    if torch.is_tensor(x):
        return x.device
    return torch.device("cpu")
