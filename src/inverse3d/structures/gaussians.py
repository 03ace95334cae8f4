"""``Gaussians``: a scene of 3D Gaussians (means, rotations, log-scales, opacity logits, SH colours).

One ``Gaussians`` object holds one scene of N Gaussians, stored in their unconstrained (trainable) form as in
3D Gaussian splatting: quaternions need not be normalised, scales are stored as logarithms, opacities as logits,
colours as spherical-harmonic coefficients with ``sh[:, 0]`` the DC term (``rgb = 0.5 + SH_C0 * sh[:, 0]``).

Batching: the renderer batches over *cameras* (one scene seen from C cameras in one call), which is what training
needs; several scenes are a Python list of ``Gaussians`` (or one scene made with ``Gaussians.cat``). There is no
padded view because nothing in splatting pads Gaussians across scenes.

The tensors may be ``nn.Parameter``s: the structure keeps them as given (no copies), so an optimiser can own them.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

SH_C0 = 0.28209479177387814  # the degree-0 spherical-harmonic basis value, 1 / (2 sqrt(pi))

_FIELDS = ("means", "quats", "log_scales", "opacity_logits", "sh")


def rgb_to_sh(rgb: torch.Tensor) -> torch.Tensor:
    """DC spherical-harmonic coefficients giving colours ``rgb`` (..., 3) in [0, 1]: ``(rgb - 0.5) / SH_C0``."""
    return (rgb - 0.5) / SH_C0


def sh_to_rgb(sh_dc: torch.Tensor) -> torch.Tensor:
    """Colours (..., 3) of DC coefficients ``sh_dc`` (..., 3): ``0.5 + SH_C0 * sh_dc`` (not clamped)."""
    return 0.5 + SH_C0 * sh_dc


def _check_tensor(value: object, name: str) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise ValueError(f"Gaussians: {name} must be a tensor; got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"Gaussians: {name} must be a floating-point tensor; got {value.dtype}")
    return value


class Gaussians:
    """N 3D Gaussians of one scene.

    Args:
        means: (N, 3) centres in world coordinates.
        quats: (N, 4) rotations as quaternions (w, x, y, z), not necessarily normalised (zero is an error).
        log_scales: (N, 3) logarithms of the standard deviations along the rotated axes, or (N, 1) for isotropic
            Gaussians (the one scale is used on all three axes).
        opacity_logits: (N,) logits of the opacities (``opacity = sigmoid(logit)``).
        sh: (N, K, 3) spherical-harmonic colour coefficients with K = (degree + 1)^2 for degree 0..3; ``sh[:, 0]``
            is the DC term. A (N, 3) tensor is taken as DC-only (K = 1).
    Raises:
        ValueError: wrong shapes, mismatched N, devices or dtypes, non-finite values, a K that is not a square
            number up to 16, or a zero quaternion; one line naming the argument.
    """

    def __init__(
        self,
        means: torch.Tensor,
        quats: torch.Tensor,
        log_scales: torch.Tensor,
        opacity_logits: torch.Tensor,
        sh: torch.Tensor,
    ) -> None:
        for value, name in zip((means, quats, log_scales, opacity_logits, sh), _FIELDS):
            _check_tensor(value, name)
        if sh.dim() == 2:
            sh = sh[:, None, :]
        if means.dim() != 2 or means.shape[1] != 3:
            raise ValueError(f"Gaussians: means must have shape (N, 3); got {tuple(means.shape)}")
        n = means.shape[0]
        expected = {
            "quats": (quats, [(n, 4)]),
            "log_scales": (log_scales, [(n, 3), (n, 1)]),
            "opacity_logits": (opacity_logits, [(n,)]),
        }
        for name, (value, shapes) in expected.items():
            if tuple(value.shape) not in shapes:
                want = " or ".join(str(s) for s in shapes)
                raise ValueError(f"Gaussians: {name} must have shape {want} for N={n}; got {tuple(value.shape)}")
        if sh.dim() != 3 or sh.shape[0] != n or sh.shape[2] != 3:
            raise ValueError(f"Gaussians: sh must have shape ({n}, K, 3); got {tuple(sh.shape)}")
        k = sh.shape[1]
        if k not in (1, 4, 9, 16):
            raise ValueError(f"Gaussians: sh must have K = (degree + 1)^2 in (1, 4, 9, 16) coefficients; got K={k}")
        for value, name in zip((quats, log_scales, opacity_logits, sh), _FIELDS[1:]):
            if value.device != means.device:
                raise ValueError(f"Gaussians: {name} is on {value.device} but means is on {means.device}")
            if value.dtype != means.dtype:
                raise ValueError(f"Gaussians: {name} has dtype {value.dtype} but means has {means.dtype}")
        with torch.no_grad():
            for value, name in zip((means, quats, log_scales, opacity_logits, sh), _FIELDS):
                bad = ~torch.isfinite(value)
                if bool(bad.any()):
                    row = int(bad.reshape(value.shape[0], -1).any(dim=1).nonzero()[0, 0]) if value.numel() else 0
                    raise ValueError(f"Gaussians: {name} has non-finite values (first at Gaussian {row})")
            zero = (quats == 0).all(dim=1)
            if bool(zero.any()):
                raise ValueError(f"Gaussians: quats has a zero quaternion (first at Gaussian {int(zero.nonzero()[0, 0])})")
        self.means = means
        self.quats = quats
        self.log_scales = log_scales
        self.opacity_logits = opacity_logits
        self.sh = sh

    # ----------------------------------------------------------------------------------------------- construction
    @classmethod
    def from_points(
        cls,
        points: torch.Tensor,
        colors: torch.Tensor | None = None,
        sh_degree: int = 0,
        scales: torch.Tensor | float | None = None,
        opacity: float = 0.1,
        isotropic: bool = False,
    ) -> "Gaussians":
        """Gaussians centred at ``points`` (P, 3), as 3D Gaussian splatting initialises from SfM points.

        Args:
            points: (P, 3) centres.
            colors: (P, 3) colours in [0, 1] (default grey 0.5), stored as the DC coefficients.
            sh_degree: 0..3; the higher coefficients start at zero.
            scales: (P,) or a float standard deviation; default: the root mean square distance to the three
                nearest other points (as the 3DGS code does), at least 1e-7.
            opacity: initial opacity in (0, 1).
            isotropic: store one scale per Gaussian (log_scales (P, 1)).
        Returns:
            Gaussians with identity rotations.
        """
        if not torch.is_tensor(points) or points.dim() != 2 or points.shape[1] != 3 or points.shape[0] == 0:
            raise ValueError(f"Gaussians.from_points: points must be a non-empty (P, 3) tensor; got "
                             f"{tuple(points.shape) if torch.is_tensor(points) else type(points).__name__}")
        if not 0 <= sh_degree <= 3:
            raise ValueError(f"Gaussians.from_points: sh_degree must be 0..3; got {sh_degree}")
        if not 0.0 < opacity < 1.0:
            raise ValueError(f"Gaussians.from_points: opacity must be in (0, 1); got {opacity}")
        p, dtype, device = points.shape[0], points.dtype, points.device
        if scales is None:
            if p > 1:
                from inverse3d.ops import knn_points

                k = min(3, p - 1)
                d2 = knn_points(points[None], points[None], K=k + 1).dists[0, :, 1:]  # (P, k) squared distances
                scales = d2.mean(dim=1).clamp_min(1e-14).sqrt()
            else:
                scales = torch.full((p,), 0.01, dtype=dtype, device=device)
        scales = torch.as_tensor(scales, dtype=dtype, device=device).expand(p).clamp_min(1e-7)
        log_scales = scales.log()[:, None].expand(p, 1 if isotropic else 3).clone()
        quats = torch.zeros(p, 4, dtype=dtype, device=device)
        quats[:, 0] = 1.0
        logit = math.log(opacity / (1.0 - opacity))
        opacity_logits = torch.full((p,), logit, dtype=dtype, device=device)
        sh = torch.zeros(p, (sh_degree + 1) ** 2, 3, dtype=dtype, device=device)
        rgb = torch.full((p, 3), 0.5, dtype=dtype, device=device) if colors is None else colors.to(points)
        if rgb.shape != (p, 3):
            raise ValueError(f"Gaussians.from_points: colors must have shape ({p}, 3); got {tuple(rgb.shape)}")
        sh[:, 0] = rgb_to_sh(rgb)
        return cls(points.clone(), quats, log_scales, opacity_logits, sh)

    @classmethod
    def cat(cls, items: Sequence["Gaussians"]) -> "Gaussians":
        """One scene holding the Gaussians of all ``items`` in order (same SH degree and isotropy required)."""
        items = list(items)
        if not items or not all(isinstance(g, Gaussians) for g in items):
            raise ValueError("Gaussians.cat: expected a non-empty sequence of Gaussians")
        first = items[0]
        for g in items[1:]:
            if g.sh.shape[1] != first.sh.shape[1]:
                raise ValueError(f"Gaussians.cat: SH degrees differ ({first.sh_degree} and {g.sh_degree})")
            if g.isotropic != first.isotropic:
                raise ValueError("Gaussians.cat: cannot join isotropic and anisotropic Gaussians")
        return cls(*(torch.cat([getattr(g, f) for g in items], dim=0) for f in _FIELDS))

    # ----------------------------------------------------------------------------------------------- activations
    @property
    def scales(self) -> torch.Tensor:
        """(N, 3) standard deviations ``exp(log_scales)`` (isotropic ones repeated on the three axes)."""
        return self.log_scales.exp().expand(len(self), 3)

    @property
    def opacities(self) -> torch.Tensor:
        """(N,) opacities ``sigmoid(opacity_logits)``."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def sh_degree(self) -> int:
        """Degree of the spherical harmonics stored (0..3)."""
        return int(round(math.sqrt(self.sh.shape[1]))) - 1

    @property
    def isotropic(self) -> bool:
        """Whether one scale per Gaussian is stored."""
        return self.log_scales.shape[1] == 1

    @property
    def colors(self) -> torch.Tensor:
        """(N, 3) view-independent colours of the DC term, ``0.5 + SH_C0 * sh[:, 0]`` (not clamped)."""
        return sh_to_rgb(self.sh[:, 0])

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    def __len__(self) -> int:
        return self.means.shape[0]

    def __repr__(self) -> str:
        return (f"Gaussians(N={len(self)}, sh_degree={self.sh_degree}, isotropic={self.isotropic}, "
                f"dtype={self.dtype}, device={self.device})")

    # --------------------------------------------------------------------------------------------------- copies
    def _map(self, fn) -> "Gaussians":
        return Gaussians(*(fn(getattr(self, f)) for f in _FIELDS))

    def to(self, *args, **kwargs) -> "Gaussians":
        """A copy on another device / dtype (``Tensor.to`` arguments); ``self`` if nothing changes."""
        moved = [getattr(self, f).to(*args, **kwargs) for f in _FIELDS]
        if all(m is getattr(self, f) for m, f in zip(moved, _FIELDS)):
            return self
        return Gaussians(*moved)

    def cpu(self) -> "Gaussians":
        return self.to("cpu")

    def cuda(self) -> "Gaussians":
        return self.to("cuda")

    def detach(self) -> "Gaussians":
        """Gaussians sharing storage with ``self`` but outside the autograd graph."""
        return self._map(lambda t: t.detach())

    def clone(self) -> "Gaussians":
        """A deep copy (autograd history kept, as ``Tensor.clone`` does)."""
        return self._map(lambda t: t.clone())

    def __getitem__(self, index) -> "Gaussians":
        """The Gaussians selected by an int, a slice, a list / LongTensor of indices or an (N,) BoolTensor."""
        if isinstance(index, int):
            if not -len(self) <= index < len(self):
                raise IndexError(f"Gaussians index {index} out of range for {len(self)} Gaussians")
            index = slice(index, index + 1 if index != -1 else None)
        elif isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.long, device=self.device)
        if torch.is_tensor(index):
            if index.dtype == torch.bool and index.shape != (len(self),):
                raise IndexError(f"Gaussians mask must have shape ({len(self)},); got {tuple(index.shape)}")
            if index.dtype != torch.bool and (index.dim() != 1 or index.is_floating_point()):
                raise IndexError(f"Gaussians index tensor must be 1-D integer or boolean; got {index.dtype} "
                                 f"{tuple(index.shape)}")
            index = index.to(self.device)
        return self._map(lambda t: t[index])
