"""The appearance network of IDR / VolSDF / NeuS: colour from position, normal, view direction and SDF features.

``rgb = sigmoid(MLP([x, n, encode(d), z]))`` with ``x`` the world point, ``n`` the unit normal (the normalised SDF
gradient), ``d`` the unit view direction (harmonic embedding) and ``z`` the SDF network's feature vector: the
normal lets the colour depend on the surface orientation (shading), the direction on the view (highlights).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AppearanceNetwork"]


class AppearanceNetwork(nn.Module):
    """Colour of surface points (module docstring).

    Args:
        feature_dim: size of the SDF network's features ``z`` (0: none).
        hidden: width of the hidden ReLU layers.
        n_layers: hidden layers (IDR: 4 x 256).
        view_harmonics: octaves of the view direction's harmonic embedding (0: the raw direction; None: no view
            dependence at all).
        use_normal: condition on the normal (IDR's "idr" mode; False is its "no_normal" mode).
    """

    def __init__(self, feature_dim: int = 0, hidden: int = 64, n_layers: int = 2, view_harmonics: int | None = 4,
                 use_normal: bool = True) -> None:
        super().__init__()
        from inverse3d.renderer.implicit import HarmonicEmbedding

        if feature_dim < 0 or hidden < 1 or n_layers < 0 or (view_harmonics is not None and view_harmonics < 0):
            raise ValueError(f"AppearanceNetwork: need feature_dim >= 0, hidden >= 1, n_layers >= 0, view_harmonics "
                             f">= 0 or None; got {feature_dim}, {hidden}, {n_layers}, {view_harmonics}")
        self.feature_dim = int(feature_dim)
        self.use_normal = bool(use_normal)
        self.view_embedding = None if view_harmonics is None else HarmonicEmbedding(view_harmonics, append_input=True)
        view_dim = 0 if self.view_embedding is None else self.view_embedding.get_output_dim(3)
        dim = 3 + (3 if use_normal else 0) + view_dim + self.feature_dim
        layers: list[nn.Module] = []
        for _ in range(n_layers):
            layers += [nn.Linear(dim, hidden), nn.ReLU(inplace=True)]
            dim = hidden
        layers.append(nn.Linear(dim, 3))
        self.mlp = nn.Sequential(*layers)

    def forward(self, points: torch.Tensor, normals: torch.Tensor, directions: torch.Tensor,
                features: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            points: (..., 3) world points.
            normals: (..., 3) unit normals there.
            directions: (..., 3) unit view directions (from the camera towards the point).
            features: (..., feature_dim) the SDF network's features (None when feature_dim is 0).
        Returns:
            (..., 3) colours in (0, 1).
        """
        parts = [points]
        if self.use_normal:
            parts.append(normals)
        if self.view_embedding is not None:
            parts.append(self.view_embedding(directions))
        if self.feature_dim:
            if features is None or features.shape[-1] != self.feature_dim:
                got = None if features is None else tuple(features.shape)
                raise ValueError(f"AppearanceNetwork: features must be (..., {self.feature_dim}); got {got}")
            parts.append(features)
        return torch.sigmoid(self.mlp(torch.cat(parts, dim=-1)))
