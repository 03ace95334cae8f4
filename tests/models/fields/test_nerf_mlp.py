"""The course's NeRF MLP: shapes, the skip connection, view dependence, the scene box, errors."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

from inverse3d.models.fields import NeRFMLP
from inverse3d.renderer.implicit.harmonic_embedding import HarmonicEmbedding


def _tiny(**kw) -> NeRFMLP:
    args = dict(n_harmonic_functions_xyz=3, n_harmonic_functions_dir=2, n_layers_xyz=4, n_hidden_neurons_xyz=16,
                append_xyz=(2,), n_hidden_neurons_dir=8)
    args.update(kw)
    return NeRFMLP(**args)


def test_default_sizes_are_the_papers():
    model = NeRFMLP()
    embed = 3 * (2 * 10 + 1)
    assert len(model.layers) == 8
    assert [layer.in_features for layer in model.layers] == [embed, 256, 256, 256, 256, 256 + embed, 256, 256]
    assert all(layer.out_features == 256 for layer in model.layers)
    assert model.color_layer[0].in_features == 256 + 3 * (2 * 4 + 1)
    assert model.color_layer[0].out_features == 128


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_and_ranges(device):
    model = _tiny().to(device)
    points = torch.randn(3, 5, 3, device=device)
    dirs = torch.nn.functional.normalize(torch.randn(3, 3, device=device), dim=-1)
    sigma, rgb = model(points, dirs)
    assert sigma.shape == (3, 5, 1) and rgb.shape == (3, 5, 3)
    assert (sigma >= 0).all() and (rgb > 0).all() and (rgb < 1).all()
    torch.testing.assert_close(model.density(points), sigma)


def test_skip_layer_reads_embedding_and_hidden():
    torch.manual_seed(0)
    model = _tiny()
    assert model.layers[2].in_features == 16 + 21
    seen = []
    model.layers[2].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    points = torch.randn(4, 3)
    model.density(points)
    embedding = HarmonicEmbedding(3)(points)
    # its input is the hidden state followed by the position embedding
    torch.testing.assert_close(seen[0][:, 16:], embedding)
    # the position reaches the skip layer directly: with the earlier layers zeroed, the density still varies
    with torch.no_grad():
        model.layers[1].weight.zero_()
        model.layers[1].bias.zero_()
        model.density_layer.bias.fill_(5.0)
    d = model.density(torch.randn(6, 3))
    assert d.std() > 0


def test_view_dependence_off_ignores_directions():
    model = _tiny(view_dependence=False)
    points = torch.randn(7, 3)
    _, a = model(points)
    _, b = model(points, torch.nn.functional.normalize(torch.randn(7, 3), dim=-1))
    assert torch.equal(a, b)
    assert model.color_layer[0].in_features == 16


def test_directions_per_ray_equal_directions_per_sample():
    model = _tiny()
    points = torch.randn(3, 4, 3)
    dirs = torch.nn.functional.normalize(torch.randn(3, 3), dim=-1)
    per_ray = model(points, dirs)
    per_sample = model(points, dirs[:, None].expand(3, 4, 3))
    for a, b in zip(per_ray, per_sample):
        torch.testing.assert_close(a, b)


def test_view_dependence_on_uses_directions():
    model = _tiny()
    points = torch.randn(1, 3).expand(2, 3)
    _, rgb = model(points, torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    assert not torch.allclose(rgb[0], rgb[1])


def test_bounds_map_to_unit_cube_and_empty_outside():
    box = ((0.0, 0.0, 0.0), (2.0, 4.0, 6.0))
    boxed = _tiny(bounds=box, density_activation="softplus")
    free = _tiny(density_activation="softplus")
    free.load_state_dict({k: v for k, v in boxed.state_dict().items() if not k.startswith("bounds")})
    p = torch.tensor([[1.0, 1.0, 4.5]])
    # the box [lo, hi] is mapped to [-1, 1]^3 before the embedding
    torch.testing.assert_close(boxed.density(p), free.density(torch.tensor([[0.0, -0.5, 0.5]])))
    assert boxed.density(torch.tensor([[1.0, 4.5, 1.0]])).item() == 0.0
    assert free.density(torch.tensor([[1.0, 4.5, 1.0]])).item() > 0.0


def test_gradients_reach_every_layer():
    model = _tiny()
    sigma, rgb = model(torch.randn(8, 3), torch.nn.functional.normalize(torch.randn(8, 3), dim=-1))
    (sigma.sum() + rgb.sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="append_xyz"):
        _tiny(append_xyz=(4,))
    with pytest.raises(ValueError, match="append_xyz"):
        _tiny(append_xyz=(0,))
    with pytest.raises(ValueError, match="density_activation"):
        _tiny(density_activation="exp")
    with pytest.raises(ValueError, match="lo < hi"):
        _tiny(bounds=((0, 0, 0), (-1, 1, 1)))
    model = _tiny()
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        model(torch.randn(5, 4), torch.randn(5, 3))
    with pytest.raises(ValueError, match="directions"):
        model(torch.randn(5, 3))
    with pytest.raises(ValueError, match="directions"):
        model(torch.randn(5, 3), torch.randn(4, 3))
