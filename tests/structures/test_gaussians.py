"""Gaussians: construction, validation, activations, indexing, cat, to / detach / clone, from_points."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DEVICES

from inverse3d.structures import Gaussians
from inverse3d.structures.gaussians import SH_C0, rgb_to_sh, sh_to_rgb


def make(n=5, degree=1, isotropic=False, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return Gaussians(torch.randn(n, 3, generator=g, dtype=dtype), torch.randn(n, 4, generator=g, dtype=dtype),
                     torch.randn(n, 1 if isotropic else 3, generator=g, dtype=dtype),
                     torch.randn(n, generator=g, dtype=dtype),
                     torch.randn(n, (degree + 1) ** 2, 3, generator=g, dtype=dtype))


def test_activations_and_properties():
    g = make(4, degree=2)
    assert len(g) == 4 and g.sh_degree == 2 and not g.isotropic
    torch.testing.assert_close(g.scales, g.log_scales.exp())
    torch.testing.assert_close(g.opacities, torch.sigmoid(g.opacity_logits))
    torch.testing.assert_close(g.colors, 0.5 + SH_C0 * g.sh[:, 0])
    iso = make(3, degree=0, isotropic=True)
    assert iso.isotropic and iso.scales.shape == (3, 3) and (iso.scales[:, 0] == iso.scales[:, 2]).all()
    rgb = torch.rand(7, 3)
    torch.testing.assert_close(sh_to_rgb(rgb_to_sh(rgb)), rgb)
    torch.testing.assert_close(rgb_to_sh(torch.full((1, 3), 0.5)), torch.zeros(1, 3))
    dc_only = Gaussians(g.means, g.quats, g.log_scales, g.opacity_logits, g.sh[:, 0])  # (N, 3) sh = DC only
    assert dc_only.sh.shape == (4, 1, 3) and dc_only.sh_degree == 0


def test_indexing_cat_copies():
    g = make(6)
    mask = torch.tensor([True, False, True, True, False, False])
    sub = g[mask]
    assert len(sub) == 3 and torch.equal(sub.means, g.means[mask])
    assert torch.equal(g[[5, 0]].quats, g.quats[[5, 0]]) and len(g[1:4]) == 3 and len(g[-1]) == 1
    assert torch.equal(g[-1].means, g.means[-1:])
    joined = Gaussians.cat([g[:2], g[2:]])
    for f in ("means", "quats", "log_scales", "opacity_logits", "sh"):
        assert torch.equal(getattr(joined, f), getattr(g, f))
    means = g.means.clone().requires_grad_()
    h = Gaussians(means, g.quats, g.log_scales, g.opacity_logits, g.sh)
    assert not h.detach().means.requires_grad and h.clone().means.requires_grad
    assert h.clone().means is not means and h.means is means  # no copies on construction
    assert h.to("cpu") is h and h.to(torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="SH degrees differ"):
        Gaussians.cat([make(2, 1), make(2, 2)])
    with pytest.raises(ValueError, match="isotropic"):
        Gaussians.cat([make(2, isotropic=True), make(2)])
    with pytest.raises(IndexError):
        g[6]
    with pytest.raises(IndexError, match="mask must have shape"):
        g[mask[:3]]


def test_from_points():
    pts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [5, 5, 5]])
    g = Gaussians.from_points(pts, torch.rand(5, 3), sh_degree=3, opacity=0.2)
    assert g.sh.shape == (5, 16, 3) and (g.sh[:, 1:] == 0).all()
    torch.testing.assert_close(g.opacities, torch.full((5,), 0.2))
    # point 0: its three nearest neighbours are at 1, 2 and 3 -> rms distance sqrt(14 / 3)
    torch.testing.assert_close(g.scales[0], torch.full((3,), math.sqrt(14 / 3)))
    torch.testing.assert_close(g.quats, torch.tensor([[1.0, 0, 0, 0]]).expand(5, 4))
    iso = Gaussians.from_points(pts, scales=0.1, isotropic=True)
    assert iso.log_scales.shape == (5, 1) and torch.allclose(iso.colors, torch.full((5, 3), 0.5))
    with pytest.raises(ValueError, match="points must be a non-empty"):
        Gaussians.from_points(torch.zeros(0, 3))


def test_bad_input():
    g = make(3)
    f = dict(means=g.means, quats=g.quats, log_scales=g.log_scales, opacity_logits=g.opacity_logits, sh=g.sh)
    nan = g.means.clone()
    nan[1, 2] = float("nan")
    zero_q = g.quats.clone()
    zero_q[2] = 0
    cases = [
        (dict(means=g.means[:, :2]), "means must have shape"),
        (dict(quats=g.quats[:2]), "quats must have shape"),
        (dict(log_scales=g.log_scales[:, :2]), "log_scales must have shape"),
        (dict(opacity_logits=g.opacity_logits[:, None]), "opacity_logits must have shape"),
        (dict(sh=torch.zeros(3, 5, 3)), "K = \\(degree \\+ 1\\)\\^2"),
        (dict(sh=torch.zeros(3, 4, 2)), "sh must have shape"),
        (dict(means=nan), "means has non-finite values \\(first at Gaussian 1\\)"),
        (dict(quats=zero_q), "zero quaternion \\(first at Gaussian 2\\)"),
        (dict(means=g.means.double()), "dtype"),
        (dict(means=[[0, 0, 0]]), "means must be a tensor"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            Gaussians(**{**f, **change})


@pytest.mark.parametrize("device", DEVICES)
def test_to_device(device):
    g = make(3).to(device)
    assert g.device.type == device and g.means.device.type == device and g.sh.device.type == device
