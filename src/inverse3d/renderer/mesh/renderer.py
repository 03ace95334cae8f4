"""A mesh renderer is a rasteriser followed by a shader (PyTorch3D's ``MeshRenderer``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class MeshRenderer(nn.Module):
    """Renders meshes: ``images = shader(rasterizer(meshes), meshes)``.

    Args:
        rasterizer: e.g. ``MeshRasterizer(cameras, raster_settings)``, returns Fragments.
        shader: e.g. ``HardPhongShader(device)``, returns images.

    ``forward(meshes_world, **kwargs)`` passes every keyword argument (``cameras=``, ``lights=``,
    ``materials=``, ``blend_params=``, ``raster_settings=``, ...) to both stages. Colour shaders give RGBA
    (N, H, W, 4) images: empty pixels hold the background colour with alpha 0.
    """

    def __init__(self, rasterizer: nn.Module, shader: nn.Module) -> None:
        super().__init__()
        self.rasterizer = rasterizer
        self.shader = shader

    def to(self, device: Any, *args: Any, **kwargs: Any) -> "MeshRenderer":  # type: ignore[override]
        """Moves the rasteriser's cameras and the shader's cameras, lights and materials; returns self."""
        self.rasterizer.to(device)
        self.shader.to(device)
        return self

    def forward(self, meshes_world: Any, **kwargs: Any) -> torch.Tensor:
        """Returns the shader's images for ``meshes_world`` (a Meshes batch of N, world coordinates)."""
        fragments = self.rasterizer(meshes_world, **kwargs)
        return self.shader(fragments, meshes_world, **kwargs)


class MeshRendererWithFragments(MeshRenderer):
    """Like ``MeshRenderer`` but ``forward`` returns ``(images, fragments)``, e.g. to read the depth buffer."""

    def forward(self, meshes_world: Any, **kwargs: Any) -> tuple[torch.Tensor, Any]:  # type: ignore[override]
        fragments = self.rasterizer(meshes_world, **kwargs)
        images = self.shader(fragments, meshes_world, **kwargs)
        return images, fragments
