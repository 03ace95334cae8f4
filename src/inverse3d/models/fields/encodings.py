"""Small building blocks of the fast fields: real spherical harmonics of directions and the truncated exponential.

- ``spherical_harmonics(directions, degree)``: the real SH basis up to ``degree`` bands (degree 4 -> 16 values), in
  closed form as Instant-NGP's and Plenoxels' direction encodings evaluate it (orthonormal over the sphere).
- ``trunc_exp(x)``: ``exp(x)`` whose backward clamps its argument to [-15, 15] (Instant-NGP's density activation,
  which keeps a large raw density from blowing up the gradient).
- ``direction_encoder(kind, ...)``: the direction encodings the fields accept ("sh", "harmonic", or None).
"""

from __future__ import annotations

import torch
from torch import nn

from inverse3d.renderer.implicit.harmonic_embedding import HarmonicEmbedding

# Normalisation constants of the real spherical harmonics Y_l^m, l = 0..3 (facts of the basis).
_C0 = 0.28209479177387814
_C1 = 0.4886025119029199
_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def spherical_harmonics(directions: torch.Tensor, degree: int = 4) -> torch.Tensor:
    """Real spherical harmonics of unit directions.

    Args:
        directions: (..., 3) unit vectors (x, y, z); not normalised here.
        degree: number of bands, 1 to 4.

    Returns:
        (..., degree**2): Y_0^0, then Y_1^{-1..1}, Y_2^{-2..2}, Y_3^{-3..3} as far as ``degree`` goes.
    """
    if degree not in (1, 2, 3, 4):
        raise ValueError(f"spherical harmonics degree must be 1, 2, 3 or 4 (bands), got {degree}")
    if directions.shape[-1] != 3:
        raise ValueError(f"directions must have shape (..., 3), got {tuple(directions.shape)}")
    x, y, z = directions.unbind(-1)
    out = [torch.full_like(x, _C0)]
    if degree > 1:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree > 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            _C2[0] * x * y,
            _C2[1] * y * z,
            _C2[2] * (2.0 * zz - xx - yy),
            _C2[3] * x * z,
            _C2[4] * (xx - yy),
        ]
    if degree > 3:
        out += [
            _C3[0] * y * (3.0 * xx - yy),
            _C3[1] * x * y * z,
            _C3[2] * y * (4.0 * zz - xx - yy),
            _C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            _C3[4] * x * (4.0 * zz - xx - yy),
            _C3[5] * z * (xx - yy),
            _C3[6] * x * (xx - 3.0 * yy),
        ]
    return torch.stack(out, dim=-1)


class SphericalHarmonicsEncoding(nn.Module):
    """Module form of ``spherical_harmonics``: (..., 3) unit directions -> (..., degree**2)."""

    def __init__(self, degree: int = 4) -> None:
        super().__init__()
        if degree not in (1, 2, 3, 4):
            raise ValueError(f"spherical harmonics degree must be 1, 2, 3 or 4 (bands), got {degree}")
        self.degree = degree
        self.output_dim = degree * degree

    def forward(self, directions: torch.Tensor) -> torch.Tensor:
        return spherical_harmonics(directions, self.degree)


class _TruncExp(torch.autograd.Function):
    """exp(x) forward; backward uses exp(clamp(x, -15, 15))."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(-15.0, 15.0))


def trunc_exp(x: torch.Tensor) -> torch.Tensor:
    """Elementwise ``exp(x)`` with the gradient of ``exp(clamp(x, -15, 15))`` (Instant-NGP's density activation)."""
    return _TruncExp.apply(x)


def direction_encoder(kind: str | None, sh_degree: int = 4, n_harmonic_functions: int = 4) -> nn.Module | None:
    """The direction encoding named ``kind``, with an ``output_dim`` attribute, or None for no view dependence.

    Args:
        kind: "sh" (real spherical harmonics with ``sh_degree`` bands), "harmonic" (NeRF's sin/cos embedding with
            ``n_harmonic_functions`` octaves and the input appended), or None.
    """
    if kind is None:
        return None
    if kind == "sh":
        return SphericalHarmonicsEncoding(sh_degree)
    if kind == "harmonic":
        embedding = HarmonicEmbedding(n_harmonic_functions, append_input=True)
        embedding.output_dim = embedding.get_output_dim(3)
        return embedding
    raise ValueError(f"direction encoding must be 'sh', 'harmonic' or None, got {kind!r}")
