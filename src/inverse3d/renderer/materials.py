"""Phong material coefficients (PyTorch3D's ``Materials``)."""

from __future__ import annotations

from typing import Any

import torch

from .utils import TensorProperties


class Materials(TensorProperties):
    """N sets of Phong material properties (one per batch element), multiplied with the lights' colours.

    Args:
        ambient_color, diffuse_color, specular_color: (N, 3) or (1, 3) (or 3-sequences) reflectances.
        shininess: (N,) or a float, the Phong exponent of the specular highlight.
        device: where the tensors live.
    """

    def __init__(
        self,
        ambient_color: Any = ((1, 1, 1),),
        diffuse_color: Any = ((1, 1, 1),),
        specular_color: Any = ((1, 1, 1),),
        shininess: Any = 64,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(
            device=device,
            ambient_color=ambient_color,
            diffuse_color=diffuse_color,
            specular_color=specular_color,
            shininess=shininess,
        )
        channels = set()
        for name in ("ambient_color", "diffuse_color", "specular_color"):
            t = getattr(self, name)
            if t.dim() != 2:
                raise ValueError(f"Expected {name} to have shape (N, C); got {tuple(t.shape)}")
            if torch.isnan(t).any():
                raise ValueError(f"{name} contains NaN")
            channels.add(t.shape[-1])
        if len(channels) != 1:
            raise ValueError(f"Material colours must have the same number of channels; got {sorted(channels)}")
        if self.shininess.shape != torch.Size([self._N]):
            raise ValueError(f"shininess should have shape (N,) = ({self._N},); got {tuple(self.shininess.shape)}")

    def clone(self) -> "Materials":  # type: ignore[override]
        return super().clone(self.__class__(device=self.device))  # type: ignore[return-value]
