"""The trainable Gaussians of the splatting task: one ``nn.Parameter`` per attribute, plus the densification
statistics as buffers, so that ``state_dict`` (and so the training checkpoint) holds a scene of any size.

Parameters (N Gaussians, K = (sh_degree + 1)^2 spherical-harmonic coefficients per colour channel):

- ``means`` (N, 3) world positions;
- ``sh_dc`` (N, 1, 3) degree-0 coefficients (colour = 0.5 + 0.28209479 sh_dc), ``sh_rest`` (N, K - 1, 3) the others;
- ``opacity_logits`` (N,) (opacity = sigmoid), ``log_scales`` (N, 3) (scale = exp), ``quats`` (N, 4) wxyz, not
  necessarily unit (the rasteriser normalises them).

Buffers, the state of adaptive density control (``density``): ``grad2d_sum`` (N,) the summed norm of the view-space
(NDC-scaled) positional gradient over the steps where each Gaussian was visible, ``grad2d_count`` (N,) those steps,
``max_radii`` (N,) the largest screen radius seen, as a fraction of the image's larger side.

Initialisation (``init_from_points``, ``init_random``) follows 3D Gaussian splatting: isotropic scales from the mean
squared distance to the 3 nearest points, identity rotations, opacity 0.1, the points' colours as the DC term.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GaussianModel", "PARAMETERS", "BUFFERS", "num_sh_coeffs", "logit", "init_from_points", "init_random"]

PARAMETERS = ("means", "sh_dc", "sh_rest", "opacity_logits", "log_scales", "quats")
"""The parameter names, in the order of the optimiser's parameter groups."""
BUFFERS = ("grad2d_sum", "grad2d_count", "max_radii")


def num_sh_coeffs(degree: int) -> int:
    """K = (degree + 1)^2 coefficients per colour channel."""
    return (degree + 1) ** 2


def logit(p: float | torch.Tensor) -> float | torch.Tensor:
    """Inverse of the sigmoid."""
    if isinstance(p, torch.Tensor):
        return torch.log(p / (1 - p))
    return math.log(p / (1 - p))


class GaussianModel(nn.Module):
    """N trainable 3D Gaussians (module docstring) with spherical harmonics up to ``sh_degree``."""

    def __init__(self, num: int, sh_degree: int = 3, dtype: torch.dtype = torch.float32, device=None) -> None:
        super().__init__()
        if num < 0 or sh_degree < 0 or sh_degree > 3:
            raise ValueError(f"GaussianModel: need num >= 0 and sh_degree in 0..3; got {num}, {sh_degree}")
        self.sh_degree = int(sh_degree)
        k = num_sh_coeffs(sh_degree)
        z = dict(dtype=dtype, device=device)
        self.means = nn.Parameter(torch.zeros(num, 3, **z))
        self.sh_dc = nn.Parameter(torch.zeros(num, 1, 3, **z))
        self.sh_rest = nn.Parameter(torch.zeros(num, k - 1, 3, **z))
        self.opacity_logits = nn.Parameter(torch.zeros(num, **z))
        self.log_scales = nn.Parameter(torch.zeros(num, 3, **z))
        quats = torch.zeros(num, 4, **z)
        quats[:, 0] = 1
        self.quats = nn.Parameter(quats)
        for name in BUFFERS:
            self.register_buffer(name, torch.zeros(num, **z))

    def __len__(self) -> int:
        return int(self.means.shape[0])

    # ------------------------------------------------------------------------------------------------------------
    # derived values

    @property
    def scales(self) -> torch.Tensor:
        """(N, 3) standard deviations along the Gaussians' own axes."""
        return self.log_scales.exp()

    @property
    def opacities(self) -> torch.Tensor:
        """(N,) opacities in (0, 1)."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def sh(self) -> torch.Tensor:
        """(N, K, 3) all spherical-harmonic coefficients."""
        return torch.cat([self.sh_dc, self.sh_rest], dim=1)

    def colors(self, degree: int | None = None) -> torch.Tensor:
        """(N, (degree + 1)^2, 3): the coefficients used up to ``degree`` (default: all)."""
        k = num_sh_coeffs(self.sh_degree if degree is None else min(degree, self.sh_degree))
        return self.sh[:, :k]

    # ------------------------------------------------------------------------------------------------------------
    # conversions

    def to_gaussians(self):
        """The current values as an ``inverse3d.structures.Gaussians`` (detached copies)."""
        from inverse3d.structures import Gaussians

        return Gaussians(means=self.means.detach().clone(), quats=self.quats.detach().clone(),
                         log_scales=self.log_scales.detach().clone(),
                         opacity_logits=self.opacity_logits.detach().clone(), sh=self.sh.detach().clone())

    @classmethod
    def from_gaussians(cls, gaussians) -> "GaussianModel":
        """A model holding copies of an ``inverse3d.structures.Gaussians``' values (statistics at zero)."""
        sh = gaussians.sh
        degree = int(round(math.sqrt(sh.shape[1]))) - 1
        model = cls(len(gaussians), degree, dtype=gaussians.means.dtype, device=gaussians.means.device)
        with torch.no_grad():
            model.means.copy_(gaussians.means)
            model.quats.copy_(gaussians.quats)
            model.log_scales.copy_(gaussians.log_scales)
            model.opacity_logits.copy_(gaussians.opacity_logits.reshape(-1))
            model.sh_dc.copy_(sh[:, :1])
            model.sh_rest.copy_(sh[:, 1:])
        return model


def init_from_points(points: torch.Tensor, colors: torch.Tensor | None, sh_degree: int, num: int | None = None,
                     opacity: float = 0.1) -> GaussianModel:
    """Gaussians at ``points`` (P, 3) with ``colors`` (P, 3) in [0, 1] (grey when None): a random subset of ``num``
    points when P > num (from the global RNG), then ``Gaussians.from_points`` (scales from the 3 nearest
    neighbours, identity rotations, opacity ``opacity``)."""
    from inverse3d.structures import Gaussians

    if points.ndim != 2 or points.shape[-1] != 3 or points.shape[0] == 0:
        raise ValueError(f"init_from_points: expected (P, 3) points with P > 0, got shape {tuple(points.shape)}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError("init_from_points: the points contain NaN or inf")
    if num is not None and points.shape[0] > num:
        keep = torch.randperm(points.shape[0], device=points.device)[:num]
        points = points[keep]
        colors = None if colors is None else colors[keep]
    return GaussianModel.from_gaussians(Gaussians.from_points(points, colors, sh_degree, opacity=opacity))


def init_random(num: int, lo, hi, sh_degree: int, dtype=torch.float32, device=None,
                opacity: float = 0.1) -> GaussianModel:
    """``num`` Gaussians uniformly in the box [lo, hi] (3-vectors) with random colours (global RNG), as
    ``init_from_points``."""
    if num < 1:
        raise ValueError(f"init_random: need at least 1 Gaussian; got {num}")
    lo_t = torch.as_tensor(lo, dtype=dtype, device=device)
    hi_t = torch.as_tensor(hi, dtype=dtype, device=device)
    points = lo_t + (hi_t - lo_t) * torch.rand(num, 3, dtype=dtype, device=device)
    colors = torch.rand(num, 3, dtype=dtype, device=device)
    return init_from_points(points, colors, sh_degree, opacity=opacity)
