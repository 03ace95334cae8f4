"""NeuS: the logistic density and the discrete opacity against the formulas, gradients, and the unbiasedness of
its weights on a plane."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.tasks.surface.neus import LogisticDensity, logistic_cdf, logistic_density, neus_alpha
from tests.reference import surface as ref

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("shape", [(9,), (4, 6), (2, 3, 5)])
@pytest.mark.parametrize("device", DEVICES)
def test_alpha_matches_the_formula(shape, device):
    torch.manual_seed(0)
    prev = torch.randn(shape, dtype=torch.float64, device=device) * 0.2
    nxt = prev + torch.randn(shape, dtype=torch.float64, device=device) * 0.05
    for s in (5.0, 64.0, 500.0):
        got = neus_alpha(prev, nxt, s)
        torch.testing.assert_close(got.cpu(), ref.neus_alpha(prev.cpu(), nxt.cpu(), s), rtol=1e-10, atol=1e-12)
        assert bool(((got >= 0) & (got <= 1)).all())
    # leaving the surface (sdf increasing along the ray) is transparent
    assert float(neus_alpha(torch.tensor([-0.1]), torch.tensor([0.1]), 50.0)) == 0.0


def test_logistic_density_is_the_derivative_of_the_cdf():
    x = torch.linspace(-0.5, 0.5, 41, dtype=torch.float64, requires_grad=True)
    for s in (3.0, 40.0):
        (g,) = torch.autograd.grad(logistic_cdf(x, s).sum(), x)
        torch.testing.assert_close(logistic_density(x.detach(), s), g, rtol=1e-10, atol=1e-12)
        expected = [s * math.exp(-s * v) / (1 + math.exp(-s * v)) ** 2 for v in x.tolist()]
        torch.testing.assert_close(logistic_density(x.detach(), s), torch.tensor(expected, dtype=torch.float64))


def test_gradcheck_in_sdfs_and_s():
    torch.manual_seed(2)
    prev = (torch.rand(5, dtype=torch.float64) * 0.2 + 0.01).requires_grad_(True)
    nxt = (prev.detach() - torch.rand(5, dtype=torch.float64) * 0.1 - 0.01).requires_grad_(True)  # entering
    s = torch.tensor(12.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, k: neus_alpha(a, b, k), (prev, nxt, s))
    module = LogisticDensity(12.0).double()
    assert torch.autograd.gradcheck(lambda a, b: module(a, b), (prev, nxt))


def test_weights_peak_at_the_plane():
    """NeuS's weights are unbiased: for a plane crossed head-on, the weight peaks in the interval holding the zero
    crossing and the expected depth is the plane's."""
    from inverse3d.renderer.implicit import EmissionAbsorptionRaymarcher

    t = torch.linspace(0.0, 2.0, 401, dtype=torch.float64)
    sdf = 1.3 - t  # plane at t = 1.3, the ray enters it
    alpha = neus_alpha(sdf[:-1], sdf[1:], 200.0)
    out = EmissionAbsorptionRaymarcher()(alpha[None, :, None], t[None, :-1, None], eps=0.0)
    weights = alpha * torch.cumprod(torch.cat([torch.ones(1, dtype=alpha.dtype), 1 - alpha[:-1]]), 0)
    k = int(weights.argmax())
    assert float(t[k]) <= 1.3 <= float(t[k + 1]) + 1e-9
    assert float(out[0, 1]) == pytest.approx(1.0, abs=1e-6)  # opaque
    assert float(out[0, 0]) == pytest.approx(1.3, abs=0.01)  # depth (lengths composited)


def test_logistic_density_module():
    learned = LogisticDensity(20.0)
    fixed = LogisticDensity(20.0, learnable=False)
    assert float(learned.s.detach()) == pytest.approx(20.0, rel=1e-5)
    assert [n for n, _ in learned.named_parameters()] == ["variance"] and not list(fixed.parameters())
    a, b = torch.tensor([0.05, 0.0]), torch.tensor([0.0, -0.05])
    torch.testing.assert_close(learned(a, b).detach(), ref.neus_alpha(a, b, 20.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="s must"):
        LogisticDensity(0.0)
    with pytest.raises(ValueError, match="differ"):
        neus_alpha(torch.zeros(3), torch.zeros(4), 10.0)
