"""inverse3d.common: device helpers, meshgrid_ij, LinearWithRepeat against cat + Linear, symeig3x3."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import DEVICES

from inverse3d.common import Device, get_device, make_device
from inverse3d.common.compat import meshgrid_ij, prod
from inverse3d.common.linear_with_repeat import LinearWithRepeat
from inverse3d.common.workaround import symeig3x3


def test_devices():
    assert make_device("cpu") == torch.device("cpu")
    assert make_device(torch.device("cpu")) == torch.device("cpu")
    assert get_device(torch.zeros(1)) == torch.device("cpu")
    assert get_device([1, 2]) == torch.device("cpu")
    assert get_device(torch.zeros(1), "cpu") == torch.device("cpu")
    assert str in Device.__args__ and torch.device in Device.__args__
    if torch.cuda.is_available():
        assert make_device("cuda").index == torch.cuda.current_device()


def test_meshgrid_ij_and_prod():
    a, b = torch.arange(2), torch.arange(3)
    ga, gb = meshgrid_ij(a, b)
    assert ga.shape == (2, 3) and (ga[:, 0] == a).all() and (gb[0] == b).all()
    assert prod([2, 3, 4]) == 24 and prod([], start=5) == 5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_with_repeat_equals_linear_on_concatenation(device, bias):
    layer = LinearWithRepeat(5 + 3, 4, bias=bias, device=device, dtype=torch.float64)
    x = torch.randn(2, 6, 7, 5, dtype=torch.float64, device=device)  # (..., k points, n1)
    y = torch.randn(2, 6, 3, dtype=torch.float64, device=device)  # (..., n2)
    joined = torch.cat([x, y[..., None, :].expand(2, 6, 7, 3)], -1)
    expected = F.linear(joined, layer.weight, layer.bias)
    torch.testing.assert_close(layer((x, y)), expected)
    if bias:
        assert torch.autograd.gradcheck(lambda a, b: layer((a, b)), (x[:1, :2].requires_grad_(),
                                                                    y[:1, :2].requires_grad_()))


def test_linear_with_repeat_initialisation_like_linear():
    layer = LinearWithRepeat(100, 50)
    bound = 1 / 10
    assert layer.weight.shape == (50, 100) and layer.bias.shape == (50,)
    assert float(layer.bias.detach().abs().max()) <= bound and float(layer.weight.detach().abs().max()) <= bound


def test_symeig3x3():
    a = torch.randn(4, 5, 3, 3, dtype=torch.float64)
    sym = a + a.transpose(-1, -2)
    values, vectors = symeig3x3(sym)
    assert values.shape == (4, 5, 3) and vectors.shape == (4, 5, 3, 3)
    assert (values[..., :-1] <= values[..., 1:]).all()
    torch.testing.assert_close(sym @ vectors, vectors * values[..., None, :])  # column i is eigenvector i
    only, none = symeig3x3(sym, eigenvectors=False)
    assert none is None
    torch.testing.assert_close(only, values)
    with pytest.raises(ValueError, match="3, 3"):
        symeig3x3(torch.zeros(2, 4, 4))
