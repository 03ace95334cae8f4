"""GraphConv and gather_scatter against an edge-by-edge loop; directed graphs, empty graphs, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.mesh_ops import gather_scatter_naive

from inverse3d.ops import GraphConv
from inverse3d.ops.graph_conv import gather_scatter, gather_scatter_python
from inverse3d.utils import ico_sphere


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("directed", [False, True])
def test_gather_scatter_matches_naive(device, directed):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 4, generator=gen, dtype=torch.float64)
    edges = torch.tensor([[0, 1], [1, 2], [2, 0], [3, 4], [4, 3], [1, 5]])
    got = gather_scatter(x.to(device), edges.to(device), directed)
    torch.testing.assert_close(got.cpu(), gather_scatter_naive(x, edges, directed))
    assert gather_scatter_python is gather_scatter


@pytest.mark.parametrize("directed", [False, True])
def test_graph_conv_forward_and_gradcheck(directed):
    torch.manual_seed(0)
    mesh = ico_sphere(0)
    conv = GraphConv(3, 5, directed=directed).double()
    verts = mesh.verts_packed().double().requires_grad_(True)
    edges = mesh.edges_packed()
    out = conv(verts, edges)
    want = conv.w0(verts) + gather_scatter_naive(conv.w1(verts), edges, directed)
    torch.testing.assert_close(out, want)
    assert torch.autograd.gradcheck(lambda v: conv(v, edges), (verts,))
    assert "directed=%r" % directed in repr(conv)


def test_init_empty_and_errors():
    conv = GraphConv(3, 2, init="zero")
    assert torch.equal(conv.w0.weight, torch.zeros(2, 3))
    assert conv(torch.zeros(0, 3), torch.zeros(0, 2, dtype=torch.int64)).shape == (0, 2)
    with pytest.raises(ValueError, match="initialization"):
        GraphConv(3, 2, init="xavier")
    with pytest.raises(ValueError, match="num_edges, 2"):
        gather_scatter(torch.rand(3, 2), torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="index vertices"):
        gather_scatter(torch.rand(3, 2), torch.tensor([[0, 3]]))
