"""Hash encoding against a per-point, per-level, per-corner loop; gradients; the hash-grid field's contract."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DEVICES
from reference.fields import PRIMES, hash_encoding_naive

from inverse3d.models.fields import HashGridEncoding, HashGridField, level_resolutions

BOX = ((-1.0, -0.5, 0.0), (1.0, 1.5, 1.0))


def _tiny_encoding(**kw) -> HashGridEncoding:
    # resolutions 2, 4, 8: (2+1)^3 = 27 <= 64 is dense, 5^3 and 9^3 are hashed into 64 rows
    args = dict(n_levels=3, n_features_per_level=2, log2_hashmap_size=6, base_resolution=2, finest_resolution=8)
    args.update(kw)
    return HashGridEncoding(**args)


def _naive(enc, x, table=None):
    table = enc.table.detach().double() if table is None else table
    return hash_encoding_naive(x.double(), table.t(), enc.resolutions, enc.level_offsets, enc.level_sizes,
                               enc.log2_hashmap_size)


def test_level_resolutions_follow_the_growth_factor():
    res = level_resolutions(16, 16, 2048)
    b = math.exp((math.log(2048) - math.log(16)) / 15)
    assert res == [math.floor(16 * b**level + 1e-6) for level in range(16)]
    assert res[0] == 16 and res[-1] == 2048
    assert level_resolutions(1, 7, 7) == [7]


def test_dense_and_hashed_levels_and_table_layout():
    enc = _tiny_encoding()
    assert enc.resolutions == [2, 4, 8]
    assert enc.n_dense_levels == 1
    assert enc.level_sizes == [27, 64, 64]
    # hashed levels first at multiples of T, the dense level after them
    assert enc.level_offsets == [128, 0, 64]
    assert enc.table.shape == (2, 128 + 27)
    assert enc.output_dim == 6


def test_table_initialised_uniformly_small():
    enc = HashGridEncoding(n_levels=4, log2_hashmap_size=12, base_resolution=4, finest_resolution=64)
    t = enc.table.detach()
    assert t.abs().max() <= 1e-4
    assert t.std() > 3e-5  # uniform in [-1e-4, 1e-4] has std 5.8e-5, not all zeros


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_encoding_matches_loop_reference(device, dtype):
    enc = _tiny_encoding().to(device=device, dtype=dtype)
    with torch.no_grad():
        enc.table.normal_()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(40, 3, generator=g, dtype=dtype)
    # box corners and faces, cell boundaries of every level (multiples of 1/8), points slightly outside
    x[0] = 0.0
    x[1] = 1.0
    x[2] = torch.tensor([0.5, 0.25, 1.0])
    x[3] = torch.tensor([0.125, 0.375, 0.0])
    x[4] = torch.tensor([1.0, 0.0, 0.625])
    x[5] = torch.tensor([-0.1, 1.2, 0.5])
    x = x.to(device)
    out = enc(x)
    ref = _naive(enc, x.cpu().double().clamp(0, 1))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out.cpu().double(), ref, atol=tol, rtol=0)


def test_encoding_with_many_levels_matches_reference_and_keeps_batch_shape():
    enc = HashGridEncoding(n_levels=6, n_features_per_level=3, log2_hashmap_size=9, base_resolution=3,
                           finest_resolution=40).double()
    with torch.no_grad():
        enc.table.normal_()
    assert 0 < enc.n_dense_levels < 6
    x = torch.rand(2, 7, 3, dtype=torch.float64)
    out = enc(x)
    assert out.shape == (2, 7, 18)
    torch.testing.assert_close(out.reshape(-1, 18), _naive(enc, x.reshape(-1, 3)), atol=1e-12, rtol=0)


def test_hash_equals_uint32_arithmetic_of_instant_ngp():
    enc = HashGridEncoding(n_levels=1, n_features_per_level=1, log2_hashmap_size=10, base_resolution=600,
                           finest_resolution=600)
    x = torch.tensor([[0.90625, 0.703125, 0.5546875]])  # exact in float32: x * 600 has no rounding
    index, _ = enc.corner_indices_and_weights(x)
    cell = [math.floor(v * 600) for v in x[0].tolist()]
    expected = []
    for c in range(8):
        i, j, k = cell[0] + (c >> 2 & 1), cell[1] + (c >> 1 & 1), cell[2] + (c & 1)
        h = ((i * PRIMES[0]) ^ (j * PRIMES[1]) ^ (k * PRIMES[2])) & 0xFFFFFFFF  # uint32 wrap-around
        expected.append(h % 1024)
    assert index[0, :, 0].tolist() == expected


def test_weights_sum_to_one_and_vertices_pick_one_corner():
    enc = _tiny_encoding()
    x = torch.rand(50, 3)
    _, w = enc.corner_indices_and_weights(x)
    torch.testing.assert_close(w.sum(1), torch.ones(3, 50))
    # a vertex of every level (multiples of 1/2) takes one corner's value exactly
    _, w = enc.corner_indices_and_weights(torch.tensor([[0.5, 0.0, 1.0]]))
    assert torch.equal(w.max(1).values, torch.ones(3, 1))


def test_gradcheck_wrt_table():
    enc = _tiny_encoding().double()
    x = torch.rand(6, 3, dtype=torch.float64)
    x[0] = torch.tensor([0.0, 1.0, 0.5])
    table = enc.table.detach().clone().normal_().requires_grad_()

    def encode(t):  # the encoding with ``t`` in place of the parameter
        return torch.func.functional_call(enc, {"table": t}, (x,))

    assert torch.autograd.gradcheck(encode, (table,), eps=1e-6, atol=1e-8)
    # and the gradient is the reference's
    grad_out = torch.randn(6, 6, dtype=torch.float64)
    (g,) = torch.autograd.grad(encode(table), table, grad_out)
    (g_ref,) = torch.autograd.grad(_naive(enc, x, table), table, grad_out)
    torch.testing.assert_close(g, g_ref, atol=1e-12, rtol=0)


def test_gradcheck_wrt_points_inside_cells():
    enc = _tiny_encoding().double()
    with torch.no_grad():
        enc.table.normal_()
    # away from every cell boundary of every level (multiples of 1/8), where the encoding is smooth
    x = ((torch.tensor([[1, 3, 5], [6, 2, 7]], dtype=torch.float64) + 0.3) / 8).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: enc(p), (x,), eps=1e-7, atol=1e-6)


def test_gradient_reaches_only_the_touched_rows():
    enc = _tiny_encoding()
    x = torch.tensor([[0.3, 0.3, 0.3]])
    enc(x).sum().backward()
    touched = (enc.table.grad != 0).any(0)
    index, w = enc.corner_indices_and_weights(x)
    expected = torch.zeros_like(touched)
    expected[index[w > 0]] = True
    assert torch.equal(touched, expected)
    # each level's corner gradients add up to the level's weights (1 per feature)
    assert torch.allclose(enc.table.grad.sum(1), torch.tensor(3.0))


def test_encoding_rejects_bad_arguments():
    with pytest.raises(ValueError, match="base_resolution"):
        HashGridEncoding(base_resolution=32, finest_resolution=16)
    with pytest.raises(ValueError, match="log2_hashmap_size"):
        HashGridEncoding(log2_hashmap_size=0)
    with pytest.raises(ValueError, match="n_levels"):
        HashGridEncoding(n_levels=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        _tiny_encoding()(torch.rand(4, 2))


def _tiny_field(**kw) -> HashGridField:
    args = dict(n_levels=3, log2_hashmap_size=8, base_resolution=2, finest_resolution=16, hidden_dim=8,
                geo_feat_dim=4, hidden_dim_color=8)
    args.update(kw)
    return HashGridField(BOX, **args)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("encoding", ["sh", "harmonic", None])
def test_field_contract(device, encoding):
    field = _tiny_field(direction_encoding=encoding).to(device)
    lo, hi = torch.tensor(BOX[0]), torch.tensor(BOX[1])
    points = (lo + (hi - lo) * torch.rand(5, 6, 3)).to(device)
    dirs = torch.nn.functional.normalize(torch.randn(5, 3), dim=-1).to(device)
    sigma, rgb = field(points, dirs)
    assert sigma.shape == (5, 6, 1) and rgb.shape == (5, 6, 3)
    assert sigma.device.type == device
    assert (sigma >= 0).all() and (rgb >= 0).all() and (rgb <= 1).all()
    torch.testing.assert_close(field.density(points), sigma)
    # per-point directions give the same result as per-ray ones, and directions are normalised
    _, rgb2 = field(points, dirs[:, None, :].expand(5, 6, 3))
    torch.testing.assert_close(rgb2, rgb)
    _, rgb3 = field(points, 3.0 * dirs)
    torch.testing.assert_close(rgb3, rgb)
    # the renderer's path: directions encoded once per ray, then gathered for each point
    view = field.encode_view(3.0 * dirs)
    assert (view is None) == (encoding is None)
    flat = points.reshape(-1, 3)
    ray = torch.arange(5, device=device).repeat_interleave(6)
    sigma4, rgb4 = field.forward_encoded(flat, None if view is None else view[ray], known_inside=True)
    torch.testing.assert_close(sigma4, sigma.reshape(-1, 1))
    torch.testing.assert_close(rgb4, rgb.reshape(-1, 3))
    if encoding is not None:
        with pytest.raises(ValueError, match="view_features"):
            field.forward_encoded(flat, None)


def test_field_is_empty_outside_the_box_and_trains():
    field = _tiny_field(density_bias=2.0)
    outside = torch.tensor([[1.5, 0.0, 0.5], [0.0, -0.6, 0.5], [0.0, 0.0, 1.01]])
    assert torch.equal(field.density(outside), torch.zeros(3, 1))
    inside = torch.tensor([[0.0, 0.5, 0.5]])
    assert field.density(inside).item() > 0
    sigma, rgb = field(inside, torch.tensor([[0.0, 0.0, 1.0]]))
    (sigma.sum() + rgb.sum()).backward()
    assert field.encoding.table.grad.abs().sum() > 0


def test_field_without_view_dependence_ignores_directions():
    field = _tiny_field(direction_encoding=None)
    points = torch.rand(8, 3) * 0.5
    _, a = field(points)
    _, b = field(points, torch.nn.functional.normalize(torch.randn(8, 3), dim=-1))
    assert torch.equal(a, b)
    assert not field.view_dependent


def test_field_rejects_bad_input():
    with pytest.raises(ValueError, match="lo < hi"):
        HashGridField(((0, 0, 0), (1, 0, 1)))
    with pytest.raises(ValueError, match="bounds"):
        HashGridField((0, 1))
    field = _tiny_field()
    with pytest.raises(ValueError, match="directions"):
        field(torch.rand(4, 3))
    with pytest.raises(ValueError, match="directions"):
        field(torch.rand(4, 5, 3), torch.rand(5, 3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        field.density(torch.rand(4, 4))
    with pytest.raises(ValueError, match="density_activation"):
        _tiny_field(density_activation="sigmoid")
    with pytest.raises(ValueError, match="direction encoding"):
        _tiny_field(direction_encoding="fourier")
