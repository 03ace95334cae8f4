"""A dense voxel-grid radiance field in the style of Plenoxels and DVGO.

Two grids of values at the vertices of a regular lattice over the scene box: a density grid (1, 1, D, H, W) and a
feature grid (1, C, D, H, W) (stored channels-last), both read by trilinear interpolation (``grid_sample`` with
``align_corners=True``).

World <-> grid mapping (the one place it is written): with resolution (R_x, R_y, R_z) = (W, H, D), the value
``grid[0, c, k, j, i]`` sits at the world point

    (lo_x + i (hi_x - lo_x) / (R_x - 1),  lo_y + j (hi_y - lo_y) / (R_y - 1),  lo_z + k (hi_z - lo_z) / (R_z - 1)),

so the box faces carry the outermost vertices; a world point p is looked up at ``grid_sample`` coordinates
``2 (p - lo) / (hi - lo) - 1`` in (x, y, z) order (x indexes W, y indexes H, z indexes D).

Density: ``softplus(raw + shift)`` (DVGO; a negative shift starts the scene nearly empty) or ``relu(raw)``
(Plenoxels); 0 outside the box. Colour, by ``color_mode``:
- "rgb": three features, ``sigmoid(features)`` (view independent);
- "sh": ``3 sh_degree^2`` features, per channel ``sigmoid(sum_k c_k Y_k(d))`` (Plenoxels' spherical harmonics);
- "mlp": C features and the encoded direction into a small MLP, then a sigmoid (DVGO).

``upsample(resolution)`` resamples both grids trilinearly for coarse-to-fine training (the field keeps its values);
``total_variation()`` is the smoothness regulariser.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from inverse3d.models.fields.base import RadianceField, check_points, check_resolution, encode_directions, mlp
from inverse3d.models.fields.encodings import direction_encoder, spherical_harmonics


def grid_total_variation(grid: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring vertices, averaged over the three axes (and channels).

    Args:
        grid: (N, C, D, H, W) values.

    Returns:
        () tensor: (mean (dx^2) + mean (dy^2) + mean (dz^2)) / 3 over all channels.
    """
    if grid.dim() != 5:
        raise ValueError(f"grid must have shape (N, C, D, H, W), got {tuple(grid.shape)}")
    terms = [torch.diff(grid, dim=d).square().mean() for d in (4, 3, 2) if grid.shape[d] > 1]
    return torch.stack(terms).mean()


class DenseGridField(RadianceField):
    """Density and feature grids over the scene box with trilinear interpolation.

    Args:
        bounds: (lo (3,), hi (3,)) the scene box.
        resolution: vertices per axis, an int or (R_x, R_y, R_z), each >= 2.
        color_mode: "rgb", "sh" or "mlp" (module docstring).
        n_features: C for "mlp" (ignored otherwise: 3 for "rgb", 3 sh_degree^2 for "sh").
        sh_degree: bands of the spherical harmonics for "sh" (1-4) and for the "mlp" direction encoding "sh".
        direction_encoding: of the "mlp" colour: "harmonic" (DVGO), "sh" or None (view independent).
        n_harmonic_functions_dir: octaves of the "harmonic" direction encoding.
        hidden_dim, n_hidden: width and hidden layers of the "mlp" colour network.
        density_activation: "softplus" (with ``density_shift``) or "relu".
        density_shift: added to the raw density before the softplus; softplus(-5) ~ 0.0067 is nearly empty.
        init_density: initial raw density everywhere (0 with the shift gives softplus(shift)).
        init_feature_std: features start normal with this standard deviation.

    Cost on the CPU grows with the number of grid values, not only with the samples: the backward zero-fills a
    gradient as large as the grids and Adam updates every value (1024 rays x 64 samples with 25% of the samples
    evaluated, 1 thread: about 0.2 s a step at 64^3, 0.4 s at 96^3, 0.7 s at 128^3 with 12 features). Hence the
    default 96^3 with DVGO's 12 features; train coarse to fine (e.g. 48^3 -> ``upsample(96)``).
    """

    def __init__(
        self,
        bounds: Sequence,
        resolution: int | Sequence[int] = 96,
        color_mode: str = "mlp",
        n_features: int = 12,
        sh_degree: int = 2,
        direction_encoding: str | None = "harmonic",
        n_harmonic_functions_dir: int = 4,
        hidden_dim: int = 64,
        n_hidden: int = 2,
        density_activation: str = "softplus",
        density_shift: float = -5.0,
        init_density: float = 0.0,
        init_feature_std: float = 0.1,
    ) -> None:
        super().__init__(bounds)
        rx, ry, rz = check_resolution(resolution)
        if color_mode not in ("rgb", "sh", "mlp"):
            raise ValueError(f"color_mode must be 'rgb', 'sh' or 'mlp', got {color_mode!r}")
        if density_activation not in ("softplus", "relu"):
            raise ValueError(f"density_activation must be 'softplus' or 'relu', got {density_activation!r}")
        if color_mode == "rgb":
            n_features = 3
        elif color_mode == "sh":
            if sh_degree not in (1, 2, 3, 4):
                raise ValueError(f"sh_degree must be 1, 2, 3 or 4, got {sh_degree}")
            n_features = 3 * sh_degree**2
        elif n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}")
        self.color_mode = color_mode
        self.sh_degree = sh_degree
        self.n_features = n_features
        self.density_activation = density_activation
        self.density_shift = density_shift
        self.density_grid = nn.Parameter(torch.full((1, 1, rz, ry, rx), float(init_density)))
        # channels-last: a trilinear lookup then reads each corner's C features from one place (3x faster)
        features = torch.randn(1, n_features, rz, ry, rx) * init_feature_std
        self.feature_grid = nn.Parameter(features.contiguous(memory_format=torch.channels_last_3d))
        self.direction_encoding = None
        self.color_net = None
        if color_mode == "mlp":
            self.direction_encoding = direction_encoder(direction_encoding, sh_degree, n_harmonic_functions_dir)
            dir_dim = 0 if self.direction_encoding is None else self.direction_encoding.output_dim
            self.color_net = mlp(n_features + dir_dim, hidden_dim, n_hidden, 3)

    @property
    def resolution(self) -> tuple[int, int, int]:
        """(R_x, R_y, R_z) vertices per axis."""
        d, h, w = self.density_grid.shape[-3:]
        return (w, h, d)

    @property
    def view_dependent(self) -> bool:
        return self.color_mode == "sh" or self.direction_encoding is not None

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, color_mode={self.color_mode!r}, n_features={self.n_features}"

    def grid_coordinates(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., 3) ``grid_sample`` coordinates, lo -> -1 and hi -> +1 (module docstring)."""
        return 2.0 * self.to_unit(points) - 1.0

    def _sample(self, grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Trilinear values of ``grid`` (1, C, D, H, W) at world points (P, 3) -> (P, C)."""
        g = self.grid_coordinates(points).to(grid.dtype).view(1, 1, 1, -1, 3)
        out = F.grid_sample(grid, g, mode="bilinear", padding_mode="border", align_corners=True)  # (1, C, 1, 1, P)
        return out.view(grid.shape[1], -1).t()

    def _density(self, raw: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        if self.density_activation == "softplus":
            sigma = F.softplus(raw + self.density_shift)
        else:
            sigma = torch.relu(raw)
        return sigma * self.inside(points)[..., None].to(sigma.dtype)  # empty outside the box

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., 1) density >= 0."""
        check_points(points)
        flat = points.reshape(-1, 3)
        return self._density(self._sample(self.density_grid, flat), flat).view(*points.shape[:-1], 1)

    def forward(
        self, points: torch.Tensor, directions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) points and unit directions (per point or per ray) -> (sigma (..., 1), rgb (..., 3))."""
        check_points(points)
        batch = points.shape[:-1]
        flat = points.reshape(-1, 3)
        sigma = self._density(self._sample(self.density_grid, flat), flat)
        feats = self._sample(self.feature_grid, flat).view(*batch, self.n_features)  # (..., C)
        if self.view_dependent and directions is None:
            raise ValueError("this field is view dependent: pass directions (..., 3)")
        if self.color_mode == "rgb":
            raw = feats
        elif self.color_mode == "sh":
            sh = lambda d: spherical_harmonics(d, self.sh_degree)  # noqa: E731
            basis = encode_directions(sh, directions.to(feats.dtype), points)  # (..., K)
            raw = (feats.view(*batch, 3, basis.shape[-1]) * basis[..., None, :]).sum(-1)  # (..., 3)
        elif self.direction_encoding is None:
            raw = self.color_net(feats)
        else:
            encoded = encode_directions(self.direction_encoding, directions.to(feats.dtype), points)
            raw = self.color_net(torch.cat([feats, encoded], -1))
        return sigma.view(*batch, 1), torch.sigmoid(raw)

    def total_variation(self, density_weight: float = 1.0, feature_weight: float = 1.0) -> torch.Tensor:
        """``density_weight * TV(density grid) + feature_weight * TV(feature grid)``, TV of ``grid_total_variation``."""
        return density_weight * grid_total_variation(self.density_grid) + feature_weight * grid_total_variation(
            self.feature_grid
        )

    @torch.no_grad()
    def upsample(self, resolution: int | Sequence[int]) -> "DenseGridField":
        """Resamples both grids to ``resolution`` (int or (R_x, R_y, R_z)) by trilinear interpolation.

        The new vertices take the current field's values at their positions; when every ``R_new - 1`` is a multiple
        of ``R_old - 1`` the interpolated field is unchanged everywhere. The grids become new parameters: build the
        optimiser again (or reset its state for them) afterwards. Returns ``self``.
        """
        rx, ry, rz = check_resolution(resolution)
        for name in ("density_grid", "feature_grid"):
            old = getattr(self, name)
            new = F.interpolate(old.data, size=(rz, ry, rx), mode="trilinear", align_corners=True)
            new = new.contiguous(memory_format=torch.channels_last_3d)
            setattr(self, name, nn.Parameter(new, requires_grad=old.requires_grad))
        return self
