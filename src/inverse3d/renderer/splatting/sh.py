"""Real spherical harmonics up to degree 3 (the basis and ordering of 3D Gaussian splatting and gsplat)."""

from __future__ import annotations

import torch

# Basis constants: C0 = 1 / (2 sqrt(pi)); the others are the usual real-SH normalisations, signed as in 3DGS.
_C0 = 0.28209479177387814
_C1 = 0.4886025119029199
_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
       1.445305721320277, -0.5900435899266435)


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """The (degree + 1)^2 real SH basis functions at unit directions.

    Args:
        degree: 0..3.
        dirs: (..., 3) unit vectors (x, y, z).
    Returns:
        (..., (degree + 1)^2), ordered by degree l then order m = -l..l (3DGS's order).
    """
    if not 0 <= degree <= 3:
        raise ValueError(f"sh degree must be 0..3; got {degree}")
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, _C0)]
    if degree >= 1:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out += [_C2[0] * xy, _C2[1] * yz, _C2[2] * (2 * zz - xx - yy), _C2[3] * xz, _C2[4] * (xx - yy)]
    if degree >= 3:
        out += [
            _C3[0] * y * (3 * xx - yy),
            _C3[1] * xy * z,
            _C3[2] * y * (4 * zz - xx - yy),
            _C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            _C3[4] * x * (4 * zz - xx - yy),
            _C3[5] * z * (xx - yy),
            _C3[6] * x * (xx - 3 * yy),
        ]
    return torch.stack(out, dim=-1)


def spherical_harmonics(degree: int, dirs: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """View-dependent values of SH coefficients, as gsplat's ``spherical_harmonics(degrees_to_use, dirs, coeffs)``.

    Args:
        degree: degree used, 0..3, with (degree + 1)^2 <= K (higher coefficients are ignored).
        dirs: (..., N, 3) viewing directions (camera to Gaussian), normalised here.
        coeffs: (N, K, D) or (..., N, K, D) coefficients.
    Returns:
        (..., N, D) values ``sum_k basis_k(dirs) coeffs[k]`` (no +0.5 offset and no clamping).
    """
    if coeffs.dim() < 3 or dirs.shape[-1] != 3 or coeffs.shape[-3] != dirs.shape[-2]:
        raise ValueError(f"spherical_harmonics: dirs must be (..., N, 3) and coeffs (N, K, D); got "
                         f"{tuple(dirs.shape)} and {tuple(coeffs.shape)}")
    n_bases = (degree + 1) ** 2
    if n_bases > coeffs.shape[-2]:
        raise ValueError(f"spherical_harmonics: degree {degree} needs {n_bases} coefficients; coeffs has "
                         f"{coeffs.shape[-2]}")
    dirs = torch.nn.functional.normalize(dirs, dim=-1)
    basis = sh_basis(degree, dirs)  # (..., N, B)
    coeffs = coeffs[..., :n_bases, :]
    if coeffs.dim() == 3 and basis.dim() == 3:  # the common case: (C, N, B) bases, coefficients shared by cameras
        return _ShContract.apply(basis, coeffs)
    return (basis[..., None] * coeffs).sum(dim=-2)


class _ShContract(torch.autograd.Function):
    """``out[c, n] = basis[c, n] @ coeffs[n]`` for basis (C, N, B) and coeffs (N, B, D), as batched matrix
    products; autograd of the broadcast product-and-sum would materialise and reduce (C, N, B, D) tensors twice."""

    @staticmethod
    def forward(ctx, basis, coeffs):
        ctx.save_for_backward(basis, coeffs)
        return torch.matmul(basis.transpose(0, 1), coeffs).transpose(0, 1)  # (N, C, B) @ (N, B, D) -> (C, N, D)

    @staticmethod
    def backward(ctx, g):
        basis, coeffs = ctx.saved_tensors
        g_nc = g.transpose(0, 1)  # (N, C, D)
        g_basis = torch.matmul(g_nc, coeffs.transpose(1, 2)).transpose(0, 1) if ctx.needs_input_grad[0] else None
        g_coeffs = torch.matmul(basis.permute(1, 2, 0), g_nc) if ctx.needs_input_grad[1] else None  # (N, B, D)
        return g_basis, g_coeffs
