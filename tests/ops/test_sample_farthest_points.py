"""sample_farthest_points against the cloud-by-cloud loop: indices, ragged batches, per-cloud K, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.sampling import sample_farthest_points_naive

from inverse3d.ops import sample_farthest_points


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_naive_ragged(device, dtype):
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(4, 30, 3, generator=gen, dtype=dtype)
    lengths = torch.tensor([30, 11, 0, 3])
    K = [7, 5, 4, 6]  # cloud 3 has fewer points than K
    got_pts, got_idx = sample_farthest_points(pts.to(device), lengths.to(device), K)
    want = sample_farthest_points_naive(pts, lengths, K)
    assert got_idx.shape == (4, 7) and torch.equal(got_idx.cpu(), want)
    assert got_idx[2].tolist() == [-1] * 7 and got_idx[3, 3:].tolist() == [-1] * 4
    gathered = torch.where((want >= 0)[..., None], pts[torch.arange(4)[:, None], want.clamp(min=0)], 0.0)
    torch.testing.assert_close(got_pts.cpu(), gathered)
    assert got_pts.dtype == dtype


def test_int_and_tensor_K_and_full_clouds():
    pts = torch.rand(2, 20, 3)
    a = sample_farthest_points(pts, K=5)[1]
    b = sample_farthest_points(pts, K=torch.tensor([5, 5]))[1]
    assert torch.equal(a, b) and torch.equal(a, sample_farthest_points_naive(pts, None, 5))
    # K = P returns every point exactly once
    idx = sample_farthest_points(pts, K=20)[1]
    assert all(sorted(row) == list(range(20)) for row in idx.tolist())


def test_random_start_point_is_valid_and_spreads():
    torch.manual_seed(0)
    pts = torch.rand(3, 50, 3)
    lengths = torch.tensor([50, 10, 1])
    starts = set()
    for _ in range(10):
        idx = sample_farthest_points(pts, lengths, K=4, random_start_point=True)[1]
        assert (idx[1, :4] < 10).all() and idx[2].tolist() == [0, -1, -1, -1]
        starts.add(int(idx[0, 0]))
        rest = sample_farthest_points_naive(pts, lengths, 4, start=idx[:, 0].clamp(min=0))
        assert torch.equal(idx, rest)
    assert len(starts) > 1


def test_gradients_flow_to_selected_points():
    pts = torch.rand(1, 10, 3, dtype=torch.float64, requires_grad=True)
    sel, idx = sample_farthest_points(pts, K=3)
    sel.sum().backward()
    expected = torch.zeros(10, dtype=torch.float64)
    expected[idx[0]] = 1
    torch.testing.assert_close(pts.grad[0, :, 0], expected)
    assert torch.autograd.gradcheck(lambda p: sample_farthest_points(p, K=3)[0], (pts,))


def test_bad_inputs():
    pts = torch.rand(2, 5, 3)
    with pytest.raises(ValueError, match="lengths"):
        sample_farthest_points(pts, torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="same batch dimension"):
        sample_farthest_points(pts, K=[1, 2, 3])
    with pytest.raises(ValueError, match="batch dimension"):
        sample_farthest_points(pts, torch.tensor([5]))


@pytest.mark.parametrize("quantised", [False, True])
def test_block_search_matches_naive(monkeypatch, quantised):
    # force the large-cloud path (two-stage search over blocks of points, plane-by-plane distances) on small
    # ragged clouds, with ties across blocks when the coordinates are quantised
    import importlib

    module = importlib.import_module("inverse3d.ops.sample_farthest_points")
    monkeypatch.setattr(module, "_LARGE", 0)
    monkeypatch.setattr(module, "_BLOCK", 64)
    gen = torch.Generator().manual_seed(1)
    pts = torch.rand(3, 300, 3, generator=gen)
    if quantised:
        pts = (pts * 2).round() / 2  # 27 distinct points, many exact ties
    lengths = torch.tensor([300, 131, 64])
    got = sample_farthest_points(pts, lengths, K=[12, 30, 70])[1]
    assert torch.equal(got, sample_farthest_points_naive(pts, lengths, [12, 30, 70]))


def test_small_and_large_paths_agree(monkeypatch):
    import importlib

    module = importlib.import_module("inverse3d.ops.sample_farthest_points")
    pts = torch.rand(2, 700, 2, generator=torch.Generator().manual_seed(2))
    small = sample_farthest_points(pts, K=40)[1]
    monkeypatch.setattr(module, "_LARGE", 0)
    assert torch.equal(sample_farthest_points(pts, K=40)[1], small)


def test_random_start_draws_as_pytorch3d():
    # no lengths: torch.randint(high=P, size=(N,)); lengths given: floor(lengths * torch.rand(N))
    pts = torch.rand(3, 40, 3)
    torch.manual_seed(7)
    want = torch.randint(high=40, size=(3,))
    torch.manual_seed(7)
    assert torch.equal(sample_farthest_points(pts, K=5, random_start_point=True)[1][:, 0], want)
    lengths = torch.tensor([40, 13, 40])  # given, even if some clouds are full
    torch.manual_seed(8)
    want = (lengths * torch.rand(3)).long()
    torch.manual_seed(8)
    assert torch.equal(sample_farthest_points(pts, lengths, K=5, random_start_point=True)[1][:, 0], want)
