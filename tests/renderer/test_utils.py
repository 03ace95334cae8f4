"""TensorProperties: broadcasting, accessors, copies, gather_props, bad input (PyTorch3D semantics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inverse3d.renderer import TensorProperties
from inverse3d.renderer.utils import convert_to_tensors_and_broadcast, format_tensor


def test_broadcast_to_common_batch():
    props = TensorProperties(a=1.0, b=torch.rand(4, 3), c=[[1.0, 2.0]], d=np.zeros((1, 2)), name="x", flag=True, e=None)
    assert len(props) == 4 and props._N == 4 and not props.isempty()
    assert props.a.shape == (4,) and props.c.shape == (4, 2) and props.d.shape == (4, 2)
    assert props.a.dtype == torch.float32 and props.name == "x" and props.flag is True and props.e is None
    assert props.device == torch.device("cpu")
    assert TensorProperties().isempty()
    assert TensorProperties(dtype=torch.float64, a=1.0).a.dtype == torch.float64
    assert TensorProperties(a=torch.zeros(2, dtype=torch.float64)).a.dtype == torch.float64  # tensors keep dtype


def test_non_broadcastable_raises():
    with pytest.raises(ValueError):
        TensorProperties(a=torch.zeros(2, 3), b=torch.zeros(3, 3))
    with pytest.raises(ValueError):
        convert_to_tensors_and_broadcast([1.0, 2.0], [1.0, 2.0, 3.0])
    assert format_tensor(3.0).shape == (1,)


def test_getitem_accessor_reads_and_writes():
    props = TensorProperties(loc=torch.zeros(3, 3), colour=[[1.0, 1.0, 1.0]])
    acc = props[1]
    torch.testing.assert_close(acc.loc, torch.zeros(3))
    acc.colour = [0.5, 0.25, 0.0]
    torch.testing.assert_close(props.colour[1], torch.tensor([0.5, 0.25, 0.0]))
    torch.testing.assert_close(props.colour[0], torch.ones(3))  # the expanded input was not aliased
    assert props[0:2].loc.shape == (2, 3)
    with pytest.raises(AttributeError):
        props[0].missing
    with pytest.raises(ValueError):
        props["a"]


def test_clone_to_gather():
    props = TensorProperties(a=torch.arange(3.0), b=[[1.0, 2.0]], s="keep")
    other = props.clone()
    assert type(other) is TensorProperties and other.s == "keep" and len(other) == 3
    other.a[0] = 10.0
    assert props.a[0] == 0.0
    assert props.to("cpu") is props and props.cpu().device == torch.device("cpu")
    g = props.clone().gather_props(torch.tensor([2, 2, 0, 1]))
    torch.testing.assert_close(g.a, torch.tensor([2.0, 2.0, 0.0, 1.0]))
    assert g.b.shape == (4, 2)
    single = TensorProperties(a=[1.0])
    assert single.gather_props(torch.tensor([0, 0, 0])).a.shape == (1,)  # N == 1 broadcasts: unchanged


def test_subclass_clone_keeps_type():
    class Lights(TensorProperties):
        def __init__(self, location=((0.0, 1.0, 0.0),), device="cpu"):
            super().__init__(device=device, location=location)

    lights = Lights(location=torch.rand(2, 3))
    copy = lights.clone()
    assert isinstance(copy, Lights) and torch.equal(copy.location, lights.location)
