"""Splatting point clouds into volumes against a point-by-point loop; VolumeLocator; gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.volumes import splat_naive

from inverse3d.ops import add_pointclouds_to_volumes, add_points_features_to_volume_densities_features
from inverse3d.structures import Pointclouds, Volumes
from inverse3d.structures.volumes import VolumeLocator


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["trilinear", "nearest"])
@pytest.mark.parametrize("align_corners", [True, False])
def test_matches_naive(device, mode, align_corners):
    gen = torch.Generator().manual_seed(0)
    N, P, C = 2, 30, 3
    pts = torch.rand(N, P, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2  # some outside the grid
    feats = torch.rand(N, P, C, generator=gen, dtype=torch.float64)
    dens = torch.rand(N, 1, 4, 5, 6, generator=gen, dtype=torch.float64)
    vfeat = torch.rand(N, C, 4, 5, 6, generator=gen, dtype=torch.float64)
    sizes = torch.tensor([[4, 5, 6], [3, 5, 4]])  # the second grid is smaller than the padded tensor
    mask = (torch.rand(N, P, generator=gen) > 0.2).double()
    f, d = add_points_features_to_volume_densities_features(
        pts.to(device), feats.to(device), dens.to(device), vfeat.to(device), mode=mode, mask=mask.to(device),
        grid_sizes=sizes.to(device), rescale_features=False, align_corners=align_corners,
    )
    want_f, want_d = splat_naive(pts, feats, dens, vfeat, sizes, mode, mask, align_corners)
    torch.testing.assert_close(d.cpu(), want_d)
    torch.testing.assert_close(f.cpu(), want_f)
    f2, d2 = add_points_features_to_volume_densities_features(
        pts.to(device), feats.to(device), dens.to(device), vfeat.to(device), mode=mode, mask=mask.to(device),
        grid_sizes=sizes.to(device), align_corners=align_corners, min_weight=1e-3,
    )
    floor = 1e-3 if mode == "trilinear" else 1.0
    torch.testing.assert_close(f2.cpu(), want_f / want_d.clamp(min=floor))


def test_pointclouds_into_volumes_world_coordinates():
    # a point at a voxel centre puts all its weight there, in world units
    vols = Volumes(densities=torch.zeros(1, 1, 5, 5, 5), features=torch.zeros(1, 2, 5, 5, 5), voxel_size=0.5,
                   volume_translation=(-1.0, 0.0, 0.0))
    centre = vols.get_coord_grid()[0, 1, 2, 3]  # voxel (d=1, h=2, w=3)
    pcl = Pointclouds([centre[None]], features=[torch.tensor([[2.0, 4.0]])])
    for mode in ("trilinear", "nearest"):
        out = add_pointclouds_to_volumes(pcl, vols, mode=mode)
        assert out.densities()[0, 0, 1, 2, 3] == pytest.approx(1.0)
        assert out.densities().sum() == pytest.approx(1.0)
        torch.testing.assert_close(out.features()[0, :, 1, 2, 3], torch.tensor([2.0, 4.0]))
    assert vols.densities().sum() == 0  # inputs untouched


def test_ragged_clouds_and_no_initial_features():
    pcl = Pointclouds([torch.zeros(3, 3), torch.zeros(1, 3)], features=[torch.ones(3, 1), torch.ones(1, 1)])
    vols = Volumes(densities=torch.zeros(2, 1, 3, 3, 3))
    out = add_pointclouds_to_volumes(pcl, vols, mode="nearest", rescale_features=False)
    assert out.densities()[:, 0, 1, 1, 1].tolist() == [3.0, 1.0]  # padded points cast no vote
    assert out.features().shape == (2, 1, 3, 3, 3)
    with pytest.raises(ValueError, match="features"):
        add_pointclouds_to_volumes(Pointclouds([torch.zeros(1, 3)]), Volumes(densities=torch.zeros(1, 1, 2, 2, 2)))
    with pytest.raises(ValueError, match="same batch size"):
        add_pointclouds_to_volumes(pcl, Volumes(densities=torch.zeros(1, 1, 2, 2, 2)))
    with pytest.raises(ValueError, match="interpolation mode"):
        add_pointclouds_to_volumes(pcl, vols, mode="cubic")


def test_gradcheck_trilinear():
    gen = torch.Generator().manual_seed(1)
    pts = (torch.rand(1, 4, 3, generator=gen, dtype=torch.float64) * 1.6 - 0.8).requires_grad_(True)
    feats = torch.rand(1, 4, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    dens = torch.rand(1, 1, 3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    vfeat = torch.rand(1, 2, 3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)

    def run(p, f, d, v):
        return add_points_features_to_volume_densities_features(p, f, d, v)

    assert torch.autograd.gradcheck(run, (pts, feats, dens, vfeat))


def test_volume_locator_matches_volumes():
    vols = Volumes(densities=[torch.zeros(1, 4, 5, 6), torch.zeros(1, 2, 3, 4)], voxel_size=[0.1, 0.2, 0.3],
                   volume_translation=torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]), align_corners=False)
    loc = vols.locator
    assert isinstance(loc, VolumeLocator) and len(loc) == 2
    assert torch.equal(loc.get_grid_sizes(), vols.get_grid_sizes())
    torch.testing.assert_close(loc.get_coord_grid(), vols.get_coord_grid())
    pts = torch.rand(2, 7, 3)
    torch.testing.assert_close(loc.world_to_local_coords(pts), vols.world_to_local_coords(pts))
    torch.testing.assert_close(loc.local_to_world_coords(loc.world_to_local_coords(pts)), pts)
    m = loc.get_local_to_world_coords_transform().transform_points(pts)
    torch.testing.assert_close(m, loc.local_to_world_coords(pts))
    # built directly, as in PyTorch3D
    direct = VolumeLocator(2, [(4, 5, 6), (2, 3, 4)], "cpu", voxel_size=[0.1, 0.2, 0.3],
                           volume_translation=torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]), align_corners=False)
    torch.testing.assert_close(direct.get_coord_grid(False), loc.get_coord_grid(False))
    assert direct.clone().to("cpu") is not None and VolumeLocator(3, (2, 2, 2), "cpu").get_grid_sizes().shape == (3, 3)
    with pytest.raises(ValueError, match="grid_sizes"):
        VolumeLocator(2, [(1, 2)], "cpu")
