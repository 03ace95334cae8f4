"""Spherical harmonics (orthonormal, equal to SciPy's real harmonics) and the truncated exponential."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from inverse3d.models.fields import SphericalHarmonicsEncoding, spherical_harmonics, trunc_exp


def _fibonacci_sphere(n: int) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    phi = math.pi * (1 + 5**0.5) * i
    r = (1 - z**2).sqrt()
    return torch.stack([r * phi.cos(), r * phi.sin(), z], -1)


def test_basis_is_orthonormal_on_the_sphere():
    d = _fibonacci_sphere(20000)
    y = spherical_harmonics(d, 4)  # (n, 16)
    gram = 4 * math.pi * y.t() @ y / d.shape[0]
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=2e-3, rtol=0)


def _scipy_real_sh(l: int, m: int, d: np.ndarray) -> np.ndarray:
    """Real SH from SciPy's complex ones: sqrt(2) (-1)^m Re/Im Y_l^|m|, polar angle from +z, azimuth from +x."""
    from scipy.special import sph_harm_y

    theta = np.arccos(np.clip(d[:, 2], -1, 1))
    phi = np.arctan2(d[:, 1], d[:, 0])
    y = sph_harm_y(l, abs(m), theta, phi)
    if m > 0:
        return math.sqrt(2) * (-1) ** m * y.real
    if m < 0:
        return math.sqrt(2) * (-1) ** m * y.imag
    return y.real


def test_each_function_is_scipys_real_harmonic_up_to_sign():
    d = torch.nn.functional.normalize(torch.randn(200, 3, dtype=torch.float64), dim=-1)
    ours = spherical_harmonics(d, 4).numpy()
    col = 0
    for l in range(4):
        for m in range(-l, l + 1):
            ref = _scipy_real_sh(l, m, d.numpy())
            # conventions differ by the Condon-Shortley sign only
            sign = np.sign(np.dot(ours[:, col], ref))
            np.testing.assert_allclose(ours[:, col], sign * ref, atol=1e-12)
            col += 1


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_degrees_are_prefixes(degree):
    d = torch.nn.functional.normalize(torch.randn(2, 5, 3), dim=-1)
    full = spherical_harmonics(d, 4)
    part = SphericalHarmonicsEncoding(degree)(d)
    assert part.shape == (2, 5, degree**2)
    torch.testing.assert_close(part, full[..., : degree**2])


def test_spherical_harmonics_rejects_bad_input():
    with pytest.raises(ValueError, match="degree"):
        spherical_harmonics(torch.rand(3, 3), 5)
    with pytest.raises(ValueError, match="degree"):
        SphericalHarmonicsEncoding(0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        spherical_harmonics(torch.rand(3, 2))


def test_trunc_exp_value_and_gradient():
    x = torch.tensor([-20.0, -1.0, 0.0, 3.0, 14.0, 20.0], dtype=torch.float64, requires_grad=True)
    y = trunc_exp(x)
    torch.testing.assert_close(y, x.detach().exp())
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, x.detach().clamp(-15, 15).exp())
    inner = torch.tensor([-3.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(trunc_exp, (inner,))
