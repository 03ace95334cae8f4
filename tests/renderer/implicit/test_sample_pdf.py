"""sample_pdf against a linear scan over the bins (PyTorch3D's kernel semantics), its distribution, and gradcheck."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.implicit import sample_pdf_naive

from inverse3d.renderer.implicit import sample_pdf

F64 = torch.float64


def _inputs(shape, n_bins, device="cpu"):
    bins = torch.sort(torch.rand(*shape, n_bins + 1, dtype=F64, device=device) * 4, dim=-1).values
    weights = torch.rand(*shape, n_bins, dtype=F64, device=device)
    return bins, weights


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("det", [False, True])
def test_matches_linear_scan(device, det):
    bins, weights = _inputs((2, 3), 7, device)
    weights[0, 0, 2:5] = 0.0  # empty bins
    weights[0, 1] = 0.0  # an all-empty row: everything at the first edge but the eps mass at the last edge
    weights[1, 2, 3] = 5e-6  # a bin below eps: its quantiles map to its start
    torch.manual_seed(1)
    out = sample_pdf(bins, weights, 9, det=det)
    torch.manual_seed(1)
    quantiles = torch.linspace(0, 1, 9, dtype=F64) if det else torch.rand(2, 3, 9, dtype=F64, device=device).cpu()
    assert out.shape == (2, 3, 9) and out.dtype == F64 and out.device.type == device
    for b in range(2):
        for r in range(3):
            u = quantiles if det else quantiles[b, r]
            expected = sample_pdf_naive(bins[b, r].tolist(), weights[b, r].tolist(), u.tolist())
            torch.testing.assert_close(out[b, r].cpu(), torch.tensor(expected, dtype=F64))
    if det:
        assert bool((out.diff(dim=-1) >= 0).all())
    assert bool(((out >= bins[..., :1]) & (out <= bins[..., -1:])).all())


def test_distribution_follows_weights():
    bins = torch.tensor([0.0, 1.0, 3.0, 4.0, 6.0], dtype=F64)
    weights = torch.tensor([0.1, 0.0, 0.6, 0.3], dtype=F64)
    samples = sample_pdf(bins.expand(4, 5), weights.expand(4, 4), 5000)  # (4, 5000)
    counts = torch.histc(samples, bins=6, min=0.0, max=6.0) / samples.numel()  # per unit interval
    expected = torch.tensor([0.1, 0.0, 0.0, 0.6, 0.15, 0.15], dtype=F64)
    torch.testing.assert_close(counts, expected, atol=0.015, rtol=0)


def test_single_bin_and_no_samples():
    bins, weights = torch.tensor([[1.0, 3.0]], dtype=F64), torch.tensor([[2.0]], dtype=F64)
    out = sample_pdf(bins, weights, 5, det=True)
    expected = sample_pdf_naive([1.0, 3.0], [2.0], torch.linspace(0, 1, 5).tolist())
    torch.testing.assert_close(out[0], torch.tensor(expected, dtype=F64))
    assert sample_pdf(bins, weights, 0).shape == (1, 0)


def test_gradcheck_bins_and_weights():
    """Differentiable in both (PyTorch3D's kernel refuses inputs that need gradients)."""
    bins, weights = _inputs((2,), 4)
    weights = weights + 0.2
    bins.requires_grad_()
    weights.requires_grad_()

    def draw(b, w):
        torch.manual_seed(3)
        return sample_pdf(b, w, 6)

    assert torch.autograd.gradcheck(draw, (bins, weights))
    assert torch.autograd.gradcheck(lambda b, w: sample_pdf(b, w, 5, det=True), (bins, weights))


def test_bad_input():
    bins, weights = _inputs((2,), 4)
    with pytest.raises(ValueError, match="negative or NaN"):
        sample_pdf(bins, weights - 1.0, 3)
    weights[0, 1] = float("nan")
    with pytest.raises(ValueError, match="negative or NaN"):
        sample_pdf(bins, weights, 3)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        sample_pdf(bins[:, :-1], weights, 3)
    with pytest.raises(ValueError, match="n_samples"):
        sample_pdf(bins, weights.abs().nan_to_num(), -1)


def test_float32_follows_input_dtype():
    bins, weights = (t.float() for t in _inputs((3,), 5))
    assert sample_pdf(bins, weights, 4).dtype == torch.float32
