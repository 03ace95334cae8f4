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
