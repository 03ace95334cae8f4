"""The course's NeRF network: harmonic embeddings, an MLP with an input skip, density and view-dependent colour.

    points (..., 3) -> HarmonicEmbedding (L_xyz octaves, input appended) -> e (..., 3 (2 L_xyz + 1))
    h = ReLU(Linear(e)); then for layers 1 .. n-1: h = ReLU(Linear(cat(h, e) if the layer is a skip else h))
    sigma = ReLU (or softplus) (Linear(h))                                   (..., 1)
    f = Linear(h); rgb = sigmoid(Linear(ReLU(Linear(cat(f, embed(d))))))   (..., 3), without embed(d) if not
                                                                            view dependent

With the defaults (10 position octaves, 4 direction octaves, 8 layers of 256, skip into layer 5, a 128-wide
direction branch) this is the network of the NeRF paper; the course's assignment uses the same structure.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from inverse3d.models.fields.base import RadianceField, check_points, encode_directions
from inverse3d.renderer.implicit.harmonic_embedding import HarmonicEmbedding


class NeRFMLP(RadianceField):
    """NeRF's MLP as a radiance field.

    Args:
        bounds: optional (lo (3,), hi (3,)) scene box: points are then mapped to [-1, 1]^3 before the embedding and
            get density 0 outside the box. None (the course's set-up) embeds world coordinates as they are.
        n_harmonic_functions_xyz: octaves of the position embedding (NeRF: 10).
        n_harmonic_functions_dir: octaves of the direction embedding (NeRF: 4).
        n_layers_xyz: layers of the trunk (NeRF: 8), each ``n_hidden_neurons_xyz`` wide (NeRF: 256).
        append_xyz: indices (0-based) of the trunk layers whose input is ``cat(hidden, embedding)`` (NeRF: (5,),
            i.e. the embedding re-enters after the fifth layer).
        n_hidden_neurons_dir: width of the colour branch (NeRF: 128).
        view_dependence: colour depends on the view direction (False: the direction is ignored).
        density_activation: "relu" (NeRF) or "softplus".
        omega_0: base frequency of both embeddings.
    """

    def __init__(
        self,
        bounds: Sequence | None = None,
        n_harmonic_functions_xyz: int = 10,
        n_harmonic_functions_dir: int = 4,
        n_layers_xyz: int = 8,
        n_hidden_neurons_xyz: int = 256,
        append_xyz: Sequence[int] = (5,),
        n_hidden_neurons_dir: int = 128,
        view_dependence: bool = True,
        density_activation: str = "relu",
        omega_0: float = 1.0,
    ) -> None:
        super().__init__(bounds)
        if n_layers_xyz < 1 or n_hidden_neurons_xyz < 1 or n_hidden_neurons_dir < 1:
            raise ValueError(
                f"need n_layers_xyz, n_hidden_neurons_xyz, n_hidden_neurons_dir >= 1, got {n_layers_xyz}, "
                f"{n_hidden_neurons_xyz}, {n_hidden_neurons_dir}"
            )
        skips = tuple(sorted(set(int(i) for i in append_xyz)))
        if any(not 1 <= i < n_layers_xyz for i in skips):
            raise ValueError(f"append_xyz must index trunk layers 1 .. {n_layers_xyz - 1}, got {tuple(append_xyz)}")
        if density_activation not in ("relu", "softplus"):
            raise ValueError(f"density_activation must be 'relu' or 'softplus', got {density_activation!r}")
        self.embedding_xyz = HarmonicEmbedding(n_harmonic_functions_xyz, omega_0)
        self.embedding_dir = HarmonicEmbedding(n_harmonic_functions_dir, omega_0)
        embed_dim = self.embedding_xyz.get_output_dim(3)
        dir_dim = self.embedding_dir.get_output_dim(3) if view_dependence else 0
        width = n_hidden_neurons_xyz
        self.append_xyz = skips
        self.layers = nn.ModuleList(
            nn.Linear(embed_dim if i == 0 else width + (embed_dim if i in skips else 0), width)
            for i in range(n_layers_xyz)
        )
        self.density_layer = nn.Linear(width, 1)
        self.feature_layer = nn.Linear(width, width)
        self.color_layer = nn.Sequential(
            nn.Linear(width + dir_dim, n_hidden_neurons_dir), nn.ReLU(inplace=True), nn.Linear(n_hidden_neurons_dir, 3)
        )
        self.view_dependence = view_dependence
        self.density_activation = density_activation

    def _trunk(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., n_hidden_neurons_xyz) features of the last trunk layer."""
        check_points(points)
        x = points if self.bounds is None else 2.0 * self.to_unit(points) - 1.0
        e = self.embedding_xyz(x)
        h = e
        for i, layer in enumerate(self.layers):
            if i in self.append_xyz:
                h = torch.cat([h, e], dim=-1)
            h = torch.relu(layer(h))
        return h

    def _sigma(self, h: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        raw = self.density_layer(h)
        sigma = torch.relu(raw) if self.density_activation == "relu" else nn.functional.softplus(raw)
        if self.bounds is not None:
            sigma = sigma * self.inside(points)[..., None].to(sigma.dtype)
        return sigma

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., 1) density >= 0."""
        return self._sigma(self._trunk(points), points)

    def forward(
        self, points: torch.Tensor, directions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) points and unit directions (per point or per ray) -> (sigma (..., 1), rgb (..., 3)).

        Directions are required when ``view_dependence`` is on and ignored otherwise.
        """
        h = self._trunk(points)
        sigma = self._sigma(h, points)
        f = self.feature_layer(h)
        if self.view_dependence:
            if directions is None:
                raise ValueError("this NeRFMLP is view dependent: pass directions (..., 3)")
            d = encode_directions(self.embedding_dir, directions.to(f.dtype), points)
            f = torch.cat([f, d], dim=-1)
        return sigma, torch.sigmoid(self.color_layer(f))
