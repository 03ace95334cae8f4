"""Volumes (PyTorch3D coordinate semantics) and the project's voxel-grid index <-> world convention."""

import pytest
import torch
import torch.nn.functional as F
from conftest import DEVICES

from inverse3d.ops.voxel_grid import grid_points, index_to_world
from inverse3d.structures import Volumes


def test_pytorch3d_documented_example():
    # A 5x5x5 volume with unit voxels: world (-2, 0, 2) is local (-1, 0, 1).
    vol = Volumes(torch.rand(1, 1, 5, 5, 5))
    local = vol.world_to_local_coords(torch.tensor([[[-2.0, 0.0, 2.0]]]))
    torch.testing.assert_close(local, torch.tensor([[[-1.0, 0.0, 1.0]]]))


@pytest.mark.parametrize("align_corners", [True, False])
def test_grid_sample_at_local_grid_reproduces_the_volume(align_corners):
    vol = Volumes(torch.rand(2, 3, 4, 5, 6), align_corners=align_corners)
    local = vol.get_coord_grid(world_coordinates=False)
    assert local.shape == (2, 4, 5, 6, 3)
    sampled = F.grid_sample(vol.densities(), local, align_corners=align_corners)
    torch.testing.assert_close(sampled, vol.densities())


def test_world_mapping_formula_and_round_trip():
    voxel_size = torch.tensor([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]])
    translation = torch.tensor([[1.0, -2.0, 3.0], [0.0, 0.0, 0.0]])
    vol = Volumes(torch.rand(2, 1, 3, 4, 5), voxel_size=voxel_size, volume_translation=translation)
    world = vol.get_coord_grid()
    local = vol.get_coord_grid(world_coordinates=False)
    sizes_xyz = torch.tensor([5.0, 4.0, 3.0])
    want = local * ((sizes_xyz - 1) * 0.5 * voxel_size)[:, None, None, None] - translation[:, None, None, None]
    torch.testing.assert_close(world, want)
    torch.testing.assert_close(vol.world_to_local_coords(world), local)
    # neighbouring voxel centres are voxel_size apart along each axis
    torch.testing.assert_close(world[0, 0, 0, 1] - world[0, 0, 0, 0], torch.tensor([0.5, 0.0, 0.0]))
    torch.testing.assert_close(world[0, 1, 0, 0] - world[0, 0, 0, 0], torch.tensor([0.0, 0.0, 2.0]))
    # the volume centre is at -volume_translation
    torch.testing.assert_close(world[0].reshape(-1, 3).mean(0), -translation[0])


def test_transforms_agree_with_direct_mapping():
    vol = Volumes(torch.rand(2, 1, 3, 4, 5), voxel_size=(0.1, 0.2, 0.3), volume_translation=(1.0, 2.0, 3.0))
    points = torch.randn(2, 7, 3)
    to_world = vol.get_local_to_world_coords_transform()
    torch.testing.assert_close(to_world.transform_points(points), vol.local_to_world_coords(points))
    to_local = vol.get_world_to_local_coords_transform()
    torch.testing.assert_close(to_local.transform_points(points), vol.world_to_local_coords(points), rtol=1e-4, atol=1e-5)


def test_heterogeneous_list_input():
    dens = [torch.rand(2, 3, 3, 3), torch.rand(2, 5, 4, 2)]
    feats = [torch.rand(4, 3, 3, 3), torch.rand(4, 5, 4, 2)]
    vol = Volumes(dens, features=feats)
    assert vol.densities().shape == (2, 2, 5, 4, 3) and vol.features().shape == (2, 4, 5, 4, 3)
    assert vol.get_grid_sizes().tolist() == [[3, 3, 3], [5, 4, 2]]
    assert all(torch.equal(a, b) for a, b in zip(vol.densities_list(), dens))
    assert all(torch.equal(a, b) for a, b in zip(vol.features_list(), feats))
    # each grid's own voxels keep local coordinates in [-1, 1]
    local = vol.get_coord_grid(world_coordinates=False)
    torch.testing.assert_close(local[0, 0, 0, 0], torch.tensor([-1.0, -1.0, -1.0]))
    torch.testing.assert_close(local[0, 2, 2, 2], torch.tensor([1.0, 1.0, 1.0]))
    torch.testing.assert_close(local[1, 4, 3, 1], torch.tensor([1.0, 1.0, 1.0]))


def test_occupancy_grid_convention():
    grid = torch.rand(2, 4, 3, 5)  # (N, D, H, W) over [-0.5, 0.5]^3, the project's convention
    vol = Volumes.from_occupancy_grid(grid)
    centres = grid_points((4, 3, 5))  # the one index-to-world mapping (ops.voxel_grid)
    torch.testing.assert_close(vol.get_coord_grid()[1], centres)
    torch.testing.assert_close(centres[0, 0, 0], torch.tensor([-0.5 + 0.1, -0.5 + 1 / 6, -0.5 + 0.125]))
    # sampling the volume at the world centre of a voxel gives that voxel's value
    local = vol.world_to_local_coords(centres[None].expand(2, 4, 3, 5, 3))
    sampled = F.grid_sample(vol.densities(), local, align_corners=True)
    torch.testing.assert_close(sampled[:, 0], grid)
    # the cube's faces sit at local -1 - 1/(n-1) ... in world at -0.5 and 0.5
    face = index_to_world(torch.tensor([[-0.5, -0.5, -0.5]]), (4, 3, 5))
    torch.testing.assert_close(face, torch.full((1, 3), -0.5))
    assert torch.equal(Volumes.from_occupancy_grid(grid[:, None]).densities(), grid[:, None])
    # another box
    box = ((0.0, 0.0, 0.0), (1.0, 2.0, 3.0))
    vol = Volumes.from_occupancy_grid(grid, bounds=box)
    torch.testing.assert_close(vol.get_coord_grid()[0], grid_points((4, 3, 5), bounds=box))
    torch.testing.assert_close(Volumes.from_occupancy_grid(grid, extent=2.0).get_coord_grid()[0], 2 * centres)


def test_single_voxel_axis_gives_no_nan():
    vol = Volumes.from_occupancy_grid(torch.rand(1, 1, 1, 1))
    local = vol.world_to_local_coords(torch.randn(1, 4, 3))
    assert torch.isfinite(local).all()
    torch.testing.assert_close(vol.get_coord_grid()[0, 0, 0, 0], torch.zeros(3))


@pytest.mark.parametrize("device", DEVICES)
def test_indexing_clone_detach_to(device):
    dens = torch.rand(3, 1, 2, 3, 4, device=device, requires_grad=True)
    vol = Volumes(dens, features=torch.rand(3, 2, 2, 3, 4, device=device), voxel_size=torch.tensor([[1.0], [2.0], [3.0]]))
    sub = vol[1]
    assert len(sub) == 1 and torch.equal(sub.densities(), dens[1:2])
    torch.testing.assert_close(sub.get_coord_grid(), vol.get_coord_grid()[1:2])
    for index in ([2, 0], slice(0, 2), torch.tensor([True, False, True]), torch.tensor([2])):
        assert torch.equal(vol[index].densities(), dens[index])
    with pytest.raises(IndexError):
        vol[3]
    cloned = vol.clone()
    assert cloned.densities().data_ptr() != dens.data_ptr() and cloned.densities().grad_fn is not None
    cloned.densities().sum().backward()
    assert torch.equal(dens.grad, torch.ones_like(dens))
    assert not vol.detach().densities().requires_grad
    assert vol.to(device) is vol and vol.to(device, copy=True) is not vol
    new = vol.update_padded(dens * 2)
    assert new.features() is None and torch.equal(new.densities(), dens * 2)
    with pytest.raises(ValueError):
        vol.update_padded(torch.rand(3, 1, 2, 3, 5, device=device))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"densities": torch.rand(1, 3, 3, 3)}, "5-D"),
        ({"densities": [torch.rand(3, 3, 3)]}, "4-D"),
        ({"densities": [torch.rand(1, 3, 3, 3), torch.rand(2, 3, 3, 3)]}, "channels"),
        ({"densities": "x"}, "tensor"),
        ({"densities": torch.rand(1, 1, 2, 2, 2), "features": torch.rand(1, 3, 2, 2, 3)}, "grid sizes"),
        ({"densities": torch.rand(1, 1, 2, 2, 2), "voxel_size": (1.0, 2.0)}, "voxel_size"),
        ({"densities": torch.rand(2, 1, 2, 2, 2), "volume_translation": torch.zeros(3, 3)}, "volume_translation"),
        ({"densities": torch.rand(1, 1, 2, 2, 2), "volume_translation": 1.0}, "volume_translation"),
        ({"densities": torch.full((1, 1, 2, 2, 2), float("nan"))}, "NaN"),
        ({"densities": torch.ones(1, 1, 2, 2, 2, dtype=torch.bool)}, "float"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Volumes(**kwargs)
