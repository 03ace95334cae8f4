"""ball_query against the point-by-point loop: first K in index order, padding, ragged clouds, gradients."""

from __future__ import annotations

import importlib

import pytest
import torch
from conftest import DEVICES
from reference.sampling import ball_query_naive

from inverse3d.ops import ball_query

bq_module = importlib.import_module("inverse3d.ops.ball_query")  # the module (the package attribute is the function)


@pytest.fixture(params=["dense", "dense-chunked", "grid", "grid-chunked"])
def chunks(request, monkeypatch):
    """Runs a test through the dense and the grid search, each in one piece and in small chunks."""
    monkeypatch.setattr(bq_module, "_GRID_GAIN", 0 if request.param.startswith("grid") else 1 << 62)
    if request.param.endswith("chunked"):
        monkeypatch.setattr(bq_module, "_BUDGET", 40)  # a few rows / columns / candidates at a time
    return request.param


@pytest.mark.parametrize("device", DEVICES)
def test_matches_naive_ragged(device, chunks):
    gen = torch.Generator().manual_seed(0)
    p1 = torch.rand(3, 17, 3, generator=gen, dtype=torch.float64)
    p2 = torch.rand(3, 23, 3, generator=gen, dtype=torch.float64)
    l1, l2 = torch.tensor([17, 5, 0]), torch.tensor([23, 0, 9])
    out = ball_query(p1.to(device), p2.to(device), l1.to(device), l2.to(device), K=4, radius=0.4)
    dists, idx = ball_query_naive(p1, p2, l1, l2, K=4, radius=0.4)
    assert torch.equal(out.idx.cpu(), idx)
    torch.testing.assert_close(out.dists.cpu(), dists)
    nn = torch.where((idx >= 0)[..., None], p2[torch.arange(3)[:, None, None], idx.clamp(min=0)], 0.0)
    torch.testing.assert_close(out.knn.cpu(), nn)


def test_first_k_in_index_order_not_nearest(chunks):
    p1 = torch.zeros(1, 1, 3)
    p2 = torch.tensor([[[0.3, 0, 0], [0.1, 0, 0], [0.9, 0, 0], [0.2, 0, 0]]])
    out = ball_query(p1, p2, K=2, radius=0.5)
    assert out.idx.tolist() == [[[0, 1]]]
    out = ball_query(p1, p2, K=5, radius=0.5, return_nn=False)
    assert out.idx.tolist() == [[[0, 1, 3, -1, -1]]] and out.knn is None
    torch.testing.assert_close(out.dists, torch.tensor([[[0.09, 0.01, 0.04, 0.0, 0.0]]]))


def test_radius_is_strict(chunks):
    p1 = torch.zeros(1, 1, 3, dtype=torch.float64)
    p2 = torch.tensor([[[0.5, 0.0, 0.0]]], dtype=torch.float64)
    assert ball_query(p1, p2, K=1, radius=0.5).idx.item() == -1


def test_gradcheck(chunks):
    gen = torch.Generator().manual_seed(1)
    p1 = torch.rand(2, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    p2 = torch.rand(2, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ball_query(a, b, K=3, radius=0.7).dists, (p1, p2))


def test_bad_inputs():
    with pytest.raises(ValueError, match="batch dimension"):
        ball_query(torch.rand(2, 3, 3), torch.rand(1, 3, 3))
    with pytest.raises(ValueError, match="point dimension"):
        ball_query(torch.rand(1, 3, 3), torch.rand(1, 3, 2))
    with pytest.raises(ValueError, match="K"):
        ball_query(torch.rand(1, 3, 3), torch.rand(1, 3, 3), K=0)
    with pytest.raises(ValueError, match="lengths2"):
        ball_query(torch.rand(1, 3, 3), torch.rand(1, 3, 3), lengths2=torch.tensor([4]))


def test_sparse_clouds_take_the_grid_path():
    # small radius in a large cloud: the grid search runs (the dense one is disabled) and matches the loop
    gen = torch.Generator().manual_seed(2)
    p = torch.rand(2, 300, 3, generator=gen, dtype=torch.float64) * 10 - 5  # spread far from the origin too
    lengths = torch.tensor([300, 120])
    out = torch.full((2, 300, 6), -1, dtype=torch.int64)
    assert bq_module._ball_idx_grid(p, p, lengths, lengths, 6, 0.8, out)
    _, idx = ball_query_naive(p, p, lengths, lengths, K=6, radius=0.8)
    assert torch.equal(out, idx) and (idx[:, :, 1] >= 0).any()
