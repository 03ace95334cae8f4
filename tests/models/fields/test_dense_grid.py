"""Dense-grid field: the documented world-to-grid mapping, trilinear lookup against a loop, gradients, total
variation against a loop, coarse-to-fine upsampling that keeps the field, colour modes and errors."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.fields import total_variation_naive, trilinear_naive

from inverse3d.models.fields import DenseGridField, grid_total_variation

BOX = ((-1.0, -0.5, 0.0), (1.0, 1.5, 3.0))
LO, HI = torch.tensor(BOX[0]), torch.tensor(BOX[1])


def _random_field(resolution=(4, 5, 6), dtype=torch.float64, **kw) -> DenseGridField:
    field = DenseGridField(BOX, resolution, **kw).to(dtype)
    with torch.no_grad():
        field.density_grid.normal_()
        field.feature_grid.normal_()
    return field


def _raw(field, grid, points):
    return field._sample(grid, points)


def test_values_sit_at_the_documented_vertices():
    field = _random_field((4, 5, 6))
    rx, ry, rz = field.resolution
    assert field.density_grid.shape == (1, 1, rz, ry, rx)
    i, j, k = torch.meshgrid(torch.arange(rx), torch.arange(ry), torch.arange(rz), indexing="ij")
    ijk = torch.stack([i, j, k], -1).reshape(-1, 3).double()
    world = LO.double() + ijk * (HI - LO).double() / torch.tensor([rx - 1, ry - 1, rz - 1]).double()
    got = _raw(field, field.feature_grid, world)  # (P, C)
    expected = field.feature_grid[0][:, ijk[:, 2].long(), ijk[:, 1].long(), ijk[:, 0].long()].t()
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    # box corners are the outermost vertices
    d = field.density_grid
    torch.testing.assert_close(_raw(field, d, LO.double()[None])[0, 0], d[0, 0, 0, 0, 0])
    torch.testing.assert_close(_raw(field, d, HI.double()[None])[0, 0], d[0, 0, -1, -1, -1])


@pytest.mark.parametrize("device", DEVICES)
def test_trilinear_lookup_matches_loop(device):
    field = _random_field().to(device)
    points = LO.double() + (HI - LO).double() * torch.rand(30, 3, dtype=torch.float64)
    points[0] = LO
    points[1] = HI
    got = _raw(field, field.feature_grid, points.to(device)).cpu()
    ref = trilinear_naive(field.feature_grid[0].detach().cpu(), points, LO, HI)
    torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)


def test_gradcheck_lookup_wrt_points_and_values():
    field = _random_field((3, 4, 3))
    # inside cells (not on a vertex plane), where trilinear interpolation is smooth in the point
    frac = torch.tensor([[0.3, 0.2, 0.7], [0.65, 0.8, 0.1]], dtype=torch.float64)
    points = (LO.double() + (HI - LO).double() * frac).requires_grad_()
    values = field.feature_grid.detach().clone().requires_grad_()

    def lookup(grid, p):
        return field._sample(grid, p)

    assert torch.autograd.gradcheck(lookup, (values, points), eps=1e-6, atol=1e-7)
    # gradients agree with the loop reference
    g_out = torch.randn(2, field.n_features, dtype=torch.float64)
    grads = torch.autograd.grad(lookup(values, points), (values, points), g_out)
    grads_ref = torch.autograd.grad(trilinear_naive(values[0], points, LO, HI), (values, points), g_out)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_total_variation_matches_loop():
    field = _random_field((3, 4, 5), color_mode="rgb")
    tv_d = grid_total_variation(field.density_grid)
    tv_f = grid_total_variation(field.feature_grid)
    assert tv_d.item() == pytest.approx(total_variation_naive(field.density_grid[0].detach()), rel=1e-12)
    assert tv_f.item() == pytest.approx(total_variation_naive(field.feature_grid[0].detach()), rel=1e-12)
    assert field.total_variation(2.0, 0.5).item() == pytest.approx(2 * tv_d.item() + 0.5 * tv_f.item(), rel=1e-12)
    flat = DenseGridField(BOX, 3, color_mode="rgb")
    with torch.no_grad():
        flat.density_grid.fill_(3.0)
        flat.feature_grid.fill_(-1.0)
    assert flat.total_variation().item() == 0.0
    field.total_variation().backward()
    assert field.density_grid.grad.abs().sum() > 0


def test_upsample_nested_resolution_keeps_the_field_everywhere():
    field = _random_field((3, 4, 5), color_mode="mlp")
    points = LO.double() + (HI - LO).double() * torch.rand(100, 3, dtype=torch.float64)
    dirs = torch.nn.functional.normalize(torch.randn(100, 3, dtype=torch.float64), dim=-1)
    before = field(points, dirs)
    field.upsample((5, 7, 9))  # R - 1 doubled on every axis
    assert field.resolution == (5, 7, 9)
    assert field.feature_grid.is_contiguous(memory_format=torch.channels_last_3d)
    after = field(points, dirs)
    for a, b in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_upsample_keeps_values_at_the_new_vertices():
    field = _random_field((4, 4, 4), color_mode="rgb")
    old = DenseGridField(BOX, 4, color_mode="rgb").double()
    old.load_state_dict(field.state_dict())
    field.upsample(7)
    i = torch.arange(7, dtype=torch.float64)
    g = torch.stack(torch.meshgrid(i, i, i, indexing="ij"), -1).reshape(-1, 3)
    vertices = LO.double() + g * (HI - LO).double() / 6
    torch.testing.assert_close(field.density(vertices), old.density(vertices), atol=1e-12, rtol=0)
    torch.testing.assert_close(field(vertices)[1], old(vertices)[1], atol=1e-12, rtol=0)
    assert isinstance(field.density_grid, torch.nn.Parameter) and field.density_grid.requires_grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["rgb", "sh", "mlp"])
def test_field_contract(device, mode):
    field = DenseGridField(BOX, 6, color_mode=mode, n_features=5, hidden_dim=8).to(device)
    points = (LO + (HI - LO) * torch.rand(4, 7, 3)).to(device)
    dirs = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1).to(device)
    sigma, rgb = field(points, dirs)
    assert sigma.shape == (4, 7, 1) and rgb.shape == (4, 7, 3)
    assert (sigma >= 0).all() and (rgb >= 0).all() and (rgb <= 1).all()
    torch.testing.assert_close(field.density(points), sigma)
    expected_c = {"rgb": 3, "sh": 3 * 4, "mlp": 5}[mode]
    assert field.feature_grid.shape[1] == expected_c
    (sigma.sum() + rgb.sum()).backward()
    assert field.feature_grid.grad.abs().sum() > 0


def test_density_activations_and_outside_box():
    field = DenseGridField(BOX, 3, color_mode="rgb", density_shift=-5.0)
    inside = torch.tensor([[0.0, 0.5, 1.5]])
    assert field.density(inside).item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(-5.0)).item())
    relu = DenseGridField(BOX, 3, color_mode="rgb", density_activation="relu", init_density=-1.0)
    assert relu.density(inside).item() == 0.0
    outside = torch.tensor([[0.0, 0.5, 3.5], [-1.2, 0.0, 1.0]])
    assert torch.equal(field.density(outside), torch.zeros(2, 1))


def test_sh_colour_depends_on_direction_and_rgb_does_not():
    sh = _random_field(3, dtype=torch.float32, color_mode="sh")
    p = torch.tensor([[0.1, 0.2, 1.0]])
    _, a = sh(p, torch.tensor([[0.0, 0.0, 1.0]]))
    _, b = sh(p, torch.tensor([[1.0, 0.0, 0.0]]))
    assert not torch.allclose(a, b)
    rgb = _random_field(3, dtype=torch.float32, color_mode="rgb")
    assert not rgb.view_dependent
    torch.testing.assert_close(rgb(p)[1], rgb(p, torch.tensor([[1.0, 0.0, 0.0]]))[1])
    flat = _random_field(3, dtype=torch.float32, color_mode="mlp", direction_encoding=None)
    torch.testing.assert_close(flat(p)[1], flat(p, torch.tensor([[1.0, 0.0, 0.0]]))[1])


def test_rejects_bad_input():
    with pytest.raises(ValueError, match=">= 2"):
        DenseGridField(BOX, 1)
    with pytest.raises(ValueError, match=">= 2"):
        DenseGridField(BOX, (4, 1, 4))
    with pytest.raises(ValueError, match="three ints"):
        DenseGridField(BOX, (4, 4))
    with pytest.raises(ValueError, match="lo < hi"):
        DenseGridField(((0, 0, 0), (1, 1, 0)), 4)
    with pytest.raises(ValueError, match="color_mode"):
        DenseGridField(BOX, 4, color_mode="rgba")
    field = DenseGridField(BOX, 4)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        field(torch.rand(5, 2))
    with pytest.raises(ValueError, match="directions"):
        field(torch.rand(5, 3))
    with pytest.raises(ValueError, match=">= 2"):
        field.upsample(1)
    with pytest.raises(ValueError, match=r"\(N, C, D, H, W\)"):
        grid_total_variation(torch.rand(3, 3, 3))
