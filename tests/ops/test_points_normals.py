"""Normals and local frames against a point-by-point numpy loop; Pointclouds.estimate_normals and subsample."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.point_features import local_frames_naive

from inverse3d.ops import estimate_pointcloud_local_coord_frames, estimate_pointcloud_normals
from inverse3d.structures import Pointclouds


def _noisy_sphere(n_points, gen, dtype=torch.float64):
    p = torch.randn(n_points, 3, generator=gen, dtype=dtype)
    return p / p.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("disambiguate", [True, False])
def test_frames_match_naive(disambiguate):
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(2, 40, 3, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 0.6, 0.1], dtype=torch.float64)
    curv, frames = estimate_pointcloud_local_coord_frames(pts, 8, disambiguate)
    for n in range(2):
        want_c, want_f = local_frames_naive(pts[n], 8, disambiguate)
        torch.testing.assert_close(curv[n], want_c)
        if disambiguate:
            torch.testing.assert_close(frames[n], want_f)
        else:  # eigenvectors up to sign
            cos = (frames[n] * want_f).sum(1).abs()
            torch.testing.assert_close(cos, torch.ones_like(cos))


@pytest.mark.parametrize("device", DEVICES)
def test_sphere_normals_are_radial_and_consistent(device):
    gen = torch.Generator().manual_seed(1)
    pts = _noisy_sphere(500, gen)[None].to(device)
    normals = estimate_pointcloud_normals(pts, neighborhood_size=12)
    cos = (normals * pts).sum(-1)
    assert (cos.abs() > 0.98).all()
    # disambiguation (a local vote, as PyTorch3D): on a convex surface the neighbours lie behind the tangent
    # plane, so nearly all normals point inwards
    assert (cos < 0).double().mean() > 0.95


def test_pointclouds_ragged_and_estimate_normals_assign():
    gen = torch.Generator().manual_seed(2)
    clouds = Pointclouds([_noisy_sphere(60, gen), _noisy_sphere(30, gen)])
    normals = estimate_pointcloud_normals(clouds, neighborhood_size=6)
    assert normals.shape == (2, 60, 3)
    for n, cloud in enumerate(clouds.points_list()):
        want = local_frames_naive(cloud, 6)[1][:, :, 0]
        torch.testing.assert_close(normals[n, : len(cloud)], want)
    out = clouds.estimate_normals(neighborhood_size=6)
    torch.testing.assert_close(out, normals)
    assert clouds.normals_padded() is None
    clouds.estimate_normals(neighborhood_size=6, assign_to_self=True)
    torch.testing.assert_close(clouds.normals_list()[1], normals[1, :30])
    torch.testing.assert_close(clouds.normals_packed(), torch.cat([normals[0], normals[1, :30]]))


def test_gradients_and_errors():
    gen = torch.Generator().manual_seed(3)
    pts = torch.rand(1, 12, 3, generator=gen, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: estimate_pointcloud_local_coord_frames(p, 5)[0], (pts,))
    with pytest.raises(ValueError, match="neighborhood_size"):
        estimate_pointcloud_normals(torch.rand(1, 5, 3), neighborhood_size=5)
    with pytest.raises(ValueError, match="minibatch, N, 3"):
        estimate_pointcloud_normals(torch.rand(1, 10, 2), neighborhood_size=3)
    # the keyword accepted for compatibility
    n = estimate_pointcloud_normals(pts.detach(), 5, use_symeig_workaround=False)
    assert n.shape == (1, 12, 3)


def test_subsample():
    gen = torch.Generator().manual_seed(4)
    pts = [torch.rand(n, 3, generator=gen) for n in (10, 3, 0, 7)]
    feats = [torch.rand(len(p), 2, generator=gen) for p in pts]
    normals = [torch.rand(len(p), 3, generator=gen) for p in pts]
    clouds = Pointclouds(pts, normals=normals, features=feats)
    assert clouds.subsample(10) is clouds
    sub = clouds.subsample([4, 5, 1, 7])
    assert sub.num_points_per_cloud().tolist() == [4, 3, 0, 7]
    for orig, orig_f, orig_n, got, got_f, got_n in zip(
        pts, feats, normals, sub.points_list(), sub.features_list(), sub.normals_list()
    ):
        # kept rows are rows of the original, distinct, in their original order, with their normals/features
        rows = [int((orig == p).all(1).nonzero()[0]) for p in got]
        assert rows == sorted(set(rows))
        torch.testing.assert_close(got_f, orig_f[rows])
        torch.testing.assert_close(got_n, orig_n[rows])
    with pytest.raises(ValueError, match="wrong number"):
        clouds.subsample([1, 2])
    # uniform: every point of a cloud is kept sometimes
    torch.manual_seed(0)
    seen = set()
    one = Pointclouds([pts[0]])
    for _ in range(40):
        seen.update(tuple(p.tolist()) for p in one.subsample(2).points_list()[0])
    assert len(seen) == 10
